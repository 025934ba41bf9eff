package aws_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// mockEndpoints are the endpoints awsmock computes for a stack.
func mockEndpoints(stack string) stackconfig.Endpoints {
	return stackconfig.Endpoints{
		DatabaseHost: "shipyard-" + stack + ".cmockabc1234.eu-west-1.rds.amazonaws.com", DatabasePort: 5432,
		RedisHost: "master.shipyard-" + stack + ".mock12.euw1.cache.amazonaws.com", RedisPort: 6379,
	}
}

// processOf maps a task definition to its process type by family.
func processOf(t *testing.T, r pulumitest.Resource) stackconfig.Process {
	t.Helper()
	fam := r.String("family")
	for _, p := range stackconfig.Processes {
		if strings.HasSuffix(fam, "-"+string(p)) {
			return p
		}
	}
	if strings.HasSuffix(fam, "-migrate") {
		return stackconfig.Web
	}
	t.Fatalf("task family %q has no process type", fam)
	return ""
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestContainersGetTheEnvFunctionsEnvAndSecretsOnlyThroughSecrets(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			want := cfg.Env(mockEndpoints(stack))
			g := graph(t, stack, true)
			tasks := g.ByType(tTask)
			if len(tasks) != 4 {
				t.Fatalf("%d task definitions, want web, worker, clock and migrate", len(tasks))
			}
			for _, td := range tasks {
				for _, c := range containerDefs(t, td) {
					if c["name"] == awsinfra.RouterContainer || c["name"] == awsinfra.CollectorContainer {
						continue // sidecars: their own environment, no app secrets
					}
					var env []stackconfig.EnvVar
					for _, e := range c["environment"].([]any) {
						m := e.(map[string]any)
						env = append(env, stackconfig.EnvVar{Name: m["name"].(string), Value: m["value"].(string)})
					}
					if !reflect.DeepEqual(env, want) {
						t.Errorf("%s/%s: environment\n got %v\nwant %v", td.Name, c["name"], env, want)
					}
					var names []string
					for _, s := range c["secrets"].([]any) {
						m := s.(map[string]any)
						names = append(names, m["name"].(string))
						from := m["valueFrom"].(string)
						switch m["name"] {
						case stackconfig.SecretDatabasePassword:
							if !strings.HasPrefix(from, "arn:aws:secretsmanager:") || !strings.HasSuffix(from, ":password::") || !strings.Contains(from, "rds!db-") {
								t.Errorf("%s: DATABASE_PASSWORD from %q, want the RDS-managed secret's password key", td.Name, from)
							}
						case stackconfig.SecretRedisPassword:
							if !strings.HasPrefix(from, "arn:aws:secretsmanager:") || !strings.Contains(from, "REDIS_PASSWORD") {
								t.Errorf("%s: REDIS_PASSWORD from %q, want the auth token secret", td.Name, from)
							}
						}
					}
					if !reflect.DeepEqual(names, cfg.SecretNames()) {
						t.Errorf("%s/%s: secrets %v, want %v", td.Name, c["name"], names, cfg.SecretNames())
					}
				}
			}
		})
	}
}

func TestContainersAreNonRootReadOnlyAndStopWithinTheConfiguredTimeout(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			g := graph(t, stack, true)
			image := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/" + cfg.RepositoryName() + "@" + awsmock.Digest
			for _, td := range g.ByType(tTask) {
				p := processOf(t, td)
				for _, c := range containerDefs(t, td) {
					if c["name"] == awsinfra.RouterContainer {
						if img := c["image"].(string); img != awsinfra.FluentBitImage && img != awsinfra.FluentBitInitImage {
							t.Errorf("%s: log router image %v is not the pinned version", td.Name, c["image"])
						}
						continue
					}
					if c["name"] == awsinfra.CollectorContainer {
						if c["image"] != awsinfra.CollectorImage || c["user"] != awsinfra.CollectorUser || c["readonlyRootFilesystem"] != true || c["essential"] != false {
							t.Errorf("%s: collector %v as %v (read-only %v, essential %v): want the pinned image, non-root, read-only, not essential", td.Name, c["image"], c["user"], c["readonlyRootFilesystem"], c["essential"])
						}
						continue
					}
					if c["user"] != awsinfra.AppUser {
						t.Errorf("%s/%s: user %v, want %s", td.Name, c["name"], c["user"], awsinfra.AppUser)
					}
					if c["readonlyRootFilesystem"] != true {
						t.Errorf("%s/%s: root filesystem is writable", td.Name, c["name"])
					}
					if got := c["stopTimeout"]; got != float64(cfg.Services.Get(p).StopTimeoutSeconds) {
						t.Errorf("%s/%s: stopTimeout %v, want %d", td.Name, c["name"], got, cfg.Services.Get(p).StopTimeoutSeconds)
					}
					if c["image"] != image {
						t.Errorf("%s/%s: image %v, want %s", td.Name, c["name"], c["image"], image)
					}
					if c["logConfiguration"].(map[string]any)["logDriver"] != "awsfirelens" {
						t.Errorf("%s/%s: logs do not go through FireLens", td.Name, c["name"])
					}
				}
			}
		})
	}
}

