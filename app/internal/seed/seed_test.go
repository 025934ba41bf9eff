package seed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/seed"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The large scenario's volume is checked by db's TestMeasureMigrations,
// which loads it; here, that it keeps the empty-database rule.
func TestLargeRefusesANonEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	pool, err := db.NewPool(ctx, db.PoolConfig{URL: testenv.DatabaseURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool)
	if _, err := seed.Run(ctx, st, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(ctx, st, "large"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v", err)
	}
	var notes int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&notes); err != nil || notes != 3 {
		t.Errorf("notes = %d (%v), want the demo's 3", notes, err)
	}
	if got := seed.Names(); strings.Join(got, ",") != "demo,large" {
		t.Errorf("Names() = %v", got)
	}
}
