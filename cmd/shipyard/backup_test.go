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
	t.Run("a restore replaces the database in one transaction, then empties Redis", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "local.dump")
		if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
		x := newFakeExec(map[string]answer{"/usr/bin/docker exec": {}})
		if err := dbRestore(context.Background(), x.exec, "/usr/bin/docker", local, localOutputs(), file, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		l := x.lines()
		if len(l) != 2 ||
			l[0] != "/usr/bin/docker exec --interactive shipyard-local-postgres pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --username shipyard --dbname shipyard" ||
			!strings.HasPrefix(l[1], "/usr/bin/docker exec shipyard-local-redis sh -c") || !strings.Contains(l[1], "FLUSHALL") {
			t.Errorf("calls = %q", l)
		}
	})
	t.Run("an aws stack is pointed at its snapshots", func(t *testing.T) {
		dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS}
		err := dbBackup(context.Background(), newFakeExec(nil).exec, "docker", dev, release.Outputs{}, filepath.Join(t.TempDir(), "x"), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "snapshots") {
			t.Fatalf("err = %v", err)
		}
	})
}
