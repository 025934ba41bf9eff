package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

func TestDBBackupAndRestore(t *testing.T) {
	local := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker, Database: stackconfig.Database{Name: "shipyard", Username: "shipyard"}}
	dump := "PGDMP custom-format bytes"
	t.Run("a backup is pg_dump's custom format from the postgres container, written whole", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "sub", "local.dump")
		x := newFakeExec(map[string]answer{"docker exec shipyard-local-postgres pg_dump --format=custom --username shipyard --dbname shipyard": {out: dump}})
		if err := dbBackup(context.Background(), x.exec, "docker", local, localOutputs(), file, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(file); string(got) != dump {
			t.Errorf("backup file holds %q, want the dump", got)
		}
	})
	t.Run("a failed backup leaves no file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "local.dump")
		x := newFakeExec(map[string]answer{"docker exec": {out: "PGDMP half", err: errors.New("pg_dump: connection refused")}})
		err := dbBackup(context.Background(), x.exec, "docker", local, localOutputs(), file, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v", err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 0 {
			t.Errorf("left %v behind", entries)
		}
	})
	t.Run("a backup never replaces an existing FILE and dumps nothing", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "local.dump")
		if err := os.WriteFile(file, []byte("PGDMP the only copy"), 0o644); err != nil {
			t.Fatal(err)
		}
		x := newFakeExec(map[string]answer{"docker exec": {out: dump}})
		err := dbBackup(context.Background(), x.exec, "docker", local, localOutputs(), file, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "FILE="+file+" exists") || !strings.Contains(err.Error(), "choose another name or remove it") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(file); string(got) != "PGDMP the only copy" {
			t.Errorf("FILE now holds %q", got)
		}
		if l := x.lines(); len(l) != 0 {
			t.Errorf("calls = %q, want none", l)
		}
	})
	t.Run("a FILE another backup finished meanwhile is kept, this backup refused and its temp file removed", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "local.dump")
		other := func(_ context.Context, c call) ([]byte, error) {
			if err := os.WriteFile(file, []byte("PGDMP the other backup"), 0o644); err != nil {
				return nil, err
			}
			_, err := c.Stdout.Write([]byte(dump))
			return nil, err
		}
		err := dbBackup(context.Background(), other, "docker", local, localOutputs(), file, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "FILE="+file+" exists") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(file); string(got) != "PGDMP the other backup" {
			t.Errorf("FILE now holds %q", got)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("left %v in the directory", entries)
		}
	})
	t.Run("a backup in progress to the same FILE keeps its temp file", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "local.dump")
		// What an earlier version's run, still dumping, writes to.
		inProgress := file + ".partial"
		if err := os.WriteFile(inProgress, []byte("PGDMP half of the other"), 0o644); err != nil {
			t.Fatal(err)
		}
		x := newFakeExec(map[string]answer{"docker exec": {out: dump}})
		if err := dbBackup(context.Background(), x.exec, "docker", local, localOutputs(), file, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(inProgress); string(got) != "PGDMP half of the other" {
			t.Errorf("the other run's temp file holds %q", got)
		}
		if got, _ := os.ReadFile(file); string(got) != dump {
			t.Errorf("FILE holds %q, want the dump", got)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Errorf("directory holds %v, want the other run's temp file and FILE", entries)
		}
	})
	t.Run("a restore first copies the database, then replaces it in one transaction, then empties the stack's own Redis database", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "local.dump")
		if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
		safety := filepath.Join(dir, "backups", "local-pre-restore-20261202T035200Z.dump")
		x := newFakeExec(map[string]answer{
			"/usr/bin/docker exec shipyard-local-postgres pg_dump": {out: "PGDMP the data before"},
			"/usr/bin/docker exec":                                 {},
		})
		var w bytes.Buffer
		if err := dbRestore(context.Background(), x.exec, "/usr/bin/docker", local, localOutputs(), file, safety, &w); err != nil {
			t.Fatal(err)
		}
		l := x.lines()
		if len(l) != 3 ||
			!strings.HasPrefix(l[0], "/usr/bin/docker exec shipyard-local-postgres pg_dump --format=custom") ||
			l[1] != "/usr/bin/docker exec --interactive shipyard-local-postgres pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --username shipyard --dbname shipyard" ||
			!strings.HasPrefix(l[2], "/usr/bin/docker exec shipyard-local-redis sh -c") || !strings.HasSuffix(l[2], " -n 0 FLUSHDB") {
			t.Errorf("calls = %q", l)
		}
		if got, _ := os.ReadFile(safety); string(got) != "PGDMP the data before" {
			t.Errorf("safety copy holds %q", got)
		}
		if undo := "restore it with make db-restore STACK=local FILE=" + safety; !strings.Contains(w.String(), undo) {
			t.Errorf("output %q does not say %q", w.String(), undo)
		}
	})
	for _, tc := range []struct {
		name    string
		file    string // "" for a missing one
		safety  func(t *testing.T, path string)
		answers map[string]answer
		want    string
	}{
		{name: "a missing FILE", want: "FILE: open"},
		{name: "a FILE that is no dump", file: "SELECT 1;", want: "is not a db-backup dump"},
		{name: "a failed safety copy", file: dump,
			answers: map[string]answer{"docker exec shipyard-local-postgres pg_dump": {err: errors.New("pg_dump: connection refused")}},
			want:    "connection refused"},
		{name: "a safety copy's name already taken", file: dump,
			safety: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("PGDMP an earlier copy"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "exists"},
	} {
		t.Run(tc.name+" restores nothing", func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "local.dump")
			if tc.file != "" {
				if err := os.WriteFile(file, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			safety := filepath.Join(dir, "local-pre-restore.dump")
			if tc.safety != nil {
				tc.safety(t, safety)
			}
			x := newFakeExec(tc.answers)
			err := dbRestore(context.Background(), x.exec, "docker", local, localOutputs(), file, safety, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing") {
				t.Fatalf("err = %v, want %q and that nothing was restored", err, tc.want)
			}
			for _, c := range x.lines() {
				if !strings.Contains(c, "pg_dump") {
					t.Errorf("ran %q", c)
				}
			}
		})
	}
	t.Run("an aws stack is pointed at its snapshots", func(t *testing.T) {
		dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS}
		err := dbBackup(context.Background(), newFakeExec(nil).exec, "docker", dev, release.Outputs{}, filepath.Join(t.TempDir(), "x"), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "snapshots") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStackRedisDB(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *stackconfig.Config
		want int
	}{
		{"a base stack's app uses Redis database 0", &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker}, 0},
		{"a PR environment's app uses its slot's database", &stackconfig.Config{Stack: "local-pr-7", Target: stackconfig.TargetDocker,
			Preview: &stackconfig.Preview{Base: "local", Number: 7, Slot: 3}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stackRedisDB(tc.cfg)
			if err != nil || got != tc.want {
				t.Errorf("stackRedisDB = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
