//go:build !cgo

package migratelint

import (
	"errors"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// errNoParser says why nothing can be linted: libpg_query is C. Every lint
// fails with it (it never passes a migration it could not read), while
// the rest of a program that imports this package still builds.
var errNoParser = errors.New("the migration linter parses SQL with PostgreSQL's parser (libpg_query), which needs cgo: install a C compiler (Debian/Ubuntu: apt-get install gcc libc6-dev) and build with CGO_ENABLED=1")

func parseSQL(string) (*pg.ParseResult, error) { return nil, errNoParser }

func scanSQL(string) (*pg.ScanResult, error) { return nil, errNoParser }

func errorPos(error) int { return 0 }
