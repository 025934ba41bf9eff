package pulumitest_test

import (
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/shipyard-kit/shipyard/infra/pulumitest"
)

type parent struct{ pulumi.ResourceState }

// TestRunRecordsInputsOptionsAndOutputs uses a component and a custom
// resource type that need no provider SDK: the recorder sees raw tokens.
func TestRunRecordsInputsOptionsAndOutputs(t *testing.T) {
	program := func(ctx *pulumi.Context) (pulumi.Map, error) {
		var p parent
		if err := ctx.RegisterComponentResource("shipyard:test:Parent", "app", &p); err != nil {
			return nil, err
		}
		secret := config.RequireSecret(ctx, "password")
		var child pulumi.CustomResourceState
		err := ctx.RegisterResource("aws:s3/bucket:Bucket", "app-logs", pulumi.Map{
			"bucket":   pulumi.String("logs"),
			"password": secret,
			"tags":     pulumi.StringMap{"stack": pulumi.String(ctx.Stack())},
		}, &child, pulumi.Parent(&p), pulumi.Protect(true))
		if err != nil {
			return nil, err
		}
		return pulumi.Map{"bucketUrn": child.URN(), "stack": pulumi.String(ctx.Stack())}, nil
	}
	g, err := pulumitest.Run("dev", program,
		pulumitest.WithSecretConfig("shipyard:password", "hunter2"),
		pulumitest.WithOutputs("aws:s3/bucket:Bucket", func(name string, _ resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"bucketDomainName": resource.NewStringProperty(name + ".s3.amazonaws.com")}
		}))
	if err != nil {
		t.Fatal(err)
	}
	bucket, ok := g.Find("aws:s3/bucket:Bucket", "app-logs")
	if !ok {
		t.Fatalf("bucket not recorded; types: %v", g.Types())
	}
	comp, _ := g.Find("shipyard:test:Parent", "app")
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"the input is recorded", bucket.String("bucket"), "logs"},
		{"a nested input is reachable by path", bucket.String("tags.stack"), "dev"},
		{"a secret input is unwrapped by String", bucket.String("password"), "hunter2"},
		{"the secret stays marked secret", bucket.Inputs["password"].IsSecret(), true},
		{"protect is recorded", bucket.Protect, true},
		{"the parent is the component", bucket.Parent, comp.URN},
		{"the component is not custom", comp.Custom, false},
		{"outputs are resolved", g.Outputs["stack"], "dev"},
		{"the URN names the parent type", bucket.URN, "urn:pulumi:dev::shipyard::shipyard:test:Parent$aws:s3/bucket:Bucket::app-logs"},
		{"the stack output is the recorded URN", fmt.Sprint(g.Outputs["bucketUrn"]), bucket.URN},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestAnUnmockedInvokeIsAnError(t *testing.T) {
	_, err := pulumitest.Run("dev", func(ctx *pulumi.Context) (pulumi.Map, error) {
		var out struct{}
		return nil, ctx.Invoke("aws:index/getRegion:getRegion", nil, &out)
	})
	if err == nil {
		t.Fatal("want an error for an invoke without a mock")
	}
}
