package config_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

// secretForms is every way a password can be given, accepted or rejected;
// each value contains the secret "S3cr3t-pw" (also %-encoded or quoted).
var secretForms = []struct {
	name   string
	env    map[string]string
	accept bool
}{
	{"DATABASE_URL with the password in userinfo", map[string]string{"DATABASE_URL": "postgres://u:S3cr3t-pw@db:5432/app?sslmode=disable"}, true},
	{"DATABASE_URL with a ?password= query parameter", map[string]string{"DATABASE_URL": "postgres://u@db/app?sslmode=disable&password=S3cr3t-pw"}, true},
	{"DATABASE_URL with a ?sslpassword= query parameter", map[string]string{"DATABASE_URL": "postgres://u@db/app?sslpassword=S3cr3t-pw"}, true},
	{"DATABASE_URL as a key=value DSN with password=", map[string]string{"DATABASE_URL": "host=db user=u dbname=app password=S3cr3t-pw sslmode=disable"}, true},
	{"DATABASE_URL as a key=value DSN with a quoted password", map[string]string{"DATABASE_URL": "host=db user=u password='S3cr3t-pw with spaces' dbname=app"}, true},
	{"DATABASE_URL as a key=value DSN without a host is rejected", map[string]string{"DATABASE_URL": "user=u password=S3cr3t-pw dbname=app"}, false},
	{"DATABASE_URL as a malformed DSN is rejected", map[string]string{"DATABASE_URL": "host=db password='S3cr3t-pw"}, false},
	{"DATABASE_URL with a bad scheme is rejected", map[string]string{"DATABASE_URL": "mysql://u:S3cr3t-pw@db/app"}, false},
	{"DATABASE_URL with a bad escape is rejected", map[string]string{"DATABASE_URL": "postgres://u:S3cr3t-pw%zz@db/app"}, false},
	{"DATABASE_URL with no host is rejected", map[string]string{"DATABASE_URL": "postgres:///app?password=S3cr3t-pw"}, false},
	{"DATABASE_URL with a password and a bad sslmode is rejected", map[string]string{"DATABASE_URL": "postgres://u:S3cr3t-pw@db/app?sslmode=bogus"}, false},
	{"DATABASE_URL with a ?password= and a bad connect_timeout is rejected", map[string]string{"DATABASE_URL": "postgres://u@db/app?password=S3cr3t-pw&connect_timeout=x"}, false},
	{"DATABASE_URL with a ?password= given twice is rejected", map[string]string{"DATABASE_URL": "postgres://u@db/app?password=S3cr3t-pw&password=S3cr3t-pw"}, false},
	{"DATABASE_URL with a password holding a question mark and a bad sslmode is rejected", map[string]string{"DATABASE_URL": "postgres://u:S3cr3t-pw?x=1@db/app?sslmode=bogus"}, false},
	{"DATABASE_URL as a DSN with a password and a bad sslmode is rejected", map[string]string{"DATABASE_URL": "host=db user=u password=S3cr3t-pw sslmode=bogus"}, false},
	{"DATABASE_PASSWORD", map[string]string{"DATABASE_PASSWORD": "S3cr3t-pw"}, true},
	{"REDIS_URL with the password in userinfo", map[string]string{"REDIS_URL": "redis://:S3cr3t-pw@cache:6379/0"}, true},
	{"REDIS_URL with user and password in userinfo", map[string]string{"REDIS_URL": "rediss://app:S3cr3t-pw@cache:6379/0"}, true},
	{"REDIS_URL with a ?password= query parameter is rejected", map[string]string{"REDIS_URL": "redis://cache:6379/0?password=S3cr3t-pw"}, false},
	{"REDIS_URL with a bad scheme is rejected", map[string]string{"REDIS_URL": "http://:S3cr3t-pw@cache:6379/0"}, false},
	{"REDIS_URL with a bad escape is rejected", map[string]string{"REDIS_URL": "redis://:S3cr3t-pw%zz@cache:6379/0"}, false},
	{"REDIS_PASSWORD", map[string]string{"REDIS_PASSWORD": "S3cr3t-pw"}, true},
	{"both passwords set with a bad SHUTDOWN_TIMEOUT", map[string]string{"DATABASE_PASSWORD": "S3cr3t-pw", "REDIS_PASSWORD": "S3cr3t-pw", "SHUTDOWN_TIMEOUT": "x"}, false},
}

