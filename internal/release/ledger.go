package release

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kinds of ledger records.
const (
	KindRelease  = "release"  // an image built from a commit and deployed to its first stack
	KindPromote  = "promote"  // an image copied by digest from another stack's release
	KindRollback = "rollback" // an earlier release of the same stack deployed again
	// KindRedeploy: the stack's current release (same digest) deployed
	// again by `make up` through CodeDeploy, for what its web tasks only
	// get from a new deployment: the task definition up registered, a
	// secret's new value (Reason).
	KindRedeploy = "redeploy"
)

// Statuses of ledger records.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Record is one line of a stack's ledger, releases/<stack>.jsonl: an
// immutable account of one deployment of an image to the stack.
type Record struct {
	// ID is "<stack>-<n>", n counting the stack's records from 1.
	ID     string `json:"id"`
	Stack  string `json:"stack"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// ImageDigest is what every process type of the stack runs; empty
	// only in a failed release whose push failed.
	ImageDigest string `json:"imageDigest"`
	// ImageRepository is the repository the stack pulls from (its ECR
	// repository URL).
	ImageRepository string `json:"imageRepository"`
	// ImageCommit is the git commit the image was built from; a promotion
	// or rollback carries it over from the release that built the image.
	ImageCommit string `json:"imageCommit"`
	// MigrationVersion is the highest database migration embedded in the
	// image (app/internal/db/migrations at ImageCommit).
	MigrationVersion int64 `json:"migrationVersion"`
	// ConfigSHA256 is the sha256 of config/<stack>.json as deployed (with
	// this digest written in).
	ConfigSHA256 string `json:"configSha256"`
	// DeployCommit is the git commit of the checkout that ran the
	// deployment (its config and infrastructure code).
	DeployCommit string `json:"deployCommit"`
	// Source names the release a promotion, rollback or redeploy
	// deployed again.
	Source *Source `json:"source,omitempty"`
	// Reason says why a redeploy was needed.
	Reason string `json:"reason,omitempty"`
	// Actor is who or what ran it: the CI run or user@host.
	Actor string    `json:"actor"`
	Time  time.Time `json:"time"`
	// Error says why a failed record failed.
	Error string `json:"error,omitempty"`
	// Alarms are the deployment alarms whose ALARM state made ECS fail the
	// deployment and roll it back, sorted (failed records only).
	Alarms []string `json:"alarms,omitempty"`
	// SnapshotID is the manual RDS snapshot taken before a deployment
	// that changes the stack's migration version (older records lack it).
	SnapshotID string `json:"snapshotId,omitempty"`
	// MigrationTiming is how long each migration took on a throwaway
	// database with realistic data, measured before a release (older
	// records lack it).
	MigrationTiming *MigrationTiming `json:"migrationTiming,omitempty"`
	// Strategy is the deploy.strategy the release shifted traffic with
	// (docker stacks' releases; older records lack it).
	Strategy string `json:"strategy,omitempty"`
	// Steps are its traffic steps, in order, with the gates' readings.
	Steps []TrafficStep `json:"steps,omitempty"`
	// Abort says why a progressive release was rolled back.
	Abort *Abort `json:"abort,omitempty"`
	// CodeDeployDeployment is the CodeDeploy deployment that shifted a
	// CODE_DEPLOY-controlled web service (aws).
	CodeDeployDeployment string `json:"codeDeployDeploymentId,omitempty"`
}

// TrafficStep is one step of a progressive release: the new version's
// share of requests from Start to End, and what the gates read.
type TrafficStep struct {
	Percent int       `json:"percent"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Gates are the last readings of the step's gates (none for an
	// ungated step).
	Gates []GateReading `json:"gates,omitempty"`
}

// Gate outcomes.
const (
	GatePass   = "pass"
	GateBreach = "breach"
	// GateNoData: fewer requests than deploy.minRequests reached the new
	// version in the gate's window, or the value was empty: never a pass.
	GateNoData = "no data"
)

