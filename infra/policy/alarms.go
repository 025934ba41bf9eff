package policy

import (
	"fmt"
	"strings"
)

// Resource types of the alarm rules.
const (
	TypeMetricAlarm = "aws:cloudwatch/metricAlarm:MetricAlarm"
	TypeSNSTopic    = "aws:sns/topic:Topic"
)

// NoDeploymentAlarmSuffix ends the name of the one ECS service deployed
// without alarms: the clock (see Exceptions).
const NoDeploymentAlarmSuffix = "-clock"

// alarmRules check that alarms reach someone, that deployments roll back on
// them, and that what they say is encrypted.
func alarmRules() []Rule {
	return []Rule{
		{ID: "SHIPYARD-REL-5", Title: "Web and worker deployments roll back on CloudWatch alarms",
			Reason: "a release whose tasks are healthy but fail requests or jobs must not replace the running one",
			Types:  []string{TypeECSService},
			Check: func(r Resource) []string {
				if strings.HasSuffix(r.String("name"), NoDeploymentAlarmSuffix) {
					return nil // Exception: the clock.
				}
				if codeDeployed(r) {
					return nil // Exception: SHIPYARD-REL-7 checks its deployment group.
				}
				if IsPreviewStack(r.Stack()) {
					return nil // Exception: PR environments have no alarms.
				}
				var out []string
				if !r.True("alarms.enable") || !r.True("alarms.rollback") {
					out = append(out, "alarms must be enabled with rollback")
				}
				if r.Len("alarms.alarmNames") == 0 && !r.IsUnknown("alarms.alarmNames") {
					out = append(out, "alarms.alarmNames names no alarm")
				}
				return out
			}},
		{ID: "CloudWatch.15", Title: "CloudWatch alarms notify on ALARM and on OK",
			Reason: "an alarm nobody hears is not monitoring, and nobody should have to poll for the all-clear",
			Types:  []string{TypeMetricAlarm},
			Check: func(r Resource) []string {
				var out []string
				if enabled, set := r.Bool("actionsEnabled"); set && !enabled {
					out = append(out, "actionsEnabled is false (CloudWatch.17)")
				}
				for _, path := range []string{"alarmActions", "okActions"} {
					if r.Len(path) == 0 && !r.IsUnknown(path) {
						out = append(out, fmt.Sprintf("%s is empty", path))
					}
				}
				return out
			}},
		{ID: "SNS.1", Title: "SNS topics are encrypted with the stack's customer-managed KMS key",
			Reason: "alarm notifications name resources and carry metric values (checkov CKV_AWS_26)",
			Types:  []string{TypeSNSTopic},
			Check: func(r Resource) []string {
				if msg := customerKey(r, "kmsMasterKeyId"); msg != "" {
					return []string{msg}
				}
				return nil
			}},
	}
}
