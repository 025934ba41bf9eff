// Command preflight runs the checks every stack target of the Makefile
// runs first (internal/preflight): the stack exists, and an aws stack's
// state is not a file on this machine. It uses only the standard library,
// so it builds in seconds before anything slow; the workflows
// (.github/workflows) list the stacks and read their bootstrap sections
// with it (`go run ./cmd/preflight …`), so they know the stacks Go knows.
//
//	preflight check STACK...   one line on stderr and exit 1 when a check fails
//	preflight backend STACK    print the stack's PULUMI_BACKEND_URL
//	preflight target STACK     print the stack's target (aws or docker); a
//	                           config that is not JSON or has no known target
//	                           is an error
//	preflight passphrase STACK print the PULUMI_CONFIG_PASSPHRASE the stack's pulumi
//	                           calls get when the user set none (docker stacks: the
//	                           local one), nothing when they get none; a config
//	                           that is not JSON or has no known target is an error
//	preflight stacks [--target=aws|docker] [--format=text|json]
//	                           print the stacks of config/ (one a line, or a JSON list)
//	preflight ci STACK --role=deploy|preview
//	                           print role=, region= and backend= of the role a
//	                           workflow job assumes for an aws stack; any other
//	                           stack, or a config that is not JSON, is an error
//	preflight destroy STACK [CONFIRM]
//	                           check destroy's CONFIRM (internal/preflight.CheckConfirm):
//	                           an aws stack needs it naming the stack; any other
//	                           non-empty CONFIRM is an error
//	preflight pr PR            check a pull request number (internal/preflight.ParsePR)
//	preflight promote FROM TO  check promote's stacks: two different aws stacks
//	                           (internal/preflight.CheckPromote)
//	preflight image STACK [TAG]  print the app image `make image` tags for
//	                           the stack (internal/preflight.AppImage), with
//	                           TAG instead of "local" when given
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		report(os.Stderr, err, os.Getenv)
		os.Exit(1)
	}
}

// report writes err on one line; inside a GitHub Actions job as an error
// annotation too (GitHub's "::error" workflow command, its newlines
// escaped), so the run's page shows why the workflow stopped. An error
// about a config file (preflight.LocationOf) names it, and the line and
// column, as the annotation's file, line and col, which GitHub shows on
// the file in the commit; the file relative to GITHUB_WORKSPACE, the
// repository's checkout, as GitHub wants it.
func report(w io.Writer, err error, getenv func(string) string) {
	if getenv("GITHUB_ACTIONS") != "true" {
		fmt.Fprintln(w, err)
		return
	}
	data := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	property := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	var props []string
	if loc, ok := preflight.LocationOf(err); ok {
		file := loc.File
		if ws := getenv("GITHUB_WORKSPACE"); ws != "" && filepath.IsAbs(file) {
			if rel, relErr := filepath.Rel(ws, file); relErr == nil && filepath.IsLocal(rel) {
				file = rel
			}
		}
		props = append(props, "file="+property.Replace(filepath.ToSlash(file)))
		if loc.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", loc.Line), fmt.Sprintf("col=%d", loc.Col))
		}
	}
	cmd := "::error"
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	fmt.Fprintln(w, cmd+"::"+data.Replace(err.Error()))
}

// The usage line of each command, in the order the usage lists them.
var usages = []string{
	"check STACK...",
	"backend STACK",
	"target STACK",
	"passphrase STACK",
	"stacks [--target=aws|docker] [--pull-requests] [--format=text|json]",
	"ci STACK --role=deploy|preview",
	"image STACK [TAG]",
	"destroy STACK [CONFIRM]",
	"pr PR",
	"promote FROM TO",
}

