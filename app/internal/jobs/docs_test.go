package jobs_test

import (
	"fmt"
	"os"
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
