package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// withoutDigest decodes a stack file and drops release.imageDigest, to
// compare everything else.
func withoutDigest(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if rel, ok := m["release"].(map[string]any); ok {
		delete(rel, "imageDigest")
		if len(rel) == 0 {
			delete(m, "release")
		}
	}
	return m
}

func TestPromote(t *testing.T) {
	ctx := context.Background()

	t.Run("copies the source's exact digest, deploys it and records the promotion", func(t *testing.T) {
		f := newFixture(t)
		src := f.released("staging", digestA)
		f.w.deploy("prod", "")
		before := f.read("prod")

		rec, err := f.ops.Promote(ctx, "staging", "prod")
		if err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if got := f.w.configDigest("prod"); got != digestA {
			t.Errorf("config/prod.json release.imageDigest = %q, want %s", got, digestA)
		}
		after := f.read("prod")
		if !reflect.DeepEqual(withoutDigest(t, before), withoutDigest(t, after)) {
			t.Errorf("promotion changed other fields of config/prod.json:\nbefore %s\nafter  %s", before, after)
		}
		if f.called("push") {
			t.Errorf("promotion pushed (rebuilt) an image; calls: %v", f.w.calls)
		}
		wantCopy := "copy " + repoURL("staging") + "@" + digestA + " " + repoURL("prod") + ":prod-0001"
		if !f.called(wantCopy) {
			t.Errorf("no %q among calls %v", wantCopy, f.w.calls)
		}
		if i, j := indexOf(f.w.calls, "preview prod"), indexOf(f.w.calls, "up prod"); i < 0 || j < 0 || i > j {
			t.Errorf("want preview before up; calls: %v", f.w.calls)
		}
		recs := f.records("prod")
		if len(recs) != 1 || !reflect.DeepEqual(recs[0], rec) {
			t.Fatalf("ledger of prod = %+v, want exactly the returned record %+v", recs, rec)
		}
		sum := sha256.Sum256(after)
		want := Record{
			ID: "prod-0001", Stack: "prod", Kind: KindPromote, Status: StatusSucceeded,
			ImageDigest: digestA, ImageRepository: repoURL("prod"), ImageCommit: src.ImageCommit,
			MigrationVersion: src.MigrationVersion, ConfigSHA256: hex.EncodeToString(sum[:]),
			DeployCommit: f.ops.Commit, Source: &Source{Stack: "staging", Release: src.ID},
			Actor: f.ops.Actor, Time: rec.Time,
		}
		if !reflect.DeepEqual(rec, want) {
			t.Errorf("record = %+v\nwant     %+v", rec, want)
		}
	})

	refusals := []struct {
		name    string
		setup   func(f *fixture)
		wantErr error
		wantMsg string
		// recorded: the attempt is in prod's ledger as failed.
		recorded bool
	}{
		{
			name:    "refuses a source stack that has no release",
			setup:   func(f *fixture) { f.w.deploy("staging", ""); f.w.deploy("prod", "") },
			wantErr: ErrNoRelease, wantMsg: `stack "staging" has no release`,
		},
		{
			name: "refuses a source digest the ledger never recorded",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				writeDigest(f, "staging", digestB)
				f.w.deploy("prod", "")
			},
			wantErr: ErrNoRelease, wantMsg: "only audited releases are promoted",
		},
		{
			name: "refuses an unhealthy source stack",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.w.unhealthy["staging"] = true
			},
			wantErr: ErrUnhealthy, wantMsg: "https://staging.example.com/readyz",
		},
		{
			name: "refuses a source whose outputs run another digest than its config",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.outputs["staging"]["imageDigest"] = digestB
				f.w.deploy("prod", "")
			},
			wantErr: ErrUnhealthy, wantMsg: "make up STACK=staging",
		},
		{
			name: "refuses a target stack whose config fails validation",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				data := bytes.Replace(f.read("prod"), []byte(`"target": "aws"`), []byte(`"target": "aws", "webCpu": 3`), 1)
				if err := os.WriteFile(f.configPath("prod"), data, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrInvalidConfig, wantMsg: "webCpu",
		},
		{
			name:    "refuses a docker target",
			setup:   func(f *fixture) { f.released("staging", digestA) },
			wantErr: ErrWrongTarget, wantMsg: `target "aws"`,
		},
		{
			name:    "refuses a target stack that was never deployed",
			setup:   func(f *fixture) { f.released("staging", digestA) },
			wantErr: ErrNotDeployed, wantMsg: "make up STACK=prod",
		},
		{
			name: "refuses a source image that cannot run with this checkout's infrastructure",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.ops.ImageSupported = lacksBundle
			},
			wantErr: ErrImageUnsupported, wantMsg: "release staging-0001 (image built from feedface",
		},
		{
			name: "refuses a source image whose support this checkout cannot check until it is fixed (a shallow clone)",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.ops.ImageSupported = shallowClone
			},
			wantErr: ErrImageUnchecked, wantMsg: "release staging-0001 (image built from feedface",
		},
		{
			name: "fails when the copied image's digest differs from the source's",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.w.copyGives = digestB
			},
			wantErr: ErrDigestCopy, wantMsg: "want " + digestA, recorded: true,
		},
		{
			name: "fails when ECS rolled the deployment back although pulumi up succeeded",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.released("prod", digestB)
				f.w.ecs = "rollback"
			},
			wantErr: ErrNotRunning, wantMsg: "ECS rolled back", recorded: true,
		},
		{
			name: "fails when deployment alarms made ECS roll the deployment back, naming them",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.released("prod", digestB)
				f.w.ecs = "alarmRollback"
			},
			wantErr: ErrAlarmRollback, wantMsg: "deployment alarm(s) shipyard-prod-web-5xx, shipyard-prod-web-p99 went into ALARM", recorded: true,
		},
		{
			name: "fails when the services run a different digest",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.w.ecs = "otherImage"
			},
			wantErr: ErrNotRunning, wantMsg: "runs image " + repoURL("prod") + "@" + digestC, recorded: true,
		},
		{
			name: "fails when a service runs the repository's image by tag instead of digest",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.w.ecs = "tag"
			},
			wantErr: ErrNotRunning, wantMsg: "runs image " + repoURL("prod") + ":latest", recorded: true,
		},
		{
			name: "fails when no container of a service runs the stack's repository",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.w.ecs = "sidecarOnly"
			},
			wantErr: ErrNotRunning, wantMsg: "no container runs an image of " + repoURL("prod"), recorded: true,
		},
		{
			name: "fails when the ECS rollout did not complete",
			setup: func(f *fixture) {
				f.released("staging", digestA)
				f.w.deploy("prod", "")
				f.w.ecs = "stuck"
			},
			wantErr: ErrNotRunning, wantMsg: "rollout FAILED", recorded: true,
		},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			to := "prod"
			if tc.wantErr == ErrWrongTarget {
				to = "local"
			}
			tc.setup(f)
			before := f.read(to)
			before = append([]byte(nil), before...)
			var prior []Record
			if tc.recorded {
				prior, _ = f.ops.ledger().Read(to)
			}

			_, err := f.ops.Promote(ctx, "staging", to)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Promote error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if after := f.read(to); !bytes.Equal(after, before) {
				t.Errorf("config/%s.json changed by a failed promotion:\n%s", to, after)
			}
			recs, rerr := f.ops.ledger().Read(to)
			if !tc.recorded {
				if rerr == nil && len(recs) > len(prior) {
					t.Errorf("a refusal was recorded: %+v", recs)
				}
				if f.called("up ") || f.called("copy ") {
					t.Errorf("a refusal had effects: %v", f.w.calls)
				}
				return
			}
			if rerr != nil || len(recs) != len(prior)+1 {
				t.Fatalf("want one failed record appended to %s's ledger, got %+v (%v)", to, recs, rerr)
			}
			last := recs[len(recs)-1]
			if last.Status != StatusFailed || last.ImageDigest != digestA || !strings.Contains(last.Error, tc.wantMsg) {
				t.Errorf("failed record = %+v", last)
			}
		})
	}
}

