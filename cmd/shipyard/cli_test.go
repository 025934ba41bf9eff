package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

var (
	cliDigestA = "sha256:" + strings.Repeat("a", 64)
	cliDigestB = "sha256:" + strings.Repeat("b", 64)
)

func repoOf(stack string) string {
	return "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shipyard-" + stack
}

// cliRepo is a repository checkout in a temporary directory: the real
// config files, one migration, and ledgers.
type cliRepo struct {
	t    *testing.T
	root string
}

func newCLIRepo(t *testing.T) *cliRepo {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"config", "releases", filepath.FromSlash(migrationsPath)} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "config", filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(migrationsPath), "00003_notes.sql"), []byte("-- +goose Up\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHIPYARD_CONFIG_DIR", filepath.Join(root, "config"))
	// The team's state backend (aws stacks refuse a file backend); the
	// fake pulumi keeps its world in SHIPYARD_FAKE_STATE.
	t.Setenv("PULUMI_BACKEND_URL", "s3://shipyard-test-state?region=eu-west-1")
	t.Setenv("SHIPYARD_ALLOW_LOCAL_STATE", "")
	t.Setenv("SHIPYARD_SECRETS_PROVIDER", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "team-passphrase")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "")
	t.Setenv("GITHUB_ACTOR", "")
	t.Setenv("USER", "tester")
	t.Setenv("MIGRATION_TIMING_DATABASE_URL", "")
	t.Setenv("MIGRATION_TIMING_THRESHOLD", "")
	t.Setenv("SHIPYARD_APP_BIN", "")
	return &cliRepo{t: t, root: root}
}

func (r *cliRepo) configPath(stack string) string {
	return filepath.Join(r.root, "config", stack+".json")
}

func (r *cliRepo) setDigest(stack, digest string) {
	data, err := os.ReadFile(r.configPath(stack))
	if err != nil {
		r.t.Fatal(err)
	}
	if data, err = release.SetImageDigest(data, digest); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.configPath(stack), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *cliRepo) digest(stack string) string {
	data, err := os.ReadFile(r.configPath(stack))
	if err != nil {
		r.t.Fatal(err)
	}
	var f struct {
		Release struct{ ImageDigest string } `json:"release"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		r.t.Fatal(err)
	}
	return f.Release.ImageDigest
}

func (r *cliRepo) ledger() release.Ledger {
	return release.Ledger{Dir: filepath.Join(r.root, "releases")}
}

// recorded appends a succeeded release of digest to a stack's ledger.
func (r *cliRepo) recorded(stack, kind, digest string) release.Record {
	id, err := r.ledger().NextID(stack)
	if err != nil {
		r.t.Fatal(err)
	}
	rec := release.Record{ID: id, Stack: stack, Kind: kind, Status: release.StatusSucceeded, ImageDigest: digest,
		ImageRepository: repoOf(stack), ImageCommit: strings.Repeat("1", 40), MigrationVersion: 2,
		ConfigSHA256: strings.Repeat("0", 64), DeployCommit: strings.Repeat("1", 40), Actor: "ci",
		Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if err := r.ledger().Append(rec); err != nil {
		r.t.Fatal(err)
	}
	return rec
}

func (r *cliRepo) records(stack string) []release.Record {
	recs, err := r.ledger().Read(stack)
	if err != nil {
		r.t.Fatal(err)
	}
	return recs
}

// deployedOutputs are the outputs of an aws stack the fakes consider up.
func deployedOutputs(stack, url, digest string) map[string]any {
	o := map[string]any{
		"stack": stack, "target": "aws", "url": url, "region": "eu-west-1",
		"imageRepositoryUrl": repoOf(stack), "clusterName": "shipyard-" + stack,
	}
	if digest != "" {
		o["imageDigest"], o["image"] = digest, repoOf(stack)+"@"+digest
	}
	return o
}

// readyServer answers /readyz as the app does: the HTTP status and the
// body's status ("ready", "degraded", "unavailable").
func readyServer(t *testing.T, code int, status string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":%q,"checks":{"postgres":"ok","redis":"ok"}}`, status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, os.Getenv, &out, &out)
	return out.String(), err
}

