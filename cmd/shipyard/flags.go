package main

import (
	"fmt"
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
