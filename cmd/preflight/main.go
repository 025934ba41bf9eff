// Command preflight runs the checks every stack target of the Makefile
// runs first (internal/preflight): the stack exists, and an aws stack's
// state is not a file on this machine. It uses only the standard library,
// so it builds in seconds before anything slow.
//
//	preflight check STACK...   one line on stderr and exit 1 when a check fails
//	preflight backend STACK    print the stack's PULUMI_BACKEND_URL
//	preflight target STACK     print the stack's target (aws or docker)
//	preflight image STACK [TAG]  print the app image `make image` tags for
//	                           the stack (internal/preflight.AppImage), with
//	                           TAG instead of "local" when given
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shipyard-kit/shipyard/internal/preflight"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = "usage: preflight check STACK... | backend STACK | target STACK | image STACK [TAG]"

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	switch {
	case len(args) < 2:
		return errors.New(usage)
	case args[0] == "image":
		if len(args) > 3 {
			return errors.New(usage)
		}
	case args[0] != "check" && len(args) != 2:
		return errors.New(usage)
	}
	configDir := getenv("SHIPYARD_CONFIG_DIR")
	if configDir == "" {
		configDir = "config"
	}
	configDir, err := filepath.Abs(configDir)
	if err != nil {
		return err
	}
	root := filepath.Dir(configDir)
	if args[0] == "image" {
		// An aws stack's image is known before `make bootstrap`: no
		// backend check.
		tag := ""
		if len(args) == 3 {
			tag = args[2]
		}
		ref, err := preflight.AppImage(configDir, args[1], tag)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, ref)
		return nil
	}
	stacks, err := preflight.Check(getenv, root, configDir, args[1:]...)
	switch {
	case args[0] == "target":
		// The target of a stack whose backend is refused is still known.
		s, rerr := preflight.Read(configDir, args[1])
		if rerr != nil {
			return rerr
		}
		fmt.Fprintln(stdout, s.Target)
		return nil
	case err != nil:
		return err
	case args[0] == "check":
		return nil
	case args[0] == "backend":
		url, err := preflight.Backend(getenv, root, stacks[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, url)
		return nil
	}
	return errors.New(usage)
}
