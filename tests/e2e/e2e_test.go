package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	http_helper "github.com/gruntwork-io/terratest/modules/http-helper"
	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/random"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/tests/harness"
)

// Environment of the suite.
const (
	// EnvStack names the stack under test (default local).
	EnvStack = "STACK"
	// EnvOutputs=pulumi reads the outputs of an already deployed stack
	// with `pulumi stack output --json` instead of bringing the local stack
	// up with the harness (always the case for a non-docker target).
	EnvOutputs = "E2E_OUTPUTS"
	// EnvHTTPPort overrides local.httpPort for the harness, for machines
	// where the configured port is taken.
	EnvHTTPPort = "E2E_HTTP_PORT"
)

var quiet = logger.Discard

// TestMain makes `docker` mean the client harness uses ($DOCKER, else
// /usr/bin/docker) for terratest's docker and shell modules, which run
// "docker" from PATH.
func TestMain(m *testing.M) {
	client := os.Getenv("DOCKER")
	if client == "" {
		client = harness.DefaultDocker
	}
	if _, err := os.Stat(client); err == nil {
		dir, err := os.MkdirTemp("", "e2e-docker-")
		if err == nil && os.Symlink(client, filepath.Join(dir, "docker")) == nil {
			os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			defer os.RemoveAll(dir)
		}
	}
	code := m.Run()
	os.Exit(code)
}

func TestStack(t *testing.T) {
	stack := os.Getenv(EnvStack)
	if stack == "" {
		stack = "local"
	}
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(dir)
	cfg, err := stackconfig.Load(dir, stack)
	if err != nil {
		t.Fatalf("loading the stack config: %v", err)
	}
	ctx := context.Background()
	workDir := t.TempDir()

	var out Outputs
	if cfg.Target == stackconfig.TargetDocker && os.Getenv(EnvOutputs) != "pulumi" {
		if p := os.Getenv(EnvHTTPPort); p != "" {
			if cfg.Local.HTTPPort, err = strconv.Atoi(p); err != nil {
				t.Fatalf("%s=%q: %v", EnvHTTPPort, p, err)
			}
		}
		g, err := harness.Record(cfg)
		if err != nil {
			t.Fatal(err)
		}
		h, err := harness.New(g, harness.Options{ProgramDir: filepath.Join(root, "stacks"), Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		// SKIP_teardown=1 keeps the stack up for debugging; the next run
		// removes it first.
		defer test_structure.RunTestStage(t, "teardown", func() {
			t0 := time.Now()
			if err := h.Down(ctx); err != nil {
				t.Errorf("tearing the local stack down: %v", err)
			}
			t.Logf("stack down in %s", time.Since(t0).Round(time.Second))
		})
		test_structure.RunTestStage(t, "deploy", func() {
			t0 := time.Now()
			if err := h.Up(ctx); err != nil {
				t.Fatalf("bringing the local stack up with the harness: %v", err)
			}
			t.Logf("stack up in %s", time.Since(t0).Round(time.Second))
		})
		data, _ := json.Marshal(h.Outputs())
		if out, err = ParseOutputs(data); err != nil {
			t.Fatal(err)
		}
	} else {
		data, err := shell.RunCommandAndGetStdOutE(t, shell.Command{
			Command: "pulumi", Args: []string{"stack", "output", "--json", "--stack", stack}, WorkingDir: root,
		})
		if err != nil {
			t.Fatalf("reading the outputs of stack %s (is it deployed, and are you logged in to its backend?): %v", stack, err)
		}
		if out, err = ParseOutputs([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	test_structure.SaveString(t, workDir, "url", out.URL)

	if out.Target == "docker" {
		u, err := url.Parse(out.URL)
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Fatalf("the local stack's url %q is not on 127.0.0.1; the suite sends traffic to 127.0.0.1 only", out.URL)
		}
	}
	p := platformFor(out, cfg.Services.Web.StopTimeoutSeconds)
	s := &suite{url: out.URL, out: out, cfg: cfg, p: p}

	test_structure.RunTestStage(t, "validate", func() {
		t.Run("every process runs the image the stack outputs", s.image)
		t.Run("readyz answers 200 through the load balancer", s.readyz)
		t.Run("metrics are not served through the load balancer", s.metricsHidden)
		t.Run("a user registers, logs in, creates a note and reads it back", s.roundTrip)
		t.Run("the worker processes the note", s.workerResult)
		t.Run("logs are JSON on stdout", s.jsonLogs)
		t.Run("a rolling restart of the web replicas under steady load loses no request", s.rollingRestart)
		t.Run("stopping postgres turns readyz into 503 while livez stays 200, and both recover", s.databaseOutage)
	})
}

type suite struct {
	url string
	out Outputs
	cfg *stackconfig.Config
	p   platform

	token  string
	noteID int64
}

func (s *suite) image(t *testing.T) {
	if !strings.HasPrefix(s.out.ImageDigest, "sha256:") {
		t.Fatalf("imageDigest = %q, want sha256:…", s.out.ImageDigest)
	}
	for process, image := range s.p.RunningImages(t) {
		if !strings.Contains(image, s.out.ImageDigest) {
			t.Errorf("%s runs %q, not the stack's image %s", process, image, s.out.ImageDigest)
		}
	}
}

func (s *suite) readyz(t *testing.T) {
	http_helper.HttpGetWithRetryWithCustomValidation(t, s.url+s.cfg.Services.Web.HealthCheckPath, nil, 60, time.Second,
		func(status int, body string) bool {
			return status == http.StatusOK && strings.Contains(body, `"ready"`)
		})
}

func (s *suite) metricsHidden(t *testing.T) {
	s.call(t, http.MethodGet, "/metrics", nil, http.StatusNotFound, nil)
}

// call sends a JSON request and decodes the response into v (when not nil),
// failing unless the status is want.
func (s *suite) call(t *testing.T, method, path string, body any, want int, v any) {
	t.Helper()
	var reader *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		reader = strings.NewReader(string(b))
	} else {
		reader = strings.NewReader("")
	}
	headers := map[string]string{"Content-Type": "application/json"}
	if s.token != "" {
		headers["Authorization"] = "Bearer " + s.token
	}
	status, resp, err := http_helper.HTTPDoE(t, method, s.url+path, reader, headers, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, status, want, resp)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(resp), v); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, resp, err)
		}
	}
}

