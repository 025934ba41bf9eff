package signals

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
)

// exporterMetric is a metric the local stack's Prometheus scrapes from
// something other than the app.
type exporterMetric struct {
	Name      string
	Histogram bool
	// Labels are the metric's own labels (the scrape adds job and instance).
	Labels []string
	// Source says who serves it; Mtail, when set, is the declaration of
	// infra/docker/lb.mtail that makes it (checked against the file).
	Source string
	Mtail  string
}

// otherExporters are the metrics the local stack's PromQL may read besides
// the app's (appmetrics.Exposed): every scrape job of infra/docker's
// PrometheusConfig that is not a process type of the app.
var otherExporters = []exporterMetric{
	{Name: "up", Source: "Prometheus itself: one series per scrape target of every job (infra/docker.PrometheusConfig), 1 when the scrape succeeded"},
	{Name: "nginx_connections_accepted", Source: "the nginx exporter (container nginx-exporter, scrape job nginx; infra/docker/prometheus.go), from nginx's stub_status"},
	{Name: "nginx_connections_handled", Source: "the nginx exporter (container nginx-exporter, scrape job nginx; infra/docker/prometheus.go), from nginx's stub_status"},
	{Name: "shipyard_lb_requests_total", Labels: []string{"generation", "status"},
		Source: "mtail (container mtail, scrape job lb; infra/docker/prometheus.go) running infra/docker/lb.mtail over nginx's gate log",
		Mtail:  "counter shipyard_lb_requests_total by generation, status"},
	{Name: "shipyard_lb_response_seconds", Histogram: true, Labels: []string{"generation"},
		Source: "mtail (container mtail, scrape job lb; infra/docker/prometheus.go) running infra/docker/lb.mtail over nginx's gate log",
		Mtail:  "histogram shipyard_lb_response_seconds by generation"},
}

// targetLabels are the labels Prometheus puts on every scraped series.
var targetLabels = []string{"job", "instance"}

// servedMetric is what a PromQL selector reads: the series' metric, its
// labels and who serves it.
type servedMetric struct {
	labels []string
	source string
}

// lookupServed finds the metric one of whose series is called series: the
// app's (appmetrics.Exposed) or another exporter's.
func lookupServed(series string) (servedMetric, bool) {
	if m, ok := appmetrics.LookupSeries(series); ok {
		labels := slices.Clone(m.Labels)
		if m.Type == "histogram" && series == appmetrics.Bucket(m.Name) {
			labels = append(labels, "le")
		}
		return servedMetric{labels: labels, source: "the app (appmetrics.Exposed)"}, true
	}
	for _, m := range otherExporters {
		names := []string{m.Name}
		if m.Histogram {
			names = []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
		}
		if slices.Contains(names, series) {
			labels := slices.Clone(m.Labels)
			if m.Histogram && series == m.Name+"_bucket" {
				labels = append(labels, "le")
			}
			return servedMetric{labels: labels, source: m.Source}, true
		}
	}
	return servedMetric{}, false
}

// promQLs are every PromQL expression of the package, named for errors:
// each row's local rule and gate, and the gates' request count.
func promQLs() [][2]string {
	out := [][2]string{{"GateRequestsPromQL", GateRequestsPromQL}}
	for _, a := range Table {
		if a.PromQL != "" {
			out = append(out, [2]string{a.Name + " (PromQL)", a.PromQL})
		}
		if a.Gate != "" {
			out = append(out, [2]string{a.Name + " (Gate)", a.Gate})
		}
	}
	return out
}

// TestEveryPromQLMetricIsServed: every metric the local rules and gates
// read is one the app serves (appmetrics.Exposed, which the app's tests
// scrape each process for) or one of otherExporters, and every label they
// select or group by is one it has. A selector over a series nobody serves
// returns nothing, and its alert never fires.
func TestEveryPromQLMetricIsServed(t *testing.T) {
	var known []string
	for _, m := range appmetrics.Exposed() {
		known = append(known, m.Series()...)
	}
	for _, m := range otherExporters {
		known = append(known, m.Name)
	}
	used := map[string]bool{}
	for _, q := range promQLs() {
		name, expr := q[0], q[1]
		refs, err := parsePromQL(expr)
		if err != nil {
			t.Errorf("%s: %v in %s", name, err, expr)
			continue
		}
		if len(refs.metrics) == 0 {
			t.Errorf("%s: reads no metric: %s", name, expr)
		}
		grouping := slices.Clone(targetLabels)
		for _, sel := range refs.metrics {
			m, ok := lookupServed(sel.name)
			if !ok {
				t.Errorf("%s reads metric %s, which neither the app serves (appmetrics.Exposed) nor another exporter of the local stack (otherExporters); known: %s", name, sel.name, strings.Join(known, ", "))
				continue
			}
			used[strings.TrimSuffix(sel.name, "_bucket")] = true
			allowed := append(slices.Clone(targetLabels), m.labels...)
			grouping = append(grouping, m.labels...)
			for _, l := range sel.labels {
				if !slices.Contains(allowed, l) {
					t.Errorf("%s selects metric %s by label %s, which it does not have (%s serves it with labels %s)", name, sel.name, l, m.source, strings.Join(allowed, ", "))
				}
			}
		}
		for _, l := range refs.grouping {
			if !slices.Contains(grouping, l) {
				t.Errorf("%s groups by label %s, which none of its metrics has (allowed %s)", name, l, strings.Join(grouping, ", "))
			}
		}
	}
	for _, m := range otherExporters {
		if !used[m.Name] {
			t.Errorf("otherExporters lists %s (%s), which no PromQL reads: remove it", m.Name, m.Source)
		}
	}
}

