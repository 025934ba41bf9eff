package policy

import (
	"fmt"
	"slices"
	"strings"
)

// collectorImage is the repository of the AWS Distro for OpenTelemetry
// collector, the sidecar that sends a task's spans to X-Ray.
const collectorImage = "public.ecr.aws/aws-observability/aws-otel-collector:"

// XRayWriteActions is every X-Ray action a Shipyard task may be allowed:
// what the collector's awsxray exporter calls. Sampling is the app's
// (parent-based ratio), so no GetSamplingRules/GetSamplingTargets; nothing
// reads traces.
var XRayWriteActions = []string{"xray:PutTraceSegments"}

// xrayGrants returns, per Allow statement of r's policies that names an
// X-Ray action, the statement's id and X-Ray actions.
func xrayGrants(r Resource) (grants map[string][]string, err error) {
	docs, _ := policyDocuments(r)
	for _, d := range docs {
		if d == "" {
			continue
		}
		doc, err := parsePolicy(d)
		if err != nil {
			return nil, err
		}
		for _, s := range doc.Statement {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Action {
				if strings.HasPrefix(strings.ToLower(a), "xray:") {
					if grants == nil {
						grants = map[string][]string{}
					}
					grants[s.Sid] = append(grants[s.Sid], a)
				}
			}
		}
	}
	return grants, nil
}

func runsCollector(r Resource) bool {
	cs, ok, err := containers(r)
	if !ok || err != nil {
		return false
	}
	return slices.ContainsFunc(cs, func(c container) bool { return strings.HasPrefix(c.Image, collectorImage) })
}

func tracingRules() []Rule {
	return []Rule{
		{ID: "SHIPYARD-TRACE-1", Title: "Task roles may write traces to X-Ray and do nothing else there",
			Reason: "the ADOT collector sidecar only calls PutTraceSegments; sampling rules, trace reads and other X-Ray actions are not needed",
			Types:  policyTypes,
			Check: func(r Resource) []string {
				grants, err := xrayGrants(r)
				if err != nil {
					return nil // IAM.21 reports invalid documents
				}
				var out []string
				for sid, actions := range grants {
					for _, a := range actions {
						if !contains(XRayWriteActions, a) {
							out = append(out, fmt.Sprintf("statement %q allows %s; allowed X-Ray actions: %s", sid, a, strings.Join(XRayWriteActions, ", ")))
						}
					}
				}
				return out
			}},
		{ID: "SHIPYARD-TRACE-2", Title: "Tasks that run the ADOT collector may write to X-Ray, and no role may without one",
			Reason: "a collector without xray:PutTraceSegments drops every span; the permission without a collector is unused privilege",
			Types:  []string{TypeTaskDefinition, TypeIAMRolePolicy, TypeIAMRole, TypeIAMPolicy},
			CheckStack: func(rs []Resource) []Violation {
				var collectors []Resource
				var writers []Resource
				for _, r := range rs {
					switch r.Type {
					case TypeTaskDefinition:
						if runsCollector(r) {
							collectors = append(collectors, r)
						}
					case TypeIAMRolePolicy, TypeIAMRole, TypeIAMPolicy:
						grants, err := xrayGrants(r)
						if err != nil {
							continue
						}
						for _, actions := range grants {
							if contains(actions, "xray:PutTraceSegments") {
								writers = append(writers, r)
								break
							}
						}
					}
				}
				var out []Violation
				if len(collectors) > 0 && len(writers) == 0 {
					for _, td := range collectors {
						out = append(out, Violation{URN: td.URN, Message: "runs the ADOT collector, but no task role allows xray:PutTraceSegments"})
					}
				}
				if len(collectors) == 0 {
					for _, w := range writers {
						out = append(out, Violation{URN: w.URN, Message: "allows xray:PutTraceSegments, but no task runs the ADOT collector"})
					}
				}
				return out
			}},
	}
}
