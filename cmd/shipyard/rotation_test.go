package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// rotationConfig makes config/prod.json deployable by `shipyard up`
// (names of its own instead of the documentation placeholders) with the
// cache's token generations and a deploy strategy, and releases digest A
// (recorded in the ledger).
func (r *cliRepo) rotationConfig(version, retired int, strategy string) release.Record {
	r.t.Helper()
	r.editConfig("prod", func(c map[string]any) {
		c["loadBalancer"] = map[string]any{"domain": "shipyard.acmecorp.io", "hostedZone": map[string]any{"name": "shipyard.acmecorp.io"}}
		c["alarms"] = map[string]any{"notify": map[string]any{"emails": []string{"oncall@acmecorp.io"}}}
		cache := c["cache"].(map[string]any)
		cache["authTokenVersion"], cache["retiredAuthTokenVersion"] = version, retired
		c["deploy"] = map[string]any{"strategy": strategy}
	})
	r.setDigest("prod", cliDigestA)
	recs, err := r.ledger().Read("prod")
	if err == nil && len(recs) > 0 {
		return recs[len(recs)-1]
	}
	return r.recorded("prod", release.KindRelease, cliDigestA)
}

var (
	// rotationT0 is when the stack's secret got the token its tasks
	// started with, rotationT1 when it got the next generation.
	rotationT0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	rotationT1 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
)

// rotationWorld is prod deployed with digest A at revision 1: its secret
// holds generation version since secretAt, its outputs say it was
// deployed with version/retired, web's tasks started at webAt and the
// others' at othersAt.
func rotationWorld(codeDeploy bool, version, retired int, secretAt, webAt, othersAt time.Time) *fakeWorld {
	o := deployedOutputs("prod", "https://shipyard.acmecorp.io", cliDigestA)
	names, taskDefs := map[string]any{}, map[string]any{}
	w := &fakeWorld{
		Images:     map[string]map[string]bool{repoOf("prod"): {cliDigestA: true}},
		TaskDefs:   map[string]string{},
		Primary:    map[string]string{},
		CodeDeploy: codeDeploy,
		Secret:     &fakeSecret{Version: version, Created: secretAt},
	}
	for _, p := range []string{"web", "worker", "clock"} {
		name := "shipyard-prod-" + p
		arn := "arn:aws:ecs:eu-west-1:123456789012:task-definition/" + name + ":1"
		names[p], taskDefs[p] = name, arn
		w.TaskDefs[arn], w.Primary[name] = repoOf("prod")+"@"+cliDigestA, arn
		at := othersAt
		if p == "web" {
			at = webAt
		}
		w.startTasks(name, 2, at)
	}
	o["revision"], o["serviceNames"], o["taskDefinitionArns"] = 1, names, taskDefs
	o["redisAuthSecretArn"], o["redisAuthTokenVersion"], o["redisRetiredAuthTokenVersion"] = fakeSecretArn("prod"), version, retired
	if codeDeploy {
		o["codeDeployApplication"], o["codeDeployDeploymentGroup"] = "shipyard-prod-web", "shipyard-prod-web"
		o["webContainerName"], o["webContainerPort"] = "app", 8080
	}
	w.Outputs = map[string]map[string]any{"prod": o}
	return w
}