func contains(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestPromoteCommand(t *testing.T) {
	t.Run("copies staging's digest into prod's repository, deploys it and verifies the services", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		src := r.recorded("staging", release.KindRelease, cliDigestA)
		state := installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{
				"staging": deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestA),
				"prod":    deployedOutputs("prod", "https://prod.example.com", ""),
			},
			Images: map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}},
		})

		out, err := runCLI(t, "promote", "staging", "prod")
		if err != nil {
			t.Fatalf("promote: %v\n%s", err, out)
		}
		if got := r.digest("prod"); got != cliDigestA {
			t.Errorf("config/prod.json digest = %q, want %s", got, cliDigestA)
		}
		recs := r.records("prod")
		if len(recs) != 1 {
			t.Fatalf("prod ledger = %+v", recs)
		}
		rec := recs[0]
		if rec.Kind != release.KindPromote || rec.Status != release.StatusSucceeded || rec.ImageDigest != cliDigestA ||
			rec.Source == nil || rec.Source.Release != src.ID || rec.ImageCommit != src.ImageCommit ||
			rec.DeployCommit != strings.Repeat("c0ffee", 6)+"c0ff" || !strings.HasPrefix(rec.Actor, "tester@") {
			t.Errorf("record = %+v", rec)
		}
		calls := readCalls(t, state)
		for _, want := range []string{
			"crane copy " + repoOf("staging") + "@" + cliDigestA + " " + repoOf("prod") + ":prod-0001",
			"crane digest " + repoOf("prod") + ":prod-0001",
			"pulumi preview --diff --refresh --stack prod --non-interactive --cwd " + r.root,
			"pulumi preview --json --refresh --stack prod --non-interactive --cwd " + r.root,
			"pulumi up --yes --diff --refresh --stack prod --non-interactive --cwd " + r.root,
			"aws ecs describe-services --cluster shipyard-prod --services shipyard-prod-clock shipyard-prod-web shipyard-prod-worker --region eu-west-1",
		} {
			if !contains(calls, want) {
				t.Errorf("no call %q among\n%s", want, strings.Join(calls, "\n"))
			}
		}
		if contains(calls, "docker push") || contains(calls, "docker build") {
			t.Errorf("promote rebuilt or pushed an image:\n%s", strings.Join(calls, "\n"))
		}
	})

	t.Run("reports and records a circuit-breaker rollback that pulumi up called a success", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		r.setDigest("prod", cliDigestB)
		r.recorded("prod", release.KindRelease, cliDigestB)
		prodBefore, _ := os.ReadFile(r.configPath("prod"))
		old := "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-prod-web:1"
		installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{
				"staging": deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestA),
				"prod":    deployedOutputs("prod", "https://prod.example.com", cliDigestB),
			},
			Images:         map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}, repoOf("prod"): {cliDigestB: true}},
			TaskDefs:       map[string]string{old: repoOf("prod") + "@" + cliDigestB},
			Primary:        map[string]string{"shipyard-prod-web": old, "shipyard-prod-worker": old, "shipyard-prod-clock": old},
			CircuitBreaker: true,
		})

		out, err := runCLI(t, "promote", "staging", "prod")
		if err == nil || !strings.Contains(err.Error(), "ECS rolled back") {
			t.Fatalf("promote error = %v, want an ECS rollback\n%s", err, out)
		}
		if after, _ := os.ReadFile(r.configPath("prod")); !bytes.Equal(after, prodBefore) {
			t.Errorf("config/prod.json keeps the digest of the failed promotion:\n%s", after)
		}
		recs := r.records("prod")
		if last := recs[len(recs)-1]; len(recs) != 2 || last.Status != release.StatusFailed || last.ImageDigest != cliDigestA ||
			last.Alarms != nil || !strings.Contains(last.Error, "circuit breaker threshold") {
			t.Errorf("prod ledger = %+v", recs)
		}
	})

	t.Run("reports and records a rollback on deployment alarms with the alarms' names", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		r.setDigest("prod", cliDigestB)
		r.recorded("prod", release.KindRelease, cliDigestB)
		prodBefore, _ := os.ReadFile(r.configPath("prod"))
		old := "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-prod-web:1"
		prod := deployedOutputs("prod", "https://prod.example.com", cliDigestB)
		prod["revision"] = 1 // the update registers revision 2
		state := installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{
				"staging": deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestA),
				"prod":    prod,
			},
			Images:        map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}, repoOf("prod"): {cliDigestB: true}},
			TaskDefs:      map[string]string{old: repoOf("prod") + "@" + cliDigestB},
			Primary:       map[string]string{"shipyard-prod-web": old},
			AlarmRollback: []string{"shipyard-prod-web-5xx", "shipyard-prod-web-p99"},
			// A rollback of an earlier release, which must not be blamed
			// on this one.
			ServiceDeployments: map[string][]fakeServiceDeployment{"shipyard-prod-web": {{Arn: "arn:sd/old", CreatedAt: time.Now().Add(-24 * time.Hour),
				Status: "ROLLBACK_SUCCESSFUL", Alarms: []string{"shipyard-prod-web-old"}, Triggered: []string{"shipyard-prod-web-old"}}}},
		})

		out, err := runCLI(t, "promote", "staging", "prod")
		if err == nil || !errors.Is(err, release.ErrAlarmRollback) ||
			!strings.Contains(err.Error(), "deployment alarm(s) shipyard-prod-web-5xx, shipyard-prod-web-p99 went into ALARM") {
			t.Fatalf("promote error = %v, want a rollback on the two alarms\n%s", err, out)
		}
		if after, _ := os.ReadFile(r.configPath("prod")); !bytes.Equal(after, prodBefore) {
			t.Errorf("config/prod.json keeps the digest of the failed promotion:\n%s", after)
		}
		recs := r.records("prod")
		last := recs[len(recs)-1]
		if len(recs) != 2 || last.Status != release.StatusFailed || last.ImageDigest != cliDigestA ||
			!reflect.DeepEqual(last.Alarms, []string{"shipyard-prod-web-5xx", "shipyard-prod-web-p99"}) ||
			!strings.Contains(last.Error, "ROLLBACK_SUCCESSFUL") || strings.Contains(last.Error, "shipyard-prod-web-old") {
			t.Errorf("prod ledger = %+v", recs)
		}
		if !contains(readCalls(t, state), "aws ecs list-service-deployments --cluster shipyard-prod --service shipyard-prod-web --created-at after=") {
			t.Errorf("the web service's deployments were not read:\n%s", strings.Join(readCalls(t, state), "\n"))
		}
	})

	t.Run("refuses a plan that replaces the database, before pulumi up", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		prodBefore, _ := os.ReadFile(r.configPath("prod"))
		state := installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{
				"staging": deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestA),
				"prod":    deployedOutputs("prod", "https://prod.example.com", ""),
			},
			Images: map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}},
		})
		t.Setenv("SHIPYARD_FAKE_PLAN", `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::shipyard-prod-db",
			"oldState": {"type": "aws:rds/instance:Instance"}, "replaceReasons": ["engineVersion"]}]}`)
		_, err := runCLI(t, "promote", "staging", "prod")
		if err == nil || !strings.Contains(err.Error(), "stateful") {
			t.Fatalf("err = %v, want the stateful-resource guard's refusal", err)
		}
		if contains(readCalls(t, state), "pulumi up") {
			t.Error("pulumi up ran despite the refusal")
		}
		if after, _ := os.ReadFile(r.configPath("prod")); !bytes.Equal(after, prodBefore) {
			t.Error("config/prod.json changed")
		}
		if recs := r.records("prod"); len(recs) != 1 || recs[0].Status != release.StatusFailed {
			t.Errorf("prod ledger = %+v", recs)
		}
	})

	t.Run("refuses a degraded source (200, but Redis is down) without copying anything", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		state := installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{
				"staging": deployedOutputs("staging", readyServer(t, 200, "degraded"), cliDigestA),
				"prod":    deployedOutputs("prod", "https://prod.example.com", ""),
			},
			Images: map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}},
		})
		_, err := runCLI(t, "promote", "staging", "prod")
		if err == nil || !strings.Contains(err.Error(), `"degraded"`) || !strings.Contains(err.Error(), "refusing to promote") {
			t.Fatalf("err = %v", err)
		}
		if contains(readCalls(t, state), "crane copy") {
			t.Error("copied an image from a degraded stack")
		}
	})

	t.Run("refuses an unhealthy source without copying anything", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		state := installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{
				"staging": deployedOutputs("staging", readyServer(t, 503, "unavailable"), cliDigestA),
				"prod":    deployedOutputs("prod", "https://prod.example.com", ""),
			},
			Images: map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}},
		})
		_, err := runCLI(t, "promote", "staging", "prod")
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "refusing to promote") {
			t.Fatalf("err = %v", err)
		}
		if contains(readCalls(t, state), "crane copy") {
			t.Error("copied an image from an unhealthy stack")
		}
	})
}

