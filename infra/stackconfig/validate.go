package stackconfig

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a stack file.
type Problem struct {
	// Path is the JSON path of the field, e.g. "services.web.cpu"; empty
	// for the file as a whole.
	Path string
	// Message says what is wrong and what is allowed.
	Message string
	// Line is the line of the field in the file, or of its nearest
	// enclosing object when the field is not in the file (a default); 0
	// when unknown (a Config built in code).
	Line int

	// about lists, "\x00"-separated, the other fields a cross-field
	// problem depends on: it is dropped when the schema rejected one of
	// them (the rule then judged a default, not the file's value).
	about string
}

func (p Problem) String() string {
	s := p.Message
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	if p.Line > 0 {
		s = "line " + strconv.Itoa(p.Line) + ": " + s
	}
	return s
}

// locate sets each problem's Line from lines (keyLines): the line of its
// path, or of the nearest enclosing key the file has.
func (ps problems) locate(lines map[string]int) {
	for i := range ps {
		for p := ps[i].Path; p != ""; p = parentPath(p) {
			if l, ok := lines[p]; ok {
				ps[i].Line = l
				break
			}
		}
	}
}

// parentPath drops the last element of a dotted path ("a.b[2]" → "a.b").
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// ValidationError lists every problem found in a stack file.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	return fmt.Sprintf("%d problem(s):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// problems collects Problems; its err is nil when none were added.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// addAbout adds a problem at path that also depends on the fields about.
func (ps *problems) addAbout(path string, about []string, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...), about: strings.Join(about, "\x00")})
}

// err returns the problems, sorted by path (then message) and without
// duplicates, as a
// *ValidationError, or nil when there are none.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	out := slices.Clone([]Problem(ps))
	for i := range out {
		out[i].about = ""
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	out = slices.Compact(out)
	return &ValidationError{Problems: out}
}

// Validate applies the cross-field rules the schema cannot express (see
// Rules) and returns a *ValidationError listing every problem, or nil. It
// does not apply the schema (Parse and Load do both) nor the cross-stack
// rules (Load, LoadAll and CrossStackProblems).
func (c *Config) Validate() error {
	var ps problems
	c.check(&ps)
	return ps.err()
}

func (c *Config) check(ps *problems) {
	for _, r := range allRules() {
		r.check(c, ps)
	}
}

func allRules() []Rule { return slices.Concat(rules, previewRules) }

// Rule is one cross-field rule, as documented in docs/config.md.
type Rule struct {
	// Doc is one markdown sentence saying what the rule requires and why.
	Doc   string
	check func(c *Config, ps *problems)
}

// Rules returns the cross-field rules Validate applies, in order.
func Rules() []Rule { return allRules() }

// FargateCPUs are the Fargate task CPU sizes.
var FargateCPUs = []int{256, 512, 1024, 2048, 4096}

// FargateMemory returns the task memory sizes (MiB) Fargate allows with cpu
// units, or nil when cpu is not a Fargate size.
func FargateMemory(cpu int) []int {
	steps := func(lo, hi int) []int {
		var out []int
		for m := lo; m <= hi; m += 1024 {
			out = append(out, m)
		}
		return out
	}
	switch cpu {
	case 256:
		return []int{512, 1024, 2048}
	case 512:
		return steps(1024, 4096)
	case 1024:
		return steps(2048, 8192)
	case 2048:
		return steps(4096, 16384)
	case 4096:
		return steps(8192, 30720)
	}
	return nil
}

// SubnetBits is how many bits longer than network.cidr each subnet is
// (infra/aws: a /16 VPC has /20 subnets); MaxSubnetPrefix is the smallest
// subnet an ALB accepts (/27: 8 free addresses after AWS's 5 reserved).
const (
	SubnetBits      = 4
	MaxSubnetPrefix = 27
)

// MinBackupRetentionDays is RDS.11's minimum backup retention.
const MinBackupRetentionDays = 7

