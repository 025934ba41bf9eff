package cliflag_test

import (
	"reflect"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/cliflag"
)

func TestCut(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		flag      string
		value     string
		found     bool
		remaining []string
	}{
		{"a valued flag is taken out with its value", []string{"dev", "--image=app:1"}, "image", "app:1", true, []string{"dev"}},
		{"a bare flag is found with no value", []string{"--allow-stateful-changes", "prod"}, "allow-stateful-changes", "", true, []string{"prod"}},
		{"an absent flag leaves the arguments alone", []string{"dev"}, "confirm", "", false, []string{"dev"}},
		{"a longer flag with the same prefix is not the flag", []string{"--imagex=1", "dev"}, "image", "", false, []string{"--imagex=1", "dev"}},
		{"the last of repeated flags wins", []string{"--confirm=a", "--confirm=b"}, "confirm", "b", true, nil},
		{"an empty value is still a value", []string{"--image="}, "image", "", true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			value, found, rest := cliflag.Cut(c.args, c.flag)
			if value != c.value || found != c.found || !reflect.DeepEqual(rest, c.remaining) {
				t.Errorf("Cut(%q, %q) = %q, %v, %q; want %q, %v, %q", c.args, c.flag, value, found, rest, c.value, c.found, c.remaining)
			}
		})
	}
}

func TestBool(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     []string
		variable string
		on       bool
		rest     []string
		wantErr  string
	}{
		{"a bare flag is on", []string{"dev", "--keep-data"}, "", true, []string{"dev"}, ""},
		{"=true is on", []string{"--keep-data=true", "dev"}, "", true, []string{"dev"}, ""},
		{"=1 is on", []string{"--keep-data=1"}, "", true, nil, ""},
		{"=false is off", []string{"dev", "--keep-data=false"}, "", false, []string{"dev"}, ""},
		{"=0 is off", []string{"--keep-data=0", "dev"}, "", false, []string{"dev"}, ""},
		{"an absent flag is off and leaves the arguments alone", []string{"dev"}, "", false, []string{"dev"}, ""},
		{"the last of repeated flags wins, off after on", []string{"--keep-data", "--keep-data=false"}, "", false, nil, ""},
		{"the last of repeated flags wins, on after off", []string{"--keep-data=0", "--keep-data"}, "", true, nil, ""},
		{"a longer flag with the same prefix is not the flag", []string{"--keep-database"}, "", false, []string{"--keep-database"}, ""},
		{"any other value is refused, naming the flag and the values it takes", []string{"--keep-data=maybe"}, "", false, nil,
			"--keep-data=maybe: allowed true, false, 1, 0 (or the bare --keep-data)"},
		{"an empty value is refused", []string{"--keep-data="}, "", false, nil, "--keep-data=: allowed true, false, 1, 0 (or the bare --keep-data)"},
		{"a bad value is refused even when a good one follows", []string{"--keep-data=no", "--keep-data=false"}, "", false, nil,
			"--keep-data=no: allowed true, false, 1, 0 (or the bare --keep-data)"},
		{"case matters: only the documented spellings are taken", []string{"--keep-data=FALSE"}, "", false, nil,
			"--keep-data=FALSE: allowed true, false, 1, 0 (or the bare --keep-data)"},
		{"a flag the Makefile sets is read the same", []string{"--keep-data=1", "dev"}, "KEEP_DATA", true, []string{"dev"}, ""},
		{"a flag the Makefile sets names its variable first when refused", []string{"--keep-data=yes"}, "KEEP_DATA", false, nil,
			"KEEP_DATA=yes (--keep-data=yes): allowed 1, 0, true, false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			on, rest, err := cliflag.BoolVar(c.args, "keep-data", c.variable)
			if c.variable == "" {
				on2, rest2, err2 := cliflag.Bool(c.args, "keep-data")
				if on2 != on || !reflect.DeepEqual(rest2, rest) || (err2 == nil) != (err == nil) {
					t.Fatalf("Bool(%q) = %v, %q, %v; BoolVar with no variable = %v, %q, %v", c.args, on2, rest2, err2, on, rest, err)
				}
			}
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("BoolVar(%q, %q) = %v, %q, %v; want the error %q", c.args, c.variable, on, rest, err, c.wantErr)
				}
				return
			}
			if err != nil || on != c.on || !reflect.DeepEqual(rest, c.rest) {
				t.Errorf("BoolVar(%q, %q) = %v, %q, %v; want %v, %q", c.args, c.variable, on, rest, err, c.on, c.rest)
			}
		})
	}
}

