package cache

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Tokens caches token-hash → user lookups so that authenticating a request
// needs no Postgres round trip. Entries live at most ttl and never past
// the token's expiry; logout deletes the entry (and fails if it cannot, so
// a revoked token never stays usable through the cache). Unknown tokens are
// not cached. Redis errors fall back to Postgres.
//
// Logout writes a "revoked" marker (for ttl) instead of deleting, and
// lookups never replace a marker (fillScript), so a lookup racing with a
// logout cannot re-cache the revoked token. Entries are served only under
// the current Epoch tag (a marker under any: revocation is final).
type Tokens struct {
	rdb     redis.UniversalClient
	ttl     time.Duration
	log     *slog.Logger
	metrics outcomes
	pending *pending
	loads   freshGroup
	decoded *decodeMemo[tokenEntry]
	epoch   *Epoch
}

// NewTokens returns a token cache whose entries are tagged by epoch.
func NewTokens(rdb redis.UniversalClient, ttl time.Duration, log *slog.Logger, m *Metrics, epoch *Epoch) *Tokens {
	return &Tokens{rdb: rdb, ttl: ttl, log: log, metrics: m.outcomes("token"), pending: newPending(log), decoded: newDecodeMemo[tokenEntry](), epoch: epoch}
}

// Flush retries the revocations not yet written to the cache.
func (c *Tokens) Flush(ctx context.Context) { c.pending.flush(ctx) }

func tokenKey(hash []byte) string { return "shipyard:tok:" + hex.EncodeToString(hash) }

// tokenEntry deliberately has no password hash.
type tokenEntry struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Tag       string    `json:"tag,omitempty"`
}

// fillScript caches a looked-up token (ARGV[1], tag ARGV[2]) unless the key
// holds a revocation marker or an entry under the same tag already.
var fillScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  if cur == 'revoked' then return 0 end
  local ok, e = pcall(cjson.decode, cur)
  if ok and type(e) == 'table' and e.tag == ARGV[2] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`)

// User resolves a token hash, from the cache or with load.
func (c *Tokens) User(ctx context.Context, hash []byte, load func(context.Context, []byte) (store.User, time.Time, error)) (store.User, error) {
	key := tokenKey(hash)
	if c.pending.has(key) {
		// Revoked here but the cache may not know yet: ask Postgres.
		c.metrics.fenced.Inc()
		u, _, err := c.load(ctx, key, hash, load)
		return u, err
	}
	// Taken before Postgres is read (see Notes.load).
	tag, tagOK := c.epoch.Tag()
	if !tagOK {
		c.metrics.fenced.Inc()
		u, _, err := c.load(ctx, key, hash, load)
		return u, err
	}
	raw, err := get(ctx, c.rdb, key)
	switch {
	case err == nil && raw == revokedMarker:
		c.metrics.hit.Inc()
		return store.User{}, store.ErrNotFound
	case err == nil:
		// The expiry is checked on every read, memo or not.
		e, jerr := c.decoded.decode(raw, decodeJSON[tokenEntry])
		switch {
		case jerr == nil && e.Tag == tag && time.Now().Before(e.ExpiresAt):
			c.metrics.hit.Inc()
			return store.User{ID: e.ID, Email: e.Email, Name: e.Name, CreatedAt: e.CreatedAt}, nil
		case jerr == nil && e.Tag != tag:
			c.metrics.stale.Inc()
		default:
			c.metrics.miss.Inc()
		}
	case errors.Is(err, redis.Nil):
		c.metrics.miss.Inc()
	default:
		c.metrics.err.Inc()
		if ctx.Err() == nil && !errors.Is(err, ErrUnavailable) {
			c.log.WarnContext(ctx, "token cache read failed; reading from postgres", "err", err)
		}
	}
	u, exp, lerr := c.load(ctx, key, hash, load)
	if lerr != nil {
		return store.User{}, lerr
	}
	if err == nil || errors.Is(err, redis.Nil) {
		ttl := min(c.ttl, time.Until(exp))
		if ttl > time.Millisecond {
			b, _ := json.Marshal(tokenEntry{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt, ExpiresAt: exp, Tag: tag})
			if serr := fillScript.Run(ctx, c.rdb, []string{key}, b, tag, ttl.Milliseconds()).Err(); serr != nil && ctx.Err() == nil {
				c.log.WarnContext(ctx, "token cache write failed", "err", serr)
			}
		}
	}
	return u, nil
}

const revokedMarker = "revoked"

// Forget marks a token revoked in the cache, detached from ctx's
// cancellation. If Redis cannot be written, this process checks the token
// in Postgres and retries the write until it lands, and the cache
// generation is bumped so that no replica serves the entry any more. An
// error means neither could be done: a valid entry may still be served on
// other replicas, and the caller must not report the logout as done.
func (c *Tokens) Forget(ctx context.Context, hash []byte) error {
	key := tokenKey(hash)
	write := func(ctx context.Context) error { return c.rdb.Set(ctx, key, revokedMarker, c.ttl).Err() }
	wctx, cancel := detached(ctx)
	defer cancel()
	if err := write(wctx); err != nil {
		c.pending.add(key, 1, write)
		if berr := c.epoch.bumpDetached(ctx); berr != nil {
			return fmt.Errorf("forget token: %w (and %w)", err, berr)
		}
		return nil
	}
	c.pending.landed(key, 1)
	return nil
}

type tokenLoad struct {
	u   store.User
	exp time.Time
}

// load is load coalesced per token (freshGroup: a request never gets the
// answer of a lookup that started before it, e.g. before a logout).
func (c *Tokens) load(ctx context.Context, key string, hash []byte, load func(context.Context, []byte) (store.User, time.Time, error)) (store.User, time.Time, error) {
	v, err := c.loads.do(ctx, key, func() (any, error) {
		// Shared: not cancelled with its first caller, but bounded by
		// its deadline.
		loadCtx := context.WithoutCancel(ctx)
		cancel := func() {}
		if dl, ok := ctx.Deadline(); ok {
			loadCtx, cancel = context.WithDeadline(loadCtx, dl)
		}
		defer cancel()
		u, exp, err := load(loadCtx, hash)
		return tokenLoad{u, exp}, err
	})
	if err != nil {
		return store.User{}, time.Time{}, err
	}
	t := v.(tokenLoad)
	return t.u, t.exp, nil
}
