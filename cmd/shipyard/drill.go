package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// cmdRestoreDrill restores the latest snapshot of an aws stack's database
// into a temporary instance, migrates it and reads from it, reports the
// time it took and deletes the instance.
func cmdRestoreDrill(ctx context.Context, e env) error {
	stack, err := stackArg(e, "db-restore-drill STACK")
	if err != nil {
		return err
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, stack)
	if err != nil {
		return err
	}
	if cfg.Target != stackconfig.TargetAWS {
		return fmt.Errorf("stack %q has target %q; the restore drill restores RDS snapshots (target aws); the docker stack has `make db-backup`/`make db-restore`", stack, cfg.Target)
	}
	_, err = restoreDrill(ctx, awsCLI{x: x, region: cfg.AWS.Region}, cfg, out, e.stdout, time.Now)
	return err
}

// drillReport is what a restore drill measured.
type drillReport struct {
	Snapshot string
	Instance string
	// Restore is from the restore call until the instance was available;
	// Migrate and Check the two tasks; Total everything but the deletion.
	Restore, Migrate, Check, Total time.Duration
}

type rdsSnapshot struct {
	DBSnapshotIdentifier string    `json:"DBSnapshotIdentifier"`
	SnapshotCreateTime   time.Time `json:"SnapshotCreateTime"`
	Status               string    `json:"Status"`
	SnapshotType         string    `json:"SnapshotType"`
}

