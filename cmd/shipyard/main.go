// Command shipyard is the operator's tool behind the Makefile: it reads the
// stack config (infra/stackconfig) and prints env files, validates stacks,
// and drives releases. Run `go run ./cmd/shipyard help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path, ok := toolsPath(os.Getenv); ok {
		os.Setenv("PATH", path)
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shipyard:", err)
		os.Exit(exitCode(err))
	}
}

// env is what every command receives: arguments after the command name,
// the environment and the output streams.
type env struct {
	args   []string
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	// usage is "NAME ARGS  description"; ARGS names every flag the
	// command takes (cliflag.UnknownFlag).
	usage string
	run   func(ctx context.Context, e env) error
}

// commands is the whole command table.
func commands() map[string]command {
	return map[string]command{
		"env":         {"env STACK                 print the app's env for STACK in .env form (secrets as names only)", cmdEnv},
		"validate":    {"validate [STACK...]       validate config/<stack>.json (all stacks by default)", cmdValidate},
		"config-docs": {"config-docs               print docs/config.md, generated from config/schema.json", cmdConfigDocs},
		// Operator workflow (docs/operations.md).
		"guard":       {"guard [--allow-stateful-changes] [FILE]  refuse a `pulumi preview --json` plan that deletes or replaces stateful resources", cmdGuard},
		"up":          {"up STACK [--allow-stateful-changes] [--release-follows]  create or update a stack (aws: guarded plan first)", cmdUp},
		"preview":     {"preview STACK [--expect-no-changes]  show the diff `up` would apply (or fail on any)", cmdPreview},
		"destroy":     {"destroy STACK [--confirm=STACK] [--keep-data]  delete a stack's resources (aws needs --confirm; docker: and its data volumes unless --keep-data)", cmdDestroy},
		"outputs":     {"outputs STACK [KEY]       print a stack's outputs (JSON), or one of them", cmdOutputs},
		"logs":        {"logs STACK [PROCESS...]   follow the logs of a stack's processes", cmdLogs},
		"dashboard":   {"dashboard STACK           print the stack's dashboard URL (aws: CloudWatch; docker: Prometheus) and open it in a browser outside CI", cmdDashboard},
		"traces":      {"traces STACK              print the stack's trace UI URL (aws: X-Ray trace search; docker: Jaeger) and open it in a browser outside CI", cmdTraces},
		"migrate":     {"migrate STACK             run the one-off migrate process (docker container / ECS run-task)", cmdMigrate},
		"job":         {"job STACK NAME            run a scheduled job now through the worker's queue, wait for its outcome, exit with it", cmdJob},
		"jobs":        {jobsUsage + "  list the scheduled jobs with their schedule, last run, last success, duration and next run (--format=json: a JSON array)", cmdJobs},
		"db-backup":   {"db-backup STACK [FILE]    dump a docker stack's database (pg_dump custom format) into FILE, a new file (default backups/<stack>-<time>.dump)", cmdDBBackup},
		"db-restore":  {"db-restore STACK FILE     restore a db-backup dump into a docker stack's database, replacing its contents after a safety copy of them (backups/<stack>-pre-restore-<time>.dump)", cmdDBRestore},
		"release":     {"release STACK [--image=REF]  push the built image, deploy it by digest, record it", cmdRelease},
		"promote":     {"promote FROM TO           deploy FROM's release to TO by digest (never rebuilt)", cmdPromote},
		"rollback":    {"rollback STACK [RELEASE]  re-deploy the previous (or named) release", cmdRollback},
		"ledger":      {"ledger STACK|--verify     print a stack's release ledger, or check every ledger", cmdLedger},
		"bootstrap":   {bootstrapUsage, cmdBootstrap},
		"rekey":       {rekeyUsage, cmdRekey},
		"doctor":      {"doctor [STACK...] [--pulumi-version=V] [--plugins=NAME:V,...] [--aws-plugin-archive=FILE]  check the prerequisites and print fixes", cmdDoctor},
		"target":      {"target STACK              print the stack's target (aws or docker)", cmdTarget},
		"images":      {imagesUsage, cmdImages},
		"drift":       {"drift STACK               compare the deployed resources with the state (refresh preview): a line per drifted resource and property; exit 0 clean, 2 drift, 1 error", cmdDrift},
		"cost-prices": {costPricesUsage + "  refresh the price table from AWS's Price List offer files", cmdCostPrices},
		"cost":        {costUsage + "  print an aws stack's monthly cost, or the change since a git ref (infra/cost)", cmdCost},

		// Pull-request environments (docs/operations.md).
		"pr-up":   {prUpUsage, cmdPRUp},
		"pr-down": {prDownUsage, cmdPRDown},
		"pr-reap": {prReapUsage, cmdPRReap},
		"pr-list": {prListUsage, cmdPRList},

		// Checks (`make lint`; release and promote run it first).
		"lint-migrations": {"lint-migrations [DIR]     check the app's migrations for long locks and changes the previous release cannot survive (docs/operations.md)", cmdLintMigrations},

		// Backups of aws stacks (docs/operations.md).
		"db-restore-drill": {"db-restore-drill STACK    restore the latest RDS snapshot into a temporary instance, migrate and read it, report the time, delete it", cmdRestoreDrill},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return usage(stdout, cmds)
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	// Every command answers -h and --help with its usage line (never
	// taking the flag for a stack or file name).
	for _, a := range args[1:] {
		if a == "-h" || a == "--help" {
			fmt.Fprintln(stdout, "usage: shipyard "+c.usage)
			return nil
		}
	}
	// A command's usage line names every flag it takes: any other flag is
	// refused, and named, before the command runs (which would take it for
	// a stack or a file, or print its usage alone).
	if err := cliflag.UnknownFlag("shipyard", c.usage, args[1:]); err != nil {
		return err
	}
	return c.run(ctx, env{args: args[1:], getenv: getenv, stdout: stdout, stderr: stderr})
}

// toolsPath returns PATH with the repository's bin/ first, as the Makefile
// has it, so `go run ./cmd/shipyard …` finds the pinned pulumi and crane
// that `make tools` installed there. ok is false outside a repository or
// when bin/ is already first.
func toolsPath(getenv func(string) string) (path string, ok bool) {
	dir, err := stackconfig.FindDir(getenv, ".")
	if err != nil {
		return "", false
	}
	bin, err := filepath.Abs(filepath.Join(dir, "..", "bin"))
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(bin); err != nil || !fi.IsDir() {
		return "", false
	}
	path = getenv("PATH")
	if first, _, _ := strings.Cut(path, string(os.PathListSeparator)); first == bin {
		return "", false
	}
	if path == "" {
		return bin, true
	}
	return bin + string(os.PathListSeparator) + path, true
}

func usage(w io.Writer, cmds map[string]command) error {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: shipyard COMMAND [ARGS]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintln(w, "  "+cmds[n].usage)
	}
	return nil
}
