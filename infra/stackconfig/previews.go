package stackconfig

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/shipyard-kit/shipyard/app/appenv"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

// Previews are a stack's pull-request environments (docs/operations.md):
// PR n of base stack B is the stack "B-pr-n" (PreviewStackName). It has no
// file of its own: Load gives it B's config with Preview set, and its
// program creates only per-PR resources, reading B's shared ones (network,
// cluster, load balancer, database instance, cache) through a
// StackReference to B.
type Previews struct {
	Enabled bool `json:"enabled"`
	// MaxConcurrent bounds the PR environments of the stack alive at once;
	// each holds one slot (1..MaxConcurrent): its Redis logical database
	// and, on docker, its port.
	MaxConcurrent int `json:"maxConcurrent"`
	// TTLHours is how long after its last deploy `make pr-reap` keeps a
	// PR environment.
	TTLHours int `json:"ttlHours"`
	// LogRetentionDays is a PR environment's CloudWatch retention (aws).
	LogRetentionDays int `json:"logRetentionDays"`
	// LocalPortBase: on docker, the PR environment in slot s serves HTTPS
	// on 127.0.0.1:LocalPortBase+s.
	LocalPortBase int `json:"localPortBase"`
}

// MaxPreviewSlots is the most PR environments a stack can have: Redis has
// 16 logical databases and the base stack's app keeps database 0.
const MaxPreviewSlots = 15

// Preview identifies a PR environment; it is set (non-nil) only on the
// Config that Load returns for a PR stack.
type Preview struct {
	// Base is the stack whose shared infrastructure the PR runs on.
	Base string
	// Number is the pull request's number.
	Number int
	// Slot (1..previews.maxConcurrent) is the PR's Redis logical database
	// and, on docker, its port offset. The CLI allocates it (the lowest
	// slot no other PR environment of Base holds) and hands it to the
	// program in PreviewSlotEnv; 0 until then.
	Slot int
}

// PreviewSlotEnv is the variable `shipyard pr-up` hands a PR stack's slot
// to the Pulumi program in.
const PreviewSlotEnv = "SHIPYARD_PR_SLOT"

// Host is the PR's host label: "pr-<n>" (pr-7.dev.example.com on aws,
// pr-7.localhost on docker).
func (p *Preview) Host() string { return "pr-" + strconv.Itoa(p.Number) }

// Database is the name of the PR's database and of its database user.
func (p *Preview) Database() string { return "pr_" + strconv.Itoa(p.Number) }

// IsPreview reports whether c is a PR environment's config.
func (c *Config) IsPreview() bool { return c.Preview != nil }

var previewNameRE = regexp.MustCompile(`^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)-pr-([1-9][0-9]{0,6})$`)

// PreviewStackName is the stack of PR n of base: "<base>-pr-<n>".
func PreviewStackName(base string, n int) string { return base + "-pr-" + strconv.Itoa(n) }

// PreviewOf splits a PR stack's name into its base stack and PR number; ok
// is false when stack is not of the form "<base>-pr-<n>".
func PreviewOf(stack string) (base string, n int, ok bool) {
	m := previewNameRE.FindStringSubmatch(stack)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, false
	}
	return m[1], n, true
}

// ParsePR parses a pull request number as given to `make pr-up PR=<n>`
// (preflight.ParsePR, the one rule, which the Makefile runs before it
// builds anything).
func ParsePR(s string) (int, error) { return preflight.ParsePR(s) }

// loadPreview returns the config of PR stack name: its base's, validated
// as the base's is, with Stack and Preview set.
func loadPreview(dir, name, base string, n int) (*Config, error) {
	cfg, err := Load(dir, base)
	if err != nil {
		return nil, fmt.Errorf("stack %s is PR %d of %s: %w", name, n, base, err)
	}
	if !cfg.Previews.Enabled {
		return nil, fmt.Errorf("stack %s is PR %d of %s, but config/%s.json has previews.enabled false; allowed: set it to true (never on %s)", name, n, base, base, ProdStack)
	}
	if len(name) > maxPreviewStackName {
		return nil, fmt.Errorf("stack %s: PR stack names have at most %d characters (they name AWS target groups); allowed: a shorter base stack name or PR number", name, maxPreviewStackName)
	}
	cfg.Stack = name
	cfg.Preview = &Preview{Base: base, Number: n}
	return cfg, nil
}

// maxPreviewStackName keeps "shipyard-<stack>-web" within a target
// group name's 32 characters.
const maxPreviewStackName = 32 - len("shipyard-") - len("-web")

// SetPreviewSlot sets a PR config's slot from PreviewSlotEnv's value,
// checked against previews.maxConcurrent.
func (c *Config) SetPreviewSlot(value string) error {
	if c.Preview == nil {
		return nil
	}
	s, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || s < 1 || s > c.Previews.MaxConcurrent {
		return fmt.Errorf("%s=%q: stack %s needs its slot, from 1 to previews.maxConcurrent (%d); deploy PR environments with `make pr-up PR=%d STACK=%s`, which allocates it", PreviewSlotEnv, value, c.Stack, c.Previews.MaxConcurrent, c.Preview.Number, c.Preview.Base)
	}
	c.Preview.Slot = s
	return nil
}