type note struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	WordCount *int   `json:"word_count"`
}

func (s *suite) roundTrip(t *testing.T) {
	email := fmt.Sprintf("e2e-%s@example.com", strings.ToLower(random.UniqueId()))
	password := "correct horse " + random.UniqueId()
	var user struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	}
	s.call(t, http.MethodPost, "/api/v1/users", map[string]string{"email": email, "password": password, "name": "E2E"}, http.StatusCreated, &user)
	if user.Email != email || user.ID == 0 {
		t.Fatalf("registered user = %+v, want email %s and an id", user, email)
	}
	var session struct {
		Token string `json:"token"`
	}
	s.call(t, http.MethodPost, "/api/v1/sessions", map[string]string{"email": email, "password": password}, http.StatusCreated, &session)
	if session.Token == "" {
		t.Fatal("login returned no token")
	}
	s.token = session.Token
	title, body := "groceries "+random.UniqueId(), "milk eggs bread butter"
	var created note
	s.call(t, http.MethodPost, "/api/v1/notes", map[string]string{"title": title, "body": body}, http.StatusCreated, &created)
	var read note
	s.call(t, http.MethodGet, fmt.Sprintf("/api/v1/notes/%d", created.ID), nil, http.StatusOK, &read)
	if read.ID != created.ID || read.Title != title || read.Body != body {
		t.Fatalf("read back %+v, want id %d title %q body %q", read, created.ID, title, body)
	}
	s.noteID = created.ID
}

