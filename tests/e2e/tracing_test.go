package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	http_helper "github.com/gruntwork-io/terratest/modules/http-helper"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"
)

// jaegerTrace is a trace as Jaeger's query API (/api/traces/<id>) returns
// it.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []jaegerTag `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string      `json:"serviceName"`
		Tags        []jaegerTag `json:"tags"`
	} `json:"processes"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func tag(tags []jaegerTag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// traceInJaeger sends POST /api/v1/notes through nginx with a sampled W3C
// traceparent, then reads that trace id from the stack's Jaeger (on
// 127.0.0.1): one trace holding the web process's HTTP span, Postgres and
// Redis spans, and the worker's span for the job the request enqueued; and
// the app's log lines of that request and job carry the same trace_id.
func (s *suite) traceInJaeger(t *testing.T) {
	if s.out.JaegerURL == "" || !strings.HasPrefix(s.out.JaegerURL, "http://127.0.0.1:") {
		t.Fatalf("the stack outputs jaegerUrl %q; want the Jaeger UI on 127.0.0.1", s.out.JaegerURL)
	}
	if s.token == "" {
		s.token = register(t, s.url).login(t, s.url)
	}
	traceID, parent := randomHex(t, 16), randomHex(t, 8)
	body := `{"title":"traced","body":"one trace through every process"}`
	status, resp, err := http_helper.HTTPDoE(t, http.MethodPost, s.url+"/api/v1/notes", strings.NewReader(body), map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + s.token,
		"traceparent": "00-" + traceID + "-" + parent + "-01",
	}, stackTLS())
	if err != nil || status != http.StatusCreated {
		t.Fatalf("POST /api/v1/notes: %d %v %s", status, err, resp)
	}

	var tr jaegerTrace
	retry.DoWithRetry(t, "the trace is in Jaeger with its job", 60, time.Second, func() (string, error) {
		status, resp, err := http_helper.HttpGetE(t, s.out.JaegerURL+"/api/traces/"+traceID, nil)
		if err != nil || status != http.StatusOK {
			return "", fmt.Errorf("GET /api/traces/%s: %d %v", traceID, status, err)
		}
		var r struct {
			Data []jaegerTrace `json:"data"`
		}
		if err := json.Unmarshal([]byte(resp), &r); err != nil {
			return "", fmt.Errorf("decoding %q: %v", resp, err)
		}
		if len(r.Data) != 1 || r.Data[0].TraceID != traceID {
			return "", fmt.Errorf("want one trace %s, got %d", traceID, len(r.Data))
		}
		tr = r.Data[0]
		// The web and the worker export their batches on their own
		// schedules: wait until both the request's and the job's spans
		// have arrived (the checks below then say what each holds).
		var request, job bool
		for _, sp := range tr.Spans {
			request = request || sp.OperationName == "POST /api/v1/notes"
			job = job || sp.OperationName == "process note:process"
		}
		if !request || !job {
			return "", fmt.Errorf("the trace has the request's span %t and the job's span %t yet (%d spans)", request, job, len(tr.Spans))
		}
		return "", nil
	})

	var httpSpan string
	var pg, redis, job int
	for _, sp := range tr.Spans {
		process := tag(tr.Processes[sp.ProcessID].Tags, "shipyard.process")
		switch {
		case sp.OperationName == "POST /api/v1/notes" && process == "serve":
			httpSpan = sp.SpanID
			if len(sp.References) != 1 || sp.References[0].SpanID != parent {
				t.Errorf("the HTTP span's parent is %+v, want the caller's span %s from the traceparent", sp.References, parent)
			}
		case tag(sp.Tags, "db.system.name") == "postgresql" || tag(sp.Tags, "db.system") == "postgresql":
			pg++
		case tag(sp.Tags, "db.system") == "redis" || tag(sp.Tags, "db.system.name") == "redis":
			redis++
		case sp.OperationName == "process note:process" && process == "worker":
			job++
		}
	}
	if httpSpan == "" || pg == 0 || redis == 0 || job != 1 {
		var names []string
		for _, sp := range tr.Spans {
			names = append(names, sp.OperationName)
		}
		t.Fatalf("trace %s: HTTP span %q, %d Postgres, %d Redis, %d job spans of the worker; want the HTTP span, ≥1, ≥1 and 1 (spans: %v)", traceID, httpSpan, pg, redis, job, names)
	}

	// The log lines: the web replica that served it wrote the access log
	// line with the trace id (nginx sets the request id: every line of
	// that request id must carry the trace too), the worker its "job done".
	retry.DoWithRetry(t, "the log lines carry the trace id", 20, time.Second, func() (string, error) {
		var lines []map[string]any
		for _, c := range append(append([]string{}, s.out.WebContainers...), s.out.Containers["worker"]) {
			out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{Command: "docker", Args: []string{"logs", c}, Logger: quiet})
			if err != nil {
				return "", err
			}
			sc := bufio.NewScanner(strings.NewReader(out))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var line map[string]any
				if json.Unmarshal(sc.Bytes(), &line) == nil {
					lines = append(lines, line)
				}
			}
		}
		var request, jobDone int
		requestID := ""
		for _, l := range lines {
			switch {
			case l["msg"] == "request" && l["trace_id"] == traceID:
				if l["route"] != "/api/v1/notes" || l["method"] != "POST" {
					t.Fatalf("the trace's access log line is not the POST's: %v", l)
				}
				request++
				requestID, _ = l["request_id"].(string)
			case l["msg"] == "job done" && l["trace_id"] == traceID:
				jobDone++
			}
		}
		if request != 1 || jobDone != 1 || requestID == "" {
			return "", fmt.Errorf("%d access log lines and %d job lines with trace id %s; want 1 and 1", request, jobDone, traceID)
		}
		for _, l := range lines {
			if l["request_id"] == requestID && l["trace_id"] != traceID {
				t.Fatalf("a log line of the request lacks its trace id: %v", l)
			}
		}
		return "", nil
	})
}
