package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DefaultDocker is the Docker client the harness uses unless $DOCKER names
// another: Debian's docker.io client, which matches the engine CI installs.
const DefaultDocker = "/usr/bin/docker"

// engine runs the docker CLI, and talks to the Engine API for the one call
// the CLI cannot express (creating a container whose health check is in
// exec form, ["CMD", ...]: `docker create --health-cmd` is always a shell
// command, and the app image has no shell).
type engine struct {
	cli string
	env []string // extra environment of the CLI (e.g. DOCKER_HOST)
}

func (e *engine) host() string {
	for _, kv := range e.env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok {
			return v
		}
	}
	if v := os.Getenv("DOCKER_HOST"); v != "" {
		return v
	}
	return "unix:///var/run/docker.sock"
}

// run runs the docker CLI and returns its trimmed stdout; the error carries
// stderr.
func (e *engine) run(ctx context.Context, args ...string) (string, error) {
	return e.runInput(ctx, nil, args...)
}

func (e *engine) runInput(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.cli, args...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return strings.TrimSpace(stdout.String()), fmt.Errorf("docker %s: %s", strings.Join(redact(args), " "), msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// redact hides env values from error messages (they hold secrets).
func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if i > 0 && (args[i-1] == "--env" || args[i-1] == "-e") {
			k, _, _ := strings.Cut(a, "=")
			out[i] = k + "=…"
		}
	}
	if len(out) > 8 {
		out = append(out[:8], "…")
	}
	return out
}

// api calls the Engine API; body and result are JSON.
func (e *engine) api(ctx context.Context, method, path string, query url.Values, body, result any) error {
	host := e.host()
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Errorf("DOCKER_HOST %q: %w", host, err)
	}
	var dial func(ctx context.Context, _, _ string) (net.Conn, error)
	switch u.Scheme {
	case "unix":
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}
	case "tcp", "http":
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
		}
	default:
		return fmt.Errorf("DOCKER_HOST %q: only unix:// and tcp:// are supported by the harness", host)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dial}, Timeout: 2 * time.Minute}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://docker/v1.41"+path+"?"+query.Encode(), r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("docker engine API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var msg struct{ Message string }
		_ = json.Unmarshal(data, &msg)
		if msg.Message == "" {
			msg.Message = strings.TrimSpace(string(data))
		}
		return &apiError{status: resp.StatusCode, msg: msg.Message}
	}
	if result != nil {
		return json.Unmarshal(data, result)
	}
	return nil
}

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("docker engine: %s (HTTP %d)", e.msg, e.status) }

// containerState is the part of `docker inspect` the harness waits on.
type containerState struct {
	Status   string
	Running  bool
	ExitCode int
	Error    string
	Health   *struct {
		Status string
		Log    []struct {
			ExitCode int
			Output   string
		}
	}
}

func (e *engine) state(ctx context.Context, name string) (containerState, error) {
	var s containerState
	out, err := e.run(ctx, "inspect", "--type", "container", "--format", "{{json .State}}", name)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("inspecting %s: %w", name, err)
	}
	return s, nil
}

// logsTail returns the last n lines of a container's stdout and stderr.
func (e *engine) logsTail(ctx context.Context, name string, n int) string {
	cmd := exec.CommandContext(ctx, e.cli, "logs", "--tail", fmt.Sprint(n), name)
	cmd.Env = append(os.Environ(), e.env...)
	out, _ := cmd.CombinedOutput()
	return strings.TrimSpace(string(out))
}
