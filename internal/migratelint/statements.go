package migratelint

// The checks of each kind of statement: lint dispatches a parsed
// statement of the Up section to the check of its kind.

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

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
