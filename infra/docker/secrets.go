package docker

import (
	"fmt"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// PasswordConfigKeys maps the secret env vars the docker target can generate
// to the Pulumi config keys (namespace "shipyard") that override them.
var PasswordConfigKeys = map[string]string{
	stackconfig.SecretDatabasePassword: "databasePassword",
	stackconfig.SecretRedisPassword:    "redisPassword",
}

// KeptByDown are the URN patterns `make down` (pulumi destroy --exclude)
// leaves in the stack: the generated passwords, which the kept data
// volumes were initialised with, so the next `make up` starts Postgres and
// Redis on them with the same credentials; and the seed of the local HTTPS
// CA, so a CA a user trusted (curl --cacert, a browser) stays valid until
// `make destroy`.
var KeptByDown = []string{
	"**::random:index/randomPassword:RandomPassword::**",
	"**::random:index/randomBytes:RandomBytes::*-https-tls-seed",
}

// secrets holds the value of every secret env var of the stack.
type secrets struct {
	names  []string
	values map[string]pulumi.StringOutput
}

// newSecrets resolves every SecretNames entry. The database and Redis
// passwords are the config secrets shipyard:databasePassword and
// shipyard:redisPassword when set, else a RandomPassword kept (encrypted) in
// the stack's state, so `make up` needs no manual step. Any other secret
// (app.secrets) must be set as a config secret of the same name.
func newSecrets(ctx *pulumi.Context, prefix string, cfg *stackconfig.Config) (*secrets, error) {
	conf := config.New(ctx, "shipyard")
	s := &secrets{names: cfg.SecretNames(), values: map[string]pulumi.StringOutput{}}
	for _, name := range s.names {
		key, generated := PasswordConfigKeys[name]
		if !generated {
			key = name
		}
		if v, err := conf.TrySecret(key); err == nil {
			s.values[name] = v
			continue
		}
		if !generated {
			return nil, fmt.Errorf("secret %s: config secret shipyard:%s is not set; run `pulumi config set --secret %s <value> --stack %s`", name, key, key, cfg.Stack)
		}
		pw, err := random.NewRandomPassword(ctx, prefix+"-"+key, &random.RandomPasswordArgs{
			Length:  pulumi.Int(32),
			Special: pulumi.Bool(false),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		s.values[name] = pw.Result
	}
	return s, nil
}

// envs returns the container env: the stack's plain env (stackconfig's Env
// with the local endpoints) plus every secret, as NAME=value strings.
func (s *secrets) envs(cfg *stackconfig.Config) pulumi.StringArray {
	var out pulumi.StringArray
	for _, v := range cfg.Env(stackconfig.LocalEndpoints) {
		out = append(out, pulumi.String(v.Name+"="+v.Value))
	}
	for _, name := range s.names {
		out = append(out, pulumi.Sprintf("%s=%s", name, s.values[name]))
	}
	return out
}
