package release

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func rec(id, status, digest string) Record {
	return Record{ID: id, Stack: "prod", Kind: KindRelease, Status: status, ImageDigest: digest,
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestLedgerAppend(t *testing.T) {
	t.Run("appends one line per record and never rewrites the existing bytes", func(t *testing.T) {
		l := Ledger{Dir: filepath.Join(t.TempDir(), "releases")}
		if err := l.Append(rec("prod-0001", StatusSucceeded, digestA)); err != nil {
			t.Fatal(err)
		}
		first, err := os.ReadFile(l.Path("prod"))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append(rec("prod-0002", StatusFailed, digestB)); err != nil {
			t.Fatal(err)
		}
		second, _ := os.ReadFile(l.Path("prod"))
		if !bytes.HasPrefix(second, first) {
			t.Fatalf("the first record was rewritten:\n%s\n---\n%s", first, second)
		}
		if lines := strings.Count(string(second), "\n"); lines != 2 {
			t.Errorf("%d lines, want 2:\n%s", lines, second)
		}
		recs, err := l.Read("prod")
		if err != nil || len(recs) != 2 || recs[1].ID != "prod-0002" || recs[1].Status != StatusFailed {
			t.Errorf("Read = %+v, %v", recs, err)
		}
		if id, _ := l.NextID("prod"); id != "prod-0003" {
			t.Errorf("NextID = %s, want prod-0003", id)
		}
	})

	t.Run("starts a new line when a hand edit left the last one without a newline", func(t *testing.T) {
		l := Ledger{Dir: t.TempDir()}
		if err := l.Append(rec("prod-0001", StatusSucceeded, digestA)); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(l.Path("prod"))
		if err := os.WriteFile(l.Path("prod"), bytes.TrimRight(data, "\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := l.Append(rec("prod-0002", StatusSucceeded, digestB)); err != nil {
			t.Fatal(err)
		}
		if recs, err := l.Read("prod"); err != nil || len(recs) != 2 {
			t.Errorf("Read = %+v, %v", recs, err)
		}
	})

	t.Run("refuses to append to a damaged ledger and leaves it as it is", func(t *testing.T) {
		l := Ledger{Dir: t.TempDir()}
		damaged := []byte("{\"id\":\"prod-0001\",\"stack\":\"prod\"\nnot json\n")
		if err := os.WriteFile(l.Path("prod"), damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		err := l.Append(rec("prod-0002", StatusSucceeded, digestA))
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Fatalf("err = %v, want a refusal naming line 1", err)
		}
		if got, _ := os.ReadFile(l.Path("prod")); !bytes.Equal(got, damaged) {
			t.Errorf("damaged ledger changed:\n%s", got)
		}
	})

	t.Run("reports a missing ledger as ErrNoLedger", func(t *testing.T) {
		_, err := Ledger{Dir: t.TempDir()}.Read("prod")
		if !errors.Is(err, ErrNoLedger) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPrevious(t *testing.T) {
	a1 := rec("prod-0001", StatusSucceeded, digestA)
	b2 := rec("prod-0002", StatusSucceeded, digestB)
	c3fail := rec("prod-0003", StatusFailed, digestC)
	c4 := rec("prod-0004", StatusSucceeded, digestC)
	a5 := rec("prod-0005", StatusSucceeded, digestA)
	tests := []struct {
		name    string
		recs    []Record
		current string
		want    string // "" for none
	}{
		{"goes back one release", []Record{a1, b2}, digestB, "prod-0001"},
		{"skips failed records", []Record{a1, b2, c3fail}, digestB, "prod-0001"},
		{"finds none with a single release", []Record{a1}, digestA, ""},
		{"goes back from the newest record of the current digest", []Record{a1, b2, c4, a5}, digestA, "prod-0004"},
		{"skips older records of the current digest", []Record{b2, a1, a5}, digestA, "prod-0002"},
		{"returns the newest release when the stack runs an unrecorded digest", []Record{a1, b2}, digestC, "prod-0002"},
		{"finds none in an empty ledger", nil, digestA, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Previous(tc.recs, tc.current)
			if tc.want == "" {
				if ok {
					t.Errorf("got %s, want none", got.ID)
				}
				return
			}
			if !ok || got.ID != tc.want {
				t.Errorf("got %q (%v), want %s", got.ID, ok, tc.want)
			}
		})
	}
}

func TestMigrationVersion(t *testing.T) {
	t.Run("is the highest version number among the migration files", func(t *testing.T) {
		dir := t.TempDir()
		for _, n := range []string{"00002_b.sql", "00010_c.sql", "00009_a.sql", "README.md"} {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if v, err := MigrationVersion(dir); err != nil || v != 10 {
			t.Errorf("got %d, %v; want 10", v, err)
		}
	})
	t.Run("rejects a migration file without a version number", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "init.sql"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := MigrationVersion(dir); err == nil || !strings.Contains(err.Error(), "init.sql") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("reads the app's embedded migrations", func(t *testing.T) {
		dir := filepath.Join("..", "..", "app", "internal", "db", "migrations")
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := MigrationVersion(dir)
		if err != nil || v < 1 || int(v) > len(entries)*1000 {
			t.Errorf("got %d, %v", v, err)
		}
	})
}

func TestLedgerRecordsNeedADigestUnlessTheyFailedBeforeOne(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantErr bool
	}{
		{"accepts a failed release whose push failed", `{"id":"dev-0001","stack":"dev","kind":"release","status":"failed","imageDigest":""}`, false},
		{"rejects a succeeded record without a digest", `{"id":"dev-0001","stack":"dev","kind":"release","status":"succeeded","imageDigest":""}`, true},
		{"rejects a tag in place of a digest", `{"id":"dev-0001","stack":"dev","kind":"release","status":"failed","imageDigest":"latest"}`, true},
		{"rejects unknown fields", `{"id":"dev-0001","stack":"dev","status":"succeeded","imageDigest":"` + digestA + `","extra":1}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLedger("dev.jsonl", []byte(tc.line+"\n"))
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
