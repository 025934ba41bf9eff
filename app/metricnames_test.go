package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
)

// TestEveryProcessServesTheMetricsTheAlarmsRead scrapes the /metrics of
// each process type, started as main starts it, and finds every metric
// appmetrics.Exposed says that process serves, with its TYPE and a sample
// of each of its series carrying exactly its labels: infra/signals writes
// the local alarms' PromQL from the same names, so a collector renamed
// here and not there fails this test instead of leaving an alarm quiet.
func TestEveryProcessServesTheMetricsTheAlarmsRead(t *testing.T) {
	env := baseEnv(t)
	command := map[string]string{appmetrics.ProcessWeb: "serve", appmetrics.ProcessWorker: "worker", appmetrics.ProcessClock: "clock"}
	for _, process := range []string{appmetrics.ProcessWeb, appmetrics.ProcessWorker, appmetrics.ProcessClock} {
		t.Run(process, func(t *testing.T) {
			var want []appmetrics.PromMetric
			for _, m := range appmetrics.Exposed() {
				if slices.Contains(m.Processes, process) {
					want = append(want, m)
				}
			}
			if len(want) == 0 {
				t.Fatalf("appmetrics.Exposed lists no metric for process %s", process)
			}
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			p := start(t, e, command[process]) // start's /livez counts in the HTTP metrics
			// The gauges read Postgres and Redis at each scrape: a first
			// scrape may come before the process could read them.
			deadline := time.Now().Add(20 * time.Second)
			for {
				body := scrape(t, p.base+"/metrics")
				missing := missingMetrics(body, want)
				if len(missing) == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s's /metrics (app %s):\n%s\n--- /metrics:\n%s", process, command[process], strings.Join(missing, "\n"), body)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// missingMetrics returns what the Prometheus text exposition body lacks
// of want: a "# TYPE <name> <type>" line, and for each series of a metric
// a sample whose label names are the metric's labels (and le, a bucket's).
func missingMetrics(body string, want []appmetrics.PromMetric) []string {
	var missing []string
	lines := strings.Split(body, "\n")
	for _, m := range want {
		if !slices.Contains(lines, "# TYPE "+m.Name+" "+m.Type) {
			missing = append(missing, fmt.Sprintf("%s: no line %q", m.Name, "# TYPE "+m.Name+" "+m.Type))
		}
		for _, series := range m.Series() {
			labels := slices.Clone(m.Labels)
			if series == appmetrics.Bucket(m.Name) && m.Type == "histogram" {
				labels = append(labels, "le")
			}
			slices.Sort(labels)
			var seen []string
			found := false
			for _, l := range lines {
				name, got, ok := sampleLabels(l)
				if !ok || name != series {
					continue
				}
				slices.Sort(got)
				if slices.Equal(got, labels) {
					found = true
					break
				}
				seen = append(seen, strings.Join(got, ","))
			}
			if !found {
				missing = append(missing, fmt.Sprintf("%s: no sample of series %s with labels [%s] (samples with labels: %q)", m.Name, series, strings.Join(labels, ","), seen))
			}
		}
	}
	return missing
}

// sampleLabels parses a sample line of the text format, name{k="v",…} value,
// into its name and label names.
func sampleLabels(line string) (name string, labels []string, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, false
	}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, false
	}
	name, rest := line[:i], line[i:]
	if rest[0] != '{' {
		return name, nil, true
	}
	rest = rest[1:]
	for {
		if strings.HasPrefix(rest, "}") {
			return name, labels, true
		}
		eq := strings.Index(rest, `="`)
		if eq <= 0 {
			return "", nil, false
		}
		labels = append(labels, rest[:eq])
		rest = rest[eq+2:]
		// The value ends at the first quote not escaped by a backslash.
		j := 0
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' {
				j++
			}
		}
		if j >= len(rest) {
			return "", nil, false
		}
		rest = strings.TrimPrefix(rest[j+1:], ",")
	}
}

func TestSampleLabelsParsesTheTextFormat(t *testing.T) {
	for line, want := range map[string][]string{
		`up 1`: nil,
		`http_requests_total{method="GET",route="/a\",b",status="200"} 3`: {"method", "route", "status"},
		`x{le="+Inf"} 1`: {"le"},
	} {
		name, got, ok := sampleLabels(line)
		if !ok || name == "" || !slices.Equal(got, want) {
			t.Errorf("sampleLabels(%q) = %q %v %v, want %v", line, name, got, ok, want)
		}
	}
	if _, _, ok := sampleLabels("# TYPE up gauge"); ok {
		t.Error("a comment parsed as a sample")
	}
}
