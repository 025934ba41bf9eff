package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

const jobsLine = `{"jobs":[{"name":"note:sweep","schedule":"* * * * *","timeZone":"UTC","timeout":"50s","overlap":"skip",` +
	`"lastRun":"2026-12-07T03:00:00Z","lastOutcome":"ok","lastDurationMs":12,"lastSuccess":"2026-12-07T03:00:00.012Z","nextRun":"2026-12-07T03:01:00Z","running":0,"overdueSeconds":0,"lastRunFailed":false,"overTimeout":false},` +
	`{"name":"jobs:prune","schedule":"23 3 * * *","timeZone":"UTC","timeout":"5m0s","overlap":"skip","lastRun":null,"lastOutcome":"never","lastDurationMs":null,"lastSuccess":null,"nextRun":"2026-12-07T03:23:00Z","running":0,"overdueSeconds":0,"lastRunFailed":false,"overTimeout":false}]}`

func TestMakeJobRunsTheJobThroughTheWorker(t *testing.T) {
	local := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker}
	localOut := release.Outputs{"containers": map[string]any{"worker": "shipyard-local-worker", "clock": "shipyard-local-clock"}}
	dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, AWS: stackconfig.AWS{Region: "eu-west-1"}}
	runTaskOut := `{"tasks": [{"taskArn": "arn:task/1"}], "failures": []}`
	stopped := func(exit string) string {
		return `{"tasks": [{"containers": [{"name": "app", "exitCode": ` + exit + `}]}]}`
	}
	for _, tc := range []struct {
		name     string
		cfg      *stackconfig.Config
		out      release.Outputs
		answers  map[string]answer
		wantCall string
		wantErr  string
	}{
		{
			name: "locally: app job runs in the worker container, attached", cfg: local, out: localOut,
			answers:  map[string]answer{"docker exec": {}},
			wantCall: "docker exec shipyard-local-worker /app job note:sweep",
		},
		{
			name: "locally: a failed run fails the command", cfg: local, out: localOut,
			answers: map[string]answer{"docker exec": {err: errors.New("exit status 1")}},
			wantErr: `job note:sweep on stack "local": exit status 1`,
		},
		{
			name: "on AWS: a one-off task of the app runs app job and its exit code is the outcome", cfg: dev, out: devOutputs(),
			answers: map[string]answer{
				"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
				"aws ecs run-task":                 {out: runTaskOut},
				"aws ecs wait tasks-stopped":       {},
				"aws ecs describe-tasks":           {out: stopped("0")},
			},
			wantCall: `--overrides {"containerOverrides":[{"command":["job","note:sweep"],"name":"app"}]}`,
		},
		{
			name: "on AWS: a failed run fails the command", cfg: dev, out: devOutputs(),
			answers: map[string]answer{
				"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
				"aws ecs run-task":                 {out: runTaskOut},
				"aws ecs wait tasks-stopped":       {},
				"aws ecs describe-tasks":           {out: stopped("1")},
			},
			wantErr: "job task arn:task/1 failed: container app exited 1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(tc.answers)
			var w bytes.Buffer
			err := runJob(context.Background(), x.exec, tc.cfg, tc.out, "note:sweep", &w, "docker")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(x.lines(), "\n"), tc.wantCall) {
				t.Fatalf("calls:\n%s\nwant %s", strings.Join(x.lines(), "\n"), tc.wantCall)
			}
		})
	}
}

// make job without NAME (shipyard job STACK, or STACK "") names NAME and
// the scheduled jobs, before it reads the stack or runs anything.
func TestMakeJobWithoutANameListsTheJobs(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{stackconfig.DirEnv: filepath.Join(repoRoot, "config"), "PATH": "/nonexistent"}[k]
	}
	for _, args := range [][]string{{"job", "local"}, {"job", "local", ""}} {
		var out bytes.Buffer
		err := run(context.Background(), args, getenv, &out, &out)
		want := "NAME is missing: allowed note:sweep, tokens:purge, jobs:prune (the scheduled jobs of this checkout"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v; want an error starting %q", args, err, want)
		}
		if out.Len() != 0 {
			t.Errorf("%q printed %q", args, out.String())
		}
	}
}

