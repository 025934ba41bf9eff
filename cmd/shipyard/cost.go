package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/cost"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/atomicfile"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

const costUsage = "cost STACK [--format=text|json] [--base=GIT_REF]"

// cmdCost prints what an aws stack costs a month (infra/cost), or with
// --base the difference from the stack's config at a git ref.
func cmdCost(ctx context.Context, e env) error {
	format, _, args, err := cliflag.Choice{Name: "format", Variable: "FORMAT", Allowed: []string{"text", "json"}, Default: "text"}.Cut(e.args)
	if err != nil {
		return err
	}
	base, hasBase, args := cliflag.Cut(args, "base")
	e.args = args
	if hasBase && base == "" {
		return fmt.Errorf("--base needs a git ref, e.g. --base=origin/main")
	}
	pr, cfg, err := loadStackArg(e, costUsage)
	if err != nil {
		return err
	}
	table, err := cost.DefaultTable()
	if err != nil {
		return err
	}
	est, err := table.Estimate(cfg)
	if errors.Is(err, cost.ErrNotAWS) {
		aws, lerr := preflight.StacksOf(pr.configDir, preflight.TargetAWS)
		if lerr != nil {
			return errors.Join(err, lerr)
		}
		return fmt.Errorf("STACK=%s: %w; allowed the aws stacks %s", cfg.Stack, err, strings.Join(aws, ", "))
	}
	if err != nil {
		return err
	}
	if !hasBase {
		if format == "json" {
			return est.WriteJSON(e.stdout)
		}
		return est.WriteText(e.stdout)
	}
	old, err := configAt(ctx, osExec(e.stdout, e.stderr), pr, base, cfg.Stack)
	if err != nil {
		return err
	}
	var oldEst *cost.Estimate
	if old != nil {
		if oldEst, err = table.Estimate(old); err != nil {
			return fmt.Errorf("the config at %s: %w", base, err)
		}
	}
	d := cost.Compare(base, oldEst, est)
	if format == "json" {
		return d.WriteJSON(e.stdout)
	}
	return d.WriteText(e.stdout)
}

// configAt loads stack's config as it was at git ref base, with the loader
// of today (stackconfig.Load on the config directory of that commit). It
// returns nil when the stack had no config file then.
func configAt(ctx context.Context, x execer, pr project, base, stack string) (*stackconfig.Config, error) {
	rel, err := filepath.Rel(pr.root, pr.configDir)
	if err != nil {
		return nil, err
	}
	rel = filepath.ToSlash(rel)
	if _, err := x(ctx, call{Name: "git", Args: []string{"-C", pr.root, "rev-parse", "--verify", "--quiet", base + "^{commit}"}}); err != nil {
		return nil, fmt.Errorf("--base=%s is not a commit of this repository: %w", base, err)
	}
	out, err := x(ctx, call{Name: "git", Args: []string{"-C", pr.root, "ls-tree", "--name-only", base, rel + "/"}})
	if err != nil {
		return nil, fmt.Errorf("listing %s at %s: %w", rel, base, err)
	}
	dir, err := os.MkdirTemp("", "shipyard-cost-base-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	found := false
	for _, path := range strings.Fields(string(out)) {
		name := filepath.Base(path)
		if filepath.Ext(name) != ".json" {
			continue
		}
		data, err := x(ctx, call{Name: "git", Args: []string{"-C", pr.root, "show", base + ":" + path}})
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", path, base, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
		found = found || name == stack+".json"
	}
	if !found {
		return nil, nil
	}
	cfg, err := stackconfig.Load(dir, stack)
	if err != nil {
		return nil, fmt.Errorf("the config at %s: %w", base, err)
	}
	return cfg, nil
}

// cmdCostPrices rewrites the price table from AWS's public Price List
// offer files (OfferURL; --offers=DIR reads saved copies named
// <offer>-<region>.json instead). Prices it cannot refresh keep their old
// value and are listed; the command then fails.
func cmdCostPrices(ctx context.Context, e env) error {
	file, _, args := cliflag.Cut(e.args, "file")
	regions, _, args := cliflag.Cut(args, "regions")
	dir, _, args := cliflag.Cut(args, "offers")
	if len(args) > 0 || file == "" {
		return cliflag.UsageError("shipyard", costPricesUsage, args)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var table cost.Table
	if err := json.Unmarshal(data, &table); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var list []string
	if regions != "" {
		list = strings.Split(regions, ",")
	}
	open := func(offer, region string) (io.ReadCloser, string, error) {
		url := fmt.Sprintf(cost.OfferURL, offer, region)
		if dir != "" {
			f, err := os.Open(filepath.Join(dir, offer+"-"+region+".json"))
			return f, url, err
		}
		fmt.Fprintf(e.stderr, "==> %s\n", url)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, "", fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return resp.Body, url, nil
	}
	out, missing, err := cost.Refresh(&table, list, open)
	if err != nil {
		return err
	}
	if err := out.Check(); err != nil {
		return fmt.Errorf("not written: %w (missing: %s)", err, strings.Join(missing, "; "))
	}
	data, err = cost.MarshalTable(out)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(file, data); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: prices of %s, regions %s\n", file, out.Date, strings.Join(out.RegionNames(), ", "))
	if len(missing) > 0 {
		return fmt.Errorf("%d price(s) kept their old value:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
	return nil
}

const costPricesUsage = "cost-prices --file=infra/cost/prices.json [--regions=eu-west-1,...] [--offers=DIR]"
