package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// cutFlag removes every "--name" or "--name=value" from args and returns
// the last value ("" for a bare flag), whether the flag was there, and the
// remaining arguments.
func cutFlag(args []string, name string) (value string, found bool, rest []string) {
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

// boolFlag removes every "--name" and "--name=VALUE" from args and says
// whether the flag is on: a bare --name, --name=true and --name=1 turn it
// on, --name=false and --name=0 off; the last one given wins. Any other
// value is an error naming the flag and the values it takes, so that
// --keep-data=no never keeps data and --allow-stateful-changes=false never
// turns the guard off.
func boolFlag(args []string, name string) (on bool, rest []string, err error) {
	return boolFlagVar(args, name, "")
}

// boolFlagVar is boolFlag for a flag the Makefile sets from variable
// (`make up RELEASE_FOLLOWS=1` passes --release-follows=1): its error names
// the variable first.
func boolFlagVar(args []string, name, variable string) (on bool, rest []string, err error) {
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
				return false, nil, flagValueError(name, variable, v[1:], allowed)
			}
		default:
			rest = append(rest, a)
		}
	}
	return on, rest, nil
}

// flagValueError is the error for a flag given a value it does not take:
// "--keep-data=maybe: allowed …", or for a flag the Makefile sets from a
// variable "FORMAT=yaml (--format=yaml): allowed …".
func flagValueError(name, variable, value, allowed string) error {
	if variable != "" {
		return fmt.Errorf("%s=%s (--%s=%s): allowed %s", variable, value, name, value, allowed)
	}
	return fmt.Errorf("--%s=%s: allowed %s", name, value, allowed)
}

// usageFlag is a flag in a usage line: "--format" of "[--format=text|json]".
var usageFlag = regexp.MustCompile(`--[a-z][a-z0-9-]*`)

// looksLikeFlag: -x, --name, --name=VALUE (not "-", "--" or "-1").
var looksLikeFlag = regexp.MustCompile(`^--?[A-Za-z]`)

// synopsis is a command's usage line without its description: "cost STACK
// [--format=text|json] [--base=GIT_REF]" (the description follows two
// spaces).
func synopsis(usage string) string {
	s, _, _ := strings.Cut(usage, "  ")
	return strings.TrimSpace(s)
}

// unknownFlag refuses the first argument that looks like a flag the
// command's usage synopsis does not name: the synopsis names every flag a
// command takes, so a misspelt one (--formt=json) is named, with the ones
// allowed, before the command runs, instead of ending as a usage line or
// taken for a stack, a file or a key.
func unknownFlag(usage string, args []string) error {
	syn := synopsis(usage)
	var allowed []string
	for _, f := range usageFlag.FindAllString(syn, -1) {
		if !slices.Contains(allowed, f) {
			allowed = append(allowed, f)
		}
	}
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if !looksLikeFlag.MatchString(a) || slices.Contains(allowed, name) {
			continue
		}
		takes := "allowed " + strings.Join(allowed, ", ")
		if len(allowed) == 0 {
			takes = "shipyard " + strings.Fields(syn)[0] + " takes no flags"
		}
		return fmt.Errorf("unknown flag %s; %s; usage: shipyard %s", name, takes, syn)
	}
	return nil
}

// usageError is a command's error for arguments it cannot take: the
// first one that looks like a flag is named (a flag the command does not
// know or did not take), else the usage line alone.
func usageError(args []string, usage string) error {
	for _, a := range args {
		if strings.HasPrefix(a, "-") && a != "-" {
			name, _, _ := strings.Cut(a, "=")
			return fmt.Errorf("unknown flag %s; usage: shipyard %s", name, synopsis(usage))
		}
	}
	return fmt.Errorf("usage: shipyard %s", usage)
}

// formatFlag removes every --format=VALUE (the Makefile's FORMAT=) from
// args and returns the output format: one of allowed, the first of them
// when the flag is absent or empty; aliases maps other names a command
// takes to one of allowed. Any other value is an error naming FORMAT,
// --format and the allowed values.
func formatFlag(args []string, aliases map[string]string, allowed ...string) (format string, rest []string, err error) {
	v, _, rest := cutFlag(args, "format")
	if v == "" {
		return allowed[0], rest, nil
	}
	if a, ok := aliases[v]; ok {
		v = a
	}
	if !slices.Contains(allowed, v) {
		return "", nil, flagValueError("format", "FORMAT", v, strings.Join(allowed, ", "))
	}
	return v, rest, nil
}
