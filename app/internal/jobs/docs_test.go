package jobs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/jobs"
)

// The jobs table of docs/operations.md sits between these markers.
const (
	jobsDocBegin = "<!-- jobs table: generated from app/internal/jobs.Scheduled, kept in sync by TestTheOperationsDocListsEveryScheduledJob -->"
	jobsDocEnd   = "<!-- end of the jobs table -->"
)

// jobsDocTable renders jobs.Scheduled as the docs show it.
func jobsDocTable(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| Job | Schedule | Time zone | Timeout | Overlap | Late after (period + grace) | Does |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	specs, err := jobs.Specs()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range specs {
		tz := s.TimeZone
		if tz == "" {
			tz = "UTC"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s | %s |\n", s.Name, s.Schedule, tz, s.Timeout, s.Overlap, s.Period(at)+s.Grace, s.Does)
	}
	return b.String()
}

func TestTheOperationsDocListsEveryScheduledJob(t *testing.T) {
	data, err := os.ReadFile("../../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), jobsDocBegin+"\n")
	table, _, ok2 := strings.Cut(rest, jobsDocEnd)
	if want := jobsDocTable(t); !ok || !ok2 || table != want {
		t.Errorf("docs/operations.md's jobs table is not jobs.Scheduled; put this between the markers:\n%s\n%s%s", jobsDocBegin, want, jobsDocEnd)
	}
}

// TestTheScheduledJobsHaveOneTableInTheDocs: docs/operations.md's
// generated table is the only one that lists the scheduled jobs; other
// docs link to it. A second table kept by hand (docs/app.md had one) goes
// stale when a job changes.
func TestTheScheduledJobsHaveOneTableInTheDocs(t *testing.T) {
	files, err := filepath.Glob("../../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	files = append(files, "../../../README.md")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if before, rest, ok := strings.Cut(text, jobsDocBegin); ok {
			_, after, _ := strings.Cut(rest, jobsDocEnd)
			text = before + after
		}
		for _, line := range strings.Split(text, "\n") {
			for _, j := range jobs.Scheduled {
				if strings.HasPrefix(strings.TrimSpace(line), "| `"+j.Name+"`") {
					t.Errorf("%s: a table row of %s outside the generated table (%q): link to docs/operations.md#scheduled-jobs instead", filepath.Base(f), j.Name, line)
				}
			}
		}
	}
}
