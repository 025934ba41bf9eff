package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/random"
	"github.com/gruntwork-io/terratest/modules/retry"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// previewOutputs are what the suite reads of a PR stack.
type previewOutputs struct {
	URL        string            `json:"url"`
	Slot       int               `json:"previewSlot"`
	PR         int               `json:"pr"`
	BaseStack  string            `json:"baseStack"`
	Database   string            `json:"databaseName"`
	TLSCACert  string            `json:"tlsCaCert"`
	Containers map[string]string `json:"containers"`
}

// testPreviews is `make pr-up|pr-down|pr-reap STACK=local` on the suite's
// stack, with the real engine: PRs 7 and 8 deployed at once next to it, a
// third refused by previews.maxConcurrent, a note of PR 7 seen by neither
// the base nor PR 8, pr-down 7 leaving no container, database, role or
// Redis key of it and the base's data as it was, and pr-reap removing PR
// 8 past a tiny TTL.
func testPreviews(t *testing.T, s *localStack, base Outputs, local *stackconfig.Config) {
	portBase := freePortRange(t, 2)
	s.set(t, "previews", "enabled", true)
	s.set(t, "previews", "maxConcurrent", 2)
	s.set(t, "previews", "localPortBase", portBase)
	prStack := func(n int) string { return stackconfig.PreviewStackName(s.name, n) }
	t.Cleanup(func() {
		for _, n := range []int{7, 8} {
			if len(s.objectsOf(t, prStack(n), "container")) > 0 {
				if _, err := s.shipyard(t, "pr-down", s.name, strconv.Itoa(n)); err != nil {
					t.Errorf("removing PR %d after a failure: %v", n, err)
				}
			}
		}
	})
	s.waitNotesProcessed(t, local)
	baseBefore := s.tableDigests(t, local)

	if !t.Run("pr-up 7 and 8 at once get slots 1 and 2 and serve HTTPS on their own ports", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, n := range []int{7, 8} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.shipyard(t, "pr-up", s.name, strconv.Itoa(n))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		slots := map[int]bool{}
		for _, n := range []int{7, 8} {
			o := s.previewOutputs(t, n)
			slots[o.Slot] = true
			want := fmt.Sprintf("https://pr-%d.localhost:%d", n, portBase+o.Slot)
			if o.URL != want || o.PR != n || o.BaseStack != s.name || o.Database != fmt.Sprintf("pr_%d", n) {
				t.Errorf("PR %d outputs %+v, want url %s", n, o, want)
			}
			if o.TLSCACert != base.TLSCACert {
				t.Errorf("PR %d's certificate is not from the base stack's CA", n)
			}
			prCall(t, base, o.URL, http.MethodGet, local.Services.Web.HealthCheckPath, "", nil, http.StatusOK, nil)
		}
		if !slots[1] || !slots[2] {
			t.Errorf("slots %v, want 1 and 2", slots)
		}
	}) {
		t.FailNow()
	}
	pr7, pr8 := s.previewOutputs(t, 7), s.previewOutputs(t, 8)

	t.Run("a third PR is refused with the limit and how to free a slot", func(t *testing.T) {
		_, err := s.shipyard(t, "pr-up", s.name, "9")
		if err == nil || !strings.Contains(err.Error(), "previews.maxConcurrent is 2") || !strings.Contains(err.Error(), "make pr-down PR=<n> STACK="+s.name) {
			t.Fatalf("pr-up 9 beyond maxConcurrent: %v", err)
		}
		if c := s.objectsOf(t, prStack(9), "container"); len(c) != 0 {
			t.Errorf("refused PR 9 left containers: %v", c)
		}
	})

	title := "only in PR 7 " + random.UniqueId()
	t.Run("a note created in PR 7 is invisible to the base stack and to PR 8", func(t *testing.T) {
		user := map[string]string{"email": fmt.Sprintf("pr7-%s@example.com", strings.ToLower(random.UniqueId())), "password": "correct horse " + random.UniqueId(), "name": "PR 7"}
		prCall(t, base, pr7.URL, http.MethodPost, "/api/v1/users", "", user, http.StatusCreated, nil)
		var session struct {
			Token string `json:"token"`
		}
		login := map[string]string{"email": user["email"], "password": user["password"]}
		prCall(t, base, pr7.URL, http.MethodPost, "/api/v1/sessions", "", login, http.StatusCreated, &session)
		prCall(t, base, pr7.URL, http.MethodPost, "/api/v1/notes", session.Token, map[string]string{"title": title, "body": "a PR's data"}, http.StatusCreated, nil)
		var list struct {
			Items []note `json:"items"`
		}
		prCall(t, base, pr7.URL, http.MethodGet, "/api/v1/notes", session.Token, nil, http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0].Title != title {
			t.Fatalf("PR 7's notes: %+v", list.Items)
		}
		// Its user does not exist elsewhere: the base and PR 8 refuse the login.
		prCall(t, base, base.URL, http.MethodPost, "/api/v1/sessions", "", login, http.StatusUnauthorized, nil)
		prCall(t, base, pr8.URL, http.MethodPost, "/api/v1/sessions", "", login, http.StatusUnauthorized, nil)
		for _, db := range []string{local.Database.Name, pr8.Database} {
			if n := s.psql(t, local, db, fmt.Sprintf("SELECT count(*) FROM notes WHERE title = '%s'", title)); n != "0" {
				t.Errorf("database %s holds PR 7's note (%s rows)", db, n)
			}
		}
	})

	t.Run("PR 7 writes to its own database pr_7 in the base's Postgres, as its own user", func(t *testing.T) {
		if n := s.psql(t, local, pr7.Database, fmt.Sprintf("SELECT count(*) FROM notes WHERE title = '%s'", title)); n != "1" {
			t.Errorf("pr_7 holds %s rows of PR 7's note, want 1", n)
		}
		if owner := s.psql(t, local, local.Database.Name, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'pr_7'"); owner != "pr_7" {
			t.Errorf("pr_7 is owned by %q", owner)
		}
		retry.DoWithRetry(t, "PR 7's processes use Redis database "+strconv.Itoa(pr7.Slot), 30, time.Second, func() (string, error) {
			if n := s.redisKeys(t, base, pr7.Slot); n == 0 {
				return "", fmt.Errorf("no key in Redis database %d", pr7.Slot)
			}
			return "", nil
		})
	})

	t.Run("pr-down 7 leaves no container, database, role or Redis key of PR 7, and the base's data intact", func(t *testing.T) {
		if _, err := s.shipyard(t, "pr-down", s.name, "7"); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"container", "volume"} {
			if left := s.objectsOf(t, prStack(7), kind); len(left) != 0 {
				t.Errorf("%ss of PR 7 left: %v", kind, left)
			}
		}
		if n := s.psql(t, local, local.Database.Name, "SELECT (SELECT count(*) FROM pg_database WHERE datname = 'pr_7') + (SELECT count(*) FROM pg_roles WHERE rolname = 'pr_7')"); n != "0" {
			t.Errorf("database or role pr_7 left (%s)", n)
		}
		if n := s.redisKeys(t, base, pr7.Slot); n != 0 {
			t.Errorf("%d keys left in PR 7's Redis database %d", n, pr7.Slot)
		}
		after := s.tableDigests(t, local)
		for table, digest := range baseBefore {
			if after[table] != digest {
				t.Errorf("the base's table %s changed: %s before the PR environments, %s after", table, digest, after[table])
			}
		}
		if left := s.pulumi(t, "stack", "ls", "--json"); strings.Contains(left, `"`+prStack(7)+`"`) {
			t.Errorf("stack %s still listed:\n%s", prStack(7), left)
		}
		waitReady(t, base.URL+local.Services.Web.HealthCheckPath)
		prCall(t, base, pr8.URL, http.MethodGet, local.Services.Web.HealthCheckPath, "", nil, http.StatusOK, nil)
	})

	t.Run("down refuses the base stack while PR 8 runs on it, and names it", func(t *testing.T) {
		_, err := s.shipyard(t, "destroy", s.name, "--keep-data")
		if err == nil || !strings.Contains(err.Error(), "PRs 8") {
			t.Fatalf("down of the base with PR 8 up: %v", err)
		}
		waitReady(t, base.URL+local.Services.Web.HealthCheckPath)
	})

	t.Run("pr-reap with a tiny TTL removes PR 8", func(t *testing.T) {
		if _, err := s.shipyard(t, "pr-reap", s.name, "--ttl=1s"); err != nil {
			t.Fatal(err)
		}
		if left := s.objectsOf(t, prStack(8), "container"); len(left) != 0 {
			t.Errorf("containers of PR 8 left: %v", left)
		}
		if n := s.psql(t, local, local.Database.Name, "SELECT count(*) FROM pg_database WHERE datname = 'pr_8'"); n != "0" {
			t.Error("database pr_8 left")
		}
		list, err := s.shipyard(t, "pr-list", s.name)
		if err != nil || strings.Contains(list, prStack(8)) {
			t.Errorf("pr-list after the reap (%v):\n%s", err, list)
		}
	})
}

