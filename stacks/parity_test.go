package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/docker/dockermock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// topology is what must not drift between prod (ECS) and the local Docker
// stack, as each program actually registers it.
type topology struct {
	// Processes maps each process type, plus the one-off "migrate", to
	// how it runs.
	Processes map[string]process
	// LoadBalancerHealthPath is the web health check of the ALB target
	// group / the nginx load balancer.
	LoadBalancerHealthPath string
	PostgresMajor          string
	RedisMajor             string
}

type process struct {
	Command     string
	EnvKeys     string // sorted, comma-separated: plain env and secrets
	HealthCheck string // the container health check command
	StopTimeout int
	Image       string
}

const migrate = "migrate"

// prodTopology runs the AWS program for config/prod.json (released at a
// digest, so the task definitions exist) under infra/aws/awsmock.
func prodTopology(t *testing.T) topology {
	t.Helper()
	cfg, err := awsmock.LoadConfig(stackconfig.ProdStack)
	if err != nil {
		t.Fatal(err)
	}
	g, err := awsmock.RunConfig(awsmock.Released(cfg))
	if err != nil {
		t.Fatalf("running the prod program under mocks: %v", err)
	}
	top := topology{Processes: map[string]process{}}
	for _, td := range g.ByType("aws:ecs/taskDefinition:TaskDefinition") {
		var defs []awsinfra.ContainerDefinition
		if err := json.Unmarshal([]byte(td.String("containerDefinitions")), &defs); err != nil {
			t.Fatalf("task definition %s: %v", td.Name, err)
		}
		family := td.String("family")
		for _, d := range defs {
			var key string
			switch {
			case d.Name == awsinfra.AppContainer:
				key = family[strings.LastIndex(family, "-")+1:]
			case d.Name == awsinfra.MigrateContainer && strings.HasSuffix(family, "-"+migrate):
				key = migrate // the release task; the init containers are its copies
			default:
				continue
			}
			var env []string
			for _, e := range d.Environment {
				env = append(env, e.Name)
			}
			for _, s := range d.Secrets {
				env = append(env, s.Name)
			}
			hc := ""
			if d.HealthCheck != nil {
				hc = strings.Join(d.HealthCheck.Command, " ")
			}
			top.Processes[key] = process{
				Command: strings.Join(d.Command, " "), EnvKeys: sortedKeys(env), HealthCheck: hc,
				StopTimeout: d.StopTimeout, Image: d.Image,
			}
		}
	}
	for _, tg := range g.ByType("aws:lb/targetGroup:TargetGroup") {
		top.LoadBalancerHealthPath = tg.String("healthCheck.path")
	}
	for _, db := range g.ByType("aws:rds/instance:Instance") {
		top.PostgresMajor = major(db.String("engineVersion"))
	}
	for _, rg := range g.ByType("aws:elasticache/replicationGroup:ReplicationGroup") {
		top.RedisMajor = major(rg.String("engineVersion"))
	}
	return top
}

// localTopology runs this program (stacks/main.go's program, as `pulumi
// up --stack local` does) for config/local.json under mocks.
func localTopology(t *testing.T) topology {
	t.Helper()
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		t.Fatal(err)
	}
	g, err := pulumitest.Run("local", program(dir, noEnv), dockermock.Options(dockermock.Migration{})...)
	if err != nil {
		t.Fatalf("running the local program under mocks: %v", err)
	}
	n := dockerinfra.NamesFor("local")
	top := topology{Processes: map[string]process{}}
	for _, c := range g.ByType("docker:index/container:Container") {
		key := ""
		for i := 0; ; i++ {
			l, ok := c.Input(fmt.Sprintf("labels.%d.label", i))
			if !ok {
				break
			}
			if l.StringValue() == dockerinfra.ProcessLabel {
				key = c.String(fmt.Sprintf("labels.%d.value", i))
			}
		}
		switch {
		case key != "":
			var env []string
			for _, kv := range stringList(c, "envs") {
				k, _, _ := strings.Cut(kv, "=")
				env = append(env, k)
			}
			p := process{
				Command: strings.Join(stringList(c, "command"), " "), EnvKeys: sortedKeys(env),
				HealthCheck: strings.Join(stringList(c, "healthcheck.tests"), " "),
				StopTimeout: int(c.Number("stopTimeout")), Image: c.String("image"),
			}
			if prev, seen := top.Processes[key]; seen && prev != p {
				t.Fatalf("two %s containers differ: %+v and %+v", key, prev, p)
			}
			top.Processes[key] = p
		case c.String("name") == n.Container("nginx"):
			tests := stringList(c, "healthcheck.tests")
			u, err := url.Parse(tests[len(tests)-1])
			if err != nil {
				t.Fatalf("nginx health check %v: %v", tests, err)
			}
			top.LoadBalancerHealthPath = u.Path
		}
	}
	for _, img := range g.ByType("docker:index/remoteImage:RemoteImage") {
		name := img.String("name")
		tag := name[strings.LastIndex(name, ":")+1:]
		switch {
		case strings.HasPrefix(img.Parent, "urn:pulumi:local::shipyard::shipyard:docker:Postgres::"):
			top.PostgresMajor = major(tag)
		case strings.HasPrefix(img.Parent, "urn:pulumi:local::shipyard::shipyard:docker:Redis::"):
			top.RedisMajor = major(tag)
		}
	}
	return top
}

