// Package atomicfile replaces a file's contents whole or not at all: the
// files people edit and commit (config/<stack>.json, the price table) are
// never left half-written by an interrupted or failed write.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path's contents with data: it writes a temporary file in
// the same directory, syncs it, gives it path's mode (0644 for a new
// file) and renames it over path. On any error path is as it was and no
// temporary file is left.
func Write(path string, data []byte) (err error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
