package main

// Pull-request environments (docs/operations.md, "PR environments"): PR n
// of base stack B is the Pulumi stack B-pr-n in B's backend. pr-up
// allocates its slot and deploys it, pr-down drops its data and destroys
// it, pr-reap destroys those past their TTL or whose PR is closed, pr-list
// lists them. What differs per target (the image, the steps after `pulumi
// up`, dropping the PR's database) goes through previewOps.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/release"
)

const (
	prUpUsage   = "pr-up BASE PR [--image=REF]  create or update PR PR's environment on BASE's shared infrastructure (stack BASE-pr-PR) and print its URL"
	prDownUsage = "pr-down BASE PR           drop PR PR's database, user and Redis keys and destroy its environment"
	prReapUsage = "pr-reap BASE [--ttl=72h] [--open=1,2,3|none]  destroy BASE's PR environments not deployed within the TTL (default previews.ttlHours) or, with --open (the open PRs, or none), whose PR is not open"
	prListUsage = "pr-list BASE              list BASE's PR environments: slot, URL, last deploy, reap time"
)

// The outputs every PR stack exports (both targets).
const (
	OutputPreviewSlot  = "previewSlot"
	OutputPreviewPR    = "pr"
	OutputBaseStack    = "baseStack"
	OutputDatabaseName = "databaseName"
)

// previewSlotConfigKey records a PR stack's slot in its stack config the
// moment pr-up allocates it, before its first deploy exports previewSlot,
// so a concurrent pr-up never takes the same slot.
const previewSlotConfigKey = "shipyard:previewSlot"

// previewRun is what a target's hooks get: one PR environment command.
type previewRun struct {
	x      execer
	pulumi *pulumiCLI
	getenv func(string) string
	stdout io.Writer
	// Base is the base stack's config, PR the PR stack's (Preview set;
	// its Slot is set on pr-up and pr-down when known).
	Base, PR *stackconfig.Config
}

func (r *previewRun) say(f string, a ...any) { fmt.Fprintf(r.stdout, "==> "+f+"\n", a...) }

// previewOps are the target-specific steps of the PR environment commands.
// A nil hook is no step.
type previewOps struct {
	// Image returns what the PR stack's program gets in
	// stackconfig.PreviewImageEnv: the image digest (aws) or ID (docker)
	// to run, from ref (--image, "" when not given). "" leaves the
	// program's default (docker: the image `make image` built).
	Image func(ctx context.Context, r *previewRun, ref string) (string, error)
	// AfterUp runs once `pulumi up` of the PR stack succeeded, with its
	// outputs (aws: `preview create` and `migrate` as one-off tasks; the
	// docker program runs them itself).
	AfterUp func(ctx context.Context, r *previewRun, out release.Outputs) error
	// Drop drops the PR's database, its user and its Redis logical
	// database before the stack is destroyed; out are the PR stack's
	// outputs (empty when its first deploy failed).
	Drop func(ctx context.Context, r *previewRun, out release.Outputs) error
}

// previewTargets are the targets' hooks.
var previewTargets = map[stackconfig.Target]func() previewOps{
	stackconfig.TargetDocker: dockerPreviewOps,
}

func previewOpsFor(cfg *stackconfig.Config) (previewOps, error) {
	f, ok := previewTargets[cfg.Target]
	if !ok {
		return previewOps{}, fmt.Errorf("stack %s: PR environments on target %q are not supported", cfg.Stack, cfg.Target)
	}
	return f(), nil
}

// previewStack is one PR environment of a base stack, as listed.
type previewStack struct {
	Name   string
	PR     int
	Slot   int // 0 when unknown
	URL    string
	Update time.Time // last update; zero when never deployed
	// InProgress: an update is running now.
	InProgress bool
	Outputs    release.Outputs
}

// stackListing is one row of `pulumi stack ls --json`.
type stackListing struct {
	Name             string `json:"name"`
	LastUpdate       string `json:"lastUpdate"`
	UpdateInProgress bool   `json:"updateInProgress"`
}

