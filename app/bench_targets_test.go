package main

// The issue-10 targets (bench/run.sh; figures in docs/app.md): throughput
// side by side (bare net/http, /livez, cached GET) in one run, the cached
// GET through a Redis stall, and RSS under 100 parallel logins.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

var (
	bareOnce sync.Once
	barePath string
	bareErr  error
)

// bareBinary builds testdata/bare, a net/http server with one handler.
func bareBinary(b *testing.B) string {
	b.Helper()
	bareOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shipyard-bare-bin-")
		if err != nil {
			bareErr = err
			return
		}
		testenv.AtExit(func() { os.RemoveAll(dir) })
		barePath = filepath.Join(dir, "bare")
		gotool, err := exec.LookPath("go") // go test puts its own first on PATH
		if err != nil {
			bareErr = err
			return
		}
		if out, err := exec.Command(gotool, "build", "-o", barePath, "./testdata/bare").CombinedOutput(); err != nil {
			bareErr = errors.New(string(out))
		}
	})
	if bareErr != nil {
		b.Fatalf("go build: %v", bareErr)
	}
	return barePath
}

func startBare(b *testing.B) string {
	b.Helper()
	port := strconv.Itoa(testenv.FreePort(b))
	cmd := exec.Command(bareBinary(b))
	cmd.Env = envList(map[string]string{"PORT": port})
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			b.Fatal("bare server not up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loadResult is one closed-loop run.
type loadResult struct {
	rps      float64
	p50, p99 float64 // ms
	failed   int
	n        int
	elapsed  time.Duration
}

// closedLoopN sends n GETs from conc goroutines as fast as they go.
func closedLoopN(url, tok string, conc, n int) loadResult {
	c := newBenchClient()
	lat := make([][]time.Duration, conc)
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				d, ok := get(c, url, tok)
				lat[w] = append(lat[w], d)
				if !ok {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	all := slices.Concat(lat...)
	return loadResult{rps: float64(n) / el.Seconds(), p50: percentile(all, .5), p99: percentile(all, .99), failed: int(failed.Load()), n: n, elapsed: el}
}

// BenchmarkSideBySide: closed loop, 32 clients, the same number of
// requests against a bare net/http server, the app's /livez and the
// app's cached GET, interleaved over three rounds (the best round of each
// counts, so a burst of load from elsewhere on the machine hurts every
// server alike). Run with -benchtime 1x; SIDEBYSIDE_N sets requests per
// round (default 20,000), SIDEBYSIDE_ROUNDS the rounds (default 3;
// every other round runs the servers in reverse order); SIDEBYSIDE_TRACED
// controls the traced binary (off: an A/A run; a ratio: that sampling).
// Besides throughput: the CPU time and the thread context switches the
// two app servers spent per cached GET.
// SIDEBYSIDE_BASELINE=<path of another build of
// the app> adds its /livez and cached GET to the same rounds (on a
// database and Redis of its own), for a before/after comparison under the
// same load.
func BenchmarkSideBySide(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	s.setupNote(b)
	bare := startBare(b)
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("SIDEBYSIDE_N")); err == nil && v > 0 {
		n = v
	}
	best := map[string]loadResult{}
	targets := []struct{ name, url, tok string }{
		{"bare", bare + "/", ""},
		{"livez", s.base + "/livez", ""},
		{"cached_get", s.base + s.note, s.tok},
	}
	// The same binary with tracing on at the stacks' default sampling (the
	// OTEL_TRACES_* variables stackconfig.Env derives from the default
	// config's tracing section), exporting to an OTLP/HTTP sink in this
	// process: its cached GET against the untraced one is the tracing
	// budget (docs/app.md).
	sink := otlpSink(b)
	tenv := baseEnv(b)
	tenv["LOG_LEVEL"] = "info"
	for k, v := range defaultTracingEnv(b) {
		tenv[k] = v
	}
	tenv["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.URL
	// Controls: SIDEBYSIDE_TRACED=off runs the "traced" binary untraced
	// (an A/A run: what the two servers differ by with nothing to tell
	// them apart), a ratio (e.g. 0) runs it at that sampling instead.
	tracedOff := false
	switch v := os.Getenv("SIDEBYSIDE_TRACED"); {
	case v == "off":
		tenv["OTEL_SDK_DISABLED"], tracedOff = "true", true
	case v != "":
		tenv["OTEL_TRACES_SAMPLER_ARG"] = v
	}
	ts := startBinary(b, tenv)
	ts.setupNote(b)
	targets = append(targets, struct{ name, url, tok string }{"traced_cached_get", ts.base + ts.note, ts.tok})
	// CPU time the serving process spent per request, summed over the
	// rounds: unlike throughput it does not move with what else the box
	// runs, so it is the budget's robust figure.
	cpuOf := map[string]int{"cached_get": s.cmd.Process.Pid, "traced_cached_get": ts.cmd.Process.Pid}
	cpuUsed, cpuReqs := map[string]time.Duration{}, map[string]int{}
	switches := map[string]int64{}
	baseline := os.Getenv("SIDEBYSIDE_BASELINE")
	if baseline != "" {
		env := baseEnv(b)
		env["LOG_LEVEL"] = "info"
		bs := startBinaryAt(b, baseline, env)
		bs.setupNote(b)
		targets = append(targets,
			struct{ name, url, tok string }{"baseline_livez", bs.base + "/livez", ""},
			struct{ name, url, tok string }{"baseline_cached_get", bs.base + bs.note, bs.tok})
	}
	for _, t := range targets { // warm up connections and caches
		closedLoopN(t.url, t.tok, 32, 2000)
	}
	b.ResetTimer()
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("SIDEBYSIDE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for round := range rounds {
		// Every other round in reverse order: no server always runs right
		// after the same one.
		order := slices.Clone(targets)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			pid, measured := cpuOf[t.name]
			var before time.Duration
			var switchesBefore int64
			if measured {
				before, switchesBefore = processCPU(b, pid), processSwitches(b, pid)
			}
			r := closedLoopN(t.url, t.tok, 32, n)
			if measured {
				cpuUsed[t.name] += processCPU(b, pid) - before
				switches[t.name] += processSwitches(b, pid) - switchesBefore
				cpuReqs[t.name] += n
			}
			if r.failed > 0 {
				b.Fatalf("%s: %d of %d failed", t.name, r.failed, n)
			}
			if r.rps > best[t.name].rps {
				best[t.name] = r
			}
		}
	}
	b.StopTimer()
	for _, t := range targets {
		b.ReportMetric(best[t.name].rps, t.name+"_req/s")
		b.ReportMetric(best[t.name].p99, t.name+"_p99_ms")
	}
	b.ReportMetric(best["livez"].rps/best["bare"].rps, "livez/bare")
	b.ReportMetric(best["cached_get"].rps/best["livez"].rps, "cached_get/livez")
	b.ReportMetric(best["traced_cached_get"].rps/best["cached_get"].rps, "traced/untraced_cached_get")
	perReq := func(name string) float64 { return float64(cpuUsed[name].Microseconds()) / float64(cpuReqs[name]) }
	b.ReportMetric(perReq("cached_get"), "cached_get_cpu_us/req")
	b.ReportMetric(perReq("traced_cached_get"), "traced_cached_get_cpu_us/req")
	b.ReportMetric(perReq("traced_cached_get")/perReq("cached_get"), "traced/untraced_cpu_per_req")
	for _, name := range []string{"cached_get", "traced_cached_get"} {
		b.ReportMetric(float64(switches[name])/float64(cpuReqs[name]), name+"_ctxsw/req")
	}
	// The traced process flushes its last batch as it stops.
	_ = ts.cmd.Process.Signal(syscall.SIGTERM)
	_ = ts.cmd.Wait()
	if ratio, _ := strconv.ParseFloat(tenv["OTEL_TRACES_SAMPLER_ARG"], 64); sink.exports.Load() == 0 && !tracedOff && ratio > 0 {
		b.Fatalf("the traced binary exported no span to the sink")
	}
	if baseline != "" {
		b.ReportMetric(best["baseline_cached_get"].rps/best["baseline_livez"].rps, "baseline_cached_get/livez")
	}
}

// defaultTracingEnv is the OTEL_* environment a stack with the default
// config's tracing section gives every process (stackconfig.Env), the
// exporter endpoint aside.
func defaultTracingEnv(b *testing.B) map[string]string {
	c := stackconfig.Defaults()
	c.Stack = "bench"
	if !c.Tracing.Enabled {
		b.Fatal("tracing is off in the default config: there is no default sampling to measure")
	}
	env := map[string]string{}
	for _, v := range c.Env(stackconfig.LocalEndpoints) {
		if strings.HasPrefix(v.Name, "OTEL_") && v.Name != "OTEL_EXPORTER_OTLP_ENDPOINT" {
			env[v.Name] = v.Value
		}
	}
	if env["OTEL_TRACES_SAMPLER"] == "" || env["OTEL_TRACES_SAMPLER_ARG"] == "" {
		b.Fatalf("stackconfig.Env gives no sampler: %v", env)
	}
	b.Logf("tracing on: %s=%s %s=%s", "OTEL_TRACES_SAMPLER", env["OTEL_TRACES_SAMPLER"], "OTEL_TRACES_SAMPLER_ARG", env["OTEL_TRACES_SAMPLER_ARG"])
	return env
}

// processCPU is the user plus system CPU time process pid has used
// (/proc/<pid>/stat, in clock ticks of 10 ms).
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// processSwitches is how many times the threads of process pid have been
// switched off a CPU (voluntary and not: a thread parking for lack of
// work, a wakeup handed to another thread, preemption), from
// /proc/<pid>/task/*/status, threads that have exited left out.
func processSwitches(b *testing.B, pid int) int64 {
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(paths) == 0 {
		b.Fatalf("threads of %d: %v", pid, err)
	}
	var n int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

// spanSink is an OTLP/HTTP receiver that reads and drops what it gets,
// counting the export requests.
type spanSink struct {
	*httptest.Server
	exports atomic.Int64
}

func otlpSink(b *testing.B) *spanSink {
	s := &spanSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.exports.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(s.Close)
	return s
}

type sample struct {
	at  time.Time // sent
	d   time.Duration
	ok  bool
	hit bool
}

// BenchmarkCachedGETDuringRedisStall: closed loop, 32 clients on the
// cached GET for 3 s, then Redis is stopped (SIGSTOP) for 5 s, then
// resumed (SIGCONT) for 3 s. Reported: throughput before and during the
// stall, p99 during the stall (every request sent in it, the first ones
// that detect the stall included), failures, and the recovery time from
// SIGCONT to the first cache hit. Run with -benchtime 1x.
func BenchmarkCachedGETDuringRedisStall(b *testing.B) {
	rs := testenv.OwnRedis(b)
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	env["REDIS_URL"] = rs.URL
	s := startBinary(b, env)
	s.setupNote(b)
	c := newBenchClient()
	for range 500 {
		get(c, s.base+s.note, s.tok)
	}

	const normal, stall, after = 3 * time.Second, 5 * time.Second, 3 * time.Second
	start := time.Now()
	end := start.Add(normal + stall + after)
	samples := make([][]sample, 32)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range samples {
		wg.Go(func() {
			for time.Now().Before(end) {
				at := time.Now()
				req, _ := http.NewRequest("GET", s.base+s.note, nil)
				req.Header.Set("Authorization", "Bearer "+s.tok)
				resp, err := c.Do(req)
				smp := sample{at: at}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					smp.ok = resp.StatusCode == 200
					smp.hit = resp.Header.Get("X-Cache") == "hit"
				}
				smp.d = time.Since(at)
				samples[w] = append(samples[w], smp)
			}
		})
	}
	time.Sleep(time.Until(start.Add(normal)))
	rs.Pause()
	stopped := time.Now()
	time.Sleep(time.Until(start.Add(normal + stall)))
	rs.Continue()
	resumed := time.Now()
	wg.Wait()
	b.StopTimer()

	all := slices.Concat(samples...)
	var before, during []sample
	failed := 0
	recovery := time.Duration(-1)
	for _, x := range all {
		if !x.ok {
			failed++
		}
		switch {
		case x.at.Before(stopped):
			before = append(before, x)
		case x.at.Before(resumed):
			during = append(during, x)
		case x.hit && (recovery < 0 || x.at.Add(x.d).Sub(resumed) < recovery):
			recovery = x.at.Add(x.d).Sub(resumed)
		}
	}
	durs := func(ss []sample) []time.Duration {
		out := make([]time.Duration, len(ss))
		for i, x := range ss {
			out[i] = x.d
		}
		return out
	}
	normalRPS := float64(len(before)) / stopped.Sub(start).Seconds()
	stallRPS := float64(len(during)) / resumed.Sub(stopped).Seconds()
	b.ReportMetric(normalRPS, "normal_req/s")
	b.ReportMetric(percentile(durs(before), .99), "normal_p99_ms")
	b.ReportMetric(stallRPS, "stall_req/s")
	b.ReportMetric(stallRPS/normalRPS, "stall/normal")
	b.ReportMetric(percentile(durs(during), .99), "stall_p99_ms")
	b.ReportMetric(percentile(durs(during), .999), "stall_p999_ms")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(recovery.Milliseconds()), "recovery_ms")
}

// BenchmarkParallelLogins: 100 logins with a wrong password sent at once
// (each a 19 MiB argon2id hash), twice; reported: the process's peak RSS
// (VmHWM) and how many were answered 401 (hashed) or 503 (no hashing
// slot within 1 s). Run with -benchtime 1x.
func BenchmarkParallelLogins(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	s.setupNote(b)
	ready, _ := rssMB(b, s.cmd.Process.Pid)
	var codes sync.Map
	b.ResetTimer()
	for range 2 {
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-gate
				resp, err := http.Post(s.base+"/api/v1/sessions", "application/json",
					strings.NewReader(`{"email":"bench@example.com","password":"wrong password"}`))
				code := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				v, _ := codes.LoadOrStore(code, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			})
		}
		close(gate)
		wg.Wait()
	}
	b.StopTimer()
	_, peak := rssMB(b, s.cmd.Process.Pid)
	b.ReportMetric(ready, "rss_before_MB")
	b.ReportMetric(peak, "rss_peak_MB")
	codes.Range(func(k, v any) bool {
		b.ReportMetric(float64(v.(*atomic.Int64).Load()), fmt.Sprintf("status_%d", k))
		return true
	})
}