// shipyard promote checks FROM and TO first, with the rule make promote
// runs before any install (preflight.CheckPromote): an error naming the
// variable and the aws stacks, before any call.
func TestPromoteNamesABadFROMOrTOBeforeAnyCall(t *testing.T) {
	for _, tc := range []struct {
		from, to, want string
	}{
		{"local", "local", `FROM=local: stack "local" has target "docker"; allowed the aws stacks dev, prod, staging`},
		{"staging", "local", `TO=local: stack "local" has target "docker"; allowed the aws stacks dev, prod, staging`},
		{"staging", "staging", "FROM=staging and TO=staging are the same stack"},
		{"staging", "", "TO is missing: allowed the aws stacks dev, prod, staging"},
	} {
		t.Run(tc.from+" to "+tc.to, func(t *testing.T) {
			newCLIRepo(t)
			state := installFakes(t, &fakeWorld{})
			out, err := runCLI(t, "promote", tc.from, tc.to)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one starting %q\n%s", err, tc.want, out)
			}
			if _, err := os.Stat(filepath.Join(state, "calls.log")); err == nil {
				t.Errorf("ran %v", readCalls(t, state))
			}
		})
	}
}

func TestReleaseCommand(t *testing.T) {
	r := newCLIRepo(t)
	state := installFakes(t, &fakeWorld{
		Outputs: map[string]map[string]any{"dev": deployedOutputs("dev", "https://dev.example.com", "")},
	})
	out, err := runCLI(t, "release", "dev", "--image=shipyard-app:test")
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	if got := r.digest("dev"); got != fakePushedDigest {
		t.Errorf("config/dev.json digest = %q", got)
	}
	recs := r.records("dev")
	if len(recs) != 1 || recs[0].Kind != release.KindRelease || recs[0].MigrationVersion != 3 || recs[0].ImageDigest != fakePushedDigest {
		t.Errorf("dev ledger = %+v", recs)
	}
	calls := readCalls(t, state)
	for _, want := range []string{
		"aws ecr get-login-password --region eu-west-1",
		"docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
		"docker tag shipyard-app:test " + repoOf("dev") + ":dev-0001",
		"docker push " + repoOf("dev") + ":dev-0001",
		"crane digest " + repoOf("dev") + ":dev-0001",
	} {
		if !contains(calls, want) {
			t.Errorf("no call %q among\n%s", want, strings.Join(calls, "\n"))
		}
	}
}

