package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// The progressive release under test: the canary, with the gates'
// windows shortened to 30 s so that a 45 s bake is allowed (the schema
// refuses a bake shorter than a gate's window).
const (
	canaryPercent = 25
	bakeSeconds   = 45
)

// healthWaitSeconds bounds the suite stack's wait for a new app container
// to become healthy (local.healthWaitSeconds), so the release that never
// does fails fast.
const healthWaitSeconds = 30

// releaseImages are the images the progressive release test releases: a
// good one (the app image under a new ID), a bad one (badapp) and one that
// never becomes healthy (badapp with BADAPP_LIVEZ=fail).
type releaseImages struct {
	good, bad, never       string // tags
	goodID, badID, neverID string
	err                    error
	done                   chan struct{}
}

// prepareProgressive sets the suite stack's deploy strategy and gate
// windows before its first up, and starts building the release images
// beside the deploy; the returned images are ready once done is closed.
func prepareProgressive(t *testing.T, s *localStack, root, appImage string) *releaseImages {
	t.Helper()
	s.set(t, "", "deploy", map[string]any{"strategy": "canary", "canaryPercent": canaryPercent, "bakeSeconds": bakeSeconds})
	window := map[string]any{"periodSeconds": 30, "evaluationPeriods": 1}
	s.set(t, "alarms", "overrides", map[string]any{"targetErrorRate": window, "targetLatencyP99": window})
	// The poller below sends 20 requests a second from one address.
	s.set(t, "app", "rateLimitPerMinute", 6000)
	s.set(t, "local", "healthWaitSeconds", healthWaitSeconds)
	img := &releaseImages{
		good: "shipyard-e2e-good:" + s.name, bad: "shipyard-e2e-bad:" + s.name, never: "shipyard-e2e-never:" + s.name,
		done: make(chan struct{}),
	}
	t.Cleanup(func() {
		<-img.done
		// After the stack is gone (cleanups run last to first).
		exec.Command("docker", "image", "rm", img.good, img.never, img.bad).Run()
	})
	go func() {
		defer close(img.done)
		img.err = img.build(root, appImage)
	}()
	return img
}

func (img *releaseImages) build(root, appImage string) error {
	dir, err := os.MkdirTemp("", "e2e-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	run := func(c *exec.Cmd) error {
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(c.Args, " "), err, out)
		}
		return nil
	}
	// Good: the app image, the same content under a new image ID.
	good := filepath.Join(dir, "good")
	if err := os.MkdirAll(good, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(good, "Dockerfile"), []byte("FROM "+appImage+"\nLABEL dev.shipyard.e2e.release="+img.good+"\n"), 0o644); err != nil {
		return err
	}
	if err := run(exec.Command("docker", "build", "-q", "-t", img.good, good)); err != nil {
		return err
	}
	// Bad: badapp FROM scratch, with the app image's interface.
	bad := filepath.Join(dir, "bad")
	build := exec.Command("go", "build", "-o", filepath.Join(bad, "app"), "./tests/e2e/testdata/badapp/main.go")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if err := run(build); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bad, "Dockerfile"), []byte("FROM scratch\nCOPY app /app\nUSER 65532:65532\nENV PORT=8080\nENTRYPOINT [\"/app\"]\nCMD [\"serve\"]\n"), 0o644); err != nil {
		return err
	}
	if err := run(exec.Command("docker", "build", "-q", "-t", img.bad, bad)); err != nil {
		return err
	}
	// Never healthy: badapp whose /livez, which the health check probes,
	// answers 503.
	never := filepath.Join(dir, "never")
	if err := os.MkdirAll(never, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(never, "Dockerfile"), []byte("FROM "+img.bad+"\nENV BADAPP_LIVEZ=fail\n"), 0o644); err != nil {
		return err
	}
	if err := run(exec.Command("docker", "build", "-q", "-t", img.never, never)); err != nil {
		return err
	}
	for tag, id := range map[string]*string{img.good: &img.goodID, img.bad: &img.badID, img.never: &img.neverID} {
		out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", tag).Output()
		if err != nil {
			return fmt.Errorf("inspecting %s: %w", tag, err)
		}
		*id = strings.TrimSpace(string(out))
	}
	return nil
}

// poller sends GET requests to an API route through nginx, 20 a second,
// and keeps each result with its time.
type poller struct {
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []pollResult
}

type pollResult struct {
	at     time.Time
	failed bool
	what   string
}

