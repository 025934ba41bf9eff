package main

// Load benchmarks against the real binary on loopback (run them with
// bench/run.sh; figures in docs/app.md). The load generator runs in this
// process, on the same machine, so the figures are conservative.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

type benchServer struct {
	base string
	cmd  *exec.Cmd
	tok  string
	note string
}

func startBinary(b *testing.B, env map[string]string) *benchServer {
	b.Helper()
	return startBinaryAt(b, binary(b), env)
}

// startBinaryAt runs the app built at bin.
func startBinaryAt(b *testing.B, bin string, env map[string]string) *benchServer {
	b.Helper()
	env["PORT"] = strconv.Itoa(testenv.FreePort(b))
	cmd := exec.Command(bin, "serve")
	cmd.Env = envList(env)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &benchServer{base: "http://127.0.0.1:" + env["PORT"], cmd: cmd}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("not ready after 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// rssMB reads the resident set size (and its peak) of pid.
func rssMB(b *testing.B, pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				rss = kb / 1024
			} else {
				hwm = kb / 1024
			}
		}
	}
	return rss, hwm
}

func (s *benchServer) setupNote(b *testing.B) {
	b.Helper()
	req := func(method, path, tok, body string) (int, string) {
		r, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if st, out := req("POST", "/api/v1/users", "", `{"email":"bench@example.com","password":"correct horse"}`); st != 201 {
		b.Fatal(st, out)
	}
	_, out := req("POST", "/api/v1/sessions", "", `{"email":"bench@example.com","password":"correct horse"}`)
	s.tok = between(out, `"token":"`, `"`)
	_, out = req("POST", "/api/v1/notes", s.tok, `{"title":"bench","body":"a cached note"}`)
	s.note = "/api/v1/notes/" + between(out, `"id":`, `,`)
	req("GET", s.note, s.tok, "") // warm the cache
}

func between(s, a, z string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, z)
	return v
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
}

func newBenchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 10 * time.Second}
}

func get(c *http.Client, url, tok string) (time.Duration, bool) {
	start := time.Now()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		return time.Since(start), false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode == 200
}

// closedLoop sends b.N requests from conc goroutines as fast as they go.
func closedLoop(b *testing.B, s *benchServer, path, tok string, conc int) {
	c := newBenchClient()
	lat := make([][]time.Duration, conc)
	var next, failed int64
	var mu sync.Mutex
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= int64(b.N) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				d, ok := get(c, s.base+path, tok)
				lat[w] = append(lat[w], d)
				if !ok {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
	b.ReportMetric(percentile(all, 0.50), "p50_ms")
	b.ReportMetric(percentile(all, 0.99), "p99_ms")
	b.ReportMetric(float64(failed), "failed")
}

// BenchmarkLivez: throughput and latency of /livez, 32 concurrent clients.
func BenchmarkLivez(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	closedLoop(b, s, "/livez", "", 32)
}

// BenchmarkCachedGET: throughput and latency of an authenticated GET of a
// cached note (token lookup in Postgres + note from Redis), 32 concurrent
// clients; also the process RSS idle and under load.
func BenchmarkCachedGET(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	fresh, _ := rssMB(b, s.cmd.Process.Pid)
	s.setupNote(b) // register + login: two argon2id hashes of 19 MiB each
	idle, _ := rssMB(b, s.cmd.Process.Pid)
	closedLoop(b, s, s.note, s.tok, 32)
	_, peak := rssMB(b, s.cmd.Process.Pid)
	b.ReportMetric(fresh, "rss_ready_MB")
	b.ReportMetric(idle, "rss_idle_MB")
	b.ReportMetric(peak, "rss_peak_MB")
}

// openLoop sends b.N requests at a fixed 1,000 req/s (run with
// -benchtime=5000x for 5 s). Latency counts from the scheduled send time,
// so queueing (in the server or in this generator) is not hidden.
func openLoop(b *testing.B, s *benchServer, path, tok string) {
	c := newBenchClient()
	lat := make([]time.Duration, b.N)
	oks := make([]bool, b.N)
	const interval = time.Millisecond
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range b.N {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Go(func() {
			_, ok := get(c, s.base+path, tok)
			lat[i], oks[i] = time.Since(at), ok
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	failed := 0
	for _, ok := range oks {
		if !ok {
			failed++
		}
	}
	_, peak := rssMB(b, s.cmd.Process.Pid)
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
	b.ReportMetric(percentile(lat, 0.50), "p50_ms")
	b.ReportMetric(percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(percentile(lat, 0.999), "p999_ms")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(peak, "rss_peak_MB")
}

// BenchmarkCachedGETAt1000rps: the cached GET at a fixed 1,000 req/s.
func BenchmarkCachedGETAt1000rps(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	s.setupNote(b)
	openLoop(b, s, s.note, s.tok)
}

// BenchmarkLivezAt1000rps: /livez at a fixed 1,000 req/s: the floor this
// machine and generator impose on the cached GET's figures.
func BenchmarkLivezAt1000rps(b *testing.B) {
	env := baseEnv(b)
	env["LOG_LEVEL"] = "info"
	s := startBinary(b, env)
	openLoop(b, s, "/livez", "")
}

// BenchmarkStartupToReady: from exec of `app serve` to the first /readyz
// 200 (Postgres and Redis already up), polled every 0.5 ms.
func BenchmarkStartupToReady(b *testing.B) {
	env := baseEnv(b)
	bin := binary(b)
	var total time.Duration
	var worst time.Duration
	for range b.N {
		b.StopTimer()
		env["PORT"] = strconv.Itoa(testenv.FreePort(b))
		cmd := exec.Command(bin, "serve")
		cmd.Env = envList(env)
		c := &http.Client{Timeout: time.Second}
		b.StartTimer()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := c.Get("http://127.0.0.1:" + env["PORT"] + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("not ready after 30s")
			}
			time.Sleep(500 * time.Microsecond)
		}
		d := time.Since(start)
		b.StopTimer()
		total += d
		worst = max(worst, d)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms_to_ready")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst_ms")
}