func TestRollbackCommand(t *testing.T) {
	r := newCLIRepo(t)
	first := r.recorded("prod", release.KindRelease, cliDigestB)
	r.recorded("prod", release.KindPromote, cliDigestA)
	r.setDigest("prod", cliDigestA)
	installFakes(t, &fakeWorld{
		Outputs: map[string]map[string]any{"prod": deployedOutputs("prod", "https://prod.example.com", cliDigestA)},
		Images:  map[string]map[string]bool{repoOf("prod"): {cliDigestA: true, cliDigestB: true}},
	})
	out, err := runCLI(t, "rollback", "prod")
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if got := r.digest("prod"); got != cliDigestB {
		t.Errorf("config/prod.json digest = %q, want the previous release's %s", got, cliDigestB)
	}
	recs := r.records("prod")
	if last := recs[len(recs)-1]; len(recs) != 3 || last.Kind != release.KindRollback || last.Source.Release != first.ID {
		t.Errorf("prod ledger = %+v", recs)
	}
	out, err = runCLI(t, "ledger", "prod")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 4 || strings.Join(strings.Fields(lines[3])[:3], " ") != "prod-0003 rollback succeeded" {
		t.Errorf("ledger output (%v):\n%s", err, out)
	}
}

func TestRollbackRefusesAConfigThatIsNotTheDeployedOne(t *testing.T) {
	for _, tc := range []struct {
		name string
		// config is config/prod.json's digest (prod runs A, after B);
		// committed, when set, edits the file as HEAD has it.
		config    string
		committed func(c map[string]any)
		wantErr   []string
	}{
		{
			name:   "a stale checkout whose config names the release before the running one is refused, naming both digests",
			config: cliDigestB,
			wantErr: []string{"its imageDigest output is " + cliDigestA + " but config/prod.json says " + cliDigestB,
				"pull (or check out the config/prod.json that deployed " + cliDigestA + "), then roll back"},
		},
		{
			name:      "an uncommitted edit of config/prod.json besides its digest is refused, naming the field",
			config:    cliDigestA,
			committed: func(c map[string]any) { c["tags"] = map[string]any{"environment": "prod", "team": "other"} },
			wantErr:   []string{"uncommitted changes", "config/prod.json has uncommitted changes besides release.imageDigest (tags)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCLIRepo(t)
			r.recorded("prod", release.KindRelease, cliDigestB)
			r.recorded("prod", release.KindPromote, cliDigestA)
			r.setDigest("prod", tc.config)
			w := &fakeWorld{
				Outputs: map[string]map[string]any{"prod": deployedOutputs("prod", "https://prod.example.com", cliDigestA)},
				Images:  map[string]map[string]bool{repoOf("prod"): {cliDigestA: true, cliDigestB: true}},
			}
			if tc.committed != nil {
				var c map[string]any
				data, _ := os.ReadFile(r.configPath("prod"))
				if err := json.Unmarshal(data, &c); err != nil {
					t.Fatal(err)
				}
				tc.committed(c)
				head, _ := json.Marshal(c)
				w.Committed = map[string]string{"prod.json": string(head)}
			}
			state := installFakes(t, w)
			before, _ := os.ReadFile(r.configPath("prod"))
			out, err := runCLI(t, "rollback", "prod")
			if err == nil {
				t.Fatalf("rollback succeeded:\n%s", out)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("rollback: %v\nwant it to say %q", err, want)
				}
			}
			if calls := readCalls(t, state); contains(calls, "pulumi preview") || contains(calls, "pulumi up") {
				t.Errorf("a refused rollback ran pulumi:\n%s", strings.Join(calls, "\n"))
			}
			if after, _ := os.ReadFile(r.configPath("prod")); !bytes.Equal(after, before) {
				t.Errorf("config/prod.json changed by a refused rollback:\n%s", after)
			}
			if recs := r.records("prod"); len(recs) != 2 {
				t.Errorf("a refusal was recorded: %+v", recs[2:])
			}
		})
	}
}
