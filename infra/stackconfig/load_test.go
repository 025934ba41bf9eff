package stackconfig

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEveryStackFileValidates loads every config/*.json of the repository,
// one by one (Load) and all together (LoadAll).
func TestEveryStackFileValidates(t *testing.T) {
	names, err := Stacks(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"local", "dev", "staging", "prod"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("config/%s.json is missing; stacks: %v", want, names)
		}
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			cfg, err := Load(repoConfig, n)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Stack != n {
				t.Errorf("Stack = %q", cfg.Stack)
			}
			data, err := os.ReadFile(filepath.Join(repoConfig, n+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), `"$schema": "./schema.json"`) {
				t.Errorf("%s.json does not reference the schema with \"$schema\": \"./schema.json\"", n)
			}
		})
	}
	all, err := LoadAll(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(names) {
		t.Errorf("LoadAll loaded %d stacks, want %d", len(all), len(names))
	}
	if !all[ProdStack].IsProd() || all["local"].IsProd() {
		t.Error("IsProd is wrong")
	}
}

// TestBadInput checks that each kind of bad input is a clear error naming
// the file (and line, column or field) and what is allowed.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // stack files; "schema" replaces schema.json, "-schema" removes it
		stack string
		want  []string // substrings of the error
	}{
		{name: "malformed JSON reports line and column",
			files: map[string]string{"dev": "{\n  \"target\": \"aws\",\n  \"aws\" {}\n}\n"}, stack: "dev",
			want: []string{"dev.json: invalid JSON at line 3, column 9", "after object key"}},
		{name: "a missing closing brace reports the end of the file",
			files: map[string]string{"dev": "{\n  \"target\": \"aws\"\n"}, stack: "dev",
			want: []string{"dev.json: invalid JSON at line 3, column 1", "unexpected end"}},
		{name: "a trailing comma is a syntax error",
			files: map[string]string{"dev": `{"target": "docker",}`}, stack: "dev",
			want: []string{"dev.json: invalid JSON at line 1, column 21"}},
		{name: "data after the object is rejected",
			files: map[string]string{"dev": `{"target": "docker"} {}`}, stack: "dev",
			want: []string{"dev.json: invalid JSON at line 1, column", "unexpected data after the top-level value"}},
		{name: "an empty file is rejected",
			files: map[string]string{"dev": "  \n"}, stack: "dev",
			want: []string{"dev.json: empty file; want a JSON object"}},
		{name: "a top-level array is rejected",
			files: map[string]string{"dev": `[]`}, stack: "dev",
			want: []string{"dev.json: 1 problem(s):", "[] is an array; want an object"}},
		{name: "a wrong type names the field and the wanted type",
			files: map[string]string{"dev": `{"target": "docker", "services": {"web": {"cpu": "256"}}}`}, stack: "dev",
			want: []string{"dev.json: 1 problem(s):", `services.web.cpu: "256" is a string; want an integer`}},
		{name: "a fractional count is not an integer",
			files: map[string]string{"dev": `{"target": "docker", "services": {"web": {"maxCount": 2.5}}}`}, stack: "dev",
			want: []string{"services.web.maxCount: 2.5 is a number; want an integer"}},
		{name: "null is a wrong type",
			files: map[string]string{"dev": `{"target": null}`}, stack: "dev",
			want: []string{"target: null is null; want a string"}},
		{name: "an unknown field is an error with a suggestion and the allowed fields",
			files: map[string]string{"dev": `{"target": "docker", "servics": {}}`}, stack: "dev",
			want: []string{`servics: unknown field (did you mean "services"?); allowed: $schema, alarms, app, aws, bootstrap, cache, ci, cost, database, deploy, loadBalancer, local, logging, network, previews, release, services, tags, target`}},
		{name: "an unknown nested field is an error",
			files: map[string]string{"dev": `{"target": "docker", "services": {"web": {"memruy": 1024}}}`}, stack: "dev",
			want: []string{`services.web.memruy: unknown field (did you mean "memory"?); allowed: autoscaling, cpu,`}},
		{name: "a missing target is an error naming the targets",
			files: map[string]string{"dev": `{}`}, stack: "dev",
			want: []string{`target: is required; allowed "aws", "docker"`}},
		{name: "a number beyond float64 names its field and range, not a column",
			files: map[string]string{"dev": `{"target": "docker", "local": {"httpPort": 1e400}}`}, stack: "dev",
			want: []string{"dev.json: 1 problem(s):", "line 1: local.httpPort: 1e400 is too large; allowed 1 to 65535"}},
		{name: "a number beyond float64 in a field without a maximum names its field and range",
			files: map[string]string{"dev": `{"target": "docker", "alarms": {"overrides": {"cpuHigh": {"threshold": 1e400}}}}`}, stack: "dev",
			want: []string{"dev.json: 1 problem(s):", "alarms.overrides.cpuHigh.threshold: 1e400 is beyond the largest number a field can hold (about 1.8e308); allowed at least 0"}},
		{name: "an unknown stack lists the known stacks",
			files: map[string]string{"dev": dockerBase, "prod": dockerBase}, stack: "qa",
			want: []string{`unknown stack "qa": there is no `, "qa.json; known stacks: dev, prod"}},
		{name: "a stack name with a path is unknown",
			files: map[string]string{"dev": dockerBase}, stack: "../config/dev",
			want: []string{`unknown stack "../config/dev"`, "known stacks: dev"}},
		{name: "an empty directory has no known stacks",
			files: map[string]string{}, stack: "dev",
			want: []string{`unknown stack "dev"`, "known stacks: none"}},
		{name: "a key given twice in one object is refused naming the key and both lines",
			files: map[string]string{"dev": "{\n  \"target\": \"docker\",\n  \"services\": {\"web\": {\"cpu\": 256,\n    \"cpu\": 512}}\n}\n"}, stack: "dev",
			want: []string{`dev.json: line 4: duplicate key "cpu" in services.web (first at line 3); each key may appear once`}},
		{name: "a top-level key given twice is refused",
			files: map[string]string{"dev": "{\"target\": \"docker\",\n\"target\": \"aws\"}"}, stack: "dev",
			want: []string{`line 2: duplicate key "target" in the top level (first at line 1)`}},
		{name: "a semantic error carries the line of its field",
			files: map[string]string{"dev": "{\n  \"target\": \"docker\",\n  \"services\": {\n    \"web\": {\n      \"cpu\": 300\n    }\n  }\n}\n"}, stack: "dev",
			want: []string{"line 5: services.web.cpu: 300 is not a Fargate size"}},
		{name: "a cross-field error on a defaulted field carries the line of the nearest enclosing object",
			files: map[string]string{"dev": "{\n  \"target\": \"docker\",\n  \"services\": {\n    \"web\": {\"cpu\": 256,\n      \"memory\": 4096}\n  }\n}\n"}, stack: "dev",
			want: []string{"line 5: services.web.memory: 4096 is not a Fargate memory size for cpu 256"}},
		{name: "a stray copy such as dev.old.json is not a stack, and says why",
			files: map[string]string{"dev": dockerBase, "dev.old": dockerBase}, stack: "dev.old",
			want: []string{`unknown stack "dev.old": not a stack name (stack names match ^[a-z][a-z0-9]*(-[a-z0-9]+)*$`, "dev.old.json is not a stack", "known stacks: dev"}},
		{name: "a missing schema is an error",
			files: map[string]string{"dev": dockerBase, "-schema": ""}, stack: "dev",
			want: []string{"schema.json is missing; every stack file is validated against it"}},
		{name: "a malformed schema is an error naming the schema",
			files: map[string]string{"dev": dockerBase, "schema": "{\"type\": }"}, stack: "dev",
			want: []string{"schema.json: invalid JSON at line 1, column 10"}},
		{name: "an invalid schema is an error naming the schema",
			files: map[string]string{"dev": dockerBase, "schema": `{"type": 5}`}, stack: "dev",
			want: []string{"compiling schema.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tt.files {
				if k != "schema" && k != "-schema" {
					files[k] = v
				}
			}
			dir := writeDir(t, files)
			if s, ok := tt.files["schema"]; ok {
				if err := os.WriteFile(filepath.Join(dir, SchemaFile), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok := tt.files["-schema"]; ok {
				if err := os.Remove(filepath.Join(dir, SchemaFile)); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(dir, tt.stack)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadOfAMissingDirectoryFails(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"), "dev")
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "listing stacks") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadAll(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("LoadAll of a missing directory succeeded")
	}
}

func TestProblemsAreSortedAndWrapped(t *testing.T) {
	dir := writeDir(t, map[string]string{"dev": `{"target": "aws", "services": {"web": {"cpu": 300}}}`})
	_, err := Load(dir, "dev")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	paths := []string{}
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	want := []string{"aws.region", "loadBalancer", "services.web.cpu"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths = %v, want %v", paths, want)
	}
	if !strings.HasPrefix(err.Error(), filepath.Join(dir, "dev.json")+": 3 problem(s):\n  aws.region: ") {
		t.Errorf("error = %q", err)
	}
}

// TestLocalMirrorsProdVersions covers the cross-stack rule and its API.
func TestLocalMirrorsProdVersions(t *testing.T) {
	const prod = `{"target": "aws", "aws": {"region": "eu-west-1"}, "loadBalancer": {"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
		"services": {"web": {"minCount": 2, "desiredCount": 2}}, "database": {"multiAz": true, "deletionProtection": true, "engineVersion": "16.4"}, "cache": {"engineVersion": "7.2"},
		"network": {"natGateways": "perAz"}, "alarms": {"notify": {"emails": ["oncall@example.com"]}}, "ci": {"pullRequestPreviews": false}}`
	tests := []struct {
		name       string
		local      string
		localWant  []want
		prodWant   []want
		withoutPrd bool
	}{
		{name: "local on prod's majors is valid",
			local: `{"target": "docker", "local": {"images": {"postgres": "postgres:16", "redis": "redis:7.2-alpine"}}}`},
		{name: "a local Postgres major other than prod's is rejected in both files",
			local:     `{"target": "docker", "local": {"images": {"postgres": "postgres:15"}}}`,
			localWant: []want{{"local.images.postgres", `"postgres:15" runs Postgres 15 but prod runs Postgres 16 (database.engineVersion "16.4"); allowed: a tag starting with 16, e.g. "postgres:16"`}},
			prodWant:  []want{{"database.engineVersion", `"16.4" is Postgres 16 but docker stack "local" runs Postgres 15`}}},
		{name: "a local Redis major other than prod's is rejected in both files",
			local:     `{"target": "docker", "local": {"images": {"postgres": "postgres:16", "redis": "redis:6"}}}`,
			localWant: []want{{"local.images.redis", `allowed: a tag starting with 7, e.g. "redis:7"`}},
			prodWant:  []want{{"cache.engineVersion", `docker stack "local" runs Redis 6`}}},
		{name: "an image from a registry with a port is read by its tag",
			local: `{"target": "docker", "local": {"images": {"postgres": "registry.local:5000/lib/postgres:16.1", "redis": "redis:7"}}}`},
		{name: "without a prod stack there is nothing to compare", withoutPrd: true,
			local: `{"target": "docker", "local": {"images": {"postgres": "postgres:12"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"local": tt.local, "dev": awsBase}
			if !tt.withoutPrd {
				files["prod"] = prod
			}
			dir := writeDir(t, files)
			_, err := Load(dir, "local")
			checkProblems(t, problemsOf(t, err), tt.localWant...)
			if !tt.withoutPrd {
				_, err = Load(dir, "prod")
				checkProblems(t, problemsOf(t, err), tt.prodWant...)
			}
			if _, err := Load(dir, "dev"); err != nil {
				t.Errorf("dev (aws) is not compared: %v", err)
			}
			all, err := LoadAll(dir)
			if (len(tt.localWant) > 0) != (err != nil) {
				t.Errorf("LoadAll error = %v", err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "local.json") || !strings.Contains(err.Error(), "prod.json") {
					t.Errorf("LoadAll error does not name both files: %v", err)
				}
				if all["dev"] == nil || all["local"] != nil {
					t.Errorf("LoadAll returned %v", all)
				}
			}
		})
	}
}

func TestACrossStackMismatchIsReportedWithTheFilesOwnProblems(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"prod":  `{"target": "aws", "database": {"engineVersion": "16.4"}}`, // invalid, but parses
		"local": `{"target": "docker", "app": {"logLevel": "loud"}}`,
	})
	_, err := Load(dir, "local")
	checkProblems(t, problemsOf(t, err),
		want{"app.logLevel", "not a log level"},
		want{"local.images.postgres", "prod runs Postgres 16"})
}

func TestAProdThatDoesNotParseIsNotCompared(t *testing.T) {
	dir := writeDir(t, map[string]string{"prod": `{`, "local": `{"target": "docker"}`})
	if _, err := Load(dir, "local"); err != nil {
		t.Errorf("local: %v", err)
	}
	all, err := LoadAll(dir)
	if err == nil || !strings.Contains(err.Error(), "prod.json: invalid JSON") || all["local"] == nil {
		t.Errorf("LoadAll = %v, %v", all, err)
	}
}

func TestCrossStackProblemsInCode(t *testing.T) {
	prod, local := Defaults(), Defaults()
	prod.Stack, prod.Target = ProdStack, TargetAWS
	local.Stack, local.Target = "local", TargetDocker
	others := map[string]*Config{"prod": &prod, "local": &local}
	if ps := CrossStackProblems(&local, others); len(ps) != 0 {
		t.Errorf("defaults: %v", ps)
	}
	local.Local.Images.Redis = "redis:8"
	checkProblems(t, CrossStackProblems(&local, others), want{"local.images.redis", "runs Redis 8 but prod runs Redis 7"})
	checkProblems(t, CrossStackProblems(&prod, others), want{"cache.engineVersion", `docker stack "local" runs Redis 8`})
}

func TestImageMajor(t *testing.T) {
	for image, want := range map[string]string{
		"postgres:15":                      "15",
		"postgres:15.4-alpine":             "15",
		"redis:7":                          "7",
		"localhost:5000/redis:7.2":         "7",
		"localhost:5000/redis":             "",
		"postgres":                         "",
		"postgres:latest":                  "",
		"postgres:16@sha256:" + hex64('a'): "16",
	} {
		if got := ImageMajor(image); got != want {
			t.Errorf("ImageMajor(%q) = %q, want %q", image, got, want)
		}
	}
	for v, want := range map[string]string{"15.10": "15", "7.1": "7", "16": "16", "": "", "x": ""} {
		if got := VersionMajor(v); got != want {
			t.Errorf("VersionMajor(%q) = %q, want %q", v, got, want)
		}
	}
}

func hex64(c byte) string { return strings.Repeat(string(c), 64) }

func TestFindDir(t *testing.T) {
	noEnv := func(string) string { return "" }
	dir, err := FindDir(noEnv, ".")
	if err != nil {
		t.Fatal(err)
	}
	if abs, _ := filepath.Abs(repoConfig); dir != abs {
		t.Errorf("FindDir = %s, want %s", dir, abs)
	}
	tmp := writeDir(t, nil)
	dir, err = FindDir(func(k string) string {
		if k == DirEnv {
			return tmp
		}
		return ""
	}, ".")
	if err != nil || dir != tmp {
		t.Errorf("FindDir with %s = %q, %v", DirEnv, dir, err)
	}
	empty := t.TempDir()
	if _, err := FindDir(func(k string) string {
		if k == DirEnv {
			return empty
		}
		return ""
	}, "."); err == nil || !strings.Contains(err.Error(), "no schema.json there") {
		t.Errorf("FindDir with an empty %s: %v", DirEnv, err)
	}
	if _, err := FindDir(noEnv, "/"); err == nil || !strings.Contains(err.Error(), "no config/schema.json found") {
		t.Errorf("FindDir from /: %v", err)
	}
}

func TestParseRejectsANonObjectEvenWithALaxSchema(t *testing.T) {
	_, err := Parse("dev", []byte(`[1]`), []byte(`{"$schema": "https://json-schema.org/draft/2020-12/schema"}`))
	checkProblems(t, problemsOf(t, err), want{"", "[1] is not a JSON object"})
}

func TestAUTF8ByteOrderMarkIsAccepted(t *testing.T) {
	dir := writeDir(t, map[string]string{"dev": "\ufeff{\n  \"target\": \"docker\"\n}\n"})
	cfg, err := Load(dir, "dev")
	if err != nil {
		t.Fatalf("a file starting with a UTF-8 BOM: %v", err)
	}
	if cfg.Target != TargetDocker {
		t.Errorf("target %q", cfg.Target)
	}
}

// A byte that is not UTF-8 is refused naming the file, line and column:
// encoding/json would read it as U+FFFD, and `shipyard env` would print
// that instead of what the file meant. UTF-8 text, a literal U+FFFD
// included, is read as it is.
func TestBytesThatAreNotUTF8AreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"a Latin-1 é in a value", "{\n  \"target\": \"docker\",\n  \"app\": {\"env\": {\"GREETING\": \"caf\xe9\"}}\n}\n",
			"invalid UTF-8 at line 3, column 35: byte 0xe9 is not UTF-8; allowed: UTF-8 text (save the file as UTF-8)"},
		{"in a key", "{\"target\": \"docker\", \"t\xffgs\": {}}", "invalid UTF-8 at line 1, column 24: byte 0xff is not UTF-8"},
		{"a sequence cut short at the end of a value", "{\"target\": \"docker\", \"tags\": {\"a\": \"\xe2\x82\"}}", "invalid UTF-8 at line 1, column 37: byte 0xe2 is not UTF-8"},
		{"an encoded surrogate", "{\"target\": \"docker\", \"tags\": {\"a\": \"\xed\xa0\x80\"}}", "invalid UTF-8 at line 1, column 37: byte 0xed is not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"dev": tc.data})
			_, err := Load(dir, "dev")
			if want := filepath.Join(dir, "dev.json") + ": " + tc.want; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load: %v\nwant an error starting %s", err, want)
			}
		})
	}
	dir := writeDir(t, map[string]string{"dev": "{\"target\": \"docker\", \"app\": {\"env\": {\"GREETING\": \"café \ufffd ✓\"}}}"})
	cfg, err := Load(dir, "dev")
	if err != nil {
		t.Fatalf("UTF-8 text: %v", err)
	}
	if got := cfg.App.Env["GREETING"]; got != "café \ufffd ✓" {
		t.Errorf("app.env.GREETING = %q", got)
	}
}

func TestStrayFilesAreNotStacks(t *testing.T) {
	dir := writeDir(t, map[string]string{"dev": dockerBase, "dev.old": `{"target": "nope"}`, "Prod_copy": `{`})
	stacks, err := Stacks(dir)
	if err != nil || !slices.Equal(stacks, []string{"dev"}) {
		t.Errorf("Stacks = %v, %v; want [dev]", stacks, err)
	}
	ignored, err := Ignored(dir)
	if err != nil || !slices.Equal(ignored, []string{"Prod_copy.json", "dev.old.json"}) {
		t.Errorf("Ignored = %v, %v", ignored, err)
	}
	all, err := LoadAll(dir)
	if err != nil || len(all) != 1 {
		t.Errorf("LoadAll validated the stray files: %v, %v", all, err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"dev", true}, {"pr-12", true}, {"e2e1a2b3c", true}, {"dev-pr", true}, {"dev-pr-x", true}, {"dev-prx-1", true},
		{"dev.old", false}, {"Dev", false}, {"dev-", false}, {"a_b", false}, {"averyveryverylongname1", false},
		{"dev-pr-12", false}, {"local-pr-1", false}, {"a-b-pr-0", false}} {
		if got := ValidStackName(tc.name); got != tc.ok {
			t.Errorf("ValidStackName(%q) = %v", tc.name, got)
		}
	}
}

// A PR environment "<base>-pr-<n>" has no file of its own: a stack file
// of such a name would be loaded as the PR's config (pr-up and pr-down
// had no Preview to use) and a deployed stack of that name taken by
// pr-reap for a PR environment and destroyed. Listing the stacks refuses
// the file, naming it and the reserved pattern, so nothing loads.
func TestAStackFileNamedAsAPREnvironmentIsRefused(t *testing.T) {
	for _, name := range []string{"local-pr-1", "dev-pr-12", "my-app-pr-0", "averyveryverylongname-pr-7"} {
		t.Run(name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"local": dockerBase, name: dockerBase})
			want := filepath.Join(dir, name+".json") + ": \"" + name + "\" is no stack name: it names PR "
			for what, err := range map[string]error{
				"Stacks":             func() error { _, err := Stacks(dir); return err }(),
				"Load(local)":        func() error { _, err := Load(dir, "local"); return err }(),
				"Load(" + name + ")": func() error { _, err := Load(dir, name); return err }(),
				"LoadAll":            func() error { _, err := LoadAll(dir); return err }(),
			} {
				if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "not ending in -pr-<n> (reserved for PR environments)") {
					t.Errorf("%s: %v; want an error starting %q and naming the reserved pattern", what, err, want)
				}
			}
		})
	}
	// Every name PreviewOf reads as a PR environment's is reserved.
	for _, name := range []string{"local-pr-1", "dev-pr-9999999", "a-b-c-pr-42"} {
		if _, _, ok := PreviewOf(name); !ok || ValidStackName(name) {
			t.Errorf("%s: PreviewOf ok %v, ValidStackName %v; want a PR environment's name, no stack name", name, ok, ValidStackName(name))
		}
	}
}

func TestCrossStackProblemsCarryTheLineOfTheirField(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"prod":  `{"target": "aws", "database": {"engineVersion": "16.4"}}`,
		"local": "{\n  \"target\": \"docker\",\n  \"local\": {\n    \"images\": {\n      \"postgres\": \"postgres:15\"\n    }\n  }\n}\n",
	})
	_, err := Load(dir, "local")
	if err == nil || !strings.Contains(err.Error(), "line 5: local.images.postgres: \"postgres:15\" runs Postgres 15") {
		t.Errorf("error %v; want the cross-stack problem at line 5", err)
	}
}

// TestIntegralNumbersAreIntegers: JSON Schema counts 1e2 and 100.0 as the
// integer 100, so an integer field takes them too.
func TestIntegralNumbersAreIntegers(t *testing.T) {
	tests := []struct {
		name, value string
		want        int
	}{
		{"an exponent is an integer", "2e1", 20},
		{"a zero fraction is an integer", "20.0", 20},
		{"a negative exponent with an integral value is an integer", "200e-1", 20},
		{"a plain integer stays one", "20", 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("dev", []byte(`{"target": "docker", "app": {"dbPoolSize": `+tt.value+`}}`), repoSchema(t))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.App.DBPoolSize != tt.want {
				t.Errorf("app.dbPoolSize = %d, want %d", cfg.App.DBPoolSize, tt.want)
			}
		})
	}
	_, err := Parse("dev", []byte(`{"target": "docker", "app": {"dbPoolSize": 20.5}}`), repoSchema(t))
	checkProblems(t, problemsOf(t, err), want{"app.dbPoolSize", "20.5 is a number; want an integer"})
}
