package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// editConfig rewrites config/<stack>.json through edit.
func (r *cliRepo) editConfig(stack string, edit func(c map[string]any)) {
	r.t.Helper()
	data, err := os.ReadFile(r.configPath(stack))
	if err != nil {
		r.t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		r.t.Fatal(err)
	}
	edit(c)
	if data, err = json.MarshalIndent(c, "", "  "); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.configPath(stack), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// registeredFrom records that the world's task definitions were
// registered from config/<stack>.json as it is now, so the fake `pulumi up`
// sees a later change of it.
func (r *cliRepo) registeredFrom(stack string, w *fakeWorld) {
	r.t.Helper()
	data, err := os.ReadFile(r.configPath(stack))
	if err != nil {
		r.t.Fatal(err)
	}
	if w.TaskDefInputs == nil {
		w.TaskDefInputs = map[string]string{}
	}
	for arn := range w.TaskDefs {
		for _, p := range []string{"web", "worker", "clock"} {
			if strings.Contains(arn, "/shipyard-"+stack+"-"+p+":") {
				w.TaskDefInputs[arn] = fakeTaskDefInputs(data, p)
			}
		}
	}
}

func service(p string) func(c map[string]any) map[string]any {
	return func(c map[string]any) map[string]any {
		svcs := c["services"].(map[string]any)
		if svcs[p] == nil {
			svcs[p] = map[string]any{}
		}
		return svcs[p].(map[string]any)
	}
}

// moreWebCPU doubles web's cpu and memory in a config.
func moreWebCPU(c map[string]any) {
	web := service("web")(c)
	web["cpu"], web["memory"] = 2048, 4096
}

const (
	webTD1 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-prod-web:1"
	webTD2 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-prod-web:2"
)

func TestUpRedeploysACodeDeployWebServiceWhoseTaskDefinitionChanged(t *testing.T) {
	later := rotationT0.Add(time.Hour)
	for _, tc := range []struct {
		name       string
		codeDeploy bool
		// version is the config's cache.authTokenVersion (the stack runs
		// 1); edit changes config/prod.json after the stack was deployed
		// from it, world the deployed stack.
		version int
		edit    func(c map[string]any)
		world   func(w *fakeWorld)
		// deployments: the CodeDeploy deployments created, of webTD;
		// reason: what the redeploy record's reason says.
		deployments int
		webTD       string
		reason      []string
	}{
		{
			name: "a change of web's cpu and memory on a CodeDeploy stack deploys its new revision through CodeDeploy once after up", codeDeploy: true, version: 1,
			edit:        moreWebCPU,
			deployments: 1, webTD: webTD2,
			reason: []string{"task definition changed by make up (shipyard-prod-web revision 1 -> 2)"},
		},
		{
			name: "a change of the tracing sidecar's sampling reaches web through CodeDeploy too", codeDeploy: true, version: 1,
			edit:        func(c map[string]any) { c["tracing"] = map[string]any{"samplingRatio": 0.5} },
			deployments: 1, webTD: webTD2,
			reason: []string{"task definition changed by make up (shipyard-prod-web revision 1 -> 2)"},
		},
		{
			name: "an up that changes no task definition creates no deployment", codeDeploy: true, version: 1,
			edit: func(c map[string]any) { service("web")(c)["maxCount"] = 9 },
		},
		{
			name: "a change of the worker's memory alone leaves web alone (ECS rolls the worker)", codeDeploy: true, version: 1,
			edit: func(c map[string]any) { service("worker")(c)["memory"] = 2048 },
		},
		{
			name: "a new task definition and a new Redis AUTH token take one deployment whose reason names both", codeDeploy: true, version: 2,
			edit:        func(c map[string]any) { service("web")(c)["memory"] = 4096 },
			deployments: 1, webTD: webTD2,
			reason: []string{"task definition changed by make up (shipyard-prod-web revision 1 -> 2)", "; the Redis AUTH token secret got generation 2"},
		},
		{
			name: "a rolling stack's web takes its new task definition from up itself, with no CodeDeploy deployment", codeDeploy: false, version: 1,
			edit: moreWebCPU,
		},
		{
			name: "a revision that an earlier deployment did not bring to web is deployed by the next up", codeDeploy: true, version: 1,
			edit: func(c map[string]any) {},
			world: func(w *fakeWorld) {
				// up registered revision 2, whose deployment was rolled
				// back: web still runs revision 1.
				w.TaskDefs[webTD2] = w.TaskDefs[webTD1]
				o := w.Outputs["prod"]
				o["revision"] = 2
				o["taskDefinitionArns"].(map[string]any)["web"] = webTD2
			},
			deployments: 1, webTD: webTD2,
			reason: []string{"web runs task definition shipyard-prod-web revision 1, not 2 that the stack registered (an earlier deployment of it did not complete)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCLIRepo(t)
			strategy := "rolling"
			if tc.codeDeploy {
				strategy = "canary"
			}
			src := r.rotationConfig(tc.version, 0, strategy)
			w := rotationWorld(tc.codeDeploy, 1, 0, rotationT0, later, later)
			r.registeredFrom("prod", w)
			if tc.world != nil {
				tc.world(w)
				r.registeredFrom("prod", w)
			}
			r.editConfig("prod", tc.edit)
			state := installFakes(t, w)

			out, err := runCLI(t, "up", "prod")
			if err != nil {
				t.Fatalf("up: %v\n%s", err, out)
			}
			calls := readCalls(t, state)
			if n := countCalls(calls, "aws deploy create-deployment"); n != tc.deployments {
				t.Errorf("%d CodeDeploy deployments, want %d:\n%s", n, tc.deployments, strings.Join(calls, "\n"))
			}
			if n := countCalls(calls, "pulumi up"); n != 1 {
				t.Errorf("pulumi up ran %d times, want once", n)
			}
			if got := r.digest("prod"); got != cliDigestA {
				t.Errorf("config/prod.json digest = %s, want %s unchanged", got, cliDigestA)
			}
			after := readWorld(t, state)
			recs := r.records("prod")
			if tc.deployments == 0 {
				if len(recs) != 1 {
					t.Errorf("ledger %+v, want no new record", recs)
				}
				registered := after.Outputs["prod"]["taskDefinitionArns"].(map[string]any)["web"]
				if got := after.Primary["shipyard-prod-web"]; got != registered {
					t.Errorf("web runs %s, want %v that up registered", got, registered)
				}
				return
			}
			if d := after.CodeDeployments; len(d) != 1 || d[0].TaskDefinition != tc.webTD {
				t.Errorf("CodeDeploy deployments %+v, want one of %s", d, tc.webTD)
			}
			if got := after.Primary["shipyard-prod-web"]; got != tc.webTD {
				t.Errorf("web runs %s after up, want %s", got, tc.webTD)
			}
			last := recs[len(recs)-1]
			if len(recs) != 2 || last.Kind != release.KindRedeploy || last.Status != release.StatusSucceeded || last.ImageDigest != cliDigestA ||
				last.Source == nil || last.Source.Release != src.ID || last.CodeDeployDeployment != "d-FAKE0001" || len(last.Steps) == 0 {
				t.Errorf("ledger %+v\nwant a succeeded redeploy of %s from %s through CodeDeploy", recs, cliDigestA, src.ID)
			}
			for _, want := range tc.reason {
				if !strings.Contains(last.Reason, want) {
					t.Errorf("reason %q\nwant it to say %q", last.Reason, want)
				}
			}
		})
	}
}

// A release, promotion or rollback deploys web through CodeDeploy
// itself: the task definition change it carries takes that one deployment.
func TestReleasesToACodeDeployStackDeployWebOnceWithAConfigChange(t *testing.T) {
	later := rotationT0.Add(time.Hour)
	for _, tc := range []struct {
		name string
		args []string
		kind string
		// setup prepares the ledger and the world before the stack's
		// config gets the change.
		setup func(r *cliRepo, w *fakeWorld)
	}{
		{
			name: "a release", args: []string{"release", "prod", "--image=shipyard-app:test"}, kind: release.KindRelease,
			setup: func(r *cliRepo, w *fakeWorld) {
				// Its new migration is snapshotted for first.
				w.Outputs["prod"]["databaseInstanceId"] = "shipyard-prod"
				w.Instances = map[string]string{"shipyard-prod": "available"}
			},
		},
		{
			name: "a promotion", args: []string{"promote", "staging", "prod"}, kind: release.KindPromote,
			setup: func(r *cliRepo, w *fakeWorld) {
				r.setDigest("staging", cliDigestB)
				r.recorded("staging", release.KindRelease, cliDigestB)
				w.Outputs["staging"] = deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestB)
				w.Images[repoOf("staging")] = map[string]bool{cliDigestB: true}
			},
		},
		{
			name: "a rollback", args: []string{"rollback", "prod"}, kind: release.KindRollback,
			setup: func(r *cliRepo, w *fakeWorld) {
				r.recorded("prod", release.KindRelease, cliDigestB)
				r.recorded("prod", release.KindRelease, cliDigestA)
				w.Images[repoOf("prod")][cliDigestB] = true
			},
		},
	} {
		t.Run(tc.name+" with a change of web's cpu and memory creates one CodeDeploy deployment", func(t *testing.T) {
			r := newCLIRepo(t)
			w := rotationWorld(true, 1, 0, rotationT0, later, later)
			tc.setup(r, w)
			r.rotationConfig(1, 0, "canary")
			r.registeredFrom("prod", w)
			r.editConfig("prod", moreWebCPU)
			state := installFakes(t, w)

			out, err := runCLI(t, tc.args...)
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.args[0], err, out)
			}
			calls := readCalls(t, state)
			if n := countCalls(calls, "aws deploy create-deployment"); n != 1 {
				t.Errorf("%d CodeDeploy deployments, want 1:\n%s", n, strings.Join(calls, "\n"))
			}
			after := readWorld(t, state)
			if d := after.CodeDeployments; len(d) != 1 || d[0].TaskDefinition != webTD2 {
				t.Errorf("CodeDeploy deployments %+v, want one of %s", d, webTD2)
			}
			recs := r.records("prod")
			if last := recs[len(recs)-1]; last.Kind != tc.kind || last.Status != release.StatusSucceeded {
				t.Errorf("ledger %+v, want a succeeded %s last", recs, tc.kind)
			}
			for _, rec := range recs {
				if rec.Kind == release.KindRedeploy {
					t.Errorf("ledger %+v has a redeploy", recs)
				}
			}
		})
	}
}