var usage = "usage: preflight " + strings.Join(usages, " | ")

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	var syn string
	for _, u := range usages {
		if strings.Fields(u)[0] == cmd {
			syn = u
		}
	}
	if syn == "" {
		return fmt.Errorf("unknown command %q; %s", cmd, usage)
	}
	if err := cliflag.UnknownFlag("preflight", syn, args); err != nil {
		return err
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
	switch cmd {
	case "check":
		if len(args) == 0 {
			return cliflag.UsageError("preflight", syn, args)
		}
		_, err := preflight.Check(getenv, root, configDir, args...)
		return err
	case "backend":
		if len(args) != 1 {
			return cliflag.UsageError("preflight", syn, args)
		}
		stacks, err := preflight.Check(getenv, root, configDir, args[0])
		if err != nil {
			return err
		}
		url, err := preflight.Backend(getenv, root, stacks[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, url)
		return nil
	case "target":
		if len(args) != 1 {
			return cliflag.UsageError("preflight", syn, args)
		}
		// The target of a stack whose backend is refused is still known.
		// The Makefile picks what to install and build by the answer: a
		// config that is not JSON or has no known target is an error, not
		// an empty answer that skips the work.
		s, err := readTargeted(configDir, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, s.Target)
		return nil
	case "passphrase":
		if len(args) != 1 {
			return cliflag.UsageError("preflight", syn, args)
		}
		// The passphrase goes by the target: a config whose target is
		// unknown is an error, not "none" (make e2e would run pulumi
		// without one).
		s, err := readTargeted(configDir, args[0])
		if err != nil {
			return err
		}
		if pass, ok := preflight.Passphrase(getenv, s); ok {
			fmt.Fprintln(stdout, pass)
		}
		return nil
	case "destroy":
		if len(args) < 1 || len(args) > 2 {
			return cliflag.UsageError("preflight", syn, args)
		}
		s, err := readTargeted(configDir, args[0])
		if err != nil {
			return err
		}
		confirm := ""
		if len(args) == 2 {
			confirm = args[1]
		}
		return preflight.CheckConfirm(s, confirm)
	case "pr":
		if len(args) != 1 {
			return cliflag.UsageError("preflight", syn, args)
		}
		_, err := preflight.ParsePR(args[0])
		return err
	case "promote":
		if len(args) != 2 {
			return cliflag.UsageError("preflight", syn, args)
		}
		return preflight.CheckPromote(configDir, args[0], args[1])
	case "stacks":
		return cmdStacks(configDir, args, stdout, syn)
	case "ci":
		return cmdCI(configDir, args, stdout, syn)
	case "image":
		if len(args) < 1 || len(args) > 2 {
			return cliflag.UsageError("preflight", syn, args)
		}
		// An aws stack's image is known before `make bootstrap`: no
		// backend check.
		tag := ""
		if len(args) == 2 {
			tag = args[1]
		}
		ref, err := preflight.AppImage(configDir, args[0], tag)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, ref)
		return nil
	}
	return errors.New(usage)
}

// cmdStacks prints the stacks of config/ (internal/preflight.Stacks: a
// file such as dev.old.json is none), of one target with --target, those
// pull requests preview (ci.pullRequestPreviews) with --pull-requests,
// one a line or, with --format=json, as a JSON list (a workflow's matrix).
func cmdStacks(configDir string, args []string, stdout io.Writer, syn string) error {
	target, _, args, err := cliflag.Choice{Name: "target", Allowed: []string{preflight.TargetAWS, preflight.TargetDocker}}.Cut(args)
	if err != nil {
		return err
	}
	format, _, args, err := cliflag.Choice{Name: "format", Allowed: []string{"text", "json"}}.Cut(args)
	if err != nil {
		return err
	}
	pullRequests, args, err := cliflag.Bool(args, "pull-requests")
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return cliflag.UsageError("preflight", syn, args)
	}
	stacks, err := preflight.ReadAll(configDir)
	if err != nil {
		return err
	}
	names := []string{}
	for _, s := range stacks {
		if (target == "" || s.Target == target) && (!pullRequests || s.PullRequestPreviews) {
			names = append(names, s.Name)
		}
	}
	if format == "json" {
		data, err := json.Marshal(names)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(data))
		return nil
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

// cmdCI prints what a workflow job reads of an aws stack before it
// assumes one of the roles `make bootstrap` created for CI, as
// $GITHUB_OUTPUT lines (role=, region=, backend=), or fails in one line
// (a workflow's error annotation): naming a config it cannot read as JSON
// and where its JSON breaks (internal/preflight.ReadStrict), a target
// other than aws, or what the bootstrap section lacks and `make bootstrap`
// (internal/preflight.ForCI: the one check of the workflows).
func cmdCI(configDir string, args []string, stdout io.Writer, syn string) error {
	role, found, args, err := cliflag.Choice{Name: "role", Allowed: preflight.Roles}.Cut(args)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("--role is missing: allowed %s; usage: preflight %s", strings.Join(preflight.Roles, ", "), syn)
	}
	if len(args) != 1 {
		return cliflag.UsageError("preflight", syn, args)
	}
	s, err := preflight.ReadStrict(configDir, args[0])
	if err != nil {
		return err
	}
	ci, err := preflight.ForCI(s, role)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "role=%s\nregion=%s\nbackend=%s\n", ci.RoleArn, ci.Region, ci.Backend)
	return nil
}

// readTargeted reads a stack whose answer goes by its target (target,
// passphrase, destroy): strictly, a config that is not JSON or has no
// known target being an error naming the file, never an empty answer.
func readTargeted(configDir, stack string) (preflight.Stack, error) {
	s, err := preflight.ReadStrict(configDir, stack)
	if err != nil {
		return preflight.Stack{}, err
	}
	if err := preflight.CheckTarget(filepath.Join(configDir, s.Name+".json"), s.Target); err != nil {
		return preflight.Stack{}, err
	}
	return s, nil
}
