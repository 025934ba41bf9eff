package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestSlotAllocation(t *testing.T) {
	live := func(prSlots ...int) []previewStack {
		var out []previewStack
		for i := 0; i < len(prSlots); i += 2 {
			out = append(out, previewStack{PR: prSlots[i], Slot: prSlots[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pr   int
		live []previewStack
		want int
	}{
		{"the first PR gets slot 1", 7, nil, 1},
		{"a PR that holds a slot keeps it", 7, live(3, 1, 7, 4), 4},
		{"a new PR gets the lowest free slot", 9, live(3, 1, 5, 3), 2},
		{"a slot freed by pr-down is taken again", 9, live(3, 2, 5, 3), 1},
		{"a PR stack whose slot is unknown holds none", 9, live(3, 0), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := allocateSlot("local", tc.pr, 5, tc.live)
			if err != nil || got != tc.want {
				t.Fatalf("slot %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	t.Run("no free slot is refused with the limit, the running PRs and the way out", func(t *testing.T) {
		_, err := allocateSlot("local", 9, 3, live(3, 1, 4, 2, 5, 3))
		if err == nil {
			t.Fatal("allocated a 4th slot of 3")
		}
		for _, want := range []string{"previews.maxConcurrent is 3", "PRs 3, 4, 5", "make pr-down PR=<n> STACK=local"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("not one line: %q", err)
		}
	})
}

func TestReaping(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	live := []previewStack{
		{Name: "local-pr-1", PR: 1, Update: now.Add(-80 * time.Hour)},
		{Name: "local-pr-2", PR: 2, Update: now.Add(-time.Hour)},
		{Name: "local-pr-3", PR: 3, Update: now.Add(-100 * time.Hour), InProgress: true},
		{Name: "local-pr-4", PR: 4},
	}
	picked := func(c []reapCandidate) string {
		var s []string
		for _, r := range c {
			s = append(s, r.Name)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		open map[int]bool
		want string
	}{
		{"older than the TTL is reaped; one being deployed is not", 72 * time.Hour, nil, "local-pr-1"},
		{"a tiny TTL reaps every deployed one", time.Second, nil, "local-pr-1 local-pr-2"},
		{"with --open, a closed PR is reaped whatever its age, an open one past the TTL too", 72 * time.Hour, map[int]bool{1: true, 2: true, 3: true}, "local-pr-1 local-pr-4"},
		{"--open=none means no PR is open", 72 * time.Hour, map[int]bool{}, "local-pr-1 local-pr-2 local-pr-4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := picked(reapable(live, tc.ttl, tc.open, now)); got != tc.want {
				t.Fatalf("reaped %q, want %q", got, tc.want)
			}
		})
	}
}

// --open (OPEN=) is the open PRs' numbers or none: an empty list, which a
// failed or forgotten listing gives, would reap every PR environment, so
// it is refused, naming OPEN, --open and what they take.
func TestOpenIsTheOpenPRsOrNoneNeverAnEmptyList(t *testing.T) {
	const allowed = "allowed the open PRs' numbers, comma separated (OPEN=12,15), or none when no PR is open"
	for _, tc := range []struct {
		name, value string
		want        string // the open PRs, or the error's start
		wantErr     bool
	}{
		{"numbers are the open PRs", "12,15", "12 15", false},
		{"spaces around them are fine", " 12, 15 ", "12 15", false},
		{"none means no PR is open", "none", "", false},
		{"empty is refused", "", "OPEN= (--open=): " + allowed + "; an empty list is refused", true},
		{"commas alone are refused", ",", "OPEN=, (--open=,): " + allowed + "; an empty list is refused", true},
		{"a word is refused", "1,x", `OPEN=1,x (--open=1,x): ` + allowed + ` ("x" is no PR number`, true},
		{"none among numbers is refused", "none,5", `OPEN=none,5 (--open=none,5): ` + allowed + ` ("none" is no PR number`, true},
		{"zero is refused", "0", `OPEN=0 (--open=0): ` + allowed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, err := parseOpen(tc.value)
			if tc.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("parseOpen(%q) = %v, %v; want the error %q…", tc.value, open, err, tc.want)
				}
				return
			}
			if err != nil || open == nil {
				t.Fatalf("parseOpen(%q): %v, %v", tc.value, open, err)
			}
			var prs []string
			for n := range open {
				prs = append(prs, strconv.Itoa(n))
			}
			slices.Sort(prs)
			if got := strings.Join(prs, " "); got != tc.want {
				t.Errorf("parseOpen(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

// shipyard pr-reap --open= stops before it lists, let alone reaps, any PR
// environment.
func TestPRReapWithAnEmptyOpenReapsNothing(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{stackconfig.DirEnv: filepath.Join(repoRoot, "config"), "PATH": "/nonexistent"}[k]
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"pr-reap", "local", "--open="}, getenv, &out, &out)
	if err == nil || !strings.HasPrefix(err.Error(), "OPEN= (--open=): allowed") {
		t.Fatalf("pr-reap local --open=: %v\n%s", err, &out)
	}
	if strings.Contains(out.String(), "reap") {
		t.Errorf("it went on:\n%s", &out)
	}
}

// A stack file named as a PR environment (local-pr-1.json) is refused
// before any pulumi call, naming the file: pr-up and pr-down loaded it as
// PR 1's config and dereferenced its nil Preview; and a config that is no
// PR environment's reaches neither pr-up's nor pr-down's steps.
func TestAStackFileNamedAsAPREnvironmentNeverPassesForOne(t *testing.T) {
	dir := configCopy(t, "local")
	copyFile(t, filepath.Join(dir, "local.json"), filepath.Join(dir, "local-pr-1.json"))
	getenv := func(k string) string {
		return map[string]string{stackconfig.DirEnv: dir, "PATH": "/nonexistent"}[k]
	}
	for _, args := range [][]string{{"pr-up", "local", "1"}, {"pr-down", "local", "1"}, {"pr-reap", "local"}, {"up", "local-pr-1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), args, getenv, &out, &out)
			want := filepath.Join(dir, "local-pr-1.json") + `: "local-pr-1" is no stack name: it names PR 1's environment of stack local`
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %v; want it to start %q", err, want)
			}
		})
	}
	r, x, _ := previewFixture(t, 9, nil)
	base := *r.Base
	r.PR = &base
	if err := prUp(context.Background(), r, "", time.Now); err == nil || !strings.Contains(err.Error(), "stack local is not a PR environment") {
		t.Errorf("prUp of a config that is no PR's: %v", err)
	}
	if err := prDown(context.Background(), r, previewStack{Name: "local-pr-9", PR: 9}); err == nil || !strings.Contains(err.Error(), "stack local is not a PR environment") {
		t.Errorf("prDown of a config that is no PR's: %v", err)
	}
	if len(x.calls) != 0 {
		t.Errorf("ran %v", x.lines())
	}
}

// previewFixture is a pr command against fake pulumi and docker CLIs on
// the repository's config: PR 7 of local holds slot 1 (its output), PR 8
// slot 2 (reserved in its config, not deployed yet).
func previewFixture(t *testing.T, pr int, extra map[string]answer) (*previewRun, *fakeExec, *bytes.Buffer) {
	t.Helper()
	answers := map[string]answer{
		"pulumi stack ls --json": {out: `[{"name":"local","lastUpdate":"2026-12-07T06:00:00.000Z"},
			{"name":"local-pr-7","lastUpdate":"2026-12-07T06:16:59.832Z"},
			{"name":"local-pr-8","lastUpdate":"2026-12-07T06:17:00.000Z","updateInProgress":true},
			{"name":"dev-pr-3","lastUpdate":"2026-12-01T06:00:00.000Z"}]`},
		"pulumi stack output --json --stack local-pr-7":             {out: `{"previewSlot": 1, "url": "https://pr-7.localhost:8601", "imageDigest": "sha256:aaaa"}`},
		"pulumi stack output --json --stack local-pr-8":             {out: `{}`},
		"pulumi config get shipyard:previewSlot --stack local-pr-8": {out: "2\n"},
	}
	for k, v := range extra {
		answers[k] = v
	}
	x := newFakeExec(answers)
	dir := filepath.Join(repoRoot, "config")
	base, err := stackconfig.Load(dir, "local")
	if err != nil {
		t.Fatal(err)
	}
	prCfg, err := stackconfig.Load(dir, stackconfig.PreviewStackName("local", pr))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	getenv := func(k string) string { return map[string]string{"PULUMI_BACKEND_URL": "file://" + t.TempDir()}[k] }
	r := &previewRun{x: x.exec, pulumi: &pulumiCLI{x: x.exec, root: t.TempDir(), getenv: getenv, configDir: dir}, getenv: getenv, stdout: &out, Base: base, PR: prCfg}
	return r, x, &out
}

func TestListingReadsSlotsFromOutputsOrReservations(t *testing.T) {
	r, _, _ := previewFixture(t, 9, nil)
	live, err := listPreviews(context.Background(), r.pulumi, "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 || live[0].Name != "local-pr-7" || live[0].Slot != 1 || live[1].Slot != 2 || !live[1].InProgress {
		t.Fatalf("listed %+v; want PRs 7 (slot 1) and 8 (slot 2, deploying), not dev's", live)
	}
	if live[0].Update != time.Date(2026, 12, 7, 6, 16, 59, 832e6, time.UTC) {
		t.Errorf("last update %v", live[0].Update)
	}
	var b bytes.Buffer
	printPreviews(&b, r.Base, live)
	if !strings.Contains(b.String(), "https://pr-7.localhost:8601") || !strings.Contains(b.String(), "deploying") || !strings.Contains(b.String(), "2026-12-10T06:16:59Z") {
		t.Errorf("pr-list:\n%s", b.String())
	}
}

func TestPRUpReservesTheLowestFreeSlotDeploysWithItAndPrintsURLAndReapTime(t *testing.T) {
	r, x, out := previewFixture(t, 9, map[string]answer{
		"pulumi stack init local-pr-9":             {},
		"pulumi config set shipyard:previewSlot 3": {},
		"pulumi up": {},
		"pulumi stack output --json --stack local-pr-9":         {out: `{"url": "https://pr-9.localhost:8603", "previewSlot": 3}`},
		"docker image inspect --format {{.Id}} shipyard-app:pr": {out: "sha256:" + strings.Repeat("b", 64) + "\n"},
	})
	now := func() time.Time { return time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC) }
	if err := prUp(context.Background(), r, "shipyard-app:pr", now); err != nil {
		t.Fatalf("%v\n%v", err, x.lines())
	}
	var up call
	for _, c := range x.calls {
		if len(c.Args) > 0 && c.Args[0] == "up" {
			up = c
		}
	}
	env := strings.Join(up.Env, " ")
	if !strings.Contains(env, "SHIPYARD_PR_SLOT=3") || !strings.Contains(env, "SHIPYARD_PR_IMAGE=sha256:"+strings.Repeat("b", 64)) || !strings.Contains(up.String(), "--stack local-pr-9") {
		t.Errorf("up %s with env %s", up, env)
	}
	lines := strings.Join(x.lines(), "\n")
	if strings.Index(lines, "config set shipyard:previewSlot 3") > strings.Index(lines, "pulumi up") {
		t.Errorf("the slot was not reserved before the deploy:\n%s", lines)
	}
	for _, want := range []string{"url: https://pr-9.localhost:8603", "reaped after: 2026-12-10T07:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPRUpRefusesBeyondMaxConcurrentBeforeDeploying(t *testing.T) {
	r, x, _ := previewFixture(t, 9, nil)
	r.Base.Previews.MaxConcurrent = 2
	err := prUp(context.Background(), r, "", time.Now)
	if err == nil || !strings.Contains(err.Error(), "previews.maxConcurrent is 2") || !strings.Contains(err.Error(), "PRs 7, 8") {
		t.Fatalf("got %v", err)
	}
	for _, l := range x.lines() {
		if strings.HasPrefix(l, "pulumi up") || strings.HasPrefix(l, "pulumi stack init") {
			t.Errorf("deployed anyway: %s", l)
		}
	}
}

func TestPRDownDropsTheDataThenDestroysAndRemovesTheStack(t *testing.T) {
	r, x, _ := previewFixture(t, 7, map[string]answer{
		"pulumi stack output --json --show-secrets --stack local": {out: `{"networkName": "shipyard-local", "databaseCaVolume": "shipyard-local-postgres-ca",
			"databasePassword": "admin-secret-pw", "redisPassword": "redis-secret-pw", "imageDigest": "sha256:base"}`},
		"docker run --rm --name shipyard-local-pr-7-preview-drop": {},
		"pulumi destroy --yes":  {},
		"pulumi stack rm --yes": {},
	})
	live, err := listPreviews(context.Background(), r.pulumi, "local")
	if err != nil {
		t.Fatal(err)
	}
	if err := prDown(context.Background(), r, live[0]); err != nil {
		t.Fatalf("%v\n%v", err, x.lines())
	}
	var order []string
	for _, c := range x.calls {
		l := c.String()
		switch {
		case strings.HasPrefix(l, "docker run"):
			order = append(order, "drop")
			if strings.Contains(l, "secret-pw") {
				t.Errorf("a password is in docker's arguments: %s", l)
			}
			// The container's env is in an --env-file (the next test);
			// the client's own is shipyard's.
			if len(c.Env) > 0 || !slices.Contains(c.Args, "--env-file") {
				t.Errorf("drop gives docker the env %v and the arguments %s; want an --env-file and docker's own env untouched", c.Env, l)
			}
			if !strings.HasSuffix(l, "sha256:aaaa preview drop") || !strings.Contains(l, "--network shipyard-local") {
				t.Errorf("drop runs %s", l)
			}
		case strings.HasPrefix(l, "pulumi destroy"):
			order = append(order, "destroy")
			if !strings.Contains(strings.Join(c.Env, " "), "SHIPYARD_PR_SLOT=1") {
				t.Errorf("destroy without the slot: %v", c.Env)
			}
		case strings.HasPrefix(l, "pulumi stack rm"):
			order = append(order, "rm")
		}
	}
	if strings.Join(order, " ") != "drop destroy rm" {
		t.Errorf("steps %v, want drop destroy rm", order)
	}

	t.Run("a failed drop keeps the stack", func(t *testing.T) {
		r, x, _ := previewFixture(t, 7, map[string]answer{
			"pulumi stack output --json --show-secrets --stack local": {out: `{"networkName": "n", "databaseCaVolume": "v", "imageDigest": "sha256:base"}`},
			"docker run": {err: context.DeadlineExceeded},
		})
		err := prDown(context.Background(), r, live[0])
		if err == nil || !strings.Contains(err.Error(), "the stack is kept") {
			t.Fatalf("got %v", err)
		}
		for _, l := range x.lines() {
			if strings.HasPrefix(l, "pulumi destroy") {
				t.Fatal("destroyed after a failed drop")
			}
		}
	})
}

// pr-down's drop container gets the PR's admin env and the two secrets
// through an --env-file only the operator can read, written for the run and
// removed after it; never through the docker client's own environment,
// where app.env's DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG, HOME or PATH
// would reconfigure the client and the secrets would sit. Shipyard runs a
// fake docker that records what it got.
func TestPRDownGivesTheDropContainerItsEnvInAPrivateEnvFileAndLeavesDockersOwnEnvAlone(t *testing.T) {
	state := installFakes(t, &fakeWorld{})
	// The operator's docker client settings, which the app's must not
	// replace.
	for k, v := range map[string]string{"DOCKER_HOST": "unix:///run/operator/docker.sock", "DOCKER_CONTEXT": "operator",
		"DOCKER_CONFIG": filepath.Join(t.TempDir(), "docker"), "HOME": t.TempDir(), "TMPDIR": t.TempDir()} {
		t.Setenv(k, v)
	}
	r, x, _ := previewFixture(t, 7, map[string]answer{
		"pulumi stack output --json --show-secrets --stack local": {out: `{"networkName": "shipyard-local", "databaseCaVolume": "shipyard-local-postgres-ca",
			"databasePassword": "admin-secret-pw", "redisPassword": "redis-secret-pw", "imageDigest": "sha256:base"}`},
		"pulumi destroy --yes":  {},
		"pulumi stack rm --yes": {},
	})
	appEnv := map[string]string{"DOCKER_HOST": "tcp://app.invalid:2375", "DOCKER_CONTEXT": "app", "DOCKER_CONFIG": "/app/docker",
		"HOME": "/app", "PATH": "/app/bin", "FEATURE_FLAGS": "notes, search  "}
	for k, v := range r.PR.App.Env {
		appEnv[k] = v
	}
	r.PR.App.Env = appEnv
	var dockerOut bytes.Buffer
	docker := osExec(&dockerOut, &dockerOut)
	r.x = func(ctx context.Context, c call) ([]byte, error) {
		if c.Name == "docker" {
			return docker(ctx, c)
		}
		return x.exec(ctx, c)
	}
	live, err := listPreviews(context.Background(), r.pulumi, "local")
	if err != nil {
		t.Fatal(err)
	}
	if err := prDown(context.Background(), r, live[0]); err != nil {
		t.Fatalf("%v\n%v\n%s", err, x.lines(), &dockerOut)
	}
	runs := readWorld(t, state).DockerRuns
	if len(runs) != 1 {
		t.Fatalf("docker ran %d times, want once: %+v", len(runs), runs)
	}
	run := runs[0]

	// The container gets exactly the env of the program's create and of
	// aws's admin task (stackconfig's PreviewAdminEnv: the PR's
	// processes' but DATABASE_URL, with app.env), and drop's two secrets.
	want := r.PR.PreviewAdminEnv(stackconfig.LocalEndpoints)
	want = append(want, stackconfig.EnvVar{Name: "DATABASE_PASSWORD", Value: "admin-secret-pw"}, stackconfig.EnvVar{Name: "REDIS_PASSWORD", Value: "redis-secret-pw"})
	got, comments := parseDotenvText(t, run.EnvFileText)
	if !slices.Equal(got, want) || len(comments) > 0 {
		t.Errorf("the --env-file (%s) holds\n %v\nwant\n %v", run.EnvFile, run.EnvFileText, want)
	}
	for k, v := range appEnv {
		if !slices.Contains(want, stackconfig.EnvVar{Name: k, Value: v}) {
			t.Errorf("the container does not get app.env's %s=%s", k, v)
		}
	}
	for _, v := range r.PR.Env(stackconfig.LocalEndpoints) {
		if v.Name != "DATABASE_URL" && !slices.Contains(got, v) {
			t.Errorf("the container does not get the PR's %s=%s", v.Name, v.Value)
		}
	}
	if slices.Contains(run.Args, "--env") || slices.Contains(run.Args, "-e") {
		t.Errorf("docker run names env vars of its own environment: %v", run.Args)
	}
	if run.EnvFileMode != 0o600 || run.EnvDirMode != 0o700 {
		t.Errorf("the env file is %v in a directory %v; want 0600 in a 0700 directory of its own", run.EnvFileMode, run.EnvDirMode)
	}

	// The client's own environment is the operator's: none of the
	// container's variables were added to it.
	client := map[string]string{}
	for _, kv := range run.Environ {
		k, v, _ := strings.Cut(kv, "=")
		client[k] = v
	}
	for _, v := range want {
		operator, set := os.LookupEnv(v.Name)
		if c, ok := client[v.Name]; ok != set || c != operator {
			t.Errorf("docker's own %s is %q (set: %t); want the operator's %q (set: %t)", v.Name, c, ok, operator, set)
		}
	}
	for _, kv := range run.Environ {
		if strings.Contains(kv, "secret-pw") {
			t.Errorf("a password is in docker's own environment: %s", kv)
		}
	}

	// Gone after the run, with its directory.
	if run.EnvFile == "" {
		t.Fatal("docker run got no --env-file")
	}
	for _, p := range []string{run.EnvFile, filepath.Dir(run.EnvFile)} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is left after the run: %v", p, err)
		}
	}
}

// A value docker's --env-file cannot carry as it is (one NAME=value a
// line, UTF-8) is refused before docker runs, naming the variable and not
// showing the value; the stack is kept.
func TestPRDownRefusesAnEnvValueAnEnvFileCannotCarry(t *testing.T) {
	for _, tc := range []struct {
		name          string
		appEnv        map[string]string
		redisPassword string
		want          string
	}{
		{"a line break in an app.env value", map[string]string{"GREETING": "greeting-value\nREDIS_PASSWORD=mine"}, "redis-secret-pw", "env var GREETING: its value has a line break"},
		{"a carriage return in an app.env value", map[string]string{"GREETING": "greeting-value\r"}, "redis-secret-pw", "env var GREETING: its value has a carriage return"},
		{"a NUL byte in an app.env value", map[string]string{"GREETING": "greeting-value\x00"}, "redis-secret-pw", "env var GREETING: its value has a NUL byte"},
		{"an app.env value that is not UTF-8", map[string]string{"GREETING": "greeting-value\xff"}, "redis-secret-pw", "env var GREETING: its value is not UTF-8"},
		{"a line break in the base's Redis password", nil, "redis\nsecret-pw", "env var REDIS_PASSWORD: its value has a line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outputs, err := json.Marshal(map[string]string{"networkName": "shipyard-local", "databaseCaVolume": "shipyard-local-postgres-ca",
				"databasePassword": "admin-secret-pw", "redisPassword": tc.redisPassword, "imageDigest": "sha256:base"})
			if err != nil {
				t.Fatal(err)
			}
			r, x, _ := previewFixture(t, 7, map[string]answer{
				"pulumi stack output --json --show-secrets --stack local": {out: string(outputs)},
				"docker run":            {},
				"pulumi destroy --yes":  {},
				"pulumi stack rm --yes": {},
			})
			for k, v := range tc.appEnv {
				r.PR.App.Env = maps.Clone(r.PR.App.Env)
				if r.PR.App.Env == nil {
					r.PR.App.Env = map[string]string{}
				}
				r.PR.App.Env[k] = v
			}
			live, err := listPreviews(context.Background(), r.pulumi, "local")
			if err != nil {
				t.Fatal(err)
			}
			err = prDown(context.Background(), r, live[0])
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "allowed a single line of UTF-8 text without NUL bytes") ||
				!strings.Contains(err.Error(), "the stack is kept") {
				t.Fatalf("got %v; want %q, what is allowed and the stack kept", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-pw") || strings.Contains(err.Error(), "greeting-value") {
				t.Errorf("the error shows the value: %v", err)
			}
			for _, l := range x.lines() {
				if strings.HasPrefix(l, "docker run") || strings.HasPrefix(l, "pulumi destroy") {
					t.Errorf("went on: %s", l)
				}
			}
		})
	}
}

func TestABaseWithPREnvironmentsIsNotDestroyed(t *testing.T) {
	r, _, _ := previewFixture(t, 7, nil)
	err := refuseWithPreviews(context.Background(), r.pulumi, r.Base)
	if err == nil || !strings.Contains(err.Error(), "PRs 7, 8") || !strings.Contains(err.Error(), "make pr-reap STACK=local OPEN=none") {
		t.Fatalf("destroying local with PRs 7 and 8 up: %v", err)
	}
	if err := refuseWithPreviews(context.Background(), r.pulumi, r.PR); err != nil {
		t.Errorf("a PR stack itself: %v", err)
	}
}
