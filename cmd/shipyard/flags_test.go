package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/cliflag"
)

// A boolean flag's value is read: =false means off. Before, any
// --name=VALUE counted as the bare flag, so --allow-stateful-changes=false
// turned the stateful-resource guard off and --keep-data=false kept data.
func TestABooleanFlagSetToFalseIsOff(t *testing.T) {
	replaceDB := `{"steps": [{"op": "replace", "urn": "urn:pulumi:prod::shipyard::shipyard:aws:Database$aws:rds/instance:Instance::shipyard-prod-db",
		"oldState": {"type": "aws:rds/instance:Instance"}, "replaceReasons": ["engineVersion"]}]}`
	for _, tc := range []struct {
		name string
		args []string
		plan string
		// wantErr: the command's error; calls: a pulumi call that must
		// (or, with !, must not) have been made.
		wantErr string
		calls   []string
	}{
		{name: "up --allow-stateful-changes, bare, lets the plan through", args: []string{"up", "prod", "--allow-stateful-changes"}, plan: replaceDB,
			calls: []string{"pulumi preview --json", "pulumi up --yes"}},
		{name: "up --allow-stateful-changes=false keeps the stateful-resource guard on", args: []string{"up", "prod", "--allow-stateful-changes=false"}, plan: replaceDB,
			wantErr: "stateful", calls: []string{"pulumi preview --json", "!pulumi up"}},
		{name: "up --allow-stateful-changes=0 keeps the guard on too", args: []string{"up", "prod", "--allow-stateful-changes=0"}, plan: replaceDB,
			wantErr: "stateful", calls: []string{"pulumi preview --json", "!pulumi up"}},
		{name: "up --allow-stateful-changes=maybe is refused before any pulumi call", args: []string{"up", "prod", "--allow-stateful-changes=maybe"},
			wantErr: "--allow-stateful-changes=maybe: allowed true, false, 1, 0 (or the bare --allow-stateful-changes)", calls: []string{"!pulumi"}},
		{name: "up --release-follows=yes is refused naming RELEASE_FOLLOWS, before any pulumi call", args: []string{"up", "prod", "--release-follows=yes"},
			wantErr: "RELEASE_FOLLOWS=yes (--release-follows=yes): allowed 1, 0, true, false", calls: []string{"!pulumi"}},
		{name: "destroy --keep-data=false removes the data: nothing is excluded from the destroy", args: []string{"destroy", "local", "--keep-data=false"},
			calls: []string{"pulumi destroy --yes --refresh --stack local", "!pulumi destroy --yes --refresh --exclude"}},
		{name: "destroy --keep-data=true keeps it", args: []string{"destroy", "local", "--keep-data=true"},
			calls: []string{"pulumi destroy --yes --refresh --exclude"}},
		{name: "destroy --keep-data=maybe is refused before anything is deleted", args: []string{"destroy", "local", "--keep-data=maybe"},
			wantErr: "--keep-data=maybe: allowed true, false, 1, 0 (or the bare --keep-data)", calls: []string{"!pulumi"}},
		{name: "preview --expect-no-changes=false does not fail on changes", args: []string{"preview", "local", "--expect-no-changes=false"},
			calls: []string{"pulumi preview --diff --stack local", "!pulumi preview --diff --expect-no-changes"}},
		{name: "preview --expect-no-changes=1 does", args: []string{"preview", "local", "--expect-no-changes=1"},
			calls: []string{"pulumi preview --diff --expect-no-changes"}},
		{name: "guard --allow-stateful-changes=false refuses the plan", args: []string{"guard", "--allow-stateful-changes=false"}, plan: replaceDB,
			wantErr: "the plan deletes or replaces 1 stateful resource"},
		{name: "ledger --verify=maybe is refused naming the flag", args: []string{"ledger", "--verify=maybe"},
			wantErr: "--verify=maybe: allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// prod deployed, deployable (no documentation placeholders),
			// and a local stack.
			r := newCLIRepo(t)
			r.rotationConfig(1, 0, "rolling")
			later := rotationT0.Add(time.Hour)
			w := rotationWorld(false, 1, 0, rotationT0, later, later)
			w.Outputs["local"] = map[string]any{"stack": "local", "target": "docker"}
			state := installFakes(t, w)
			t.Setenv("SHIPYARD_FAKE_PLAN", tc.plan)
			if tc.args[0] == "guard" {
				guardInput = strings.NewReader(tc.plan)
				defer func() { guardInput = os.Stdin }()
			}
			out, err := runCLI(t, tc.args...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("shipyard %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("shipyard %s: %v, want an error containing %q\n%s", strings.Join(tc.args, " "), err, tc.wantErr, out)
			}
			var calls []string
			if data, err := os.ReadFile(filepath.Join(state, "calls.log")); err == nil {
				calls = strings.Split(strings.TrimSpace(string(data)), "\n")
			}
			for _, want := range tc.calls {
				if not, ok := strings.CutPrefix(want, "!"); ok {
					if contains(calls, not) {
						t.Errorf("a call starts with %q:\n%s", not, strings.Join(calls, "\n"))
					}
				} else if !contains(calls, want) {
					t.Errorf("no call starts with %q:\n%s", want, strings.Join(calls, "\n"))
				}
			}
		})
	}
}

