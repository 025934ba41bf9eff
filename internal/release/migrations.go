package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// measureMigrations times the migrations newer than the stack's current
// version. It never fails the release: what went wrong is in the record's
// migrationTiming.skipped and said to the operator.
func (o *Ops) measureMigrations(ctx context.Context, cfg *stackconfig.Config, version int64) *MigrationTiming {
	threshold := o.MigrationThreshold
	if threshold <= 0 {
		threshold = DefaultMigrationThreshold
	}
	t := &MigrationTiming{ThresholdMillis: threshold.Milliseconds()}
	var from int64
	if cfg.Release.ImageDigest != "" {
		recs, _ := o.ledger().Read(cfg.Stack)
		if r, ok := LatestSucceeded(recs, cfg.Release.ImageDigest); ok {
			from = r.MigrationVersion
		}
	}
	if from >= version {
		t.Skipped = fmt.Sprintf("no migration newer than version %d, which the stack runs", from)
		return t
	}
	if o.Timer == nil {
		t.Skipped = "no migration timer configured"
		o.say("WARNING: migrations not timed: %s", t.Skipped)
		return t
	}
	o.say("timing migrations %d..%d on a throwaway database with the large seed", from+1, version)
	report, skipped, err := o.Timer.Measure(ctx, from)
	switch {
	case err != nil:
		t.Skipped = "measurement failed: " + err.Error()
	case skipped != "":
		t.Skipped = skipped
	case report == nil:
		t.Skipped = "the measurement returned no report"
	}
	if t.Skipped != "" {
		o.say("WARNING: migrations not timed: %s", t.Skipped)
		return t
	}
	t.SeedNotes, t.Migrations = report.SeedNotes, report.Migrations
	for _, m := range t.Migrations {
		d := time.Duration(m.DurationMS) * time.Millisecond
		o.say("migration %d (%s): %s, locks: %s", m.Version, m.Source, d, orNone(strings.Join(m.Locks, ", ")))
		if d > threshold {
			w := fmt.Sprintf("migration %d (%s) took %s on %d notes, above the %s threshold; locks: %s", m.Version, m.Source, d, t.SeedNotes, threshold, orNone(strings.Join(m.Locks, ", ")))
			t.Warnings = append(t.Warnings, w)
			o.say("WARNING: %s: the previous release's requests wait on these locks during the deploy (docs/operations.md, writing a safe migration)", w)
		}
	}
	return t
}

// snapshotBeforeMigration takes a manual snapshot of the stack's database
// when the deployment changes its migration version: the version of the
// release the stack runs now (the ledger's newest succeeded record of the
// digest in config/<stack>.json) differs from rec's. A stack that runs no
// release yet has no data to keep; one that runs a digest the ledger does
// not know gets a snapshot (its version is unknown). It returns the
// snapshot id ("" when none was needed).
func (o *Ops) snapshotBeforeMigration(ctx context.Context, cfg *stackconfig.Config, rec Record) (string, error) {
	current := cfg.Release.ImageDigest
	if current == "" {
		return "", nil
	}
	recs, err := o.ledger().Read(cfg.Stack)
	if err != nil && !errors.Is(err, ErrNoLedger) {
		return "", err
	}
	was := "unknown"
	if r, ok := LatestSucceeded(recs, current); ok {
		if r.MigrationVersion == rec.MigrationVersion {
			return "", nil
		}
		was = strconv.FormatInt(r.MigrationVersion, 10)
	}
	out, err := o.Pulumi.Outputs(ctx, cfg.Stack)
	if err != nil {
		return "", fmt.Errorf("%w: reading outputs of stack %q: %w", ErrSnapshot, cfg.Stack, err)
	}
	instance := out.String("databaseInstanceId")
	if instance == "" {
		return "", fmt.Errorf("%w: stack %q has no databaseInstanceId output; run `make up STACK=%s` first (the migration version changes from %s to %d, so the database is snapshotted first)",
			ErrSnapshot, cfg.Stack, cfg.Stack, was, rec.MigrationVersion)
	}
	if o.Backups == nil {
		return "", fmt.Errorf("%w: no snapshot client configured", ErrSnapshot)
	}
	id := SnapshotID(instance, rec.ID, rec.MigrationVersion)
	o.say("migration version %s -> %d: snapshotting %s as %s (aws rds create-db-snapshot; waits until available)", was, rec.MigrationVersion, instance, id)
	if err := o.Backups.Snapshot(ctx, instance, id); err != nil {
		return id, fmt.Errorf("%w: %s of %s: %w; nothing was deployed", ErrSnapshot, id, instance, err)
	}
	o.say("snapshot %s available", id)
	return id, nil
}

// SnapshotID names the pre-migration snapshot of a deployment:
// "<instance>-<record id>-m<version>", reduced to what RDS accepts
// (letters, digits and single hyphens, starting with a letter).
func SnapshotID(instance, recordID string, version int64) string {
	raw := fmt.Sprintf("%s-%s-m%d", instance, recordID, version)
	var b strings.Builder
	for _, r := range strings.ToLower(raw) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "s-" + id
	}
	if len(id) > 255 {
		id = strings.TrimRight(id[:255], "-")
	}
	return id
}

// MigrationVersion returns the highest version among the goose migration
// files in dir ("00042_add_index.sql" is 42).
func MigrationVersion(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("reading migrations: %w", err)
	}
	var max int64 = -1
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".sql" {
			continue
		}
		digits := name
		if i := strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = name[:i]
		}
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: the name must start with its version number (goose: 00001_init.sql)", filepath.Join(dir, name))
		}
		if v > max {
			max = v
		}
	}
	if max < 0 {
		return 0, fmt.Errorf("no *.sql migrations in %s", dir)
	}
	return max, nil
}
