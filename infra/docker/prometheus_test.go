package docker_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// upload returns the content a container gets at file.
func upload(t *testing.T, r pulumitest.Resource, file string) string {
	t.Helper()
	for i := 0; i < count(r, "uploads"); i++ {
		p := "uploads." + strconv.Itoa(i)
		if r.String(p+".file") == file {
			return r.String(p + ".content")
		}
	}
	t.Fatalf("nothing uploaded to %s", file)
	return ""
}

// count is the length of the list input at path.
func count(r pulumitest.Resource, path string) int {
	v, ok := r.Input(path)
	if !ok || !v.IsArray() {
		return 0
	}
	return len(v.ArrayValue())
}

func TestPrometheusIsPublishedOnLoopbackOnly(t *testing.T) {
	cfg := loadLocal(t)
	cfg.Local.PrometheusPort = 19090
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	p := container(t, g, n.Container("prometheus"))
	if count(p, "ports") != 1 || p.String("ports.0.ip") != "127.0.0.1" || int(p.Number("ports.0.external")) != 19090 || int(p.Number("ports.0.internal")) != dockerinfra.PrometheusPort {
		t.Errorf("published on %s:%v→%v, want only 127.0.0.1:19090", p.String("ports.0.ip"), p.Number("ports.0.external"), p.Number("ports.0.internal"))
	}
	if g.Outputs["prometheusUrl"] != "http://127.0.0.1:19090" {
		t.Errorf("prometheusUrl = %v", g.Outputs["prometheusUrl"])
	}
	if e := container(t, g, n.Container("nginx-exporter")); count(e, "ports") != 0 {
		t.Error("the nginx exporter is published on the host")
	}
	lb := container(t, g, n.Container("nginx"))
	if count(lb, "ports") != 2 || int(lb.Number("ports.0.internal")) != dockerinfra.NginxListenPort || int(lb.Number("ports.1.internal")) != dockerinfra.NginxHTTPSPort {
		t.Error("nginx publishes more than its HTTP and HTTPS ports (stub_status must stay on the network)")
	}
}

// TestPrometheusScrapesEveryProcessAndNginx follows each scrape job to the
// containers it finds: a job's DNS name is the network alias of every
// container of its process type, on the port the process listens on, and
// the nginx job reaches nginx's stub_status through the exporter.
func TestPrometheusScrapesEveryProcessAndNginx(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	p := container(t, g, n.Container("prometheus"))
	var conf struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(upload(t, p, dockerinfra.PrometheusConfigPath)), &conf); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(conf.RuleFiles, []string{dockerinfra.PrometheusRulesPath}) {
		t.Errorf("rule_files = %v", conf.RuleFiles)
	}
	var jobs []string
	for _, sc := range conf.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
		if sc.JobName == "nginx" {
			if len(sc.StaticConfigs) != 1 || !slices.Equal(sc.StaticConfigs[0].Targets, []string{n.Container("nginx-exporter") + ":9113"}) {
				t.Errorf("nginx job targets %+v", sc.StaticConfigs)
			}
			continue
		}
		if sc.JobName == "lb" {
			if len(sc.StaticConfigs) != 1 || !slices.Equal(sc.StaticConfigs[0].Targets, []string{n.Container("mtail") + ":3903"}) {
				t.Errorf("lb job targets %+v", sc.StaticConfigs)
			}
			continue
		}
		proc := stackconfig.Process(sc.JobName)
		if len(sc.DNSSDConfigs) != 1 || sc.DNSSDConfigs[0].Type != "A" || sc.DNSSDConfigs[0].Port != cfg.Services.Get(proc).Port {
			t.Fatalf("job %s: %+v", sc.JobName, sc.DNSSDConfigs)
		}
		alias := sc.DNSSDConfigs[0].Names
		found := 0
		for _, r := range g.ByType(containerType) {
			if r.String("labels.1.value") != string(proc) && !strings.Contains(r.Name, "-"+string(proc)+"-") {
				continue
			}
			if strings.Contains(r.Name, "migrate") {
				continue
			}
			found++
			if got := r.String("networksAdvanced.0.aliases.0"); !slices.Contains(alias, got) {
				t.Errorf("%s has alias %q; job %s resolves %v", r.Name, got, sc.JobName, alias)
			}
		}
		if want := signals.Desired(cfg, proc); found != want {
			t.Errorf("job %s finds %d containers, want %d", sc.JobName, found, want)
		}
	}
	if !slices.Equal(jobs, dockerinfra.PrometheusJobs) {
		t.Errorf("jobs %v, want %v", jobs, dockerinfra.PrometheusJobs)
	}
	exporter := container(t, g, n.Container("nginx-exporter"))
	uri := "http://" + n.Container("nginx") + ":8081/stub_status"
	if got := exporter.String("command.0"); got != "--nginx.scrape-uri="+uri {
		t.Errorf("exporter reads %q, want %s", got, uri)
	}
	nginxConf := upload(t, container(t, g, n.Container("nginx")), dockerinfra.NginxConfPath)
	if !strings.Contains(nginxConf, "listen 8081;") || !strings.Contains(nginxConf, "location = /stub_status {\n            stub_status;") {
		t.Errorf("nginx.conf serves no stub_status on 8081:\n%s", nginxConf)
	}
	// It starts beside the app: waiting for nginx would add its creation
	// to the end of every first deploy.
	if slices.Contains(exporter.Dependencies, container(t, g, n.Container("nginx")).URN) {
		t.Error("the exporter waits for nginx")
	}
}

func TestPrometheusLoadsTheRulesOfTheAlarmTable(t *testing.T) {
	cfg := loadLocal(t)
	threshold := 7.0
	cfg.Alarms.Overrides = map[string]stackconfig.AlarmOverride{"targetErrorRate": {Threshold: &threshold}, "cpuHigh": {Disabled: true}}
	g := mustRun(t, cfg)
	p := container(t, g, dockerinfra.NamesFor(cfg.Stack).Container("prometheus"))
	alarms, err := signals.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := signals.PrometheusRules(cfg.Stack, alarms)
	got := upload(t, p, dockerinfra.PrometheusRulesPath)
	if got != string(want) {
		t.Errorf("rules differ from the table's:\n%s", got)
	}
	if !strings.Contains(got, "> 7\n") || strings.Contains(got, "cpuHigh") {
		t.Errorf("the overrides are not applied:\n%s", got)
	}
	if !strings.Contains(p.String("healthcheck.tests.5"), "/-/ready") {
		t.Errorf("health check %v", p.String("healthcheck.tests.5"))
	}
}

func TestABadAlarmOverrideFailsTheDeployNamingTheField(t *testing.T) {
	cfg := loadLocal(t)
	threshold := 150.0
	cfg.Alarms.Overrides = map[string]stackconfig.AlarmOverride{"cpuHigh": {Threshold: &threshold}}
	_, err := run(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "alarms.overrides.cpuHigh.threshold") {
		t.Fatalf("err = %v", err)
	}
}