func writeDigest(f *fixture, stack, digest string) {
	data, err := SetImageDigest(f.read(stack), digest)
	if err != nil {
		f.w.t.Fatal(err)
	}
	if err := os.WriteFile(f.configPath(stack), data, 0o644); err != nil {
		f.w.t.Fatal(err)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestAlarmRollbacksAreFailedReleasesNamingTheAlarms: a deployment that
// ECS rolled back on its deployment alarms is a failed record whose alarms
// field names them, for a release, a promotion and a rollback alike; a
// circuit-breaker rollback names none.
func TestAlarmRollbacksAreFailedReleasesNamingTheAlarms(t *testing.T) {
	ctx := context.Background()
	alarms := []string{"shipyard-prod-web-5xx", "shipyard-prod-web-p99"}
	tests := []struct {
		name       string
		ecs        string
		run        func(f *fixture) (Record, error)
		wantAlarms []string
	}{
		{"a release rolled back on alarms records them", "alarmRollback",
			func(f *fixture) (Record, error) { return f.ops.Release(ctx, "prod", "shipyard-app:local") }, alarms},
		{"a promotion rolled back on alarms records them", "alarmRollback",
			func(f *fixture) (Record, error) { return f.ops.Promote(ctx, "staging", "prod") }, alarms},
		{"a rollback rolled back on alarms records them", "alarmRollback",
			func(f *fixture) (Record, error) { return f.ops.Rollback(ctx, "prod", "") }, alarms},
		{"a circuit-breaker rollback records no alarm", "rollback",
			func(f *fixture) (Record, error) { return f.ops.Promote(ctx, "staging", "prod") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.released("staging", digestA)
			f.released("prod", digestB)
			f.released("prod", digestC)
			f.w.ecs = tc.ecs
			rec, err := tc.run(f)
			if !errors.Is(err, ErrNotRunning) || errors.Is(err, ErrAlarmRollback) != (tc.wantAlarms != nil) {
				t.Fatalf("err = %v, want ErrNotRunning (and ErrAlarmRollback: %v)", err, tc.wantAlarms != nil)
			}
			recs := f.records("prod")
			last := recs[len(recs)-1]
			if last.Status != StatusFailed || !reflect.DeepEqual(last.Alarms, tc.wantAlarms) || !reflect.DeepEqual(rec.Alarms, tc.wantAlarms) {
				t.Errorf("recorded %+v, want status failed and alarms %v", last, tc.wantAlarms)
			}
			for _, a := range tc.wantAlarms {
				if !strings.Contains(last.Error, a) {
					t.Errorf("error %q does not name %s", last.Error, a)
				}
			}
			if prev := recs[len(recs)-2]; !f.w.since.After(prev.Time) || f.w.since.After(last.Time) {
				t.Errorf("Services was asked for deployments since %v, want the start of pulumi up (between %v and %v)", f.w.since, prev.Time, last.Time)
			}
		})
	}
}

func TestDeploymentsRefuseADirtyCheckout(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(f *fixture) error
	}{
		{"promote refuses it", func(f *fixture) error { _, err := f.ops.Promote(ctx, "staging", "prod"); return err }},
		{"rollback refuses it", func(f *fixture) error { _, err := f.ops.Rollback(ctx, "prod", ""); return err }},
		{"release refuses it", func(f *fixture) error { _, err := f.ops.Release(ctx, "prod", "shipyard-app:local"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.released("staging", digestA)
			f.released("prod", digestB)
			f.released("prod", digestC)
			f.ops.Dirty = true
			f.w.calls = nil
			if err := tc.run(f); !errors.Is(err, ErrDirtyTree) {
				t.Fatalf("err = %v, want ErrDirtyTree", err)
			}
			if len(f.w.calls) != 0 {
				t.Errorf("a refusal had effects: %v", f.w.calls)
			}
		})
	}
}

func TestRollback(t *testing.T) {
	ctx := context.Background()

	t.Run("re-deploys the previous release and records the rollback", func(t *testing.T) {
		f := newFixture(t)
		first := f.released("prod", digestA)
		f.released("prod", digestB)

		rec, err := f.ops.Rollback(ctx, "prod", "")
		if err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if got := f.w.configDigest("prod"); got != digestA {
			t.Errorf("config/prod.json digest = %s, want the previous release's %s", got, digestA)
		}
		if rec.Kind != KindRollback || rec.Status != StatusSucceeded || rec.ID != "prod-0003" ||
			rec.Source == nil || rec.Source.Release != first.ID || rec.ImageCommit != first.ImageCommit {
			t.Errorf("record = %+v", rec)
		}
		if f.called("copy") || f.called("push") {
			t.Errorf("rollback moved images: %v", f.w.calls)
		}
		if got := f.records("prod"); len(got) != 3 || !reflect.DeepEqual(got[2], rec) {
			t.Errorf("ledger = %+v", got)
		}
	})

	t.Run("skips failed attempts and the current digest when finding the previous release", func(t *testing.T) {
		f := newFixture(t)
		f.released("prod", digestA)
		f.released("prod", digestB)
		f.w.ecs = "rollback"
		if _, err := f.ops.Rollback(ctx, "prod", ""); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("first rollback: %v, want ErrNotRunning", err)
		}
		f.w.ecs = "ok"
		// The failed rollback's `pulumi up` left the outputs on A, the
		// config is back on B: refused, saying how to put them back.
		if _, err := f.ops.Rollback(ctx, "prod", ""); !errors.Is(err, ErrStaleConfig) || !strings.Contains(err.Error(), "the failed prod-0003 left the outputs on "+digestA+", `make up STACK=prod` first") {
			t.Fatalf("rollback after the failed one: %v, want ErrStaleConfig naming make up", err)
		}
		f.w.deploy("prod", digestB) // make up STACK=prod
		rec, err := f.ops.Rollback(ctx, "prod", "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.ImageDigest != digestA || rec.Source.Release != "prod-0001" {
			t.Errorf("rolled back to %+v, want prod-0001 (%s)", rec, digestA)
		}
	})

	t.Run("deploys a config whose only uncommitted change is its digest", func(t *testing.T) {
		f := newFixture(t)
		f.released("prod", digestA)
		head := f.read("prod")
		f.released("prod", digestB)
		f.ops.CommittedConfig = func(_ context.Context, stack string) ([]byte, error) {
			if stack != "prod" {
				t.Errorf("CommittedConfig(%q), want prod", stack)
			}
			return head, nil
		}
		rec, err := f.ops.Rollback(ctx, "prod", "")
		if err != nil || rec.ImageDigest != digestA {
			t.Fatalf("Rollback = %+v, %v; want a rollback to %s", rec, err, digestA)
		}
	})

	t.Run("re-deploys a named release", func(t *testing.T) {
		f := newFixture(t)
		f.released("prod", digestA)
		f.released("prod", digestB)
		f.released("prod", digestC)
		rec, err := f.ops.Rollback(ctx, "prod", "prod-0001")
		if err != nil {
			t.Fatal(err)
		}
		if rec.ImageDigest != digestA || f.w.configDigest("prod") != digestA {
			t.Errorf("rolled back to %s, config has %s; want %s", rec.ImageDigest, f.w.configDigest("prod"), digestA)
		}
	})

	refusals := []struct {
		name    string
		setup   func(f *fixture)
		release string
		wantErr error
		wantMsg string
	}{
		{"refuses a stack without a ledger", func(f *fixture) { f.w.deploy("prod", digestA) }, "", ErrNoLedger, "prod.jsonl does not exist"},
		{"refuses when the ledger has no earlier release", func(f *fixture) { f.released("prod", digestA) }, "", ErrNoPrevious, "other than the current one"},
		{"refuses a release id the ledger does not have", func(f *fixture) { f.released("prod", digestA); f.released("prod", digestB) }, "prod-0042", ErrNoPrevious, `"prod-0042" is not in`},
		{"refuses to roll back to a release that failed", func(f *fixture) {
			f.released("prod", digestA)
			if err := f.ops.ledger().Append(Record{ID: "prod-0002", Stack: "prod", Kind: KindRelease, Status: StatusFailed, ImageDigest: digestB}); err != nil {
				f.w.t.Fatal(err)
			}
		}, "prod-0002", ErrNoPrevious, "only a release that succeeded"},
		{"refuses a release whose image is gone from the registry", func(f *fixture) {
			f.released("prod", digestA)
			f.released("prod", digestB)
			delete(f.w.images[repoURL("prod")], digestA)
		}, "", ErrNoPrevious, "gone from the registry"},
		{"refuses a release whose image cannot run with this checkout's infrastructure", func(f *fixture) {
			f.released("prod", digestA)
			f.released("prod", digestB)
			f.ops.ImageSupported = lacksBundle
		}, "", ErrImageUnsupported, "lacks app/internal/db/rdsca/global-bundle.pem"},
		{"refuses a release whose image support this checkout cannot check until it is fixed (a shallow clone)", func(f *fixture) {
			f.released("prod", digestA)
			f.released("prod", digestB)
			f.ops.ImageSupported = shallowClone
		}, "", ErrImageUnchecked, "fetch-depth: 0"},
		{"refuses a stale checkout whose config names an older release than the stack runs", func(f *fixture) {
			f.released("prod", digestA)
			f.released("prod", digestB)
			f.released("prod", digestC)
			stale, err := SetImageDigest(f.read("prod"), digestB)
			if err != nil {
				f.w.t.Fatal(err)
			}
			if err := os.WriteFile(f.configPath("prod"), stale, 0o644); err != nil {
				f.w.t.Fatal(err)
			}
		}, "", ErrStaleConfig, "its imageDigest output is " + digestC + " but config/prod.json says " + digestB + ", so the release to go back to would be picked from the wrong one; pull (or check out the config/prod.json that deployed " + digestC + "), then roll back"},
		{"refuses uncommitted changes of the config besides its digest, naming them", func(f *fixture) {
			f.released("prod", digestA)
			head := f.read("prod")
			f.released("prod", digestB)
			edited := bytes.Replace(f.read("prod"), []byte(`"environment": "prod"`), []byte(`"environment": "prod-edited"`), 1)
			if err := os.WriteFile(f.configPath("prod"), edited, 0o644); err != nil {
				f.w.t.Fatal(err)
			}
			f.ops.CommittedConfig = func(context.Context, string) ([]byte, error) { return head, nil }
		}, "", ErrDirtyTree, "config/prod.json has uncommitted changes besides release.imageDigest (tags), which a rollback would deploy with the old image"},
		{"refuses a config the commit does not have", func(f *fixture) {
			f.released("prod", digestA)
			f.released("prod", digestB)
			f.ops.CommittedConfig = func(context.Context, string) ([]byte, error) {
				return nil, errors.New("fatal: path 'config/prod.json' does not exist in 'HEAD'")
			}
		}, "", ErrDirtyTree, "commit it first"},
		{"refuses a stack whose config fails validation", func(f *fixture) {
			f.released("prod", digestA)
			f.released("prod", digestB)
			data := bytes.Replace(f.read("prod"), []byte(`"target": "aws"`), []byte(`"target": "gcp"`), 1)
			if err := os.WriteFile(f.configPath("prod"), data, 0o644); err != nil {
				f.w.t.Fatal(err)
			}
		}, "", ErrInvalidConfig, "target"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			before := append([]byte(nil), f.read("prod")...)
			prior, _ := f.ops.ledger().Read("prod")
			f.w.calls = nil
			_, err := f.ops.Rollback(ctx, "prod", tc.release)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Rollback error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if !bytes.Equal(f.read("prod"), before) {
				t.Error("config/prod.json changed by a refused rollback")
			}
			if recs, _ := f.ops.ledger().Read("prod"); len(recs) != len(prior) {
				t.Errorf("a refusal was recorded: %+v", recs[len(prior):])
			}
			if f.called("up ") {
				t.Errorf("a refusal ran pulumi up: %v", f.w.calls)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	ctx := context.Background()

	t.Run("pushes the local image once, deploys its digest and records commit, config hash and migration version", func(t *testing.T) {
		f := newFixture(t)
		f.w.deploy("dev", "")
		rec, err := f.ops.Release(ctx, "dev", "shipyard-app:local")
		if err != nil {
			t.Fatalf("Release: %v", err)
		}
		pushes := 0
		for _, c := range f.w.calls {
			if strings.HasPrefix(c, "push ") {
				pushes++
				if c != "push shipyard-app:local "+repoURL("dev")+":dev-0001" {
					t.Errorf("push call %q", c)
				}
			}
		}
		if pushes != 1 {
			t.Errorf("%d pushes, want 1: %v", pushes, f.w.calls)
		}
		sum := sha256.Sum256(f.read("dev"))
		if rec.ImageDigest != digestC || f.w.configDigest("dev") != digestC || rec.Kind != KindRelease ||
			rec.ImageCommit != f.ops.Commit || rec.MigrationVersion != 7 || rec.ConfigSHA256 != hex.EncodeToString(sum[:]) ||
			rec.Status != StatusSucceeded || rec.Source != nil {
			t.Errorf("record = %+v", rec)
		}
		if got := f.records("dev"); len(got) != 1 || got[0].ID != "dev-0001" {
			t.Errorf("ledger = %+v", got)
		}
	})

	t.Run("records a failed push, so the next release gets a new tag", func(t *testing.T) {
		f := newFixture(t)
		f.w.deploy("dev", "")
		f.w.pushErr = errors.New("denied: not authorized")
		if _, err := f.ops.Release(ctx, "dev", "shipyard-app:local"); err == nil || !strings.Contains(err.Error(), "not authorized") {
			t.Fatalf("err = %v", err)
		}
		recs := f.records("dev")
		if len(recs) != 1 || recs[0].Status != StatusFailed || recs[0].ImageDigest != "" {
			t.Fatalf("ledger = %+v", recs)
		}
		f.w.pushErr = nil
		rec, err := f.ops.Release(ctx, "dev", "shipyard-app:local")
		if err != nil || rec.ID != "dev-0002" || !f.called("push shipyard-app:local "+repoURL("dev")+":dev-0002") {
			t.Errorf("second release = %+v, %v; calls %v", rec, err, f.w.calls)
		}
	})

	t.Run("restores the config and records the failure when pulumi up fails", func(t *testing.T) {
		f := newFixture(t)
		f.w.deploy("dev", "")
		before := append([]byte(nil), f.read("dev")...)
		f.w.upErr = errors.New("exit status 255")
		_, err := f.ops.Release(ctx, "dev", "shipyard-app:local")
		if err == nil || !strings.Contains(err.Error(), "exit status 255") {
			t.Fatalf("err = %v", err)
		}
		if !bytes.Equal(f.read("dev"), before) {
			t.Error("config/dev.json keeps the digest of a failed release")
		}
		if recs := f.records("dev"); len(recs) != 1 || recs[0].Status != StatusFailed {
			t.Errorf("ledger = %+v", recs)
		}
	})
}

// shallowClone stands in for a shallow clone without the image's commit.
func shallowClone(_ context.Context, commit string) error {
	return fmt.Errorf("%w: commit %s is not in this shallow clone; fetch the history (fetch-depth: 0)", ErrImageUnchecked, commit)
}

// lacksBundle stands in for an image built before the checkout's task
// definitions named a file in it.
func lacksBundle(_ context.Context, commit string) error {
	return fmt.Errorf("commit %s lacks app/internal/db/rdsca/global-bundle.pem, which DATABASE_URL names", commit)
}