// listPreviews lists base's PR stacks in its backend with their slots and
// last update, by PR number.
func listPreviews(ctx context.Context, p *pulumiCLI, base string) ([]previewStack, error) {
	extra, err := p.env(base)
	if err != nil {
		return nil, err
	}
	out, err := p.x(ctx, call{Name: "pulumi", Args: []string{"stack", "ls", "--json", "--non-interactive", "--cwd", p.root}, Env: extra})
	if err != nil {
		return nil, err
	}
	var rows []stackListing
	if err := json.Unmarshal(out, &rows); err != nil {
		return nil, fmt.Errorf("pulumi stack ls: %w", err)
	}
	var list []previewStack
	for _, row := range rows {
		name := row.Name
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		b, n, ok := stackconfig.PreviewOf(name)
		if !ok || b != base {
			continue
		}
		ps := previewStack{Name: name, PR: n, InProgress: row.UpdateInProgress}
		if row.LastUpdate != "" {
			if ps.Update, err = time.Parse(time.RFC3339, row.LastUpdate); err != nil {
				return nil, fmt.Errorf("pulumi stack ls: stack %s: lastUpdate %q: %w", name, row.LastUpdate, err)
			}
		}
		if ps.Outputs, err = p.Outputs(ctx, name); err != nil {
			return nil, err
		}
		if v, ok := ps.Outputs[OutputPreviewSlot].(float64); ok {
			ps.Slot = int(v)
		} else if ps.Slot, err = reservedSlot(ctx, p, name); err != nil {
			return nil, err
		}
		ps.URL, _ = ps.Outputs["url"].(string)
		list = append(list, ps)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].PR < list[j].PR })
	return list, nil
}

// reservedSlot reads the slot pr-up recorded in a PR stack's config; 0
// when there is none.
func reservedSlot(ctx context.Context, p *pulumiCLI, stack string) (int, error) {
	out, err := p.run(ctx, stack, false, "config", "get", previewSlotConfigKey)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return 0, nil
		}
		return 0, err
	}
	s, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("stack %s: %s is %q, not a slot number", stack, previewSlotConfigKey, strings.TrimSpace(string(out)))
	}
	return s, nil
}

// allocateSlot returns PR n's slot: the one it holds, else the lowest slot
// from 1 to max that no other PR environment holds. None free is an error
// that names previews.maxConcurrent and how to free one.
func allocateSlot(base string, n, max int, live []previewStack) (int, error) {
	held := map[int]bool{}
	var others []string
	for _, ps := range live {
		if ps.PR == n && ps.Slot > 0 {
			return ps.Slot, nil
		}
		if ps.PR != n {
			if ps.Slot > 0 {
				held[ps.Slot] = true
			}
			others = append(others, strconv.Itoa(ps.PR))
		}
	}
	for s := 1; s <= max; s++ {
		if !held[s] {
			return s, nil
		}
	}
	return 0, fmt.Errorf("previews.maxConcurrent is %d in config/%s.json and %d PR environments of %s are running (PRs %s): free one with `make pr-down PR=<n> STACK=%s`, or raise previews.maxConcurrent (at most %d)",
		max, base, len(others), base, strings.Join(others, ", "), base, stackconfig.MaxPreviewSlots)
}

// lockPreviews serialises slot allocation among the pr-up commands of one
// base stack on this machine (CI runs them in one concurrency group). The
// lock is released when the returned func runs or the process exits.
func lockPreviews(p *pulumiCLI, base string) (unlock func(), err error) {
	sum := sha256.Sum256([]byte(p.root + "\x00" + p.getenv("PULUMI_BACKEND_URL") + "\x00" + base))
	path := filepath.Join(os.TempDir(), fmt.Sprintf("shipyard-previews-%x.lock", sum[:8]))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the PR slots of %s: %w", base, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the PR slots of %s: %w", base, err)
	}
	return func() { f.Close() }, nil
}

// previewArgs reads "BASE PR" and loads both configs.
func previewArgs(e env, usage string) (project, *stackconfig.Config, *stackconfig.Config, error) {
	if len(e.args) != 2 || strings.HasPrefix(e.args[0], "-") {
		return project{}, nil, nil, cliflag.UsageError("shipyard", usage, e.args)
	}
	n, err := stackconfig.ParsePR(e.args[1])
	if err != nil {
		return project{}, nil, nil, err
	}
	pr, err := findProject(e)
	if err != nil {
		return project{}, nil, nil, err
	}
	base, err := stackconfig.Load(pr.configDir, e.args[0])
	if err != nil {
		return project{}, nil, nil, err
	}
	if base.IsPreview() {
		return project{}, nil, nil, fmt.Errorf("STACK=%s is a PR environment; allowed: its base stack (%s)", base.Stack, base.Preview.Base)
	}
	prCfg, err := loadPreview(pr.configDir, stackconfig.PreviewStackName(base.Stack, n))
	if err != nil {
		return project{}, nil, nil, err
	}
	return pr, base, prCfg, nil
}