func TestMakeJobsReadsTheHistory(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 7, 3, 0, 30, 0, time.UTC) }
	t.Run("locally: app jobs runs in the clock container; its log lines around the JSON are ignored", func(t *testing.T) {
		x := newFakeExec(map[string]answer{"docker exec shipyard-local-clock /app jobs": {out: `{"level":"INFO","msg":"starting"}` + "\n" + jobsLine + "\n"}})
		local := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker}
		jobs, err := readJobs(context.Background(), x.exec, local, release.Outputs{"containers": map[string]any{"clock": "shipyard-local-clock"}}, &bytes.Buffer{}, "docker", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[0].Name != "note:sweep" || jobs[0].LastOutcome != "ok" || jobs[1].LastRun != nil {
			t.Fatalf("jobs = %+v", jobs)
		}
		var table bytes.Buffer
		if err := writeJobsTable(&table, jobs, now()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"JOB", "note:sweep", "* * * * *", "2026-12-07 03:00:00 (30s ago)", "12ms", "2026-12-07 03:01:00", "jobs:prune", "never"} {
			if !strings.Contains(table.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, table.String())
			}
		}
	})
	t.Run("on AWS: a one-off task runs app jobs and its line is read from the log group", func(t *testing.T) {
		out := devOutputs()
		out["logGroupNames"] = map[string]any{"web": "/shipyard/dev/web"}
		msg := strings.ReplaceAll(jobsLine, `"`, `\"`)
		x := newFakeExec(map[string]answer{
			"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
			"aws ecs run-task":                 {out: `{"tasks": [{"taskArn": "arn:task/2"}]}`},
			"aws ecs wait tasks-stopped":       {},
			"aws ecs describe-tasks":           {out: `{"tasks": [{"containers": [{"name": "app", "exitCode": 0}]}]}`},
			"aws logs filter-log-events --log-group-name /shipyard/dev/web --start-time 1796612370000 --filter-pattern lastOutcome": {out: `{"events": [{"message": "` + msg + `"}]}`},
		})
		dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, AWS: stackconfig.AWS{Region: "eu-west-1"}}
		jobs, err := readJobs(context.Background(), x.exec, dev, out, &bytes.Buffer{}, "docker", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[0].LastSuccess == nil {
			t.Fatalf("jobs = %+v", jobs)
		}
	})
	t.Run("on AWS: the line is looked for again until the log group has it, for a while only", func(t *testing.T) {
		defer func(d time.Duration) { logPoll = d }(logPoll)
		logPoll = time.Millisecond
		out := devOutputs()
		out["logGroupNames"] = map[string]any{"web": "/shipyard/dev/web"}
		dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, AWS: stackconfig.AWS{Region: "eu-west-1"}}
		for _, tc := range []struct {
			name      string
			appearsAt int // the filter call that first returns the line; 0: never
			wantCalls int
			wantErr   string
		}{
			{"the line shows up at the third look", 3, 3, ""},
			{"a line that never shows up fails after twelve looks", 0, 12, `printed no {"jobs":…} line`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				x := newFakeExec(map[string]answer{
					"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
					"aws ecs run-task":                 {out: `{"tasks": [{"taskArn": "arn:task/2"}]}`},
					"aws ecs wait tasks-stopped":       {},
					"aws ecs describe-tasks":           {out: `{"tasks": [{"containers": [{"name": "app", "exitCode": 0}]}]}`},
				})
				looks := 0
				exec := func(ctx context.Context, c call) ([]byte, error) {
					if !strings.HasPrefix(c.String(), "aws logs filter-log-events") {
						return x.exec(ctx, c)
					}
					looks++
					if looks == tc.appearsAt {
						return []byte(`{"events": [{"message": "` + strings.ReplaceAll(jobsLine, `"`, `\"`) + `"}]}`), nil
					}
					return []byte(`{"events": []}`), nil
				}
				jobs, err := readJobs(context.Background(), exec, dev, out, &bytes.Buffer{}, "docker", now)
				if looks != tc.wantCalls {
					t.Errorf("%d looks, want %d", looks, tc.wantCalls)
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want %q", err, tc.wantErr)
					}
					return
				}
				if err != nil || len(jobs) != 2 {
					t.Fatalf("jobs %+v, err %v", jobs, err)
				}
			})
		}
	})
	t.Run("a bad FORMAT is named", func(t *testing.T) {
		err := cmdJobs(context.Background(), env{args: []string{"local", "--format=yaml"}, getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
		if err == nil || err.Error() != "FORMAT=yaml (--format=yaml): allowed text, json" {
			t.Fatalf("err = %v", err)
		}
	})
}

// The Makefile's FORMAT defaults to text (make cost's), which make jobs
// passes as --format=text: jobs prints its table for it, as for no
// --format and for table (text's old name), and JSON for json.
func TestMakeJobsTakesTheFormatsMakeCostDoes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		prefix string
	}{
		{"no --format prints the table", nil, "JOB "},
		{"--format=text (make jobs' default FORMAT) prints the table", []string{"--format=text"}, "JOB "},
		{"--format=table, text's old name, prints the table", []string{"--format=table"}, "JOB "},
		{"an empty --format (make jobs FORMAT=) prints the table", []string{"--format="}, "JOB "},
		{"--format=json prints a JSON array", []string{"--format=json"}, "[\n  {\n    \"name\": \"note:sweep\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newCLIRepo(t)
			installFakes(t, &fakeWorld{
				Outputs:    map[string]map[string]any{"local": {"containers": map[string]any{"clock": "shipyard-local-clock"}}},
				ExecOutput: jobsLine + "\n",
			})
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"jobs", "local"}, tc.args...), os.Getenv, &stdout, &stderr)
			if err != nil {
				t.Fatalf("shipyard jobs local %s: %v\n%s", strings.Join(tc.args, " "), err, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tc.prefix) {
				t.Errorf("shipyard jobs local %s printed:\n%s\nwant it to start with %q", strings.Join(tc.args, " "), stdout.String(), tc.prefix)
			}
		})
	}
}
