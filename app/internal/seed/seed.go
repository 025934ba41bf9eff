// Package seed loads named data scenarios into an empty database.
package seed

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Demo credentials, documented in docs/app.md.
const (
	DemoEmail    = "demo@example.com"
	DemoPassword = "demo-password"
)

type scenario func(ctx context.Context, st *store.Store) (string, error)

var scenarios = map[string]scenario{
	"demo":  demo,
	"large": large,
}

// The large scenario's size: realistic data for measuring migrations
// (`app migrate --report`).
const (
	LargeUsers = 1000
	LargeNotes = 1_000_000
)

// Names lists the scenarios.
func Names() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run loads scenario name. It refuses a database that already has users.
// It returns a one-line summary of what it loaded.
func Run(ctx context.Context, st *store.Store, name string) (string, error) {
	sc, ok := scenarios[name]
	if !ok {
		return "", fmt.Errorf("unknown scenario %q (available: %s)", name, strings.Join(Names(), ", "))
	}
	n, err := st.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("%w (is the database migrated? run `app migrate` first)", err)
	}
	if n > 0 {
		return "", fmt.Errorf("database is not empty (%d users); seed only loads into an empty database", n)
	}
	return sc(ctx, st)
}

func demo(ctx context.Context, st *store.Store) (string, error) {
	hash, err := auth.HashPassword(DemoPassword)
	if err != nil {
		return "", err
	}
	u, err := st.CreateUser(ctx, DemoEmail, "Demo User", hash)
	if err != nil {
		return "", err
	}
	notes := []struct{ title, body string }{
		{"Welcome to Shipyard", "This note was loaded by app seed demo. Log in as demo@example.com to see it."},
		{"Groceries", "milk eggs bread butter coffee"},
		{"Deploy checklist", "run make test, build the image, migrate, then roll the web, worker and clock services"},
	}
	for _, n := range notes {
		created, err := st.CreateNote(ctx, u.ID, n.title, n.body)
		if err != nil {
			return "", err
		}
		wc, summary := jobs.Analyze(created.Body)
		if _, _, err := st.SetNoteProcessed(ctx, created.ID, created.Body, wc, summary); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("loaded scenario demo: user %s (password %q) with %d notes", DemoEmail, DemoPassword, len(notes)), nil
}

// large loads LargeUsers users (large-<n>@example.com, password
// DemoPassword) and LargeNotes notes with set-based INSERTs: seconds, not
// minutes.
func large(ctx context.Context, st *store.Store) (string, error) {
	hash, err := auth.HashPassword(DemoPassword)
	if err != nil {
		return "", err
	}
	start := time.Now()
	n, err := st.LoadBulk(ctx, LargeUsers, LargeNotes, hash)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("loaded scenario large: %d users (large-<n>@example.com, password %q) and %d notes in %s", LargeUsers, DemoPassword, n, time.Since(start).Round(time.Millisecond)), nil
}