func TestEveryTaskMigratesBeforeTheAppStarts(t *testing.T) {
	g := graph(t, "staging", true)
	for _, p := range stackconfig.Processes {
		td := pick(t, g, tTask, string(p)+"-task")
		byName := map[string]map[string]any{}
		for _, c := range containerDefs(t, *td) {
			byName[c["name"].(string)] = c
		}
		m, app := byName[awsinfra.MigrateContainer], byName[awsinfra.AppContainer]
		if m == nil || app == nil {
			t.Fatalf("%s: containers %v", p, byName)
		}
		if m["essential"] != false || !reflect.DeepEqual(strs(m["command"]), []string{"migrate"}) {
			t.Errorf("%s: migrate container essential=%v command=%v", p, m["essential"], m["command"])
		}
		if !reflect.DeepEqual(strs(app["command"]), []string{awsinfra.Subcommand(p)}) {
			t.Errorf("%s: app command %v", p, app["command"])
		}
		ok := false
		for _, d := range app["dependsOn"].([]any) {
			dm := d.(map[string]any)
			ok = ok || (dm["containerName"] == awsinfra.MigrateContainer && dm["condition"] == "SUCCESS")
		}
		if !ok {
			t.Errorf("%s: app does not wait for migrate to succeed: %v", p, app["dependsOn"])
		}
		hc := app["healthCheck"].(map[string]any)
		if !reflect.DeepEqual(strs(hc["command"]), []string{"CMD", "/app", "healthcheck"}) {
			t.Errorf("%s: health check %v", p, hc["command"])
		}
	}
	rel := pick(t, g, tTask, "release")
	cs := containerDefs(t, *rel)
	if len(cs) != 2 || cs[0]["name"] != awsinfra.MigrateContainer || cs[0]["essential"] != true {
		t.Errorf("release task: %v", cs)
	}
}

func TestTheHTTPSListenerUsesExactlyTheTLS13Policy(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		https := pick(t, g, tListener, "web-https")
		if got := https.String("sslPolicy"); got != "ELBSecurityPolicy-TLS13-1-2-Res-2021-06" {
			t.Errorf("%s: sslPolicy %q", stack, got)
		}
		if got := https.String("routingHttpResponseStrictTransportSecurityHeaderValue"); got != stackconfig.StrictTransportSecurity {
			t.Errorf("%s: HSTS header %q, want %q (as nginx on docker)", stack, got, stackconfig.StrictTransportSecurity)
		}
		cfg := loadConfig(t, stack)
		http := pick(t, g, tListener, "web-http")
		if http.String("defaultActions.0.type") != "redirect" || http.String("defaultActions.0.redirect.statusCode") != "HTTP_301" ||
			http.String("defaultActions.0.redirect.protocol") != "HTTPS" || http.String("defaultActions.0.redirect.port") != "443" {
			t.Errorf("%s: HTTP listener %v", stack, http.Inputs["defaultActions"])
		}
		tg := pick(t, g, "aws:lb/targetGroup:TargetGroup", "")
		if tg.String("targetType") != "ip" || tg.String("healthCheck.path") != cfg.Services.Web.HealthCheckPath ||
			tg.Number("deregistrationDelay") != float64(cfg.LoadBalancer.DeregistrationDelaySeconds) {
			t.Errorf("%s: target group %v", stack, tg.Inputs)
		}
	}
}

