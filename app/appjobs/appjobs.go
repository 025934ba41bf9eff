// Package appjobs lists the app's scheduled jobs for code outside app/:
// `shipyard job` names them when NAME is missing. The list is
// app/internal/jobs.Scheduled, the one place the clock, the worker, `make
// job`, `make jobs`, the alarms and the docs read; this package only reads
// it.
package appjobs

import "github.com/shipyard-kit/shipyard/app/internal/jobs"

// Names are the scheduled jobs' names, what `make job NAME=` takes, in
// the order of jobs.Scheduled.
func Names() []string {
	names := make([]string, len(jobs.Scheduled))
	for i, j := range jobs.Scheduled {
		names[i] = j.Name
	}
	return names
}