// restoreDrill is the drill against the AWS CLI:
//
//  1. aws rds describe-db-snapshots: the newest available snapshot of the
//     stack's instance (manual or automated);
//  2. aws rds restore-db-instance-from-db-snapshot into
//     <instance>-drill-<time>, in the stack's DB subnet group and database
//     security group, not public, single-AZ;
//  3. aws rds wait db-instance-available, describe-db-instances (endpoint);
//  4. `app migrate`, then `app dbcheck` (a read of every table), as ECS
//     run-tasks with DATABASE_URL pointing at the temporary instance;
//  5. always: aws rds delete-db-instance --skip-final-snapshot, and
//     wait db-instance-deleted.
func restoreDrill(ctx context.Context, a awsCLI, cfg *stackconfig.Config, out release.Outputs, w io.Writer, now func() time.Time) (rep drillReport, err error) {
	say := func(f string, args ...any) { fmt.Fprintf(w, "==> "+f+"\n", args...) }
	instance := out.String("databaseInstanceId")
	subnetGroup := out.String("databaseSubnetGroupName")
	dbSG := out.String("databaseSecurityGroupId")
	var missing []string
	for k, v := range map[string]string{"databaseInstanceId": instance, "databaseSubnetGroupName": subnetGroup, "databaseSecurityGroupId": dbSG} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return rep, fmt.Errorf("stack %q lacks outputs %s: run `make up STACK=%s` first", cfg.Stack, strings.Join(missing, ", "), cfg.Stack)
	}

	var snaps struct {
		DBSnapshots []rdsSnapshot `json:"DBSnapshots"`
	}
	if err := a.json(ctx, &snaps, "rds", "describe-db-snapshots", "--db-instance-identifier", instance); err != nil {
		return rep, fmt.Errorf("listing the snapshots of %s: %w", instance, err)
	}
	var latest *rdsSnapshot
	for i, s := range snaps.DBSnapshots {
		if s.Status == "available" && (latest == nil || s.SnapshotCreateTime.After(latest.SnapshotCreateTime)) {
			latest = &snaps.DBSnapshots[i]
		}
	}
	if latest == nil {
		return rep, fmt.Errorf("instance %s has no available snapshot (automated backups appear after the first backup window; `make release` takes one before a migration)", instance)
	}
	rep.Snapshot = latest.DBSnapshotIdentifier
	start := now()
	rep.Instance = drillInstanceID(instance, start)
	say("restoring snapshot %s (%s, %s) into %s", latest.DBSnapshotIdentifier, orDash(latest.SnapshotType), latest.SnapshotCreateTime.UTC().Format(time.RFC3339), rep.Instance)
	if err := a.json(ctx, nil, "rds", "restore-db-instance-from-db-snapshot",
		"--db-instance-identifier", rep.Instance, "--db-snapshot-identifier", latest.DBSnapshotIdentifier,
		"--db-subnet-group-name", subnetGroup, "--vpc-security-group-ids", dbSG,
		"--no-publicly-accessible", "--no-multi-az", "--no-deletion-protection",
		// The stack's CA, which the app's DATABASE_URL verifies against.
		"--ca-certificate-identifier", cfg.Database.CACertIdentifier,
		"--tags", "Key=shipyard:purpose,Value=restore-drill", "Key=shipyard:stack,Value="+cfg.Stack); err != nil {
		return rep, fmt.Errorf("restoring %s: %w", latest.DBSnapshotIdentifier, err)
	}
	// From here on the temporary instance exists (or is being created):
	// it is deleted whatever happens next, with a context of its own so
	// that an interrupted drill still cleans up.
	defer func() {
		cctx := context.WithoutCancel(ctx)
		say("deleting %s", rep.Instance)
		derr := a.json(cctx, nil, "rds", "delete-db-instance", "--db-instance-identifier", rep.Instance, "--skip-final-snapshot", "--delete-automated-backups")
		if derr == nil {
			derr = a.json(cctx, nil, "rds", "wait", "db-instance-deleted", "--db-instance-identifier", rep.Instance)
		}
		if derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting the temporary instance %s failed (delete it by hand: aws rds delete-db-instance --db-instance-identifier %s --skip-final-snapshot --region %s): %w",
				rep.Instance, rep.Instance, a.region, derr))
			return
		}
		say("deleted %s", rep.Instance)
	}()
	say("waiting for %s to be available", rep.Instance)
	if err := a.json(ctx, nil, "rds", "wait", "db-instance-available", "--db-instance-identifier", rep.Instance); err != nil {
		return rep, fmt.Errorf("waiting for %s: %w", rep.Instance, err)
	}
	var desc struct {
		DBInstances []struct {
			Endpoint struct {
				Address string `json:"Address"`
				Port    int    `json:"Port"`
			} `json:"Endpoint"`
		} `json:"DBInstances"`
	}
	if err := a.json(ctx, &desc, "rds", "describe-db-instances", "--db-instance-identifier", rep.Instance); err != nil {
		return rep, err
	}
	if len(desc.DBInstances) == 0 || desc.DBInstances[0].Endpoint.Address == "" {
		return rep, fmt.Errorf("%s has no endpoint", rep.Instance)
	}
	ep := desc.DBInstances[0].Endpoint
	rep.Restore = now().Sub(start)
	say("%s is available at %s:%d after %s", rep.Instance, ep.Address, ep.Port, rep.Restore.Round(time.Second))

	env := map[string]string{"DATABASE_URL": databaseURL(cfg, ep.Address, ep.Port)}
	t := now()
	if err := runTask(ctx, a, out, oneOff{Name: "drill-migrate", Command: []string{"migrate"}, Env: env}, say); err != nil {
		return rep, fmt.Errorf("app migrate against the restored instance: %w", err)
	}
	rep.Migrate = now().Sub(t)
	t = now()
	if err := runTask(ctx, a, out, oneOff{Name: "drill-check", Command: []string{"dbcheck"}, Env: env}, say); err != nil {
		return rep, fmt.Errorf("app dbcheck against the restored instance: %w", err)
	}
	rep.Check = now().Sub(t)
	rep.Total = now().Sub(start)
	say("restore drill of stack %s passed: snapshot %s restored in %s, migrate %s, read check %s; total %s (before the deletion)",
		cfg.Stack, rep.Snapshot, rep.Restore.Round(time.Second), rep.Migrate.Round(time.Second), rep.Check.Round(time.Second), rep.Total.Round(time.Second))
	return rep, nil
}

// drillInstanceID names the temporary instance: at most 63 characters,
// letters, digits and hyphens.
func drillInstanceID(instance string, t time.Time) string {
	suffix := "-drill-" + t.UTC().Format("20060102-150405")
	if len(instance)+len(suffix) > 63 {
		instance = strings.TrimRight(instance[:63-len(suffix)], "-")
	}
	return instance + suffix
}

// databaseURL is the stack's DATABASE_URL with another host and port.
func databaseURL(cfg *stackconfig.Config, host string, port int) string {
	for _, v := range cfg.Env(stackconfig.Endpoints{DatabaseHost: host, DatabasePort: port}) {
		if v.Name == "DATABASE_URL" {
			return v.Value
		}
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