func TestMetricsAreNeverServedThroughTheLoadBalancer(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		rule := pick(t, g, "aws:lb/listenerRule:ListenerRule", "metrics-blocked")
		https := pick(t, g, tListener, "web-https")
		if rule.Parent != https.Parent {
			t.Errorf("%s: the rule belongs to another component than the HTTPS listener", stack)
		}
		paths := fmt.Sprint(rule.Inputs["conditions"])
		if !strings.Contains(paths, "/metrics") || rule.String("actions.0.type") != "fixed-response" ||
			rule.String("actions.0.fixedResponse.statusCode") != "404" || rule.Number("priority") != 1 {
			t.Errorf("%s: /metrics rule %v", stack, rule.Inputs)
		}
	}
}

// A stateful type renewed by its keepers (the Redis AUTH token's random
// value) is protected nowhere: protection would refuse the rotation's
// replacement.
func TestStatefulResourcesAreProtectedInProdOnly(t *testing.T) {
	for _, stack := range awsStacks {
		for _, r := range graph(t, stack, true).Resources {
			if !policy.IsStateful(r.Type) {
				continue
			}
			if want := stack == "prod" && slices.Contains(policy.ProtectedTypes, r.Type); r.Protect != want {
				t.Errorf("%s: %s protect=%v, want %v", stack, r.URN, r.Protect, want)
			}
		}
	}
}

func TestServicesDeployAndScaleAsEachProcessTypeNeeds(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			g := graph(t, stack, true)
			for _, p := range stackconfig.Processes {
				s := pick(t, g, tService, string(p))
				svc := cfg.Services.Get(p)
				switch codeDeploy := p == stackconfig.Web && cfg.Deploy.Progressive(); {
				case codeDeploy && (s.String("deploymentController.type") != "CODE_DEPLOY" || hasInput(*s, "deploymentCircuitBreaker")):
					t.Errorf("%s: deployment controller %q, circuit breaker %v; want CODE_DEPLOY alone (deploy.strategy %s)", p, s.String("deploymentController.type"), s.Inputs["deploymentCircuitBreaker"], cfg.Deploy.Strategy)
				case !codeDeploy && (!s.Bool("deploymentCircuitBreaker.enable") || !s.Bool("deploymentCircuitBreaker.rollback")):
					t.Errorf("%s: no circuit breaker with rollback", p)
				}
				if s.Bool("networkConfiguration.assignPublicIp") || len(s.Inputs["networkConfiguration"].ObjectValue()["subnets"].ArrayValue()) != cfg.Network.AZCount {
					t.Errorf("%s: network %v", p, s.Inputs["networkConfiguration"])
				}
				min, max, desired := s.Number("deploymentMinimumHealthyPercent"), s.Number("deploymentMaximumPercent"), s.Number("desiredCount")
				switch p {
				case stackconfig.Clock:
					if desired != 1 || min != 0 || max != 100 {
						t.Errorf("clock: desired %v min %v max %v, want exactly one clock ever", desired, min, max)
					}
				default:
					if desired != float64(svc.DesiredCount) || min != 100 || max != 200 {
						t.Errorf("%s: desired %v min %v max %v", p, desired, min, max)
					}
				}
				if p == stackconfig.Web {
					if s.Number("healthCheckGracePeriodSeconds") != float64(svc.HealthCheckGracePeriodSeconds) || s.String("loadBalancers.0.containerName") != "app" {
						t.Errorf("web: load balancer wiring %v", s.Inputs)
					}
				} else if _, ok := s.Input("loadBalancers"); ok {
					t.Errorf("%s: behind the load balancer", p)
				}
			}
			var metrics []string
			for _, pol := range g.ByType("aws:appautoscaling/policy:Policy") {
				if pol.Name == "worker-scaling-backlog" {
					checkBacklogPolicy(t, pol, stack, cfg)
					metrics = append(metrics, pol.Name+"=backlog")
					continue
				}
				metrics = append(metrics, pol.Name+"="+pol.String("targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType"))
				if pol.String("targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType") == "ALBRequestCountPerTarget" {
					label := pol.String("targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.resourceLabel")
					if !strings.HasPrefix(label, "app/shipyard-"+stack+"/") || !strings.Contains(label, "/targetgroup/") {
						t.Errorf("request count label %q", label)
					}
				}
			}
			sort.Strings(metrics)
			want := []string{"web-scaling-cpu=ECSServiceAverageCPUUtilization", "web-scaling-requests=ALBRequestCountPerTarget", "worker-scaling-backlog=backlog", "worker-scaling-cpu=ECSServiceAverageCPUUtilization"}
			if !reflect.DeepEqual(metrics, want) {
				t.Errorf("scaling policies %v, want %v", metrics, want)
			}
			for _, target := range g.ByType(tScaling) {
				if strings.Contains(target.Name, "clock") {
					t.Errorf("the clock autoscales")
				}
			}
		})
	}
}