var previewRules = []Rule{
	{
		Doc: "`previews.enabled` is false on prod: PR environments share their base stack's database instance and cache.",
		check: func(c *Config, ps *problems) {
			if c.Previews.Enabled && c.IsProd() {
				ps.add("previews.enabled", "true on %s: PR environments share their base stack's database instance and cache; allowed: false here, true on dev, staging or a docker stack", ProdStack)
			}
		},
	},
	{
		Doc: "On `docker` with previews enabled, the PR ports `previews.localPortBase`+1 to `previews.localPortBase`+`previews.maxConcurrent` miss the stack's own `local.*Port`s.",
		check: func(c *Config, ps *problems) {
			if c.Target != TargetDocker || !c.Previews.Enabled {
				return
			}
			lo, hi := c.Previews.LocalPortBase+1, c.Previews.LocalPortBase+c.Previews.MaxConcurrent
			for _, o := range []struct {
				field string
				port  int
			}{{"local.httpPort", c.Local.HTTPPort}, {"local.httpsPort", c.Local.HTTPSPort}, {"local.prometheusPort", c.Local.PrometheusPort}, {"local.jaegerPort", c.Local.JaegerPort}} {
				if o.port >= lo && o.port <= hi {
					ps.addAbout("previews.localPortBase", []string{o.field, "previews.maxConcurrent"}, "PR ports %d to %d include %s (%d); allowed: a base whose %d ports miss it", lo, hi, o.field, o.port, c.Previews.MaxConcurrent)
				}
			}
		},
	},
}

// PreviewImageEnv is the variable `shipyard pr-up` hands a PR stack's
// image to the Pulumi program in: "sha256:<64 hex>", the image ID on
// docker, the pushed image's digest on aws. Unset, a docker PR runs what
// `make image` built last.
const PreviewImageEnv = "SHIPYARD_PR_IMAGE"

var imageDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// SetPreviewImage sets a PR config's image (Release.ImageDigest, which
// the programs run) from PreviewImageEnv's value; "" keeps the base's.
func (c *Config) SetPreviewImage(value string) error {
	if c.Preview == nil || value == "" {
		return nil
	}
	if !imageDigestRE.MatchString(value) {
		return fmt.Errorf("%s=%q: allowed an image digest or ID \"sha256:<64 hex digits>\"", PreviewImageEnv, value)
	}
	c.Release.ImageDigest = value
	return nil
}

// PreviewAdminEnv is the plain environment of `app preview create|drop`
// for PR config c, the same on both targets (the docker program's create
// container and `shipyard pr-down`'s drop container; the aws admin task
// definition): c's own Env, as every process of the PR has it (APP_ENV the
// PR stack, REDIS_URL its slot's logical database, the log level, the
// timeouts, tracing, app.env), except DATABASE_URL, which is the base
// stack's (its admin user on its database: the connection the commands
// make the PR's role and database with), plus appenv.PreviewDatabase and
// appenv.PreviewDatabaseUser (pr_<n>). Sorted by name.
//
// The secrets are each target's to add, as it adds every process's:
// SecretDatabasePassword (the base admin's password: the base stack's
// output on docker, the RDS master user secret on aws),
// appenv.PreviewDatabasePassword (the PR user's, which create sets: the PR
// stack generates it) and SecretRedisPassword (drop empties the PR's Redis
// database). The aws task definition holds all three, as ECS secrets, for
// both commands; docker passes create the first two and drop the first and
// the last, as plain container env.
//
// It panics when c is not a PR stack's config.
func (c *Config) PreviewAdminEnv(ep Endpoints) []EnvVar {
	if c.Preview == nil {
		panic("stackconfig: PreviewAdminEnv of stack " + c.Stack + ", which is no PR environment")
	}
	base := *c
	base.Preview = nil
	set := map[string]string{
		envDatabaseURL:             databaseURL(&base, ep),
		appenv.PreviewDatabase:     c.Preview.Database(),
		appenv.PreviewDatabaseUser: c.Preview.Database(),
	}
	var env []EnvVar
	for _, v := range c.Env(ep) {
		if _, ok := set[v.Name]; !ok { // app.env never overrides these
			env = append(env, v)
		}
	}
	for k, v := range set {
		env = append(env, EnvVar{Name: k, Value: v})
	}
	sort.Slice(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	return env
}

// previewRedisDB is the Redis logical database of the config's app: the
// PR's slot, 0 for a base stack.
func (c *Config) previewRedisDB() int {
	if c.Preview != nil {
		return c.Preview.Slot
	}
	return 0
}

// appDatabase is the database and user the config's app connects as: the
// PR's own (pr_<n>) on a PR stack, database.name and database.username
// otherwise.
func (c *Config) appDatabase() (name, user string) {
	if c.Preview != nil {
		return c.Preview.Database(), c.Preview.Database()
	}
	return c.Database.Name, c.Database.Username
}
