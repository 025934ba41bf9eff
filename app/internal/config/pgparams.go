package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The parameters of a DATABASE_URL are checked at load with pgx's own
// parser (pgxpool.ParseConfig, as db.ParseConfig parses it to connect):
// a bad one must stop the process before the "starting" line, naming the
// parameter and what it allows, not fail later as "invalid connection
// URL".

// pgFileParams name files (the TLS CA, client certificate and key): the
// container's, which a load elsewhere (`make validate`, through
// app/appenv) cannot read, so the check at load leaves them out and the
// first connection reads them (db.ParseConfig reports a missing one).
var pgFileParams = []string{"sslrootcert", "sslcert", "sslkey"}

// pgAllowed is what the parameters with a fixed form accept, as pgx
// parses them.
var pgAllowed = map[string]string{
	"sslmode":              `one of "disable", "allow", "prefer", "require", "verify-ca", "verify-full"`,
	"sslcertmode":          `one of "disable", "allow", "require"`,
	"target_session_attrs": `one of "any", "read-write", "read-only", "primary", "standby", "prefer-standby"`,
	"channel_binding":      `one of "disable", "prefer", "require"`,
	"connect_timeout":      "a whole number of seconds, 0 or more",
	"port":                 "a port number from 1 to 65535",
}

// pgParamRE finds the parameter in the message of a pgx ParseConfigError
// ("invalid connect_timeout", "cannot parse pool_max_conns", "unknown
// target_session_attrs value: x", "pool_max_conns too small").
var pgParamRE = regexp.MustCompile(`^(?:invalid|cannot parse|unknown) ([a-z_]+)|^([a-z_]+) too small`)

// pgParam is one parameter of a DATABASE_URL: a URL's query parameter or a
// key=value DSN's pair, decoded.
type pgParam struct{ key, value string }

// checkDatabaseParams reports the first parameter of DATABASE_URL s
// (already known to be a postgres:// URL or a DSN naming a host) that pgx
// refuses, or that is given twice (pgx would take the last silently).
func (l *loader) checkDatabaseParams(s string) {
	params, rest := pgParams(s)
	for i, p := range params {
		if slices.ContainsFunc(params[:i], func(q pgParam) bool { return q.key == p.key }) {
			l.fail("DATABASE_URL", fmt.Sprintf("parameter %s must be given once (pgx would use the last one)", p.key), "")
			return
		}
	}
	_, err := pgxpool.ParseConfig(rest)
	if err == nil {
		return
	}
	detail := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// "cannot parse `<the string, best-effort redacted>`: <why>":
		// the string is dropped, the reason kept.
		if i := strings.LastIndex(detail, "`: "); i >= 0 {
			detail = detail[i+3:]
		}
	}
	for _, secret := range pgSecrets(s, params) {
		if strings.Contains(detail, secret) {
			detail = "pgx refuses it"
		}
	}
	name := ""
	if strings.Contains(detail, "sslmode is invalid") {
		name = "sslmode"
	} else if m := pgParamRE.FindStringSubmatch(detail); m != nil {
		name = m[1] + m[2]
	}
	if name == "" || secretKey(name) {
		l.fail("DATABASE_URL", "is not a connection string pgx accepts: "+detail, Redact(s))
		return
	}
	expect := fmt.Sprintf("parameter %s is invalid: %s", name, detail)
	if allowed, ok := pgAllowed[name]; ok {
		expect = fmt.Sprintf("parameter %s must be %s", name, allowed)
	}
	i := slices.IndexFunc(params, func(p pgParam) bool { return p.key == name })
	switch {
	case i >= 0:
		l.fail("DATABASE_URL", expect, params[i].value)
	case name == "port": // a URL's, after the host
		l.fail("DATABASE_URL", "must have a port from 1 to 65535", Redact(s))
	default:
		l.fail("DATABASE_URL", expect+"; DATABASE_URL does not set it: a PG* environment variable does", "")
	}
}

// pgParams splits DATABASE_URL s into its parameters and s without the
// file parameters (pgFileParams).
func pgParams(s string) (params []pgParam, rest string) {
	if !strings.Contains(s, "://") {
		pairs, _ := dsnPairs(s)
		var b strings.Builder
		last := 0
		for _, p := range pairs {
			params = append(params, pgParam{p.key, dsnUnquote(p.value)})
			if slices.Contains(pgFileParams, p.key) {
				b.WriteString(s[last:p.keyStart])
				last = p.end
			}
		}
		b.WriteString(s[last:])
		return params, b.String()
	}
	base, query, ok := urlQuery(s)
	if !ok {
		return nil, s
	}
	var kept []string
	for _, pair := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.PathUnescape(k)
		if err != nil {
			key = k
		}
		value, err := url.PathUnescape(v)
		if err != nil {
			value = v
		}
		params = append(params, pgParam{key, value})
		if !slices.Contains(pgFileParams, key) {
			kept = append(kept, pair)
		}
	}
	if len(kept) == len(params) {
		return params, s
	}
	return params, base + "?" + strings.Join(kept, "&")
}

// urlQuery splits a postgres:// URL at its query as pgx does: after the
// userinfo (which may hold a "?" in a password) and the hosts.
func urlQuery(s string) (base, query string, ok bool) {
	_, p, _ := strings.Cut(s, "://")
	from := len(s) - len(p)
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		from += i + 1
	}
	q := strings.IndexByte(s[from:], '?')
	if q < 0 {
		return s, "", false
	}
	return s[:from+q], s[from+q+1:], true
}

// pgSecrets are the passwords DATABASE_URL s holds, as written and
// decoded, which no message may contain.
func pgSecrets(s string, params []pgParam) []string {
	var out []string
	for _, p := range params {
		if secretKey(p.key) && p.value != "" {
			out = append(out, p.value)
		}
	}
	// The userinfo ends at the first "@" for pgx, at the last for net/url.
	_, p, _ := strings.Cut(s, "://")
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		if _, pw, ok := strings.Cut(p[:i], ":"); ok && pw != "" {
			out = append(out, pw)
			if dec, err := url.PathUnescape(pw); err == nil {
				out = append(out, dec)
			}
		}
	}
	if u, err := url.Parse(s); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw)
		}
	}
	return out
}

// dsnPair is one key=value of a libpq key=value DSN: value as written
// (quoted, escaped) at s[start:end], the pair from keyStart.
type dsnPair struct {
	key, value           string
	keyStart, start, end int
}

// dsnPairs tokenizes a key=value DSN; values may be single-quoted with
// backslash escapes. ok is false when it cannot.
func dsnPairs(s string) (pairs []dsnPair, ok bool) {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, false
		}
		key := strings.TrimSpace(s[i : i+eq])
		if strings.ContainsAny(key, " \t'") {
			return nil, false
		}
		p := dsnPair{key: key, keyStart: i}
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		p.start = i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return nil, false
			}
			i++ // closing quote
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		}
		p.end = min(i, len(s))
		p.value = s[p.start:p.end]
		pairs = append(pairs, p)
	}
	return pairs, true
}

// dsnUnquote is the value of a DSN pair as written: unquoted, unescaped.
func dsnUnquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = v[1 : len(v)-1]
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