func TestPreviewSaysUpRedeploysACodeDeployWebServiceWhoseTaskDefinitionChanges(t *testing.T) {
	later := rotationT0.Add(time.Hour)
	for _, tc := range []struct {
		name       string
		codeDeploy bool
		want       bool
	}{
		{name: "a CodeDeploy stack's preview says so in one line", codeDeploy: true, want: true},
		{name: "a rolling stack's preview does not", codeDeploy: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCLIRepo(t)
			strategy := map[bool]string{true: "canary", false: "rolling"}[tc.codeDeploy]
			r.rotationConfig(1, 0, strategy)
			r.editConfig("prod", moreWebCPU)
			state := installFakes(t, rotationWorld(tc.codeDeploy, 1, 0, rotationT0, later, later))

			out, err := runCLI(t, "preview", "prod")
			if err != nil {
				t.Fatalf("preview: %v\n%s", err, out)
			}
			var notes []string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "CodeDeploy") {
					notes = append(notes, l)
				}
			}
			want := "note: web is deployed by CodeDeploy (deploy.strategy canary): when this diff replaces its task definition, `make up STACK=prod` then redeploys web through CodeDeploy with " + cliDigestA
			if tc.want && (len(notes) != 1 || !strings.HasPrefix(notes[0], want)) || !tc.want && len(notes) != 0 {
				t.Errorf("preview printed %q, want one line %v starting %q", notes, tc.want, want)
			}
			if n := countCalls(readCalls(t, state), "aws deploy create-deployment"); n != 0 {
				t.Errorf("preview created %d CodeDeploy deployments", n)
			}
		})
	}
}

