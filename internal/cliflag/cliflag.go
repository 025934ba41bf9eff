// Package cliflag reads the flags of the two commands, shipyard and
// preflight, the one way: --name and --name=VALUE anywhere among the
// arguments, a boolean flag's value read (=false is off), a choice flag's
// value one of the values it takes, and a flag the command's usage line
// does not name refused before the command runs. Its errors name the flag
// and the values it takes, and a usage error the program ("shipyard",
// "preflight").
//
// It imports the standard library only: preflight, which uses it, builds
// in seconds before anything slow.
package cliflag

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Cut removes every "--name" or "--name=value" from args and returns the
// last value ("" for a bare flag), whether the flag was there, and the
// remaining arguments.
func Cut(args []string, name string) (value string, found bool, rest []string) {
	for _, a := range args {
		switch v, ok := strings.CutPrefix(a, "--"+name); {
		case ok && v == "":
			found = true
		case ok && strings.HasPrefix(v, "="):
			value, found = v[1:], true
		default:
			rest = append(rest, a)
		}
	}
	return value, found, rest
}

// Bool removes every "--name" and "--name=VALUE" from args and says
// whether the flag is on: a bare --name, --name=true and --name=1 turn it
// on, --name=false and --name=0 off; the last one given wins. Any other
// value is an error naming the flag and the values it takes, so that
// --keep-data=no never keeps data and --allow-stateful-changes=false never
// turns the guard off.
func Bool(args []string, name string) (on bool, rest []string, err error) {
	return BoolVar(args, name, "")
}

// BoolVar is Bool for a flag the Makefile sets from variable (`make up
// RELEASE_FOLLOWS=1` passes --release-follows=1): its error names the
// variable first.
func BoolVar(args []string, name, variable string) (on bool, rest []string, err error) {
	for _, a := range args {
		v, ok := strings.CutPrefix(a, "--"+name)
		switch {
		case ok && v == "":
			on = true
		case ok && strings.HasPrefix(v, "="):
			switch v[1:] {
			case "true", "1":
				on = true
			case "false", "0":
				on = false
			default:
				allowed := "true, false, 1, 0 (or the bare --" + name + ")"
				if variable != "" {
					allowed = "1, 0, true, false"
				}
				return false, nil, ValueError(name, variable, v[1:], allowed)
			}
		default:
			rest = append(rest, a)
		}
	}
	return on, rest, nil
}

// ValueError is the error for a flag given a value it does not take:
// "--keep-data=maybe: allowed …", or for a flag the Makefile sets from a
// variable "FORMAT=yaml (--format=yaml): allowed …".
func ValueError(name, variable, value, allowed string) error {
	if variable != "" {
		return fmt.Errorf("%s=%s (--%s=%s): allowed %s", variable, value, name, value, allowed)
	}
	return fmt.Errorf("--%s=%s: allowed %s", name, value, allowed)
}

// Choice is a flag whose value is one of a few: --format=text|json,
// --target=aws|docker, --role=deploy|preview.
type Choice struct {
	// Name is the flag's name: "format" for --format.
	Name string
	// Variable is the Makefile variable that sets the flag ("FORMAT"),
	// named first in its errors; "" when none does.
	Variable string
	// Allowed are the values the flag takes.
	Allowed []string
	// Aliases maps other names the flag takes to one of Allowed
	// ("table": "text", an old name).
	Aliases map[string]string
	// Default is the value of an empty flag (a bare --name or --name=,
	// as the Makefile passes --format=$(FORMAT) with FORMAT unset) and of
	// an absent one. Without a Default an empty value is refused and an
	// absent flag is "".
	Default string
}

// Cut removes every --name and --name=VALUE from args and returns the last
// value (found: the flag was given), one of c.Allowed once an alias is
// resolved. Every value given must be one the flag takes, not only the
// last: any other is an error naming the flag (and c.Variable) and the
// values allowed.
func (c Choice) Cut(args []string) (value string, found bool, rest []string, err error) {
	value = c.Default
	for _, a := range args {
		v, ok := strings.CutPrefix(a, "--"+c.Name)
		if !ok || v != "" && !strings.HasPrefix(v, "=") {
			rest = append(rest, a)
			continue
		}
		found = true
		v = strings.TrimPrefix(v, "=")
		value = v
		if a, ok := c.Aliases[v]; ok {
			value = a
		}
		if v == "" && c.Default != "" {
			value = c.Default
		}
		if !slices.Contains(c.Allowed, value) {
			return "", false, nil, ValueError(c.Name, c.Variable, v, strings.Join(c.Allowed, ", "))
		}
	}
	return value, found, rest, nil
}

// usageFlag is a flag in a usage line: "--format" of "[--format=text|json]".
var usageFlag = regexp.MustCompile(`--[a-z][a-z0-9-]*`)

// looksLikeFlag: -x, --name, --name=VALUE (not "-", "--" or "-1").
var looksLikeFlag = regexp.MustCompile(`^--?[A-Za-z]`)

// Synopsis is a command's usage line without its description: "cost STACK
// [--format=text|json] [--base=GIT_REF]" (the description follows two
// spaces).
func Synopsis(usage string) string {
	s, _, _ := strings.Cut(usage, "  ")
	return strings.TrimSpace(s)
}

// Flags are the flags a command's usage synopsis names, each once, in
// order: "--format", "--base" of "cost STACK [--format=text|json]
// [--base=GIT_REF]".
func Flags(usage string) []string {
	var flags []string
	for _, f := range usageFlag.FindAllString(Synopsis(usage), -1) {
		if !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	return flags
}

// UnknownFlag refuses the first argument that looks like a flag the
// command's usage synopsis does not name: the synopsis names every flag a
// command takes, so a misspelt one (--formt=json) is named, with the ones
// allowed, before the command runs, instead of ending as a usage line or
// taken for a stack, a file or a key. program ("shipyard") begins the
// usage line it quotes.
func UnknownFlag(program, usage string, args []string) error {
	syn := Synopsis(usage)
	allowed := Flags(usage)
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if !looksLikeFlag.MatchString(a) || slices.Contains(allowed, name) {
			continue
		}
		takes := "allowed " + strings.Join(allowed, ", ")
		if len(allowed) == 0 {
			takes = program + " " + strings.Fields(syn)[0] + " takes no flags"
		}
		return fmt.Errorf("unknown flag %s; %s; usage: %s %s", name, takes, program, syn)
	}
	return nil
}

// UsageError is a command's error for arguments it cannot take: the first
// one that looks like a flag is named (a flag the command does not know or
// did not take), else the usage line alone, begun by program.
func UsageError(program, usage string, args []string) error {
	for _, a := range args {
		if strings.HasPrefix(a, "-") && a != "-" {
			name, _, _ := strings.Cut(a, "=")
			return fmt.Errorf("unknown flag %s; usage: %s %s", name, program, Synopsis(usage))
		}
	}
	return fmt.Errorf("usage: %s %s", program, usage)
}
