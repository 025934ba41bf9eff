package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	http_helper "github.com/gruntwork-io/terratest/modules/http-helper"
	"github.com/gruntwork-io/terratest/modules/random"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Environment of the suite.
const (
	// EnvStack names the stack under test (default local).
	EnvStack = "STACK"
	// EnvOutputs=pulumi runs the suite against a stack that is already
	// deployed (`make e2e`: the user's stack, or an aws one), reading its
	// outputs with `pulumi stack output --json`. Otherwise, for a docker
	// stack, the suite deploys a stack of its own with the real Pulumi
	// engine, changes it under load, and destroys it (`make test`).
	EnvOutputs = "E2E_OUTPUTS"
)

// DefaultDocker is the Docker client the suite runs unless $DOCKER names
// another: Debian's, which matches the engine .ci/run installs.
const DefaultDocker = "/usr/bin/docker"

// TestMain makes `docker` mean $DOCKER (else DefaultDocker) for terratest's
// docker and shell modules, which run "docker" from PATH.
func TestMain(m *testing.M) {
	client := os.Getenv("DOCKER")
	if client == "" {
		client = DefaultDocker
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
	if cfg.Target == stackconfig.TargetDocker && os.Getenv(EnvOutputs) != "pulumi" {
		// The suite's own stack comes from the repository (its source and
		// config/), whichever config directory STACK's is in.
		testOwnLocalStack(t, repositoryRoot(t), cfg)
		return
	}
	data, err := shell.RunCommandAndGetStdOutE(t, shell.Command{
		Command: "pulumi", Args: []string{"stack", "output", "--json", "--stack", stack}, WorkingDir: root,
	})
	if err != nil {
		t.Fatalf("reading the outputs of stack %s (is it deployed, and are you logged in to its backend?): %v", stack, err)
	}
	out, err := ParseOutputs([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	trustStackCA(t, out)
	validate(t, out, cfg)
}

// testOwnLocalStack is `make test`'s life of a local stack, with the real
// engine: up from nothing, an idempotent preview, the validation suite, a
// replica change and an env change under load, down keeping the data, up
// again on it, a backup restored into a fresh stack, destroy, and nothing
// left behind.
func testOwnLocalStack(t *testing.T, root string, local *stackconfig.Config) {
	if _, err := exec.LookPath(filepath.Join(root, "bin", "pulumi")); err != nil {
		if _, err := exec.LookPath("pulumi"); err != nil {
			t.Fatalf("the Pulumi CLI is needed to deploy the local stack: run `make tools` (offline: PULUMI_OFFLINE_DIR=<bundle> make tools)")
		}
	}
	// The suite's stack is made from config/local.json (newLocalStack): it
	// runs the image `make image STACK=local` builds (make test's
	// test-images), whatever stack STACK names.
	image := localConfig(t, root).AppImage()
	if _, err := shell.RunCommandAndGetStdOutE(t, shell.Command{Command: "docker", Args: []string{"image", "inspect", "--format", "{{.Id}}", image}, Logger: quiet}); err != nil {
		t.Fatalf("no image %s: run `make image` (make test does)", image)
	}
	s := newLocalStack(t, root)
	releases := prepareProgressive(t, s, root, image)
	createdBefore := createdContainers(t)
	var out Outputs

	t.Run("the suite's stack shares no name or port with the user's local stack", func(t *testing.T) {
		mine, theirs := dockerinfra.NamesFor(s.name), dockerinfra.NamesFor(local.Stack)
		if strings.HasPrefix(mine.Prefix(), theirs.Prefix()+"-") || mine.Prefix() == theirs.Prefix() {
			t.Errorf("the suite's objects are named %s-…, which overlaps the user's %s-…", mine.Prefix(), theirs.Prefix())
		}
		for field, theirs := range map[string]int{"httpPort": local.Local.HTTPPort, "httpsPort": local.Local.HTTPSPort, "prometheusPort": local.Local.PrometheusPort, "jaegerPort": local.Local.JaegerPort} {
			if port := fmt.Sprint(s.cfg["local"].(map[string]any)[field]); port == strconv.Itoa(theirs) {
				t.Errorf("the suite's stack publishes %s, the user's %s", port, field)
			}
		}
	})
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := s.shipyard(t, "destroy", s.name); err != nil {
				t.Errorf("destroying the suite's stack after a failure: %v", err)
			}
		}
	})
	if !t.Run("up from nothing on a fresh project (no state directory yet)", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(s.dir, ".pulumi-state")); err == nil {
			t.Fatal("the project already has a state directory")
		}
		s.up(t)
		out = s.outputs(t)
	}) {
		t.FailNow()
	}
	t.Run("the local stack's program asks for no provider plugin but docker and random", func(t *testing.T) {
		// A program the Go language host compiles itself makes the engine
		// require every provider in go.mod, pulumi-aws included (a large
		// download on a newcomer's first local `make up`).
		about := s.pulumi(t, "about", "--stack", s.name)
		for _, l := range lines(about) {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "resource" && f[1] != "docker" && f[1] != "random" {
				t.Errorf("pulumi about lists the %s plugin:\n%s", f[1], about)
			}
		}
	})
	t.Run("the stack runs the one image make image built", func(t *testing.T) {
		id := strings.TrimSpace(dockerOut(t, "image", "inspect", "--format", "{{.Id}}", image))
		if out.Image != image || out.ImageDigest != id {
			t.Errorf("outputs image %q (%s), but make image built %s as %s", out.Image, out.ImageDigest, image, id)
		}
	})
	t.Run("a preview right after up shows no change", func(t *testing.T) {
		if _, err := s.shipyard(t, "preview", s.name, "--expect-no-changes"); err != nil {
			t.Fatal(err)
		}
	})
	testDrift(t, s, out)
	t.Run("the app reaches postgres over verified TLS only, and postgres refuses plaintext on the network", func(t *testing.T) {
		pg := out.Containers["postgres"]
		// The app's open connections (web readiness checks, the worker's
		// pool): every one is TLS.
		got := strings.TrimSpace(dockerOut(t, "exec", pg, "psql", "--username", local.Database.Username, "--dbname", local.Database.Name,
			"--no-align", "--tuples-only", "--command",
			`SELECT count(*) FILTER (WHERE s.ssl) || ' ' || count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.client_addr IS NOT NULL`))
		if tls, plain, _ := strings.Cut(got, " "); tls == "0" || plain != "0" {
			t.Errorf("network connections over TLS / in plaintext: %q, want some / 0", got)
		}
		outp, err := shell.RunCommandAndGetOutputE(t, shell.Command{Command: "docker", Logger: quiet, Args: []string{"exec", pg, "psql",
			"host=127.0.0.1 sslmode=disable user=" + local.Database.Username + " dbname=" + local.Database.Name, "--command", "SELECT 1"}})
		if err == nil || !strings.Contains(outp, "no encryption") {
			t.Errorf("a plaintext TCP connection: err %v, output %q; want it refused by pg_hba (no encryption)", err, outp)
		}
	})
	validate(t, out, local)
	t.Run("scheduled jobs run by schedule and by shipyard job, never twice at once", func(t *testing.T) { s.scheduledJobs(t, out, local) })
	t.Run("PR environments: pr-up beside the stack, isolated data, pr-down and pr-reap leave nothing", func(t *testing.T) { testPreviews(t, s, out, local) })

	var user credentials
	t.Run("a user registered before the changes", func(t *testing.T) {
		user = register(t, out.URL)
	})
	t.Run("scaling the web replicas 2 to 3 and back, and an env change, lose no request", func(t *testing.T) {
		// 50 a second: a container stopped before its successor serves
		// (pulumi-docker's delete-before-replace) is a gap of a second or
		// two, which this rate does not miss.
		l := startLoad(t, out.URL+"/version", 50)
		s.set(t, "local", "webReplicas", 3)
		s.up(t)
		if got := s.outputs(t).WebContainers; len(got) != 3 {
			t.Errorf("after scaling to 3: web containers %v", got)
		}
		s.set(t, "local", "webReplicas", 2)
		s.set(t, "app", "logLevel", "info") // every app container is replaced
		s.up(t)
		out = s.outputs(t)
		if len(out.WebContainers) != 2 {
			t.Errorf("after scaling back to 2: web containers %v", out.WebContainers)
		}
		time.Sleep(2 * time.Second)
		l.check(t, 500)
	})
	t.Run("down keeps the data and the next up serves it again", func(t *testing.T) {
		caBefore := out.TLSCACert
		if _, err := s.shipyard(t, "destroy", s.name, "--keep-data"); err != nil {
			t.Fatal(err)
		}
		if c := s.objects(t, "container"); len(c) != 0 {
			t.Errorf("containers left after down: %v", c)
		}
		if v := s.objects(t, "volume"); len(v) != 2 {
			t.Fatalf("volumes after down: %v, want the postgres and redis data", v)
		}
		s.up(t)
		out = s.outputs(t)
		if out.TLSCACert != caBefore {
			t.Error("the local HTTPS CA changed across down and up; a CA the user trusted must last until destroy")
		}
		waitReady(t, out.URL+local.Services.Web.HealthCheckPath)
		user.login(t, out.URL)
	})
	t.Run("a backup restored into a fresh stack reads back every row", func(t *testing.T) {
		token := user.login(t, out.URL)
		for i := 0; i < 3; i++ {
			(&suite{url: out.URL, token: token}).call(t, http.MethodPost, "/api/v1/notes",
				map[string]string{"title": fmt.Sprintf("kept %d", i), "body": "restored from a backup"}, http.StatusCreated, nil)
		}
		// The worker fills in each new note's word count and processing
		// time: digest the tables once it has, or the backup could hold a
		// later state than the digest.
		s.waitNotesProcessed(t, local)
		before := s.tableDigests(t, local)
		runsUpTo, runsBefore := s.jobRunsDigest(t, local, 0)
		dump := filepath.Join(t.TempDir(), "backup.dump")
		if _, err := s.shipyard(t, "db-backup", s.name, dump); err != nil {
			t.Fatal(err)
		}
		if _, err := s.shipyard(t, "destroy", s.name); err != nil {
			t.Fatal(err)
		}
		if v := s.objects(t, "volume"); len(v) != 0 {
			t.Fatalf("volumes after destroy: %v", v)
		}
		s.up(t)
		out = s.outputs(t)
		waitReady(t, out.URL+local.Services.Web.HealthCheckPath)
		if fresh := s.tableDigests(t, local); fresh["users"] == before["users"] {
			t.Fatalf("the fresh stack already has the users: %v", fresh)
		}
		if _, err := s.shipyard(t, "db-restore", s.name, dump); err != nil {
			t.Fatal(err)
		}
		after := s.tableDigests(t, local)
		if len(after) != len(before) {
			t.Errorf("tables after the restore %v, before %v", after, before)
		}
		for table, digest := range before {
			if after[table] != digest {
				t.Errorf("table %s: %s before the backup, %s after the restore", table, digest, after[table])
			}
		}
		if _, runsAfter := s.jobRunsDigest(t, local, runsUpTo); runsAfter != runsBefore {
			t.Errorf("job_runs up to run %d: %s before the backup, %s after the restore", runsUpTo, runsBefore, runsAfter)
		}
		user.login(t, out.URL)
	})
	t.Run("progressive delivery: a bad canary is rolled back by its gate, one never healthy says why, a good one is promoted", func(t *testing.T) {
		testProgressive(t, s, out.URL, user, releases)
	})
	t.Run("destroy removes every container, network and volume and leaves no build leftover", func(t *testing.T) {
		if _, err := s.shipyard(t, "destroy", s.name); err != nil {
			t.Fatal(err)
		}
		destroyed = true
		for _, kind := range []string{"container", "network", "volume"} {
			if left := s.objects(t, kind); len(left) != 0 {
				t.Errorf("%ss left behind: %v", kind, left)
			}
		}
		if after := createdContainers(t); after > createdBefore {
			t.Errorf("%d containers in state created appeared during the suite (image build leftovers)", after-createdBefore)
		}
	})
}