// BenchmarkWorstCaseListFlood: 32 concurrent GET /notes?limit=100 of a user
// whose 100 notes are 100,000 '<' each (6 bytes of JSON per character), three
// rounds, against the real binary; reports its peak RSS (VmHWM) and the size
// of a page. Before issue 21 one such list was a 60 MB response built in
// memory, and 32 of them peaked at 3.95 GiB.
func BenchmarkWorstCaseListFlood(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	s.setupNote(b)
	pool, err := db.NewPool(context.Background(), db.PoolConfig{URL: env["DATABASE_URL"], MaxConns: 2, ConnectTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO notes (user_id, title, body)
		SELECT u.id, 'n' || g, repeat('<', 100000) FROM users u, generate_series(1, 100) g WHERE u.email = 'bench@example.com'`); err != nil {
		b.Fatal(err)
	}
	ready, _ := rssMB(b, s.cmd.Process.Pid)
	var failed, pageBytes atomic.Int64
	b.ResetTimer()
	for range 3 {
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for range 32 {
			wg.Go(func() {
				<-gate
				req, _ := http.NewRequest("GET", s.base+"/api/v1/notes?limit=100", nil)
				req.Header.Set("Authorization", "Bearer "+s.tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				pageBytes.Store(n)
			})
		}
		close(gate)
		wg.Wait()
	}
	b.StopTimer()
	_, peak := rssMB(b, s.cmd.Process.Pid)
	b.ReportMetric(ready, "rss_before_MB")
	b.ReportMetric(peak, "rss_peak_MB")
	b.ReportMetric(float64(pageBytes.Load())/(1<<20), "page_MiB")
	b.ReportMetric(float64(failed.Load()), "failed")
}
