package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A file is replaced whole or not at all: written beside it and renamed
// over it, keeping its mode, leaving no temporary file.
func TestAFileIsReplacedWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dev.json")
	if err := os.WriteFile(path, []byte(`{"old": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader that has the old file open keeps reading it whole: the new
	// contents are a new file renamed over it, never written into it.
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := Write(path, []byte(`{"new": true}`)); err != nil {
		t.Fatal(err)
	}
	if data, _ := io.ReadAll(old); string(data) != `{"old": true}` {
		t.Errorf("the old file, open during the write, reads %q", data)
	}
	data, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	entries, _ := os.ReadDir(dir)
	if string(data) != `{"new": true}` || fi.Mode().Perm() != 0o600 || len(entries) != 1 {
		t.Errorf("content %q, mode %v, %d files", data, fi.Mode().Perm(), len(entries))
	}
	// A new file gets 0644.
	fresh := filepath.Join(dir, "new.json")
	if err := Write(fresh, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("a new file's mode is %v, want 0644", fi.Mode().Perm())
	}
}

// A write that fails after the temporary file was made (here: path is a
// non-empty directory, so the rename fails, as root too) leaves what was at
// path as it was, and no temporary file.
func TestAFailedWriteLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("data")); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left: %d, want only the directory", len(entries))
	}
	if inside, _ := os.ReadDir(target); len(inside) != 1 || inside[0].Name() != "x" {
		t.Errorf("the directory holds %v after the failed write, want x alone", inside)
	}
}
