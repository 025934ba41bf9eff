package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipyard-kit/shipyard/app/appjobs"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// cmdJob runs one scheduled job now on a stack, through the worker's
// queue (`app job NAME`: records a manual run, enqueues it, waits for its
// outcome), and exits with the outcome.
func cmdJob(ctx context.Context, e env) error {
	if len(e.args) == 1 || len(e.args) == 2 && e.args[1] == "" {
		return fmt.Errorf("NAME is missing: allowed %s (the scheduled jobs of this checkout; `make jobs STACK=%s` lists the stack's, with their schedules); usage: make job NAME=<job> [STACK=<stack>]", strings.Join(appjobs.Names(), ", "), e.args[0])
	}
	if len(e.args) != 2 {
		return errors.New("usage: shipyard job STACK NAME (make job NAME=<job> STACK=<stack>; `make jobs` lists them)")
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, e.args[0])
	if err != nil {
		return err
	}
	return runJob(ctx, x, cfg, out, e.args[1], e.stdout, dockerClient(e.getenv))
}

// runJob runs `app job NAME`: on a docker stack inside the worker
// container (its env and network, attached, with its exit code); on AWS
// as a one-off ECS task of the app (run-task, waits for it to stop,
// requires exit code 0). Either way the run goes through the queue to a
// worker, as a scheduled one does.
func runJob(ctx context.Context, x execer, cfg *stackconfig.Config, out release.Outputs, name string, w io.Writer, docker string) error {
	say := func(f string, a ...any) { fmt.Fprintf(w, "==> "+f+"\n", a...) }
	if cfg.Target == stackconfig.TargetAWS {
		return runTask(ctx, awsCLI{x: x, region: cfg.AWS.Region}, out, oneOff{Name: "job", Command: []string{"job", name}}, say)
	}
	worker := out.Map("containers")["worker"]
	if worker == "" {
		return fmt.Errorf("stack %q has no containers.worker output: run `make up STACK=%s` first", cfg.Stack, cfg.Stack)
	}
	say("docker exec %s /app job %s", worker, name)
	if _, err := x(ctx, call{Name: docker, Args: []string{"exec", worker, "/app", "job", name}, Stream: true}); err != nil {
		return fmt.Errorf("job %s on stack %q: %w", name, cfg.Stack, err)
	}
	say("job %s succeeded", name)
	return nil
}

// jobStatus is one job of `app jobs` (app/internal/jobs.Status).
type jobStatus struct {
	Name           string     `json:"name"`
	Schedule       string     `json:"schedule"`
	TimeZone       string     `json:"timeZone"`
	Timeout        string     `json:"timeout"`
	Overlap        string     `json:"overlap"`
	LastRun        *time.Time `json:"lastRun"`
	LastOutcome    string     `json:"lastOutcome"`
	LastError      string     `json:"lastError,omitempty"`
	LastDurationMS *int64     `json:"lastDurationMs"`
	LastSuccess    *time.Time `json:"lastSuccess"`
	NextRun        time.Time  `json:"nextRun"`
	Running        int        `json:"running"`
	OverdueSeconds float64    `json:"overdueSeconds"`
	LastRunFailed  bool       `json:"lastRunFailed"`
	OverTimeout    bool       `json:"overTimeout"`
}

// jobsUsage is the jobs command's; --format=table is text's old name.
const jobsUsage = "jobs STACK [--format=text|json]"

// cmdJobs prints the scheduled jobs of a stack with their last run: a
// table (--format=text, the default), or with --format=json a JSON array.
func cmdJobs(ctx context.Context, e env) error {
	format, _, args, err := cliflag.Choice{Name: "format", Variable: "FORMAT", Allowed: []string{"text", "json"},
		Aliases: map[string]string{"table": "text"}, Default: "text"}.Cut(e.args)
	if err != nil {
		return err
	}
	asJSON := format == "json"
	if len(args) != 1 {
		return cliflag.UsageError("shipyard", jobsUsage, args)
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, args[0])
	if err != nil {
		return err
	}
	jobs, err := readJobs(ctx, x, cfg, out, e.stderr, dockerClient(e.getenv), time.Now)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(jobs)
	}
	return writeJobsTable(e.stdout, jobs, time.Now())
}

// logPoll is how often readJobs looks for the jobs task's line in the
// log group.
var logPoll = 5 * time.Second

