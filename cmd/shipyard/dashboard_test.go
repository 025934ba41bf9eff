package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/release"
)

func TestShowDashboard(t *testing.T) {
	const url = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=shipyard-prod"
	deployed := release.Outputs{"stack": "prod", "dashboardUrl": url}
	onPath := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			for _, x := range names {
				if x == n {
					return "/usr/bin/" + n, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	tests := []struct {
		name      string
		out       release.Outputs
		ci        string
		browsers  []string
		openFails bool
		wantCalls []string
		wantErr   string
		wantNote  string
	}{
		{"prints the URL and opens it with xdg-open", deployed, "", []string{"xdg-open", "open"}, false, []string{"/usr/bin/xdg-open " + url}, "", ""},
		{"opens it with open where there is no xdg-open (macOS)", deployed, "", []string{"open"}, false, []string{"/usr/bin/open " + url}, "", ""},
		{"only prints the URL in CI", deployed, "true", []string{"xdg-open"}, false, nil, "", ""},
		{"opens it when CI is false", deployed, "false", []string{"xdg-open"}, false, []string{"/usr/bin/xdg-open " + url}, "", ""},
		{"only prints the URL without a browser opener", deployed, "", nil, false, nil, "", ""},
		{"reports a browser that fails and still succeeds", deployed, "", []string{"xdg-open"}, true, []string{"/usr/bin/xdg-open " + url}, "", "could not open " + url + " with xdg-open"},
		{"tells to run make up when the stack has no outputs", release.Outputs{}, "", []string{"xdg-open"}, false, nil, "run `make up STACK=prod` first", ""},
		{"says which stacks have a dashboard when the output is missing", release.Outputs{"stack": "prod", "target": "docker"}, "", []string{"xdg-open"}, false, nil, "aws stacks have a CloudWatch dashboard", ""},
		{"opens a docker stack's Prometheus UI", release.Outputs{"stack": "local", "prometheusUrl": url}, "", []string{"xdg-open"}, false, []string{"/usr/bin/xdg-open " + url}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answers := map[string]answer{"/usr/bin/xdg-open": {}, "/usr/bin/open": {}}
			if tc.openFails {
				answers["/usr/bin/xdg-open"] = answer{err: errors.New("no display")}
			}
			x := newFakeExec(answers)
			var stdout, stderr bytes.Buffer
			e := env{getenv: func(k string) string {
				if k == "CI" {
					return tc.ci
				}
				return ""
			}, stdout: &stdout, stderr: &stderr}
			err := showDashboard(context.Background(), x.exec, e, "prod", tc.out, onPath(tc.browsers...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != url+"\n" {
				t.Errorf("stdout %q, want the URL", stdout.String())
			}
			if got := x.lines(); !reflect.DeepEqual(got, tc.wantCalls) && !(len(got) == 0 && len(tc.wantCalls) == 0) {
				t.Errorf("calls %v, want %v", got, tc.wantCalls)
			}
			if !strings.Contains(stderr.String(), tc.wantNote) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantNote)
			}
		})
	}
}

// `shipyard dashboard STACK` reads the URL from the deployed stack's
// outputs through the pulumi CLI.
func TestDashboardCommand(t *testing.T) {
	newCLIRepo(t)
	t.Setenv("CI", "true")
	o := deployedOutputs("prod", "https://prod.example.com", cliDigestA)
	o["dashboardUrl"] = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=shipyard-prod"
	state := installFakes(t, &fakeWorld{Outputs: map[string]map[string]any{"prod": o}})
	out, err := runCLI(t, "dashboard", "prod")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.TrimSpace(out) != o["dashboardUrl"] {
		t.Errorf("output %q, want the dashboard URL", out)
	}
	calls, err := os.ReadFile(filepath.Join(state, "calls.log"))
	if err != nil || !strings.Contains(string(calls), "pulumi stack output --json --stack prod") {
		t.Errorf("calls %s (%v), want pulumi stack output of prod", calls, err)
	}
	if _, err := runCLI(t, "dashboard", "staging"); err == nil || !strings.Contains(err.Error(), "make up STACK=staging") {
		t.Errorf("a stack that was never deployed: %v", err)
	}
}

func TestShowTracesOpensJaegerOrXRay(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  release.Outputs
		want string
		err  string
	}{
		{"a docker stack's Jaeger UI", release.Outputs{"stack": "local", "jaegerUrl": "http://127.0.0.1:16686", "prometheusUrl": "http://127.0.0.1:9090"}, "http://127.0.0.1:16686", ""},
		{"an aws stack's X-Ray trace search", release.Outputs{"stack": "prod", "tracesUrl": "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#xray:traces/query"}, "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#xray:traces/query", ""},
		{"a stack without either says where traces are", release.Outputs{"stack": "old", "url": "x"}, "", "docker stacks a Jaeger UI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(map[string]answer{"/usr/bin/xdg-open": {}})
			var stdout, stderr bytes.Buffer
			e := env{getenv: func(string) string { return "" }, stdout: &stdout, stderr: &stderr}
			err := showURL(context.Background(), x.exec, e, "s", tc.out, func(string) (string, error) { return "/usr/bin/xdg-open", nil }, tracesOutputs, "aws stacks have X-Ray trace search, docker stacks a Jaeger UI")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || stdout.String() != tc.want+"\n" {
				t.Fatalf("printed %q (err %v), want %s", stdout.String(), err, tc.want)
			}
			if got := x.lines(); len(got) != 1 || got[0] != "/usr/bin/xdg-open "+tc.want {
				t.Errorf("calls %v", got)
			}
		})
	}
}

func TestTracesSaysWhenJaegerServesNoUI(t *testing.T) {
	for _, tc := range []struct {
		name, page string
		note       bool
	}{
		{"the stand-in's placeholder page gets a note with the query API", "<h1>🥋: This is " + jaegerPlaceholder + "!</h1>", true},
		{"the real UI gets none", `<!doctype html><html><head><title>Jaeger UI</title></head><body><div id="jaeger-ui-root"></div></body></html>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jaeger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tc.page) }))
			defer jaeger.Close()
			x := newFakeExec(map[string]answer{})
			var stdout, stderr bytes.Buffer
			e := env{getenv: func(string) string { return "true" }, stdout: &stdout, stderr: &stderr}
			out := release.Outputs{"stack": "local", "jaegerUrl": jaeger.URL}
			if err := showTraces(context.Background(), x.exec, e, "local", out, func(string) (string, error) { return "", errors.New("none") }); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != jaeger.URL+"\n" {
				t.Errorf("stdout %q, want the URL alone", stdout.String())
			}
			got := stderr.String()
			if !tc.note {
				if got != "" {
					t.Errorf("stderr %q, want nothing", got)
				}
				return
			}
			for _, want := range []string{"no UI", "tests/images/build.sh", "jaegertracing/jaeger", "curl -s " + jaeger.URL + "/api/traces/<trace id>"} {
				if !strings.Contains(got, want) {
					t.Errorf("stderr %q does not say %q", got, want)
				}
			}
		})
	}
	t.Run("an aws stack's X-Ray is not probed", func(t *testing.T) {
		var stderr bytes.Buffer
		e := env{getenv: func(string) string { return "true" }, stdout: io.Discard, stderr: &stderr}
		out := release.Outputs{"stack": "prod", "tracesUrl": "http://127.0.0.1:1/xray"}
		if err := showTraces(context.Background(), newFakeExec(map[string]answer{}).exec, e, "prod", out, nil); err != nil || stderr.Len() != 0 {
			t.Errorf("err %v, stderr %q", err, stderr.String())
		}
	})
}
