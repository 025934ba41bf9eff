// Package appmetrics names the CloudWatch metrics the app publishes (in
// embedded metric format, in its processes' logs), for the app, which
// writes them (app/internal/jobs), and for code outside app/ that reads
// them: infra/signals' alarm table and infra/aws's alarms and worker
// autoscaling. There is one copy of the names: a rename here renames both
// sides, where two copies would leave the aws alarms quiet on a metric
// nobody publishes (their missing data is notBreaching).
package appmetrics

// Namespace is the CloudWatch namespace of every metric the app publishes.
const Namespace = "Shipyard"

// Dimensions the app publishes its metrics with.
const (
	// DimensionStack is the stack's name (the app's APP_ENV).
	DimensionStack = "Stack"
	// DimensionQueue is the job queue's name (QueueDefault).
	DimensionQueue = "Queue"
)

// QueueDefault is the app's one asynq queue (app/internal/jobs'
// QueueDefault): the value of DimensionQueue the backlog is published with.
const QueueDefault = "default"

// The job queue's backlog, published per queue by the worker and the clock
// (dimensions QueueDimensions).
const (
	// QueuePending is the jobs due and not yet picked up (Count).
	QueuePending = "JobsQueuePending"
	// QueueLatency is the age of the oldest of them (Seconds).
	QueueLatency = "JobsQueueLatency"
)

// The scheduled jobs' status, the maximum over the jobs, published by the
// clock and the worker (dimensions JobsDimensions).
const (
	// JobsOverdue is how far the most overdue job is past its deadline
	// for a success (Seconds).
	JobsOverdue = "JobsOverdueSeconds"
	// JobsLastRunFailed counts the jobs whose latest run failed (Count).
	JobsLastRunFailed = "JobsLastRunFailed"
	// JobsOverTimeout counts the jobs running past their timeout or
	// whose latest run timed out (Count).
	JobsOverTimeout = "JobsOverTimeout"
)

// QueueDimensions and JobsDimensions are the dimension sets of the two
// groups: CloudWatch keeps one metric per name and dimension set, so an
// alarm must read a metric with exactly these dimensions.
func QueueDimensions() []string { return []string{DimensionStack, DimensionQueue} }

// JobsDimensions: see QueueDimensions.
func JobsDimensions() []string { return []string{DimensionStack} }

// Metric is one metric the app publishes in Namespace.
type Metric struct {
	Name string
	// Unit is CloudWatch's: Count or Seconds.
	Unit string
	// Dimensions is the one dimension set it is published with.
	Dimensions []string
}

// Published is every metric the app publishes in Namespace, in the order
// the app writes them. The app's tests check that its embedded metric
// format lines declare exactly these; infra's, that every alarm on a
// metric of Namespace reads one of them, with its dimensions.
func Published() []Metric {
	return []Metric{
		{Name: QueuePending, Unit: "Count", Dimensions: QueueDimensions()},
		{Name: QueueLatency, Unit: "Seconds", Dimensions: QueueDimensions()},
		{Name: JobsOverdue, Unit: "Seconds", Dimensions: JobsDimensions()},
		{Name: JobsLastRunFailed, Unit: "Count", Dimensions: JobsDimensions()},
		{Name: JobsOverTimeout, Unit: "Count", Dimensions: JobsDimensions()},
	}
}

