// Package appenv checks an app environment with the app's own config
// loader (app/internal/config), for code outside app/ that writes that
// environment: infra/stackconfig checks each stack's app.env with it, so a
// value the app would refuse at start is refused by `make validate`, not
// by a container after a deploy. There is one copy of the rules: the
// loader's. It also names the variables of `app preview create|drop`,
// which infra/stackconfig.PreviewAdminEnv writes.
package appenv

import (
	"errors"
	"sort"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

// The variables `app preview create|drop` read besides the app's usual
// ones: the PR's database and its owner, and (create) that owner's
// password, a secret. They are the loader's names.
const (
	PreviewDatabase         = config.EnvPreviewDatabase
	PreviewDatabaseUser     = config.EnvPreviewDatabaseUser
	PreviewDatabasePassword = config.EnvPreviewDatabasePassword
)

// Problem is one variable the app refuses.
type Problem struct {
	// Name is the variable's name, e.g. "MAX_BODY_BYTES".
	Name string
	// Message is the app's own: the variable, what it expects and the
	// value it got, e.g. `MAX_BODY_BYTES: must be an integer from 1 to
	// 1073741824 (got "abc")`.
	Message string
}

// Check loads env (an absent name is unset) as the app's serve, worker and
// clock processes do: they need both the database and Redis, so every rule
// of the loader applies (migrate, seed, dbcheck and jobs need a subset).
// It returns the variables the app refuses, sorted by name; none when every
// process would start with env.
func Check(env map[string]string) []Problem {
	return check(env, config.Needs{Database: true, Redis: true})
}

// CheckPreview loads env as `app preview <sub>` does (sub "create" or
// "drop"): the database, the PR's database and user, and create the PR
// user's password, drop Redis. Among its rules: the PR's database and user
// differ from DATABASE_URL's, the admin connection's. The problems are
// Check's.
func CheckPreview(env map[string]string, sub string) []Problem {
	return check(env, config.PreviewNeeds(sub))
}

func check(env map[string]string, needs config.Needs) []Problem {
	_, err := config.Load(func(k string) string { return env[k] }, needs)
	if err == nil {
		return nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		return []Problem{{Message: err.Error()}}
	}
	out := make([]Problem, len(errs))
	for i, e := range errs {
		out[i] = Problem{Name: e.Name, Message: e.Error()}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
