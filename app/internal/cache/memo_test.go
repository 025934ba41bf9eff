package cache

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestDecodeMemo(t *testing.T) {
	counting := func(calls *int) func(string) (string, error) {
		return func(raw string) (string, error) {
			*calls++
			if strings.HasPrefix(raw, "bad") {
				return "", errors.New("malformed")
			}
			return "decoded " + raw, nil
		}
	}
	t.Run("the same bytes are decoded once and give the same value", func(t *testing.T) {
		m, calls := newDecodeMemo[string](), 0
		for range 3 {
			v, err := m.decode(`{"version":1}`, counting(&calls))
			if err != nil || v != `decoded {"version":1}` {
				t.Fatalf("got %q, %v", v, err)
			}
		}
		if calls != 1 {
			t.Errorf("decoded %d times, want 1", calls)
		}
	})
	t.Run("changed bytes are decoded again: the memo never returns an older value", func(t *testing.T) {
		m, calls := newDecodeMemo[string](), 0
		for i := range 50 {
			raw := `{"version":` + strconv.Itoa(i) + `}`
			if v, _ := m.decode(raw, counting(&calls)); v != "decoded "+raw {
				t.Fatalf("version %d: got %q", i, v)
			}
		}
		if calls != 50 {
			t.Errorf("decoded %d times, want 50", calls)
		}
	})
	t.Run("more entries than slots all decode correctly, old ones are evicted", func(t *testing.T) {
		m, calls := newDecodeMemo[string](), 0
		n := 4 * memoSlots
		for round := range 2 {
			for i := range n {
				raw := "entry " + strconv.Itoa(i)
				if v, _ := m.decode(raw, counting(&calls)); v != "decoded "+raw {
					t.Fatalf("round %d, entry %d: got %q", round, i, v)
				}
			}
		}
		if calls <= n || calls > 2*n {
			t.Errorf("decoded %d times for 2 rounds of %d entries in %d slots: want some, not all, of the second round from the memo", calls, n, memoSlots)
		}
	})
	t.Run("errors are not remembered", func(t *testing.T) {
		m, calls := newDecodeMemo[string](), 0
		for range 2 {
			if _, err := m.decode("bad entry", counting(&calls)); err == nil {
				t.Fatal("want the decoder's error")
			}
		}
		if calls != 2 {
			t.Errorf("decoded %d times, want 2", calls)
		}
	})
	t.Run("entries over the size bound are decoded every time", func(t *testing.T) {
		m, calls := newDecodeMemo[string](), 0
		big := strings.Repeat("x", memoMaxBytes+1)
		for range 2 {
			if v, _ := m.decode(big, counting(&calls)); v != "decoded "+big {
				t.Fatal("wrong value")
			}
		}
		if calls != 2 {
			t.Errorf("decoded %d times, want 2", calls)
		}
	})
}

// BenchmarkDecodeTokenEntry: what the memo saves on every cached GET (a
// token entry as the token cache writes it).
func BenchmarkDecodeTokenEntry(b *testing.B) {
	raw := `{"id":42,"email":"someone@example.com","name":"Someone","created_at":"2026-12-02T17:00:00.123456Z","expires_at":"2026-12-03T17:00:00.123456Z"}`
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeJSON[tokenEntry](raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memo", func(b *testing.B) {
		m := newDecodeMemo[tokenEntry]()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.decode(raw, decodeJSON[tokenEntry]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
