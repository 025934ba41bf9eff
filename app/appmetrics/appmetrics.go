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
