package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Statefulness classifies one resource type for the stateful guard: the
// prod protection rule (SHIPYARD-STATEFUL-1) and CheckPlan.
type Statefulness struct {
	// Type is the resource type token, e.g. "aws:rds/instance:Instance".
	Type string
	// Stateful: deleting or replacing a resource of Type loses something a
	// new `make up` cannot create again: data, a key, an address others
	// allowlist, a secret value running tasks still use. A type Pulumi can
	// recreate identically is not stateful, however much else a
	// replacement of it touches (those resources are classified on their
	// own).
	Stateful bool
	// Why says, for a stateful type, what a deletion or replacement loses;
	// for one that is not, why nothing is lost.
	Why string
	// RenewedBy are the replace reasons that are the deliberate way to get
	// a new value of a stateful type (a random value's keepers: changing
	// them is asking for a new one). A replacement for those reasons alone
	// is not refused; a deletion, or a replacement for any other reason,
	// is. Such a type is not protected in prod: pulumi.Protect refuses
	// every replacement, the deliberate one included.
	RenewedBy []string
	// Kept is set on a stateful entry that no Shipyard program creates,
	// saying why it stays: a plan can still delete resources its stacks'
	// states hold but the program no longer creates, and the guard only
	// sees a type it knows. Empty means some program creates the type
	// (tested over every aws program's graph).
	Kept string
}

