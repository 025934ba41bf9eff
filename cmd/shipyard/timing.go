package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// appTimer implements release.MigrationTimer by running the app binary of
// this checkout: `app migrate --report --scratch --from=N` with
// DATABASE_URL=$MIGRATION_TIMING_DATABASE_URL. The app creates a scratch
// database on that server (the user needs CREATEDB), applies the
// migrations up to N, loads `seed large` (1M notes), times the rest one by
// one with their locks, prints the report and drops the database. Any
// Postgres of the same major version as the stack's will do, such as one
// started for the purpose; not the local stack's, which publishes no port
// on the host.
type appTimer struct {
	x   execer
	bin string
	url string
	pwd string
}

// newAppTimer reads the timing settings from the environment: the
// database (MIGRATION_TIMING_DATABASE_URL, its password in
// MIGRATION_TIMING_DATABASE_PASSWORD) and the binary (SHIPYARD_APP_BIN,
// default bin/app, which `make release` builds).
func newAppTimer(x execer, root string, getenv func(string) string) appTimer {
	bin := getenv("SHIPYARD_APP_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "app")
	}
	return appTimer{x: x, bin: bin, url: getenv("MIGRATION_TIMING_DATABASE_URL"), pwd: getenv("MIGRATION_TIMING_DATABASE_PASSWORD")}
}

// migrationThreshold is MIGRATION_TIMING_THRESHOLD (a Go duration), or the
// default.
func migrationThreshold(getenv func(string) string) (time.Duration, error) {
	v := getenv("MIGRATION_TIMING_THRESHOLD")
	if v == "" {
		return release.DefaultMigrationThreshold, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("MIGRATION_TIMING_THRESHOLD=%q: want a positive Go duration such as 5s", v)
	}
	return d, nil
}

func (t appTimer) Measure(ctx context.Context, from int64) (*release.MigrationTiming, string, error) {
	if t.url == "" {
		return nil, "MIGRATION_TIMING_DATABASE_URL is not set (a Postgres URL whose user may CREATE DATABASE; docs/operations.md)", nil
	}
	if _, err := os.Stat(t.bin); err != nil {
		return nil, fmt.Sprintf("no app binary at %s (`make build`, or set SHIPYARD_APP_BIN)", t.bin), nil
	}
	out, err := t.x(ctx, call{Name: t.bin, Args: []string{"migrate", "--report", "--scratch", "--from=" + strconv.FormatInt(from, 10)},
		Env: []string{"DATABASE_URL=" + t.url, "DATABASE_PASSWORD=" + t.pwd}})
	if err != nil {
		return nil, "", fmt.Errorf("%s migrate --report: %w: %s", t.bin, err, lastLine(out))
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if !bytes.HasPrefix(line, []byte(`{"migrationReport":`)) {
			continue
		}
		var r struct {
			MigrationReport release.MigrationTiming `json:"migrationReport"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, "", fmt.Errorf("reading the migration report: %w", err)
		}
		return &r.MigrationReport, "", nil
	}
	return nil, "", fmt.Errorf("%s migrate --report printed no report: %s", t.bin, lastLine(out))
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
