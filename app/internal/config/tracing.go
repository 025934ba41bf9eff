package config

import (
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Tracing is the OpenTelemetry trace export, read from the standard
// OTEL_* variables (the subset the app honours; every other OTEL_* variable
// keeps its meaning in the SDK). Tracing is on only when an OTLP endpoint
// is given and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none
// turns it off; off costs nothing (no span is made anywhere).
type Tracing struct {
	// Endpoint is the OTLP/HTTP URL spans are POSTed to:
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or
	// OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces". Empty means off.
	Endpoint string
	// Sampler is OTEL_TRACES_SAMPLER (default parentbased_always_on) and
	// SamplerArg the ratio of the *traceidratio samplers
	// (OTEL_TRACES_SAMPLER_ARG, 0 to 1, default 1).
	Sampler    string
	SamplerArg float64
	// ServiceName is OTEL_SERVICE_NAME (default "shipyard").
	ServiceName string
	// ResourceAttributes are OTEL_RESOURCE_ATTRIBUTES' key=value pairs, in
	// their order, values percent-decoded.
	ResourceAttributes [][2]string
}

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// TracesSamplers are the OTEL_TRACES_SAMPLER values the app accepts.
var TracesSamplers = []string{
	"always_on", "always_off", "traceidratio",
	"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
}

// LogValue shows whether tracing is on, where to and how it samples.
func (t Tracing) LogValue() slog.Value {
	if !t.Enabled() {
		return slog.StringValue("off")
	}
	return slog.GroupValue(
		slog.String("endpoint", Redact(t.Endpoint)),
		slog.String("sampler", t.Sampler),
		slog.Float64("sampler_arg", t.SamplerArg),
		slog.String("service_name", t.ServiceName),
	)
}

func (l *loader) tracing() Tracing {
	t := Tracing{Sampler: "parentbased_always_on", SamplerArg: 1, ServiceName: l.str("OTEL_SERVICE_NAME", "shipyard")}
	disabled := l.boolean("OTEL_SDK_DISABLED", false)
	switch v := strings.TrimSpace(l.getenv("OTEL_TRACES_EXPORTER")); v {
	case "", "otlp":
	case "none":
		disabled = true
	default:
		l.fail("OTEL_TRACES_EXPORTER", `must be "otlp" or "none"`, v)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(l.getenv(name)); v != "" && v != "http/protobuf" {
			l.fail(name, `must be "http/protobuf" (the app exports OTLP over HTTP only)`, v)
		}
	}
	if v := l.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""); v != "" {
		t.Endpoint = l.otlpURL("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v)
	} else if v := l.str("OTEL_EXPORTER_OTLP_ENDPOINT", ""); v != "" {
		if base := l.otlpURL("OTEL_EXPORTER_OTLP_ENDPOINT", v); base != "" {
			t.Endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
		}
	}
	if v := strings.TrimSpace(l.getenv("OTEL_TRACES_SAMPLER")); v != "" {
		known := false
		for _, s := range TracesSamplers {
			known = known || s == v
		}
		if known {
			t.Sampler = v
		} else {
			l.fail("OTEL_TRACES_SAMPLER", "must be one of "+strings.Join(TracesSamplers, ", "), v)
		}
	}
	if v := strings.TrimSpace(l.getenv("OTEL_TRACES_SAMPLER_ARG")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		// Written so that NaN (which ParseFloat accepts, and which
		// compares false with everything) fails too; ±Inf is out of range.
		if err != nil || !(f >= 0 && f <= 1) {
			l.fail("OTEL_TRACES_SAMPLER_ARG", "must be a sampling ratio from 0 to 1 such as \"0.1\"", v)
		} else {
			t.SamplerArg = f
		}
	}
	if v := strings.TrimSpace(l.getenv("OTEL_RESOURCE_ATTRIBUTES")); v != "" {
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			dec, err := url.PathUnescape(strings.TrimSpace(val))
			if !ok || k == "" || err != nil {
				l.fail("OTEL_RESOURCE_ATTRIBUTES", `must be comma-separated key=value pairs (values percent-encoded), e.g. "deployment.environment.name=prod"`, v)
				t.ResourceAttributes = nil
				break
			}
			t.ResourceAttributes = append(t.ResourceAttributes, [2]string{k, dec})
		}
	}
	if disabled {
		t.Endpoint = ""
	}
	return t
}

// otlpURL checks an OTLP/HTTP endpoint: an http or https URL with a host
// and no query string or fragment (the base endpoint gets "/v1/traces"
// appended, which after a "#" would silently become part of the fragment,
// and the exporter would POST to the bare host).
func (l *loader) otlpURL(name, v string) string {
	u, err := url.Parse(v)
	isURL := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	hasQuery := strings.ContainsAny(v, "?#")
	switch {
	case isURL && !hasQuery:
		return v
	case isURL:
		l.fail(name, `must have no query string ("?…") or fragment ("#…"): an http(s) URL such as "http://localhost:4318"`, showEndpoint(v))
	case hasQuery:
		l.fail(name, `must be an http(s) URL such as "http://localhost:4318", with no query string ("?…") or fragment ("#…")`, showEndpoint(v))
	default:
		l.fail(name, `must be an http(s) URL such as "http://localhost:4318"`, showEndpoint(v))
	}
	return ""
}

// showEndpoint is an endpoint as given, for an error message, with a
// userinfo password and the query's values masked. It is cut by hand, not
// parsed: a value url.Parse refuses is shown too. Anything before the
// last "@" is taken for userinfo, so a password with "/", "?" or "#" in
// it stays hidden (an "@" elsewhere masks more than needed).
func showEndpoint(v string) string {
	head, rest := "", v
	if i := strings.Index(v, "://"); i >= 0 {
		head, rest = v[:i+3], v[i+3:]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		if c := strings.IndexByte(userinfo, ':'); c >= 0 {
			userinfo = userinfo[:c] + ":xxxxx"
		}
		head, rest = head+userinfo, rest[at:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 && q+1 < len(rest) {
		params := strings.Split(rest[q+1:], "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok {
				params[i] = k + "=xxxxx"
			} else if p != "" {
				params[i] = "xxxxx"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	if f := strings.IndexByte(rest, '#'); f >= 0 && f+1 < len(rest) && !strings.Contains(rest[:f], "?") {
		rest = rest[:f+1] + "xxxxx"
	}
	return head + rest
}
