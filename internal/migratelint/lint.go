// Package migratelint checks the app's goose migrations
// (app/internal/db/migrations, embedded into the app) for schema changes
// that lock a busy table for long or break the release that keeps running
// against the database during a deploy and after a rollback. Each finding
// names the file, the line of the statement, the rule and the safe recipe
// (expand/contract).
//
// The SQL is parsed by PostgreSQL's own parser (pganalyze's libpg_query,
// through github.com/pganalyze/pg_query_go, which needs cgo), not matched
// with regular expressions. Only the Up section of each migration is
// checked. A reviewed exception is a comment right before the statement:
//
//	-- shipyard:allow <rule-id> <reason>
//
// An exception without a reason, for an unknown rule, or that matches no
// finding is itself a finding.
package migratelint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Finding is one problem in one migration.
type Finding struct {
	File string
	// Line is the 1-based line of the statement's first token.
	Line int
	Rule string
	// Statement is the start of the statement, on one line.
	Statement string
	// Message says what is wrong and, for the rules, the safe recipe.
	Message string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Rule, f.Message)
	if f.Statement != "" {
		s += fmt.Sprintf(" [statement: %s]", f.Statement)
	}
	return s
}

// Error reports findings as one error.
type Error struct{ Findings []Finding }

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Findings)+1)
	lines = append(lines, fmt.Sprintf("%d migration finding(s) (docs/operations.md#writing-a-safe-migration):", len(e.Findings)))
	for _, f := range e.Findings {
		lines = append(lines, "  "+f.String())
	}
	return strings.Join(lines, "\n")
}

// Dir lints the *.sql migrations in dir (findings name dir/file) and
// returns an *Error when there are findings.
func Dir(dir string) error {
	return check(lintFS(os.DirFS(dir), func(name string) string { return filepath.Join(dir, name) }))
}

// FS lints the *.sql migrations at the root of fsys and returns an *Error
// when there are findings.
func FS(fsys fs.FS) error {
	return check(lintFS(fsys, func(name string) string { return name }))
}

func check(findings []Finding, err error) error {
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		return &Error{Findings: findings}
	}
	return nil
}

// Lint returns the findings of the *.sql migrations at the root of fsys,
// in version order.
func Lint(fsys fs.FS) ([]Finding, error) {
	return lintFS(fsys, func(name string) string { return name })
}

type migration struct {
	version int64
	name    string
}

func lintFS(fsys fs.FS, display func(string) string) ([]Finding, error) {
	if errNoParser != nil {
		return nil, errNoParser
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		// The error names the directory given, not the file system's
		// root ("open .").
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("reading migrations: directory %s: %w", display("."), err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		digits := e.Name()
		if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = digits[:i]
		}
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its version number (goose: 00001_init.sql)", display(e.Name()))
		}
		ms = append(ms, migration{v, e.Name()})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no *.sql migrations found in %s", display("."))
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	st := &schema{checks: map[string]map[string]notNullCheck{}}
	var out []Finding
	for _, m := range ms {
		src, err := fs.ReadFile(fsys, m.name)
		if err != nil {
			return nil, fmt.Errorf("reading migration: %w", err)
		}
		out = append(out, st.lintFile(display(m.name), string(src))...)
	}
	return out, nil
}

// notNullCheck is a CHECK (col IS NOT NULL) constraint.
type notNullCheck struct {
	column    string
	validated bool
}

// schema is what the linter knows across migrations, in version order.
type schema struct {
	// checks holds, per table, the CHECK (col IS NOT NULL) constraints
	// by name.
	checks map[string]map[string]notNullCheck
}

