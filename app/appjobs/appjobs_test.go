package appjobs

import (
	"slices"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/jobs"
)

// Names are every scheduled job's, and only those: each one `app job`
// runs (jobs.Lookup).
func TestNamesAreTheScheduledJobs(t *testing.T) {
	names := Names()
	if len(names) == 0 || len(names) != len(jobs.Scheduled) {
		t.Fatalf("Names() = %v; want the %d scheduled jobs", names, len(jobs.Scheduled))
	}
	for _, n := range names {
		if _, err := jobs.Lookup(n); err != nil {
			t.Errorf("Names() has %q: %v", n, err)
		}
	}
	if !slices.Contains(names, jobs.TypeNoteSweep) {
		t.Errorf("Names() = %v, without %s", names, jobs.TypeNoteSweep)
	}
}