// GateReading is one gate read on the new version's traffic.
type GateReading struct {
	Gate string `json:"gate"`
	// Value is the gate's value; nil when there was none.
	Value      *float64 `json:"value,omitempty"`
	Comparison string   `json:"comparison"`
	Threshold  float64  `json:"threshold"`
	Unit       string   `json:"unit"`
	// Requests is how many requests the new version served in the
	// gate's window.
	Requests float64   `json:"requests"`
	Outcome  string    `json:"outcome"`
	Time     time.Time `json:"time"`
}

// Abort is why a progressive release was rolled back.
type Abort struct {
	// Reason is the one line the release printed.
	Reason string `json:"reason"`
	// Gate is the reading that failed the release (nil when something
	// else did: the new containers never became healthy, a signal).
	Gate *GateReading `json:"gate,omitempty"`
	// Percent is the new version's share when it was rolled back.
	Percent int       `json:"percent"`
	Time    time.Time `json:"time"`
}

// String is the one line of a reading: "targetErrorRate 100% > 5% (148
// requests)" or "targetErrorRate no data (3 requests, minimum 20)".
func (g GateReading) String() string {
	if g.Value == nil {
		return fmt.Sprintf("%s %s (%.0f requests)", g.Gate, g.Outcome, g.Requests)
	}
	cmp := g.Comparison
	if g.Outcome != GateBreach {
		cmp = map[string]string{">": "<=", "<": ">="}[g.Comparison]
	}
	return fmt.Sprintf("%s %s%s %s threshold %s%s: %s (%.0f requests)", g.Gate, fmtFloat(*g.Value), unitText(g.Unit), cmp, fmtFloat(g.Threshold), unitText(g.Unit), g.Outcome, g.Requests)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

func unitText(u string) string {
	switch u {
	case "%":
		return "%"
	case "seconds":
		return "s"
	case "":
		return ""
	}
	return " " + u
}

// MigrationTiming is the measurement of the migrations a release applies,
// on a throwaway Postgres seeded with the "large" scenario.
type MigrationTiming struct {
	// Skipped says why nothing was measured (no timing database).
	Skipped string `json:"skipped,omitempty"`
	// SeedNotes is how many notes the database held.
	SeedNotes  int64             `json:"seedNotes,omitempty"`
	Migrations []MigrationReport `json:"migrations,omitempty"`
	// ThresholdMillis is the warning threshold used.
	ThresholdMillis int64 `json:"thresholdMillis,omitempty"`
	// Warnings name the migrations above the threshold.
	Warnings []string `json:"warnings,omitempty"`
}

// MigrationReport is one migration's duration and the locks seen while it
// ran (`app migrate --report` prints them).
type MigrationReport struct {
	Version    int64    `json:"version"`
	Source     string   `json:"source"`
	DurationMS int64    `json:"durationMs"`
	Locks      []string `json:"locks"`
}

// Source is the release a promotion or rollback deployed again.
type Source struct {
	Stack   string `json:"stack"`
	Release string `json:"release"`
}

// Ledger is the directory of append-only ledgers, one JSON Lines file per
// stack. Lines are only ever appended: a record is never rewritten or
// removed, so `git log -p releases/` is the audit trail.
type Ledger struct {
	Dir string
}

// ErrNoLedger is returned when a stack has no ledger file yet.
var ErrNoLedger = errors.New("no ledger")

func (l Ledger) path(stack string) string { return filepath.Join(l.Dir, stack+".jsonl") }

// Path is the ledger file of a stack, for messages.
func (l Ledger) Path(stack string) string { return l.path(stack) }

// Read returns every record of a stack, oldest first. A missing file is
// ErrNoLedger; a line that is not a record is an error naming the line.
func (l Ledger) Read(stack string) ([]Record, error) {
	data, err := os.ReadFile(l.path(stack))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoLedger, l.path(stack))
	}
	if err != nil {
		return nil, fmt.Errorf("reading ledger: %w", err)
	}
	return parseLedger(l.path(stack), data)
}

