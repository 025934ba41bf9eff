package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	file := backupPath(pr.root, cfg.Stack, "")
	if len(e.args) == 2 {
		file = e.args[1]
	}
	return dbBackup(ctx, x, dockerClient(e.getenv), cfg, out, file, e.stdout)
}

// cmdDBRestore restores FILE (a db-backup dump) into a docker stack's
// database, replacing what is there, after a safety copy of it into
// backups/<stack>-pre-restore-<UTC time>.dump.
func cmdDBRestore(ctx context.Context, e env) error {
	if len(e.args) != 2 {
		return errors.New("usage: shipyard db-restore STACK FILE")
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
	return dbRestore(ctx, x, dockerClient(e.getenv), cfg, out, e.args[1], backupPath(pr.root, cfg.Stack, "pre-restore-"), e.stdout)
}

// backupPath is a new dump's default name: backups/<stack>-<kind><UTC
// time>.dump in the repository.
func backupPath(root, stack, kind string) string {
	return filepath.Join(root, backupsDir, fmt.Sprintf("%s-%s%s.dump", stack, kind, time.Now().UTC().Format("20060102T150405Z")))
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

// dumpMagic starts every pg_dump --format=custom file.
const dumpMagic = "PGDMP"

// dbRestore feeds file to pg_restore in the stack's postgres container:
// every object of the dump is dropped and recreated, in one transaction
// (a failed restore changes nothing); then the stack's Redis database is
// emptied. First it backs the current database up into safety (a new
// file), so restoring the wrong file can be undone; without that copy it
// restores nothing.
func dbRestore(ctx context.Context, x execer, docker string, cfg *stackconfig.Config, out release.Outputs, file, safety string, w io.Writer) error {
	pg, err := postgresContainer(cfg, out)
	if err != nil {
		return err
	}
	redisDB, err := stackRedisDB(cfg)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("FILE: %w; nothing restored", err)
	}
	defer f.Close()
	magic := make([]byte, len(dumpMagic))
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != dumpMagic {
		return fmt.Errorf("FILE=%s is not a db-backup dump (pg_dump's custom format, starting %q); nothing restored", file, dumpMagic)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("FILE: %w; nothing restored", err)
	}
	if err := dbBackup(ctx, x, docker, cfg, out, safety, w); err != nil {
		return fmt.Errorf("the safety copy of the database of stack %q before the restore failed, so nothing was restored: %w", cfg.Stack, err)
	}
	undo := fmt.Sprintf("make db-restore STACK=%s FILE=%s", cfg.Stack, safety)
	fmt.Fprintf(w, "==> the database before the restore is in %s: restore it with %s\n", safety, undo)
	t0 := time.Now()
	if _, err := x(ctx, call{Name: docker, Args: []string{"exec", "--interactive", pg, "pg_restore", "--clean", "--if-exists", "--no-owner",
		"--single-transaction", "--exit-on-error", "--username", cfg.Database.Username, "--dbname", cfg.Database.Name}, Stdin: f}); err != nil {
		return fmt.Errorf("restoring %s into stack %q: %w", file, cfg.Stack, err)
	}
	// Redis holds a cache of the database and jobs about its rows: after a
	// restore they describe data that is gone, so they go too. Only the
	// stack's own logical database: the docker stack's Redis also holds its
	// PR environments' (one per slot), whose data was not restored.
	if redis := out.Map("containers")["redis"]; redis != "" {
		if _, err := x(ctx, call{Name: docker, Args: []string{"exec", redis, "sh", "-c",
			`redis-cli --no-auth-warning -a "$` + stackconfig.SecretRedisPassword + `" -n ` + strconv.Itoa(redisDB) + ` FLUSHDB`}}); err != nil {
			return fmt.Errorf("restored the database of stack %q, but emptying its Redis database %d (cache and job queue of the old data) failed: %w", cfg.Stack, redisDB, err)
		}
	}
	fmt.Fprintf(w, "==> restored %s into database %s of stack %s in %s (Redis database %d emptied: cache and jobs of the data before); to undo: %s\n", file, cfg.Database.Name, cfg.Stack, time.Since(t0).Round(time.Millisecond), redisDB, undo)
	return nil
}

// stackRedisDB is the Redis logical database of the stack's app: the one
// its REDIS_URL names (0 for a base stack, the slot for a PR environment).
func stackRedisDB(cfg *stackconfig.Config) (int, error) {
	for _, v := range cfg.Env(stackconfig.LocalEndpoints) {
		if v.Name != "REDIS_URL" {
			continue
		}
		u, err := url.Parse(v.Value)
		if err != nil {
			return 0, fmt.Errorf("stack %q: REDIS_URL %q: %w", cfg.Stack, v.Value, err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(u.Path, "/"))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("stack %q: REDIS_URL %q names no logical database (allowed /0 to /15)", cfg.Stack, v.Value)
		}
		return n, nil
	}
	return 0, fmt.Errorf("stack %q has no REDIS_URL: its Redis database is unknown", cfg.Stack)
}
