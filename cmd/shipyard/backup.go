package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// backupsDir is where `make db-backup` writes dumps by default, inside the
// repository (gitignored).
const backupsDir = "backups"

// cmdDBBackup dumps a docker stack's database (pg_dump's custom format,
// run in its postgres container) into FILE, by default
// backups/<stack>-<UTC time>.dump.
func cmdDBBackup(ctx context.Context, e env) error {
	if len(e.args) < 1 || len(e.args) > 2 {
		return errors.New("usage: shipyard db-backup STACK [FILE]")
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, e.args[0])
	if err != nil {
		return err
	}
	file := filepath.Join(pr.root, backupsDir, fmt.Sprintf("%s-%s.dump", cfg.Stack, time.Now().UTC().Format("20060102T150405Z")))
	if len(e.args) == 2 {
		file = e.args[1]
	}
	return dbBackup(ctx, x, dockerClient(e.getenv), cfg, out, file, e.stdout)
}

// cmdDBRestore restores FILE (a db-backup dump) into a docker stack's
// database, replacing what is there.
func cmdDBRestore(ctx context.Context, e env) error {
	if len(e.args) != 2 {
		return errors.New("usage: shipyard db-restore STACK FILE")
	}
	x := osExec(e.stdout, e.stderr)
	cfg, out, err := stackOutputs(ctx, e, x, e.args[0])
	if err != nil {
		return err
	}
	return dbRestore(ctx, x, dockerClient(e.getenv), cfg, out, e.args[1], e.stdout)
}

// postgresContainer returns a docker stack's postgres container, or why
// the stack has none to back up.
func postgresContainer(cfg *stackconfig.Config, out release.Outputs) (string, error) {
	if cfg.Target != stackconfig.TargetDocker {
		return "", fmt.Errorf("stack %q has target %q: its database is backed up by RDS snapshots (a manual one before each release that migrates; docs/operations.md), not by db-backup", cfg.Stack, cfg.Target)
	}
	pg := out.Map("containers")["postgres"]
	if pg == "" {
		return "", fmt.Errorf("stack %q has no containers.postgres output: run `make up STACK=%s` first", cfg.Stack, cfg.Stack)
	}
	return pg, nil
}

// dbBackup streams pg_dump --format=custom from the stack's postgres
// container into file, which must not exist: a backup never replaces a
// dump (FILE=x twice would lose the first one). The dump goes to a temp
// file of its own in file's directory, so concurrent backups never share
// one, and is linked into place only when whole: a failed dump leaves no
// file.
func dbBackup(ctx context.Context, x execer, docker string, cfg *stackconfig.Config, out release.Outputs, file string, w io.Writer) error {
	pg, err := postgresContainer(cfg, out)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(file); err == nil {
		return existingBackupError(file)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*.partial")
	if err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	t0 := time.Now()
	_, err = x(ctx, call{Name: docker, Args: []string{"exec", pg, "pg_dump", "--format=custom",
		"--username", cfg.Database.Username, "--dbname", cfg.Database.Name}, Stdout: f})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backing up stack %q: %w", cfg.Stack, err)
	}
	if err := placeNew(tmp, file); err != nil {
		return err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "==> %s: database %s of stack %s, %d bytes, in %s\n", file, cfg.Database.Name, cfg.Stack, fi.Size(), time.Since(t0).Round(time.Millisecond))
	return nil
}

// existingBackupError refuses to write a backup over file.
func existingBackupError(file string) error {
	return fmt.Errorf("FILE=%s exists: db-backup never replaces a dump; choose another name or remove it", file)
}

// placeNew gives tmp the name file unless file exists. A hard link never
// replaces its target, so a file created meanwhile (another backup to the
// same FILE finishing first) is kept and this one refused. On a file
// system without hard links it checks again and renames: a file created
// between that check and the rename would be replaced (a window of
// microseconds, only there).
func placeNew(tmp, file string) error {
	err := os.Link(tmp, file)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return existingBackupError(file)
	}
	if _, serr := os.Lstat(file); serr == nil {
		return existingBackupError(file)
	}
	if rerr := os.Rename(tmp, file); rerr != nil {
		return fmt.Errorf("backup file: %w (hard link: %v)", rerr, err)
	}
	return nil
}

// dbRestore feeds file to pg_restore in the stack's postgres container:
// every object of the dump is dropped and recreated, in one transaction
// (a failed restore changes nothing); then the stack's Redis is emptied.
func dbRestore(ctx context.Context, x execer, docker string, cfg *stackconfig.Config, out release.Outputs, file string, w io.Writer) error {
	pg, err := postgresContainer(cfg, out)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	t0 := time.Now()
	if _, err := x(ctx, call{Name: docker, Args: []string{"exec", "--interactive", pg, "pg_restore", "--clean", "--if-exists", "--no-owner",
		"--single-transaction", "--exit-on-error", "--username", cfg.Database.Username, "--dbname", cfg.Database.Name}, Stdin: f}); err != nil {
		return fmt.Errorf("restoring %s into stack %q: %w", file, cfg.Stack, err)
	}
	// Redis holds a cache of the database and jobs about its rows: after a
	// restore they describe data that is gone, so they go too.
	if redis := out.Map("containers")["redis"]; redis != "" {
		if _, err := x(ctx, call{Name: docker, Args: []string{"exec", redis, "sh", "-c",
			`redis-cli --no-auth-warning -a "$` + stackconfig.SecretRedisPassword + `" FLUSHALL`}}); err != nil {
			return fmt.Errorf("restored the database of stack %q, but emptying its Redis (cache and job queue of the old data) failed: %w", cfg.Stack, err)
		}
	}
	fmt.Fprintf(w, "==> restored %s into database %s of stack %s in %s (Redis emptied: cache and jobs of the data before)\n", file, cfg.Database.Name, cfg.Stack, time.Since(t0).Round(time.Millisecond))
	return nil
}
