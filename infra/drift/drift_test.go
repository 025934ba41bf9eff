package drift_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/drift"
)

func parseFile(t *testing.T, name string) *drift.Report {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := drift.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The fixtures are `pulumi refresh --preview-only --json` of a local stack
// (CLI v3.200.0, docker provider v4.10.0), cut down to a few resources:
// right after up, and after `docker rm -f` of a web container.
func TestARefreshPreviewRightAfterUpIsClean(t *testing.T) {
	r := parseFile(t, "refresh-clean.json")
	if r.Drift() || len(r.Drifted) != 0 || len(r.Expected) != 0 {
		t.Errorf("drifted %v, expected %v", r.Drifted, r.Expected)
	}
	var out bytes.Buffer
	r.WriteText(&out, "e2e")
	if !strings.Contains(out.String(), "stack e2e: no drift") {
		t.Errorf("output %q", out.String())
	}
}

func TestAContainerRemovedByHandIsOneDriftedLine(t *testing.T) {
	r := parseFile(t, "refresh-deleted-container.json")
	if !r.Drift() || len(r.Drifted) != 1 {
		t.Fatalf("drifted %v", r.Drifted)
	}
	it := r.Drifted[0]
	if it.Op != "delete" || it.Type != "docker:index/container:Container" || it.Name != "shipyard-cdexp-web-2-c5d5e1cb" {
		t.Errorf("item %+v", it)
	}
	var out bytes.Buffer
	r.WriteText(&out, "cdexp")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "- docker:index/container:Container shipyard-cdexp-web-2-c5d5e1cb: deleted outside Pulumi") ||
		!strings.Contains(lines[1], "stack cdexp drifted: 1 difference") {
		t.Errorf("output:\n%s", out.String())
	}
}

const awsPreview = `{
 "changeSummary": {"same": 40, "update": 2},
 "steps": [
  {"op": "refresh", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Service$aws:ecs/service:Service::web-service",
   "oldState": {"type": "aws:ecs/service:Service", "outputs": {"desiredCount": 3, "name": "shipyard-prod-web"}},
   "newState": {"type": "aws:ecs/service:Service", "outputs": {"desiredCount": 5, "name": "shipyard-prod-web"}}},
  {"op": "update", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Network$aws:ec2/securityGroup:SecurityGroup::network-app",
   "oldState": {"type": "aws:ec2/securityGroup:SecurityGroup", "outputs": {"ingress": [], "tags": {"a": "b"}, "name": "app"}},
   "newState": {"type": "aws:ec2/securityGroup:SecurityGroup", "outputs": {"ingress": [{"fromPort": 22}], "tags": {"a": "c"}, "name": "app"}}},
  {"op": "same", "urn": "urn:pulumi:prod::shipyard::pulumi:pulumi:Stack::shipyard-prod"}
 ]
}`

func TestEveryChangedPropertyIsALineAndControllerOwnedFieldsAreExpected(t *testing.T) {
	r, err := drift.Parse([]byte(awsPreview))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range r.Drifted {
		got = append(got, it.Name+"."+it.Property)
	}
	if strings.Join(got, " ") != "network-app.ingress network-app.tags" {
		t.Errorf("drifted %v", got)
	}
	if len(r.Expected) != 1 || r.Expected[0].Property != "desiredCount" || r.Expected[0].Owner == "" {
		t.Errorf("expected %+v; want the autoscaled desiredCount", r.Expected)
	}
	var out bytes.Buffer
	r.WriteText(&out, "prod")
	for _, want := range []string{
		"~ aws:ec2/securityGroup:SecurityGroup network-app: ingress changed outside Pulumi",
		"~ aws:ec2/securityGroup:SecurityGroup network-app: tags changed outside Pulumi",
		"~ aws:ecs/service:Service web-service: desiredCount changed by Application Auto Scaling",
		"stack prod drifted: 2 difference(s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestOnlyControllerOwnedChangesAreNoDrift(t *testing.T) {
	in := strings.NewReplacer(`"ingress": [{"fromPort": 22}], "tags": {"a": "c"}`, `"ingress": [], "tags": {"a": "b"}`,
		`{"op": "update"`, `{"op": "refresh"`, `"update": 2`, `"update": 1`).Replace(awsPreview)
	r, err := drift.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Drift() || len(r.Expected) != 1 {
		t.Errorf("drifted %v, expected %v", r.Drifted, r.Expected)
	}
}

func TestASummaryWithChangesNoStepExplainsIsStillDrift(t *testing.T) {
	r, err := drift.Parse([]byte(`{"changeSummary": {"same": 3, "update": 1}, "steps": []}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Drift() || !strings.Contains(r.Drifted[0].String(), "update:1") {
		t.Errorf("drifted %v", r.Drifted)
	}
}

func TestOutputWithoutAChangeSummaryIsAnError(t *testing.T) {
	for _, in := range []string{``, `{"steps": []}`, `error: no stack named "x"`} {
		if _, err := drift.Parse([]byte(in)); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestTheIgnoredFieldsAreTheControllerOwnedOnes(t *testing.T) {
	if got := drift.IgnoreChanges("aws:ecs/service:Service", drift.Autoscaled); len(got) != 1 || got[0] != "desiredCount" {
		t.Errorf("ignoreChanges of ECS services %v", got)
	}
	if got := drift.IgnoreChanges("aws:ecs/service:Service", drift.Autoscaled, drift.CodeDeploy); strings.Join(got, ",") != "desiredCount,taskDefinition,loadBalancers" {
		t.Errorf("ignoreChanges of an autoscaled CodeDeploy service %v", got)
	}
	if got := drift.IgnoreChanges("aws:ecs/service:Service"); len(got) != 0 {
		t.Errorf("ignoreChanges of a rolling service without autoscaling %v", got)
	}
	if got := drift.IgnoreChanges("aws:lb/listener:Listener", drift.CodeDeploy); len(got) != 1 || got[0] != "defaultActions" {
		t.Errorf("ignoreChanges of a CodeDeploy listener %v", got)
	}
	if got := drift.IgnoreChanges("aws:rds/instance:Instance", drift.Autoscaled, drift.CodeDeploy); len(got) != 0 {
		t.Errorf("ignoreChanges of RDS %v", got)
	}
}
