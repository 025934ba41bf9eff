package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

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
	return openOutput(ctx, e, "traces STACK", func(ctx context.Context, x execer, e env, stack string, out release.Outputs, lookPath func(string) (string, error)) error {
		return showURL(ctx, x, e, stack, out, lookPath, tracesOutputs, "aws stacks have X-Ray trace search, docker stacks a Jaeger UI")
	})
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