// validate is the suite every deployed stack passes: the one `make test`
// deploys and any stack `make e2e` points at.
func validate(t *testing.T, out Outputs, cfg *stackconfig.Config) {
	if out.Target == "docker" {
		u, err := url.Parse(out.URL)
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Fatalf("the local stack's url %q is not on 127.0.0.1; the suite sends traffic to 127.0.0.1 only", out.URL)
		}
	}
	p := platformFor(out, cfg.Services.Web.StopTimeoutSeconds)
	s := &suite{url: out.URL, out: out, cfg: cfg, p: p}
	t.Run("every process runs the image the stack outputs", s.image)
	t.Run("readyz answers 200 through the load balancer", s.readyz)
	t.Run("HTTPS like the ALB: the stack's certificate, HSTS, and plain HTTP only redirects", s.https)
	t.Run("metrics are not served through the load balancer", s.metricsHidden)
	t.Run("a user registers, logs in, creates a note and reads it back", s.roundTrip)
	t.Run("the worker processes the note", s.workerResult)
	t.Run("logs are JSON on stdout", s.jsonLogs)
	t.Run("a rolling restart of the web replicas under steady load loses no request", s.rollingRestart)
	t.Run("stopping postgres under load turns readyz into the app's 503 while livez stays 200, and both recover", s.databaseOutage)
	t.Run("a burst of 5xx and a dead worker fire their alerts in Prometheus, and they clear", s.alertsFireAndClear)
	if out.Target == "docker" {
		t.Run("a request with a traceparent is one trace in Jaeger (HTTP, Postgres, Redis, its job) and its log lines carry the trace id", s.traceInJaeger)
	}
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
	http_helper.HttpGetWithRetryWithCustomValidation(t, s.url+s.cfg.Services.Web.HealthCheckPath, stackTLS(), 60, time.Second,
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
	status, resp, err := http_helper.HTTPDoE(t, method, s.url+path, reader, headers, stackTLS())
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

// credentials are a registered user's.
type credentials struct{ email, password string }

// register creates a user through the API.
func register(t *testing.T, baseURL string) credentials {
	t.Helper()
	c := credentials{
		email:    fmt.Sprintf("e2e-%s@example.com", strings.ToLower(random.UniqueId())),
		password: "correct horse " + random.UniqueId(),
	}
	var user struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	}
	(&suite{url: baseURL}).call(t, http.MethodPost, "/api/v1/users", map[string]string{"email": c.email, "password": c.password, "name": "E2E"}, http.StatusCreated, &user)
	if user.Email != c.email || user.ID == 0 {
		t.Fatalf("registered user = %+v, want email %s and an id", user, c.email)
	}
	return c
}