func TestWebsRunningTaskDefinitionIsItsPrimaryTaskSetsElseItsPrimaryDeploymentsElseTheServices(t *testing.T) {
	for _, tc := range []struct{ name, services, want string }{
		{"the PRIMARY task set's, not the ACTIVE replacement's of a deployment under way",
			`[{"serviceName": "shipyard-dev-web", "taskDefinition": "arn:td/web:5", "taskSets": [{"status": "ACTIVE", "taskDefinition": "arn:td/web:7"}, {"status": "PRIMARY", "taskDefinition": "arn:td/web:6"}],
			  "deployments": [{"status": "PRIMARY", "taskDefinition": "arn:td/web:5"}]}]`, "arn:td/web:6"},
		{"the PRIMARY deployment's without task sets",
			`[{"serviceName": "shipyard-dev-web", "taskDefinition": "arn:td/web:5", "deployments": [{"status": "ACTIVE", "taskDefinition": "arn:td/web:4"}, {"status": "PRIMARY", "taskDefinition": "arn:td/web:6"}]}]`, "arn:td/web:6"},
		{"the service's without either", `[{"serviceName": "shipyard-dev-web", "taskDefinition": "arn:td/web:6"}]`, "arn:td/web:6"},
		{"none is an error naming the service", `[]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(map[string]answer{"aws ecs describe-services --cluster shipyard-dev --services shipyard-dev-web": {out: `{"services": ` + tc.services + `, "failures": []}`}})
			got, err := runningTaskDefinition(context.Background(), awsCLI{x: x.exec, region: "eu-west-1"}, "shipyard-dev", "shipyard-dev-web")
			if got != tc.want || (tc.want == "") != (err != nil) || err != nil && !strings.Contains(err.Error(), "service shipyard-dev-web") {
				t.Errorf("runningTaskDefinition = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestTheRedeploysReasonNamesTheRevisions(t *testing.T) {
	const td = "arn:aws:ecs:eu-west-1:123456789012:task-definition/"
	for _, tc := range []struct{ name, running, was, registered, want string }{
		{"a revision up registered", td + "shipyard-prod-web:3", td + "shipyard-prod-web:3", td + "shipyard-prod-web:4",
			"task definition changed by make up (shipyard-prod-web revision 3 -> 4)"},
		{"a revision an earlier deployment did not bring", td + "shipyard-prod-web:3", td + "shipyard-prod-web:4", td + "shipyard-prod-web:4",
			"web runs task definition shipyard-prod-web revision 3, not 4 that the stack registered (an earlier deployment of it did not complete)"},
		{"another family names both", td + "old-web:9", td + "old-web:9", td + "shipyard-prod-web:1",
			"task definition changed by make up (old-web:9 -> shipyard-prod-web:1)"},
		{"the registered one running says nothing", td + "shipyard-prod-web:4", td + "shipyard-prod-web:3", td + "shipyard-prod-web:4", ""},
		{"no registered one says nothing", td + "shipyard-prod-web:4", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := taskDefinitionReason(tc.running, tc.was, tc.registered); got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

// The deploy workflow runs `make up RELEASE_FOLLOWS=1` and then `make
// release`: the release deploys web through CodeDeploy with the task
// definition up registered, so up leaves web to it (one deployment, not
// two), and says why web needed deploying.
func TestUpWithReleaseFollowsLeavesWebsDeploymentToTheRelease(t *testing.T) {
	later := rotationT0.Add(time.Hour)
	r := newCLIRepo(t)
	w := rotationWorld(true, 1, 0, rotationT0, later, later)
	w.Outputs["prod"]["databaseInstanceId"] = "shipyard-prod"
	w.Instances = map[string]string{"shipyard-prod": "available"}
	r.rotationConfig(1, 0, "canary")
	r.registeredFrom("prod", w)
	r.editConfig("prod", moreWebCPU)
	state := installFakes(t, w)

	out, err := runCLI(t, "up", "prod", "--release-follows=1")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if n := countCalls(readCalls(t, state), "aws deploy create-deployment"); n != 0 {
		t.Errorf("up created %d CodeDeploy deployments, want none", n)
	}
	for _, want := range []string{"web not redeployed (task definition changed by make up (shipyard-prod-web revision 1 -> 2))", "the release that follows"} {
		if !strings.Contains(out, want) {
			t.Errorf("up's output does not say %q:\n%s", want, out)
		}
	}
	if out, err := runCLI(t, "release", "prod", "--image=shipyard-app:test"); err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	after := readWorld(t, state)
	registered := after.Outputs["prod"]["taskDefinitionArns"].(map[string]any)["web"]
	if d := after.CodeDeployments; len(d) != 1 || d[0].TaskDefinition != registered {
		t.Errorf("CodeDeploy deployments %+v, want one, of %v", d, registered)
	}
	if got := after.Primary["shipyard-prod-web"]; got != registered {
		t.Errorf("web runs %s, want %v", got, registered)
	}
	recs := r.records("prod")
	if last := recs[len(recs)-1]; last.Kind != release.KindRelease || last.Status != release.StatusSucceeded {
		t.Errorf("ledger %+v, want a succeeded release last", recs)
	}
	for _, rec := range recs {
		if rec.Kind == release.KindRedeploy {
			t.Errorf("ledger %+v has a redeploy", recs)
		}
	}
}

func TestReleaseFollowsIsRefusedWhereItMeansNothingOrIsMisspelt(t *testing.T) {
	for _, tc := range []struct{ name, stack, flag, want string }{
		{"a value other than 1 or 0", "prod", "--release-follows=yes", "RELEASE_FOLLOWS=yes (--release-follows=yes): allowed 1, 0, true, false"},
		{"a docker stack, which has no CodeDeploy redeploy", "local", "--release-follows", `only aws stacks redeploy web after up`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newCLIRepo(t)
			out, err := runCLI(t, "up", tc.stack, tc.flag)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("up %s %s: %v, want an error saying %q\n%s", tc.stack, tc.flag, err, tc.want, out)
			}
		})
	}
}
