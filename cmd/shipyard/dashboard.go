package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// dashboardOutputs are the stack outputs `make dashboard` opens, the first
// a stack has: an aws stack's CloudWatch dashboard
// (infra/aws.OutputDashboardURL), a docker stack's Prometheus UI.
var dashboardOutputs = []string{"dashboardUrl", "prometheusUrl"}

// tracesOutputs are the stack outputs `make traces` opens: an aws stack's
// X-Ray trace search in the CloudWatch console (infra/aws.OutputTracesURL),
// a docker stack's Jaeger UI.
var tracesOutputs = []string{"tracesUrl", "jaegerUrl"}

// browsers are the programs that open a URL in the operator's browser, in
// the order they are tried (xdg-open on Linux, open on macOS).
var browsers = []string{"xdg-open", "open"}

// cmdDashboard prints a stack's dashboard URL and opens it in a browser.
func cmdDashboard(ctx context.Context, e env) error {
	return openOutput(ctx, e, "dashboard STACK", showDashboard)
}

// cmdTraces prints a stack's trace UI URL and opens it in a browser.
func cmdTraces(ctx context.Context, e env) error {
	return openOutput(ctx, e, "traces STACK", showTraces)
}

// showTraces prints and opens the stack's trace UI; for a docker stack's
// Jaeger that serves no UI (the offline stand-in), it says so on stderr
// and how to read traces from its query API instead.
func showTraces(ctx context.Context, x execer, e env, stack string, out release.Outputs, lookPath func(string) (string, error)) error {
	if err := showURL(ctx, x, e, stack, out, lookPath, tracesOutputs, "aws stacks have X-Ray trace search, docker stacks a Jaeger UI"); err != nil {
		return err
	}
	if u, _ := out["jaegerUrl"].(string); u != "" && out["tracesUrl"] == nil {
		if note := jaegerWithoutUI(ctx, u); note != "" {
			fmt.Fprintln(e.stderr, note)
		}
	}
	return nil
}

// jaegerPlaceholder is a line of the page Jaeger serves instead of its UI
// when it was built without the UI's assets (the Go module ships only that
// placeholder: tests/images/build.sh's stand-in).
const jaegerPlaceholder = "not the Jaeger UI you are looking for"

// jaegerWithoutUI returns what to tell the operator when the Jaeger at url
// serves the placeholder page instead of the UI, else "" (the UI, or no
// answer within 2 s: the URL printed is all there is to say).
func jaegerWithoutUI(ctx context.Context, url string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || !bytes.Contains(page, []byte(jaegerPlaceholder)) {
		return ""
	}
	return fmt.Sprintf("this Jaeger serves its query API but no UI: it is the offline stand-in that tests/images/build.sh builds from the Go module, which ships only a placeholder page (the image jaegertracing/jaeger that `make up` pulls elsewhere serves the UI at this URL).\n"+
		"Read the traces from the API: curl -s %[1]s/api/services, curl -s '%[1]s/api/traces?service=shipyard&limit=20', curl -s %[1]s/api/traces/<trace id>", strings.TrimSuffix(url, "/"))
}

// openOutput reads the outputs of the stack named in e's arguments and
// hands them to show.
func openOutput(ctx context.Context, e env, usage string, show func(context.Context, execer, env, string, release.Outputs, func(string) (string, error)) error) error {
	stack, err := stackArg(e, usage)
	if err != nil {
		return err
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	x := osExec(e.stdout, e.stderr)
	out, err := pr.pulumi(x, e.getenv).Outputs(ctx, stack)
	if err != nil {
		return err
	}
	return show(ctx, x, e, stack, out, exec.LookPath)
}

// showDashboard prints the first of dashboardOutputs the stack has and,
// outside CI, opens it.
func showDashboard(ctx context.Context, x execer, e env, stack string, out release.Outputs, lookPath func(string) (string, error)) error {
	return showURL(ctx, x, e, stack, out, lookPath, dashboardOutputs, "aws stacks have a CloudWatch dashboard, docker stacks a Prometheus UI")
}

// showURL prints the first of keys the stack outputs and, outside CI, opens
// it with the first of browsers on PATH; a browser that fails is reported,
// not an error: the URL is printed. which says which stacks have one.
func showURL(ctx context.Context, x execer, e env, stack string, out release.Outputs, lookPath func(string) (string, error), keys []string, which string) error {
	var url string
	for _, k := range keys {
		if url, _ = out[k].(string); url != "" {
			break
		}
	}
	if url == "" {
		if len(out) == 0 {
			return fmt.Errorf("stack %q has no outputs: run `make up STACK=%s` first", stack, stack)
		}
		return fmt.Errorf("stack %q has no %s output: %s; run `make up STACK=%s` to create it", stack, strings.Join(keys, " or "), which, stack)
	}
	fmt.Fprintln(e.stdout, url)
	if ci := e.getenv("CI"); ci != "" && ci != "false" {
		return nil
	}
	for _, b := range browsers {
		path, err := lookPath(b)
		if err != nil {
			continue
		}
		if _, err := x(ctx, call{Name: path, Args: []string{url}}); err != nil {
			fmt.Fprintf(e.stderr, "could not open %s with %s: %v\n", url, b, err)
		}
		return nil
	}
	return nil
}
