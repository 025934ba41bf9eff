package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real app binary once per test process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shipyard-app-bin-")
		if err != nil {
			buildErr = err
			return
		}
		testenv.AtExit(func() { os.RemoveAll(dir) })
		binPath = filepath.Join(dir, "app")
		gotool, err := exec.LookPath("go") // go test puts its own first on PATH
		if err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command(gotool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

func envList(m map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func TestBinary(t *testing.T) {
	bin := binary(t)

	t.Run("a config error exits 1 naming the variable", func(t *testing.T) {
		cmd := exec.Command(bin, "serve")
		cmd.Env = envList(map[string]string{"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h:6379/0", "PORT": "99999"})
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v", err)
		}
		if !strings.Contains(stdout.String(), `"level":"ERROR"`) || !strings.Contains(stdout.String(), "PORT: must be an integer from 1 to 65535") {
			t.Errorf("stdout has no JSON error line naming PORT: %s", stdout.String())
		}
		if stderr.Len() != 0 {
			t.Errorf("logs go to stdout only; stderr: %s", stderr.String())
		}
	})

	t.Run("SIGTERM drains and exits 0; healthcheck follows /livez", func(t *testing.T) {
		env := baseEnv(t)
		env["PORT"] = strconv.Itoa(testenv.FreePort(t))
		cmd := exec.Command(bin, "serve")
		cmd.Env = envList(env)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		defer func() {
			_ = cmd.Process.Kill()
			if t.Failed() {
				t.Logf("output:\n%s", out.String())
			}
		}()
		for {
			resp, err := http.Get("http://127.0.0.1:" + env["PORT"] + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			select {
			case err := <-done:
				t.Fatalf("exited early: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		hc := exec.Command(bin, "healthcheck")
		hc.Env = envList(map[string]string{"PORT": env["PORT"]})
		if out, err := hc.CombinedOutput(); err != nil {
			t.Fatalf("healthcheck: %v %s", err, out)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("still running 30s after SIGTERM")
		}
		hc = exec.Command(bin, "healthcheck")
		hc.Env = envList(map[string]string{"PORT": env["PORT"]})
		if err := hc.Run(); err == nil {
			t.Fatal("healthcheck passed with the server gone")
		}
	})
}
