package release

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// Rollback deploys an earlier release of a stack again: the one named by
// releaseID, or the newest succeeded release before the current one.
func (o *Ops) Rollback(ctx context.Context, stack, releaseID string) (Record, error) {
	if err := o.clean("the infrastructure code deployed with the image would match no commit"); err != nil {
		return Record{}, err
	}
	cfg, err := o.loadAWS(stack, "target")
	if err != nil {
		return Record{}, err
	}
	if err := o.configCommitted(ctx, stack); err != nil {
		return Record{}, err
	}
	recs, err := o.ledger().Read(stack)
	if err != nil {
		return Record{}, fmt.Errorf("%w: cannot roll back stack %q: %w", ErrNoPrevious, stack, err)
	}
	// The release to go back from is the one the stack runs: a stale
	// checkout's config would pick one older than intended.
	out, err := o.deployedOutputs(ctx, stack)
	if err != nil {
		return Record{}, err
	}
	current := cfg.Release.ImageDigest
	if deployed := out.String("imageDigest"); deployed != current {
		also := ""
		if r, ok := failedAfter(recs, deployed, current); ok {
			also = fmt.Sprintf("; if this checkout is current and the failed %s left the outputs on %s, `make up STACK=%s` first puts them back on %s",
				r.ID, deployed, stack, current)
		}
		return Record{}, fmt.Errorf("%w: refusing to roll back stack %q: its imageDigest output is %s but config/%s.json says %s, so the release to go back to would be picked from the wrong one; pull (or check out the config/%s.json that deployed %s), then roll back%s",
			ErrStaleConfig, stack, orNone(deployed), stack, orNone(current), stack, orNone(deployed), also)
	}
	var target Record
	if releaseID != "" {
		r, ok := Find(recs, releaseID)
		if !ok {
			return Record{}, fmt.Errorf("%w: release %q is not in %s; `make ledger STACK=%s` lists them", ErrNoPrevious, releaseID, o.ledger().Path(stack), stack)
		}
		if r.Status != StatusSucceeded {
			return Record{}, fmt.Errorf("%w: release %q %s; only a release that succeeded can be rolled back to", ErrNoPrevious, releaseID, r.Status)
		}
		if r.ImageDigest == current {
			return Record{}, fmt.Errorf("%w: stack %q already runs %s (release %s)", ErrNoPrevious, stack, current, releaseID)
		}
		target = r
	} else {
		r, ok := Previous(recs, current)
		if !ok {
			return Record{}, fmt.Errorf("%w: %s has no succeeded release of stack %q other than the current one (%s)", ErrNoPrevious, o.ledger().Path(stack), stack, orNone(current))
		}
		target = r
	}
	if err := o.imageSupported(ctx, target); err != nil {
		return Record{}, err
	}
	repo := out.String("imageRepositoryUrl")
	if err := o.Registry.Has(ctx, repo, target.ImageDigest); err != nil {
		return Record{}, fmt.Errorf("%w: %s@%s is gone from the registry (lifecycle policy?): %w", ErrNoPrevious, repo, target.ImageDigest, err)
	}
	id, err := o.ledger().NextID(stack)
	if err != nil {
		return Record{}, err
	}
	rec := Record{
		ID: id, Stack: stack, Kind: KindRollback,
		ImageRepository: repo, ImageCommit: target.ImageCommit, MigrationVersion: target.MigrationVersion,
		Source: &Source{Stack: stack, Release: target.ID},
	}
	o.say("rolling stack %s back to release %s (%s)", stack, target.ID, target.ImageDigest)
	return o.deploy(ctx, cfg, target.ImageDigest, rec)
}

// configCommitted refuses a config/<stack>.json whose uncommitted changes
// go beyond release.imageDigest (Ops.CommittedConfig): Dirty leaves
// config/ out, as deployments write the digest there.
func (o *Ops) configCommitted(ctx context.Context, stack string) error {
	if o.CommittedConfig == nil {
		return nil
	}
	head, err := o.CommittedConfig(ctx, stack)
	if err != nil {
		return fmt.Errorf("%w: config/%s.json as the commit %s has it cannot be read (%v); a rollback deploys the committed config: commit it first", ErrDirtyTree, stack, orNone(o.Commit), err)
	}
	path := filepath.Join(o.ConfigDir, stack+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	changed, err := changedBesidesDigest(head, data)
	if err != nil {
		return fmt.Errorf("%w: config/%s.json as committed: %w", ErrDirtyTree, stack, err)
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w: config/%s.json has uncommitted changes besides release.imageDigest (%s), which a rollback would deploy with the old image; commit or stash them (`git diff config/%s.json`), then roll back",
			ErrDirtyTree, stack, strings.Join(changed, ", "), stack)
	}
	return nil
}

// changedBesidesDigest returns the top-level fields in which two versions
// of a stack file differ, release.imageDigest aside, sorted.
func changedBesidesDigest(before, after []byte) ([]string, error) {
	decode := func(data []byte) (map[string]any, error) {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if rel, ok := m["release"].(map[string]any); ok {
			delete(rel, "imageDigest")
			if len(rel) == 0 {
				delete(m, "release")
			}
		}
		return m, nil
	}
	b, err := decode(before)
	if err != nil {
		return nil, err
	}
	a, err := decode(after)
	if err != nil {
		return nil, err
	}
	var changed []string
	for k := range b {
		if !reflect.DeepEqual(a[k], b[k]) {
			changed = append(changed, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed, nil
}

// failedAfter returns the ledger's newest record of digest when it is a
// failed deployment made after the newest succeeded one of current: one
// that failed after `pulumi up` applied it (an ECS rollback, a failed
// verification) leaves the stack's imageDigest output on digest while the
// config's went back to current.
func failedAfter(recs []Record, digest, current string) (Record, bool) {
	last, ok := -1, -1
	for i, r := range recs {
		switch {
		case r.ImageDigest == digest:
			last = i
		case r.ImageDigest == current && r.Status == StatusSucceeded:
			ok = i
		}
	}
	if last >= 0 && recs[last].Status == StatusFailed && last > ok {
		return recs[last], true
	}
	return Record{}, false
}
