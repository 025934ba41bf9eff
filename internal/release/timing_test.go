package release

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeTimer struct {
	from    []int64
	report  *MigrationTiming
	skipped string
	err     error
}

func (f *fakeTimer) Measure(_ context.Context, from int64) (*MigrationTiming, string, error) {
	f.from = append(f.from, from)
	return f.report, f.skipped, f.err
}

func TestReleaseRecordsMigrationTiming(t *testing.T) {
	ctx := context.Background()
	report := &MigrationTiming{SeedNotes: 1_000_000, Migrations: []MigrationReport{
		{Version: 6, Source: "00006_notes_score.sql", DurationMS: 7200, Locks: []string{"AccessExclusiveLock on notes"}},
		{Version: 7, Source: "00007_notes.sql", DurationMS: 40, Locks: []string{}},
	}}

	t.Run("records each migration and warns above the threshold", func(t *testing.T) {
		f := newFixture(t)
		f.released("staging", digestA) // version 5
		timer := &fakeTimer{report: report}
		var out bytes.Buffer
		f.ops.Timer, f.ops.Out = timer, &out
		rec, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
		if err != nil {
			t.Fatalf("Release: %v", err)
		}
		if len(timer.from) != 1 || timer.from[0] != 5 {
			t.Errorf("measured from %v, want the stack's version 5", timer.from)
		}
		mt := rec.MigrationTiming
		if mt == nil || mt.SeedNotes != 1_000_000 || len(mt.Migrations) != 2 || mt.ThresholdMillis != 5000 || len(mt.Warnings) != 1 ||
			!strings.Contains(mt.Warnings[0], "migration 6 (00006_notes_score.sql) took 7.2s") {
			t.Fatalf("migrationTiming = %+v", mt)
		}
		if !strings.Contains(out.String(), "WARNING: migration 6 (00006_notes_score.sql) took 7.2s on 1000000 notes, above the 5s threshold; locks: AccessExclusiveLock on notes") {
			t.Errorf("no warning in the output:\n%s", out.String())
		}
		recs := f.records("staging")
		if got := recs[len(recs)-1].MigrationTiming; got == nil || len(got.Migrations) != 2 || got.Migrations[0].Locks[0] != "AccessExclusiveLock on notes" {
			t.Errorf("ledger record timing = %+v", got)
		}
	})

	t.Run("a higher threshold warns of nothing", func(t *testing.T) {
		f := newFixture(t)
		f.released("staging", digestA)
		f.ops.Timer, f.ops.MigrationThreshold = &fakeTimer{report: report}, 10*time.Second
		rec, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
		if err != nil || len(rec.MigrationTiming.Warnings) != 0 || rec.MigrationTiming.ThresholdMillis != 10000 {
			t.Fatalf("err %v, timing %+v", err, rec.MigrationTiming)
		}
	})

	t.Run("an unavailable timing database does not fail the release and is recorded", func(t *testing.T) {
		for _, timer := range []*fakeTimer{{skipped: "MIGRATION_TIMING_DATABASE_URL is not set"}, {err: errors.New("connection refused")}} {
			f := newFixture(t)
			f.released("staging", digestA)
			f.ops.Timer = timer
			rec, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
			if err != nil || rec.Status != StatusSucceeded {
				t.Fatalf("Release: %v", err)
			}
			want := timer.skipped
			if timer.err != nil {
				want = "measurement failed: connection refused"
			}
			if rec.MigrationTiming == nil || rec.MigrationTiming.Skipped != want || rec.MigrationTiming.Migrations != nil {
				t.Errorf("timing = %+v, want skipped %q", rec.MigrationTiming, want)
			}
		}
	})

	t.Run("a release without new migrations measures nothing", func(t *testing.T) {
		f := newFixture(t)
		r := f.released("staging", digestA)
		r.ID, r.MigrationVersion = "staging-0002", 7
		if err := f.ops.ledger().Append(r); err != nil {
			t.Fatal(err)
		}
		timer := &fakeTimer{report: report}
		f.ops.Timer = timer
		rec, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
		if err != nil || len(timer.from) != 0 || !strings.Contains(rec.MigrationTiming.Skipped, "no migration newer than version 7") {
			t.Fatalf("err %v, measured %v, timing %+v", err, timer.from, rec.MigrationTiming)
		}
	})

	t.Run("records without the new fields still parse", func(t *testing.T) {
		line := `{"id":"prod-0001","stack":"prod","kind":"release","status":"succeeded","imageDigest":"` + digestA + `","imageRepository":"r","imageCommit":"c","migrationVersion":1,"configSha256":"x","deployCommit":"c","actor":"a","time":"2026-11-01T00:00:00Z"}`
		recs, err := parseLedger("prod.jsonl", []byte(line+"\n"))
		if err != nil || len(recs) != 1 || recs[0].MigrationTiming != nil || recs[0].SnapshotID != "" {
			t.Fatalf("%v %+v", err, recs)
		}
	})
}