func startPoller(t *testing.T, url, token string) *poller {
	p := &poller{done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				at := time.Now()
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				r := pollResult{at: at}
				resp, err := client.Do(req)
				switch {
				case err != nil:
					r.failed, r.what = true, err.Error()
				case resp.StatusCode != http.StatusOK:
					r.failed, r.what = true, resp.Status
				}
				if resp != nil {
					resp.Body.Close()
				}
				p.mu.Lock()
				p.results = append(p.results, r)
				p.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *poller) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}

// count returns how many requests sent in [from, to) there were and how
// many failed, with a few of the failures.
func (p *poller) count(from, to time.Time) (sent, failed int, examples []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.results {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		sent++
		if r.failed {
			failed++
			if len(examples) < 5 {
				examples = append(examples, r.at.Format(time.TimeOnly)+" "+r.what)
			}
		}
	}
	return sent, failed, examples
}

// lastRecord reads the newest record of the suite stack's ledger.
func (s *localStack) lastRecord(t *testing.T) release.Record {
	t.Helper()
	recs, err := release.Ledger{Dir: filepath.Join(s.dir, "releases")}.Read(s.name)
	if err != nil || len(recs) == 0 {
		t.Fatalf("reading the ledger: %d records, %v", len(recs), err)
	}
	return recs[len(recs)-1]
}

