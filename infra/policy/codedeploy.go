package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// TypeDeploymentGroup is a CodeDeploy deployment group.
const TypeDeploymentGroup = "aws:codedeploy/deploymentGroup:DeploymentGroup"

// WebServiceSuffix ends the name of the web ECS service.
const WebServiceSuffix = "-web"

// GateAlarms are the alarm table's gate rows (infra/signals): every
// CodeDeploy deployment group rolls back on each of them, on both target
// groups (the "-green" copy watches the second one).
var GateAlarms = []string{"targetErrorRate", "targetLatencyP99"}

// codeDeployed reports whether an ECS service is deployed by CodeDeploy.
func codeDeployed(r Resource) bool {
	return r.String("deploymentController.type") == "CODE_DEPLOY"
}

// codeDeployRules check the web service's progressive delivery.
func codeDeployRules() []Rule {
	return []Rule{
		{ID: "SHIPYARD-REL-7", Title: "Prod's web service is deployed by CodeDeploy, which rolls back on failure and on every gate alarm",
			Reason: "a release that passes its health checks but fails requests must reach a share of the traffic first and go back on its own",
			Types:  []string{TypeECSService, TypeDeploymentGroup, TypeMetricAlarm},
			CheckStack: func(rs []Resource) []Violation {
				var out []Violation
				alarms := map[string]bool{}
				groups := map[string]Resource{}
				for _, r := range rs {
					switch r.Type {
					case TypeMetricAlarm:
						alarms[r.String("name")] = true
					case TypeDeploymentGroup:
						groups[r.String("ecsService.serviceName")] = r
					}
				}
				for _, r := range rs {
					if r.Type != TypeECSService {
						continue
					}
					name := r.String("name")
					if !codeDeployed(r) {
						if r.Stack() == stackconfig.ProdStack && strings.HasSuffix(name, WebServiceSuffix) {
							out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("prod's web service %s has deployment controller %q, want CODE_DEPLOY (deploy.strategy canary, linear or bluegreen)", name, orEmpty(r.String("deploymentController.type")))})
						}
						continue
					}
					g, ok := groups[name]
					if !ok {
						out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("service %s is CODE_DEPLOY-controlled but no deployment group deploys it", name)})
						continue
					}
					out = append(out, checkDeploymentGroup(g, alarms)...)
				}
				return out
			}},
	}
}

// checkDeploymentGroup requires auto-rollback on failure and on alarm, and
// an enabled alarm list that names existing alarms, every gate row on both
// target groups among them.
func checkDeploymentGroup(g Resource, alarms map[string]bool) []Violation {
	var msgs []string
	events := g.Strings("autoRollbackConfiguration.events")
	if !g.True("autoRollbackConfiguration.enabled") || !slices.Contains(events, "DEPLOYMENT_FAILURE") || !slices.Contains(events, "DEPLOYMENT_STOP_ON_ALARM") {
		msgs = append(msgs, fmt.Sprintf("autoRollbackConfiguration must be enabled for DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM (events %v)", events))
	}
	names := g.Strings("alarmConfiguration.alarms")
	if !g.True("alarmConfiguration.enabled") || len(names) == 0 && !g.IsUnknown("alarmConfiguration.alarms") {
		msgs = append(msgs, "alarmConfiguration must be enabled with the gate alarms")
	}
	for _, n := range names {
		if !alarms[n] {
			msgs = append(msgs, fmt.Sprintf("alarm %s does not exist", n))
		}
	}
	if !g.IsUnknown("alarmConfiguration.alarms") {
		for _, gate := range GateAlarms {
			for _, suffix := range []string{"", "-green"} {
				if !slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "-"+gate+suffix) }) {
					msgs = append(msgs, fmt.Sprintf("no gate alarm %s%s in alarmConfiguration.alarms", gate, suffix))
				}
			}
		}
	}
	var out []Violation
	for _, m := range msgs {
		out = append(out, Violation{URN: g.URN, Message: m})
	}
	return out
}

func orEmpty(s string) string {
	if s == "" {
		return "ECS (unset)"
	}
	return s
}