// TestTheMtailProgramDeclaresTheLoadBalancerMetrics: the gates' metrics
// are made by infra/docker/lb.mtail, with the labels otherExporters says.
func TestTheMtailProgramDeclaresTheLoadBalancerMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docker", "lb.mtail"))
	if err != nil {
		t.Fatal(err)
	}
	var decls []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "counter ") || strings.HasPrefix(l, "histogram ") || strings.HasPrefix(l, "gauge ") {
			decl, _, _ := strings.Cut(l, " buckets ")
			decls = append(decls, strings.TrimSpace(decl))
		}
	}
	for _, m := range otherExporters {
		if m.Mtail == "" {
			continue
		}
		if !slices.Contains(decls, m.Mtail) {
			t.Errorf("infra/docker/lb.mtail does not declare %q (otherExporters' %s); it declares %q", m.Mtail, m.Name, decls)
		}
		kind := "counter"
		if m.Histogram {
			kind = "histogram"
		}
		if want := kind + " " + m.Name + " by " + strings.Join(m.Labels, ", "); m.Mtail != want {
			t.Errorf("otherExporters' %s: Mtail %q does not match its kind and labels (%q)", m.Name, m.Mtail, want)
		}
	}
}

// selector is one metric a PromQL expression reads and the labels its
// matchers name.
type selector struct {
	name   string
	labels []string
}

type promQLRefs struct {
	metrics  []selector
	grouping []string // labels of by, without, on, ignoring, group_left, group_right
}

var (
	promAggregations = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	promFunctions = []string{"abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
		"clamp_max", "clamp_min", "count_over_time", "days_in_month", "day_of_month", "day_of_week", "day_of_year",
		"delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
		"histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
		"double_exponential_smoothing", "hour", "idelta", "increase", "irate", "label_join", "label_replace",
		"last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time", "min_over_time", "minute",
		"month", "predict_linear", "present_over_time", "quantile_over_time", "rate", "resets", "round",
		"scalar", "sgn", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc", "sqrt", "stddev_over_time",
		"stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year", "sin", "cos", "tan", "asin",
		"acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad", "pi", "start", "end"}
	promGrouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
	// placeholder matches the table's placeholders (see Table, Resolve
	// and Gate.Queries), and no label matcher.
	placeholder = regexp.MustCompile(`\{(window|service|desired|cpuShare|memoryBytes|allocatedStorageBytes|maxConnections|generation)\}`)
)

