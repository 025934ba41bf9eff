package stackconfig

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/appenv"
)

func TestAPRStackIsItsBaseStacksConfigWithThePRSet(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"dev":   string(patched(t, awsBase, `{"previews": {"enabled": true, "maxConcurrent": 3}}`)),
		"local": string(patched(t, dockerBase, `{"previews": {"enabled": true}}`)),
		"qa":    awsBase,
	})
	cfg, err := Load(dir, "dev-pr-7")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stack != "dev-pr-7" || !cfg.IsPreview() || cfg.Preview.Base != "dev" || cfg.Preview.Number != 7 || cfg.Preview.Slot != 0 {
		t.Fatalf("Stack %q, Preview %+v", cfg.Stack, cfg.Preview)
	}
	if cfg.Preview.Host() != "pr-7" || cfg.Preview.Database() != "pr_7" || cfg.Previews.MaxConcurrent != 3 {
		t.Errorf("host %q, database %q, maxConcurrent %d", cfg.Preview.Host(), cfg.Preview.Database(), cfg.Previews.MaxConcurrent)
	}
	base, err := Load(dir, "dev")
	if err != nil || base.IsPreview() {
		t.Fatalf("the base stack itself: %v, preview %+v", err, base.Preview)
	}
	if c, err := Load(dir, "local-pr-12"); err != nil || c.Target != TargetDocker || c.Preview.Number != 12 {
		t.Errorf("local-pr-12: %v", err)
	}

	for _, tc := range []struct{ stack, wantErr string }{
		{"qa-pr-1", "config/qa.json has previews.enabled false"},
		{"nope-pr-1", `unknown stack "nope-pr-1"`},
		{"dev-pr-0", `unknown stack "dev-pr-0"`},
	} {
		if _, err := Load(dir, tc.stack); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Load(%s) = %v, want an error containing %q", tc.stack, err, tc.wantErr)
		}
	}
}

func TestThePRSlotComesFromTheCLIWithinMaxConcurrent(t *testing.T) {
	dir := writeDir(t, map[string]string{"dev": string(patched(t, awsBase, `{"previews": {"enabled": true, "maxConcurrent": 3}}`))})
	cfg, err := Load(dir, "dev-pr-7")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "0", "4", "x"} {
		if err := cfg.SetPreviewSlot(bad); err == nil || !strings.Contains(err.Error(), PreviewSlotEnv) || !strings.Contains(err.Error(), "make pr-up PR=7 STACK=dev") {
			t.Errorf("slot %q: %v", bad, err)
		}
	}
	if err := cfg.SetPreviewSlot("3"); err != nil || cfg.Preview.Slot != 3 {
		t.Errorf("slot 3: %v, %d", err, cfg.Preview.Slot)
	}
}

func TestPRStackNames(t *testing.T) {
	for _, tc := range []struct {
		stack string
		base  string
		n     int
		ok    bool
	}{
		{"dev-pr-7", "dev", 7, true},
		{"my-app-pr-1234", "my-app", 1234, true},
		{"dev", "", 0, false},
		{"dev-pr-", "", 0, false},
		{"dev-pr-07", "", 0, false},
		{"pr-7", "", 0, false},
	} {
		base, n, ok := PreviewOf(tc.stack)
		if base != tc.base || n != tc.n || ok != tc.ok {
			t.Errorf("PreviewOf(%q) = %q, %d, %v", tc.stack, base, n, ok)
		}
		if ok && PreviewStackName(base, n) != tc.stack {
			t.Errorf("PreviewStackName(%q, %d) = %q", base, n, PreviewStackName(base, n))
		}
	}
	for _, bad := range []string{"", "0", "-3", "seven", "10000000"} {
		if _, err := ParsePR(bad); err == nil || !strings.HasPrefix(err.Error(), "PR") || !strings.Contains(err.Error(), "allowed a pull request number from 1 to 9999999") {
			t.Errorf("ParsePR(%q) = %v", bad, err)
		}
	}
}

func TestPreviewsAreRefusedOnProdAndTheirPortsMissTheStacks(t *testing.T) {
	for _, tc := range []struct {
		name, stack, base, patch string
		wants                    []want
	}{
		{"previews on prod are refused", "prod", awsBase, `{"previews": {"enabled": true}}`,
			[]want{{"previews.enabled", "PR environments share their base stack's database instance"}}},
		{"PR ports over the stack's HTTPS port are refused", "local", dockerBase, `{"previews": {"enabled": true, "localPortBase": 8440}}`,
			[]want{{"previews.localPortBase", "include local.httpsPort (8443)"}}},
		{"previews off need no free ports", "local", dockerBase, `{"previews": {"localPortBase": 8440}}`, nil},
		{"sixteen slots are refused by the schema", "dev", awsBase, `{"previews": {"enabled": true, "maxConcurrent": 16}}`,
			[]want{{"previews.maxConcurrent", "15"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.stack, patched(t, tc.base, tc.patch), repoSchema(t))
			if tc.stack == "prod" && err != nil {
				// prod has rules of its own; keep only the previews problem.
				var keep []Problem
				for _, p := range problemsOf(t, err) {
					if strings.HasPrefix(p.Path, "previews") {
						keep = append(keep, p)
					}
				}
				checkProblems(t, keep, tc.wants...)
				return
			}
			checkProblems(t, problemsOf(t, err), tc.wants...)
		})
	}
}