// previewOutputs reads PR n's stack outputs.
func (s *localStack) previewOutputs(t *testing.T, n int) previewOutputs {
	t.Helper()
	out, err := s.shipyard(t, "outputs", stackconfig.PreviewStackName(s.name, n))
	if err != nil {
		t.Fatal(err)
	}
	var o previewOutputs
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("PR %d outputs: %v\n%s", n, err, out)
	}
	return o
}

// objectsOf is objects for another stack of the project (a PR's).
func (s *localStack) objectsOf(t *testing.T, stack, kind string) []string {
	other := *s
	other.name = stack
	return other.objects(t, kind)
}

// psql runs one query on a database of the base's Postgres as its admin
// user and returns the single value.
func (s *localStack) psql(t *testing.T, cfg *stackconfig.Config, db, sql string) string {
	t.Helper()
	return strings.TrimSpace(dockerOut(t, "exec", s.outputs(t).Containers["postgres"], "psql", "--username", cfg.Database.Username,
		"--dbname", db, "--no-align", "--tuples-only", "--quiet", "--command", sql))
}

// redisKeys counts the keys of a logical database of the base's Redis.
func (s *localStack) redisKeys(t *testing.T, base Outputs, db int) int {
	t.Helper()
	out := strings.TrimSpace(dockerOut(t, "exec", base.Containers["redis"], "sh", "-c",
		`redis-cli --no-auth-warning -a "$`+stackconfig.SecretRedisPassword+`" -n `+strconv.Itoa(db)+` DBSIZE`))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("redis DBSIZE of database %d: %q", db, out)
	}
	return n
}

