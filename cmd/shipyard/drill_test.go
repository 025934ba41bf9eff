package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// drillOutputs are a deployed aws stack's outputs with its database and
// the run-task inputs.
func drillOutputs(stack string) map[string]any {
	o := deployedOutputs(stack, "https://"+stack+".example.com", cliDigestA)
	o["databaseInstanceId"] = "shipyard-" + stack
	o["databaseSubnetGroupName"] = "database-subnets-abc123"
	o["databaseSecurityGroupId"] = "sg-db"
	o["privateSubnetIds"] = []any{"subnet-a", "subnet-b"}
	o["appSecurityGroupId"] = "sg-app"
	o["migrateTaskDefinitionArn"] = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-" + stack + "-migrate:4"
	return o
}

func drillWorld(stack string) *fakeWorld {
	return &fakeWorld{
		Outputs:   map[string]map[string]any{stack: drillOutputs(stack)},
		Instances: map[string]string{"shipyard-" + stack: "available"},
		Snapshots: []fakeSnapshot{
			{ID: "rds:shipyard-" + stack + "-2026-11-30-03-10", Instance: "shipyard-" + stack, Created: "2026-11-30T03:10:00Z", Status: "available", Type: "automated"},
			{ID: "shipyard-" + stack + "-" + stack + "-0007-m3", Instance: "shipyard-" + stack, Created: "2026-12-01T09:00:00Z", Status: "available", Type: "manual"},
			{ID: "shipyard-" + stack + "-in-progress", Instance: "shipyard-" + stack, Created: "2026-12-01T10:00:00Z", Status: "creating", Type: "manual"},
			{ID: "shipyard-other-newer", Instance: "shipyard-other", Created: "2026-12-01T11:00:00Z", Status: "available", Type: "manual"},
		},
	}
}

// awsCalls are the aws calls in order, without --region and --output.
func awsCalls(calls []string) []string {
	var out []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "aws ") {
			continue
		}
		c = strings.Replace(c, " --region eu-west-1 --output json", "", 1)
		out = append(out, c)
	}
	return out
}