// TestNoSecretInLogsOrErrors checks, for every form, the startup config
// line (as run logs it) and every other rendering when the value is
// accepted, and the error when it is rejected.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	for _, tc := range secretForms {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			for k, v := range tc.env {
				e[k] = v
			}
			c, err := config.Load(env(e), all)
			if tc.accept != (err == nil) {
				t.Fatalf("accepted = %v, want %v (err %v)", err == nil, tc.accept, err)
			}
			var seen []string
			if err != nil {
				seen = append(seen, err.Error())
			} else {
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
				seen = append(seen, buf.String(), c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), config.Redact(c.DatabaseURL), config.Redact(c.RedisURL))
			}
			for _, s := range seen {
				for _, secret := range []string{"S3cr3t", "S3cr3t-pw%zz"} {
					if strings.Contains(s, secret) {
						t.Errorf("secret in %q", s)
					}
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a URL without a secret is unchanged", "postgres://u@db:5432/app?sslmode=disable", "postgres://u@db:5432/app?sslmode=disable"},
		{"a userinfo password is masked", "redis://:pw@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"a password query parameter is masked", "postgres://u@db/app?password=pw&sslmode=disable", "postgres://u@db/app?password=xxxxx&sslmode=disable"},
		{"a DSN password is masked, other values kept", "host=db password=pw dbname=app", "host=db password=xxxxx dbname=app"},
		{"a quoted DSN password is masked", "host=db password='p w' dbname=app", "host=db password=xxxxx dbname=app"},
		{"an unparseable URL is replaced", "postgres://u:pw%zz@db/app", "<unparseable>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := config.Redact(tc.in); got != tc.want {
				t.Fatalf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestParseRedisURLNamesTheCauseButNoPassword: a REDIS_URL go-redis
// refuses is reported with its cause and the URL redacted; net/url's
// errors, which quote the URL and pieces of it, lose their quoted parts.
func TestParseRedisURLNamesTheCauseButNoPassword(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://:S3cr3t-pw%zz@cache:6379/0", `REDIS_URL "<unparseable>": want a URL such as "redis://host:6379/0" or "rediss://…": not a URL: invalid URL escape "…"`},
		{"redis://app:S3cr3t-pw@cache:port/0", `REDIS_URL "<unparseable>": want a URL such as "redis://host:6379/0" or "rediss://…": not a URL: invalid port "…" after host`},
		{"http://app:S3cr3t-pw@cache:6379/0", `REDIS_URL "http://app:xxxxx@cache:6379/0": want a URL such as "redis://host:6379/0" or "rediss://…": redis: invalid URL scheme: http`},
		{"redis://app:S3cr3t-pw@cache:6379/x", `REDIS_URL "redis://app:xxxxx@cache:6379/x": want a URL such as "redis://host:6379/0" or "rediss://…": redis: invalid database number: "x"`},
		{"rediss://app:S3cr3t-pw@cache:6379/0?pool_size=many", `REDIS_URL "rediss://app:xxxxx@cache:6379/0?pool_size=many": want a URL such as "redis://host:6379/0" or "rediss://…": redis: invalid pool_size number: strconv.Atoi: parsing "many": invalid syntax`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := config.ParseRedisURL(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ParseRedisURL(%q) = %v,\nwant %s", tc.in, err, tc.want)
			}
			if strings.Contains(err.Error(), "S3cr3t") {
				t.Fatalf("the password in %v", err)
			}
		})
	}
	o, err := config.ParseRedisURL("rediss://app:S3cr3t-pw@cache:6380/2")
	if err != nil || o.Addr != "cache:6380" || o.DB != 2 || o.Password != "S3cr3t-pw" || o.TLSConfig == nil {
		t.Fatalf("a valid URL: %+v, %v", o, err)
	}
}