func parseLedger(path string, data []byte) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s line %d: not a release record: %w", path, n, err)
		}
		if r.ID == "" || r.Stack == "" || (r.ImageDigest != "" || r.Status == StatusSucceeded) && !ValidDigest(r.ImageDigest) {
			return nil, fmt.Errorf("%s line %d: a record needs an id, a stack and a sha256 imageDigest (empty only when it failed before there was one)", path, n)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// NextID returns the ID the next record of a stack gets.
func (l Ledger) NextID(stack string) (string, error) {
	recs, err := l.Read(stack)
	if err != nil && !errors.Is(err, ErrNoLedger) {
		return "", err
	}
	return fmt.Sprintf("%s-%04d", stack, len(recs)+1), nil
}

// Append adds one record at the end of its stack's ledger, creating the
// file if needed. The existing lines are checked first and never touched:
// the file is opened in append mode and synced.
func (l Ledger) Append(r Record) error {
	if r.ID == "" || r.Stack == "" {
		return errors.New("ledger: a record needs an id and a stack")
	}
	if _, err := l.Read(r.Stack); err != nil && !errors.Is(err, ErrNoLedger) {
		return fmt.Errorf("refusing to append to a damaged ledger (fix it by hand; lines are never rewritten): %w", err)
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	f, err := os.OpenFile(l.path(r.Stack), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	// A file whose last line lacks its newline gets one first, so the
	// new record is a line of its own.
	if info, err := f.Stat(); err == nil && info.Size() > 0 {
		last := make([]byte, 1)
		if rf, err := os.Open(l.path(r.Stack)); err == nil {
			_, _ = rf.ReadAt(last, info.Size()-1)
			rf.Close()
		}
		if last[0] != '\n' {
			line = append([]byte("\n"), line...)
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("ledger: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger: %w", err)
	}
	return f.Close()
}

// Find returns the record with an ID.
func Find(recs []Record, id string) (Record, bool) {
	for _, r := range recs {
		if r.ID == id {
			return r, true
		}
	}
	return Record{}, false
}

// LatestSucceeded returns the newest succeeded record with a digest, or
// the newest succeeded record at all when digest is "".
func LatestSucceeded(recs []Record, digest string) (Record, bool) {
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.Status == StatusSucceeded && (digest == "" || r.ImageDigest == digest) {
			return r, true
		}
	}
	return Record{}, false
}

// Previous returns the release a rollback of a stack running current goes
// back to: the newest succeeded record, older than the newest succeeded
// record of current, whose digest differs from current.
func Previous(recs []Record, current string) (Record, bool) {
	i := len(recs) - 1
	for ; i >= 0; i-- {
		if recs[i].Status == StatusSucceeded && recs[i].ImageDigest == current {
			break
		}
	}
	if i < 0 {
		// The stack runs a digest the ledger never recorded: go back to
		// the newest recorded release.
		i = len(recs)
	}
	for j := i - 1; j >= 0; j-- {
		if recs[j].Status == StatusSucceeded && recs[j].ImageDigest != current {
			return recs[j], true
		}
	}
	return Record{}, false
}

// Table renders records for people: one line each, newest last.
func Table(recs []Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %-9s %-10s %-19s %-20s %-9s %s\n", "ID", "KIND", "STATUS", "DIGEST", "TIME", "COMMIT", "SOURCE / ERROR")
	for _, r := range recs {
		src := ""
		if r.Source != nil {
			src = "from " + r.Source.Release
		}
		if r.Reason != "" {
			src = strings.TrimSpace(src + ": " + r.Reason)
		}
		if r.Error != "" {
			src = strings.TrimSpace(src + " " + firstLine(r.Error))
		}
		fmt.Fprintf(&b, "%-14s %-9s %-10s %-19s %-20s %-9s %s\n", r.ID, r.Kind, r.Status, short(r.ImageDigest, 19),
			r.Time.UTC().Format(time.RFC3339), short(r.ImageCommit, 9), src)
		if r.Strategy != "" {
			fmt.Fprintf(&b, "    strategy %s\n", r.Strategy)
		}
		for _, s := range r.Steps {
			fmt.Fprintf(&b, "    step %3d%%  %s - %s", s.Percent, s.Start.UTC().Format(time.TimeOnly), s.End.UTC().Format(time.TimeOnly))
			for _, g := range s.Gates {
				fmt.Fprintf(&b, "; %s", g)
			}
			b.WriteString("\n")
		}
		if r.Abort != nil {
			fmt.Fprintf(&b, "    rolled back at %d%%: %s\n", r.Abort.Percent, r.Abort.Reason)
		}
	}
	return b.String()
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