// Lookup returns the published metric called name, and whether there is one.
func Lookup(name string) (Metric, bool) {
	for _, m := range Published() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// The Prometheus side: the metrics the app serves on /metrics that the
// local stack's alarms (infra/signals' PromQL) read, and their labels.
// Like the CloudWatch names above, they are declared here once: the app's
// collectors are built from these constants, infra/signals writes its
// PromQL with them, the app's tests scrape each process's /metrics for
// every name Exposed lists, and infra/signals' tests fail on a PromQL
// metric that is neither in Exposed nor one of another exporter's. A
// PromQL selector over a series nobody serves returns nothing, and the
// alert never fires.
const (
	// PromQueuePending is QueuePending's gauge (label LabelQueue).
	PromQueuePending = "app_jobs_queue_pending"
	// PromQueueLatency is QueueLatency's gauge (label LabelQueue).
	PromQueueLatency = "app_jobs_queue_latency_seconds"
	// PromJobOverdue is JobsOverdue's gauge, per job (label LabelTask).
	PromJobOverdue = "app_job_overdue_seconds"
	// PromJobLastRunFailed is JobsLastRunFailed's gauge, per job (1 or 0).
	PromJobLastRunFailed = "app_job_last_run_failed"
	// PromJobOverTimeout is JobsOverTimeout's gauge, per job (1 or 0).
	PromJobOverTimeout = "app_job_over_timeout"
	// PromHTTPRequests counts the HTTP requests a process answered.
	PromHTTPRequests = "http_requests_total"
	// PromHTTPRequestDuration is their duration (a histogram).
	PromHTTPRequestDuration = "http_request_duration_seconds"
	// PromProcessCPUSeconds and PromProcessResidentMemory are the Go
	// client's process collector's, which the app registers on every
	// process's registry (app/run.go).
	PromProcessCPUSeconds     = "process_cpu_seconds_total"
	PromProcessResidentMemory = "process_resident_memory_bytes"
)

// Label names of the app's Prometheus metrics.
const (
	// LabelQueue is the job queue's name (QueueDefault).
	LabelQueue = "queue"
	// LabelTask is the scheduled job's name (app/internal/jobs.Scheduled).
	LabelTask = "task"
	// LabelMethod, LabelRoute and LabelStatus are the HTTP metrics':
	// the request's method, its route pattern and the response's status
	// code (three digits).
	LabelMethod = "method"
	LabelRoute  = "route"
	LabelStatus = "status"
)

// HTTPLabels are the HTTP metrics' labels, in the order the app sets them.
func HTTPLabels() []string { return []string{LabelMethod, LabelRoute, LabelStatus} }

// Bucket is the name of a histogram's bucket series (label le, Prometheus's
// own), which histogram_quantile reads.
func Bucket(histogram string) string { return histogram + "_bucket" }

// Process types whose /metrics serve a metric: the local stack's scrape
// jobs have these names (the web process is the app's serve command).
const (
	ProcessWeb    = "web"
	ProcessWorker = "worker"
	ProcessClock  = "clock"
)

// PromMetric is one metric the app serves on /metrics that an alarm reads.
type PromMetric struct {
	Name string
	// Type is Prometheus's: counter, gauge or histogram.
	Type string
	// Labels are the labels the app sets (without le, a histogram's).
	Labels []string
	// Processes are the process types whose /metrics serve it.
	Processes []string
}

// Series are the names of the series m is exposed as: its name, and a
// histogram's _bucket, _sum and _count.
func (m PromMetric) Series() []string {
	if m.Type == "histogram" {
		return []string{Bucket(m.Name), m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

// Exposed is every metric of the app's /metrics that an alarm or a gate
// reads. The app's tests check that each process type in Processes serves
// it, with its type and labels; infra/signals', that every metric its
// PromQL reads is one of these or another exporter's.
func Exposed() []PromMetric {
	all := []string{ProcessWeb, ProcessWorker, ProcessClock}
	jobs := []string{ProcessWorker, ProcessClock}
	return []PromMetric{
		{Name: PromHTTPRequests, Type: "counter", Labels: HTTPLabels(), Processes: all},
		{Name: PromHTTPRequestDuration, Type: "histogram", Labels: HTTPLabels(), Processes: all},
		{Name: PromQueuePending, Type: "gauge", Labels: []string{LabelQueue}, Processes: jobs},
		{Name: PromQueueLatency, Type: "gauge", Labels: []string{LabelQueue}, Processes: jobs},
		{Name: PromJobOverdue, Type: "gauge", Labels: []string{LabelTask}, Processes: jobs},
		{Name: PromJobLastRunFailed, Type: "gauge", Labels: []string{LabelTask}, Processes: jobs},
		{Name: PromJobOverTimeout, Type: "gauge", Labels: []string{LabelTask}, Processes: jobs},
		{Name: PromProcessCPUSeconds, Type: "counter", Processes: all},
		{Name: PromProcessResidentMemory, Type: "gauge", Processes: all},
	}
}

// LookupSeries returns the exposed metric one of whose Series is called
// series, and whether there is one.
func LookupSeries(series string) (PromMetric, bool) {
	for _, m := range Exposed() {
		for _, s := range m.Series() {
			if s == series {
				return m, true
			}
		}
	}
	return PromMetric{}, false
}
