package docker

import "github.com/shipyard-kit/shipyard/infra/stackconfig"

// The base stack outputs a docker PR stack reads through its
// StackReference (secrets as secret outputs), and `shipyard pr-down`.
const (
	OutputNetworkName      = "networkName"
	OutputDatabaseCAVolume = "databaseCaVolume"
	OutputDatabasePassword = "databasePassword"
	OutputRedisPassword    = "redisPassword"
	OutputHTTPSTLSSeed     = "httpsTlsSeed"
)

// PreviewAdminEnv is the plain env of `app preview create|drop` for the PR
// of cfg (a PR stack's config with its slot): the base's DATABASE_URL (its
// admin user and database), the PR's REDIS_URL (its slot's database), and
// the PR's database and user. The passwords are added by the caller:
// DATABASE_PASSWORD (the base's), PREVIEW_DATABASE_PASSWORD (create) and
// REDIS_PASSWORD (drop).
func PreviewAdminEnv(cfg *stackconfig.Config) []stackconfig.EnvVar {
	base := *cfg
	base.Preview = nil
	pick := func(c *stackconfig.Config, name string) string {
		for _, v := range c.Env(stackconfig.LocalEndpoints) {
			if v.Name == name {
				return v.Value
			}
		}
		return ""
	}
	return []stackconfig.EnvVar{
		{Name: "APP_ENV", Value: cfg.Stack},
		{Name: "LOG_LEVEL", Value: cfg.App.LogLevel},
		{Name: "DATABASE_URL", Value: pick(&base, "DATABASE_URL")},
		{Name: "REDIS_URL", Value: pick(cfg, "REDIS_URL")},
		{Name: "PREVIEW_DATABASE", Value: cfg.Preview.Database()},
		{Name: "PREVIEW_DATABASE_USER", Value: cfg.Preview.Database()},
	}
}
