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
		return nil, fmt.Errorf("reading migrations: %w", err)
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
		return nil, errors.New("no *.sql migrations found")
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

func relName(rv *pg.RangeVar) string {
	if rv == nil {
		return ""
	}
	return rv.GetRelname()
}

// existing reports whether table was not created by this migration.
func (fl *fileLint) existing(table string) bool { return !fl.created[table] }

func (fl *fileLint) lint(st *schema, n *pg.Node) {
	switch {
	case n.GetVariableSetStmt() != nil:
		v := n.GetVariableSetStmt()
		if strings.EqualFold(v.GetName(), "lock_timeout") && v.GetKind() == pg.VariableSetKind_VAR_SET_VALUE && !isZero(v.GetArgs()) {
			// SET LOCAL outside a transaction block has no effect.
			if !(v.GetIsLocal() && fl.noTx) {
				fl.lockSet = true
			}
		}
	case n.GetCreateStmt() != nil:
		fl.createTable(n.GetCreateStmt())
	case n.GetIndexStmt() != nil:
		fl.createIndex(n.GetIndexStmt())
	case n.GetAlterTableStmt() != nil:
		fl.alterTable(st, n.GetAlterTableStmt())
	case n.GetRenameStmt() != nil:
		fl.rename(n.GetRenameStmt())
	case n.GetDropStmt() != nil:
		fl.drop(st, n.GetDropStmt())
	case n.GetInsertStmt() != nil && fl.created[relName(n.GetInsertStmt().GetRelation())] &&
		len(n.GetInsertStmt().GetSelectStmt().GetSelectStmt().GetValuesLists()) > 0:
		// Literal rows into a table this migration created (a lookup
		// table's seed): no lock on anything that serves traffic.
	case n.GetCreateSeqStmt() != nil, n.GetCompositeTypeStmt() != nil, n.GetCreateEnumStmt() != nil,
		n.GetCreateFunctionStmt() != nil, n.GetCommentStmt() != nil, n.GetCreateSchemaStmt() != nil,
		n.GetCreateExtensionStmt() != nil, n.GetCreateDomainStmt() != nil:
		// New objects only: no lock on anything that serves traffic.
	default:
		// Anything else (UPDATE, GRANT, ALTER TYPE, views…) may lock
		// existing objects: it needs a lock_timeout.
		fl.needsLockTimeout()
	}
}

// isZero reports whether a SET's value is 0 (no timeout).
func isZero(args []*pg.Node) bool {
	if len(args) != 1 || args[0].GetAConst() == nil {
		return false
	}
	c := args[0].GetAConst()
	if iv := c.GetIval(); iv != nil {
		return iv.GetIval() == 0
	}
	if sv := c.GetSval(); sv != nil {
		s := strings.TrimSpace(sv.GetSval())
		return s == "0" || s == "0ms" || s == "0s"
	}
	return false
}

func (fl *fileLint) createTable(cs *pg.CreateStmt) {
	table := relName(cs.GetRelation())
	fl.created[table] = true
	if len(cs.GetInhRelations()) > 0 || cs.GetPartbound() != nil {
		fl.needsLockTimeout() // a partition or child locks its parent
	}
	refs := func(c *pg.Constraint) {
		if c.GetContype() == pg.ConstrType_CONSTR_FOREIGN && fl.existing(relName(c.GetPktable())) {
			fl.needsLockTimeout() // SHARE ROW EXCLUSIVE on the referenced table
		}
	}
	for _, e := range cs.GetTableElts() {
		if cd := e.GetColumnDef(); cd != nil {
			for _, c := range cd.GetConstraints() {
				refs(c.GetConstraint())
			}
		}
		if c := e.GetConstraint(); c != nil {
			refs(c)
		}
	}
	for _, c := range cs.GetConstraints() {
		refs(c.GetConstraint())
	}
}

func (fl *fileLint) createIndex(ix *pg.IndexStmt) {
	table := relName(ix.GetRelation())
	if ix.GetConcurrent() && !fl.noTx {
		fl.report(ConcurrentlyInTransaction, "CREATE INDEX CONCURRENTLY "+ix.GetIdxname())
	}
	if !fl.existing(table) {
		return
	}
	fl.needsLockTimeout()
	if !ix.GetConcurrent() {
		fl.report(CreateIndexNotConcurrently, fmt.Sprintf("index %s on existing table %s", ix.GetIdxname(), table))
	}
}

func (fl *fileLint) rename(rs *pg.RenameStmt) {
	table := relName(rs.GetRelation())
	if fl.existing(table) {
		fl.needsLockTimeout()
	}
	switch rs.GetRenameType() {
	case pg.ObjectType_OBJECT_COLUMN:
		if fl.existing(table) {
			fl.report(RenameColumn, fmt.Sprintf("column %s.%s renamed to %s", table, rs.GetSubname(), rs.GetNewname()))
		}
	case pg.ObjectType_OBJECT_TABLE:
		if fl.existing(table) {
			fl.report(RenameTable, fmt.Sprintf("table %s renamed to %s", table, rs.GetNewname()))
		}
		if fl.created[table] {
			fl.created[rs.GetNewname()] = true
		}
	}
}