// login returns a session token for the user.
func (c credentials) login(t *testing.T, baseURL string) string {
	t.Helper()
	var session struct {
		Token string `json:"token"`
	}
	(&suite{url: baseURL}).call(t, http.MethodPost, "/api/v1/sessions", map[string]string{"email": c.email, "password": c.password}, http.StatusCreated, &session)
	if session.Token == "" {
		t.Fatal("login returned no token")
	}
	return session.Token
}

// waitReady waits (bounded) for the health path to answer 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	http_helper.HttpGetWithRetryWithCustomValidation(t, url, stackTLS(), 60, time.Second,
		func(status int, _ string) bool { return status == http.StatusOK })
}

func (s *suite) roundTrip(t *testing.T) {
	s.token = register(t, s.url).login(t, s.url)
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
	l := startLoad(t, s.url+"/version", 20)
	time.Sleep(2 * time.Second) // load before the first restart
	t0 := time.Now()
	s.p.RollingRestart(t)
	time.Sleep(2 * time.Second) // and after the last
	t.Logf("rolling restart took %s", time.Since(t0).Round(time.Second))
	l.check(t, 20)
}

func (s *suite) databaseOutage(t *testing.T) {
	readyz := s.url + s.cfg.Services.Web.HealthCheckPath
	livez := s.url + "/livez"
	// Traffic flows during the outage, as it would for users: a load
	// balancer that counts the replicas' 503s as failures would answer
	// its own 502 instead of the app's 503.
	l := startLoad(t, s.url+"/version", 20)
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
	var last int
	http_helper.HttpGetWithRetryWithCustomValidation(t, readyz, stackTLS(), 60, time.Second,
		func(status int, _ string) bool { last = status; return status == http.StatusServiceUnavailable })
	for i := 0; i < 5; i++ {
		status, _ := http_helper.HttpGet(t, readyz, stackTLS())
		if status != http.StatusServiceUnavailable {
			t.Fatalf("readyz during the outage: %d, want the app's 503 every time (first 503 after %d)", status, last)
		}
		time.Sleep(300 * time.Millisecond)
	}
	http_helper.HttpGetWithCustomValidation(t, livez, stackTLS(),
		func(status int, body string) bool { return status == http.StatusOK && strings.Contains(body, `"ok"`) })
	restarted = true
	restart()
	http_helper.HttpGetWithRetryWithCustomValidation(t, readyz, stackTLS(), 60, time.Second,
		func(status int, _ string) bool { return status == http.StatusOK })
	http_helper.HttpGetWithRetryWithCustomValidation(t, livez, stackTLS(), 10, time.Second,
		func(status int, _ string) bool { return status == http.StatusOK })
	l.check(t, 20)
}
