package policy_test

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/policy"
)

func TestCheckPlan(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		input   string
		allow   bool
		// wantURNs are the stateful changes reported; nil means the plan passes.
		wantURNs []string
		wantErr  string
	}{
		{name: "a deploy that replaces task definitions and updates log retention passes", fixture: "preview-deploy.json"},
		{name: "replacing the prod database is refused", fixture: "preview-replace-database.json",
			wantURNs: []string{"urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance"},
			wantErr:  "replace because of dbName"},
		{name: "replacing the prod database passes when explicitly allowed", fixture: "preview-replace-database.json", allow: true},
		{name: "deleting a log group and a bucket is refused, deleting a service is not reported", fixture: "preview-delete-logs.json",
			wantURNs: []string{
				"urn:pulumi:staging::shipyard::shipyard:aws:Logging$aws:cloudwatch/logGroup:LogGroup::logs-clock",
				"urn:pulumi:staging::shipyard::shipyard:aws:Logging$aws:s3/bucketV2:BucketV2::logs-archive",
			},
			wantErr: "--allow-stateful-changes"},
		{name: "adopting the stack key on an existing stack replaces the database and Redis, and is refused", fixture: "preview-adopt-stack-key.json",
			wantURNs: []string{
				"urn:pulumi:prod::shipyard::shipyard:aws:Cache$aws:elasticache/replicationGroup:ReplicationGroup::cache-redis",
				"urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance",
			},
			wantErr: "replace because of kmsKeyId"},
		{name: "the refresh steps of a refreshed plan (preview --refresh, as up plans) are not changes",
			input: `{"steps": [{"op": "refresh", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance", "oldState": {"type": "aws:rds/instance:Instance"}},
				{"op": "same", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance", "oldState": {"type": "aws:rds/instance:Instance"}}]}`},
		{name: "the replacement that drift found by the refresh causes is refused",
			input: `{"steps": [{"op": "refresh", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance", "oldState": {"type": "aws:rds/instance:Instance"}},
				{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance", "oldState": {"type": "aws:rds/instance:Instance"}, "replaceReasons": ["storageEncrypted"]}]}`,
			wantURNs: []string{"urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::database-instance"},
			wantErr:  "replace because of storageEncrypted"},
		{name: "the Redis AUTH token rotation (a new random value because its keepers changed, a new secret version) passes", fixture: "preview-rotate-redis-token.json"},
		{name: "a random value replaced for another reason than its keepers is refused: tasks still use the old one",
			input:    `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Cache$random:index/randomPassword:RandomPassword::cache-auth-token", "oldState": {"type": "random:index/randomPassword:RandomPassword"}, "replaceReasons": ["keepers", "length"]}]}`,
			wantURNs: []string{"urn:pulumi:prod::shipyard::shipyard:aws:Cache$random:index/randomPassword:RandomPassword::cache-auth-token"},
			wantErr:  "replace because of keepers, length"},
		{name: "a random value replaced for a change under its keepers passes (the reason may name the path)",
			input: `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Cache$random:index/randomPassword:RandomPassword::cache-auth-token", "oldState": {"type": "random:index/randomPassword:RandomPassword"}, "replaceReasons": ["keepers.authTokenVersion"]}]}`},
		{name: "a random value replaced with no reason given is refused",
			input:    `{"steps": [{"op": "delete-replaced", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Cache$random:index/randomPassword:RandomPassword::cache-auth-token", "oldState": {"type": "random:index/randomPassword:RandomPassword"}}]}`,
			wantURNs: []string{"urn:pulumi:prod::shipyard::shipyard:aws:Cache$random:index/randomPassword:RandomPassword::cache-auth-token"},
			wantErr:  "delete-replaced"},
		{name: "deleting a random value is refused even with keepers among the reasons of another step",
			input: `{"steps": [{"op": "replace", "urn": "urn:pulumi:dev-pr-7::shipyard::shipyard:aws:PreviewDatabaseSecret$random:index/randomPassword:RandomPassword::database-secret-password", "oldState": {"type": "random:index/randomPassword:RandomPassword"}, "replaceReasons": ["keepers"]},
				{"op": "delete", "urn": "urn:pulumi:dev-pr-7::shipyard::shipyard:aws:PreviewDatabaseSecret$random:index/randomPassword:RandomPassword::database-secret-password", "oldState": {"type": "random:index/randomPassword:RandomPassword"}}]}`,
			wantURNs: []string{"urn:pulumi:dev-pr-7::shipyard::shipyard:aws:PreviewDatabaseSecret$random:index/randomPassword:RandomPassword::database-secret-password"},
			wantErr:  "--allow-stateful-changes"},
		{name: "keepers renew only the types that declare them: a key replaced because of keepers is refused",
			input:    `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Logging$aws:kms/key:Key::logs-key", "oldState": {"type": "aws:kms/key:Key"}, "replaceReasons": ["keepers"]}]}`,
			wantURNs: []string{"urn:pulumi:prod::shipyard::shipyard:aws:Logging$aws:kms/key:Key::logs-key"},
			wantErr:  "replace because of keepers"},
		{name: "going from a NAT gateway per zone to one deletes two egress addresses, and is refused; the gateways are not reported", fixture: "preview-single-nat.json",
			wantURNs: []string{
				"urn:pulumi:prod::shipyard::shipyard:aws:Network$aws:ec2/eip:Eip::network-nat-1",
				"urn:pulumi:prod::shipyard::shipyard:aws:Network$aws:ec2/eip:Eip::network-nat-2",
			},
			wantErr: "delete urn:pulumi:prod::shipyard::shipyard:aws:Network$aws:ec2/eip:Eip::network-nat-1"},
		{name: "replacing a component or a provider is not a stateful change (their resources are checked on their own)",
			input: `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database::database", "oldState": {"type": "shipyard:aws:Database"}},
				{"op": "replace", "urn": "urn:pulumi:prod::shipyard::pulumi:providers:aws::default", "oldState": {"type": "pulumi:providers:aws"}, "replaceReasons": ["region"]}]}`},
		{name: "deleting a resource of a type nobody classified is refused, naming the type and where to classify it",
			input:    `{"steps": [{"op": "delete", "urn": "urn:pulumi:prod::shipyard::aws:dynamodb/table:Table::sessions", "oldState": {"type": "aws:dynamodb/table:Table"}}]}`,
			wantURNs: []string{"urn:pulumi:prod::shipyard::aws:dynamodb/table:Table::sessions"},
			wantErr:  "type aws:dynamodb/table:Table is not classified: add it to Classification in infra/policy/stateful.go"},
		{name: "replacing a resource of an unclassified type is refused even for its keepers",
			input:    `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::random:index/randomString:RandomString::suffix", "oldState": {"type": "random:index/randomString:RandomString"}, "replaceReasons": ["keepers"]}]}`,
			wantURNs: []string{"urn:pulumi:prod::shipyard::random:index/randomString:RandomString::suffix"},
			wantErr:  "1 stateful or unclassified resource(s)"},
		{name: "a step with neither a state nor a valid URN is refused: its type is unknown",
			input:    `{"steps": [{"op": "delete", "urn": "not-a-urn"}]}`,
			wantURNs: []string{"not-a-urn"},
			wantErr:  "(its type is unknown: the guard cannot tell what deleting it loses)"},
		{name: "an empty preview is an error even when allowed", input: "", allow: true, wantErr: "empty preview"},
		{name: "a preview that is not JSON is an error even when allowed", input: "Previewing update (prod):", allow: true, wantErr: "reading preview JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open := func() *strings.Reader {
				if c.fixture == "" {
					return strings.NewReader(c.input)
				}
				b, err := os.ReadFile("testdata/" + c.fixture)
				if err != nil {
					t.Fatal(err)
				}
				return strings.NewReader(string(b))
			}
			err := policy.CheckPlan(open(), c.allow)
			var planErr *policy.PlanError
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("CheckPlan: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("CheckPlan: %v, want an error containing %q", err, c.wantErr)
			case c.wantURNs != nil:
				if !errors.As(err, &planErr) {
					t.Fatalf("error %T, want *PlanError", err)
				}
				var urns []string
				for _, ch := range planErr.Changes {
					urns = append(urns, ch.URN)
				}
				if !reflect.DeepEqual(urns, c.wantURNs) {
					t.Errorf("changes %v, want %v", urns, c.wantURNs)
				}
			}
			if c.allow && c.fixture != "" {
				changes, err := policy.StatefulChanges(open())
				if err != nil || len(changes) == 0 {
					t.Errorf("allowed plan: changes %v, err %v; allowing must not hide them", changes, err)
				}
			}
		})
	}
}