func TestAStackWithoutAReleaseHasEverythingButTasksAndServices(t *testing.T) {
	g := graph(t, "dev", false)
	for _, typ := range []string{tTask, tService, tScaling} {
		if n := len(g.ByType(typ)); n != 0 {
			t.Errorf("%d %s before the first release", n, typ)
		}
	}
	for _, typ := range []string{tRepo, tRDS, tRedis, tALB, tCluster} {
		if len(g.ByType(typ)) != 1 {
			t.Errorf("no %s before the first release", typ)
		}
	}
	if g.Outputs["imageDigest"] != "" || g.Outputs["image"] != "" || g.Outputs["migrateTaskDefinitionArn"] != "" {
		t.Errorf("outputs %v", g.Outputs)
	}
	if n := reflect.ValueOf(g.Outputs["serviceNames"]).Len(); n != 0 {
		t.Errorf("%d service names before the first release", n)
	}
}

func TestStackOutputsFollowTheContract(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		out := graph(t, stack, true).Outputs
		var keys []string
		for k := range out {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := append([]string(nil), awsinfra.OutputKeys...)
		sort.Strings(want)
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("%s: output keys %v, want %v", stack, keys, want)
		}
		checks := map[string]any{
			"stack": stack, "target": "aws", "url": "https://" + cfg.LoadBalancer.Domain, "region": cfg.AWS.Region,
			"imageDigest": awsmock.Digest, "clusterName": "shipyard-" + stack,
			"databaseEndpoint":   mockEndpoints(stack).DatabaseHost + ":5432",
			"redisEndpoint":      mockEndpoints(stack).RedisHost + ":6379",
			"databaseInstanceId": "shipyard-" + stack,
			"domain":             cfg.LoadBalancer.Domain,
			"hostedZoneId":       awsmock.ZoneID(cfg.LoadBalancer.HostedZone.Name),
			"certificateArn":     "arn:aws:acm:eu-west-1:123456789012:certificate/certificate-cert-4f2a",
			"httpsListenerArn":   "arn:aws:mock:eu-west-1:123456789012:aws:lb/listener:Listener/web-https",
		}
		for k, v := range checks {
			if out[k] != v {
				t.Errorf("%s: %s = %v, want %v", stack, k, out[k], v)
			}
		}
		for _, m := range []string{"serviceNames", "taskDefinitionArns", "logGroupNames"} {
			got := reflect.ValueOf(out[m])
			for _, p := range stackconfig.Processes {
				if v := got.MapIndex(reflect.ValueOf(string(p))); !v.IsValid() || reflect.Indirect(v).Interface() == "" {
					t.Errorf("%s: %s has no %s", stack, m, p)
				}
			}
		}
		for _, k := range []string{"databaseSubnetGroupName", "databaseSecurityGroupId", "redisAuthSecretArn"} {
			if s, _ := out[k].(string); s == "" {
				t.Errorf("%s: %s output is empty", stack, k)
			}
		}
		// The token generations the stack was deployed with: `shipyard
		// up` refuses retiring the previous one before its tasks moved on.
		if v, r := fmt.Sprint(out["redisAuthTokenVersion"]), fmt.Sprint(out["redisRetiredAuthTokenVersion"]); v != fmt.Sprint(cfg.Cache.AuthTokenVersion) || r != fmt.Sprint(cfg.Cache.RetiredAuthTokenVersion) {
			t.Errorf("%s: redisAuthTokenVersion %s, redisRetiredAuthTokenVersion %s; want %d and %d", stack, v, r, cfg.Cache.AuthTokenVersion, cfg.Cache.RetiredAuthTokenVersion)
		}
		if n := reflect.ValueOf(out["privateSubnetIds"]).Len(); n != cfg.Network.AZCount {
			t.Errorf("%s: %d private subnets", stack, n)
		}
	}
}

