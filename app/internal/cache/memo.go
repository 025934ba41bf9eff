package cache

import (
	"encoding/json"
	"hash/maphash"
	"sync/atomic"
)

// decodeMemo remembers the decoding of recently read cache entries: the
// same bytes always decode to the same value, so a read whose bytes equal
// bytes decoded before reuses that value instead of running encoding/json
// again (on the cached GET, the token entry and the note entry are decoded
// on every request, and their bytes change only when the data does).
//
// It is not a cache of data: every read still goes to Redis, and the memo
// is looked up with the bytes that read returned, so it cannot change what
// a read sees (a changed entry has different bytes, which miss). It is
// bounded: a fixed number of slots, each holding one entry of at most
// memoMaxBytes, replaced on collision. Values handed out are shared and
// must be treated as read-only.
type decodeMemo[T any] struct {
	seed  maphash.Seed
	slots [memoSlots]atomic.Pointer[memoEntry[T]]
}

const (
	memoSlots    = 1024
	memoMaxBytes = 4 << 10 // larger entries are decoded every time
)

type memoEntry[T any] struct {
	raw string
	v   T
}

func newDecodeMemo[T any]() *decodeMemo[T] {
	return &decodeMemo[T]{seed: maphash.MakeSeed()}
}

// decode returns what decode(raw) returns, from the memo when raw was
// decoded before. Errors are not remembered.
func (m *decodeMemo[T]) decode(raw string, decode func(string) (T, error)) (T, error) {
	if len(raw) > memoMaxBytes {
		return decode(raw)
	}
	slot := &m.slots[maphash.String(m.seed, raw)%memoSlots]
	if e := slot.Load(); e != nil && e.raw == raw {
		return e.v, nil
	}
	v, err := decode(raw)
	if err == nil {
		slot.Store(&memoEntry[T]{raw: raw, v: v})
	}
	return v, err
}

// decodeJSON is a cache entry's decoder: raw as JSON into a T.
func decodeJSON[T any](raw string) (T, error) {
	var v T
	err := json.Unmarshal([]byte(raw), &v)
	return v, err
}