func (s *suite) workerResult(t *testing.T) {
	if s.noteID == 0 {
		t.Fatal("no note: the round trip failed")
	}
	retry.DoWithRetry(t, "the worker's word count appears", 60, time.Second, func() (string, error) {
		var n note
		s.call(t, http.MethodGet, fmt.Sprintf("/api/v1/notes/%d", s.noteID), nil, http.StatusOK, &n)
		if n.WordCount == nil {
			return "", fmt.Errorf("note %d has no word_count yet", s.noteID)
		}
		if *n.WordCount != 4 {
			t.Fatalf("word_count = %d, want 4 for %q", *n.WordCount, n.Body)
		}
		return "", nil
	})
}

func (s *suite) jsonLogs(t *testing.T) {
	for _, process := range []string{"web", "worker", "clock", "migrate"} {
		if process == "migrate" && s.out.Target != "docker" {
			continue // a one-off task on aws, not a service with a log group of its own
		}
		t.Run(process, func(t *testing.T) {
			lines := s.p.StdoutLines(t, process)
			if len(lines) == 0 {
				t.Fatalf("%s wrote nothing to stdout", process)
			}
			for i, l := range lines {
				var entry map[string]any
				if err := json.Unmarshal([]byte(l), &entry); err != nil {
					t.Fatalf("%s stdout line %d is not JSON: %q", process, i+1, l)
				}
				if _, ok := entry["msg"]; !ok {
					t.Fatalf("%s stdout line %d has no msg: %q", process, i+1, l)
				}
			}
		})
	}
}

// rollingRestart restarts every web replica, one at a time, while a
// bounded loop sends about 20 requests a second through the load balancer;
// every request must succeed.
func (s *suite) rollingRestart(t *testing.T) {
	client := &http.Client{Timeout: 15 * time.Second}
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	// A ticker rather than retry.DoInBackgroundUntilStopped: that one logs
	// two lines per request (and sleeps between requests instead of
	// keeping a rate). Bounded: it stops when done is closed or after
	// maxLoad, whichever comes first.
	const rate, maxLoad = 20, 10 * time.Minute
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		stop := time.After(maxLoad)
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for {
			select {
			case <-done:
				return
			case <-stop:
				return
			case <-tick.C:
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				sent.Add(1)
				resp, err := client.Get(s.url + "/version")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return
					}
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				failed.Add(1)
				mu.Lock()
				failures = append(failures, time.Now().Format("15:04:05.000")+" "+err.Error())
				mu.Unlock()
			}()
		}
	}()
	time.Sleep(2 * time.Second) // load before the first restart
	t0 := time.Now()
	s.p.RollingRestart(t)
	time.Sleep(2 * time.Second) // and after the last
	close(done)
	wg.Wait()
	t.Logf("rolling restart took %s; %d requests sent, %d failed", time.Since(t0).Round(time.Second), sent.Load(), failed.Load())
	if sent.Load() < 20 {
		t.Fatalf("only %d requests were sent during the restart; the load loop did not run", sent.Load())
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during the rolling restart:\n%s", n, sent.Load(), strings.Join(failures, "\n"))
	}
}

func (s *suite) databaseOutage(t *testing.T) {
	readyz := s.url + s.cfg.Services.Web.HealthCheckPath
	livez := s.url + "/livez"
	restart, reason := s.p.StopDatabase(t)
	if reason != nil {
		t.Skipf("explicitly excluded: %v", reason)
	}
	restarted := false
	defer func() {
		if !restarted {
			restart()
		}
	}()
	http_helper.HttpGetWithRetryWithCustomValidation(t, readyz, nil, 60, time.Second,
		func(status int, _ string) bool { return status == http.StatusServiceUnavailable })
	http_helper.HttpGetWithCustomValidation(t, livez, nil,
		func(status int, body string) bool { return status == http.StatusOK && strings.Contains(body, `"ok"`) })
	restarted = true
	restart()
	http_helper.HttpGetWithRetryWithCustomValidation(t, readyz, nil, 60, time.Second,
		func(status int, _ string) bool { return status == http.StatusOK })
	http_helper.HttpGetWithRetryWithCustomValidation(t, livez, nil, 10, time.Second,
		func(status int, _ string) bool { return status == http.StatusOK })
}