func (fl *fileLint) drop(st *schema, ds *pg.DropStmt) {
	if ds.GetConcurrent() && !fl.noTx {
		fl.report(ConcurrentlyInTransaction, "DROP INDEX CONCURRENTLY")
	}
	if ds.GetRemoveType() != pg.ObjectType_OBJECT_TABLE {
		fl.needsLockTimeout()
		return
	}
	for _, o := range ds.GetObjects() {
		var parts []string
		for _, p := range o.GetList().GetItems() {
			parts = append(parts, p.GetString_().GetSval())
		}
		if len(parts) == 0 {
			continue
		}
		table := parts[len(parts)-1]
		if fl.existing(table) {
			fl.needsLockTimeout()
			fl.report(DropTable, "table "+table+" dropped")
		}
		delete(fl.created, table)
		delete(st.checks, table)
	}
}

func (fl *fileLint) alterTable(st *schema, at *pg.AlterTableStmt) {
	table := relName(at.GetRelation())
	if at.GetObjtype() != pg.ObjectType_OBJECT_TABLE {
		fl.needsLockTimeout()
		return
	}
	existing := fl.existing(table)
	if existing {
		fl.needsLockTimeout()
	}
	for _, c := range at.GetCmds() {
		cmd := c.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		switch cmd.GetSubtype() {
		case pg.AlterTableType_AT_AddColumn:
			if cd := cmd.GetDef().GetColumnDef(); cd != nil && existing {
				fl.addColumn(table, cd)
			}
		case pg.AlterTableType_AT_AlterColumnType:
			if existing {
				fl.report(AlterColumnType, fmt.Sprintf("column %s.%s changes type", table, cmd.GetName()))
			}
		case pg.AlterTableType_AT_SetNotNull:
			if existing && !st.validatedNotNull(table, cmd.GetName()) {
				fl.report(SetNotNull, fmt.Sprintf("column %s.%s has no validated CHECK (%s IS NOT NULL) from an earlier statement", table, cmd.GetName(), cmd.GetName()))
			}
		case pg.AlterTableType_AT_AddConstraint:
			fl.addConstraint(st, table, existing, cmd.GetDef().GetConstraint())
		case pg.AlterTableType_AT_ValidateConstraint:
			if c, ok := st.checks[table][cmd.GetName()]; ok {
				c.validated = true
				st.checks[table][cmd.GetName()] = c
			}
		case pg.AlterTableType_AT_DropConstraint:
			delete(st.checks[table], cmd.GetName())
		case pg.AlterTableType_AT_DropColumn:
			if existing {
				fl.report(DropColumn, fmt.Sprintf("column %s.%s dropped", table, cmd.GetName()))
			}
		}
	}
}

// validatedNotNull reports whether a validated CHECK (column IS NOT NULL)
// exists on table.
func (st *schema) validatedNotNull(table, column string) bool {
	for _, c := range st.checks[table] {
		if c.column == column && c.validated {
			return true
		}
	}
	return false
}

func (fl *fileLint) addConstraint(st *schema, table string, existing bool, c *pg.Constraint) {
	if c == nil {
		return
	}
	switch c.GetContype() {
	case pg.ConstrType_CONSTR_CHECK:
		if col, ok := notNullColumn(c.GetRawExpr()); ok {
			name := c.GetConname()
			if name == "" {
				name = table + "_" + col + "_check" // PostgreSQL's default name
			}
			if st.checks[table] == nil {
				st.checks[table] = map[string]notNullCheck{}
			}
			st.checks[table][name] = notNullCheck{column: col, validated: !c.GetSkipValidation()}
		}
		if existing && !c.GetSkipValidation() {
			fl.report(ConstraintNotValid, "CHECK constraint "+c.GetConname()+" without NOT VALID")
		}
	case pg.ConstrType_CONSTR_FOREIGN:
		if fl.existing(relName(c.GetPktable())) {
			fl.needsLockTimeout()
		}
		if existing && !c.GetSkipValidation() {
			fl.report(ConstraintNotValid, "FOREIGN KEY "+c.GetConname()+" without NOT VALID")
		}
	case pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_UNIQUE, pg.ConstrType_CONSTR_EXCLUSION:
		if existing && c.GetIndexname() == "" {
			fl.report(AddUniqueConstraint, "constraint "+c.GetConname()+" builds a new index")
		}
	}
}

// notNullColumn returns col when expr is `col IS NOT NULL`.
func notNullColumn(expr *pg.Node) (string, bool) {
	nt := expr.GetNullTest()
	if nt == nil || nt.GetNulltesttype() != pg.NullTestType_IS_NOT_NULL {
		return "", false
	}
	fields := nt.GetArg().GetColumnRef().GetFields()
	if len(fields) == 0 {
		return "", false
	}
	col := fields[len(fields)-1].GetString_().GetSval()
	return col, col != ""
}