func TestAMissingAppSecretTellsTheCommandThatSetsIt(t *testing.T) {
	cfg := loadConfig(t, "dev")
	cfg.App.Secrets = []string{"STRIPE_KEY"}
	_, err := pulumitest.Run("dev", awsmock.Program(cfg), awsmock.Options()...)
	var missing *awsinfra.MissingSecretError
	if !errors.As(err, &missing) || missing.Name != "STRIPE_KEY" {
		t.Fatalf("error %v, want a MissingSecretError for STRIPE_KEY", err)
	}
	if !strings.Contains(err.Error(), "pulumi config set --secret STRIPE_KEY") {
		t.Errorf("error %q does not give the command", err)
	}
}

func TestAppSecretsGoThroughSecretsManagerIntoSecrets(t *testing.T) {
	cfg := awsmock.Released(loadConfig(t, "dev"))
	cfg.App.Secrets = []string{"STRIPE_KEY"}
	g, err := awsmock.RunConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := pick(t, g, "aws:secretsmanager/secretVersion:SecretVersion", "STRIPE_KEY")
	if s := v.Inputs["secretString"]; !s.IsSecret() {
		t.Errorf("secret string stored in plain: %v", s)
	}
	for _, td := range g.ByType(tTask) {
		for _, c := range containerDefs(t, td) {
			if c["name"] == awsinfra.RouterContainer || c["name"] == awsinfra.CollectorContainer {
				continue
			}
			found := false
			for _, s := range c["secrets"].([]any) {
				m := s.(map[string]any)
				found = found || (m["name"] == "STRIPE_KEY" && strings.Contains(m["valueFrom"].(string), "shipyard/dev/STRIPE_KEY"))
			}
			if !found {
				t.Errorf("%s/%s: STRIPE_KEY not injected from its secret", td.Name, c["name"])
			}
			for _, e := range c["environment"].([]any) {
				if e.(map[string]any)["value"] == awsmock.SecretValue {
					t.Errorf("%s/%s: the secret's value is in the environment", td.Name, c["name"])
				}
			}
		}
	}
	for _, r := range g.Resources {
		for k, val := range r.Inputs {
			if val.IsString() && strings.Contains(val.StringValue(), awsmock.SecretValue) {
				t.Errorf("%s.%s holds the secret in plain text", r.URN, k)
			}
		}
	}
}

func TestNoPlaintextPasswordIsAnInput(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		rds := pick(t, g, tRDS, "")
		if _, ok := rds.Input("password"); ok || !rds.Bool("manageMasterUserPassword") {
			t.Errorf("%s: RDS password not managed by RDS", stack)
		}
		redis := pick(t, g, tRedis, "")
		for _, k := range []resource.PropertyKey{"authToken"} {
			if v := redis.Inputs[k]; !v.IsSecret() {
				t.Errorf("%s: redis %s is not a secret", stack, k)
			}
		}
	}
}

func TestTheDatabaseAndCacheAdmitOnlyTheAppSecurityGroup(t *testing.T) {
	g := graph(t, "prod", true)
	app := pick(t, g, tSG, "app-sg")
	appID := app.Name + "-id"
	for _, c := range []struct {
		name string
		port float64
	}{{"database-sg", 5432}, {"cache-sg", 6379}} {
		sg := pick(t, g, tSG, c.name)
		in := sg.Inputs["ingress"].ArrayValue()
		if len(in) != 1 {
			t.Fatalf("%s: %d ingress rules", c.name, len(in))
		}
		if sg.Number("ingress.0.fromPort") != c.port || sg.Number("ingress.0.toPort") != c.port ||
			sg.String("ingress.0.securityGroups.0") != appID || hasInput(*sg, "ingress.0.cidrBlocks") {
			t.Errorf("%s: ingress %v, want %v from %s only", c.name, in, c.port, appID)
		}
		if _, ok := sg.Input("egress"); ok {
			t.Errorf("%s has egress rules", c.name)
		}
	}
}