func countCalls(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestRedisAuthTokenRotation(t *testing.T) {
	later := func(at time.Time) time.Time { return at.Add(time.Hour) }
	for _, tc := range []struct {
		name string
		// world: the deployed stack; config: what config/prod.json asks.
		world            *fakeWorld
		version, retired int
		strategy         string
		cmd              string
		// wantErr: the refusal's words ("" = success); deployments: the
		// CodeDeploy deployments created; redeployed: a redeploy record.
		wantErr     []string
		deployments int
		redeployed  bool
	}{
		{
			name:  "raising authTokenVersion on a CodeDeploy stack redeploys web once through CodeDeploy with the running digest",
			world: rotationWorld(true, 1, 0, rotationT0, later(rotationT0), later(rotationT0)), version: 2, retired: 0, strategy: "canary",
			cmd: "up", deployments: 1, redeployed: true,
		},
		{
			name:  "an up that leaves the token alone does not redeploy web",
			world: rotationWorld(true, 1, 0, rotationT0, later(rotationT0), later(rotationT0)), version: 1, retired: 0, strategy: "canary",
			cmd: "up",
		},
		{
			name:  "a rolling stack is restarted by forceNewDeployment and gets no second deployment",
			world: rotationWorld(false, 1, 0, rotationT0, later(rotationT0), later(rotationT0)), version: 2, retired: 0, strategy: "rolling",
			cmd: "up",
		},
		{
			name:  "an up after a redeploy that did not happen redeploys web then",
			world: rotationWorld(true, 2, 0, rotationT1, later(rotationT0), later(rotationT1)), version: 2, retired: 0, strategy: "canary",
			cmd: "up", deployments: 1, redeployed: true,
		},
		{
			name:  "retiring the previous token is refused while web runs tasks from before the new token",
			world: rotationWorld(true, 2, 0, rotationT1, later(rotationT0), later(rotationT1)), version: 2, retired: 1, strategy: "canary",
			cmd:     "up",
			wantErr: []string{"cache.retiredAuthTokenVersion 1 would drop the previous Redis AUTH token while stack prod still runs 2 web task(s) started before the secret got generation 2", "set it back to 0 and run `make up STACK=prod`"},
		},
		{
			name:  "previewing the retirement is refused as well",
			world: rotationWorld(true, 2, 0, rotationT1, later(rotationT0), later(rotationT1)), version: 2, retired: 1, strategy: "canary",
			cmd:     "preview",
			wantErr: []string{"cache.retiredAuthTokenVersion 1 would drop the previous Redis AUTH token", "2 web task(s)"},
		},
		{
			name:  "retiring is refused while a rolling service runs tasks from before the new token",
			world: rotationWorld(false, 2, 0, rotationT1, later(rotationT1), later(rotationT0)), version: 2, retired: 1, strategy: "rolling",
			cmd:     "up",
			wantErr: []string{"2 worker task(s), 2 clock task(s)", "--force-new-deployment"},
		},
		{
			name:  "retiring is allowed once web was redeployed",
			world: rotationWorld(true, 2, 0, rotationT1, later(rotationT1), later(rotationT1)), version: 2, retired: 1, strategy: "canary",
			cmd: "up",
		},
		{
			name:  "retiring in the same update that raises the generation is refused",
			world: rotationWorld(true, 1, 0, rotationT0, later(rotationT0), later(rotationT0)), version: 2, retired: 1, strategy: "canary",
			cmd:     "up",
			wantErr: []string{"cache.retiredAuthTokenVersion 1 retires the Redis AUTH token that stack prod's tasks use (it runs generation 1", "first deploy cache.authTokenVersion 2 with cache.retiredAuthTokenVersion 0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCLIRepo(t)
			src := r.rotationConfig(tc.version, tc.retired, tc.strategy)
			state := installFakes(t, tc.world)
			out, err := runCLI(t, tc.cmd, "prod")
			calls := readCalls(t, state)
			if len(tc.wantErr) > 0 {
				if err == nil || strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s: %v, want one line refusing\n%s", tc.cmd, err, out)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %v\nwant it to say %q", tc.cmd, err, w)
					}
				}
				if n := countCalls(calls, "pulumi up") + countCalls(calls, "pulumi preview"); n > 0 {
					t.Errorf("the refused %s still ran pulumi:\n%s", tc.cmd, strings.Join(calls, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.cmd, err, out)
			}
			if n := countCalls(calls, "aws deploy create-deployment"); n != tc.deployments {
				t.Errorf("%d CodeDeploy deployments, want %d:\n%s", n, tc.deployments, strings.Join(calls, "\n"))
			}
			if n := countCalls(calls, "pulumi up"); n != 1 {
				t.Errorf("pulumi up ran %d times, want once", n)
			}
			for _, rebuilt := range []string{"docker push", "docker build", "crane copy"} {
				if countCalls(calls, rebuilt) > 0 {
					t.Errorf("%s: %s", tc.cmd, rebuilt)
				}
			}
			if got := r.digest("prod"); got != cliDigestA {
				t.Errorf("config/prod.json digest = %s, want %s unchanged", got, cliDigestA)
			}
			recs := r.records("prod")
			last := recs[len(recs)-1]
			if !tc.redeployed {
				if len(recs) != 1 {
					t.Errorf("ledger %+v, want no new record", recs)
				}
				return
			}
			w := readWorld(t, state)
			if len(recs) != 2 || last.Kind != release.KindRedeploy || last.Status != release.StatusSucceeded || last.ImageDigest != cliDigestA ||
				last.Source == nil || last.Source.Release != src.ID || last.ImageCommit != src.ImageCommit || last.MigrationVersion != src.MigrationVersion ||
				!strings.Contains(last.Reason, "generation 2") || !strings.Contains(last.Reason, "CODE_DEPLOY") ||
				last.CodeDeployDeployment != "d-FAKE0001" || last.Strategy != "canary" || len(last.Steps) == 0 {
				t.Errorf("ledger %+v\nwant a succeeded redeploy of %s from %s with its reason and CodeDeploy deployment", recs, cliDigestA, src.ID)
			}
			// A new token is a new value of the same secret: web's task
			// definition is unchanged, and the redeploy deploys it again.
			if d := w.CodeDeployments; len(d) != 1 || d[0].TaskDefinition != "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-prod-web:1" {
				t.Errorf("CodeDeploy deployments %+v, want one of web's task definition, unchanged by up (revision 1)", d)
			}
			for _, task := range w.RunningTasks["shipyard-prod-web"] {
				if task.CreatedAt.Before(w.Secret.Created) {
					t.Errorf("web task %s started at %s, before the secret's current value (%s)", task.Arn, task.CreatedAt, w.Secret.Created)
				}
			}
			table, err := runCLI(t, "ledger", "prod")
			if err != nil || !strings.Contains(strings.Join(strings.Fields(table), " "), "prod-0002 redeploy succeeded") || !strings.Contains(table, "from "+src.ID+": the Redis AUTH token secret got generation 2") {
				t.Errorf("make ledger (%v):\n%s", err, table)
			}
		})
	}
}

