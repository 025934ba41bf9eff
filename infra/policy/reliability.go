package policy

import (
	"fmt"
	"strings"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
)

// albDefaultIdleTimeout is the ALB's idle timeout when none is set.
const albDefaultIdleTimeout = 60

// appContainers are the containers that run the app (they have its env).
func appContainers(r Resource) ([]container, error) {
	cs, ok, err := containers(r)
	if err != nil || !ok {
		return nil, err
	}
	var out []container
	for _, c := range cs {
		if _, ok := c.env("REQUEST_TIMEOUT"); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func envSeconds(c container, name string) (float64, error) {
	v, ok := c.env(name)
	if !ok {
		return 0, fmt.Errorf("%s is not set", name)
	}
	s, err := seconds(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", name, v, err)
	}
	return s, nil
}

// ReliabilityRules check that deploys and shutdowns lose no requests and
// that prod survives an AZ.
func ReliabilityRules() []Rule {
	return []Rule{
		{ID: "SHIPYARD-REL-1", Title: "Request timeout < drain < stop timeout",
			Reason: "a request finishes before draining ends, and draining ends before SIGKILL",
			Types:  []string{TypeTaskDefinition},
			Check: func(r Resource) []string {
				cs, err := appContainers(r)
				if err != nil {
					return []string{err.Error()}
				}
				var out []string
				for _, c := range cs {
					req, err1 := envSeconds(c, "REQUEST_TIMEOUT")
					drain, err2 := envSeconds(c, "SHUTDOWN_TIMEOUT")
					if err1 != nil || err2 != nil {
						out = append(out, fmt.Sprintf("container %s: %v %v", c.Name, err1, err2))
						continue
					}
					if c.StopTimeout == nil {
						out = append(out, fmt.Sprintf("container %s: stopTimeout is not set", c.Name))
						continue
					}
					if !(req < drain && drain < float64(*c.StopTimeout)) {
						out = append(out, fmt.Sprintf("container %s: REQUEST_TIMEOUT %vs < SHUTDOWN_TIMEOUT %vs < stopTimeout %ds does not hold", c.Name, req, drain, *c.StopTimeout))
					}
				}
				return out
			}},
		{ID: "SHIPYARD-REL-2", Title: "The app's idle timeout exceeds the ALB's",
			Reason: "otherwise the app closes keep-alive connections the ALB is about to reuse (502s)",
			Types:  []string{TypeTaskDefinition, TypeLoadBalancer},
			CheckStack: func(rs []Resource) []Violation {
				alb := 0.0
				for _, r := range rs {
					if r.Type == TypeLoadBalancer {
						t, ok := r.Number("idleTimeout")
						if !ok {
							t = albDefaultIdleTimeout
						}
						alb = max(alb, t)
					}
				}
				if alb == 0 {
					return nil
				}
				var out []Violation
				for _, r := range rs {
					if r.Type != TypeTaskDefinition {
						continue
					}
					cs, err := appContainers(r)
					if err != nil {
						out = append(out, Violation{URN: r.URN, Message: err.Error()})
					}
					for _, c := range cs {
						idle, err := envSeconds(c, "HTTP_IDLE_TIMEOUT")
						if err != nil {
							out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("container %s: %v", c.Name, err)})
						} else if idle <= alb {
							out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("container %s: HTTP_IDLE_TIMEOUT %vs <= ALB idle timeout %vs", c.Name, idle, alb)})
						}
					}
				}
				return out
			}},
		{ID: "SHIPYARD-REL-3", Title: "Deployments roll back on failure",
			Reason: "a release that cannot get healthy must not replace the running one",
			Types:  []string{TypeECSService},
			Check: func(r Resource) []string {
				if codeDeployed(r) {
					return nil // Exception: SHIPYARD-REL-7 checks its deployment group.
				}
				if !r.True("deploymentCircuitBreaker.enable") || !r.True("deploymentCircuitBreaker.rollback") {
					return []string{"deploymentCircuitBreaker must enable rollback"}
				}
				return nil
			}},
		{ID: "SHIPYARD-REL-4", Title: "Prod serves from at least two tasks in two AZs",
			Reason:   "one task or one AZ failing must not take the API down",
			Types:    []string{TypeECSService, TypeScalingTarget},
			ProdOnly: true,
			CheckStack: func(rs []Resource) []Violation {
				var out []Violation
				served := map[string]bool{}
				for _, r := range rs {
					if r.Type != TypeECSService || r.Len("loadBalancers") == 0 {
						continue
					}
					served[r.String("name")] = true
					if n, _ := r.Number("desiredCount"); n < 2 {
						out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("desiredCount %v < 2", n)})
					}
					if n := r.Len("networkConfiguration.subnets"); n < 2 && !r.IsUnknown("networkConfiguration.subnets") {
						out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("%d subnets < 2", n)})
					}
				}
				if len(served) == 0 {
					return nil
				}
				for _, r := range rs {
					if r.Type != TypeScalingTarget {
						continue
					}
					id := r.String("resourceId")
					name := id[strings.LastIndex(id, "/")+1:]
					if served[name] {
						if n, _ := r.Number("minCapacity"); n < 2 {
							out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("minCapacity %v < 2", n)})
						}
					}
				}
				return out
			}},
		{ID: "SHIPYARD-REL-6", Title: "A worker that autoscales scales on its job backlog",
			Reason: "CPU does not rise while jobs wait on I/O: only the queue's backlog per task says the workers do not keep up",
			Types:  []string{TypeScalingTarget, TypeScalingPolicy},
			CheckStack: func(rs []Resource) []Violation {
				tracked := map[string]bool{}
				for _, r := range rs {
					if r.Type != TypeScalingPolicy {
						continue
					}
					if backlogTracking(r) {
						tracked[r.String("resourceId")] = true
					}
				}
				var out []Violation
				for _, r := range rs {
					id := r.String("resourceId")
					if r.Type != TypeScalingTarget || r.IsUnknown("resourceId") || !strings.HasSuffix(id, "-worker") {
						continue
					}
					lo, _ := r.Number("minCapacity")
					hi, _ := r.Number("maxCapacity")
					if hi > lo && !tracked[id] {
						out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf(
							"the worker scales from %v to %v tasks with no target tracking on %s per running task", lo, hi, appmetrics.QueuePending)})
					}
				}
				return out
			}},
	}
}

// backlogTracking reports whether r is a target tracking policy with a
// positive target on a metric math expression over the job queue's
// pending jobs (JobsQueuePending) and the running task count.
func backlogTracking(r Resource) bool {
	const spec = "targetTrackingScalingPolicyConfiguration"
	if r.String("policyType") != "TargetTrackingScaling" {
		return false
	}
	if v, _ := r.Number(spec + ".targetValue"); v <= 0 {
		return false
	}
	metrics := spec + ".customizedMetricSpecification.metrics"
	var pending, running, expr bool
	for i := range r.Len(metrics) {
		m := fmt.Sprintf("%s.%d.", metrics, i)
		switch r.String(m + "metricStat.metric.metricName") {
		case appmetrics.QueuePending:
			pending = true
		case "RunningTaskCount":
			running = true
		}
		if r.String(m+"expression") != "" && r.True(m+"returnData") {
			expr = true
		}
	}
	return pending && running && expr
}