// The decisions the guard's use depends on: what a routine `make up` or
// `make release` replaces must not be stateful, or the guard refuses it.
func TestStatefulTypesCoverTheDataTheStackKeepsAndNotWhatDeploysReplace(t *testing.T) {
	for _, typ := range []string{
		policy.TypeRDSInstance, policy.TypeReplicationGroup, policy.TypeLogGroup,
		policy.TypeECRRepository, policy.TypeBucketV2, policy.TypeKMSKey, policy.TypeSecret,
		"aws:ec2/eip:Eip", "random:index/randomPassword:RandomPassword",
	} {
		if !policy.IsStateful(typ) {
			t.Errorf("%s is not stateful", typ)
		}
	}
	for typ, why := range map[string]string{
		policy.TypeTaskDefinition:                                              "every release replaces them",
		policy.TypeECSService:                                                  "a service's tasks start again from its task definition",
		"aws:secretsmanager/secretVersion:SecretVersion":                       "a new app secret value or the token rotation replaces it",
		"aws:ec2/natGateway:NatGateway":                                        "its address is its EIP's",
		"aws:sns/topicSubscription:TopicSubscription":                          "removing an alarm address deletes its subscription",
		"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": "a setting, not the objects",
		policy.TypeECRLifecycle:                                                "a setting, not the images",
	} {
		if policy.IsStateful(typ) {
			t.Errorf("%s is stateful, but %s", typ, why)
		}
	}
	for _, typ := range []string{"shipyard:aws:Database", "shipyard:bootstrap:Bootstrap", "pulumi:pulumi:Stack", "pulumi:providers:aws", "pulumi:pulumi:StackReference"} {
		if s, ok := policy.Classify(typ); !ok || s.Stateful || s.Why == "" {
			t.Errorf("%s: classified %v as %+v, want not stateful, with why", typ, ok, s)
		}
	}
	if s, ok := policy.Classify("aws:dynamodb/table:Table"); ok || policy.IsStateful("aws:dynamodb/table:Table") {
		t.Errorf("a type no program creates is classified: %+v", s)
	}
	if !slices.Contains(policy.ProtectedTypes, "aws:ec2/eip:Eip") {
		t.Errorf("prod does not protect its egress addresses: protected types %v", policy.ProtectedTypes)
	}
	if slices.Contains(policy.ProtectedTypes, "random:index/randomPassword:RandomPassword") {
		t.Errorf("prod protects the random values: protection refuses every replacement, the keepers' rotation included")
	}
}
