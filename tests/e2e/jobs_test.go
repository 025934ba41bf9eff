package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/retry"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// scheduledJobs checks issue 23's scheduled jobs on the suite's stack:
// the clock runs them by schedule, `shipyard job` runs one now through
// the worker and `shipyard jobs` lists them; a run due while another run
// of the same skip job holds it is refused; two `shipyard job` at once
// both succeed and never overlap. (The missed-run alert, jobLate, fires
// and clears in alertsFireAndClear, on its worker stop.)
func (s *localStack) scheduledJobs(t *testing.T, out Outputs, cfg *stackconfig.Config) {
	type job struct {
		Name        string  `json:"name"`
		Schedule    string  `json:"schedule"`
		LastRun     *string `json:"lastRun"`
		LastOutcome string  `json:"lastOutcome"`
	}
	jobs := func(t *testing.T) (map[string]job, error) {
		stdout, err := s.shipyard(t, "jobs", s.name, "--format=json")
		if err != nil {
			return nil, err
		}
		var list []job
		if err := json.Unmarshal([]byte(stdout), &list); err != nil {
			return nil, fmt.Errorf("shipyard jobs --format=json printed %q: %w", stdout, err)
		}
		m := map[string]job{}
		for _, j := range list {
			m[j.Name] = j
		}
		return m, nil
	}
	psql := func(t *testing.T, sql string) string {
		return strings.TrimSpace(dockerOut(t, "exec", out.Containers["postgres"], "psql", "--username", cfg.Database.Username,
			"--dbname", cfg.Database.Name, "--no-align", "--tuples-only", "--quiet", "--command", sql))
	}

	t.Run("the clock runs the every-minute sweep by schedule, and shipyard jobs lists every job", func(t *testing.T) {
		retry.DoWithRetry(t, "note:sweep run by schedule", 40, 3*time.Second, func() (string, error) {
			m, err := jobs(t)
			if err != nil {
				return "", err
			}
			for _, name := range []string{"note:sweep", "tokens:purge", "jobs:prune"} {
				if _, ok := m[name]; !ok {
					return "", fmt.Errorf("shipyard jobs lists %v, not %s", m, name)
				}
			}
			if sw := m["note:sweep"]; sw.LastOutcome != "ok" || sw.LastRun == nil || sw.Schedule != "* * * * *" {
				return "", fmt.Errorf("note:sweep: %+v", sw)
			}
			return "", nil
		})
		if n := psql(t, `SELECT count(*) FROM job_runs WHERE job = 'note:sweep' AND trigger = 'schedule' AND outcome = 'ok'`); n == "0" {
			t.Errorf("no scheduled run of note:sweep recorded as ok")
		}
		if n := psql(t, `SELECT count(*) FROM (SELECT slot_at FROM job_runs WHERE trigger = 'schedule' GROUP BY job, slot_at HAVING count(*) > 1) d`); n != "0" {
			t.Errorf("%s slots recorded twice", n)
		}
	})

	t.Run("shipyard job runs tokens:purge now, twice at once without overlap, and records it", func(t *testing.T) {
		if _, err := s.shipyard(t, "job", s.name, "tokens:purge"); err != nil {
			t.Fatal(err)
		}
		m, err := jobs(t)
		if err != nil {
			t.Fatal(err)
		}
		if p := m["tokens:purge"]; p.LastOutcome != "ok" || p.LastRun == nil {
			t.Fatalf("after shipyard job: %+v", p)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = s.shipyard(t, "job", s.name, "tokens:purge") }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := psql(t, `SELECT count(*) FROM job_runs a JOIN job_runs b ON a.job = b.job AND a.id < b.id
			WHERE a.job = 'tokens:purge' AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)`); n != "0" {
			t.Errorf("%s pairs of tokens:purge runs overlapped", n)
		}
		if _, err := s.shipyard(t, "job", s.name, "no:such-job"); err == nil {
			t.Error("shipyard job of an unknown job succeeded")
		}
	})

	t.Run("a run due while another run of the skip job holds it is refused", func(t *testing.T) {
		// A run held by a worker (a lease of two minutes), then a slot
		// the clock has recorded but not enqueued: the clock's sweep
		// enqueues it, the worker refuses it.
		held := firstLine(psql(t, `INSERT INTO job_runs (job, slot_at, trigger, outcome, started_at, lease_until)
			VALUES ('tokens:purge', now() - interval '1 day', 'manual', 'running', now(), now() + interval '2 minutes') RETURNING id`))
		defer psql(t, `DELETE FROM job_runs WHERE id = `+held)
		due := firstLine(psql(t, `INSERT INTO job_runs (job, slot_at, trigger) VALUES ('tokens:purge', now(), 'schedule') RETURNING id`))
		retry.DoWithRetry(t, "the due run refused", 30, 2*time.Second, func() (string, error) {
			got := psql(t, `SELECT outcome || ' ' || coalesce(error, '') FROM job_runs WHERE id = `+due)
			if !strings.HasPrefix(got, "skipped ") {
				return "", fmt.Errorf("run %s: %q", due, got)
			}
			if !strings.Contains(got, "run "+held+" of tokens:purge was still running (overlap: skip)") {
				t.Errorf("skipped run: %q", got)
			}
			return "", nil
		})
		if n := psql(t, `SELECT count(*) FROM job_runs WHERE job = 'tokens:purge' AND outcome = 'running'`); n != "1" {
			t.Errorf("%s running tokens:purge runs, want only the held one", n)
		}
	})
}

// firstLine is the first line of psql's output (a RETURNING value before
// the command tag).
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
