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
	"sort"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shipyard:", err)
		os.Exit(1)
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
		"guard":      {"guard [--allow-stateful-changes] [FILE]  refuse a `pulumi preview --json` plan that deletes or replaces stateful resources", cmdGuard},
		"up":         {"up STACK [--allow-stateful-changes]  create or update a stack (aws: guarded plan first)", cmdUp},
		"preview":    {"preview STACK [--expect-no-changes]  show the diff `up` would apply (or fail on any)", cmdPreview},
		"destroy":    {"destroy STACK [--confirm=STACK] [--keep-data]  delete a stack's resources (aws needs --confirm; docker: and its data volumes unless --keep-data)", cmdDestroy},
		"outputs":    {"outputs STACK [KEY]       print a stack's outputs (JSON), or one of them", cmdOutputs},
		"logs":       {"logs STACK [PROCESS...]   follow the logs of a stack's processes", cmdLogs},
		"dashboard":  {"dashboard STACK           print the stack's dashboard URL (aws: CloudWatch; docker: Prometheus) and open it in a browser outside CI", cmdDashboard},
		"traces":     {"traces STACK              print the stack's trace UI URL (aws: X-Ray trace search; docker: Jaeger) and open it in a browser outside CI", cmdTraces},
		"migrate":    {"migrate STACK             run the one-off migrate process (docker container / ECS run-task)", cmdMigrate},
		"db-backup":  {"db-backup STACK [FILE]    dump a docker stack's database (pg_dump custom format) into FILE (default backups/<stack>-<time>.dump)", cmdDBBackup},
		"db-restore": {"db-restore STACK FILE     restore a db-backup dump into a docker stack's database, replacing its contents", cmdDBRestore},
		"release":    {"release STACK [--image=REF]  push the built image, deploy it by digest, record it", cmdRelease},
		"promote":    {"promote FROM TO           deploy FROM's release to TO by digest (never rebuilt)", cmdPromote},
		"rollback":   {"rollback STACK [RELEASE]  re-deploy the previous (or named) release", cmdRollback},
		"ledger":     {"ledger STACK|--verify     print a stack's release ledger, or check every ledger", cmdLedger},
		"doctor":     {"doctor [STACK...] [--pulumi-version=V]  check the prerequisites and print fixes", cmdDoctor},
		"target":     {"target STACK              print the stack's target (aws or docker)", cmdTarget},

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
	return c.run(ctx, env{args: args[1:], getenv: getenv, stdout: stdout, stderr: stderr})
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