// parsePromQL finds the metrics (with the labels of their matchers) and
// the grouping labels of a PromQL expression of the table, placeholders
// and all. It is a tokenizer, not a parser: strings, durations, numbers,
// operators, functions, aggregations and keywords are skipped; an
// identifier followed by "(" must be a function or an aggregation.
func parsePromQL(expr string) (promQLRefs, error) {
	// The table's placeholders stand for numbers, durations and label
	// values: any number keeps the expression's shape.
	s := placeholder.ReplaceAllString(expr, "1")
	var refs promQLRefs
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
	}
	ident := func() string {
		j := i
		for i < len(s) && isIdent(s[i]) {
			i++
		}
		return s[j:i]
	}
	str := func() error {
		q := s[i]
		for i++; i < len(s); i++ {
			if s[i] == '\\' && q != '`' {
				i++
				continue
			}
			if s[i] == q {
				i++
				return nil
			}
		}
		return fmt.Errorf("unterminated string")
	}
	// matchers reads {name op "value", …} and returns the label names.
	matchers := func() ([]string, error) {
		var labels []string
		i++ // {
		for {
			skipSpace()
			if i < len(s) && s[i] == '}' {
				i++
				return labels, nil
			}
			if i >= len(s) || !isIdentStart(s[i]) {
				return nil, fmt.Errorf("label matcher at offset %d: want a label name", i)
			}
			labels = append(labels, ident())
			skipSpace()
			op := ""
			for i < len(s) && strings.IndexByte("=!~", s[i]) >= 0 {
				op += string(s[i])
				i++
			}
			if !slices.Contains([]string{"=", "!=", "=~", "!~"}, op) {
				return nil, fmt.Errorf("label matcher at offset %d: operator %q", i, op)
			}
			skipSpace()
			if i >= len(s) || (s[i] != '"' && s[i] != '\'' && s[i] != '`') {
				return nil, fmt.Errorf("label matcher at offset %d: want a string", i)
			}
			if err := str(); err != nil {
				return nil, err
			}
			skipSpace()
			if i < len(s) && s[i] == ',' {
				i++
			}
		}
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '"' || c == '\'' || c == '`':
			if err := str(); err != nil {
				return refs, err
			}
		case c == '{':
			return refs, fmt.Errorf("a selector without a metric name at offset %d", i)
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return refs, fmt.Errorf("unterminated range at offset %d", i)
			}
			i += j + 1
		case c >= '0' && c <= '9' || c == '.':
			// A number or a duration: 0.99, 1e-3, 5m, 1h30m.
			for i < len(s) && (isIdent(s[i]) || s[i] == '.' || (s[i] == '-' || s[i] == '+') && (s[i-1] == 'e' || s[i-1] == 'E')) {
				i++
			}
		case isIdentStart(c):
			word := ident()
			lower := strings.ToLower(word)
			skipSpace()
			next := byte(0)
			if i < len(s) {
				next = s[i]
			}
			switch {
			case slices.Contains(promGrouping, lower):
				if next != '(' {
					if lower == "group_left" || lower == "group_right" {
						continue
					}
					return refs, fmt.Errorf("%s without a label list", word)
				}
				end := strings.IndexByte(s[i:], ')')
				if end < 0 {
					return refs, fmt.Errorf("unterminated label list of %s", word)
				}
				for _, l := range strings.Split(s[i+1:i+end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						refs.grouping = append(refs.grouping, l)
					}
				}
				i += end + 1
			case slices.Contains(promAggregations, lower), slices.Contains(promKeywords, lower):
			case next == '(':
				if !slices.Contains(promFunctions, word) {
					return refs, fmt.Errorf("unknown function %s", word)
				}
			default:
				sel := selector{name: word}
				if next == '{' {
					labels, err := matchers()
					if err != nil {
						return refs, err
					}
					sel.labels = labels
				}
				refs.metrics = append(refs.metrics, sel)
			}
		default:
			i++ // ( ) , and operators
		}
	}
	return refs, nil
}

func TestParsePromQL(t *testing.T) {
	for _, tt := range []struct {
		expr     string
		metrics  string // name{labels} …
		grouping []string
		err      string
	}{
		{expr: `100 * sum(rate(a_total{job="web",status=~"5.."}[{window}])) / sum(rate(a_total{job="web"}[5m]))`,
			metrics: `a_total{job,status} a_total{job}`},
		{expr: `histogram_quantile(0.99, sum by (le) (rate(h_bucket{job="web"}[1m])))`, metrics: `h_bucket{job}`, grouping: []string{"le"}},
		{expr: `sum(max by (task) (g)) or vector(0)`, metrics: `g{}`, grouping: []string{"task"}},
		{expr: `{desired} - (count(up{job="{service}"} == 1) or vector(0))`, metrics: `up{job}`},
		{expr: `sum(x) without (instance, job) / on(job) group_left y offset 5m > bool 1e-3`, metrics: `x{} y{}`, grouping: []string{"instance", "job", "job"}},
		{expr: `label_replace(z{a!="b}"}, "dst", "$1", "src", "(.*)")`, metrics: `z{a}`},
		{expr: `rat(x[5m])`, err: "unknown function rat"},
		{expr: `{job="web"}`, err: "a selector without a metric name"},
		{expr: `x{job="web}`, err: "unterminated string"},
		{expr: `x{job}`, err: `operator ""`},
	} {
		refs, err := parsePromQL(tt.expr)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parsePromQL(%s): error %v, want %q", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parsePromQL(%s): %v", tt.expr, err)
			continue
		}
		var got []string
		for _, m := range refs.metrics {
			got = append(got, m.name+"{"+strings.Join(m.labels, ",")+"}")
		}
		if strings.Join(got, " ") != tt.metrics || !slices.Equal(refs.grouping, tt.grouping) {
			t.Errorf("parsePromQL(%s) = %v by %v, want %s by %v", tt.expr, got, refs.grouping, tt.metrics, tt.grouping)
		}
	}
}