func TestChoice(t *testing.T) {
	target := cliflag.Choice{Name: "target", Allowed: []string{"aws", "docker"}}
	format := cliflag.Choice{Name: "format", Variable: "FORMAT", Allowed: []string{"text", "json"}, Aliases: map[string]string{"table": "text"}, Default: "text"}
	for _, c := range []struct {
		name    string
		choice  cliflag.Choice
		args    []string
		value   string
		found   bool
		rest    []string
		wantErr string
	}{
		{"an allowed value is taken out", target, []string{"--target=aws", "dev"}, "aws", true, []string{"dev"}, ""},
		{"an absent flag is empty and not found", target, []string{"dev"}, "", false, []string{"dev"}, ""},
		{"the last of repeated flags wins", target, []string{"--target=aws", "--target=docker"}, "docker", true, nil, ""},
		{"a longer flag with the same prefix is not the flag", target, []string{"--targets=x"}, "", false, []string{"--targets=x"}, ""},
		{"any other value is refused, naming the flag and the values it takes", target, []string{"--target=gcp"}, "", false, nil,
			"--target=gcp: allowed aws, docker"},
		{"a bare flag without a default is refused", target, []string{"--target"}, "", false, nil, "--target=: allowed aws, docker"},
		{"an empty value without a default is refused", target, []string{"--target="}, "", false, nil, "--target=: allowed aws, docker"},
		{"a bad value is refused even when a good one follows", target, []string{"--target=gcp", "--target=aws"}, "", false, nil,
			"--target=gcp: allowed aws, docker"},
		{"an absent flag is the default", format, []string{"dev"}, "text", false, []string{"dev"}, ""},
		{"an empty value is the default, as the Makefile passes an unset FORMAT", format, []string{"--format=", "dev"}, "text", true, []string{"dev"}, ""},
		{"a bare flag is the default", format, []string{"--format"}, "text", true, nil, ""},
		{"an alias is the value it names", format, []string{"--format=table"}, "text", true, nil, ""},
		{"a flag the Makefile sets names its variable first when refused", format, []string{"--format=yaml"}, "", false, nil,
			"FORMAT=yaml (--format=yaml): allowed text, json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			value, found, rest, err := c.choice.Cut(c.args)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("Cut(%q) = %q, %v, %q, %v; want the error %q", c.args, value, found, rest, err, c.wantErr)
				}
				return
			}
			if err != nil || value != c.value || found != c.found || !reflect.DeepEqual(rest, c.rest) {
				t.Errorf("Cut(%q) = %q, %v, %q, %v; want %q, %v, %q", c.args, value, found, rest, err, c.value, c.found, c.rest)
			}
		})
	}
}

func TestSynopsisAndFlags(t *testing.T) {
	for _, c := range []struct {
		name     string
		usage    string
		synopsis string
		flags    []string
	}{
		{"a usage line's description is not its synopsis", "cost STACK [--format=text|json] [--base=GIT_REF]  print what STACK costs --not-a-flag",
			"cost STACK [--format=text|json] [--base=GIT_REF]", []string{"--format", "--base"}},
		{"a required flag is a flag", "ci STACK --role=deploy|preview", "ci STACK --role=deploy|preview", []string{"--role"}},
		{"a flag named twice is one flag", "guard [--allow-stateful-changes] [--allow-stateful-changes=false]",
			"guard [--allow-stateful-changes] [--allow-stateful-changes=false]", []string{"--allow-stateful-changes"}},
		{"a command may take none", "env STACK", "env STACK", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cliflag.Synopsis(c.usage); got != c.synopsis {
				t.Errorf("Synopsis(%q) = %q, want %q", c.usage, got, c.synopsis)
			}
			if got := cliflag.Flags(c.usage); !reflect.DeepEqual(got, c.flags) {
				t.Errorf("Flags(%q) = %q, want %q", c.usage, got, c.flags)
			}
		})
	}
}

// usageCase is a command's arguments, the program and usage line it
// checks them against, and the error wanted ("" for none).
type usageCase struct {
	name    string
	program string
	usage   string
	args    []string
	want    string
}

func TestUnknownFlag(t *testing.T) {
	for _, c := range []usageCase{
		{"a misspelt flag is named with the ones allowed", "shipyard", "cost STACK [--format=text|json] [--base=GIT_REF]  what it costs",
			[]string{"local", "--formt=json"}, "unknown flag --formt; allowed --format, --base; usage: shipyard cost STACK [--format=text|json] [--base=GIT_REF]"},
		{"the program begins the usage line", "preflight", "stacks [--target=aws|docker] [--format=text|json]",
			[]string{"--targt=aws"}, "unknown flag --targt; allowed --target, --format; usage: preflight stacks [--target=aws|docker] [--format=text|json]"},
		{"a command that takes no flags says so", "preflight", "check STACK...",
			[]string{"dev", "--role=deploy"}, "unknown flag --role; preflight check takes no flags; usage: preflight check STACK..."},
		{"a single-dash flag is a flag", "shipyard", "migrate STACK", []string{"-v", "local"}, "unknown flag -v; shipyard migrate takes no flags; usage: shipyard migrate STACK"},
		{"a flag the usage line names is taken", "shipyard", "cost STACK [--format=text|json]", []string{"local", "--format=json", "--format"}, ""},
		{"a dash alone is no flag", "shipyard", "guard [PREVIEW.json]", []string{"-"}, ""},
		{"a double dash alone is no flag", "shipyard", "env STACK", []string{"--"}, ""},
		{"a negative number is no flag", "shipyard", "env STACK", []string{"-1"}, ""},
		{"no arguments are no unknown flag", "shipyard", "env STACK", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := cliflag.UnknownFlag(c.program, c.usage, c.args)
			if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want) {
				t.Errorf("UnknownFlag(%q, %q, %q) = %v, want %q", c.program, c.usage, c.args, err, c.want)
			}
		})
	}
}

func TestUsageError(t *testing.T) {
	for _, c := range []usageCase{
		{"arguments without a flag get the usage line", "shipyard", "target STACK", []string{"local", "dev"}, "usage: shipyard target STACK"},
		{"no arguments get the usage line", "preflight", "backend STACK", nil, "usage: preflight backend STACK"},
		{"the first flag is named, with the synopsis", "shipyard", "target STACK  print the target", []string{"local", "--formt=json", "-x"},
			"unknown flag --formt; usage: shipyard target STACK"},
		{"a single-dash argument is named as a flag", "preflight", "stacks [--format=text|json]", []string{"-1"},
			"unknown flag -1; usage: preflight stacks [--format=text|json]"},
		{"a dash alone is no flag", "shipyard", "guard [PREVIEW.json]", []string{"-", "x"}, "usage: shipyard guard [PREVIEW.json]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := cliflag.UsageError(c.program, c.usage, c.args); err == nil || err.Error() != c.want {
				t.Errorf("UsageError(%q, %q, %q) = %v, want %q", c.program, c.usage, c.args, err, c.want)
			}
		})
	}
}
