package migratelint

// Rule is one check: what goes wrong on a busy database or for the release
// still running against it, and the safe way (expand/contract).
type Rule struct {
	ID      string
	Problem string
	Recipe  string
}

// The rule ids, as written in findings and in `-- shipyard:allow <rule-id>`.
const (
	CreateIndexNotConcurrently = "create-index-not-concurrently"
	ConcurrentlyInTransaction  = "concurrently-in-transaction"
	AddUniqueConstraint        = "add-unique-constraint"
	AddColumnVolatileDefault   = "add-column-volatile-default"
	AddColumnRequired          = "add-column-required"
	AlterColumnType            = "alter-column-type"
	SetNotNull                 = "set-not-null"
	ConstraintNotValid         = "constraint-not-valid"
	RenameColumn               = "rename-column"
	RenameTable                = "rename-table"
	DropColumn                 = "drop-column"
	DropTable                  = "drop-table"
	MissingLockTimeout         = "missing-lock-timeout"
)

// Findings about the migration file itself: never allowed by a comment.
const (
	SyntaxError        = "syntax-error"
	GooseUpMissing     = "goose-up-missing"
	AllowWithoutReason = "allow-without-reason"
	AllowUnknownRule   = "allow-unknown-rule"
	AllowUnused        = "allow-unused"
)

var rules = []Rule{
	{CreateIndexNotConcurrently,
		"CREATE INDEX without CONCURRENTLY on an existing table blocks every write to it (SHARE lock) for the whole index build",
		"CREATE INDEX CONCURRENTLY in its own migration with -- +goose NO TRANSACTION (a failed concurrent build leaves an INVALID index: DROP INDEX CONCURRENTLY IF EXISTS it before retrying)"},
	{ConcurrentlyInTransaction,
		"CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction block, and goose runs each migration in one unless told otherwise: the migration fails on deploy",
		"put the statement in its own migration whose first line is -- +goose NO TRANSACTION"},
	{AddUniqueConstraint,
		"ADD PRIMARY KEY / UNIQUE / EXCLUDE builds its index while holding an ACCESS EXCLUSIVE lock on the table: no reads, no writes until it is built",
		"CREATE UNIQUE INDEX CONCURRENTLY in its own migration with -- +goose NO TRANSACTION, then ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX (or PRIMARY KEY USING INDEX) in a later migration"},
	{AddColumnVolatileDefault,
		"ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), a serial, identity or stored generated column, or a function the linter cannot prove non-volatile) rewrites the whole table under an ACCESS EXCLUSIVE lock",
		"add the column without default, backfill in batches, then set the default (ALTER COLUMN … SET DEFAULT); constant and stable defaults such as 0, '' or now() are stored in the catalog without a rewrite on PostgreSQL ≥ 11"},
	{AddColumnRequired,
		"ADD COLUMN … NOT NULL without a default fails on a non-empty table, and the previous release's INSERTs, which do not know the column, would fail against it",
		"add the column nullable (or with a constant default), ship code that writes it, backfill in batches, then make it NOT NULL with the set-not-null recipe"},
	{AlterColumnType,
		"ALTER COLUMN … TYPE rewrites the table and its indexes under an ACCESS EXCLUSIVE lock (for most type changes), and the previous release reads and writes the old type",
		"add a new column, dual-write, backfill, switch reads, drop the old column two releases later"},
	{SetNotNull,
		"SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock unless a validated CHECK (col IS NOT NULL) constraint already proves it",
		"ADD CONSTRAINT <name> CHECK (col IS NOT NULL) NOT VALID; then in a later migration VALIDATE CONSTRAINT <name>; then SET NOT NULL (PostgreSQL ≥ 12 skips the scan) and DROP CONSTRAINT <name>"},
	{ConstraintNotValid,
		"adding a FOREIGN KEY or CHECK constraint without NOT VALID checks every existing row while holding a lock that blocks writes (a foreign key also locks the referenced table)",
		"ADD CONSTRAINT … NOT VALID then VALIDATE CONSTRAINT in a later migration (for a new column: add the column first, then the constraint NOT VALID)"},
	{RenameColumn,
		"the previous release keeps reading and writing the old column name during the deploy and after a rollback",
		"add a new column, dual-write, backfill, switch reads, drop the old column two releases later"},
	{RenameTable,
		"the previous release keeps reading and writing the old table name during the deploy and after a rollback",
		"create the new table, dual-write, backfill, switch reads, drop the old table two releases later"},
	{DropColumn,
		"the previous release still reads and writes the column during the deploy and after a rollback",
		"stop reading and writing the column in one release, drop it two releases later; the drop is then a reviewed exception: -- shipyard:allow drop-column <the release that stopped using it>"},
	{DropTable,
		"the previous release still reads and writes the table during the deploy and after a rollback",
		"stop using the table in one release, drop it two releases later; the drop is then a reviewed exception: -- shipyard:allow drop-table <the release that stopped using it>"},
	{MissingLockTimeout,
		"a migration that locks an existing table has no SET lock_timeout before it: a statement waiting for its lock behind a long transaction queues every query on the table behind it",
		"start the Up section with SET lock_timeout = '5s'; (the migration then fails fast and is retried, instead of stalling the service); a migration that only creates new objects is exempt"},
}

// Rules returns every rule a reviewed exception may name, in a stable
// order.
func Rules() []Rule {
	return append([]Rule(nil), rules...)
}

func ruleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
