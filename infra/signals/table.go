// Package signals holds the stack's alarm table: one row per alarm, with
// the CloudWatch metrics the aws stacks alarm on and the PromQL the local
// stack's Prometheus evaluates, so the two fire on the same conditions.
// config/<stack>.json overrides a row by name (alarms.overrides); Resolve
// applies the overrides and expands the rows per process type.
package signals

import (
	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Severity says how urgent an alarm is: critical pages someone, warning
// is for office hours.
type Severity string

// Severities.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
)

// Severities lists the allowed values, in config/schema.json's order.
var Severities = []Severity{Critical, Warning}

// Scope is what an alarm watches; the aws stack maps it to CloudWatch
// dimensions.
type Scope string

// Scopes.
const (
	// LoadBalancer: the ALB (dimension LoadBalancer).
	LoadBalancer Scope = "loadBalancer"
	// TargetGroup: the web target group behind the ALB (dimensions
	// LoadBalancer and TargetGroup).
	TargetGroup Scope = "targetGroup"
	// Service: one alarm per process type in Alarm.Services (dimensions
	// ClusterName and ServiceName).
	Service Scope = "service"
	// Database: the RDS instance (DBInstanceIdentifier).
	Database Scope = "database"
	// Cache: every node of the Redis replication group (CacheClusterId),
	// alarmed on the highest node.
	Cache Scope = "cache"
	// Queue: the app's own job queue metrics, published through embedded
	// metric format in the worker's logs (app/appmetrics.QueueDimensions:
	// Stack and Queue).
	Queue Scope = "queue"
	// Jobs: the scheduled jobs' status (app/internal/jobs.Status),
	// published in embedded metric format by the clock and the worker,
	// the maximum over the jobs (app/appmetrics.JobsDimensions: Stack).
	Jobs Scope = "jobs"
)

// Comparison is how the value is compared with the threshold.
type Comparison string

// Comparisons.
const (
	Above Comparison = ">"
	Below Comparison = "<"
)

// Metric is one CloudWatch metric an alarm reads.
type Metric struct {
	// ID names the metric in Alarm.Expression (m1, m2…).
	ID        string
	Namespace string
	Name      string
	// Stat is a CloudWatch statistic: Sum, Average, Minimum, Maximum, or
	// a percentile such as p99.
	Stat string
}

// Alarm is one row of the table.
type Alarm struct {
	// Name is the row's key in alarms.overrides, camelCase.
	Name string
	// Title reads like a sentence: "Targets answer with 5xx".
	Title string
	// Runbook says what the alarm means and what to look at first.
	Runbook  string
	Severity Severity
	Scope    Scope
	// Services are the process types a Service-scoped row expands to.
	Services []stackconfig.Process
	// Metrics are the CloudWatch metrics; with more than one, or with a
	// value derived from the config, Expression is CloudWatch metric math
	// over their IDs. Placeholders are replaced by Resolve (see expand).
	Metrics    []Metric
	Expression string
	Comparison Comparison
	Threshold  float64
	// Unit of Threshold: "%", "seconds", "count" or "tasks".
	Unit string
	// MaxThreshold bounds overrides (100 for percentages); 0: unbounded.
	MaxThreshold      float64
	PeriodSeconds     int
	EvaluationPeriods int
	// MissingData is CloudWatch's TreatMissingData: notBreaching unless a
	// missing datapoint is itself the problem.
	MissingData string
	// Deployment lists the ECS services whose deployments roll back when
	// this alarm goes off during a deployment. Such rows cannot be
	// disabled (raise the threshold instead).
	Deployment []stackconfig.Process
	// PromQL is the local stack's expression for the same value (the
	// comparison and threshold are appended), with the same placeholders;
	// "" when the local stack has no such signal, and LocalGap says why.
	PromQL   string
	LocalGap string
	// Gate, when set, makes the row usable as a release gate
	// (deploy.gates): the same value read from the load balancer's side
	// for one web generation's traffic only, locally from nginx's gate
	// log through mtail. Placeholders: {generation}, {window} (the row's
	// whole evaluation window). On aws the gate is the row's CloudWatch
	// alarm on the new target group.
	Gate string
}