func TestAPRsEnvUsesItsOwnDatabaseUserAndRedisDatabase(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config"), "local-pr-7")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetPreviewSlot("3"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, v := range cfg.Env(LocalEndpoints) {
		env[v.Name] = v.Value
	}
	if got, want := env["DATABASE_URL"], "postgres://pr_7@postgres:5432/pr_7?sslmode=verify-full&sslrootcert="+LocalDatabaseCAPath; got != want {
		t.Errorf("DATABASE_URL %s, want %s", got, want)
	}
	if got := env["REDIS_URL"]; got != "redis://redis:6379/3" {
		t.Errorf("REDIS_URL %s, want db 3", got)
	}
	if got := env["APP_ENV"]; got != "local-pr-7" {
		t.Errorf("APP_ENV %s", got)
	}
	base, err := Load(filepath.Join("..", "..", "config"), "local")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range base.Env(LocalEndpoints) {
		if v.Name == "REDIS_URL" && v.Value != "redis://redis:6379/0" || v.Name == "DATABASE_URL" && strings.Contains(v.Value, "pr_") {
			t.Errorf("the base's %s changed: %s", v.Name, v.Value)
		}
	}
}

func TestSetPreviewImageTakesOnlyADigest(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config"), "local-pr-7")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetPreviewImage("shipyard-app:local"); err == nil || !strings.Contains(err.Error(), PreviewImageEnv) {
		t.Fatalf("a tag was accepted: %v", err)
	}
	d := "sha256:" + strings.Repeat("ab", 32)
	if err := cfg.SetPreviewImage(d); err != nil || cfg.Release.ImageDigest != d {
		t.Fatalf("%v %q", err, cfg.Release.ImageDigest)
	}
}

// TestPreviewAdminEnvIsThePRsEnvWithTheBasesAdminConnection: `app preview
// create|drop` get one environment on both targets: every variable of the
// PR's processes (app.env included), DATABASE_URL the base's, and the
// PR's database and user; with the target's secrets added, the app's own
// loader accepts it for both commands.
func TestPreviewAdminEnvIsThePRsEnvWithTheBasesAdminConnection(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"dev":   string(patched(t, awsBase, `{"previews": {"enabled": true}, "app": {"env": {"FEATURE_X": "on"}}}`)),
		"local": string(patched(t, dockerBase, `{"previews": {"enabled": true}, "app": {"env": {"FEATURE_X": "on"}}}`)),
	})
	for _, tc := range []struct {
		base string
		ep   Endpoints
	}{
		{"dev", Endpoints{DatabaseHost: "db.abc.eu-west-1.rds.amazonaws.com", DatabasePort: 5432, RedisHost: "master.cache.amazonaws.com", RedisPort: 6379}},
		{"local", LocalEndpoints},
	} {
		t.Run(tc.base, func(t *testing.T) {
			pr, err := Load(dir, PreviewStackName(tc.base, 7))
			if err != nil {
				t.Fatal(err)
			}
			if err := pr.SetPreviewSlot("2"); err != nil {
				t.Fatal(err)
			}
			base, err := Load(dir, tc.base)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for _, v := range pr.Env(tc.ep) {
				want[v.Name] = v.Value
			}
			for _, v := range base.Env(tc.ep) {
				if v.Name == "DATABASE_URL" {
					want[v.Name] = v.Value
				}
			}
			want[appenv.PreviewDatabase], want[appenv.PreviewDatabaseUser] = "pr_7", "pr_7"

			env := pr.PreviewAdminEnv(tc.ep)
			got := map[string]string{}
			for i, v := range env {
				if i > 0 && env[i-1].Name >= v.Name {
					t.Errorf("not sorted by name, or %s twice", v.Name)
				}
				got[v.Name] = v.Value
			}
			if !maps.Equal(got, want) {
				t.Errorf("PreviewAdminEnv\n got %v\nwant %v (the PR's env, the base's DATABASE_URL, the PR's database and user)", got, want)
			}
			if got["OTEL_EXPORTER_OTLP_ENDPOINT"] == "" || got["REQUEST_TIMEOUT"] == "" || got["FEATURE_X"] != "on" || got["REDIS_URL"] != want["REDIS_URL"] || !strings.HasSuffix(got["REDIS_URL"], "/2") {
				t.Errorf("the PR's own variables are missing: %v", got)
			}

			secrets := map[string]string{SecretDatabasePassword: "base-admin-password", SecretRedisPassword: "redis-password",
				appenv.PreviewDatabasePassword: "correct-horse-battery-staple"}
			for k, v := range secrets {
				got[k] = v
			}
			for _, sub := range []string{"create", "drop"} {
				if ps := appenv.CheckPreview(got, sub); len(ps) > 0 {
					t.Errorf("app preview %s refuses it: %v", sub, ps)
				}
			}
		})
	}
}
