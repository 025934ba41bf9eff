// Package awsmock runs the AWS stacks under Pulumi mocks: it answers every
// invoke infra/aws makes and computes the provider-side outputs it reads
// (endpoints, ARNs, repository URL, DNS name…), so tests anywhere in the
// repository can build the real graph of a stack without a cloud.
//
//	g, err := awsmock.Run("prod")                       // config/prod.json as is
//	g, err := awsmock.RunConfig(cfg, pulumitest.WithDryRun())
//	g, err := pulumitest.Run("dev", awsmock.Program(cfg), awsmock.Options()...)
package awsmock

import (
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The mocked account and zones.
const (
	AccountID = "123456789012"
	Region    = "eu-west-1"
	// Digest is a well-formed image digest for tests of released stacks.
	Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	// SecretValue is the value SecretConfig gives every app secret.
	SecretValue = "mock-secret-value"
)

// VPCIPv6Block is the Amazon-provided IPv6 block of every mocked VPC.
const VPCIPv6Block = "2a05:d018:1c4:9f00::/56"

// ZoneID is the id getZone returns for a hosted zone name.
func ZoneID(name string) string {
	id := "Z"
	for _, c := range strings.ToUpper(strings.ReplaceAll(name, ".", "")) {
		if len(id) < 14 {
			id += string(c)
		}
	}
	return id
}

// Zones are the availability zones getAvailabilityZones returns.
var Zones = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}