// readJobs runs `app jobs` and reads its {"jobs":[…]} line: on a docker
// stack inside the clock container; on AWS as a one-off ECS task whose
// line is then read from the app's log group.
func readJobs(ctx context.Context, x execer, cfg *stackconfig.Config, out release.Outputs, w io.Writer, docker string, now func() time.Time) ([]jobStatus, error) {
	say := func(f string, a ...any) { fmt.Fprintf(w, "==> "+f+"\n", a...) }
	var lines []byte
	if cfg.Target == stackconfig.TargetAWS {
		a := awsCLI{x: x, region: cfg.AWS.Region}
		since := now().Add(-time.Minute)
		if err := runTask(ctx, a, out, oneOff{Name: "jobs", Command: []string{"jobs"}}, say); err != nil {
			return nil, err
		}
		groups := out.Map("logGroupNames")
		group := groups["web"]
		if out.String("migrateTaskDefinitionArn") != "" && groups["migrate"] != "" {
			group = groups["migrate"]
		}
		if group == "" {
			return nil, fmt.Errorf("the stack lacks the output logGroupNames.web: run `make up` first")
		}
		// The task's line reaches CloudWatch Logs through FireLens a few
		// seconds after the task stopped: look for it for up to a minute.
		for try := 0; len(lines) == 0; try++ {
			var events struct {
				Events []struct {
					Message string `json:"message"`
				} `json:"events"`
			}
			if err := a.json(ctx, &events, "logs", "filter-log-events", "--log-group-name", group,
				"--start-time", strconv.FormatInt(since.UnixMilli(), 10), "--filter-pattern", "lastOutcome"); err != nil {
				return nil, fmt.Errorf("reading the jobs task's output from %s: %w", group, err)
			}
			for _, ev := range events.Events {
				lines = append(append(lines, ev.Message...), '\n')
			}
			if len(lines) > 0 || try == 11 {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(logPoll):
			}
		}
	} else {
		clock := out.Map("containers")["clock"]
		if clock == "" {
			return nil, fmt.Errorf("stack %q has no containers.clock output: run `make up STACK=%s` first", cfg.Stack, cfg.Stack)
		}
		var err error
		if lines, err = x(ctx, call{Name: docker, Args: []string{"exec", clock, "/app", "jobs"}}); err != nil {
			return nil, fmt.Errorf("jobs on stack %q: %w", cfg.Stack, err)
		}
	}
	var found []jobStatus
	ok := false
	for _, l := range bytes.Split(lines, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if !bytes.HasPrefix(l, []byte(`{"jobs":`)) {
			continue
		}
		var v struct {
			Jobs []jobStatus `json:"jobs"`
		}
		if err := json.Unmarshal(l, &v); err != nil {
			return nil, fmt.Errorf("app jobs printed a bad line: %w", err)
		}
		found, ok = v.Jobs, true // the latest line wins
	}
	if !ok {
		return nil, errors.New("app jobs printed no {\"jobs\":…} line")
	}
	return found, nil
}

// writeJobsTable prints the jobs for people.
func writeJobsTable(w io.Writer, jobs []jobStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tLAST RUN\tOUTCOME\tDURATION\tLAST SUCCESS\tNEXT RUN")
	ago := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " (" + now.Sub(*t).Round(time.Second).String() + " ago)"
	}
	for _, j := range jobs {
		sched := j.Schedule
		if j.TimeZone != "" && j.TimeZone != "UTC" {
			sched += " " + j.TimeZone
		}
		dur := "-"
		if j.LastDurationMS != nil {
			dur = (time.Duration(*j.LastDurationMS) * time.Millisecond).String()
		}
		outcome := j.LastOutcome
		var flags []string
		if j.Running > 0 {
			flags = append(flags, "running")
		}
		if j.OverdueSeconds > 0 {
			flags = append(flags, "LATE")
		}
		if j.OverTimeout {
			flags = append(flags, "OVER TIMEOUT")
		}
		if len(flags) > 0 {
			outcome += " [" + strings.Join(flags, ", ") + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, sched, ago(j.LastRun), outcome, dur, ago(j.LastSuccess),
			j.NextRun.UTC().Format("2006-01-02 15:04:05"))
	}
	for _, j := range jobs {
		if j.LastError != "" && j.LastOutcome != "ok" && j.LastOutcome != "skipped" {
			fmt.Fprintf(tw, "\n%s: last error: %s", j.Name, j.LastError)
		}
	}
	return tw.Flush()
}