func TestRestoreDrillCommand(t *testing.T) {
	t.Run("restores the newest available snapshot, migrates and reads it, reports the time and deletes the instance", func(t *testing.T) {
		newCLIRepo(t)
		state := installFakes(t, drillWorld("staging"))
		out, err := runCLI(t, "db-restore-drill", "staging")
		if err != nil {
			t.Fatalf("db-restore-drill: %v\n%s", err, out)
		}
		calls := awsCalls(readCalls(t, state))
		want := []string{
			"aws rds describe-db-snapshots --db-instance-identifier shipyard-staging",
			"aws rds restore-db-instance-from-db-snapshot --db-instance-identifier shipyard-staging-drill-",
			"aws rds wait db-instance-available --db-instance-identifier shipyard-staging-drill-",
			"aws rds describe-db-instances --db-instance-identifier shipyard-staging-drill-",
			"aws ecs describe-task-definition --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-staging-migrate:4",
			"aws ecs run-task --cluster shipyard-staging --launch-type FARGATE --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-staging-migrate:4 --started-by shipyard-drill-migrate",
			"aws ecs wait tasks-stopped",
			"aws ecs describe-tasks",
			"aws ecs describe-task-definition",
			"aws ecs run-task --cluster shipyard-staging --launch-type FARGATE --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-staging-migrate:4 --started-by shipyard-drill-check",
			"aws ecs wait tasks-stopped",
			"aws ecs describe-tasks",
			"aws rds delete-db-instance --db-instance-identifier shipyard-staging-drill-",
			"aws rds wait db-instance-deleted --db-instance-identifier shipyard-staging-drill-",
		}
		if len(calls) != len(want) {
			t.Fatalf("aws calls:\n%s\nwant %d of them", strings.Join(calls, "\n"), len(want))
		}
		for i := range want {
			if !strings.HasPrefix(calls[i], want[i]) {
				t.Errorf("call %d = %q\nwant prefix %q", i, calls[i], want[i])
			}
		}
		restore := calls[1]
		for _, part := range []string{"--db-snapshot-identifier shipyard-staging-staging-0007-m3 ", "--db-subnet-group-name database-subnets-abc123", "--vpc-security-group-ids sg-db", "--no-publicly-accessible", "--ca-certificate-identifier rds-ca-rsa2048-g1 "} {
			if !strings.Contains(restore, part) {
				t.Errorf("restore call lacks %q: %s", part, restore)
			}
		}
		// The migrate task definition runs migrate itself: only its
		// environment is overridden; the check overrides the command. The
		// overrides are JSON, which writes the URL's & as \u0026.
		for i, cmd := range map[int]string{5: `{"containerOverrides":[{"environment"`, 9: `"command":["dbcheck"]`} {
			if !strings.Contains(calls[i], cmd) || !strings.Contains(calls[i], `"name":"DATABASE_URL","value":"postgres://shipyard@shipyard-staging-drill-`) ||
				!strings.Contains(calls[i], ".cabc.eu-west-1.rds.amazonaws.com:5432/shipyard?sslmode=verify-full\\u0026sslrootcert=/etc/ssl/certs/rds-global-bundle.pem") ||
				!strings.Contains(calls[i], "subnets=[subnet-a,subnet-b],securityGroups=[sg-app]") {
				t.Errorf("run-task %d lacks the command %s or the restored DATABASE_URL: %s", i, cmd, calls[i])
			}
		}
		w := readWorld(t, state)
		if len(w.Instances) != 1 || w.Instances["shipyard-staging"] == "" {
			t.Errorf("instances after the drill: %v (the temporary one must be gone, the stack's kept)", w.Instances)
		}
		if !strings.Contains(out, "restore drill of stack staging passed: snapshot shipyard-staging-staging-0007-m3 restored in") || !strings.Contains(out, "total") {
			t.Errorf("no report in the output:\n%s", out)
		}
	})

	for _, tc := range []struct {
		name, wantErr string
		world         func(w *fakeWorld)
	}{
		{"deletes the instance when the restored database never becomes available", "waiting for shipyard-staging-drill-",
			func(w *fakeWorld) { w.Fail = map[string]bool{"wait db-instance-available": true} }},
		{"deletes the instance when app migrate fails on it", "app migrate against the restored instance",
			func(w *fakeWorld) { w.ExitCodes = map[string]int{"migrate": 1} }},
		{"deletes the instance when the read check fails", "app dbcheck against the restored instance",
			func(w *fakeWorld) { w.ExitCodes = map[string]int{"dbcheck": 1} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newCLIRepo(t)
			w := drillWorld("staging")
			tc.world(w)
			state := installFakes(t, w)
			out, err := runCLI(t, "db-restore-drill", "staging")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q\n%s", err, tc.wantErr, out)
			}
			calls := awsCalls(readCalls(t, state))
			if !contains(calls, "aws rds delete-db-instance --db-instance-identifier shipyard-staging-drill-") || !strings.Contains(calls[len(calls)-1], "wait db-instance-deleted") {
				t.Errorf("no cleanup at the end:\n%s", strings.Join(calls, "\n"))
			}
			if got := readWorld(t, state).Instances; len(got) != 1 {
				t.Errorf("instances left: %v", got)
			}
		})
	}

	t.Run("says how to delete by hand when the cleanup itself fails", func(t *testing.T) {
		newCLIRepo(t)
		w := drillWorld("staging")
		w.Fail = map[string]bool{"delete-db-instance": true}
		installFakes(t, w)
		_, err := runCLI(t, "db-restore-drill", "staging")
		if err == nil || !strings.Contains(err.Error(), "delete it by hand: aws rds delete-db-instance --db-instance-identifier shipyard-staging-drill-") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a stack without an available snapshot, creating nothing", func(t *testing.T) {
		newCLIRepo(t)
		w := drillWorld("staging")
		w.Snapshots = w.Snapshots[2:3] // only one still being created
		state := installFakes(t, w)
		_, err := runCLI(t, "db-restore-drill", "staging")
		if err == nil || !strings.Contains(err.Error(), "no available snapshot") {
			t.Fatalf("err = %v", err)
		}
		if calls := awsCalls(readCalls(t, state)); len(calls) != 1 {
			t.Errorf("calls after the refusal: %v", calls)
		}
	})

	t.Run("refuses a stack without the database outputs", func(t *testing.T) {
		newCLIRepo(t)
		w := drillWorld("staging")
		delete(w.Outputs["staging"], "databaseSubnetGroupName")
		installFakes(t, w)
		if _, err := runCLI(t, "db-restore-drill", "staging"); err == nil || !strings.Contains(err.Error(), "databaseSubnetGroupName") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDrillInstanceID(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 5, 6, 0, time.UTC)
	if got := drillInstanceID("shipyard-staging", at); got != "shipyard-staging-drill-20261202-040506" {
		t.Errorf("id = %q", got)
	}
	long := drillInstanceID(strings.Repeat("a", 60), at)
	if len(long) > 63 || !strings.HasSuffix(long, "-drill-20261202-040506") {
		t.Errorf("long id = %q (%d)", long, len(long))
	}
}

func TestReleaseSnapshotsBeforeAMigrationChange(t *testing.T) {
	t.Run("snapshots the stack's instance, waits, then deploys and records the snapshot", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA) // migration version 2; the checkout has 3
		w := drillWorld("staging")
		w.Images = map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}}
		state := installFakes(t, w)
		out, err := runCLI(t, "release", "staging", "--image=shipyard-app:test")
		if err != nil {
			t.Fatalf("release: %v\n%s", err, out)
		}
		calls := readCalls(t, state)
		snap, wait, up := -1, -1, -1
		for i, c := range calls {
			switch {
			case strings.HasPrefix(c, "aws rds create-db-snapshot --db-instance-identifier shipyard-staging --db-snapshot-identifier shipyard-staging-staging-0002-m3 "):
				snap = i
			case strings.HasPrefix(c, "aws rds wait db-snapshot-available --db-snapshot-identifier shipyard-staging-staging-0002-m3 "):
				wait = i
			case strings.HasPrefix(c, "pulumi up"):
				up = i
			}
		}
		if snap < 0 || wait < snap || up < wait {
			t.Errorf("want create-db-snapshot, wait, then pulumi up (%d %d %d):\n%s", snap, wait, up, strings.Join(calls, "\n"))
		}
		recs := r.records("staging")
		if last := recs[len(recs)-1]; last.Status != release.StatusSucceeded || last.SnapshotID != "shipyard-staging-staging-0002-m3" {
			t.Errorf("last record = %+v", last)
		}
		if out, err := runCLI(t, "ledger", "--verify"); err != nil {
			t.Errorf("ledger --verify: %v\n%s", err, out)
		}
	})

	t.Run("a failed snapshot aborts the release before anything is deployed", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		w := drillWorld("staging")
		w.Fail = map[string]bool{"create-db-snapshot": true}
		state := installFakes(t, w)
		if _, err := runCLI(t, "release", "staging", "--image=shipyard-app:test"); err == nil || !strings.Contains(err.Error(), "pre-migration snapshot failed") {
			t.Fatalf("err = %v", err)
		}
		if contains(readCalls(t, state), "pulumi up") || contains(readCalls(t, state), "pulumi preview") {
			t.Error("deployed after a failed snapshot")
		}
		if got := r.digest("staging"); got != cliDigestA {
			t.Errorf("config/staging.json digest = %q", got)
		}
		recs := r.records("staging")
		if last := recs[len(recs)-1]; last.Status != release.StatusFailed || !strings.Contains(last.Error, "InjectedFault") {
			t.Errorf("last record = %+v", last)
		}
	})
}

