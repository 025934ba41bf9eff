package release

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSnapshotBeforeAMigrationVersionChange(t *testing.T) {
	ctx := context.Background()

	t.Run("a release that changes the migration version snapshots first and records the snapshot", func(t *testing.T) {
		f := newFixture(t)
		f.released("staging", digestA) // migration version 5; the checkout has 7
		rec, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
		if err != nil {
			t.Fatalf("Release: %v", err)
		}
		want := "snapshot shipyard-staging shipyard-staging-staging-0002-m7"
		i, j := indexOf(f.w.calls, want), indexOf(f.w.calls, "preview staging")
		if i < 0 || j < 0 || i > j {
			t.Fatalf("want %q before the preview; calls %v", want, f.w.calls)
		}
		recs := f.records("staging")
		if rec.SnapshotID != "shipyard-staging-staging-0002-m7" || recs[len(recs)-1].SnapshotID != rec.SnapshotID {
			t.Errorf("record snapshotId = %q, ledger %+v", rec.SnapshotID, recs[len(recs)-1])
		}
	})

	t.Run("the same migration version takes no snapshot", func(t *testing.T) {
		f := newFixture(t)
		src := f.released("staging", digestA)
		src.ID, src.ImageDigest, src.MigrationVersion = "staging-0002", digestB, 7
		f.w.push(repoURL("staging"), digestB)
		if err := f.ops.ledger().Append(src); err != nil {
			t.Fatal(err)
		}
		writeDigest(f, "staging", digestB)
		rec, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
		if err != nil {
			t.Fatalf("Release: %v", err)
		}
		if f.called("snapshot") || rec.SnapshotID != "" {
			t.Errorf("snapshot taken: %v, record %+v", f.w.calls, rec)
		}
	})

	t.Run("a stack without a release has nothing to snapshot", func(t *testing.T) {
		f := newFixture(t)
		f.w.deploy("dev", "")
		if _, err := f.ops.Release(ctx, "dev", "shipyard-app:local"); err != nil || f.called("snapshot") {
			t.Errorf("err %v, calls %v", err, f.w.calls)
		}
	})

	t.Run("a failed snapshot aborts before the config changes and is recorded", func(t *testing.T) {
		f := newFixture(t)
		f.released("staging", digestA)
		before := append([]byte(nil), f.read("staging")...)
		f.w.snapshotErr = errors.New("SnapshotQuotaExceeded")
		_, err := f.ops.Release(ctx, "staging", "shipyard-app:local")
		if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "SnapshotQuotaExceeded") {
			t.Fatalf("err = %v", err)
		}
		if f.called("preview") || f.called("up") {
			t.Errorf("deployed after a failed snapshot: %v", f.w.calls)
		}
		if !bytes.Equal(f.read("staging"), before) {
			t.Error("config/staging.json changed")
		}
		recs := f.records("staging")
		last := recs[len(recs)-1]
		if last.Status != StatusFailed || last.SnapshotID == "" || !strings.Contains(last.Error, "snapshot") {
			t.Errorf("last record = %+v", last)
		}
	})

	t.Run("a stack without the databaseInstanceId output is refused", func(t *testing.T) {
		f := newFixture(t)
		f.released("staging", digestA)
		delete(f.w.outputs["staging"], "databaseInstanceId")
		if _, err := f.ops.Release(ctx, "staging", "shipyard-app:local"); !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "make up STACK=staging") {
			t.Fatalf("err = %v", err)
		}
		if f.called("up") {
			t.Errorf("deployed: %v", f.w.calls)
		}
	})

	t.Run("a rollback to an older migration version snapshots too", func(t *testing.T) {
		f := newFixture(t)
		f.released("staging", digestA)                                                 // version 5
		if _, err := f.ops.Release(ctx, "staging", "shipyard-app:local"); err != nil { // version 7
			t.Fatal(err)
		}
		f.w.calls = nil
		rec, err := f.ops.Rollback(ctx, "staging", "")
		if err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if rec.SnapshotID != "shipyard-staging-staging-0003-m5" || !f.called("snapshot shipyard-staging shipyard-staging-staging-0003-m5") {
			t.Errorf("record %+v, calls %v", rec, f.w.calls)
		}
	})
}

func TestSnapshotID(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"shipyard-prod", "prod-0004"}:         "shipyard-prod-prod-0004-m3",
		{"shipyard-my_stack", "my_stack-0001"}: "shipyard-my-stack-my-stack-0001-m3",
		{"1db", "x--1"}:                        "s-1db-x-1-m3",
	} {
		if got := SnapshotID(in[0], in[1], 3); got != want {
			t.Errorf("SnapshotID(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