var (
	web     = stackconfig.Web
	worker  = stackconfig.Worker
	clock   = stackconfig.Clock
	allProc = []stackconfig.Process{web, worker, clock}
)

// maxPerJob sums over the scheduled jobs the per-job gauge, the highest
// value any process reports for the job (the worker and the clock both
// publish it).
func maxPerJob(gauge string) string {
	return "sum(max by (" + appmetrics.LabelTask + ") (" + gauge + "))"
}

// Table is every alarm, with the defaults a platform engineer would pick.
// Placeholders in Expression and PromQL: {service} (the process type),
// {desired} (its desired task count), {cpuShare} (its vCPUs),
// {memoryBytes} (its task memory), {allocatedStorageBytes} and
// {maxConnections} (the database's), {window} (the period as a PromQL
// duration). The app's metrics and labels in PromQL are app/appmetrics'
// (the app's collectors are built from them and its tests scrape each
// process for them); every other metric the PromQL reads is listed with
// the exporter that serves it in this package's tests
// (TestEveryPromQLMetricIsServed).
var Table = []Alarm{
	{
		Name:    "targetErrorRate",
		Title:   "Targets answer more than the threshold's share of requests with 5xx",
		Runbook: "The app fails requests: look at its ERROR logs and the last release; a deployment in progress rolls back on its own.",
		Scope:   TargetGroup, Severity: Critical,
		Metrics: []Metric{
			{ID: "errors", Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Stat: "Sum"},
			{ID: "requests", Namespace: "AWS/ApplicationELB", Name: "RequestCount", Stat: "Sum"},
		},
		Expression: "100 * FILL(errors, 0) / requests",
		Comparison: Above, Threshold: 5, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 2, MissingData: "notBreaching",
		Deployment: []stackconfig.Process{web, worker},
		PromQL:     `100 * sum(rate(` + appmetrics.PromHTTPRequests + `{job="web",` + appmetrics.LabelStatus + `=~"5.."}[{window}])) / sum(rate(` + appmetrics.PromHTTPRequests + `{job="web"}[{window}]))`,
		Gate:       `100 * (sum(increase(shipyard_lb_requests_total{generation="{generation}",status=~"5.."}[{window}])) or vector(0)) / sum(increase(shipyard_lb_requests_total{generation="{generation}"}[{window}]))`,
	},
	{
		Name:    "loadBalancerErrorRate",
		Title:   "The load balancer itself answers more than the threshold's share of requests with 5xx",
		Runbook: "No healthy target, targets closing connections (502) or timing out (504): look at the target group's health and the app's restarts.",
		Scope:   LoadBalancer, Severity: Critical,
		Metrics: []Metric{
			{ID: "errors", Namespace: "AWS/ApplicationELB", Name: "HTTPCode_ELB_5XX_Count", Stat: "Sum"},
			{ID: "requests", Namespace: "AWS/ApplicationELB", Name: "RequestCount", Stat: "Sum"},
		},
		Expression: "100 * FILL(errors, 0) / requests",
		Comparison: Above, Threshold: 5, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 2, MissingData: "notBreaching",
		Deployment: []stackconfig.Process{web},
		LocalGap:   "nginx's stub_status counts connections, not status codes; the local 5xx rule is targetErrorRate",
	},
	{
		Name:    "targetLatencyP99",
		Title:   "The targets' p99 response time is above the threshold",
		Runbook: "Slow requests: look at the database (CPU, connections, slow query log), Redis and the last release.",
		Scope:   TargetGroup, Severity: Critical,
		Metrics: []Metric{
			{ID: "latency", Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Stat: "p99"},
		},
		Comparison: Above, Threshold: 1, Unit: "seconds",
		PeriodSeconds: 60, EvaluationPeriods: 3, MissingData: "notBreaching",
		Deployment: []stackconfig.Process{web, worker},
		PromQL:     `histogram_quantile(0.99, sum by (le) (rate(` + appmetrics.Bucket(appmetrics.PromHTTPRequestDuration) + `{job="web"}[{window}])))`,
		Gate:       `histogram_quantile(0.99, sum by (le) (increase(shipyard_lb_response_seconds_bucket{generation="{generation}"}[{window}])))`,
	},
	{
		Name:    "unhealthyTargets",
		Title:   "A web target fails its health check",
		Runbook: "A task answers /readyz with 503 or not at all: look at its logs and its database and Redis checks.",
		Scope:   TargetGroup, Severity: Warning,
		Metrics: []Metric{
			{ID: "unhealthy", Namespace: "AWS/ApplicationELB", Name: "UnHealthyHostCount", Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 0, Unit: "tasks",
		PeriodSeconds: 60, EvaluationPeriods: 3, MissingData: "notBreaching",
		PromQL: `count(up{job="web"} == 0)`,
	},
	{
		Name:    "rejectedConnections",
		Title:   "The load balancer rejects connections",
		Runbook: "The load balancer hit its connection limit: the fleet is too small for the traffic, or clients hold connections open.",
		Scope:   LoadBalancer, Severity: Warning,
		Metrics: []Metric{
			{ID: "rejected", Namespace: "AWS/ApplicationELB", Name: "RejectedConnectionCount", Stat: "Sum"},
		},
		Comparison: Above, Threshold: 0, Unit: "count",
		PeriodSeconds: 60, EvaluationPeriods: 1, MissingData: "notBreaching",
		// nginx counts a connection it accepted but could not handle
		// (worker_connections reached) as accepted and not handled.
		PromQL: `sum(increase(nginx_connections_accepted[{window}])) - sum(increase(nginx_connections_handled[{window}]))`,
	},
	{
		Name:    "runningTasks",
		Title:   "Fewer tasks run than desired",
		Runbook: "Tasks crash or cannot start: look at the service's events (stopped reason) and the process's last log lines.",
		Scope:   Service, Services: allProc, Severity: Critical,
		Metrics: []Metric{
			{ID: "running", Namespace: "ECS/ContainerInsights", Name: "RunningTaskCount", Stat: "Minimum"},
			{ID: "desired", Namespace: "ECS/ContainerInsights", Name: "DesiredTaskCount", Stat: "Maximum"},
		},
		Expression: "desired - running",
		Comparison: Above, Threshold: 0, Unit: "tasks",
		PeriodSeconds: 60, EvaluationPeriods: 2, MissingData: "notBreaching",
		// A stopped container leaves the network, so its DNS name and its
		// scrape target go: count what is up.
		PromQL: `{desired} - (count(up{job="{service}"} == 1) or vector(0))`,
	},
	{
		Name:    "cpuHigh",
		Title:   "A service's CPU use is above the threshold of its tasks' CPU",
		Runbook: "Busy tasks: autoscaling should add some; if it is at maxCount, raise it or the task size.",
		Scope:   Service, Services: allProc, Severity: Warning,
		Metrics: []Metric{
			{ID: "cpu", Namespace: "AWS/ECS", Name: "CPUUtilization", Stat: "Average"},
		},
		Comparison: Above, Threshold: 80, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 5, MissingData: "notBreaching",
		PromQL: `100 * avg(rate(` + appmetrics.PromProcessCPUSeconds + `{job="{service}"}[{window}])) / {cpuShare}`,
	},
	{
		Name:    "memoryHigh",
		Title:   "A service's memory use is above the threshold of its tasks' memory",
		Runbook: "Tasks near their memory limit are killed: look for a leak (the heap in /metrics) or raise the task memory.",
		Scope:   Service, Services: allProc, Severity: Warning,
		Metrics: []Metric{
			{ID: "memory", Namespace: "AWS/ECS", Name: "MemoryUtilization", Stat: "Average"},
		},
		Comparison: Above, Threshold: 80, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 5, MissingData: "notBreaching",
		PromQL: `100 * avg(` + appmetrics.PromProcessResidentMemory + `{job="{service}"}) / {memoryBytes}`,
	},
	{
		Name:    "queueBacklog",
		Title:   "Jobs wait in the queue",
		Runbook: "Workers do not keep up: look at the worker's CPU and errors, raise services.worker.maxCount.",
		Scope:   Queue, Severity: Warning,
		Metrics: []Metric{
			{ID: "pending", Namespace: appmetrics.Namespace, Name: appmetrics.QueuePending, Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 1000, Unit: "count",
		PeriodSeconds: 60, EvaluationPeriods: 5, MissingData: "notBreaching",
		PromQL: "max(" + appmetrics.PromQueuePending + ")",
	},
	{
		Name:    "queueLatency",
		Title:   "The oldest waiting job is older than the threshold",
		Runbook: "Jobs are not processed: are workers running (runningTasks), failing every job, or stuck on Redis?",
		Scope:   Queue, Severity: Critical,
		Metrics: []Metric{
			{ID: "latency", Namespace: appmetrics.Namespace, Name: appmetrics.QueueLatency, Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 120, Unit: "seconds",
		PeriodSeconds: 60, EvaluationPeriods: 2, MissingData: "notBreaching",
		Deployment: []stackconfig.Process{worker},
		PromQL:     "max(" + appmetrics.PromQueueLatency + ")",
	},
	{
		Name:    "jobLate",
		Title:   "A scheduled job has not succeeded within its period plus its grace",
		Runbook: "A missed run: `make jobs` shows which job, its last run and outcome; are the worker and the clock running (runningTasks)?",
		Scope:   Jobs, Severity: Critical,
		Metrics: []Metric{
			{ID: "overdue", Namespace: appmetrics.Namespace, Name: appmetrics.JobsOverdue, Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 0, Unit: "seconds",
		// Nobody publishing the jobs' status means no job runs either: a
		// dead man's switch.
		PeriodSeconds: 60, EvaluationPeriods: 1, MissingData: "breaching",
		PromQL: "max(" + appmetrics.PromJobOverdue + ")",
	},
	{
		Name:    "jobFailed",
		Title:   "The latest run of a scheduled job failed, timed out or was lost",
		Runbook: "`make jobs` shows the job and its last error; the worker's logs have the run (`make logs PROCESS=worker`); `make job NAME=…` runs it again.",
		Scope:   Jobs, Severity: Warning,
		Metrics: []Metric{
			{ID: "failed", Namespace: appmetrics.Namespace, Name: appmetrics.JobsLastRunFailed, Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 0, Unit: "count",
		PeriodSeconds: 60, EvaluationPeriods: 1, MissingData: "notBreaching",
		PromQL: maxPerJob(appmetrics.PromJobLastRunFailed),
	},
	{
		Name:    "jobOverTimeout",
		Title:   "A scheduled job's run is running past its timeout, or the latest one timed out",
		Runbook: "The job is slower than its timeout allows, or ignores cancellation: look at what it waits on (database locks, a slow query), then its timeout in app/internal/jobs.Scheduled.",
		Scope:   Jobs, Severity: Warning,
		Metrics: []Metric{
			{ID: "over", Namespace: appmetrics.Namespace, Name: appmetrics.JobsOverTimeout, Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 0, Unit: "count",
		PeriodSeconds: 60, EvaluationPeriods: 1, MissingData: "notBreaching",
		PromQL: maxPerJob(appmetrics.PromJobOverTimeout),
	},
	{
		Name:    "databaseCpuHigh",
		Title:   "The database's CPU is above the threshold",
		Runbook: "Look at Performance Insights' top SQL and the slow query log; then the instance class.",
		Scope:   Database, Severity: Warning,
		Metrics: []Metric{
			{ID: "cpu", Namespace: "AWS/RDS", Name: "CPUUtilization", Stat: "Average"},
		},
		Comparison: Above, Threshold: 80, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 5, MissingData: "notBreaching",
		LocalGap: "the local stack runs no Postgres exporter",
	},
	{
		Name:    "databaseStorageLow",
		Title:   "The database's free storage is below the threshold of its allocated storage",
		Runbook: "Storage autoscaling grows up to database.maxAllocatedStorageGb: raise it, or find what grows.",
		Scope:   Database, Severity: Critical,
		Metrics: []Metric{
			{ID: "free", Namespace: "AWS/RDS", Name: "FreeStorageSpace", Stat: "Minimum"},
		},
		Expression: "100 * free / {allocatedStorageBytes}",
		Comparison: Below, Threshold: 10, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 300, EvaluationPeriods: 1, MissingData: "notBreaching",
		LocalGap: "the local stack runs no Postgres exporter",
	},
	{
		Name:    "databaseConnectionsHigh",
		Title:   "The database's connections are above the threshold of database.maxConnections",
		Runbook: "Near the limit new connections fail: look at app.dbPoolSize × tasks and for leaked connections.",
		Scope:   Database, Severity: Warning,
		Metrics: []Metric{
			{ID: "connections", Namespace: "AWS/RDS", Name: "DatabaseConnections", Stat: "Maximum"},
		},
		Expression: "100 * connections / {maxConnections}",
		Comparison: Above, Threshold: 80, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 3, MissingData: "notBreaching",
		LocalGap: "the local stack runs no Postgres exporter",
	},
	{
		Name:    "cacheMemoryHigh",
		Title:   "A Redis node's memory is above the threshold",
		Runbook: "A full Redis refuses writes (noeviction): the queue or the cache grew; raise cache.nodeType.",
		Scope:   Cache, Severity: Warning,
		Metrics: []Metric{
			{ID: "memory", Namespace: "AWS/ElastiCache", Name: "DatabaseMemoryUsagePercentage", Stat: "Maximum"},
		},
		Comparison: Above, Threshold: 80, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 3, MissingData: "notBreaching",
		LocalGap: "the local stack runs no Redis exporter",
	},
	{
		Name:    "cacheEvictions",
		Title:   "Redis evicts keys",
		Runbook: "Evicted keys may be queued jobs: Redis is full; raise cache.nodeType now.",
		Scope:   Cache, Severity: Critical,
		Metrics: []Metric{
			{ID: "evictions", Namespace: "AWS/ElastiCache", Name: "Evictions", Stat: "Sum"},
		},
		Comparison: Above, Threshold: 0, Unit: "count",
		PeriodSeconds: 60, EvaluationPeriods: 1, MissingData: "notBreaching",
		LocalGap: "the local stack runs no Redis exporter",
	},
	{
		Name:    "cacheCpuHigh",
		Title:   "A Redis node's engine CPU is above the threshold",
		Runbook: "Redis is single-threaded: look for expensive commands (SLOWLOG) or raise cache.nodeType.",
		Scope:   Cache, Severity: Warning,
		Metrics: []Metric{
			{ID: "cpu", Namespace: "AWS/ElastiCache", Name: "EngineCPUUtilization", Stat: "Average"},
		},
		Comparison: Above, Threshold: 80, Unit: "%", MaxThreshold: 100,
		PeriodSeconds: 60, EvaluationPeriods: 5, MissingData: "notBreaching",
		LocalGap: "the local stack runs no Redis exporter",
	},
}

// Names returns the table's alarm names, in order.
func Names() []string {
	out := make([]string, len(Table))
	for i, a := range Table {
		out[i] = a.Name
	}
	return out
}

// Periods are the periods CloudWatch alarms allow that the table uses.
var Periods = []int{10, 30, 60, 120, 300, 600, 900, 3600}