func TestAnUnknownFlagIsNamedWithTheAllowedOnesBeforeTheCommandRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a misspelt flag of cost", []string{"cost", "local", "--formt=json"},
			"unknown flag --formt; allowed --format, --base; usage: shipyard cost STACK [--format=text|json] [--base=GIT_REF]"},
		{"a bare misspelt flag", []string{"up", "prod", "--allow-stateful-change"},
			"unknown flag --allow-stateful-change; allowed --allow-stateful-changes, --release-follows; usage: shipyard up STACK [--allow-stateful-changes] [--release-follows]"},
		{"a flag of a command that takes none", []string{"env", "local", "--stack=dev"},
			"unknown flag --stack; shipyard env takes no flags; usage: shipyard env STACK"},
		{"a single-dash flag", []string{"migrate", "-v", "local"},
			"unknown flag -v; shipyard migrate takes no flags; usage: shipyard migrate STACK"},
		{"another command's flag", []string{"release", "prod", "--confirm=prod"},
			"unknown flag --confirm; allowed --image; usage: shipyard release STACK [--image=REF]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			// No repository: the check runs before the command reads anything.
			err := run(context.Background(), tc.args, func(string) string { return "" }, &out, &out)
			if err == nil || err.Error() != tc.want {
				t.Errorf("shipyard %s: %v\nwant %s", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
}

func TestEveryCommandNamesAnUnknownFlag(t *testing.T) {
	for name, c := range commands() {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), []string{name, "local", "--no-such-flag=1"}, func(string) string { return "" }, &out, &out)
			if err == nil || !strings.HasPrefix(err.Error(), "unknown flag --no-such-flag; ") || !strings.HasSuffix(err.Error(), "; usage: shipyard "+cliflag.Synopsis(c.usage)) {
				t.Errorf("shipyard %s local --no-such-flag=1: %v", name, err)
			}
		})
	}
}

// The check of unknown flags takes the flags a command knows from its
// usage line: every flag the commands read must be in one, or it would be
// refused.
func TestEveryFlagTheCommandsReadIsInAUsageLine(t *testing.T) {
	inUsage := map[string]bool{}
	for _, c := range commands() {
		for _, f := range cliflag.Flags(c.usage) {
			inUsage[f] = true
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`cliflag\.(?:Cut|Bool|BoolVar)\([a-zA-Z.]+, "([a-z][a-z0-9-]*)"|cliflag\.Choice\{Name: "([a-z][a-z0-9-]*)"`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range read.FindAllStringSubmatch(string(data), -1) {
			found++
			flag := m[1] + m[2]
			if !inUsage["--"+flag] {
				t.Errorf("%s reads --%s, which no command's usage line names: shipyard would refuse it as unknown", f, flag)
			}
		}
	}
	if found < 10 {
		t.Fatalf("found %d flags read; the pattern no longer matches how the commands read them", found)
	}
}

func TestAStackArgumentThatIsAFlagIsNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--formt=json"}, "unknown flag --formt; usage: shipyard target STACK"},
		{[]string{"local", "-x"}, "unknown flag -x; usage: shipyard target STACK"},
		{[]string{"local", "dev"}, "usage: shipyard target STACK"},
		{nil, "usage: shipyard target STACK"},
	} {
		if _, err := stackArg(env{args: tc.args}, "target STACK"); err == nil || err.Error() != tc.want {
			t.Errorf("stackArg(%q): %v, want %q", tc.args, err, tc.want)
		}
	}
}