func hasInput(r pulumitest.Resource, path string) bool {
	_, ok := r.Input(path)
	return ok
}

func TestTheNetworkSpansTheConfiguredZonesWithItsNATLayout(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		subnets := g.ByType("aws:ec2/subnet:Subnet")
		zones := map[string]bool{}
		for _, s := range subnets {
			zones[s.String("availabilityZone")] = true
			if s.Bool("mapPublicIpOnLaunch") {
				t.Errorf("%s: %s maps public IPs", stack, s.Name)
			}
		}
		if len(subnets) != 2*cfg.Network.AZCount || len(zones) != cfg.Network.AZCount || len(zones) < 2 {
			t.Errorf("%s: %d subnets in %d zones", stack, len(subnets), len(zones))
		}
		nats := len(g.ByType("aws:ec2/natGateway:NatGateway"))
		want := 1
		if cfg.Network.NATGateways == stackconfig.NATPerAZ {
			want = cfg.Network.AZCount
		}
		if nats != want {
			t.Errorf("%s: %d NAT gateways, want %d", stack, nats, want)
		}
		dsg := pick(t, g, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "")
		if len(dsg.Inputs) != 2 { // vpcId and tags only
			t.Errorf("%s: default security group inputs %v", stack, dsg.Inputs)
		}
	}
}

func TestLogsAreRetainedEncryptedAndArchivedWhereConfigured(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		for _, lg := range g.ByType(tLogGroup) {
			if lg.Number("retentionInDays") != float64(cfg.Logging.RetentionDays) || !strings.Contains(lg.String("kmsKeyId"), "key/logs-key") {
				t.Errorf("%s: %s retention %v key %q", stack, lg.String("name"), lg.Number("retentionInDays"), lg.String("kmsKeyId"))
			}
		}
		key := pick(t, g, tKey, "logs")
		if !key.Bool("enableKeyRotation") || !strings.Contains(key.String("policy"), "logs.eu-west-1.amazonaws.com") {
			t.Errorf("%s: logs key %v", stack, key.Inputs)
		}
		archive := false
		for _, d := range cfg.Logging.Destinations {
			archive = archive || d == stackconfig.LogToS3
		}
		buckets := 0
		for _, b := range g.ByType("aws:s3/bucketV2:BucketV2") {
			if strings.Contains(b.Name, "archive") {
				buckets++
			}
		}
		router := map[string]any{}
		for _, c := range containerDefs(t, *pick(t, g, tTask, "web-task")) {
			if c["name"] == awsinfra.RouterContainer {
				router = c
			}
		}
		usesInit := strings.Contains(router["image"].(string), ":init-")
		if (buckets == 1) != archive || usesInit != archive {
			t.Errorf("%s: archive configured %v, archive buckets %d, init router %v", stack, archive, buckets, usesInit)
		}
	}
}

func TestEveryResourceBelongsToAComponentAndIsNamedFromIt(t *testing.T) {
	g := graph(t, "prod", true)
	byURN := map[string]pulumitest.Resource{}
	for _, r := range g.Resources {
		byURN[r.URN] = r
	}
	for _, r := range g.Resources {
		if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		parent, ok := byURN[r.Parent]
		if !ok || !strings.HasPrefix(parent.Type, "shipyard:aws:") {
			t.Errorf("%s: parent %q is not a shipyard:aws component", r.URN, r.Parent)
			continue
		}
		if !strings.HasPrefix(r.Name, parent.Name+"-") {
			t.Errorf("%s: not named from its component %s", r.URN, parent.Name)
		}
	}
}

func TestTasksHaveSeparateLeastPrivilegeRoles(t *testing.T) {
	g := graph(t, "prod", true)
	for _, td := range g.ByType(tTask) {
		exec, task := td.String("executionRoleArn"), td.String("taskRoleArn")
		if exec == "" || task == "" || exec == task {
			t.Errorf("%s: execution role %q, task role %q", td.Name, exec, task)
		}
	}
	for _, p := range g.ByType(tRolePol) {
		// The task role's one "*": X-Ray's PutTraceSegments has no
		// resource-level permissions.
		doc := strings.ReplaceAll(p.String("policy"), `{"Sid":"Traces","Effect":"Allow","Action":["xray:PutTraceSegments"],"Resource":["*"]}`, "")
		if strings.Contains(doc, `"*"`) && !strings.Contains(p.Name, "execution") {
			t.Errorf("%s: a wildcard outside the execution role's ecr:GetAuthorizationToken and the task role's xray:PutTraceSegments: %s", p.Name, p.String("policy"))
		}
	}
}