// serialTypes fill every existing row from a sequence.
var serialTypes = map[string]bool{"serial": true, "serial2": true, "serial4": true, "serial8": true, "smallserial": true, "bigserial": true}

func (fl *fileLint) addColumn(table string, cd *pg.ColumnDef) {
	col := table + "." + cd.GetColname()
	hasDefault, notNull := cd.GetRawDefault() != nil, cd.GetIsNotNull()
	if names := cd.GetTypeName().GetNames(); len(names) > 0 && serialTypes[names[len(names)-1].GetString_().GetSval()] {
		fl.report(AddColumnVolatileDefault, "column "+col+" is a serial (its default is nextval())")
		hasDefault = true
	}
	if cd.GetRawDefault() != nil {
		if why := volatile(cd.GetRawDefault()); why != "" {
			fl.report(AddColumnVolatileDefault, "column "+col+" defaults to "+why)
		}
	}
	for _, n := range cd.GetConstraints() {
		c := n.GetConstraint()
		switch c.GetContype() {
		case pg.ConstrType_CONSTR_DEFAULT:
			hasDefault = true
			if why := volatile(c.GetRawExpr()); why != "" {
				fl.report(AddColumnVolatileDefault, "column "+col+" defaults to "+why)
			}
		case pg.ConstrType_CONSTR_IDENTITY:
			hasDefault = true
			fl.report(AddColumnVolatileDefault, "column "+col+" is an identity column (every row gets a sequence value)")
		case pg.ConstrType_CONSTR_GENERATED:
			hasDefault = true
			fl.report(AddColumnVolatileDefault, "column "+col+" is a stored generated column (every row is computed)")
		case pg.ConstrType_CONSTR_NOTNULL:
			notNull = true
		case pg.ConstrType_CONSTR_CHECK:
			fl.report(ConstraintNotValid, "column "+col+" is added with an inline CHECK")
		case pg.ConstrType_CONSTR_FOREIGN:
			if fl.existing(relName(c.GetPktable())) {
				fl.needsLockTimeout()
			}
			fl.report(ConstraintNotValid, "column "+col+" is added with an inline REFERENCES")
		case pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_UNIQUE:
			fl.report(AddUniqueConstraint, "column "+col+" is added with an inline PRIMARY KEY/UNIQUE")
		}
	}
	if notNull && !hasDefault {
		fl.report(AddColumnRequired, "column "+col+" is NOT NULL without a default")
	}
}

// stableFuncs are evaluated once per statement (STABLE or IMMUTABLE), so a
// default using them is stored in the catalog without a table rewrite.
var stableFuncs = map[string]bool{
	"now": true, "statement_timestamp": true, "transaction_timestamp": true,
	"lower": true, "upper": true, "length": true, "abs": true,
	"jsonb_build_object": true, "json_build_object": true, "jsonb_build_array": true, "json_build_array": true,
	"to_jsonb": true, "make_interval": true, "make_date": true,
}

// volatileFuncs are known VOLATILE functions.
var volatileFuncs = map[string]bool{
	"random": true, "random_normal": true, "gen_random_uuid": true, "uuid_generate_v1": true, "uuid_generate_v1mc": true,
	"uuid_generate_v4": true, "clock_timestamp": true, "timeofday": true, "nextval": true, "setseed": true,
	"txid_current": true, "pg_current_xact_id": true,
}

// volatile returns why a default expression may be volatile, or "" when it
// is a constant or built from constants and stable functions.
func volatile(n *pg.Node) string {
	switch {
	case n == nil, n.GetAConst() != nil, n.GetSqlvalueFunction() != nil:
		return ""
	case n.GetTypeCast() != nil:
		return volatile(n.GetTypeCast().GetArg())
	case n.GetAExpr() != nil:
		if w := volatile(n.GetAExpr().GetLexpr()); w != "" {
			return w
		}
		return volatile(n.GetAExpr().GetRexpr())
	case n.GetAArrayExpr() != nil:
		for _, e := range n.GetAArrayExpr().GetElements() {
			if w := volatile(e); w != "" {
				return w
			}
		}
		return ""
	case n.GetFuncCall() != nil:
		fc := n.GetFuncCall()
		names := fc.GetFuncname()
		name := ""
		if len(names) > 0 {
			name = names[len(names)-1].GetString_().GetSval()
		}
		if volatileFuncs[name] {
			return name + "(), which is volatile"
		}
		if !stableFuncs[name] {
			return name + "(), which may be volatile (a function is VOLATILE unless declared otherwise)"
		}
		for _, a := range fc.GetArgs() {
			if w := volatile(a); w != "" {
				return w
			}
		}
		return ""
	}
	return "an expression that is not a constant"
}