// The rotation end to end on a CodeDeploy stack, as an operator runs it:
// step 1 raises the generation and web is redeployed after the update;
// step 2 retires the previous token, which is then allowed.
func TestTheRotationsTwoUpsOnACodeDeployStackNeedNoOtherStep(t *testing.T) {
	r := newCLIRepo(t)
	r.rotationConfig(2, 0, "canary")
	state := installFakes(t, rotationWorld(true, 1, 0, rotationT0, rotationT0.Add(time.Hour), rotationT0.Add(time.Hour)))
	if out, err := runCLI(t, "up", "prod"); err != nil {
		t.Fatalf("step 1: %v\n%s", err, out)
	}
	r.rotationConfig(2, 1, "canary")
	if out, err := runCLI(t, "up", "prod"); err != nil {
		t.Fatalf("step 2: %v\n%s", err, out)
	}
	calls := readCalls(t, state)
	if n, m := countCalls(calls, "aws deploy create-deployment"), countCalls(calls, "pulumi up"); n != 1 || m != 2 {
		t.Errorf("%d CodeDeploy deployments and %d pulumi ups, want 1 and 2:\n%s", n, m, strings.Join(calls, "\n"))
	}
	if recs := r.records("prod"); len(recs) != 2 || recs[1].Kind != release.KindRedeploy {
		t.Errorf("ledger %+v, want the release and one redeploy", recs)
	}
}

func TestAWSTimestampsReadInEitherOfTheCLIsFormats(t *testing.T) {
	want := time.Date(2026, 12, 7, 4, 2, 30, 500e6, time.UTC)
	for _, tc := range []struct{ name, json string }{
		{"ISO 8601, the CLI v2's default", `"2026-12-07T05:02:30.500000+01:00"`},
		{"seconds since the epoch (cli_timestamp_format none)", `1796616150.5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got awsTime
			if err := json.Unmarshal([]byte(tc.json), &got); err != nil || !got.Equal(want) {
				t.Errorf("%s: %v, %v; want %v", tc.json, got.Time, err, want)
			}
		})
	}
	var bad awsTime
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Error("accepted a timestamp that is none")
	}
}