func TestWorkerAndClockRollOutAfterWebIsSteady(t *testing.T) {
	g := graph(t, "dev", true)
	web := pick(t, g, tService, "web-service")
	if !web.Bool("waitForSteadyState") {
		t.Errorf("the web deploy does not wait for a steady state")
	}
	for _, name := range []string{"worker-service", "clock-service"} {
		s := pick(t, g, tService, name)
		found := false
		for _, d := range s.Dependencies {
			found = found || d == web.URN
		}
		if !found {
			t.Errorf("%s does not depend on %s: %v", name, web.URN, s.Dependencies)
		}
	}
}

func TestOnlyProdKeepsItsDataWhenDestroyed(t *testing.T) {
	for _, stack := range awsStacks {
		prod := stack == "prod"
		g := graph(t, stack, true)
		db := pick(t, g, tRDS, "")
		if db.Bool("skipFinalSnapshot") == prod || hasInput(*db, "finalSnapshotIdentifier") != prod {
			t.Errorf("%s: skipFinalSnapshot %v, final snapshot %q", stack, db.Bool("skipFinalSnapshot"), db.String("finalSnapshotIdentifier"))
		}
		if pick(t, g, tRepo, "").Bool("forceDelete") == prod {
			t.Errorf("%s: ECR forceDelete should be %v", stack, !prod)
		}
		for _, b := range g.ByType("aws:s3/bucketV2:BucketV2") {
			if b.Bool("forceDestroy") == prod {
				t.Errorf("%s: %s forceDestroy should be %v", stack, b.Name, !prod)
			}
		}
		for _, s := range g.ByType("aws:secretsmanager/secret:Secret") {
			if want := map[bool]float64{true: 7, false: 0}[prod]; s.Number("recoveryWindowInDays") != want {
				t.Errorf("%s: %s recovery window %v, want %v", stack, s.Name, s.Number("recoveryWindowInDays"), want)
			}
		}
	}
}

func TestTheALBWaitsForItsLogBucketPolicy(t *testing.T) {
	g := graph(t, "dev", true)
	alb := pick(t, g, tALB, "")
	policy := pick(t, g, tBucketPol, "web-logs-policy")
	for _, d := range alb.Dependencies {
		if d == policy.URN {
			return
		}
	}
	t.Errorf("the ALB does not depend on %s: %v", policy.URN, alb.Dependencies)
}

func TestAReleaseKeepsThePreviousTaskDefinitionForRollbacks(t *testing.T) {
	for _, td := range graph(t, "staging", true).ByType(tTask) {
		if !td.Bool("skipDestroy") {
			t.Errorf("%s: a release would deregister the revision a rollback needs", td.Name)
		}
	}
}

// The stack's one customer-managed key (the Logging component's) encrypts
// the database, its managed secret, Redis and every secret, and the
// execution roles may decrypt with it through Secrets Manager only.
func TestDataIsEncryptedWithTheStacksKey(t *testing.T) {
	const stackKey = "key/logs-key"
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		db := pick(t, g, tRDS, "")
		redis := pick(t, g, tRedis, "")
		keyed := map[string]string{
			"database kmsKeyId":                 db.String("kmsKeyId"),
			"database masterUserSecretKmsKeyId": db.String("masterUserSecretKmsKeyId"),
			"redis kmsKeyId":                    redis.String("kmsKeyId"),
			"database Performance Insights":     db.String("performanceInsightsKmsKeyId"),
		}
		for _, s := range g.ByType(tSecret) {
			keyed["secret "+s.Name+" kmsKeyId"] = s.String("kmsKeyId")
		}
		for what, arn := range keyed {
			if !strings.HasSuffix(arn, stackKey+"-key-id") {
				t.Errorf("%s: %s %q, want the stack key", stack, what, arn)
			}
		}
		for _, p := range g.ByType(tRolePol) {
			if !strings.HasSuffix(p.Name, "-execution") {
				continue
			}
			doc := p.String("policy")
			if !strings.Contains(doc, `"SecretsKey"`) || !strings.Contains(doc, stackKey) || !strings.Contains(doc, "secretsmanager.eu-west-1.amazonaws.com") {
				t.Errorf("%s: %s cannot decrypt its secrets: %s", stack, p.Name, doc)
			}
		}
	}
}

