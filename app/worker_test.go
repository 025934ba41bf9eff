package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// TestWorkerShutdown: on SIGTERM the worker lets an in-flight job finish
// within SHUTDOWN_TIMEOUT, and requeues one that would outlast it.
func TestWorkerShutdown(t *testing.T) {
	for _, tc := range []struct {
		name         string
		shutdown     string
		jobFinishes  bool // the job returns once shutdown has begun
		wantRequeued bool
	}{
		{"a job in flight finishes before the worker exits", "10s", true, false},
		{"a job that outlasts SHUTDOWN_TIMEOUT is requeued", "2s", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testenv.RedisURL(t)
			ropts, _ := redis.ParseURL(url)
			opt := asynq.RedisClientOpt{Addr: ropts.Addr, DB: ropts.DB}
			cfg, err := config.Load(func(k string) string {
				return map[string]string{"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": url, "SHUTDOWN_TIMEOUT": tc.shutdown}[k]
			}, config.Needs{Database: true, Redis: true})
			if err != nil {
				t.Fatal(err)
			}
			started, shuttingDown := make(chan struct{}), make(chan struct{})
			finished := make(chan struct{}, 1)
			mux := asynq.NewServeMux()
			mux.HandleFunc("slow", func(ctx context.Context, _ *asynq.Task) error {
				close(started)
				<-shuttingDown
				if tc.jobFinishes {
					finished <- struct{}{}
					return nil
				}
				<-ctx.Done() // outlasts the shutdown timeout
				return ctx.Err()
			})
			client := asynq.NewClient(opt)
			defer client.Close()
			if _, err := client.Enqueue(asynq.NewTask("slow", nil), asynq.MaxRetry(5)); err != nil {
				t.Fatal(err)
			}
			// The job may only go on once asynq has begun its graceful
			// shutdown: we watch its log for that.
			shutdownLogged := &signalWriter{match: "Starting graceful shutdown", ch: shuttingDown}
			srv := asynq.NewServer(opt, workerConfig(logx.New(shutdownLogged, cfg.LogLevel, "worker"), cfg))
			if err := srv.Start(mux); err != nil {
				t.Fatal(err)
			}
			<-started
			done := make(chan struct{})
			go func() { srv.Shutdown(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Shutdown did not return")
			}

			insp := asynq.NewInspector(opt)
			defer insp.Close()
			q, err := insp.GetQueueInfo("default")
			if err != nil {
				t.Fatal(err)
			}
			requeued := q.Pending+q.Retry > 0
			if requeued != tc.wantRequeued {
				t.Fatalf("requeued = %v (pending %d, retry %d, active %d), want %v", requeued, q.Pending, q.Retry, q.Active, tc.wantRequeued)
			}
			if tc.jobFinishes && len(finished) != 1 {
				t.Fatal("the job did not finish")
			}
		})
	}
}

// signalWriter closes ch the first time a write contains match.
type signalWriter struct {
	match string
	ch    chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.match) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}
