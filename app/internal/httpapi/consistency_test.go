package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// staleFixture is what both consistency tests set up: a note to update, a
// note to delete and a session to end, all three cached.
type staleFixture struct {
	tok, doomedTok     string
	notePath, gonePath string
}

func setUpCached(t *testing.T, a *testApp) staleFixture {
	t.Helper()
	f := staleFixture{tok: a.user("ada@example.com")}
	r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "ada@example.com", "password": "correct horse"})
	f.doomedTok = r.json(t)["token"].(string)
	f.notePath = fmt.Sprintf("/api/v1/notes/%d", int64(a.note(f.tok, "t", "version one")["id"].(float64)))
	f.gonePath = fmt.Sprintf("/api/v1/notes/%d", int64(a.note(f.tok, "t", "deleted soon")["id"].(float64)))
	for _, p := range []string{f.notePath, f.gonePath} {
		waitFor(t, "a cache hit on "+p, func() bool { return a.do("GET", p, f.tok, nil).header.Get("X-Cache") == "hit" })
	}
	if r := a.do("GET", "/api/v1/me", f.doomedTok, nil); r.status != 200 {
		t.Fatalf("/me: %d", r.status)
	}
	return f
}

// change updates, deletes and logs out through a, each acknowledged.
func (f staleFixture) change(t *testing.T, a *testApp) {
	t.Helper()
	if r := a.do("PATCH", f.notePath, f.tok, map[string]string{"body": "version two"}); r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if r := a.do("DELETE", f.gonePath, f.tok, nil); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := a.do("DELETE", "/api/v1/sessions/current", f.doomedTok, nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
}

// check asserts that b serves nothing older than the changes.
func (f staleFixture) check(t *testing.T, b *testApp) {
	t.Helper()
	r := b.do("GET", f.notePath, f.tok, nil)
	if r.status != 200 || r.json(t)["body"] != "version two" {
		t.Errorf("the updated note: %d (X-Cache %s) %s, want version two", r.status, r.header.Get("X-Cache"), r.body)
	}
	if r := b.do("GET", f.gonePath, f.tok, nil); r.status != 404 {
		t.Errorf("the deleted note: %d (X-Cache %s) %s, want 404", r.status, r.header.Get("X-Cache"), r.body)
	}
	if r := b.do("GET", "/api/v1/me", f.doomedTok, nil); r.status != 401 {
		t.Errorf("the logged-out token: %d %s, want 401", r.status, r.body)
	}
}

func TestReadsStayFreshWhenRedisComesBackWithOlderData(t *testing.T) {
	rs := testenv.OwnRedis(t)
	a := newApp(t, func(o *appOpts) { o.redisURL = rs.URL })
	f := setUpCached(t, a)
	snapshot := rs.Snapshot(t)
	f.change(t, a)
	rs.RestartFrom(t, snapshot) // a restore from a backup, or a failover to a lagging replica

	// The test means something only if the old entries are back.
	old, err := a.rdb.Get(context.Background(), cache.Key(noteIDOf(f.notePath))).Result()
	for deadline := time.Now().Add(5 * time.Second); err != nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		old, err = a.rdb.Get(context.Background(), cache.Key(noteIDOf(f.notePath))).Result()
	}
	if !strings.Contains(old, "version one") {
		t.Fatalf("the restored redis does not hold the old version (%q, %v)", old, err)
	}
	for range 5 {
		f.check(t, a)
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "the cache to be used again with the new version", func() bool {
		r := a.do("GET", f.notePath, f.tok, nil)
		return r.header.Get("X-Cache") == "hit" && r.json(t)["body"] == "version two"
	})
}

func TestAReplicaCutOffFromRedisDoesNotLetAnotherServeOldData(t *testing.T) {
	dbURL, redisURL := testenv.DatabaseURL(t), testenv.RedisURL(t)
	proxied, rp := testenv.ProxyURL(t, redisURL)
	cutOff := newApp(t, func(o *appOpts) { o.dbURL, o.redisURL, o.redisTimeout = dbURL, proxied, 300*time.Millisecond })
	other := newApp(t, func(o *appOpts) { o.dbURL, o.redisURL = dbURL, redisURL })
	f := setUpCached(t, other)

	rp.Stall() // only cutOff's path to Redis
	defer rp.Resume()
	f.change(t, cutOff)
	f.check(t, other)
	if t.Failed() {
		return
	}
	// And the cache is used again on the other replica.
	waitFor(t, "a cache hit with the new version on the other replica", func() bool {
		r := other.do("GET", f.notePath, f.tok, nil)
		return r.header.Get("X-Cache") == "hit" && r.json(t)["body"] == "version two"
	})
}

func noteIDOf(path string) int64 {
	var id int64
	_, _ = fmt.Sscanf(path[strings.LastIndex(path, "/")+1:], "%d", &id)
	return id
}