// Versioned buckets keep previous versions NoncurrentVersionDays, then
// expire them, so versioning does not keep logs forever.
func TestBucketsAreVersionedAndExpirePreviousVersions(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		buckets := g.ByType("aws:s3/bucketV2:BucketV2")
		versioned := g.ByType("aws:s3/bucketVersioningV2:BucketVersioningV2")
		if len(buckets) == 0 || len(versioned) != len(buckets) {
			t.Errorf("%s: %d buckets, %d versioning configurations", stack, len(buckets), len(versioned))
		}
		for _, v := range versioned {
			if v.String("versioningConfiguration.status") != "Enabled" {
				t.Errorf("%s: %s status %q", stack, v.Name, v.String("versioningConfiguration.status"))
			}
		}
		for _, l := range g.ByType("aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2") {
			if n := l.Number("rules.0.noncurrentVersionExpiration.noncurrentDays"); n != awsinfra.NoncurrentVersionDays {
				t.Errorf("%s: %s keeps previous versions %v days, want %d", stack, l.Name, n, awsinfra.NoncurrentVersionDays)
			}
		}
	}
}

// checkBacklogPolicy: the worker's backlog scaling tracks the job queue's
// pending jobs (the app's embedded metrics, this stack's Stack and the
// default queue) per running worker task (Container Insights) at
// services.worker.autoscaling.pendingJobsPerTask, within the worker's
// scalable target, scaling in slowly.
func checkBacklogPolicy(t *testing.T, pol pulumitest.Resource, stack string, cfg *stackconfig.Config) {
	t.Helper()
	const spec = "targetTrackingScalingPolicyConfiguration."
	if pol.String("policyType") != "TargetTrackingScaling" || pol.Number(spec+"targetValue") != float64(cfg.Services.Worker.Autoscaling.PendingJobsPerTask) {
		t.Errorf("backlog policy: %s at %v, want target tracking at %d", pol.String("policyType"), pol.Number(spec+"targetValue"), cfg.Services.Worker.Autoscaling.PendingJobsPerTask)
	}
	if !strings.HasSuffix(pol.String("resourceId"), "/shipyard-"+stack+"-worker") {
		t.Errorf("backlog policy on %q, not the worker service", pol.String("resourceId"))
	}
	if in, out := pol.Number(spec+"scaleInCooldown"), pol.Number(spec+"scaleOutCooldown"); in <= out {
		t.Errorf("backlog policy cooldowns: in %v, out %v; want a slower scale-in", in, out)
	}
	m := spec + "customizedMetricSpecification.metrics."
	got := map[string]string{}
	for i := range 3 {
		p := m + strconv.Itoa(i) + "."
		id := pol.String(p + "id")
		switch {
		case pol.String(p+"expression") != "":
			got[id] = pol.String(p+"expression") + fmt.Sprintf(" returned=%v", pol.Bool(p+"returnData"))
		default:
			dims := map[string]string{}
			for j := range 2 {
				dims[pol.String(p+"metricStat.metric.dimensions."+strconv.Itoa(j)+".name")] = pol.String(p + "metricStat.metric.dimensions." + strconv.Itoa(j) + ".value")
			}
			got[id] = fmt.Sprintf("%s/%s %s %v", pol.String(p+"metricStat.metric.namespace"), pol.String(p+"metricStat.metric.metricName"), pol.String(p+"metricStat.stat"), dims)
		}
	}
	want := map[string]string{
		"pending": fmt.Sprintf("Shipyard/JobsQueuePending Maximum map[Queue:default Stack:%s]", stack),
		"running": fmt.Sprintf("ECS/ContainerInsights/RunningTaskCount Average map[ClusterName:shipyard-%s ServiceName:shipyard-%s-worker]", stack, stack),
		"backlog": "IF(running > 0, pending / running, pending) returned=true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backlog policy metrics:\n got %v\nwant %v", got, want)
	}
}