// Regions are the AWS regions aws.region may name: the commercial
// regions, AWS GovCloud (US) and the China regions. A region AWS opens
// later is added here.
var Regions = []string{
	"af-south-1",
	"ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1",
	"cn-north-1", "cn-northwest-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
	"eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
	"us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-1", "us-west-2",
}

// MaxStopTimeoutSeconds is the longest stop timeout ECS allows.
const MaxStopTimeoutSeconds = 120

var envNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// ValidEnvName reports whether name is an allowed env var name.
func ValidEnvName(name string) bool { return envNameRE.MatchString(name) }

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// memoryRange describes FargateMemory(cpu) compactly.
func memoryRange(cpu int) string {
	ms := FargateMemory(cpu)
	if len(ms) <= 3 {
		return joinInts(ms)
	}
	return fmt.Sprintf("%d to %d in steps of 1024", ms[0], ms[len(ms)-1])
}

// webMaxTasks is the most web processes the stack runs outside a deploy:
// services.web.maxCount on aws, local.webReplicas on docker.
func (c *Config) webMaxTasks() (int, string) {
	if c.Target == TargetDocker {
		return c.Local.WebReplicas, "local.webReplicas"
	}
	return c.Services.Web.MaxCount, "services.web.maxCount"
}

var rules = []Rule{
	{
		Doc: "`target` is `aws` or `docker`.",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetAWS && c.Target != TargetDocker {
				ps.add("target", "%q is not a target; allowed %q, %q", c.Target, TargetAWS, TargetDocker)
			}
		},
	},
	{
		Doc: "On `docker`, `local.httpPort`, `local.httpsPort` and `local.prometheusPort` differ: all three are published on 127.0.0.1.",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetDocker {
				return
			}
			if c.Local.HTTPSPort == c.Local.HTTPPort {
				ps.addAbout("local.httpsPort", []string{"local.httpPort"}, "%d is local.httpPort too; allowed any other port", c.Local.HTTPSPort)
			}
			for _, other := range []struct {
				name string
				port int
			}{{"local.httpPort", c.Local.HTTPPort}, {"local.httpsPort", c.Local.HTTPSPort}} {
				if c.Local.PrometheusPort == other.port {
					ps.addAbout("local.prometheusPort", []string{other.name}, "%d is %s too; allowed any other port", c.Local.PrometheusPort, other.name)
				}
			}
		},
	},
	{
		Doc: "On `docker`, `local.jaegerPort` differs from `local.httpPort`, `local.httpsPort` and `local.prometheusPort`: all four are published on 127.0.0.1.",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetDocker {
				return
			}
			for _, o := range []struct {
				field string
				port  int
			}{{"local.httpPort", c.Local.HTTPPort}, {"local.httpsPort", c.Local.HTTPSPort}, {"local.prometheusPort", c.Local.PrometheusPort}} {
				if c.Local.JaegerPort == o.port {
					ps.addAbout("local.jaegerPort", []string{o.field}, "%d is %s too; allowed any other port", c.Local.JaegerPort, o.field)
				}
			}
		},
	},
	{
		Doc: "On `aws`, `aws.region` is set and is an AWS region (the list in `infra/stackconfig` `Regions`: the commercial regions, GovCloud and China; a typo gets the nearest region as a suggestion, not a certificate error).",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetAWS {
				return
			}
			switch r := c.AWS.Region; {
			case r == "":
				ps.add("aws.region", "required when target is %q; e.g. \"eu-west-1\"", TargetAWS)
			case !slices.Contains(Regions, r):
				hint := ""
				if s := suggest(r, Regions); s != "" {
					hint = fmt.Sprintf("did you mean %q? ", s)
				}
				ps.add("aws.region", "%q is not an AWS region; %sallowed %s", r, hint, strings.Join(Regions, ", "))
			}
		},
	},
	{
		Doc: "On `aws`, exactly one of `loadBalancer.hostedZone` (the stack requests and validates an ACM certificate for `loadBalancer.domain` and `*.<domain>` and creates alias records) and `loadBalancer.certificateArn` (bring your own certificate, in `aws.region`: an ALB can only use a certificate of its own region) is set. `loadBalancer.hostedZone` has exactly one of `id` and `name`, needs `loadBalancer.domain`, and a zone `name` must be the domain or a parent of it.",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetAWS {
				return
			}
			lb := c.LoadBalancer
			arn, zone := lb.CertificateARN, lb.HostedZone
			switch {
			case arn == "" && zone == nil:
				ps.add("loadBalancer", "neither loadBalancer.hostedZone nor loadBalancer.certificateArn is set; the HTTPS listener needs a certificate: set exactly one (hostedZone with domain: the stack requests and validates an ACM certificate; certificateArn: your own)")
				return
			case arn != "" && zone != nil:
				ps.addAbout("loadBalancer.certificateArn", []string{"loadBalancer.hostedZone"}, "set together with loadBalancer.hostedZone; allowed exactly one of the two (hostedZone: a managed certificate, certificateArn: your own)")
				return
			}
			if arn != "" {
				if parts := strings.Split(arn, ":"); len(parts) > 3 && slices.Contains(Regions, c.AWS.Region) && parts[3] != c.AWS.Region {
					ps.addAbout("loadBalancer.certificateArn", []string{"aws.region"}, "certificate is in %s; allowed: a certificate in aws.region %s", parts[3], c.AWS.Region)
				}
				return
			}
			if (zone.ID == "") == (zone.Name == "") {
				ps.add("loadBalancer.hostedZone", "has %s; allowed exactly one of id (e.g. \"Z0123456789ABCDEFGHIJ\") and name (e.g. \"example.com\")", map[bool]string{true: "neither id nor name", false: "both id and name"}[zone.ID == ""])
			}
			switch {
			case lb.Domain == "":
				ps.addAbout("loadBalancer.domain", []string{"loadBalancer.hostedZone"}, "required with loadBalancer.hostedZone: the name the certificate is for and the alias records point at the ALB; e.g. \"api.example.com\"")
			case zone.Name != "" && lb.Domain != zone.Name && !strings.HasSuffix(lb.Domain, "."+zone.Name):
				ps.addAbout("loadBalancer.domain", []string{"loadBalancer.hostedZone.name"}, "%q is not in hosted zone %q; allowed %q or a name ending in %q", lb.Domain, zone.Name, zone.Name, "."+zone.Name)
			}
		},
	},
	{
		Doc: "`network.cidr` is a network address (no host bits set) from /16 to /23 (the subnets are 4 bits longer, and an ALB needs subnets of at least /27), and `network.azCount` is at least 2.",
		check: func(c *Config, ps *problems) {
			ip, n, err := net.ParseCIDR(c.Network.CIDR)
			switch {
			case err != nil || ip.To4() == nil:
				ps.add("network.cidr", "%q is not an IPv4 CIDR block; e.g. \"10.0.0.0/16\"", c.Network.CIDR)
			case !ip.Equal(n.IP):
				ps.add("network.cidr", "%q has host bits set; allowed %q", c.Network.CIDR, n.String())
			}
			if err == nil {
				if ones, _ := n.Mask.Size(); ones+SubnetBits > MaxSubnetPrefix {
					ps.add("network.cidr", "%q gives /%d subnets (each subnet is %d bits longer than the VPC), smaller than the /%d an ALB needs; allowed a prefix from /16 to /%d",
						c.Network.CIDR, ones+SubnetBits, SubnetBits, MaxSubnetPrefix, MaxSubnetPrefix-SubnetBits)
				}
			}
			if c.Network.AZCount < 2 {
				ps.add("network.azCount", "%d is too small; allowed 2 to 6 (subnets, tasks and the database span at least two zones)", c.Network.AZCount)
			}
		},
	},
	{
		Doc: "Each service's `cpu`/`memory` is a Fargate pair: 256 with 512, 1024 or 2048; 512 with 1024–4096; 1024 with 2048–8192; 2048 with 4096–16384; 4096 with 8192–30720 (MiB, in steps of 1024).",
		check: func(c *Config, ps *problems) {
			for _, p := range Processes {
				s, base := c.Services.Get(p), "services."+string(p)
				mem := FargateMemory(s.CPU)
				if mem == nil {
					ps.add(base+".cpu", "%d is not a Fargate size; allowed %s", s.CPU, joinInts(FargateCPUs))
					continue
				}
				if !slices.Contains(mem, s.Memory) {
					ps.addAbout(base+".memory", []string{base + ".cpu"}, "%d is not a Fargate memory size for cpu %d; allowed %s", s.Memory, s.CPU, memoryRange(s.CPU))
				}
			}
		},
	},
	{
		Doc: "Each service's task counts satisfy `minCount` ≤ `desiredCount` ≤ `maxCount`.",
		check: func(c *Config, ps *problems) {
			for _, p := range Processes {
				s, base := c.Services.Get(p), "services."+string(p)
				if s.MinCount > s.MaxCount {
					ps.addAbout(base+".minCount", []string{base + ".maxCount"}, "%d is above maxCount %d; allowed 0 to %d", s.MinCount, s.MaxCount, s.MaxCount)
					continue
				}
				if s.DesiredCount < s.MinCount || s.DesiredCount > s.MaxCount {
					ps.addAbout(base+".desiredCount", []string{base + ".minCount", base + ".maxCount"}, "%d is outside minCount..maxCount; allowed %d to %d", s.DesiredCount, s.MinCount, s.MaxCount)
				}
			}
		},
	},
	{
		Doc: "The clock runs exactly one task (`minCount` = `desiredCount` = `maxCount` = 1): one is enough (a second, as during a deploy, is harmless: each slot of a scheduled job still runs once), none would schedule nothing.",
		check: func(c *Config, ps *problems) {
			s := c.Services.Clock
			for _, f := range []struct {
				name string
				n    int
			}{{"minCount", s.MinCount}, {"desiredCount", s.DesiredCount}, {"maxCount", s.MaxCount}} {
				if f.n != 1 {
					ps.add("services.clock."+f.name, "is %d; allowed 1 (the clock runs exactly one task)", f.n)
				}
			}
		},
	},
	{
		Doc: "Every service listens on the same port (`services.worker.port` and `services.clock.port` equal `services.web.port`): every process receives the same environment, hence one `PORT`.",
		check: func(c *Config, ps *problems) {
			web := c.Services.Web.Port
			for _, p := range []Process{Worker, Clock} {
				if port := c.Services.Get(p).Port; port != web {
					ps.addAbout("services."+string(p)+".port", []string{"services.web.port"}, "%d differs from services.web.port %d; allowed %d (every process gets the same PORT)", port, web, web)
				}
			}
		},
	},
	{
		Doc: "Only the web service scales on requests: `services.worker` and `services.clock` have `autoscaling.requestsPerTarget` 0 (they are not behind the load balancer).",
		check: func(c *Config, ps *problems) {
			for _, p := range []Process{Worker, Clock} {
				if n := c.Services.Get(p).Autoscaling.RequestsPerTarget; n != 0 {
					ps.add("services."+string(p)+".autoscaling.requestsPerTarget", "is %d; allowed 0 (only web is behind the load balancer)", n)
				}
			}
		},
	},
	{
		Doc: "Only the worker scales on the job queue's backlog: `services.web` and `services.clock` have `autoscaling.pendingJobsPerTask` 0.",
		check: func(c *Config, ps *problems) {
			for _, p := range []Process{Web, Clock} {
				if n := c.Services.Get(p).Autoscaling.PendingJobsPerTask; n != 0 {
					ps.add("services."+string(p)+".autoscaling.pendingJobsPerTask", "is %d; allowed 0 (only the worker consumes the job queue)", n)
				}
			}
		},
	},
	{
		Doc: "Every aws stack but `dev` keeps its logs at least 365 days (`logging.retentionDays` ≥ 365, Security Hub CloudWatch.16); dev may keep fewer to save cost (the exception is written in `policy.Exceptions`).",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetAWS || c.Stack == DevStack || c.Logging.RetentionDays >= MinLogRetentionDays {
				return
			}
			allowed := make([]string, len(longRetentions))
			for i, n := range longRetentions {
				allowed[i] = strconv.Itoa(n)
			}
			ps.add("logging.retentionDays", "%d is too short for stack %s (CloudWatch.16 keeps logs at least %d days; only dev may keep fewer); allowed %s",
				c.Logging.RetentionDays, c.Stack, MinLogRetentionDays, strings.Join(allowed, ", "))
		},
	},
	{
		Doc: "Every aws stack but `dev` keeps the optional hardening on: `database.performanceInsights`, enhanced monitoring (`database.monitoringIntervalSeconds` > 0), `network.vpcEndpoints` and `loadBalancer.waf.enabled`; dev may turn them off to save cost (the exceptions are written in `policy.Exceptions`).",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetAWS || c.Stack == DevStack {
				return
			}
			off := func(path string) {
				ps.add(path, "is off in stack %s; allowed only in dev (cost), every other aws stack keeps it on", c.Stack)
			}
			if !c.Database.PerformanceInsights {
				off("database.performanceInsights")
			}
			if c.Database.MonitoringIntervalSeconds == 0 {
				ps.add("database.monitoringIntervalSeconds", "is 0 (enhanced monitoring off) in stack %s; allowed 1, 5, 10, 15, 30 or 60 (only dev may turn it off)", c.Stack)
			}
			if !c.Network.VPCEndpoints {
				off("network.vpcEndpoints")
			}
			if !c.LoadBalancer.WAF.Enabled {
				off("loadBalancer.waf.enabled")
			}
		},
	},
	{
		Doc: "`loadBalancer.waf.rateLimitPer5Min` ≥ 5 × `app.rateLimitPerMinute` when the web ACL is on: the web ACL is the backstop of the app's rate limit, so a client over the app's limit gets the app's 429 with `Retry-After`, not the web ACL's 403.",
		check: func(c *Config, ps *problems) {
			w, perMin := c.LoadBalancer.WAF, c.App.RateLimitPerMinute
			if c.Target != TargetAWS || !w.Enabled || w.RateLimitPer5Min >= 5*perMin {
				return
			}
			ps.addAbout("loadBalancer.waf.rateLimitPer5Min", []string{"app.rateLimitPerMinute"}, "%d is below 5 × app.rateLimitPerMinute %d = %d; allowed at least %d (the web ACL is the backstop of the app's limit)",
				w.RateLimitPer5Min, perMin, 5*perMin, 5*perMin)
		},
	},
	{
		Doc: "`cache.retiredAuthTokenVersion` is `cache.authTokenVersion` − 1 (one AUTH token accepted) or − 2 (a rotation under way: the previous token is still accepted until the tasks run with the new one); Redis accepts at most two tokens.",
		check: func(c *Config, ps *problems) {
			v, r := c.Cache.AuthTokenVersion, c.Cache.RetiredAuthTokenVersion
			if d := v - r; d != 1 && d != 2 {
				allowed := fmt.Sprintf("%d (only the current token) or %d (the previous one still accepted)", v-1, v-2)
				if v-2 < 0 {
					allowed = fmt.Sprintf("%d", v-1)
				}
				ps.addAbout("cache.retiredAuthTokenVersion", []string{"cache.authTokenVersion"}, "%d with cache.authTokenVersion %d; allowed %s", r, v, allowed)
			}
		},
	},
	{
		Doc: "Prod (the stack named `prod`) has `database.multiAz` and `database.deletionProtection` true and at least 2 web tasks (`services.web.minCount` ≥ 2), so losing one task or one zone never takes it down.",
		check: func(c *Config, ps *problems) {
			if !c.IsProd() {
				return
			}
			if !c.Database.MultiAZ {
				ps.add("database.multiAz", "is false; allowed true in prod (a standby in another zone)")
			}
			if !c.Database.DeletionProtection {
				ps.add("database.deletionProtection", "is false; allowed true in prod")
			}
			if c.Services.Web.MinCount < 2 {
				ps.add("services.web.minCount", "%d is too small for prod; allowed at least 2", c.Services.Web.MinCount)
			}
		},
	},
	{
		Doc: "Prod (the stack named `prod`, on aws) has `ci.pullRequestPreviews` false: a pull request runs its own code with the preview role it assumes, and the role pull requests assume can decrypt the secrets of the stacks they preview.",
		check: func(c *Config, ps *problems) {
			if c.IsProd() && c.Target == TargetAWS && c.CI.PullRequestPreviews {
				ps.add("ci.pullRequestPreviews", "true on prod (the default when the field is absent): pull requests run their own code with the preview role, which could then decrypt prod's secrets; allowed: false")
			}
		},
	},
	{
		Doc: "Prod (the stack named `prod`) runs a NAT gateway per zone (`network.natGateways` `perAz`: with one, a zone outage cuts every task off the AWS APIs) and at least one cache replica (`cache.replicas` ≥ 1: the primary fails over to it).",
		check: func(c *Config, ps *problems) {
			if !c.IsProd() || c.Target != TargetAWS {
				return
			}
			if c.Network.NATGateways != NATPerAZ {
				ps.add("network.natGateways", "%q in prod; allowed %q (a NAT gateway per zone, so one zone's outage does not cut the others off)", c.Network.NATGateways, NATPerAZ)
			}
			if c.Cache.Replicas < 1 {
				ps.add("cache.replicas", "%d in prod; allowed 1 to 5 (a replica the primary fails over to)", c.Cache.Replicas)
			}
		},
	},
	{
		Doc: "Every aws stack keeps automatic database backups at least 7 days (`database.backupRetentionDays` 7 to 35, Security Hub RDS.11), whether or not the policy pack runs.",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetAWS || c.Database.BackupRetentionDays >= MinBackupRetentionDays {
				return
			}
			ps.add("database.backupRetentionDays", "%d is below RDS.11's %d days; allowed %d to 35", c.Database.BackupRetentionDays, MinBackupRetentionDays, MinBackupRetentionDays)
		},
	},
	{
		Doc: "Prod has at least one alarm subscriber (`alarms.notify.emails` or `alarms.notify.httpsEndpoints`), or `alarms.noRecipientsReason` says why none is wanted: otherwise every alarm, the critical ones included, reaches no one.",
		check: func(c *Config, ps *problems) {
			if !c.IsProd() || c.Target != TargetAWS || c.Alarms.Notify.HasRecipients() || strings.TrimSpace(c.Alarms.NoRecipientsReason) != "" {
				return
			}
			ps.addAbout("alarms.notify", []string{"alarms.noRecipientsReason"}, "prod has no alarm subscriber: alarms.notify.emails and alarms.notify.httpsEndpoints are empty, so every alarm reaches no one; allowed at least one email or https endpoint, or alarms.noRecipientsReason saying why none is wanted")
		},
	},
	{
		Doc: "Connection budget: `app.dbPoolSize` × the most web tasks (`services.web.maxCount` on aws, `local.webReplicas` on docker) × 2 (old and new tasks overlap during a deploy) < `database.maxConnections`. Worker and clock pools are not counted: keep headroom for them.",
		check: func(c *Config, ps *problems) {
			tasks, field := c.webMaxTasks()
			need := c.App.DBPoolSize * tasks * 2
			if need >= c.Database.MaxConnections {
				limit := 0
				if tasks > 0 {
					limit = (c.Database.MaxConnections - 1) / (tasks * 2)
				}
				ps.addAbout("app.dbPoolSize", []string{field, "database.maxConnections"}, "%d × %s %d × 2 = %d connections during a deploy, not below database.maxConnections %d; allowed at most %d (or raise database.maxConnections)",
					c.App.DBPoolSize, field, tasks, need, c.Database.MaxConnections, limit)
			}
		},
	},
	{
		Doc: "`app.idleTimeoutSeconds` > `loadBalancer.idleTimeoutSeconds`: the load balancer must give up on an idle connection before the app closes it, or it forwards requests onto closed connections (502s).",
		check: func(c *Config, ps *problems) {
			if c.App.IdleTimeoutSeconds <= c.LoadBalancer.IdleTimeoutSeconds {
				ps.addAbout("app.idleTimeoutSeconds", []string{"loadBalancer.idleTimeoutSeconds"}, "%d is not above loadBalancer.idleTimeoutSeconds %d; allowed at least %d",
					c.App.IdleTimeoutSeconds, c.LoadBalancer.IdleTimeoutSeconds, c.LoadBalancer.IdleTimeoutSeconds+1)
			}
		},
	},
	{
		Doc: "`app.requestTimeoutSeconds` < `app.shutdownTimeoutSeconds` < every service's `stopTimeoutSeconds` ≤ 120, and `app.drainDelaySeconds` + `app.requestTimeoutSeconds` < `app.shutdownTimeoutSeconds`: an in-flight request finishes within the drain, and the drain finishes before SIGKILL.",
		check: func(c *Config, ps *problems) {
			if budget := c.App.ShutdownTimeoutSeconds - c.App.RequestTimeoutSeconds - 1; c.App.RequestTimeoutSeconds < c.App.ShutdownTimeoutSeconds && c.App.DrainDelaySeconds > budget {
				ps.addAbout("app.drainDelaySeconds", []string{"app.shutdownTimeoutSeconds", "app.requestTimeoutSeconds"}, "%d leaves a request less than its app.requestTimeoutSeconds %d to finish within app.shutdownTimeoutSeconds %d; allowed 0 to %d",
					c.App.DrainDelaySeconds, c.App.RequestTimeoutSeconds, c.App.ShutdownTimeoutSeconds, max(budget, 0))
			}
			if c.App.RequestTimeoutSeconds >= c.App.ShutdownTimeoutSeconds {
				ps.addAbout("app.requestTimeoutSeconds", []string{"app.shutdownTimeoutSeconds"}, "%d is not below app.shutdownTimeoutSeconds %d; allowed at most %d",
					c.App.RequestTimeoutSeconds, c.App.ShutdownTimeoutSeconds, c.App.ShutdownTimeoutSeconds-1)
			}
			for _, p := range Processes {
				stop, path := c.Services.Get(p).StopTimeoutSeconds, "services."+string(p)+".stopTimeoutSeconds"
				switch {
				case stop > MaxStopTimeoutSeconds:
					ps.add(path, "%d is too large; allowed %d to %d", stop, c.App.ShutdownTimeoutSeconds+1, MaxStopTimeoutSeconds)
				case stop <= c.App.ShutdownTimeoutSeconds:
					ps.addAbout(path, []string{"app.shutdownTimeoutSeconds"}, "%d is not above app.shutdownTimeoutSeconds %d; allowed %d to %d",
						stop, c.App.ShutdownTimeoutSeconds, c.App.ShutdownTimeoutSeconds+1, MaxStopTimeoutSeconds)
				}
			}
		},
	},
	{
		Doc: "`database.maxAllocatedStorageGb` is 0 (no storage autoscaling) or at least `database.allocatedStorageGb`.",
		check: func(c *Config, ps *problems) {
			d := c.Database
			if d.MaxAllocatedStorageGB != 0 && d.MaxAllocatedStorageGB < d.AllocatedStorageGB {
				ps.addAbout("database.maxAllocatedStorageGb", []string{"database.allocatedStorageGb"}, "%d is below database.allocatedStorageGb %d; allowed 0 or at least %d", d.MaxAllocatedStorageGB, d.AllocatedStorageGB, d.AllocatedStorageGB)
			}
		},
	},
	{
		Doc: "On `aws`, a progressive `deploy.strategy` (canary, linear, bluegreen) has `deploy.bakeSeconds` in whole minutes: CodeDeploy's canary and linear intervals and its wait before the old tasks stop are minutes. The gates' windows are checked with the alarm table (`make validate`).",
		check: func(c *Config, ps *problems) {
			d := c.Deploy
			if c.Target == TargetAWS && d.Progressive() && d.BakeSeconds%60 != 0 {
				ps.addAbout("deploy.bakeSeconds", []string{"deploy.strategy", "target"}, "%d is not whole minutes, which CodeDeploy needs for strategy %q on aws; allowed multiples of 60 (e.g. %d)",
					d.BakeSeconds, d.Strategy, (d.BakeSeconds/60+1)*60)
			}
		},
	},
	{
		Doc: "`app.env` and `app.secrets` names match `^[A-Z_][A-Z0-9_]*$`, are not names Shipyard derives (see Environment) or sets itself (`PREVIEW_DATABASE`, `PREVIEW_DATABASE_USER`, `PREVIEW_DATABASE_PASSWORD`, which a PR environment's `app preview` commands get; any other `OTEL_*` name, which would override the tracing `tracing.*` sets), and no name is in both; `app.env` values are single lines.",
		check: func(c *Config, ps *problems) {
			reserved := ReservedEnvNames()
			checkName := func(path, name string) {
				switch {
				case !ValidEnvName(name):
					ps.add(path, "%q is not an env var name; allowed names match ^[A-Z_][A-Z0-9_]*$", name)
				case slices.Contains(reserved, name):
					ps.add(path, "%q is derived by Shipyard; not allowed here (reserved: %s)", name, strings.Join(reserved, ", "))
				case stackSetEnvReason(name) != "":
					ps.add(path, "%s", stackSetEnvReason(name))
				}
			}
			for name, v := range c.App.Env {
				checkName("app.env."+name, name)
				if strings.ContainsAny(v, "\r\n") {
					ps.add("app.env."+name, "value has a line break; allowed a single line")
				}
				if slices.Contains(c.App.Secrets, name) {
					ps.addAbout("app.env."+name, []string{"app.secrets"}, "%q is also in app.secrets; a name is either plain or secret", name)
				}
			}
			seen := map[string]bool{}
			for i, name := range c.App.Secrets {
				path := fmt.Sprintf("app.secrets[%d]", i)
				checkName(path, name)
				if seen[name] {
					ps.add(path, "%q is listed twice", name)
				}
				seen[name] = true
			}
		},
	},
	{
		Doc:   "`app.env` values of variables the app reads (e.g. `MAX_BODY_BYTES`, `WORKER_CONCURRENCY`, `QUEUE_METRICS_INTERVAL`) pass the app's own config loader (`app/internal/config`, through `app/appenv`), as the web, worker and clock processes load them at start: a value a container would refuse after a deploy is refused here, with the app's message naming the variable and what it allows. Variables the app does not read are not judged.",
		check: func(c *Config, ps *problems) { c.checkAppEnv(ps) },
	},
	{
		Doc: "Tag keys do not start with `aws:` (reserved by AWS).",
		check: func(c *Config, ps *problems) {
			for k := range c.Tags {
				if strings.HasPrefix(strings.ToLower(k), "aws:") {
					ps.add("tags."+k, "keys starting with \"aws:\" are reserved by AWS; not allowed")
				}
			}
		},
	},
}