// Classification is every resource type the AWS programs (infra/aws
// NewStack and NewPreviewStack, infra/bootstrap) create, stateful or not.
// TestEveryResourceTypeAnAWSProgramCreatesIsClassified fails on a type
// missing here, so a new type is a decision, not a silent gap in the guard;
// TestEveryClassifiedTypeIsCreatedOrKeptForAReason fails on an entry no
// program creates unless it is Kept. Types under WholePrefixes are
// classified as a whole and have no entry.
var Classification = []Statefulness{
	// Data stores.
	{Type: "aws:rds/instance:Instance", Stateful: true, Why: "the database: its data and automated backups (a replacement is a new, empty instance)"},
	{Type: "aws:elasticache/replicationGroup:ReplicationGroup", Stateful: true, Why: "Redis: the job queue (a replacement is a new, empty group)"},
	{Type: "aws:s3/bucketV2:BucketV2", Stateful: true, Why: "its objects: the log archive, the bootstrap's Pulumi state and its history"},
	{Type: "aws:cloudwatch/logGroup:LogGroup", Stateful: true, Why: "the logs it retains (app, log router, VPC flow logs, WAF)"},
	{Type: "aws:ecr/repository:Repository", Stateful: true, Why: "the images releases pin by digest; a rollback needs the previous one"},
	{Type: "aws:kms/key:Key", Stateful: true, Why: "the key material: whatever it encrypted (database, Redis, logs, secrets, Pulumi secrets and state) cannot be decrypted without it"},
	{Type: "aws:secretsmanager/secret:Secret", Stateful: true, Why: "the ARN the running task definitions name (a task that restarts reads its secrets from it) and, in prod, the name, held for the 7-day recovery window"},
	{Type: "aws:ec2/eip:Eip", Stateful: true, Why: "the NAT gateway's public address, the stack's egress IP that partners may allowlist; a released address cannot be got back"},
	{Type: "random:index/randomPassword:RandomPassword", Stateful: true, RenewedBy: []string{"keepers"},
		Why: "the generated value exists only in the Pulumi state: a new one cuts off the tasks that still use the old one (the Redis AUTH token, a PR's database password); new keepers are the rotation (docs/aws.md)"},
	{Type: "aws:s3/bucket:Bucket", Stateful: true, Why: "its objects",
		Kept: "the v1 bucket type: no Shipyard program creates one (they use BucketV2), but the S3 rules check it too, and a plan over a state that holds one (imported, or from a clone's own program) must not delete its objects unasked"},
	{Type: "aws:rds/cluster:Cluster", Stateful: true, Why: "an Aurora cluster's data",
		Kept: "no Shipyard program creates one (the database is an instance), but SHIPYARD-PR-1 names it as the other way to hold the database, and a plan over a state that holds one must not delete it unasked"},

	// What the data stores are configured with: re-created identically.
	{Type: "aws:secretsmanager/secretVersion:SecretVersion", Why: "its value comes from Pulumi config or a RandomPassword, so a replacement writes the same value again; replacing it is how a secret changes (pulumi config set --secret, the token rotation)"},
	{Type: "aws:kms/alias:Alias", Why: "a name for a key; recreated pointing at the same key"},
	{Type: "aws:ecr/lifecyclePolicy:LifecyclePolicy", Why: "the expiry rule of the repository's images, not the images"},
	{Type: "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", Why: "the expiry rules of a bucket's objects, not the objects"},
	{Type: "aws:s3/bucketVersioningV2:BucketVersioningV2", Why: "a bucket setting; the versions already kept stay in the bucket"},
	{Type: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", Why: "a bucket's default encryption; objects keep the encryption they were written with"},
	{Type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", Why: "a bucket setting"},
	{Type: "aws:s3/bucketOwnershipControls:BucketOwnershipControls", Why: "a bucket setting"},
	{Type: "aws:s3/bucketPolicy:BucketPolicy", Why: "a bucket's access policy, written from the program"},
	{Type: "aws:s3/bucketObjectv2:BucketObjectv2", Why: "the Fluent Bit config object, written from the program"},
	{Type: "aws:rds/parameterGroup:ParameterGroup", Why: "the database's parameters, from config"},
	{Type: "aws:rds/subnetGroup:SubnetGroup", Why: "where the database runs: subnets"},
	{Type: "aws:elasticache/subnetGroup:SubnetGroup", Why: "where Redis runs: subnets"},

	// Network: the stack's address is its EIPs', above.
	{Type: "aws:ec2/vpc:Vpc", Why: "addressing only; what runs in it is classified on its own"},
	{Type: "aws:ec2/subnet:Subnet", Why: "addressing only"},
	{Type: "aws:ec2/internetGateway:InternetGateway", Why: "no address or data of its own"},
	{Type: "aws:ec2/natGateway:NatGateway", Why: "its public address is its EIP's, which a new gateway takes over"},
	{Type: "aws:ec2/routeTable:RouteTable", Why: "routes, from the program"},
	{Type: "aws:ec2/routeTableAssociation:RouteTableAssociation", Why: "routes, from the program"},
	{Type: "aws:ec2/securityGroup:SecurityGroup", Why: "rules, from the program"},
	{Type: "aws:ec2/securityGroupRule:SecurityGroupRule", Why: "a rule, from the program"},
	{Type: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", Why: "the VPC's default group, declared without rules"},
	{Type: "aws:ec2/vpcEndpoint:VpcEndpoint", Why: "a private path to an AWS API"},
	{Type: "aws:ec2/flowLog:FlowLog", Why: "the subscription; the flow logs are in their log group"},

	// Serving: the load balancer, its certificate, DNS and WAF.
	{Type: "aws:lb/loadBalancer:LoadBalancer", Why: "its DNS name changes, and the stack's domain follows it (Route 53 alias); clients use the domain"},
	{Type: "aws:lb/listener:Listener", Why: "routing, from the program"},
	{Type: "aws:lb/listenerRule:ListenerRule", Why: "routing, from the program"},
	{Type: "aws:lb/targetGroup:TargetGroup", Why: "the tasks register again"},
	{Type: "aws:acm/certificate:Certificate", Why: "a new one is issued and validated through DNS by the program"},
	{Type: "aws:acm/certificateValidation:CertificateValidation", Why: "waits for the certificate; holds nothing"},
	{Type: "aws:route53/record:Record", Why: "written from the program"},
	{Type: "aws:wafv2/webAcl:WebAcl", Why: "rules, from the program; its rate counters restart"},
	{Type: "aws:wafv2/webAclAssociation:WebAclAssociation", Why: "attaches the web ACL"},
	{Type: "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", Why: "the subscription; the WAF logs are in their log group"},

	// Compute: releases replace task definitions on every deploy.
	{Type: "aws:ecs/cluster:Cluster", Why: "runs the services; the tasks start again"},
	{Type: "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders", Why: "a cluster setting"},
	{Type: "aws:ecs/service:Service", Why: "its tasks start again from the task definition (a deploy's own doing)"},
	{Type: "aws:ecs/taskDefinition:TaskDefinition", Why: "a release registers a new revision: every deploy replaces them"},
	{Type: "aws:appautoscaling/target:Target", Why: "scaling bounds, from config; the current count is the service's"},
	{Type: "aws:appautoscaling/policy:Policy", Why: "scaling rules, from config"},
	{Type: "aws:codedeploy/application:Application", Why: "the deployment history is lost, not the deployed tasks"},
	{Type: "aws:codedeploy/deploymentGroup:DeploymentGroup", Why: "the deployment history is lost, not the deployed tasks"},
	{Type: "aws:codedeploy/deploymentConfig:DeploymentConfig", Why: "the traffic-shifting steps, from config"},

	// Identity and access: recreated from the program's documents.
	{Type: "aws:iam/role:Role", Why: "trust and permissions, from the program"},
	{Type: "aws:iam/rolePolicy:RolePolicy", Why: "permissions, from the program"},
	{Type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment", Why: "permissions, from the program"},
	{Type: "aws:iam/openIdConnectProvider:OpenIdConnectProvider", Why: "GitHub's issuer and audience; recreated with the same ARN"},

	// Observability: recreated from the program; the metrics are CloudWatch's.
	{Type: "aws:cloudwatch/metricAlarm:MetricAlarm", Why: "thresholds, from the program; only its state history restarts"},
	{Type: "aws:cloudwatch/dashboard:Dashboard", Why: "written from the program"},
	{Type: "aws:sns/topic:Topic", Why: "delivers, stores nothing; its subscriptions are recreated with it (email ones must be confirmed again)"},
	{Type: "aws:sns/topicPolicy:TopicPolicy", Why: "written from the program"},
	{Type: "aws:sns/topicSubscription:TopicSubscription", Why: "recreated from config.alarms; a new email subscription must be confirmed again (one click), and removing an address deletes its subscription, which is the intent"},
}

// WholePrefixes are the type prefixes classified as a whole: not resources
// that hold data, so none is stateful.
var WholePrefixes = []struct{ Prefix, Why string }{
	{"shipyard:", "Shipyard's component resources (shipyard:aws:Database, shipyard:bootstrap:Bootstrap…) only group resources, whose own types are classified"},
	{"pulumi:", "Pulumi's own: the stack, providers and stack references hold no data"},
}

// Classify returns the classification of typ: its Classification entry,
// or a non-stateful one for a type under WholePrefixes; ok is false for a
// type nobody classified.
func Classify(typ string) (s Statefulness, ok bool) {
	for _, s := range Classification {
		if s.Type == typ {
			return s, true
		}
	}
	for _, p := range WholePrefixes {
		if strings.HasPrefix(typ, p.Prefix) {
			return Statefulness{Type: typ, Why: p.Why}, true
		}
	}
	return Statefulness{}, false
}

// StatefulTypes are the stateful types of Classification.
var StatefulTypes = classified(func(s Statefulness) bool { return s.Stateful })

// ProtectedTypes are the stateful types prod creates with
// pulumi.Protect(true) (SHIPYARD-STATEFUL-1): all but those RenewedBy
// replacements, which protection would refuse.
var ProtectedTypes = classified(func(s Statefulness) bool { return s.Stateful && len(s.RenewedBy) == 0 })

func classified(keep func(Statefulness) bool) []string {
	var out []string
	for _, s := range Classification {
		if keep(s) {
			out = append(out, s.Type)
		}
	}
	return out
}

// IsStateful reports whether deleting or replacing a resource of typ loses
// what `make up` cannot create again (Classification); an unclassified
// type is not, though StatefulChanges refuses its deletion all the same.
func IsStateful(typ string) bool {
	s, _ := Classify(typ)
	return s.Stateful
}

// renewal reports whether reasons are, all of them, among the deliberate
// renewal reasons of s: a reason names a property ("keepers") or a path
// under it ("keepers.authTokenVersion", `keepers["authTokenVersion"]`).
func (s Statefulness) renewal(reasons []string) bool {
	if len(s.RenewedBy) == 0 || len(reasons) == 0 {
		return false
	}
	for _, r := range reasons {
		ok := false
		for _, p := range s.RenewedBy {
			if r == p || strings.HasPrefix(r, p+".") || strings.HasPrefix(r, p+"[") {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// StatefulRules require protection of stateful resources in prod.
func StatefulRules() []Rule {
	return []Rule{{
		ID:           "SHIPYARD-STATEFUL-1",
		Title:        "Stateful resources are protected in prod",
		Reason:       "neither pulumi destroy nor a replacement may delete production data",
		Types:        ProtectedTypes,
		ProdOnly:     true,
		ReadsOptions: true,
		Check: func(r Resource) []string {
			if !r.Protect {
				return []string{"must be created with pulumi.Protect(true)"}
			}
			return nil
		},
	}}
}

// Destructive step ops of `pulumi preview --json`: they delete a resource's
// current physical instance.
var destructiveOps = []string{"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced", "import-replacement"}

// replacementOps are the destructive ops of a replacement; the others
// (delete, discard) remove the resource for good.
var replacementOps = []string{"replace", "create-replacement", "delete-replaced", "discard-replaced", "import-replacement"}

// previewDigest is the part of `pulumi preview --json` CheckPlan reads (see
// pulumi/pkg display/json.go).
type previewDigest struct {
	Steps []previewStep `json:"steps"`
}

type previewStep struct {
	Op             string         `json:"op"`
	URN            string         `json:"urn"`
	OldState       *previewState  `json:"oldState"`
	NewState       *previewState  `json:"newState"`
	ReplaceReasons []string       `json:"replaceReasons"`
	DetailedDiff   map[string]any `json:"detailedDiff"`
}

type previewState struct {
	Type string `json:"type"`
}

// StatefulChange is one destructive step on a stateful resource, or on a
// resource whose type nobody classified (Unclassified): the guard cannot
// tell that deleting it loses nothing, so it refuses it too, until the
// type is added to Classification.
type StatefulChange struct {
	Op, URN, Type  string
	ReplaceReasons []string
	Unclassified   bool
}

func (c StatefulChange) String() string {
	s := fmt.Sprintf("%s %s", c.Op, c.URN)
	if len(c.ReplaceReasons) > 0 {
		s += " (replace because of " + strings.Join(c.ReplaceReasons, ", ") + ")"
	}
	switch {
	case c.Unclassified && c.Type == "":
		s += " (its type is unknown: the guard cannot tell what deleting it loses)"
	case c.Unclassified:
		s += fmt.Sprintf(" (type %s is not classified: add it to Classification in infra/policy/stateful.go, stateful or not, with why)", c.Type)
	}
	return s
}

// PlanError lists the destructive steps a plan would take on stateful
// resources.
type PlanError struct {
	Changes []StatefulChange
}

func (e *PlanError) Error() string {
	lines := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		lines[i] = "  " + c.String()
	}
	return fmt.Sprintf("the plan deletes or replaces %d %s:\n%s\nre-run with --allow-stateful-changes if this is intended", len(e.Changes), Noun(e.Changes), strings.Join(lines, "\n"))
}

// Noun names what changes holds: "stateful resource(s)", or "stateful or
// unclassified resource(s)" when a type among them is not classified.
func Noun(changes []StatefulChange) string {
	for _, c := range changes {
		if c.Unclassified {
			return "stateful or unclassified resource(s)"
		}
	}
	return "stateful resource(s)"
}

// StatefulChanges returns the destructive steps on stateful resources
// (IsStateful) and on resources of a type Classify does not know (failing
// closed: a type removed from the program and the table, or one a team
// added to its state by hand, may hold data) in a `pulumi preview --json`
// document, one per resource, leaving out a replacement whose reasons are
// all the type's RenewedBy.
func StatefulChanges(previewJSON io.Reader) ([]StatefulChange, error) {
	var d previewDigest
	dec := json.NewDecoder(previewJSON)
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("guard: empty preview; pipe `pulumi preview --json` in")
		}
		return nil, fmt.Errorf("guard: reading preview JSON: %w", err)
	}
	// A replacement appears as replace, create-replacement and
	// delete-replaced steps of one URN (not all with its reasons): each
	// URN is reported once, with its first op and every reason.
	byURN := map[string]*StatefulChange{}
	deleted := map[string]bool{}
	var out []StatefulChange
	var urns []string
	for _, s := range d.Steps {
		if !contains(destructiveOps, s.Op) {
			continue
		}
		typ := ""
		switch {
		case s.OldState != nil && s.OldState.Type != "":
			typ = s.OldState.Type
		case s.NewState != nil && s.NewState.Type != "":
			typ = s.NewState.Type
		default:
			typ = typeOfURN(s.URN)
		}
		class, known := Classify(typ)
		if known && !class.Stateful {
			continue
		}
		c, ok := byURN[s.URN]
		if !ok {
			c = &StatefulChange{Op: s.Op, URN: s.URN, Type: typ, Unclassified: !known}
			byURN[s.URN] = c
			urns = append(urns, s.URN)
		}
		for _, r := range s.ReplaceReasons {
			if !contains(c.ReplaceReasons, r) {
				c.ReplaceReasons = append(c.ReplaceReasons, r)
			}
		}
		if !contains(replacementOps, s.Op) {
			deleted[s.URN] = true
		}
	}
	for _, urn := range urns {
		c := byURN[urn]
		// A deliberate renewal (new keepers) is how the value rotates.
		if s, _ := Classify(c.Type); !deleted[urn] && s.renewal(c.ReplaceReasons) {
			continue
		}
		out = append(out, *c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out, nil
}

// CheckPlan refuses a plan (`pulumi preview --json` output) that deletes or
// replaces a stateful resource, unless allow. An unreadable plan is an
// error either way.
func CheckPlan(previewJSON io.Reader, allow bool) error {
	changes, err := StatefulChanges(previewJSON)
	if err != nil {
		return err
	}
	if len(changes) > 0 && !allow {
		return &PlanError{Changes: changes}
	}
	return nil
}