// upSection returns src with every byte outside the Up section blanked
// (newlines kept, so offsets and line numbers stay those of the file),
// whether the migration runs outside a transaction, and whether it has an
// Up annotation.
func upSection(src string) (masked string, noTx, hasUp bool) {
	lines := strings.SplitAfter(src, "\n")
	var b strings.Builder
	in := false
	for _, line := range lines {
		keep := in
		if f := strings.Fields(strings.TrimSpace(line)); len(f) >= 2 && f[0] == "--" && strings.EqualFold(f[1], "+goose") {
			cmd := strings.ToLower(strings.Join(f[2:], " "))
			switch {
			case cmd == "up":
				in, hasUp, keep = true, true, false
			case cmd == "down":
				in, keep = false, false
			case cmd == "no transaction":
				noTx = true
			}
		}
		if keep {
			b.WriteString(line)
			continue
		}
		for _, r := range line {
			if r == '\n' {
				b.WriteByte('\n')
			} else {
				b.WriteString(strings.Repeat(" ", utf8.RuneLen(r)))
			}
		}
	}
	return b.String(), noTx, hasUp
}

// allow is a `-- shipyard:allow <rule> <reason>` comment.
type allow struct {
	offset int
	line   int
	rule   string
	reason string
	used   bool
}

// stmt is one parsed statement of the Up section.
type stmt struct {
	node  *pg.Node
	start int // offset of the first token
	end   int // offset after the statement
	line  int
	text  string
}

type fileLint struct {
	name     string
	src      string
	noTx     bool
	created  map[string]bool // tables created by this migration
	lockSet  bool            // a SET lock_timeout ran before
	findings []Finding
	allows   []*allow
	cur      *stmt
	// lockFinding is the first statement that needed a lock_timeout
	// when none was set.
	lockFinding *stmt
}

func lineOf(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return strings.Count(src[:off], "\n") + 1
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:97]) + "..."
	}
	return s
}

func (st *schema) lintFile(name, src string) []Finding {
	masked, noTx, hasUp := upSection(src)
	fl := &fileLint{name: name, src: src, noTx: noTx, created: map[string]bool{}}
	if !hasUp {
		return []Finding{{File: name, Line: 1, Rule: GooseUpMissing, Message: "no `-- +goose Up` annotation: goose cannot run this migration"}}
	}
	tree, err := parseSQL(masked)
	if err != nil {
		line := 1
		if pos := errorPos(err); pos > 0 {
			// The position counts characters from 1.
			runes := 0
			for off := range masked {
				runes++
				if runes == pos {
					line = lineOf(masked, off)
					break
				}
			}
		}
		return []Finding{{File: name, Line: line, Rule: SyntaxError, Message: "PostgreSQL cannot parse the Up section: " + err.Error()}}
	}
	scan, err := scanSQL(masked)
	if err != nil {
		return []Finding{{File: name, Line: 1, Rule: SyntaxError, Message: "PostgreSQL cannot scan the Up section: " + err.Error()}}
	}
	var codeStarts []int // offsets of the tokens that are not comments
	for _, t := range scan.GetTokens() {
		switch t.GetToken() {
		case pg.Token_SQL_COMMENT, pg.Token_C_COMMENT:
			fl.parseAllow(masked, int(t.GetStart()), int(t.GetEnd()))
		default:
			codeStarts = append(codeStarts, int(t.GetStart()))
		}
	}
	var stmts []*stmt
	for _, raw := range tree.GetStmts() {
		loc := int(raw.GetStmtLocation())
		end := len(masked)
		if raw.GetStmtLen() > 0 {
			end = loc + int(raw.GetStmtLen())
		}
		i := sort.SearchInts(codeStarts, loc)
		start := loc
		if i < len(codeStarts) && codeStarts[i] < end {
			start = codeStarts[i]
		}
		stmts = append(stmts, &stmt{node: raw.GetStmt(), start: start, end: end, line: lineOf(masked, start), text: oneLine(masked[start:end])})
	}
	for _, s := range stmts {
		fl.cur = s
		fl.lint(st, s.node)
	}
	if fl.lockFinding != nil {
		fl.cur = fl.lockFinding
		fl.report(MissingLockTimeout, "")
	}
	fl.resolveAllows(stmts)
	sort.SliceStable(fl.findings, func(i, j int) bool { return fl.findings[i].Line < fl.findings[j].Line })
	return fl.findings
}