// Options returns the invoke mocks and computed outputs infra/aws needs.
func Options() []pulumitest.Option {
	str := resource.NewStringProperty
	num := resource.NewNumberProperty
	in := func(inputs resource.PropertyMap, key, def string) string {
		if v, ok := inputs[resource.PropertyKey(key)]; ok && v.IsString() && v.StringValue() != "" {
			return v.StringValue()
		}
		return def
	}
	arn := func(service, rest string) resource.PropertyValue {
		return str(fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, Region, AccountID, rest))
	}
	zoneIDs := make([]resource.PropertyValue, len(Zones))
	names := make([]resource.PropertyValue, len(Zones))
	for i, z := range Zones {
		names[i] = str(z)
		zoneIDs[i] = str(fmt.Sprintf("euw1-az%d", i+1))
	}
	return []pulumitest.Option{
		pulumitest.WithCall("aws:index/getCallerIdentity:getCallerIdentity", func(resource.PropertyMap) (resource.PropertyMap, error) {
			return resource.PropertyMap{
				"accountId": str(AccountID),
				"arn":       str("arn:aws:iam::" + AccountID + ":user/deployer"),
				"userId":    str("AIDAMOCK"),
				"id":        str(AccountID),
			}, nil
		}),
		pulumitest.WithCall("aws:index/getAvailabilityZones:getAvailabilityZones", func(resource.PropertyMap) (resource.PropertyMap, error) {
			return resource.PropertyMap{
				"names":   resource.NewArrayProperty(names),
				"zoneIds": resource.NewArrayProperty(zoneIDs),
				"id":      str(Region),
			}, nil
		}),
		pulumitest.WithCall("aws:index/getRegion:getRegion", func(resource.PropertyMap) (resource.PropertyMap, error) {
			return resource.PropertyMap{"name": str(Region), "id": str(Region), "endpoint": str("ec2." + Region + ".amazonaws.com")}, nil
		}),
		pulumitest.WithCall("aws:index/getPartition:getPartition", func(resource.PropertyMap) (resource.PropertyMap, error) {
			return resource.PropertyMap{"partition": str("aws"), "dnsSuffix": str("amazonaws.com"), "id": str("aws")}, nil
		}),
		pulumitest.WithCall("aws:route53/getZone:getZone", func(args resource.PropertyMap) (resource.PropertyMap, error) {
			name := in(args, "name", "")
			return resource.PropertyMap{"zoneId": str(ZoneID(name)), "id": str(ZoneID(name)), "name": str(name), "privateZone": resource.NewBoolProperty(false)}, nil
		}),
		pulumitest.WithOutputs("aws:ec2/vpc:Vpc", func(string, resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"ipv6CidrBlock": str(VPCIPv6Block)}
		}),
		// ACM asks for the same CNAME for a name and its wildcard.
		pulumitest.WithOutputs("aws:acm/certificate:Certificate", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			domain := in(inputs, "domainName", name)
			record := func(d string) resource.PropertyValue {
				return resource.NewObjectProperty(resource.PropertyMap{
					"domainName":          str(d),
					"resourceRecordName":  str("_3f1c0e2d9b8a7c6d5e4f3a2b1c0d9e8f." + domain + "."),
					"resourceRecordType":  str("CNAME"),
					"resourceRecordValue": str("_7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d.mhbtsbpdnt.acm-validations.aws."),
				})
			}
			opts := []resource.PropertyValue{record(domain)}
			if sans, ok := inputs["subjectAlternativeNames"]; ok && sans.IsArray() {
				for _, san := range sans.ArrayValue() {
					opts = append(opts, record(san.StringValue()))
				}
			}
			return resource.PropertyMap{"arn": arn("acm", "certificate/"+name+"-4f2a"), "domainValidationOptions": resource.NewArrayProperty(opts), "status": str("PENDING_VALIDATION")}
		}),
		pulumitest.WithOutputs("aws:route53/record:Record", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"fqdn": str(strings.TrimSuffix(in(inputs, "name", name), "."))}
		}),
		pulumitest.WithOutputs("aws:rds/instance:Instance", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			id := in(inputs, "identifier", name)
			host := id + ".cmockabc1234.eu-west-1.rds.amazonaws.com"
			port := 5432.0
			if v, ok := inputs["port"]; ok && v.IsNumber() {
				port = v.NumberValue()
			}
			return resource.PropertyMap{
				"address":  str(host),
				"port":     num(port),
				"endpoint": str(fmt.Sprintf("%s:%d", host, int(port))),
				"masterUserSecrets": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
					"secretArn":    arn("secretsmanager", "secret:rds!db-"+id+"-AbCdEf"),
					"kmsKeyId":     arn("kms", "key/mock-secretsmanager"),
					"secretStatus": str("active"),
				})}),
			}
		}),
		pulumitest.WithOutputs("aws:elasticache/replicationGroup:ReplicationGroup", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			id := in(inputs, "replicationGroupId", name)
			out := resource.PropertyMap{
				"primaryEndpointAddress": str("master." + id + ".mock12.euw1.cache.amazonaws.com"),
				"readerEndpointAddress":  str("replica." + id + ".mock12.euw1.cache.amazonaws.com"),
			}
			if _, ok := inputs["port"]; !ok {
				out["port"] = num(6379)
			}
			return out
		}),
		pulumitest.WithOutputs("aws:ecr/repository:Repository", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			repo := in(inputs, "name", name)
			return resource.PropertyMap{
				"repositoryUrl": str(AccountID + ".dkr.ecr." + Region + ".amazonaws.com/" + repo),
				"registryId":    str(AccountID),
				"arn":           arn("ecr", "repository/"+repo),
			}
		}),
		pulumitest.WithOutputs("aws:lb/loadBalancer:LoadBalancer", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			lbName := in(inputs, "name", name)
			suffix := "app/" + lbName + "/50dc6c495c0c9188"
			return resource.PropertyMap{
				"dnsName":   str(lbName + "-1234567890." + Region + ".elb.amazonaws.com"),
				"arnSuffix": str(suffix),
				"arn":       arn("elasticloadbalancing", "loadbalancer/"+suffix),
				"zoneId":    str("Z32O12XQLNTSW2"),
			}
		}),
		pulumitest.WithOutputs("aws:lb/targetGroup:TargetGroup", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			suffix := "targetgroup/" + in(inputs, "name", name) + "/73e2d6bc24d8a067"
			return resource.PropertyMap{"arnSuffix": str(suffix), "arn": arn("elasticloadbalancing", suffix)}
		}),
		pulumitest.WithOutputs("aws:kms/key:Key", func(name string, _ resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"keyId": str(name + "-key-id"), "arn": arn("kms", "key/"+name+"-key-id")}
		}),
		pulumitest.WithOutputs("aws:s3/bucketV2:BucketV2", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			b := in(inputs, "bucket", name+"-mock1234")
			return resource.PropertyMap{"bucket": str(b), "arn": str("arn:aws:s3:::" + b)}
		}),
		pulumitest.WithOutputs("aws:cloudwatch/logGroup:LogGroup", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"arn": arn("logs", "log-group:"+in(inputs, "name", name))}
		}),
		pulumitest.WithOutputs("aws:secretsmanager/secret:Secret", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"arn": arn("secretsmanager", "secret:"+in(inputs, "name", name)+"-AbCdEf")}
		}),
		pulumitest.WithOutputs("aws:iam/role:Role", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			role := in(inputs, "name", name)
			return resource.PropertyMap{"name": str(role), "arn": str("arn:aws:iam::" + AccountID + ":role/" + role)}
		}),
		pulumitest.WithOutputs("aws:ecs/cluster:Cluster", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			c := in(inputs, "name", name)
			return resource.PropertyMap{"name": str(c), "arn": arn("ecs", "cluster/"+c)}
		}),
		pulumitest.WithOutputs("aws:ecs/taskDefinition:TaskDefinition", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			family := in(inputs, "family", name)
			return resource.PropertyMap{
				"arn":                arn("ecs", "task-definition/"+family+":1"),
				"arnWithoutRevision": arn("ecs", "task-definition/"+family),
				"revision":           num(1),
			}
		}),
		pulumitest.WithOutputs("aws:ecs/service:Service", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"name": str(in(inputs, "name", name))}
		}),
		pulumitest.WithOutputs("aws:sns/topic:Topic", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"arn": arn("sns", in(inputs, "name", name))}
		}),
		pulumitest.WithOutputs("aws:cloudwatch/metricAlarm:MetricAlarm", func(name string, inputs resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"arn": arn("cloudwatch", "alarm:"+in(inputs, "name", name))}
		}),
		// Auto-named resources whose name the program reads.
		named("aws:rds/subnetGroup:SubnetGroup"),
		named("aws:rds/parameterGroup:ParameterGroup"),
		named("aws:elasticache/subnetGroup:SubnetGroup"),
		pulumitest.WithOutputs("random:index/randomPassword:RandomPassword", func(name string, _ resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"result": resource.MakeSecret(str("mock-" + strings.Repeat("x", 40)))}
		}),
	}
}

