//go:build cgo

package migratelint

import (
	"errors"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
)

// errNoParser is nil: libpg_query is compiled in.
var errNoParser error

func parseSQL(sql string) (*pg.ParseResult, error) { return pg.Parse(sql) }

func scanSQL(sql string) (*pg.ScanResult, error) { return pg.Scan(sql) }

// errorPos returns the 1-based character position of a parse error, or 0.
func errorPos(err error) int {
	var pe *pgparser.Error
	if errors.As(err, &pe) {
		return pe.Cursorpos
	}
	return 0
}
