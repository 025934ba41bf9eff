package cost

import (
	"fmt"
	"math"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// What a PR environment (infra/aws.NewPreviewStack) runs: every process
// type at Fargate's smallest size, one task each, on FARGATE_SPOT; one
// secret of its own (its database user's password). Its network, load
// balancer, database instance, cache, key and alarms are its base stack's:
// they cost it nothing more. A test checks these against the program.
const (
	// previewCPU and previewMemory are infra/aws.PreviewCPU and
	// PreviewMemory.
	previewCPU    = 256
	previewMemory = 512
	// previewSecrets is the PR's database password.
	previewSecrets = 1
)

// estimatePreview prices a PR environment: its own tasks and secret, and
// its logs as usage it does not know. Fargate Spot is billed at a price
// AWS varies (50-70% below on-demand), which the table does not hold: the
// Fargate lines are at the on-demand price, an upper bound.
func (t *Table) estimatePreview(cfg *stackconfig.Config) (*Estimate, error) {
	e := &estimator{t: t, cfg: cfg, region: cfg.AWS.Region, hours: t.HoursPerMonth}
	for _, p := range stackconfig.Processes {
		for _, dim := range []struct {
			id, name, key, unit string
			per                 float64
		}{
			{"vcpu", "vCPU", KeyFargateVCPU, "vCPU", previewCPU / 1024.0},
			{"memory", "memory", KeyFargateGB, "GB", previewMemory / 1024.0},
		} {
			e.add("fargate/"+string(p)+"/"+dim.id, fmt.Sprintf("Fargate Spot %s %s", p, dim.name),
				fmt.Sprintf("1 task × %g %s × %g h, at the on-demand price (an upper bound: Spot is 50-70%% less, at a price AWS varies)", dim.per, dim.unit, e.hours),
				dim.key, "previews", dim.per*e.hours)
		}
	}
	e.add("secretsmanager/secrets", "Secrets Manager secrets", "1: the PR's database password", KeySecret, "previews", previewSecrets)
	months := float64(cfg.Previews.LogRetentionDays) / daysPerMonth
	// A PR's log volume is its reviewers' traffic: unknown (not the base's
	// cost.usage.logsIngestedGb).
	e.addUsage("cloudwatch/logs-ingest", "CloudWatch Logs ingestion", "GB a month of the PR's own logs", KeyLogsIngest, "logsIngestedGb", nil, 1)
	e.addUsage("cloudwatch/logs-storage", "CloudWatch Logs storage",
		fmt.Sprintf("GB a month × %d days retention (previews.logRetentionDays)", cfg.Previews.LogRetentionDays), KeyLogsStorage, "logsIngestedGb", nil, months)
	if len(e.errs) > 0 {
		return nil, joinErrs(e.errs)
	}
	for i := range e.lines {
		e.lines[i].UsageField = ""
	}
	out := e.estimate()
	out.PreviewOf = cfg.Preview.Base
	out.Hourly = math.Round(out.Total/t.HoursPerMonth*1e6) / 1e6
	return out, nil
}
