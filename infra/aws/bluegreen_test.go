package aws_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

const (
	tCodeDeployApp    = "aws:codedeploy/application:Application"
	tCodeDeployConfig = "aws:codedeploy/deploymentConfig:DeploymentConfig"
)

func TestEveryAWSStacksWebServiceIsDeployedByCodeDeployWithTwoTargetGroupsAndATestListener(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			if !cfg.Deploy.Progressive() {
				t.Fatalf("config/%s.json: deploy.strategy %q", stack, cfg.Deploy.Strategy)
			}
			g := graph(t, stack, true)
			web := pick(t, g, tService, "web-service")
			if web.String("deploymentController.type") != "CODE_DEPLOY" {
				t.Errorf("web deployment controller %q", web.String("deploymentController.type"))
			}
			for _, field := range []string{"taskDefinition", "loadBalancers"} {
				if !slices.Contains(web.IgnoreChanges, field) {
					t.Errorf("the web service does not leave %s to CodeDeploy: ignoreChanges %v", field, web.IgnoreChanges)
				}
			}
			// `shipyard up` redeploys web through CodeDeploy when it does
			// not run this output's task definition (cmd/shipyard
			// upredeploy.go): it must be the one the update registers.
			registered := reflect.ValueOf(g.Outputs["taskDefinitionArns"]).MapIndex(reflect.ValueOf("web"))
			if !registered.IsValid() || fmt.Sprint(reflect.Indirect(registered).Interface()) != web.String("taskDefinition") || web.String("taskDefinition") == "" {
				t.Errorf("taskDefinitionArns.web is %v, not the task definition the update registers for web (%q)", registered, web.String("taskDefinition"))
			}
			for _, p := range []string{"worker-service", "clock-service"} {
				s := pick(t, g, tService, p)
				if s.String("deploymentController.type") == "CODE_DEPLOY" || !s.Bool("deploymentCircuitBreaker.rollback") {
					t.Errorf("%s is not a rolling ECS deployment with the circuit breaker", p)
				}
			}
			if tgs := g.ByType(tTarget); len(tgs) != 2 {
				t.Fatalf("%d target groups, want blue and green", len(tgs))
			}
			var prod, test *struct{ port float64 }
			for _, l := range g.ByType(tListener) {
				switch l.Number("port") {
				case 443:
					prod = &struct{ port float64 }{443}
					if !slices.Contains(l.IgnoreChanges, "defaultActions") {
						t.Errorf("the production listener's target group is CodeDeploy's, but Pulumi would put it back: ignoreChanges %v", l.IgnoreChanges)
					}
				case awsinfra.TestListenerPort:
					test = &struct{ port float64 }{awsinfra.TestListenerPort}
					if l.String("protocol") != "HTTPS" || !slices.Contains(l.IgnoreChanges, "defaultActions") {
						t.Errorf("test listener protocol %q ignoreChanges %v", l.String("protocol"), l.IgnoreChanges)
					}
				}
			}
			if prod == nil || test == nil {
				t.Fatalf("listeners: production %v, test %v", prod, test)
			}
			if len(g.ByType(tCodeDeployApp)) != 1 || pick(t, g, tCodeDeployApp, "").String("computePlatform") != "ECS" {
				t.Errorf("no ECS CodeDeploy application")
			}
			dg := pick(t, g, tDeploymentGroup, "")
			if dg.String("deploymentStyle.deploymentType") != "BLUE_GREEN" || dg.String("deploymentStyle.deploymentOption") != "WITH_TRAFFIC_CONTROL" {
				t.Errorf("deployment style %v", dg.Inputs["deploymentStyle"])
			}
			if dg.String("ecsService.serviceName") != "shipyard-"+stack+"-web" {
				t.Errorf("deployment group deploys %q", dg.String("ecsService.serviceName"))
			}
			if _, ok := dg.Input("loadBalancerInfo.targetGroupPairInfo.targetGroups.1.name"); !ok {
				t.Errorf("the deployment group has no target group pair: %v", dg.Inputs["loadBalancerInfo"])
			}
			if _, ok := dg.Input("loadBalancerInfo.targetGroupPairInfo.testTrafficRoute.listenerArns.0"); !ok {
				t.Errorf("the deployment group has no test traffic route")
			}
			events := inputStrings(*dg, "autoRollbackConfiguration.events")
			if !dg.Bool("autoRollbackConfiguration.enabled") || !slices.Contains(events, "DEPLOYMENT_FAILURE") || !slices.Contains(events, "DEPLOYMENT_STOP_ON_ALARM") {
				t.Errorf("auto rollback %v", dg.Inputs["autoRollbackConfiguration"])
			}
			alarms := inputStrings(*dg, "alarmConfiguration.alarms")
			for _, gate := range cfg.Deploy.Gates {
				for _, id := range []string{gate, gate + awsinfra.GreenAlarmSuffix} {
					name := awsinfra.AlarmName("shipyard-"+stack, id)
					if !slices.Contains(alarms, name) {
						t.Errorf("the deployment group does not roll back on %s: %v", name, alarms)
					}
				}
				// A release reads the gate from these two alarms.
				for _, name := range release.GateAlarmNames(stack, gate) {
					if !slices.Contains(alarms, name) {
						t.Errorf("release.GateAlarmNames names %s, which the deployment group does not roll back on: %v", name, alarms)
					}
				}
				green := pick(t, g, tAlarm, "web-deploy-"+gate+awsinfra.GreenAlarmSuffix)
				blue := pick(t, g, tAlarm, "alarms-"+gate)
				gd, bd := tgDimension(green), tgDimension(blue)
				if gd == "" || gd == bd || !strings.HasPrefix(gd, "targetgroup/") {
					t.Errorf("%s: green alarm on target group %q, blue on %q: want the second target group", gate, gd, bd)
				}
			}
		})
	}
}