// loadPreview loads PR stack name's config. A config that is no PR
// environment's (a stack file of that name, which the loader refuses) is
// an error, never a nil Preview for pr-up, pr-down or pr-reap to use.
func loadPreview(configDir, name string) (*stackconfig.Config, error) {
	cfg, err := stackconfig.Load(configDir, name)
	if err != nil {
		return nil, err
	}
	if err := isPreview(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// isPreview refuses a config that is no PR environment's.
func isPreview(cfg *stackconfig.Config) error {
	if !cfg.IsPreview() {
		return fmt.Errorf("stack %s is not a PR environment (its config was read from a file of its own, not its base stack's); allowed: a PR environment <base>-pr-<n> of a stack with previews.enabled, which has no file", cfg.Stack)
	}
	return nil
}

func newPreviewRun(e env, pr project, base, prCfg *stackconfig.Config) *previewRun {
	x := osExec(e.stdout, e.stderr)
	return &previewRun{x: x, pulumi: pr.pulumi(x, e.getenv), getenv: e.getenv, stdout: e.stdout, Base: base, PR: prCfg}
}

func cmdPRUp(ctx context.Context, e env) error {
	image, _, args := cliflag.Cut(e.args, "image")
	e.args = args
	pr, base, prCfg, err := previewArgs(e, prUpUsage)
	if err != nil {
		return err
	}
	if err := deployable(e, pr, base); err != nil {
		return err
	}
	return prUp(ctx, newPreviewRun(e, pr, base, prCfg), image, time.Now)
}

// prUp allocates the PR's slot (recording it in the PR stack's config
// under the lock), deploys the PR stack with it, runs the target's steps
// and prints the URL and when the environment will be reaped.
func prUp(ctx context.Context, r *previewRun, imageRef string, now func() time.Time) error {
	if err := isPreview(r.PR); err != nil {
		return err
	}
	ops, err := previewOpsFor(r.Base)
	if err != nil {
		return err
	}
	image := ""
	if ops.Image != nil {
		if image, err = ops.Image(ctx, r, imageRef); err != nil {
			return err
		}
	} else if imageRef != "" {
		return fmt.Errorf("--image: target %s takes no image", r.Base.Target)
	}
	p, stack := r.pulumi, r.PR.Stack
	unlock, err := lockPreviews(p, r.Base.Stack)
	if err != nil {
		return err
	}
	slot, err := func() (int, error) {
		defer unlock()
		live, err := listPreviews(ctx, p, r.Base.Stack)
		if err != nil {
			return 0, err
		}
		slot, err := allocateSlot(r.Base.Stack, r.PR.Preview.Number, r.Base.Previews.MaxConcurrent, live)
		if err != nil {
			return 0, err
		}
		if err := p.ensureStack(ctx, stack); err != nil {
			return 0, err
		}
		_, err = p.run(ctx, stack, false, "config", "set", previewSlotConfigKey, strconv.Itoa(slot))
		return slot, err
	}()
	if err != nil {
		return err
	}
	if err := r.PR.SetPreviewSlot(strconv.Itoa(slot)); err != nil {
		return err
	}
	r.say("PR %d of %s: stack %s, slot %d", r.PR.Preview.Number, r.Base.Stack, stack, slot)
	p.extraEnv = append(p.extraEnv, stackconfig.PreviewSlotEnv+"="+strconv.Itoa(slot))
	if image != "" {
		p.extraEnv = append(p.extraEnv, stackconfig.PreviewImageEnv+"="+image)
	}
	if err := p.Up(ctx, stack); err != nil {
		return err
	}
	out, err := p.Outputs(ctx, stack)
	if err != nil {
		return err
	}
	if ops.AfterUp != nil {
		if err := ops.AfterUp(ctx, r, out); err != nil {
			return err
		}
	}
	url, _ := out["url"].(string)
	reap := now().Add(time.Duration(r.Base.Previews.TTLHours) * time.Hour).UTC()
	r.say("PR %d is up: %s", r.PR.Preview.Number, url)
	fmt.Fprintf(r.stdout, "url: %s\nreaped after: %s (previews.ttlHours %d after its last deploy, or when the PR closes)\n", url, reap.Format(time.RFC3339), r.Base.Previews.TTLHours)
	return nil
}

func cmdPRDown(ctx context.Context, e env) error {
	pr, base, prCfg, err := previewArgs(e, prDownUsage)
	if err != nil {
		return err
	}
	r := newPreviewRun(e, pr, base, prCfg)
	live, err := listPreviews(ctx, r.pulumi, base.Stack)
	if err != nil {
		return err
	}
	for _, ps := range live {
		if ps.PR == prCfg.Preview.Number {
			return prDown(ctx, r, ps)
		}
	}
	r.say("%s has no PR environment %d (stack %s): nothing to do", base.Stack, prCfg.Preview.Number, prCfg.Stack)
	return nil
}

// prDown runs the target's Drop (the PR's database, user and Redis
// database), then destroys the stack and removes it from the backend.
func prDown(ctx context.Context, r *previewRun, ps previewStack) error {
	if err := isPreview(r.PR); err != nil {
		return err
	}
	ops, err := previewOpsFor(r.Base)
	if err != nil {
		return err
	}
	if ps.Slot > 0 {
		if err := r.PR.SetPreviewSlot(strconv.Itoa(ps.Slot)); err != nil {
			return err
		}
	}
	r.say("PR %d of %s: dropping its data, then destroying stack %s", ps.PR, r.Base.Stack, ps.Name)
	if ops.Drop != nil {
		if err := ops.Drop(ctx, r, ps.Outputs); err != nil {
			return fmt.Errorf("PR %d: %w (the stack is kept: run `make pr-down PR=%d STACK=%s` again)", ps.PR, err, ps.PR, r.Base.Stack)
		}
	}
	// The program needs the slot to load even while destroying.
	p := *r.pulumi
	p.extraEnv = append(append([]string(nil), p.extraEnv...), stackconfig.PreviewSlotEnv+"="+strconv.Itoa(max(ps.Slot, 1)))
	if err := p.destroy(ctx, ps.Name); err != nil {
		return err
	}
	if _, err := p.run(ctx, ps.Name, true, "stack", "rm", "--yes"); err != nil {
		return err
	}
	r.say("PR %d of %s is down", ps.PR, r.Base.Stack)
	return nil
}

func cmdPRReap(ctx context.Context, e env) error {
	ttlFlag, hasTTL, args := cliflag.Cut(e.args, "ttl")
	openFlag, hasOpen, args := cliflag.Cut(args, "open")
	e.args = args
	if len(e.args) != 1 || strings.HasPrefix(e.args[0], "-") {
		return cliflag.UsageError("shipyard", prReapUsage, e.args)
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	base, err := stackconfig.Load(pr.configDir, e.args[0])
	if err != nil {
		return err
	}
	ttl := time.Duration(base.Previews.TTLHours) * time.Hour
	if hasTTL {
		if ttl, err = time.ParseDuration(ttlFlag); err != nil || ttl <= 0 {
			return fmt.Errorf("--ttl=%q (TTL=): allowed a positive Go duration such as 72h or 30m", ttlFlag)
		}
	}
	var open map[int]bool
	if hasOpen {
		if open, err = parseOpen(openFlag); err != nil {
			return err
		}
	}
	r := newPreviewRun(e, pr, base, nil)
	live, err := listPreviews(ctx, r.pulumi, base.Stack)
	if err != nil {
		return err
	}
	var errs []error
	reaped := 0
	for _, ps := range reapable(live, ttl, open, time.Now()) {
		r.say("reaping PR %d of %s: %s", ps.PR, base.Stack, ps.reason)
		prCfg, err := loadPreview(pr.configDir, ps.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.PR = prCfg
		if err := prDown(ctx, r, ps.previewStack); err != nil {
			errs = append(errs, err)
			continue
		}
		reaped++
	}
	r.say("reaped %d of %d PR environments of %s", reaped, len(live), base.Stack)
	return errors.Join(errs...)
}

// openAllowed is what --open (OPEN=) takes.
const openAllowed = "the open PRs' numbers, comma separated (OPEN=12,15), or none when no PR is open"

// parseOpen reads --open (OPEN=): the open PRs' numbers, comma separated,
// or "none" when no PR is open. An empty list, or one without a number,
// is refused: it would reap every PR environment, and it is what a
// failed or forgotten listing of the open PRs gives.
func parseOpen(s string) (map[int]bool, error) {
	open := map[int]bool{}
	if strings.TrimSpace(s) == "none" {
		return open, nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	if len(fields) == 0 {
		return nil, cliflag.ValueError("open", "OPEN", s, openAllowed+"; an empty list is refused, as it would reap every PR environment")
	}
	for _, f := range fields {
		n, err := stackconfig.ParsePR(f)
		if err != nil {
			return nil, cliflag.ValueError("open", "OPEN", s, fmt.Sprintf("%s (%q is no PR number from 1 to 9999999)", openAllowed, f))
		}
		open[n] = true
	}
	return open, nil
}

type reapCandidate struct {
	previewStack
	reason string
}

// reapable picks the PR environments to reap: last deployed more than ttl
// before now, or, when open is not nil, whose PR is not in it. One being
// deployed right now is left alone.
func reapable(live []previewStack, ttl time.Duration, open map[int]bool, now time.Time) []reapCandidate {
	var out []reapCandidate
	for _, ps := range live {
		switch {
		case ps.InProgress:
		case open != nil && !open[ps.PR]:
			out = append(out, reapCandidate{ps, fmt.Sprintf("PR %d is not open", ps.PR)})
		case !ps.Update.IsZero() && now.Sub(ps.Update) > ttl:
			out = append(out, reapCandidate{ps, fmt.Sprintf("last deployed %s, more than %s ago", ps.Update.UTC().Format(time.RFC3339), ttl)})
		}
	}
	return out
}

func cmdPRList(ctx context.Context, e env) error {
	pr, base, err := loadStackArg(e, prListUsage)
	if err != nil {
		return err
	}
	live, err := listPreviews(ctx, pr.pulumi(osExec(e.stdout, e.stderr), e.getenv), base.Stack)
	if err != nil {
		return err
	}
	printPreviews(e.stdout, base, live)
	return nil
}

func printPreviews(w io.Writer, base *stackconfig.Config, live []previewStack) {
	ttl := time.Duration(base.Previews.TTLHours) * time.Hour
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PR\tSTACK\tSLOT\tURL\tLAST DEPLOY\tREAPED AFTER")
	for _, ps := range live {
		last, reap := "-", "-"
		if !ps.Update.IsZero() {
			last, reap = ps.Update.UTC().Format(time.RFC3339), ps.Update.Add(ttl).UTC().Format(time.RFC3339)
		}
		if ps.InProgress {
			last = "deploying"
		}
		slot, url := "-", "-"
		if ps.Slot > 0 {
			slot = strconv.Itoa(ps.Slot)
		}
		if ps.URL != "" {
			url = ps.URL
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", ps.PR, ps.Name, slot, url, last, reap)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of previews.maxConcurrent %d slots in use\n", len(live), base.Previews.MaxConcurrent)
}

// refuseWithPreviews refuses to destroy (or take down) a base stack while
// PR environments run on its network, database and cache.
func refuseWithPreviews(ctx context.Context, p *pulumiCLI, cfg *stackconfig.Config) error {
	if cfg.IsPreview() || !cfg.Previews.Enabled {
		return nil
	}
	live, err := listPreviews(ctx, p, cfg.Stack)
	if err != nil || len(live) == 0 {
		return err
	}
	prs := make([]string, len(live))
	for i, ps := range live {
		prs[i] = strconv.Itoa(ps.PR)
	}
	return fmt.Errorf("stack %s has PR environments running on its network, database and cache (PRs %s): remove them first with `make pr-reap STACK=%s OPEN=none` (all) or `make pr-down PR=<n> STACK=%s`", cfg.Stack, strings.Join(prs, ", "), cfg.Stack, cfg.Stack)
}
