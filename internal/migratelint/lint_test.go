package migratelint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// base creates the tables the cases alter: they exist before 00002.
const base = `-- +goose Up
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
CREATE TABLE notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    title text NOT NULL,
    body text,
    summary text
);
CREATE INDEX notes_user_id_idx ON notes (user_id);

-- +goose Down
DROP TABLE notes;
DROP TABLE users;
`

const lockTimeout = "SET lock_timeout = '5s';\n"

func lintMigrations(t *testing.T, files map[string]string) []Finding {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	findings, err := Lint(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return findings
}

func up(body string) string { return "-- +goose Up\n" + body + "\n-- +goose Down\nSELECT 1;\n" }

func TestEveryRuleFailsItsBadExampleWithItsRecipeAndPassesItsSafeOne(t *testing.T) {
	cases := []struct {
		rule string
		// bad fails with rule at line badLine of 00002_change.sql (the
		// Up annotation is line 1); safe migrations pass.
		bad     string
		badLine int
		recipe  string
		safe    []string
	}{
		{
			rule: CreateIndexNotConcurrently, bad: up(lockTimeout + "CREATE INDEX notes_title_idx ON notes (title);"), badLine: 3,
			recipe: "CREATE INDEX CONCURRENTLY in its own migration with -- +goose NO TRANSACTION",
			safe: []string{
				"-- +goose NO TRANSACTION\n" + up(lockTimeout+"CREATE INDEX CONCURRENTLY notes_title_idx ON notes (title);"),
				// An index on a table created by the same migration.
				up("CREATE TABLE tags (id bigint PRIMARY KEY, name text);\nCREATE UNIQUE INDEX tags_name_idx ON tags (name);"),
			},
		},
		{
			rule: ConcurrentlyInTransaction, bad: up(lockTimeout + "CREATE INDEX CONCURRENTLY notes_title_idx ON notes (title);"), badLine: 3,
			recipe: "own migration whose first line is -- +goose NO TRANSACTION",
			safe:   []string{"-- +goose NO TRANSACTION\n" + up(lockTimeout+"DROP INDEX CONCURRENTLY IF EXISTS notes_title_idx;")},
		},
		{
			rule: AddUniqueConstraint, bad: up(lockTimeout + "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);"), badLine: 3,
			recipe: "ADD CONSTRAINT … UNIQUE USING INDEX",
			safe:   []string{up(lockTimeout + "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;")},
		},
		{
			rule: AddColumnVolatileDefault, bad: up(lockTimeout + "ALTER TABLE notes\n    ADD COLUMN uid uuid DEFAULT gen_random_uuid();"), badLine: 3,
			recipe: "add the column without default, backfill in batches, then set the default",
			safe: []string{
				up(lockTimeout + "ALTER TABLE notes ADD COLUMN uid uuid;\nALTER TABLE notes ALTER COLUMN uid SET DEFAULT gen_random_uuid();"),
				up(lockTimeout + "ALTER TABLE notes ADD COLUMN archived boolean NOT NULL DEFAULT false, ADD COLUMN seen_at timestamptz DEFAULT now(), ADD COLUMN tags text[] DEFAULT '{}'::text[];"),
			},
		},
		{
			rule: AddColumnVolatileDefault, bad: up(lockTimeout + "ALTER TABLE notes ADD COLUMN at timestamptz DEFAULT clock_timestamp();"), badLine: 3,
			recipe: "backfill in batches",
		},
		{
			rule: AddColumnVolatileDefault, bad: up(lockTimeout + "ALTER TABLE notes ADD COLUMN r float8 DEFAULT random() * 10;"), badLine: 3,
			recipe: "backfill in batches",
		},
		{
			rule: AddColumnVolatileDefault, bad: up(lockTimeout + "ALTER TABLE notes ADD COLUMN seq bigserial;"), badLine: 3,
			recipe: "backfill in batches",
		},
		{
			rule: AddColumnRequired, bad: up(lockTimeout + "ALTER TABLE notes ADD COLUMN lang text NOT NULL;"), badLine: 3,
			recipe: "add the column nullable (or with a constant default)",
			safe:   []string{up(lockTimeout + "ALTER TABLE notes ADD COLUMN lang text NOT NULL DEFAULT 'en';")},
		},
		{
			rule: AlterColumnType, bad: up(lockTimeout + "ALTER TABLE notes ALTER COLUMN title TYPE varchar(200);"), badLine: 3,
			recipe: "add a new column, dual-write, backfill, switch reads, drop the old column two releases later",
			safe:   []string{up(lockTimeout + "ALTER TABLE notes ADD COLUMN title_v2 varchar(200);")},
		},
		{
			rule: SetNotNull, bad: up(lockTimeout + "ALTER TABLE notes ALTER COLUMN body SET NOT NULL;"), badLine: 3,
			recipe: "CHECK (col IS NOT NULL) NOT VALID; then in a later migration VALIDATE CONSTRAINT",
			safe: []string{
				// Validated in this migration, after a NOT VALID add in
				// 00003 (below, the multi-migration case covers order).
				up(lockTimeout + "ALTER TABLE notes ADD CONSTRAINT notes_body_nn CHECK (body IS NOT NULL) NOT VALID;\n" +
					"ALTER TABLE notes VALIDATE CONSTRAINT notes_body_nn;\n" +
					"ALTER TABLE notes ALTER COLUMN body SET NOT NULL;\nALTER TABLE notes DROP CONSTRAINT notes_body_nn;"),
			},
		},
		{
			rule: ConstraintNotValid, bad: up(lockTimeout + "ALTER TABLE notes ADD CONSTRAINT notes_title_len CHECK (length(title) < 500);"), badLine: 3,
			recipe: "ADD CONSTRAINT … NOT VALID then VALIDATE CONSTRAINT in a later migration",
			safe:   []string{up(lockTimeout + "ALTER TABLE notes ADD CONSTRAINT notes_title_len CHECK (length(title) < 500) NOT VALID;")},
		},
		{
			rule: ConstraintNotValid, bad: up(lockTimeout + "ALTER TABLE notes ADD CONSTRAINT notes_user_fk FOREIGN KEY (user_id) REFERENCES users (id);"), badLine: 3,
			recipe: "ADD CONSTRAINT … NOT VALID then VALIDATE CONSTRAINT in a later migration",
			safe: []string{
				up(lockTimeout + "ALTER TABLE notes ADD CONSTRAINT notes_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"),
				up(lockTimeout + "ALTER TABLE notes VALIDATE CONSTRAINT notes_user_fk;"),
			},
		},
		{
			rule: ConstraintNotValid, bad: up(lockTimeout + "ALTER TABLE notes ADD COLUMN editor_id bigint REFERENCES users (id);"), badLine: 3,
			recipe: "ADD CONSTRAINT … NOT VALID then VALIDATE CONSTRAINT",
		},
		{
			rule: RenameColumn, bad: up(lockTimeout + "ALTER TABLE notes RENAME COLUMN title TO heading;"), badLine: 3,
			recipe: "add a new column, dual-write, backfill, switch reads, drop the old column two releases later",
			safe:   []string{up(lockTimeout + "ALTER TABLE notes ADD COLUMN heading text;")},
		},
		{
			rule: RenameTable, bad: up(lockTimeout + "ALTER TABLE notes RENAME TO documents;"), badLine: 3,
			recipe: "create the new table, dual-write, backfill, switch reads, drop the old table two releases later",
			safe:   []string{up("CREATE TABLE drafts (id bigint PRIMARY KEY);\nALTER TABLE drafts RENAME TO draft_notes;")},
		},
		{
			rule: DropColumn, bad: up(lockTimeout + "ALTER TABLE notes DROP COLUMN summary;"), badLine: 3,
			recipe: "stop reading and writing the column in one release, drop it two releases later",
			safe:   []string{up(lockTimeout + "-- shipyard:allow drop-column release v1.4 stopped reading notes.summary; v1.5 is running\nALTER TABLE notes DROP COLUMN summary;")},
		},
		{
			rule: DropTable, bad: up(lockTimeout + "DROP TABLE notes;"), badLine: 3,
			recipe: "stop using the table in one release, drop it two releases later",
			safe:   []string{up("CREATE TABLE scratch (id int);\nDROP TABLE scratch;")},
		},
		{
			rule: MissingLockTimeout, bad: up("ALTER TABLE notes ADD COLUMN lang text;"), badLine: 2,
			recipe: "start the Up section with SET lock_timeout = '5s';",
			safe: []string{
				up(lockTimeout + "ALTER TABLE notes ADD COLUMN lang text;"),
				up("SET LOCAL lock_timeout = '2s';\nALTER TABLE notes ADD COLUMN lang text;"),
				// Only new objects: exempt (a foreign key to a table
				// created in the same migration included).
				up("CREATE TABLE tags (id bigint PRIMARY KEY);\nCREATE TABLE note_tags (tag_id bigint REFERENCES tags (id), name text);\nCREATE INDEX note_tags_tag_idx ON note_tags (tag_id);"),
				up("CREATE TABLE colors (name text PRIMARY KEY);\nINSERT INTO colors (name) VALUES ('red'), ('blue');"),
			},
		},
		{
			// Rows copied from an existing table read it under a lock.
			rule: MissingLockTimeout, bad: up("CREATE TABLE titles (t text);\nINSERT INTO titles SELECT title FROM notes;"), badLine: 3,
			recipe: "SET lock_timeout",
		},
		{
			// A new table that references an existing one locks it.
			rule: MissingLockTimeout, bad: up("CREATE TABLE shares (note_id bigint REFERENCES notes (id));"), badLine: 2,
			recipe: "SET lock_timeout",
		},
		{
			// SET LOCAL outside a transaction does nothing.
			rule: MissingLockTimeout, bad: "-- +goose NO TRANSACTION\n" + up("SET LOCAL lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY notes_title_idx ON notes (title);"), badLine: 4,
			recipe: "SET lock_timeout",
		},
		{
			// A timeout of 0 is no timeout; and it must come first.
			rule: MissingLockTimeout, bad: up("SET lock_timeout = 0;\nALTER TABLE notes ADD COLUMN lang text;\nSET lock_timeout = '5s';"), badLine: 3,
			recipe: "SET lock_timeout",
		},
	}
	for _, c := range cases {
		t.Run(c.rule+"/bad", func(t *testing.T) {
			findings := lintMigrations(t, map[string]string{"00001_init.sql": base, "00002_change.sql": c.bad})
			var hit *Finding
			for i, f := range findings {
				if f.Rule == c.rule {
					hit = &findings[i]
				}
			}
			if hit == nil {
				t.Fatalf("no %s finding for\n%s\ngot %v", c.rule, c.bad, findings)
			}
			s := hit.String()
			for _, want := range []string{"00002_change.sql:", c.rule, c.recipe, "shipyard:allow " + c.rule} {
				if !strings.Contains(s, want) {
					t.Errorf("finding %q does not contain %q", s, want)
				}
			}
			if hit.File != "00002_change.sql" || hit.Line != c.badLine || hit.Statement == "" {
				t.Errorf("finding at %s:%d (statement %q), want 00002_change.sql:%d", hit.File, hit.Line, hit.Statement, c.badLine)
			}
			if err := FS(fstest.MapFS{"00001_init.sql": {Data: []byte(base)}, "00002_change.sql": {Data: []byte(c.bad)}}); err == nil {
				t.Error("FS returned no error")
			} else if le := (*Error)(nil); !errors.As(err, &le) || !strings.Contains(err.Error(), c.recipe) {
				t.Errorf("FS error = %v", err)
			}
		})
		for i, safe := range c.safe {
			t.Run(c.rule+"/safe", func(t *testing.T) {
				if findings := lintMigrations(t, map[string]string{"00001_init.sql": base, "00002_change.sql": safe}); len(findings) != 0 {
					t.Errorf("safe example %d:\n%s\nfindings:\n%v", i, safe, findings)
				}
			})
		}
	}
}

func TestSetNotNullAfterAValidatedCheckInAnEarlierMigration(t *testing.T) {
	files := map[string]string{
		"00001_init.sql":     base,
		"00002_check.sql":    up(lockTimeout + "ALTER TABLE notes ADD CONSTRAINT notes_body_nn CHECK (body IS NOT NULL) NOT VALID;"),
		"00003_validate.sql": up(lockTimeout + "ALTER TABLE notes VALIDATE CONSTRAINT notes_body_nn;"),
		"00004_not_null.sql": up(lockTimeout + "ALTER TABLE notes ALTER COLUMN body SET NOT NULL;\nALTER TABLE notes DROP CONSTRAINT notes_body_nn;"),
	}
	if f := lintMigrations(t, files); len(f) != 0 {
		t.Errorf("findings: %v", f)
	}
	// Without the validation the check proves nothing.
	delete(files, "00003_validate.sql")
	f := lintMigrations(t, files)
	if len(f) != 1 || f[0].Rule != SetNotNull || f[0].File != "00004_not_null.sql" {
		t.Errorf("findings: %v", f)
	}
	// A check on another column proves nothing either.
	files["00003_validate.sql"] = up(lockTimeout + "ALTER TABLE notes VALIDATE CONSTRAINT notes_body_nn;")
	files["00004_not_null.sql"] = up(lockTimeout + "ALTER TABLE notes ALTER COLUMN summary SET NOT NULL;")
	if f := lintMigrations(t, files); len(f) != 1 || f[0].Rule != SetNotNull {
		t.Errorf("findings: %v", f)
	}
}

func TestAllowComments(t *testing.T) {
	lint := func(t *testing.T, change string) []Finding {
		return lintMigrations(t, map[string]string{"00001_init.sql": base, "00002_change.sql": change})
	}
	t.Run("an allow with a reason right before the statement passes it", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"-- shipyard:allow create-index-not-concurrently notes has 40 rows in every stack\n-- (checked 2026-12-01)\nCREATE INDEX notes_title_idx ON notes (title);"))
		if len(f) != 0 {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("an allow covers only the statement after it", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"-- shipyard:allow drop-column v1.4 stopped reading it\nALTER TABLE notes DROP COLUMN summary;\nALTER TABLE notes DROP COLUMN body;"))
		if len(f) != 1 || f[0].Rule != DropColumn || f[0].Line != 5 {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("an allow without a reason fails and names the rule", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"-- shipyard:allow drop-column\nALTER TABLE notes DROP COLUMN summary;"))
		rules := map[string]Finding{}
		for _, x := range f {
			rules[x.Rule] = x
		}
		a, ok := rules[AllowWithoutReason]
		if !ok || a.Line != 3 || !strings.Contains(a.Message, "drop-column") {
			t.Errorf("findings: %v", f)
		}
		if _, ok := rules[DropColumn]; !ok {
			t.Errorf("the drop is allowed by an exception without a reason: %v", f)
		}
	})
	t.Run("an allow naming no rule fails", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"-- shipyard:allow\nALTER TABLE notes ADD COLUMN x text;"))
		if len(f) != 1 || f[0].Rule != AllowWithoutReason {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("an allow for an unknown rule fails", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"-- shipyard:allow drop-everything because\nALTER TABLE notes ADD COLUMN x text;"))
		if len(f) != 1 || f[0].Rule != AllowUnknownRule || !strings.Contains(f[0].Message, "drop-everything") {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("an allow that matches nothing fails", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"-- shipyard:allow drop-column just in case\nALTER TABLE notes ADD COLUMN x text;"))
		if len(f) != 1 || f[0].Rule != AllowUnused {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("missing-lock-timeout is allowed anywhere in the Up section", func(t *testing.T) {
		f := lint(t, up("-- shipyard:allow missing-lock-timeout notes is written once a day, by the clock only\nCREATE TABLE x (id int);\nALTER TABLE notes ADD COLUMN lang text;"))
		if len(f) != 0 {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("an allow in a string literal is no allow", func(t *testing.T) {
		f := lint(t, up(lockTimeout+"COMMENT ON TABLE notes IS '-- shipyard:allow drop-column nope';\nALTER TABLE notes DROP COLUMN summary;"))
		if len(f) != 1 || f[0].Rule != DropColumn {
			t.Errorf("findings: %v", f)
		}
	})
}

func TestGooseSections(t *testing.T) {
	t.Run("only the Up section is linted", func(t *testing.T) {
		f := lintMigrations(t, map[string]string{"00001_init.sql": base,
			"00002_change.sql": "-- +goose Up\n" + lockTimeout + "ALTER TABLE notes ADD COLUMN lang text;\n\n-- +goose Down\nALTER TABLE notes DROP COLUMN lang;\n"})
		if len(f) != 0 {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("StatementBegin/End and dollar quotes", func(t *testing.T) {
		f := lintMigrations(t, map[string]string{"00001_init.sql": base,
			"00002_change.sql": "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.title := lower(NEW.title); -- ALTER TABLE notes DROP COLUMN x;\n  RETURN NEW;\nEND;\n$$;\n-- +goose StatementEnd\n" +
				lockTimeout + "ALTER TABLE notes DROP COLUMN summary;\n-- +goose Down\nDROP FUNCTION touch();\n"})
		if len(f) != 1 || f[0].Rule != DropColumn || f[0].Line != 11 {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("no Up annotation", func(t *testing.T) {
		f := lintMigrations(t, map[string]string{"00001_init.sql": "CREATE TABLE x (id int);\n"})
		if len(f) != 1 || f[0].Rule != GooseUpMissing {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("a syntax error names its line", func(t *testing.T) {
		f := lintMigrations(t, map[string]string{"00001_init.sql": "-- +goose Up\nCREATE TABLE x (id int);\nALTER TABLE x ADD COLUMNN y int;\n"})
		if len(f) != 1 || f[0].Rule != SyntaxError || f[0].Line != 3 {
			t.Errorf("findings: %v", f)
		}
	})
	t.Run("migrations are linted in version order, not name order", func(t *testing.T) {
		// 9 < 10: the table exists when 10 indexes it.
		f := lintMigrations(t, map[string]string{"9_a.sql": up("CREATE TABLE a (id int);"), "10_b.sql": up(lockTimeout + "CREATE INDEX a_id ON a (id);")})
		if len(f) != 1 || f[0].File != "10_b.sql" || f[0].Rule != CreateIndexNotConcurrently {
			t.Errorf("findings: %v", f)
		}
	})
}

// The migrations the app embeds (app/internal/db's //go:embed
// migrations/*.sql) pass.
func TestTheAppsMigrationsPass(t *testing.T) {
	dir := filepath.Join("..", "..", "app", "internal", "db", "migrations")
	names, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations in %s (%v)", dir, err)
	}
	if err := Dir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "00001_init.sql")); err != nil {
		t.Fatal(err)
	}
}

// A directory that cannot be linted is named as given, not as the file
// system's root ("open .").
func TestADirectoryThatCannotBeReadIsNamed(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "00001_init.sql")
	if err := os.WriteFile(file, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "nonexistent")
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"a directory that does not exist", missing, "reading migrations: directory " + missing + ": no such file or directory"},
		{"a file", file, "reading migrations: directory " + file + ": "},
		{"a directory without migrations", empty, "no *.sql migrations found in " + empty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Dir(tc.dir)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "open .") {
				t.Errorf("Dir(%s) = %v; want an error starting %q", tc.dir, err, tc.want)
			}
		})
	}
}

func TestEveryRuleHasAProblemAndARecipe(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if r.ID == "" || r.Problem == "" || r.Recipe == "" || seen[r.ID] {
			t.Errorf("rule %+v", r)
		}
		seen[r.ID] = true
	}
}
