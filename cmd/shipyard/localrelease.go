package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// dockerLocal implements release.LocalStack with the Pulumi and Docker
// CLIs and Prometheus's HTTP API.
type dockerLocal struct {
	x      execer
	p      *pulumiCLI
	docker string
	http   *http.Client
}

// Up implements release.LocalStack: `pulumi up` with the candidate in
// dockerinfra.CandidateEnv (set empty for none, so an inherited value
// never leaks in).
func (d dockerLocal) Up(ctx context.Context, stack, candidate string) error {
	p := *d.p
	p.extraEnv = []string{dockerinfra.CandidateEnv + "=" + candidate}
	return p.Up(ctx, stack)
}

// ImageID implements release.LocalStack.
func (d dockerLocal) ImageID(ctx context.Context, ref string) (string, error) {
	out, err := d.x(ctx, call{Name: d.docker, Args: []string{"image", "inspect", "--format", "{{.Id}}", ref}})
	if err != nil {
		return "", fmt.Errorf("no local image %s (build or pull it first): %w", ref, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// SetSplit implements release.LocalStack: the split file goes into the
// nginx container, is checked with `nginx -t`, and nginx reloads (its old
// workers finish the requests they hold).
func (d dockerLocal) SetSplit(ctx context.Context, nginx string, percent int, generation string) error {
	label := ""
	if generation != "" {
		label = release.CanaryLabel(generation)
	}
	conf, err := dockerinfra.SplitConf(percent, label)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "split-*.conf")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// docker cp keeps the temporary file's 0600 mode: nginx reads its
	// configuration as root, so that is enough.
	for _, args := range [][]string{
		{"cp", f.Name(), nginx + ":" + dockerinfra.NginxSplitFile},
		{"exec", nginx, "nginx", "-t", "-q"},
		{"exec", nginx, "nginx", "-s", "reload"},
	} {
		if _, err := d.x(ctx, call{Name: d.docker, Args: args}); err != nil {
			return err
		}
	}
	return nil
}

// Query implements release.LocalStack with Prometheus's instant query API.
func (d dockerLocal) Query(ctx context.Context, prometheusURL, expr string) (float64, bool, error) {
	u := strings.TrimRight(prometheusURL, "/") + "/api/v1/query?query=" + url.QueryEscape(expr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("querying prometheus: %w", err)
	}
	defer resp.Body.Close()
	return parseInstantQuery(resp.StatusCode, resp.Body)
}

// parseInstantQuery reads an instant query's answer: the one sample's
// value, or ok false when there is none or it is not a number (NaN, ±Inf:
// a ratio over no requests).
func parseInstantQuery(status int, body io.Reader) (float64, bool, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(body).Decode(&r); err != nil {
		return 0, false, fmt.Errorf("prometheus answered %d, not JSON: %w", status, err)
	}
	if r.Status != "success" {
		return 0, false, fmt.Errorf("prometheus: %s", r.Error)
	}
	if r.Data.ResultType != "vector" {
		return 0, false, fmt.Errorf("prometheus: result type %q, want vector", r.Data.ResultType)
	}
	switch len(r.Data.Result) {
	case 0:
		return 0, false, nil
	case 1:
	default:
		return 0, false, fmt.Errorf("prometheus: %d series, want one (the gate queries aggregate)", len(r.Data.Result))
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("prometheus: value %q: %w", s, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, nil
	}
	return v, true, nil
}

// WebImages implements release.LocalStack.
func (d dockerLocal) WebImages(ctx context.Context, stack string) (map[string]string, error) {
	names, err := d.containers(ctx, stack, "label="+dockerinfra.ProcessLabel+"=web")
	if err != nil || len(names) == 0 {
		return nil, err
	}
	out, err := d.x(ctx, call{Name: d.docker, Args: append([]string{"inspect", "--format", "{{.Name}} {{.Image}}"}, names...)})
	if err != nil {
		return nil, err
	}
	images := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if name, img, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			images[strings.TrimPrefix(name, "/")] = img
		}
	}
	return images, nil
}

// containers lists the stack's containers (running or not) matching a
// `docker ps` filter.
func (d dockerLocal) containers(ctx context.Context, stack, filter string) ([]string, error) {
	out, err := d.x(ctx, call{Name: d.docker, Args: []string{"ps", "-a", "--filter", "label=" + dockerinfra.StackLabel + "=" + stack, "--filter", filter, "--format", "{{.Names}}"}})
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// Diagnose implements release.LocalStack: the state and health-check log
// of each of the stack's app containers that is not healthy (the canaries
// of a release, or a rolling update's new generation; a one-off that
// exited non-zero), and the last 20 log lines of one of them, a web one
// first.
func (d dockerLocal) Diagnose(ctx context.Context, stack string) string {
	names, err := d.containers(ctx, stack, "label="+dockerinfra.ProcessLabel)
	if err != nil || len(names) == 0 {
		return ""
	}
	var b strings.Builder
	failed := ""
	for _, n := range names {
		out, err := d.x(ctx, call{Name: d.docker, Args: []string{"inspect", "--format", "{{json .State}}", n}})
		if err != nil {
			continue
		}
		var st struct {
			Status   string
			ExitCode int
			Health   *struct {
				Status string
				Log    []struct {
					ExitCode int
					Output   string
				}
			}
		}
		if json.Unmarshal(out, &st) != nil {
			continue
		}
		if st.Status == "exited" && st.ExitCode == 0 || st.Health != nil && st.Health.Status == "healthy" {
			continue // a one-off that succeeded (its image's health check aside), or healthy
		}
		health := "no health check"
		if st.Health != nil {
			health = st.Health.Status
		}
		fmt.Fprintf(&b, "container %s: %s (exit code %d), health %s\n", n, st.Status, st.ExitCode, health)
		if st.Health != nil {
			for _, l := range st.Health.Log {
				fmt.Fprintf(&b, "  health check: exit %d: %s\n", l.ExitCode, strings.TrimSpace(l.Output))
			}
		}
		if failed == "" || strings.Contains(n, "-web-") && !strings.Contains(failed, "-web-") {
			failed = n
		}
	}
	if failed != "" {
		// Standard output and error both: a panic goes to the latter.
		var logs bytes.Buffer
		_, _ = d.x(ctx, call{Name: d.docker, Args: []string{"logs", "--tail", "20", failed}, Stream: true, Out: &logs})
		fmt.Fprintf(&b, "last 20 log lines of %s:\n%s", failed, strings.TrimRight(logs.String(), "\n"))
	}
	return strings.TrimRight(b.String(), "\n")
}

// newLocalOps wires release.Ops for a docker stack's release.
func newLocalOps(ctx context.Context, e env, pr project, x execer) *release.Ops {
	// A local image need not come from this checkout (nor the checkout be
	// a git repository): the commit is recorded when there is one.
	commit, _, _ := gitState(ctx, x, pr.root)
	p := pr.pulumi(x, e.getenv)
	return &release.Ops{
		ConfigDir: pr.configDir,
		LedgerDir: filepath.Join(pr.root, "releases"),
		Pulumi:    guardedPulumi{pulumiCLI: p},
		Local:     dockerLocal{x: x, p: p, docker: dockerClient(e.getenv), http: &http.Client{Timeout: 10 * time.Second}},
		Commit:    commit,
		Actor:     actor(e.getenv),
		Out:       e.stdout,
	}
}
