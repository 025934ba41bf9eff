package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// stackOutputs loads a stack's config and its outputs, requiring that it
// was deployed.
func stackOutputs(ctx context.Context, e env, x execer, stack string) (*stackconfig.Config, release.Outputs, error) {
	pr, err := findProject(e)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := stackconfig.Load(pr.configDir, stack)
	if err != nil {
		return nil, nil, err
	}
	out, err := pr.pulumi(x, e.getenv).Outputs(ctx, stack)
	if err != nil {
		return nil, nil, err
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("stack %q has no outputs: run `make up STACK=%s` first", stack, stack)
	}
	return cfg, out, nil
}

// cmdMigrate runs the one-off migrate admin process against a stack.
func cmdMigrate(ctx context.Context, e env) error {
	stack, err := stackArg(e, "migrate STACK")
	if err != nil {
		return err
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, stack)
	if err != nil {
		return err
	}
	return migrate(ctx, x, cfg, out, e.stdout, dockerClient(e.getenv))
}

// dockerClient is the Docker client every docker call runs: $DOCKER (as
// the Makefile sets it) or docker from PATH.
func dockerClient(getenv func(string) string) string {
	if d := getenv("DOCKER"); d != "" {
		return d
	}
	return "docker"
}

func migrate(ctx context.Context, x execer, cfg *stackconfig.Config, out release.Outputs, w io.Writer, docker string) error {
	say := func(f string, a ...any) { fmt.Fprintf(w, "==> "+f+"\n", a...) }
	if cfg.Target == stackconfig.TargetAWS {
		return migrateTask(ctx, awsCLI{x: x, region: cfg.AWS.Region}, out, say)
	}
	// docker: the stack defines its migrate container (image, network,
	// env and generated secrets); running it again is the one-off
	// process, attached, with its exit code.
	name := out.Map("containers")["migrate"]
	if name == "" {
		return fmt.Errorf("stack %q has no containers.migrate output: run `make up STACK=%s` first", cfg.Stack, cfg.Stack)
	}
	say("docker start --attach %s (app migrate)", name)
	if _, err := x(ctx, call{Name: docker, Args: []string{"start", "--attach", name}, Stream: true}); err != nil {
		return fmt.Errorf("migrate on stack %q: %w", cfg.Stack, err)
	}
	say("migrations applied")
	return nil
}

// cmdLogs follows the logs of a stack's processes: every process by
// default, or the ones named.
func cmdLogs(ctx context.Context, e env) error {
	if len(e.args) < 1 {
		return errors.New("usage: shipyard logs STACK [PROCESS...] (aws: web, worker, clock; docker: also nginx, migrate, postgres, redis and the monitoring containers)")
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, e.args[0])
	if err != nil {
		return err
	}
	calls, err := logCalls(cfg, out, e.args[1:], dockerClient(e.getenv))
	if err != nil {
		return err
	}
	return follow(ctx, x, calls, e.stdout)
}

// logCalls returns one following call per log source, keyed by the prefix
// its lines get. Every process named must be one the stack has logs of (a
// CloudWatch log group on aws, a container on docker): an unknown one
// (PROCESS="web wokrer") is an error naming it and those allowed, never
// left out.
func logCalls(cfg *stackconfig.Config, out release.Outputs, procs []string, docker string) (map[string]call, error) {
	calls := map[string]call{}
	want := func(p string) bool {
		if len(procs) == 0 {
			return p != "migrate" && p != "postgres" && p != "redis"
		}
		for _, q := range procs {
			if q == p {
				return true
			}
		}
		return false
	}
	// has: the processes with logs, each a source prefix's process.
	has := map[string]bool{}
	if cfg.Target == stackconfig.TargetAWS {
		groups := out.Map("logGroupNames")
		for p, g := range groups {
			has[p] = true
			if want(p) {
				calls[p] = call{Name: "aws", Args: []string{"logs", "tail", g, "--follow", "--since", "10m", "--format", "short", "--region", cfg.AWS.Region}}
			}
		}
		if err := unknownProcesses(cfg, procs, has, "log group"); err != nil {
			return nil, err
		}
		if len(calls) == 0 {
			return nil, fmt.Errorf("stack %q has no log group: run `make up STACK=%s` first", cfg.Stack, cfg.Stack)
		}
		return calls, nil
	}
	sources := map[string]string{}
	for i, n := range stringList(out["webContainers"]) {
		sources[fmt.Sprintf("web.%d", i+1)] = n
	}
	for p, n := range out.Map("containers") {
		sources[p] = n
	}
	for src, n := range sources {
		proc, _, _ := strings.Cut(src, ".")
		has[proc] = true
		if want(proc) {
			calls[src] = call{Name: docker, Args: []string{"logs", "--follow", "--tail", "100", n}}
		}
	}
	if err := unknownProcesses(cfg, procs, has, "container"); err != nil {
		return nil, err
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf("stack %q has no containers: run `make up STACK=%s` first", cfg.Stack, cfg.Stack)
	}
	return calls, nil
}

// unknownProcesses refuses the processes named that the stack has no logs
// of (what: a "log group" or a "container"), naming them and the ones it
// has.
func unknownProcesses(cfg *stackconfig.Config, procs []string, has map[string]bool, what string) error {
	var unknown []string
	for _, p := range procs {
		if !has[p] {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	allowed := keys(has)
	if allowed == "" {
		allowed = "none yet (run `make up STACK=" + cfg.Stack + "` first)"
	}
	return fmt.Errorf("PROCESS=%s: stack %s (target %s) has no %s %s; allowed: %s", strings.Join(procs, " "), cfg.Stack, cfg.Target, what, strings.Join(unknown, ", "), allowed)
}

func keys[V any](m map[string]V) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// follow runs the calls at once, each line prefixed with its source.
func follow(ctx context.Context, x execer, calls map[string]call, w io.Writer) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 0, len(calls))
	width := 0
	for src := range calls {
		width = max(width, len(src))
	}
	for src, c := range calls {
		c.Stream = true
		c.Out = &prefixWriter{w: w, mu: &mu, prefix: fmt.Sprintf("%-*s | ", width, src)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := x(ctx, c); err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// prefixWriter writes whole lines, each prefixed, to a shared writer.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}