// testProgressive releases a bad image, one that never becomes healthy,
// then a good one, to the suite's stack by its canary strategy, under a
// client polling an API route.
func testProgressive(t *testing.T, s *localStack, url string, user credentials, img *releaseImages) {
	<-img.done
	if img.err != nil {
		t.Fatalf("building the release images: %v", img.err)
	}
	token := user.login(t, url)
	webImages := func(t *testing.T) map[string]string {
		out := map[string]string{}
		names := lines(dockerOut(t, "ps", "--all", "--filter", "label="+dockerinfra.StackLabel+"="+s.name,
			"--filter", "label="+dockerinfra.ProcessLabel+"=web", "--format", "{{.Names}}"))
		for _, n := range names {
			out[n] = strings.TrimSpace(dockerOut(t, "inspect", "--format", "{{.Image}}", n))
		}
		return out
	}

	t.Run("a bad release is rolled back by its gate within bake + 60 s, and its failures stay near the canary's share", func(t *testing.T) {
		p := startPoller(t, url+"/api/v1/me", token)
		time.Sleep(2 * time.Second)
		t0 := time.Now()
		out, err := s.shipyard(t, "release", s.name, "--image="+img.bad)
		took := time.Since(t0)
		t1 := time.Now()
		time.Sleep(5 * time.Second)
		p.stop()
		if err == nil {
			t.Fatalf("the bad release exited 0:\n%s", out)
		}
		t.Logf("the bad release failed after %s: %s", took.Round(time.Second), lastLines(err.Error(), 3))
		if limit := (bakeSeconds + 60) * time.Second; took > limit {
			t.Errorf("the bad release took %s, more than bake + 60 s = %s", took.Round(time.Second), limit)
		}
		if msg := err.Error(); !strings.Contains(msg, "targetErrorRate") || !strings.Contains(msg, "threshold 5%") {
			t.Errorf("the error does not name the gate, its value and its threshold:\n%s", msg)
		}
		rec := s.lastRecord(t)
		if rec.Status != release.StatusFailed || rec.Abort == nil || rec.Abort.Gate == nil || rec.Abort.Gate.Gate != "targetErrorRate" || rec.Abort.Gate.Outcome != release.GateBreach {
			t.Errorf("the ledger's last record %+v (abort %+v), want a failed release rolled back by targetErrorRate", rec, rec.Abort)
		}
		ledger, lerr := s.shipyard(t, "ledger", s.name)
		if lerr != nil || !strings.Contains(ledger, "rolled back at 25%") {
			t.Errorf("make ledger does not show the rollback: %v\n%s", lerr, ledger)
		}
		sent, failed, examples := p.count(t0, t1)
		t.Logf("during the release: %d of %d requests failed (%v)", failed, sent, examples)
		if sent < 100 || failed == 0 || float64(failed) > 0.35*float64(sent) {
			t.Errorf("during the release %d of %d requests failed; want some, and at most about the canary's %d%%", failed, sent, canaryPercent)
		}
		if sent, failed, examples := p.count(t1, time.Now()); sent < 50 || failed > 0 {
			t.Errorf("after the rollback %d of %d requests failed: %v", failed, sent, examples)
		}
		for name, id := range webImages(t) {
			if id == img.badID {
				t.Errorf("container %s still runs the bad image", name)
			}
		}
		if left := dockerOut(t, "ps", "--all", "--quiet", "--filter", "ancestor="+img.badID); strings.TrimSpace(left) != "" {
			t.Errorf("containers of the bad image remain: %s", left)
		}
	})

	t.Run("a release whose containers never become healthy says why, exits non-zero and leaves the running version serving", func(t *testing.T) {
		before := webImages(t)
		p := startPoller(t, url+"/api/v1/me", token)
		time.Sleep(2 * time.Second)
		t0 := time.Now()
		_, all, err := s.shipyardAll(t, "release", s.name, "--image="+img.never)
		took := time.Since(t0)
		time.Sleep(3 * time.Second)
		p.stop()
		if sent, failed, examples := p.count(t0, time.Now()); sent < 100 || failed > 0 {
			t.Errorf("%d of %d requests failed while the release ran and after it (the running version serves them all): %v", failed, sent, examples)
		}
		if err == nil {
			t.Fatalf("the release of an image that never becomes healthy exited 0:\n%s", all)
		}
		t.Logf("the never-healthy release failed after %s; it printed:\n%s", took.Round(time.Second), lastLines(all, 20))
		if limit := (healthWaitSeconds + 60) * time.Second; took > limit {
			t.Errorf("it took %s, more than local.healthWaitSeconds + 60 s = %s", took.Round(time.Second), limit)
		}
		canary := dockerinfra.NamesFor(s.name).Container("canary-web-")
		// Docker calls it unhealthy after three failed probes past its
		// start period: about when local.healthWaitSeconds runs out.
		if !regexp.MustCompile(`container ` + regexp.QuoteMeta(canary) + `\S+: running \(exit code 0\), health (unhealthy|starting)`).MatchString(all) {
			t.Errorf("the output does not give the canary containers' health:\n%s", lastLines(all, 80))
		}
		for _, want := range []string{
			"health check: exit 1: healthcheck: /livez answered 503", // its health-check log
			"last 20 log lines of " + canary,                         // the log tail of one failed container
			`"msg":"badapp: listening"`,
			"badapp: /livez fails on purpose",
			"rolled back: all traffic on the running version, the new containers removed",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("the output lacks %q:\n%s", want, lastLines(all, 80))
			}
		}
		rec := s.lastRecord(t)
		if rec.Status != release.StatusFailed || rec.Abort == nil || !strings.Contains(rec.Abort.Reason, "did not start") {
			t.Errorf("the ledger's last record %+v (abort %+v), want a failed release whose new containers did not start", rec, rec.Abort)
		}
		if left := dockerOut(t, "ps", "--all", "--quiet", "--filter", "ancestor="+img.neverID); strings.TrimSpace(left) != "" {
			t.Errorf("containers of the never-healthy image remain: %s", left)
		}
		if after := webImages(t); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("web containers %v after the failed release, %v before", after, before)
		}
	})

	t.Run("a good release shifts in steps with no failed request and ends with every web container on it", func(t *testing.T) {
		p := startPoller(t, url+"/api/v1/me", token)
		time.Sleep(2 * time.Second)
		t0 := time.Now()
		out, err := s.shipyard(t, "release", s.name, "--image="+img.good)
		t.Logf("the good release took %s", time.Since(t0).Round(time.Second))
		time.Sleep(3 * time.Second)
		p.stop()
		if err != nil {
			t.Fatalf("the good release failed: %v\n%s", err, out)
		}
		if sent, failed, examples := p.count(t0, time.Now()); sent < 200 || failed > 0 {
			t.Errorf("%d of %d requests failed: %v", failed, sent, examples)
		}
		rec := s.lastRecord(t)
		if rec.Status != release.StatusSucceeded || rec.ImageDigest != img.goodID || len(rec.Steps) < 2 || rec.Steps[0].Percent != canaryPercent {
			t.Errorf("the ledger's last record %+v, want a succeeded release of %s with at least two traffic steps", rec, img.goodID)
		}
		for _, st := range rec.Steps {
			data, _ := json.Marshal(st)
			t.Logf("step %s", data)
		}
		web := webImages(t)
		if len(web) != 2 {
			t.Errorf("web containers after the release: %v, want the two replicas only", web)
		}
		for name, id := range web {
			if id != img.goodID || strings.Contains(name, "canary") {
				t.Errorf("web container %s runs %s, want a promoted one on %s", name, id, img.goodID)
			}
		}
		if _, err := s.shipyard(t, "preview", s.name, "--expect-no-changes"); err != nil {
			t.Errorf("Pulumi's state does not agree with the released stack: %v", err)
		}
	})
}
