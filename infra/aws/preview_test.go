package aws_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/appenv"
	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// previewConfig loads PR n of dev, as `make pr-up PR=n STACK=dev` deploys
// it, in slot.
func previewConfig(t *testing.T, n, slot int) *stackconfig.Config {
	t.Helper()
	cfg := loadConfig(t, stackconfig.PreviewStackName("dev", n))
	if err := cfg.SetPreviewSlot(strconv.Itoa(slot)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetPreviewImage(awsmock.Digest); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// previewGraphs caches the PR graphs by stack/slot.
var previewGraphs = map[string]*pulumitest.Graph{}

// previewGraph runs PR n of dev in slot under mocks, its StackReference
// answering with the outputs the real dev program exports.
func previewGraph(t *testing.T, n, slot int) *pulumitest.Graph {
	t.Helper()
	key := strconv.Itoa(n) + "/" + strconv.Itoa(slot)
	if g, ok := previewGraphs[key]; ok {
		return g
	}
	g, err := awsmock.RunPreview(previewConfig(t, n, slot), graph(t, "dev", true))
	if err != nil {
		t.Fatalf("run dev-pr-%d: %v", n, err)
	}
	previewGraphs[key] = g
	return g
}

func TestAPREnvironmentCreatesOnlyPerPRResources(t *testing.T) {
	g := previewGraph(t, 7, 3)
	perPR := map[string]bool{
		"pulumi:providers:aws": true, awsmock.StackReferenceType: true,
		"aws:cloudwatch/logGroup:LogGroup": true, "random:index/randomPassword:RandomPassword": true,
		"aws:secretsmanager/secret:Secret": true, "aws:secretsmanager/secretVersion:SecretVersion": true,
		"aws:lb/targetGroup:TargetGroup": true, "aws:lb/listenerRule:ListenerRule": true, "aws:route53/record:Record": true,
		"aws:iam/role:Role": true, "aws:iam/rolePolicy:RolePolicy": true,
		"aws:ecs/taskDefinition:TaskDefinition": true, "aws:ecs/service:Service": true,
	}
	for _, r := range g.Resources {
		if !r.Custom {
			continue
		}
		if !perPR[r.Type] {
			t.Errorf("%s %s is not a per-PR resource", r.Type, r.Name)
		}
	}
	refs := g.ByType(awsmock.StackReferenceType)
	if len(refs) != 1 || refs[0].String("name") != "organization/shipyard/dev" {
		t.Errorf("stack references %v, want one to organization/shipyard/dev", refs)
	}
}

func TestEveryRulePassesOnAPREnvironment(t *testing.T) {
	for _, slot := range []int{1, 5} {
		g := previewGraph(t, 7, slot)
		for _, v := range policy.Evaluate(policy.All(), policy.FromGraph(g)) {
			t.Errorf("slot %d: %v", slot, v)
		}
	}
	// As `pulumi preview` sees it, before anything exists.
	g, err := awsmock.RunPreview(previewConfig(t, 7, 2), graph(t, "dev", true), pulumitest.WithDryRun())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range policy.Evaluate(policy.All(), policy.FromGraph(g)) {
		t.Errorf("preview: %v", v)
	}
}

func TestAPRIsServedAtItsHostThroughTheBaseListenerWithTheSlotsPriority(t *testing.T) {
	dev := graph(t, "dev", true)
	for _, tc := range []struct{ n, slot int }{{7, 3}, {8, 1}} {
		g := previewGraph(t, tc.n, tc.slot)
		host := "pr-" + strconv.Itoa(tc.n) + ".dev.shipyard.example.com"
		rule := pick(t, g, "aws:lb/listenerRule:ListenerRule", "web-rule")
		if got := rule.String("listenerArn"); got != dev.Outputs["httpsListenerArn"] {
			t.Errorf("PR %d: rule on listener %q, want the base's %v", tc.n, got, dev.Outputs["httpsListenerArn"])
		}
		if got := rule.Number("priority"); got != float64(awsinfra.PreviewRulePriorityBase+tc.slot) {
			t.Errorf("PR %d in slot %d: priority %v", tc.n, tc.slot, got)
		}
		if got := rule.String("conditions.0.hostHeader.values.0"); got != host {
			t.Errorf("PR %d: host header %q, want %q", tc.n, got, host)
		}
		tg := pick(t, g, tTarget, "web-tg")
		if got, want := tg.String("name"), "shipyard-dev-pr-"+strconv.Itoa(tc.n)+"-web"; got != want {
			t.Errorf("target group %q, want %q", got, want)
		}
		if !strings.Contains(rule.String("actions.0.targetGroupArn"), "targetgroup/shipyard-dev-pr-"+strconv.Itoa(tc.n)+"-web/") {
			t.Errorf("rule forwards to %q", rule.String("actions.0.targetGroupArn"))
		}
		for _, typ := range []string{"a", "aaaa"} {
			rec := pick(t, g, "aws:route53/record:Record", "web-alias-"+typ)
			if rec.String("name") != host || rec.String("zoneId") != dev.Outputs["hostedZoneId"] ||
				rec.String("aliases.0.name") != dev.Outputs["albDnsName"] || rec.String("aliases.0.zoneId") != dev.Outputs["albZoneId"] {
				t.Errorf("record %s: %v", typ, rec.Inputs)
			}
		}
		if got := g.Outputs["url"]; got != "https://"+host {
			t.Errorf("url %v", got)
		}
	}
}

func TestAPRsServicesRunOnFargateSpotAtTheSmallestSizeInTheBaseCluster(t *testing.T) {
	g := previewGraph(t, 7, 3)
	dev := graph(t, "dev", true)
	services := g.ByType(tService)
	if len(services) != len(stackconfig.Processes) {
		t.Fatalf("%d services", len(services))
	}
	for _, s := range services {
		if s.String("launchType") != "" || s.String("capacityProviderStrategies.0.capacityProvider") != awsinfra.CapacityFargateSpot {
			t.Errorf("%s: launchType %q, strategy %v", s.Name, s.String("launchType"), s.Inputs["capacityProviderStrategies"])
		}
		if s.Number("desiredCount") != 1 {
			t.Errorf("%s: desiredCount %v", s.Name, s.Number("desiredCount"))
		}
		if !strings.HasSuffix(s.String("cluster"), "cluster/shipyard-dev") {
			t.Errorf("%s: cluster %q, want the base's", s.Name, s.String("cluster"))
		}
		if s.Bool("waitForSteadyState") {
			t.Errorf("%s waits for a steady state before its database exists", s.Name)
		}
		if !strings.HasPrefix(s.String("name"), "shipyard-dev-pr-7-") {
			t.Errorf("service name %q", s.String("name"))
		}
	}
	if n := len(g.ByType(tScaling)); n != 0 {
		t.Errorf("%d scaling targets", n)
	}
	for _, td := range g.ByType(tTask) {
		if td.String("cpu") != "256" || td.String("memory") != "512" {
			t.Errorf("%s: %s/%s", td.Name, td.String("cpu"), td.String("memory"))
		}
		// pr-down leaves no task definition revision behind.
		if td.Bool("skipDestroy") {
			t.Errorf("%s outlives the PR stack (skipDestroy)", td.Name)
		}
	}
	// The base's cluster can place them: it has the capacity provider.
	cp := pick(t, dev, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders", "cluster-capacity")
	if got := strs(cp.Inputs["capacityProviders"].Mappable()); !reflect.DeepEqual(got, []string{awsinfra.CapacityFargate, awsinfra.CapacityFargateSpot}) {
		t.Errorf("base cluster's capacity providers %v", got)
	}
}

// envOf returns a container's environment as a map.
func envOf(c map[string]any) map[string]string {
	out := map[string]string{}
	for _, e := range c["environment"].([]any) {
		m := e.(map[string]any)
		out[m["name"].(string)] = m["value"].(string)
	}
	return out
}

func secretsOf(c map[string]any) map[string]string {
	out := map[string]string{}
	l, _ := c["secrets"].([]any)
	for _, e := range l {
		m := e.(map[string]any)
		out[m["name"].(string)] = m["valueFrom"].(string)
	}
	return out
}

func TestAPRsAppUsesItsOwnDatabaseUserAndRedisDatabaseAndNeverTheMasterPassword(t *testing.T) {
	g := previewGraph(t, 7, 3)
	dev := graph(t, "dev", true)
	secret := pick(t, g, tSecret, "database-password")
	if got := secret.String("name"); got != "shipyard/dev-pr-7/DATABASE_PASSWORD" {
		t.Errorf("secret name %q", got)
	}
	prSecret := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shipyard/dev-pr-7/DATABASE_PASSWORD-AbCdEf"
	master := dev.Outputs["databaseMasterSecretArn"].(string)
	var adminEnv, webEnv map[string]string
	for _, td := range g.ByType(tTask) {
		admin := strings.HasSuffix(td.String("family"), "-admin")
		for _, c := range containerDefs(t, td) {
			env := envOf(c)
			if _, ok := env["REQUEST_TIMEOUT"]; !ok {
				continue // the log router, the collector
			}
			secrets := secretsOf(c)
			if admin {
				if !strings.Contains(env["DATABASE_URL"], "//shipyard@") || !strings.HasSuffix(strings.Split(env["DATABASE_URL"], "?")[0], "/shipyard") {
					t.Errorf("admin DATABASE_URL %q: want the base's master user and database", env["DATABASE_URL"])
				}
				if env[appenv.PreviewDatabase] != "pr_7" || env[appenv.PreviewDatabaseUser] != "pr_7" {
					t.Errorf("admin env %v", env)
				}
				if secrets["DATABASE_PASSWORD"] != master+":password::" || secrets[appenv.PreviewDatabasePassword] != prSecret ||
					secrets["REDIS_PASSWORD"] == "" || len(secrets) != 3 {
					t.Errorf("admin secrets %v: want the master user's password, the PR user's and Redis's", secrets)
				}
				adminEnv = env
				if got := strs(c["command"]); !reflect.DeepEqual(got, awsinfra.PreviewAdminCommand) {
					t.Errorf("admin command %v", got)
				}
			} else {
				if strings.HasSuffix(td.String("family"), "-web") {
					webEnv = env
				}
				if !strings.HasPrefix(env["DATABASE_URL"], "postgres://pr_7@") || !strings.Contains(env["DATABASE_URL"], "/pr_7?") {
					t.Errorf("%s %s: DATABASE_URL %q", td.Name, c["name"], env["DATABASE_URL"])
				}
				if secrets["DATABASE_PASSWORD"] != prSecret {
					t.Errorf("%s %s: DATABASE_PASSWORD from %q", td.Name, c["name"], secrets["DATABASE_PASSWORD"])
				}
			}
			if !strings.HasSuffix(env["REDIS_URL"], ":6379/3") {
				t.Errorf("%s %s: REDIS_URL %q, want the slot's database 3", td.Name, c["name"], env["REDIS_URL"])
			}
			if env["APP_ENV"] != "dev-pr-7" {
				t.Errorf("APP_ENV %q", env["APP_ENV"])
			}
			if !strings.HasPrefix(c["image"].(string), dev.Outputs["imageRepositoryUrl"].(string)+"@sha256:") {
				t.Errorf("image %v", c["image"])
			}
		}
	}
	// The admin task has the PR's env (stackconfig's PreviewAdminEnv, as
	// docker's create and drop): the web's but DATABASE_URL, plus the PR's
	// database and user.
	if adminEnv == nil || webEnv == nil {
		t.Fatalf("no admin (%v) or web (%v) app container", adminEnv != nil, webEnv != nil)
	}
	for k, v := range webEnv {
		if k != "DATABASE_URL" && adminEnv[k] != v {
			t.Errorf("admin %s=%q, the PR's web has %q", k, adminEnv[k], v)
		}
	}
	if len(adminEnv) != len(webEnv)+2 {
		t.Errorf("admin env %v: want the web's %v and the PR's database and user", adminEnv, webEnv)
	}
	// Only the admin task's execution role may read the master secret.
	for _, p := range g.ByType(tRolePol) {
		if strings.Contains(p.String("policy"), master) != (p.Name == "admin-execution") {
			t.Errorf("role policy %s: master secret named %v", p.Name, strings.Contains(p.String("policy"), master))
		}
	}
}

func TestAPRsLogsAreItsOwnKeptShortAndEncryptedWithTheBasesKey(t *testing.T) {
	g := previewGraph(t, 7, 3)
	dev := graph(t, "dev", true)
	cfg := previewConfig(t, 7, 3)
	groups := g.ByType(tLogGroup)
	if len(groups) != len(stackconfig.Processes)+1 {
		t.Errorf("%d log groups", len(groups))
	}
	for _, lg := range groups {
		if !strings.HasPrefix(lg.String("name"), "/shipyard/dev-pr-7/") {
			t.Errorf("log group %q", lg.String("name"))
		}
		if lg.Number("retentionInDays") != float64(cfg.Previews.LogRetentionDays) || lg.String("kmsKeyId") != dev.Outputs["kmsKeyArn"] {
			t.Errorf("%s: %v days, key %q", lg.Name, lg.Number("retentionInDays"), lg.String("kmsKeyId"))
		}
	}
	for _, s := range g.ByType(tSecret) {
		if s.String("kmsKeyId") != dev.Outputs["kmsKeyArn"] {
			t.Errorf("secret %s: key %q", s.Name, s.String("kmsKeyId"))
		}
	}
}

func TestPRStackOutputsFollowTheContract(t *testing.T) {
	g := previewGraph(t, 7, 3)
	var keys []string
	for k := range g.Outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := append([]string(nil), awsinfra.PreviewOutputKeys...)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("output keys %v, want %v", keys, want)
	}
	for k, v := range map[string]any{
		"stack": "dev-pr-7", "target": "aws", "previewSlot": 3, "pr": 7, "baseStack": "dev", "databaseName": "pr_7",
		"clusterName": "shipyard-dev", "region": "eu-west-1",
		"adminTaskDefinitionArn":   "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-admin:1",
		"migrateTaskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-migrate:1",
		"adminLogGroupName":        "/shipyard/dev-pr-7/web",
	} {
		if got := g.Outputs[k]; !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	names := reflect.ValueOf(g.Outputs["serviceNames"])
	for _, p := range stackconfig.Processes {
		if v := names.MapIndex(reflect.ValueOf(string(p))); !v.IsValid() || reflect.Indirect(v).Interface() != "shipyard-dev-pr-7-"+string(p) {
			t.Errorf("serviceNames[%s] = %v", p, v)
		}
	}
}

func TestTheBaseStackExportsEverythingAPREnvironmentReads(t *testing.T) {
	for _, k := range awsinfra.PreviewBaseOutputs {
		if !contains(awsinfra.OutputKeys, k) {
			t.Errorf("NewStack does not export %s", k)
		}
	}
	for _, stack := range awsStacks {
		out := graph(t, stack, false).Outputs
		for _, k := range awsinfra.PreviewBaseOutputs {
			if v, ok := out[k]; !ok || v == "" {
				t.Errorf("%s before its first release: %s = %v", stack, k, v)
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestAPREnvironmentRefusesWhatItCannotRun(t *testing.T) {
	dev := graph(t, "dev", true)
	withOut := func(key string) map[string]any {
		out := map[string]any{}
		for k, v := range dev.Outputs {
			if k != key {
				out[k] = v
			}
		}
		return out
	}
	cases := []struct {
		name    string
		edit    func(cfg *stackconfig.Config)
		outputs map[string]any
		want    string
	}{
		{"no slot", func(cfg *stackconfig.Config) { cfg.Preview.Slot = 0 }, dev.Outputs, stackconfig.PreviewSlotEnv},
		{"no image", func(cfg *stackconfig.Config) { cfg.Release.ImageDigest = "" }, dev.Outputs, stackconfig.PreviewImageEnv},
		{"a base stack deployed before PR environments existed", func(*stackconfig.Config) {}, withOut(awsinfra.OutputAlbZoneID),
			"stack dev has no outputs albZoneId: deploy it with this checkout first (`make up STACK=dev`)"},
		{"a base stack without a domain", func(*stackconfig.Config) {}, func() map[string]any {
			out := withOut(awsinfra.OutputDomain)
			out[awsinfra.OutputDomain] = ""
			return out
		}(), "has no loadBalancer.domain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := previewConfig(t, 7, 3)
			tc.edit(cfg)
			_, err := pulumitest.Run(cfg.Stack, awsmock.PreviewProgram(cfg), append(awsmock.Options(), awsmock.BaseStack(tc.outputs))...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPRImagesNeverPushTheBasesReleasesOutOfItsRepository(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		var policy struct {
			Rules []struct {
				RulePriority int `json:"rulePriority"`
				Selection    struct {
					TagStatus     string   `json:"tagStatus"`
					TagPrefixList []string `json:"tagPrefixList"`
					CountNumber   int      `json:"countNumber"`
				} `json:"selection"`
			} `json:"rules"`
		}
		lp := pick(t, graph(t, stack, true), "aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-lifecycle")
		if err := json.Unmarshal([]byte(lp.String("policy")), &policy); err != nil {
			t.Fatal(err)
		}
		last := policy.Rules[len(policy.Rules)-1]
		if last.Selection.TagStatus != "any" || last.Selection.CountNumber != awsinfra.ImageRetainCount {
			t.Errorf("%s: the last rule %+v is not the catch-all keeping %d", stack, last, awsinfra.ImageRetainCount)
		}
		if got := len(policy.Rules) == 2; got != cfg.Previews.Enabled {
			t.Fatalf("%s (previews.enabled %v): %d rules", stack, cfg.Previews.Enabled, len(policy.Rules))
		}
		if cfg.Previews.Enabled {
			first := policy.Rules[0]
			if first.RulePriority != 1 || first.Selection.TagStatus != "tagged" || !reflect.DeepEqual(first.Selection.TagPrefixList, []string{awsinfra.PreviewImageTagPrefix}) ||
				first.Selection.CountNumber != awsinfra.PreviewImageRetainCount {
				t.Errorf("%s: PR images rule %+v", stack, first)
			}
		}
	}
}