// prCall sends a JSON request to a PR environment's URL: its host
// pr-<n>.localhost is dialled on 127.0.0.1 (what curl and browsers do for
// *.localhost) and its certificate verified against the base stack's CA
// for that name.
func prCall(t *testing.T, base Outputs, baseURL, method, path, token string, body any, want int, v any) {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(base.TLSCACert))
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if host == "localhost" || strings.HasSuffix(host, ".localhost") {
				host = dockerinfra.ListenAddress
			}
			if host != dockerinfra.ListenAddress {
				return nil, fmt.Errorf("the suite sends traffic to 127.0.0.1 only, not %s", host)
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort(host, port))
		},
	}}
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	var status int
	var data []byte
	// The PR's nginx may still be resolving its first replica.
	retry.DoWithRetry(t, method+" "+baseURL+path, 20, time.Second, func() (string, error) {
		req, err := http.NewRequest(method, u.String()+path, bytes.NewReader(payload))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		data, _ = io.ReadAll(resp.Body)
		status = resp.StatusCode
		if status == http.StatusBadGateway || status == http.StatusServiceUnavailable {
			return "", fmt.Errorf("status %d", status)
		}
		return "", nil
	})
	if status != want {
		t.Fatalf("%s %s%s: status %d, want %d; body: %s", method, baseURL, path, status, want, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, data, err)
		}
	}
}

// freePortRange returns a base such that base+1 to base+n are all free
// on 127.0.0.1 right now.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := freePort(t) - 1
		ok := true
		for i := 1; i <= n && ok; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}