func TestReleaseRecordsMigrationTiming(t *testing.T) {
	report := `{"level":"INFO","msg":"loaded scenario large"}
{"migrationReport":{"seedNotes":1000000,"migrations":[{"version":3,"source":"00003_notes.sql","durationMs":6200,"locks":["AccessExclusiveLock on notes"]}]}}`

	t.Run("runs app migrate --report on the timing database, records it and warns above the threshold", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA) // migration version 2; the checkout has 3
		w := drillWorld("staging")
		w.AppOutput = report
		state := installFakes(t, w)
		app, err := exec.LookPath("app")
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("SHIPYARD_APP_BIN", app)
		t.Setenv("MIGRATION_TIMING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		out, err := runCLI(t, "release", "staging", "--image=shipyard-app:test")
		if err != nil {
			t.Fatalf("release: %v\n%s", err, out)
		}
		if !contains(readCalls(t, state), "app migrate --report --scratch --from=2") {
			t.Errorf("no app migrate --report --from=2 among:\n%s", strings.Join(readCalls(t, state), "\n"))
		}
		if !strings.Contains(out, "WARNING: migration 3 (00003_notes.sql) took 6.2s on 1000000 notes, above the 5s threshold; locks: AccessExclusiveLock on notes") {
			t.Errorf("no warning in:\n%s", out)
		}
		recs := r.records("staging")
		mt := recs[len(recs)-1].MigrationTiming
		if mt == nil || mt.SeedNotes != 1000000 || len(mt.Migrations) != 1 || mt.Migrations[0].DurationMS != 6200 || len(mt.Warnings) != 1 {
			t.Errorf("migrationTiming = %+v", mt)
		}
		if out, err := runCLI(t, "ledger", "--verify"); err != nil {
			t.Errorf("ledger --verify: %v\n%s", err, out)
		}
	})

	t.Run("without MIGRATION_TIMING_DATABASE_URL the release goes ahead and the record says why nothing was timed", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		installFakes(t, drillWorld("staging"))
		out, err := runCLI(t, "release", "staging", "--image=shipyard-app:test")
		if err != nil {
			t.Fatalf("release: %v\n%s", err, out)
		}
		recs := r.records("staging")
		if mt := recs[len(recs)-1].MigrationTiming; mt == nil || !strings.Contains(mt.Skipped, "MIGRATION_TIMING_DATABASE_URL is not set") {
			t.Errorf("migrationTiming = %+v", mt)
		}
		if !strings.Contains(out, "WARNING: migrations not timed") {
			t.Errorf("no warning in:\n%s", out)
		}
	})

	t.Run("a failing measurement is recorded, not fatal; a bad threshold is refused", func(t *testing.T) {
		r := newCLIRepo(t)
		r.setDigest("staging", cliDigestA)
		r.recorded("staging", release.KindRelease, cliDigestA)
		w := drillWorld("staging")
		w.AppOutput, w.AppExit = `{"level":"ERROR","msg":"migrate failed","err":"connection refused"}`, 1
		installFakes(t, w)
		app, _ := exec.LookPath("app")
		t.Setenv("SHIPYARD_APP_BIN", app)
		t.Setenv("MIGRATION_TIMING_DATABASE_URL", "postgres://postgres@127.0.0.1:1/postgres")
		t.Setenv("MIGRATION_TIMING_THRESHOLD", "soon")
		if _, err := runCLI(t, "release", "staging", "--image=shipyard-app:test"); err == nil || !strings.Contains(err.Error(), "MIGRATION_TIMING_THRESHOLD") {
			t.Fatalf("err = %v", err)
		}
		t.Setenv("MIGRATION_TIMING_THRESHOLD", "1m")
		out, err := runCLI(t, "release", "staging", "--image=shipyard-app:test")
		if err != nil {
			t.Fatalf("release: %v\n%s", err, out)
		}
		recs := r.records("staging")
		if mt := recs[len(recs)-1].MigrationTiming; mt == nil || !strings.Contains(mt.Skipped, "measurement failed") || !strings.Contains(mt.Skipped, "connection refused") || mt.ThresholdMillis != 60000 {
			t.Errorf("migrationTiming = %+v", mt)
		}
	})
}
