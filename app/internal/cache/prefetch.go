package cache

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// prefetched holds the replies of one MGET for the keys a request will
// read (a cached note GET reads its token entry and its note entry), so
// that it costs one Redis round trip instead of two. Semantics are those of
// the separate GETs made at the moment of the MGET.
type prefetched struct {
	keys []string
	vals []any
	err  error
}

type prefetchKey struct{}

// Prefetch reads the token entry of tokenHash and the cache entry of note
// id in one MGET (sent by b, in one pipeline with the MGETs of concurrent
// requests) and returns ctx carrying the result; Tokens.User and
// Notes.Get use it instead of reading Redis again.
func Prefetch(ctx context.Context, b *Batcher, tokenHash []byte, noteID int64) context.Context {
	keys := []string{tokenKey(tokenHash), Key(noteID)}
	vals, err := b.MGet(ctx, keys...)
	if err == nil && len(vals) != len(keys) {
		return ctx
	}
	return context.WithValue(ctx, prefetchKey{}, &prefetched{keys: keys, vals: vals, err: err})
}

// PrefetchFailed reports whether ctx carries a prefetch that could not
// read Redis (down, or the breaker open).
func PrefetchFailed(ctx context.Context) bool {
	p, _ := ctx.Value(prefetchKey{}).(*prefetched)
	return p != nil && p.err != nil
}

// fromPrefetch returns what the prefetch read for key: the value, or
// redis.Nil, or the error of the MGET. ok is false when key was not
// prefetched.
func fromPrefetch(ctx context.Context, key string) (raw string, ok bool, err error) {
	p, _ := ctx.Value(prefetchKey{}).(*prefetched)
	if p == nil {
		return "", false, nil
	}
	for i, k := range p.keys {
		if k != key {
			continue
		}
		if p.err != nil {
			return "", true, p.err
		}
		switch v := p.vals[i].(type) {
		case nil:
			return "", true, redis.Nil
		case string:
			return v, true, nil
		default:
			return "", false, nil
		}
	}
	return "", false, nil
}

// get is GET key, or its prefetched reply.
func get(ctx context.Context, rdb redis.UniversalClient, key string) (string, error) {
	if raw, ok, err := fromPrefetch(ctx, key); ok {
		return raw, err
	}
	return rdb.Get(ctx, key).Result()
}