// parseAllow records a shipyard:allow comment at src[start:end].
func (fl *fileLint) parseAllow(src string, start, end int) {
	c := src[start:end]
	c = strings.TrimPrefix(c, "--")
	c = strings.TrimSuffix(strings.TrimPrefix(c, "/*"), "*/")
	c = strings.TrimSpace(c)
	rest, ok := strings.CutPrefix(c, "shipyard:allow")
	if !ok {
		return
	}
	a := &allow{offset: start, line: lineOf(src, start)}
	f := strings.Fields(rest)
	if len(f) > 0 {
		a.rule = f[0]
		a.reason = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), f[0]))
	}
	fl.allows = append(fl.allows, a)
}

// resolveAllows drops the findings a reviewed exception allows and reports
// the exceptions that are malformed or unused. An exception belongs to the
// statement it sits in or, more usually, to the next one; an exception
// for missing-lock-timeout applies to the whole migration.
func (fl *fileLint) resolveAllows(stmts []*stmt) {
	owner := func(a *allow) *stmt {
		for _, s := range stmts {
			if a.offset < s.end {
				return s
			}
		}
		return nil
	}
	var bad []Finding
	for _, a := range fl.allows {
		switch _, known := ruleByID(a.rule); {
		case a.rule == "":
			bad = append(bad, Finding{File: fl.name, Line: a.line, Rule: AllowWithoutReason,
				Message: "`-- shipyard:allow` names no rule; write -- shipyard:allow <rule-id> <reason>"})
			a.used = true
		case !known:
			bad = append(bad, Finding{File: fl.name, Line: a.line, Rule: AllowUnknownRule,
				Message: fmt.Sprintf("`-- shipyard:allow %s`: no such rule (rules: %s)", a.rule, strings.Join(ruleIDs(), ", "))})
			a.used = true
		case a.reason == "":
			bad = append(bad, Finding{File: fl.name, Line: a.line, Rule: AllowWithoutReason,
				Message: fmt.Sprintf("`-- shipyard:allow %s` has no reason; a reviewed exception says why the statement is safe: -- shipyard:allow %s <reason>", a.rule, a.rule)})
			a.used = true // its finding stays reported
		}
	}
	kept := fl.findings[:0]
	for _, f := range fl.findings {
		allowed := false
		for _, a := range fl.allows {
			if a.rule != f.Rule || a.reason == "" {
				continue
			}
			if s := owner(a); f.Rule == MissingLockTimeout || (s != nil && s.line == f.Line && s.text == f.Statement) {
				a.used, allowed = true, true
			}
		}
		if !allowed {
			kept = append(kept, f)
		}
	}
	fl.findings = kept
	for _, a := range fl.allows {
		if !a.used {
			bad = append(bad, Finding{File: fl.name, Line: a.line, Rule: AllowUnused,
				Message: fmt.Sprintf("`-- shipyard:allow %s` matches no finding of the statement after it; remove it or move it right before the statement", a.rule)})
		}
	}
	fl.findings = append(fl.findings, bad...)
}

func ruleIDs() []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

// report adds a finding of rule for the current statement; detail says
// what in the statement triggered it.
func (fl *fileLint) report(rule, detail string) {
	r, _ := ruleByID(rule)
	msg := r.Problem
	if detail != "" {
		msg = detail + ": " + msg
	}
	msg += "; safe: " + r.Recipe + " (or, once reviewed: -- shipyard:allow " + rule + " <reason>)"
	fl.findings = append(fl.findings, Finding{File: fl.name, Line: fl.cur.line, Rule: rule, Statement: fl.cur.text, Message: msg})
}

// needsLockTimeout notes that the current statement locks an existing
// object.
func (fl *fileLint) needsLockTimeout() {
	if !fl.lockSet && fl.lockFinding == nil {
		fl.lockFinding = fl.cur
	}
}
