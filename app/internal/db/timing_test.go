package db_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/seed"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMeasureMigrations(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a million notes")
	}
	ctx := context.Background()
	initSQL, err := os.ReadFile("migrations/00001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	migrations := fstest.MapFS{
		"00001_init.sql": {Data: initSQL},
		// A volatile default rewrites the table under ACCESS EXCLUSIVE.
		"00002_notes_score.sql": {Data: []byte("-- +goose Up\nALTER TABLE notes ADD COLUMN score double precision NOT NULL DEFAULT random();\n")},
		// A plain CREATE INDEX blocks writes (SHARE).
		"00003_notes_title_idx.sql": {Data: []byte("-- +goose Up\nCREATE INDEX notes_title_idx ON notes (title);\n")},
	}
	url := testenv.EmptyDatabaseURL(t)
	var seeded time.Duration
	var notes int64
	report, err := db.MeasureMigrations(ctx, db.PoolConfig{URL: url}, db.TimingOptions{
		Migrations: migrations, From: 1,
		Prepare: func(ctx context.Context) error {
			pool, err := db.NewPool(ctx, db.PoolConfig{URL: url})
			if err != nil {
				return err
			}
			defer pool.Close()
			start := time.Now()
			if _, err := seed.Run(ctx, store.New(pool), "large"); err != nil {
				return err
			}
			seeded = time.Since(start)
			return pool.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&notes)
		},
	})
	if err != nil {
		t.Fatalf("MeasureMigrations: %v", err)
	}
	t.Logf("seed large: %d notes in %s", notes, seeded)
	if notes != seed.LargeNotes {
		t.Errorf("%d notes, want %d", notes, seed.LargeNotes)
	}
	if len(report) != 2 || report[0].Version != 2 || report[1].Version != 3 {
		t.Fatalf("report = %+v, want one entry for each of migrations 2 and 3", report)
	}
	for _, m := range report {
		t.Logf("migration %d (%s): %d ms, locks %v", m.Version, m.Source, m.DurationMS, m.Locks)
		if m.DurationMS <= 0 {
			t.Errorf("migration %d: duration %d ms", m.Version, m.DurationMS)
		}
	}
	if !slices.Contains(report[0].Locks, "AccessExclusiveLock on notes") {
		t.Errorf("the rewriting ALTER TABLE shows locks %v, want AccessExclusiveLock on notes", report[0].Locks)
	}
	if !slices.Contains(report[1].Locks, "ShareLock on notes") {
		t.Errorf("CREATE INDEX shows locks %v, want ShareLock on notes", report[1].Locks)
	}
}
