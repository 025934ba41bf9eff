package policy_test

import (
	"errors"
	"os"
	"reflect"
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

func TestStatefulTypesCoverTheDataTheStackKeeps(t *testing.T) {
	for _, typ := range []string{
		policy.TypeRDSInstance, policy.TypeReplicationGroup, policy.TypeLogGroup,
		policy.TypeECRRepository, policy.TypeBucketV2, policy.TypeKMSKey,
	} {
		if !policy.IsStateful(typ) {
			t.Errorf("%s is not stateful", typ)
		}
	}
	if policy.IsStateful(policy.TypeTaskDefinition) || policy.IsStateful(policy.TypeECSService) {
		t.Errorf("task definitions and services are replaceable, not stateful")
	}
}