func stringList(r pulumitest.Resource, path string) []string {
	var out []string
	for i := 0; ; i++ {
		v, ok := r.Input(fmt.Sprintf("%s.%d", path, i))
		if !ok {
			return out
		}
		out = append(out, v.StringValue())
	}
}

func sortedKeys(keys []string) string {
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func major(version string) string {
	m, _, _ := strings.Cut(version, ".")
	return m
}

// drift lists every difference that matters between prod and local.
func drift(prod, local topology) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var prodKeys, localKeys []string
	for k := range prod.Processes {
		prodKeys = append(prodKeys, k)
	}
	for k := range local.Processes {
		localKeys = append(localKeys, k)
	}
	if a, b := sortedKeys(prodKeys), sortedKeys(localKeys); a != b {
		add("process types: prod runs %s, local runs %s", a, b)
	}
	images := map[string]map[string]bool{"prod": {}, "local": {}}
	for _, p := range append(stackconfig.Processes, migrate) {
		name := string(p)
		pp, ok1 := prod.Processes[name]
		lp, ok2 := local.Processes[name]
		if !ok1 || !ok2 {
			continue
		}
		images["prod"][pp.Image], images["local"][lp.Image] = true, true
		if pp.Command != lp.Command {
			add("%s: command %q on prod, %q locally", name, pp.Command, lp.Command)
		}
		if pp.EnvKeys != lp.EnvKeys {
			add("%s: env keys differ:\n  prod:  %s\n  local: %s", name, pp.EnvKeys, lp.EnvKeys)
		}
		if pp.HealthCheck != lp.HealthCheck {
			add("%s: health check %q on prod, %q locally", name, pp.HealthCheck, lp.HealthCheck)
		}
		if pp.StopTimeout != lp.StopTimeout {
			add("%s: stop timeout %ds on prod, %ds locally", name, pp.StopTimeout, lp.StopTimeout)
		}
	}
	for stack, set := range images {
		if len(set) != 1 {
			add("%s: the process types run %d different images, want one: %v", stack, len(set), set)
		}
	}
	if prod.LoadBalancerHealthPath != local.LoadBalancerHealthPath {
		add("load balancer health check path %q on prod, %q locally", prod.LoadBalancerHealthPath, local.LoadBalancerHealthPath)
	}
	if prod.PostgresMajor != local.PostgresMajor {
		add("Postgres major version %s on prod, %s locally", prod.PostgresMajor, local.PostgresMajor)
	}
	if prod.RedisMajor != local.RedisMajor {
		add("Redis major version %s on prod, %s locally", prod.RedisMajor, local.RedisMajor)
	}
	return out
}

func TestTheLocalStackMirrorsProd(t *testing.T) {
	prod, local := prodTopology(t), localTopology(t)
	for _, p := range []string{"web", "worker", "clock", migrate} {
		if _, ok := prod.Processes[p]; !ok {
			t.Fatalf("prod has no %s process; its topology: %+v", p, prod)
		}
	}
	if prod.PostgresMajor == "" || prod.RedisMajor == "" || prod.LoadBalancerHealthPath == "" {
		t.Fatalf("incomplete prod topology: %+v", prod)
	}
	if d := drift(prod, local); len(d) > 0 {
		t.Fatalf("the local stack drifted from prod:\n- %s", strings.Join(d, "\n- "))
	}
}

func TestEveryKindOfDriftIsReported(t *testing.T) {
	prod, local := prodTopology(t), localTopology(t)
	edit := func(name string, f func(p *process)) func(tp *topology) {
		return func(tp *topology) {
			p := tp.Processes[name]
			f(&p)
			tp.Processes[name] = p
		}
	}
	tests := []struct {
		name   string
		mutate func(tp *topology)
		want   string
	}{
		{"a missing process type", func(tp *topology) { delete(tp.Processes, "clock") }, "process types"},
		{"an extra env var", edit("worker", func(p *process) { p.EnvKeys += ",EXTRA" }), "worker: env keys differ"},
		{"another health check", edit("clock", func(p *process) { p.HealthCheck = "CMD true" }), "clock: health check"},
		{"another stop timeout", edit("web", func(p *process) { p.StopTimeout++ }), "web: stop timeout"},
		{"another image for one process", edit("worker", func(p *process) { p.Image = "other:1" }), "different images"},
		{"another load balancer health path", func(tp *topology) { tp.LoadBalancerHealthPath = "/livez" }, "load balancer health check path"},
		{"another Postgres major", func(tp *topology) { tp.PostgresMajor = "16" }, "Postgres major version"},
		{"another Redis major", func(tp *topology) { tp.RedisMajor = "6" }, "Redis major version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := local
			l.Processes = map[string]process{}
			for k, v := range local.Processes {
				l.Processes[k] = v
			}
			tt.mutate(&l)
			d := drift(prod, l)
			if len(d) != 1 || !strings.Contains(d[0], tt.want) {
				t.Fatalf("drift = %q, want exactly one mentioning %q", d, tt.want)
			}
		})
	}
}
