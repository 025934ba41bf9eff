package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Overlap says what happens when a run of a scheduled job is due while an
// earlier run of the same job is still running.
type Overlap string

// Overlap policies (Kubernetes CronJob's Forbid and, roughly, a queue).
const (
	// Skip records the new run as skipped: the job never runs twice at
	// once and a late run is not made up.
	Skip Overlap = "skip"
	// Queue makes the new run wait for the running one to end, then run.
	Queue Overlap = "queue"
)

// Overlaps lists the allowed policies.
var Overlaps = []Overlap{Skip, Queue}

// Job is one scheduled job: a task type the clock enqueues on a cron
// schedule and the worker runs (see Scheduled).
type Job struct {
	// Name is the asynq task type (and the name `make job NAME=` takes).
	Name string
	// Schedule is a 5-field cron expression (minute hour day-of-month
	// month day-of-week) or a descriptor such as @hourly or @daily.
	Schedule string
	// TimeZone is an IANA zone the schedule is read in; "" is UTC.
	TimeZone string
	// Timeout ends a run: its context is cancelled and the run is
	// recorded as timeout.
	Timeout time.Duration
	// Overlap is the policy when a run is due while another runs.
	Overlap Overlap
	// Grace is how much later than its period a success may come before
	// the missed-run alarm (jobLate) goes off.
	Grace time.Duration
	// Does says what the job does, for the docs.
	Does string
}

// Scheduled is every scheduled job: the one place the clock, the worker,
// `make job`, `make jobs`, the alarms and docs/operations.md read.
var Scheduled = []Job{
	{
		Name: TypeNoteSweep, Schedule: "* * * * *", Timeout: 50 * time.Second, Overlap: Skip, Grace: 30 * time.Second,
		Does: "re-processes notes whose processing is missing (e.g. enqueue failed while Redis was down)",
	},
	{
		Name: TypeTokensPurge, Schedule: "7 * * * *", Timeout: 5 * time.Minute, Overlap: Skip, Grace: 15 * time.Minute,
		Does: fmt.Sprintf("deletes expired and revoked tokens, and idempotency keys older than %d h", int(store.IdempotencyKeyTTL.Hours())),
	},
	{
		Name: TypeJobRunsPrune, Schedule: "23 3 * * *", Timeout: 5 * time.Minute, Overlap: Skip, Grace: time.Hour,
		Does: fmt.Sprintf("deletes job run records older than %d days", int(RunRetention.Hours()/24)),
	},
}

// cronParser reads 5-field expressions and descriptors (@hourly,
// @every 10m).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec is a Job with its schedule parsed.
type Spec struct {
	Job
	sched cron.Schedule
	loc   *time.Location
}

// Parse validates j and parses its schedule. Errors name the field.
func (j Job) Parse() (*Spec, error) {
	if j.Name == "" || strings.ContainsAny(j.Name, " @\t\n") {
		return nil, fmt.Errorf("name: %q must be a non-empty task type without spaces or @", j.Name)
	}
	loc := time.UTC
	if j.TimeZone != "" {
		l, err := time.LoadLocation(j.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("job %s: timeZone: %q is not an IANA time zone (e.g. Europe/Paris): %v", j.Name, j.TimeZone, err)
		}
		loc = l
	}
	if strings.Contains(j.Schedule, "TZ=") {
		return nil, fmt.Errorf("job %s: schedule: %q: give the time zone in timeZone, not in the expression", j.Name, j.Schedule)
	}
	s, err := cronParser.Parse(j.Schedule)
	if err != nil {
		return nil, fmt.Errorf("job %s: schedule: %q is not a 5-field cron expression (minute hour day-of-month month day-of-week) or a descriptor (@hourly, @daily, @every 10m): %v", j.Name, j.Schedule, err)
	}
	if j.Timeout <= 0 {
		return nil, fmt.Errorf("job %s: timeout: must be positive (got %s)", j.Name, j.Timeout)
	}
	if !slices.Contains(Overlaps, j.Overlap) {
		return nil, fmt.Errorf("job %s: overlap: %q is not one of skip, queue", j.Name, j.Overlap)
	}
	if j.Grace < 0 {
		return nil, fmt.Errorf("job %s: grace: must not be negative (got %s)", j.Name, j.Grace)
	}
	sp := &Spec{Job: j, sched: s, loc: loc}
	if p := sp.Period(time.Now()); p < time.Minute {
		return nil, fmt.Errorf("job %s: schedule: %q runs every %s: the clock schedules at most once a minute", j.Name, j.Schedule, p)
	}
	return sp, nil
}

// Next returns the first slot strictly after t.
func (s *Spec) Next(t time.Time) time.Time {
	return s.sched.Next(t.In(s.loc)).UTC()
}

// Prev returns the latest slot at or before t (zero if there is none in
// the 400 days before t).
func (s *Spec) Prev(t time.Time) time.Time {
	// cron has no Prev: step back until a Next lands at or before t.
	for back := time.Minute; back <= 400*24*time.Hour; back *= 2 {
		n := s.Next(t.Add(-back))
		if n.After(t) {
			continue
		}
		for {
			m := s.Next(n)
			if m.After(t) {
				return n
			}
			n = m
		}
	}
	return time.Time{}
}

// Period is the time between the two slots after t: what "every" the
// schedule means around t.
func (s *Spec) Period(t time.Time) time.Duration {
	n := s.Next(t)
	return s.Next(n).Sub(n)
}

// Specs parses Scheduled, refusing a duplicate name.
func Specs() ([]*Spec, error) {
	return ParseJobs(Scheduled)
}

// ParseJobs parses jobs, refusing a duplicate name.
func ParseJobs(jobs []Job) ([]*Spec, error) {
	out := make([]*Spec, 0, len(jobs))
	var errs []error
	seen := map[string]bool{}
	for _, j := range jobs {
		if seen[j.Name] {
			errs = append(errs, fmt.Errorf("job %s: name: declared twice", j.Name))
			continue
		}
		seen[j.Name] = true
		s, err := j.Parse()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// Lookup returns the parsed job named name.
func Lookup(name string) (*Spec, error) {
	specs, err := Specs()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return nil, fmt.Errorf("no scheduled job %q (jobs: %s)", name, strings.Join(names, ", "))
}