// tgDimension returns the TargetGroup dimension an alarm reads.
func tgDimension(a *pulumitest.Resource) string {
	if v := a.String("dimensions.TargetGroup"); v != "" {
		return v
	}
	for i := 0; i < 5; i++ {
		if v := a.String("metricQueries." + string(rune('0'+i)) + ".metric.dimensions.TargetGroup"); v != "" {
			return v
		}
	}
	return ""
}

func TestTheDeployStrategyPicksCodeDeploysConfig(t *testing.T) {
	for _, tt := range []struct {
		deploy stackconfig.Deploy
		want   awsinfra.CodeDeployConfig
	}{
		{stackconfig.Deploy{Strategy: "canary", CanaryPercent: 10, BakeSeconds: 300},
			awsinfra.CodeDeployConfig{Name: "CodeDeployDefault.ECSCanary10Percent5Minutes", Percent: 10, IntervalMinutes: 5, TerminationWaitMinutes: 5}},
		{stackconfig.Deploy{Strategy: "canary", CanaryPercent: 25, BakeSeconds: 180},
			awsinfra.CodeDeployConfig{Name: "shipyard-x-Canary25Percent3Minutes", Custom: "TimeBasedCanary", Percent: 25, IntervalMinutes: 3, TerminationWaitMinutes: 3}},
		{stackconfig.Deploy{Strategy: "linear", StepPercent: 10, BakeSeconds: 180},
			awsinfra.CodeDeployConfig{Name: "CodeDeployDefault.ECSLinear10PercentEvery3Minutes", Percent: 10, IntervalMinutes: 3, TerminationWaitMinutes: 3}},
		{stackconfig.Deploy{Strategy: "linear", StepPercent: 20, BakeSeconds: 240},
			awsinfra.CodeDeployConfig{Name: "shipyard-x-Linear20Percent4Minutes", Custom: "TimeBasedLinear", Percent: 20, IntervalMinutes: 4, TerminationWaitMinutes: 4}},
		{stackconfig.Deploy{Strategy: "bluegreen", BakeSeconds: 180},
			awsinfra.CodeDeployConfig{Name: "CodeDeployDefault.ECSAllAtOnce", TerminationWaitMinutes: 3}},
	} {
		got, err := awsinfra.DeploymentConfigFor("shipyard-x", tt.deploy)
		if err != nil || got != tt.want {
			t.Errorf("%+v: %+v, %v; want %+v", tt.deploy, got, err, tt.want)
		}
	}
	if _, err := awsinfra.DeploymentConfigFor("shipyard-x", stackconfig.Deploy{Strategy: "canary", CanaryPercent: 10, BakeSeconds: 90}); err == nil {
		t.Error("a bake of 90 s is not whole minutes, but CodeDeploy got a config")
	}
}

func TestAStackWithTheRollingStrategyHasNoCodeDeploy(t *testing.T) {
	g := runEdited(t, "staging", func(c *stackconfig.Config) { c.Deploy.Strategy = stackconfig.StrategyRolling })
	if n := len(g.ByType(tCodeDeployApp)) + len(g.ByType(tDeploymentGroup)) + len(g.ByType(tCodeDeployConfig)); n != 0 {
		t.Errorf("%d CodeDeploy resources", n)
	}
	web := pick(t, g, tService, "web-service")
	if web.String("deploymentController.type") == "CODE_DEPLOY" || slices.Contains(web.IgnoreChanges, "taskDefinition") || !web.Bool("alarms.rollback") {
		t.Errorf("rolling web service: controller %q ignoreChanges %v alarms %v", web.String("deploymentController.type"), web.IgnoreChanges, web.Inputs["alarms"])
	}
	if tgs := g.ByType(tTarget); len(tgs) != 1 {
		t.Errorf("%d target groups", len(tgs))
	}
}
