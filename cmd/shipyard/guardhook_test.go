package main

import (
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// deployCommand is a command that runs `pulumi up` on the aws stack prod
// (config from rotationConfig, running digest A): setup adds what it needs
// besides, before the config is written.
type deployCommand struct {
	name  string
	args  []string
	setup func(t *testing.T, r *cliRepo, w *fakeWorld)
}

var deployCommands = []deployCommand{
	{name: "up", args: []string{"up", "prod"}},
	{name: "release", args: []string{"release", "prod", "--image=shipyard-app:test"}},
	{name: "promote", args: []string{"promote", "staging", "prod"}, setup: func(t *testing.T, r *cliRepo, w *fakeWorld) {
		r.setDigest("staging", cliDigestB)
		r.recorded("staging", release.KindRelease, cliDigestB)
		w.Outputs["staging"] = deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestB)
		w.Images[repoOf("staging")] = map[string]bool{cliDigestB: true}
	}},
	{name: "rollback", args: []string{"rollback", "prod"}, setup: func(t *testing.T, r *cliRepo, w *fakeWorld) {
		// B, then A: the rollback goes to B.
		r.recorded("prod", release.KindRelease, cliDigestB)
		r.recorded("prod", release.KindRelease, cliDigestA)
		w.Images[repoOf("prod")][cliDigestB] = true
	}},
}

// deployWorld is rotationWorld (prod on rolling updates, its secret's
// generation version since secretAt, web's tasks started at webAt) with a
// database to snapshot before a migration.
func deployWorld(version, retired int, secretAt, webAt time.Time) *fakeWorld {
	w := rotationWorld(false, version, retired, secretAt, webAt, secretAt.Add(time.Hour))
	w.Outputs["prod"]["databaseInstanceId"] = "shipyard-prod"
	w.Instances = map[string]string{"shipyard-prod": "available"}
	return w
}

const replaceDBPlan = `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::shipyard-prod-db",
	"oldState": {"type": "aws:rds/instance:Instance"}, "replaceReasons": ["storageType"]}]}`

func TestTheGuardChecksThePlanFromTheRefreshedStateThatUpApplies(t *testing.T) {
	for _, cmd := range deployCommands {
		t.Run(cmd.name+" is refused when the drift a refresh finds makes the plan replace the database", func(t *testing.T) {
			r := newCLIRepo(t)
			w := deployWorld(1, 0, rotationT0, rotationT0.Add(time.Hour))
			if cmd.setup != nil {
				cmd.setup(t, r, w)
			}
			r.rotationConfig(1, 0, "rolling")
			state := installFakes(t, w)
			// Without --refresh the plan changes nothing stateful.
			t.Setenv("SHIPYARD_FAKE_PLAN", `{"steps": []}`)
			t.Setenv("SHIPYARD_FAKE_REFRESHED_PLAN", replaceDBPlan)
			out, err := runCLI(t, cmd.args...)
			if err == nil || !strings.Contains(err.Error(), "stateful") || !strings.Contains(err.Error(), "shipyard-prod-db") {
				t.Fatalf("%s: %v, want the guard's refusal naming the database\n%s", cmd.name, err, out)
			}
			calls := readCalls(t, state)
			if contains(calls, "pulumi up") {
				t.Errorf("pulumi up ran despite the refusal:\n%s", strings.Join(calls, "\n"))
			}
			if !contains(calls, "pulumi preview --json --refresh --stack prod") {
				t.Errorf("the guard's preview did not refresh as up does:\n%s", strings.Join(calls, "\n"))
			}
			if got := r.digest("prod"); got != cliDigestA {
				t.Errorf("config/prod.json digest = %s, want %s as before", got, cliDigestA)
			}
		})
	}
}

func TestEveryCommandThatRunsPulumiUpChecksARetiredRedisTokenOnce(t *testing.T) {
	for _, cmd := range deployCommands {
		for _, tc := range []struct {
			name string
			// webAt is when web's tasks started; the secret got
			// generation 2 at rotationT1.
			webAt   time.Time
			wantErr []string
		}{
			{
				name:  "retiring the previous token is refused while web runs tasks started before the new one, before any pulumi call",
				webAt: rotationT0.Add(time.Hour),
				wantErr: []string{"cache.retiredAuthTokenVersion 1 would drop the previous Redis AUTH token while stack prod still runs 2 web task(s) started before the secret got generation 2",
					"--force-new-deployment"},
			},
			{
				name:  "retiring it is allowed once every task started after the new one",
				webAt: rotationT1.Add(time.Hour),
			},
		} {
			t.Run(cmd.name+": "+tc.name, func(t *testing.T) {
				r := newCLIRepo(t)
				w := deployWorld(2, 0, rotationT1, tc.webAt)
				if cmd.setup != nil {
					cmd.setup(t, r, w)
				}
				r.rotationConfig(2, 1, "rolling")
				state := installFakes(t, w)
				out, err := runCLI(t, cmd.args...)
				calls := readCalls(t, state)
				if n := countCalls(calls, "aws secretsmanager list-secret-version-ids"); n != 1 {
					t.Errorf("the token's secret was read %d times, want once (one check):\n%s", n, strings.Join(calls, "\n"))
				}
				if tc.wantErr == nil {
					if err != nil {
						t.Fatalf("%s: %v\n%s", cmd.name, err, out)
					}
					if n := countCalls(calls, "pulumi up"); n != 1 {
						t.Errorf("pulumi up ran %d times, want once", n)
					}
					return
				}
				if err == nil {
					t.Fatalf("%s succeeded, want the refusal\n%s", cmd.name, out)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: %v\nwant it to say %q", cmd.name, err, want)
					}
				}
				if n := countCalls(calls, "pulumi up") + countCalls(calls, "pulumi preview"); n > 0 {
					t.Errorf("the refused %s still ran pulumi:\n%s", cmd.name, strings.Join(calls, "\n"))
				}
				if got := r.digest("prod"); got != cliDigestA {
					t.Errorf("config/prod.json digest = %s, want %s as before", got, cliDigestA)
				}
			})
		}
	}
}
