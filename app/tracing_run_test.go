package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTracingThroughServeAndWorker runs serve and worker through run, as
// the stacks configure them (OTEL_* variables), against an OTLP/HTTP
// receiver: a POST with a traceparent is exported by both processes under
// that trace id, flushed when they stop, and the web process's log lines
// of the request carry it.
func TestTracingThroughServeAndWorker(t *testing.T) {
	var mu sync.Mutex
	spans := map[string][]string{} // process → "trace id/span name"
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rs := range req.ResourceSpans {
			process := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "shipyard.process" {
					process = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					spans[process] = append(spans[process], hex.EncodeToString(sp.TraceId)+"/"+sp.Name)
				}
			}
		}
	}))
	t.Cleanup(sink.Close)

	env := baseEnv(t)
	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0",
		"OTEL_SERVICE_NAME": "shipyard", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
	} {
		env[k] = v
	}
	web := start(t, env, "serve")
	wenv := map[string]string{}
	for k, v := range env {
		wenv[k] = v
	}
	wenv["PORT"] = ""
	worker := start(t, wenv, "worker")

	tok := web.token("ada@example.com")
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	req, _ := http.NewRequest("POST", web.base+"/api/v1/notes", strings.NewReader(`{"title":"t","body":"one two"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	// Sampled by the caller: recorded although the ratio is 0.
	req.Header.Set("traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(worker.out.String(), `"msg":"job done"`) {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not run the job")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Stopping flushes what is batched.
	if err := web.stop(); err != nil {
		t.Fatal(err)
	}
	if err := worker.stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for process, want := range map[string][]string{
		"serve":  {traceID + "/POST /api/v1/notes", traceID + "/send note:process", traceID + "/INSERT"},
		"worker": {traceID + "/process note:process", traceID + "/SELECT"},
	} {
		for _, w := range want {
			if !contains(spans[process], w) {
				t.Errorf("%s exported no span %s; got %v", process, w, spans[process])
			}
		}
	}
	// The register and login before it were not sampled (ratio 0): nothing
	// else was exported by the web process.
	for _, s := range spans["serve"] {
		if !strings.HasPrefix(s, traceID) {
			t.Errorf("an unsampled request was exported: %s", s)
		}
	}
	var withTrace int
	for _, line := range strings.Split(web.out.String(), "\n") {
		if strings.Contains(line, `"route":"/api/v1/notes"`) && strings.Contains(line, `"msg":"request"`) {
			if !strings.Contains(line, fmt.Sprintf(`"trace_id":"%s"`, traceID)) {
				t.Errorf("the access log line lacks the trace: %s", line)
			}
			withTrace++
		}
	}
	if withTrace != 1 {
		t.Errorf("%d access log lines for the POST", withTrace)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
