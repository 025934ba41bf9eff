package httpapi_test

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// worstCaseNotes gives the user of token 100 notes of 100,000 '<' each:
// every request within every limit, and each character six bytes of JSON
// (\u003c).
func (a *testApp) worstCaseNotes(email string) string {
	a.t.Helper()
	tok := a.user(email)
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO notes (user_id, title, body)
		SELECT u.id, 'n' || g, repeat('<', 100000) FROM users u, generate_series(1, 100) g WHERE u.email = $1`, email); err != nil {
		a.t.Fatal(err)
	}
	return tok
}

type listPage struct {
	Items []struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func TestListsHaveAByteBudget(t *testing.T) {
	// Bytes per page, not latency: a worst-case page took up to 0.7 s
	// under the race detector on a 2-CPU machine and 2.7 s with its CPU
	// shared thirteen ways, against the default 5 s deadline.
	a := newApp(t, anySpeed)
	tok := a.worstCaseNotes("ada@example.com")
	seen := map[int64]bool{}
	prev := int64(1 << 62)
	path := "/api/v1/notes?limit=100"
	pages := 0
	for {
		r := a.do("GET", path, tok, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body[:min(len(r.body), 300)])
		}
		if len(r.body) > 4<<20 {
			t.Fatalf("a page of %d bytes, want at most 4 MiB", len(r.body))
		}
		var p listPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Items) == 0 {
			t.Fatal("an empty page")
		}
		for _, it := range p.Items {
			if it.ID >= prev || seen[it.ID] || it.Body != strings.Repeat("<", 100000) {
				t.Fatalf("note %d out of order, repeated or cut (body %d chars)", it.ID, len(it.Body))
			}
			seen[it.ID], prev = true, it.ID
		}
		pages++
		if p.NextCursor == nil {
			break
		}
		path = "/api/v1/notes?limit=100&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if len(seen) != 100 {
		t.Fatalf("the pages held %d notes, want all 100", len(seen))
	}
	t.Logf("100 worst-case notes in %d pages", pages)
}

func TestAWorstCaseListFloodAllocatesBoundedMemory(t *testing.T) {
	// Memory, not latency: 32 worst-case lists at once take longer than
	// the default 5 s deadline under the race detector (503s).
	a := newApp(t, anySpeed)
	tok := a.worstCaseNotes("ada@example.com")
	a.do("GET", "/api/v1/notes?limit=100", tok, nil) // warm: pools, connections
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if r := a.do("GET", "/api/v1/notes?limit=100", tok, nil); r.status != 200 {
				t.Errorf("%d", r.status)
			}
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	// Server and client share this process: per list, the server's page
	// (≤ 4 MiB, plus one note's text from Postgres and its encoding) and
	// the client reading it. Unbounded, one list was a 60 MB response
	// built in memory.
	counted := float64(after.TotalAlloc-before.TotalAlloc) / 32 / (1 << 20)
	perList := counted / growthCountFactor()
	t.Logf("allocated %.1f MiB per worst-case list (server and client); counted %.1f", perList, counted)
	if perList > 48 {
		t.Fatalf("allocated %.1f MiB per worst-case list, want at most 48", perList)
	}
}

var growthSink []byte

// growthCountFactor is how many bytes TotalAlloc counts for each byte a
// growing buffer takes: 1 in a normal build, 2 in the race detector's.
// bytes.Buffer and io.ReadAll grow with append(s, make([]byte, n)...),
// one allocation the compiler does not fuse when it instruments the
// code: the make and the append each count. Most of a list's allocation
// is such growth (its page, the client's read), so the 48 MiB bound,
// measured in a normal build, applies to a race build's count divided by
// this factor (the race build also drops a quarter of what sync.Pools
// are given, which this leaves counted).
func growthCountFactor() float64 {
	count := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 16 {
			f()
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const n = 1 << 20
	grown := count(func() { growthSink = append([]byte(nil), make([]byte, n)...) })
	made := count(func() { growthSink = make([]byte, n) })
	growthSink = nil
	return max(1, math.Round(float64(grown)/float64(made)))
}