// named gives an auto-named resource type its name as the provider would
// (the logical name plus a suffix), unless the program set one.
func named(typ string) pulumitest.Option {
	return pulumitest.WithOutputs(typ, func(name string, inputs resource.PropertyMap) resource.PropertyMap {
		if v, ok := inputs["name"]; ok && v.IsString() && v.StringValue() != "" {
			return nil
		}
		return resource.PropertyMap{"name": resource.NewStringProperty(name + "-mock1234")}
	})
}

// SecretConfig sets every app secret of cfg (app.secrets) as a Pulumi
// config secret, as `pulumi config set --secret NAME value` would.
func SecretConfig(cfg *stackconfig.Config) []pulumitest.Option {
	var opts []pulumitest.Option
	for _, n := range cfg.App.Secrets {
		opts = append(opts, pulumitest.WithSecretConfig(awsinfra.ConfigNamespace+":"+n, SecretValue))
	}
	return opts
}

// Program is the AWS stack program for an already loaded config.
func Program(cfg *stackconfig.Config) pulumitest.Program {
	return func(ctx *pulumi.Context) (pulumi.Map, error) { return awsinfra.NewStack(ctx, cfg) }
}

// LoadConfig loads config/<stack>.json, finding the config directory like
// the stacks program does (SHIPYARD_CONFIG_DIR or the nearest config/).
func LoadConfig(stack string) (*stackconfig.Config, error) {
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		return nil, err
	}
	return stackconfig.Load(dir, stack)
}

// Released returns a copy of cfg released at Digest.
func Released(cfg *stackconfig.Config) *stackconfig.Config {
	c := *cfg
	c.Release.ImageDigest = Digest
	return &c
}

// RunConfig runs NewStack for cfg under the mocks, with its app secrets
// set (SecretConfig); opts come after and may override.
func RunConfig(cfg *stackconfig.Config, opts ...pulumitest.Option) (*pulumitest.Graph, error) {
	all := append(Options(), SecretConfig(cfg)...)
	return pulumitest.Run(cfg.Stack, Program(cfg), append(all, opts...)...)
}

// Run loads config/<stack>.json and runs it like RunConfig.
func Run(stack string, opts ...pulumitest.Option) (*pulumitest.Graph, error) {
	cfg, err := LoadConfig(stack)
	if err != nil {
		return nil, err
	}
	return RunConfig(cfg, opts...)
}

// StackReferenceType is the type token of a pulumi.StackReference.
const StackReferenceType = "pulumi:pulumi:StackReference"

// BaseStack makes every StackReference the program reads answer with
// outputs, as the referenced stack's state would: the outputs a base
// stack's own graph recorded (Graph.Outputs), so a PR environment is
// built from exactly what its base exports.
func BaseStack(outputs map[string]any) pulumitest.Option {
	return pulumitest.WithOutputs(StackReferenceType, func(string, resource.PropertyMap) resource.PropertyMap {
		return resource.PropertyMap{
			"outputs":           resource.NewObjectProperty(resource.NewPropertyMapFromMap(outputs)),
			"secretOutputNames": resource.NewArrayProperty(nil),
		}
	})
}

// PreviewProgram is the PR environment program for an already loaded
// config (slot and image set).
func PreviewProgram(cfg *stackconfig.Config) pulumitest.Program {
	return func(ctx *pulumi.Context) (pulumi.Map, error) { return awsinfra.NewPreviewStack(ctx, cfg) }
}

// RunPreview runs NewPreviewStack for cfg under the mocks, its base stack
// answering with base's recorded outputs; opts come after and may
// override.
func RunPreview(cfg *stackconfig.Config, base *pulumitest.Graph, opts ...pulumitest.Option) (*pulumitest.Graph, error) {
	all := append(Options(), BaseStack(base.Outputs))
	return pulumitest.Run(cfg.Stack, PreviewProgram(cfg), append(all, opts...)...)
}
