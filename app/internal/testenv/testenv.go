// Package testenv gives tests real Postgres and Redis: TEST_DATABASE_URL /
// TEST_REDIS_URL when set, otherwise throwaway instances (temp dir, random
// loopback port) started once per test process and stopped by Main. Each
// test gets its own database (and Redis logical database).
//
// It never skips: if Postgres or Redis cannot be started the test fails
// with the reason (CI installs both from apt).
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/db"
)

var (
	mu       sync.Mutex
	cleanups []func()

	pgOnce   sync.Once
	pgBase   *url.URL // admin URL (database "postgres" or TEST_DATABASE_URL's)
	pgErr    error
	tmplOnce sync.Once
	tmplName string
	tmplErr  error

	redisOnce sync.Once
	redisBase *url.URL
	redisErr  error
	redisMu   sync.Mutex
	redisUsed [config.RedisDatabases]bool // leased by a running test
	redisLast int                         // the database leased last

	dbCounter atomic.Int64
)

// Main runs the tests and then stops whatever was started. Use it from
// TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	mu.Unlock()
	os.Exit(code)
}

// AtExit registers f to run after all tests, when Main stops the servers.
func AtExit(f func()) { addCleanup(f) }

func addCleanup(f func()) {
	mu.Lock()
	cleanups = append(cleanups, f)
	mu.Unlock()
}

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ---------------------------------------------------------------- Postgres

// EmptyDatabaseURL creates an empty database for this test and returns its
// URL. It is dropped when the test ends.
func EmptyDatabaseURL(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

// DatabaseURL creates a migrated database for this test (a copy of a
// template migrated once per process) and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := postgres(t)
	tmplOnce.Do(func() {
		tmplName = fmt.Sprintf("shipyard_tmpl_%d", os.Getpid())
		if err := adminExec(base, "CREATE DATABASE "+tmplName); err != nil {
			tmplErr = err
			return
		}
		addCleanup(func() { _ = adminExec(base, "DROP DATABASE IF EXISTS "+tmplName+" WITH (FORCE)") })
		u := withDB(base, tmplName)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := db.Migrate(ctx, db.PoolConfig{URL: u}); err != nil {
			tmplErr = fmt.Errorf("migrate template: %w", err)
		}
	})
	if tmplErr != nil {
		t.Fatalf("testenv: %v", tmplErr)
	}
	return createDatabase(t, tmplName)
}

func createDatabase(t testing.TB, template string) string {
	t.Helper()
	base := postgres(t)
	name := fmt.Sprintf("shipyard_t%d_%d", os.Getpid(), dbCounter.Add(1))
	q := "CREATE DATABASE " + name
	if template != "" {
		q += " TEMPLATE " + template
	}
	if err := adminExec(base, q); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = adminExec(base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return withDB(base, name)
}

func withDB(base *url.URL, name string) string {
	u := *base
	u.Path = "/" + name
	return u.String()
}

func adminExec(base *url.URL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base.String())
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func postgres(t testing.TB) *url.URL {
	t.Helper()
	pgOnce.Do(func() {
		if s := os.Getenv("TEST_DATABASE_URL"); s != "" {
			pgBase, pgErr = url.Parse(s)
			return
		}
		pgBase, pgErr = startPostgres()
	})
	if pgErr != nil {
		t.Fatalf("testenv: postgres: %v (set TEST_DATABASE_URL or install postgresql)", pgErr)
	}
	return pgBase
}

func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb not found on PATH or in /usr/lib/postgresql/*/bin")
}

// StartedPostgres is a throwaway Postgres server.
type StartedPostgres struct {
	URL  *url.URL
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

func startPostgres() (*url.URL, error) {
	p, err := StartPostgres()
	if err != nil {
		return nil, err
	}
	addCleanup(p.Stop)
	return p.URL, nil
}

// StartPostgres starts a server in a temp dir on a random loopback port. As
// root it runs initdb and postgres as the "postgres" user (Postgres refuses
// to run as root).
func StartPostgres() (*StartedPostgres, error) { return startPostgresWith(nil) }

// ServerTLS is the certificate (chain, PEM) and private key (PEM) a
// throwaway server presents.
type ServerTLS struct {
	CertPEM, KeyPEM []byte
}

// StartPostgresTLS starts a throwaway server (as StartPostgres) that serves
// TLS with the given certificate and accepts TCP connections over TLS only
// (pg_hba hostssl): a client that connects used TLS, never plaintext. Its
// URL connects over the Unix socket (query host=<dir>, sslmode=disable);
// URL.Host still names the TCP address tests build their TLS URLs from.
// The caller stops it.
func StartPostgresTLS(t ServerTLS) (*StartedPostgres, error) { return startPostgresWith(&t) }

func startPostgresWith(serverTLS *ServerTLS) (*StartedPostgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	tmp := ""
	if os.Geteuid() == 0 {
		// The postgres user must be able to reach the data directory; a
		// root-only $TMPDIR would not do.
		tmp = "/tmp"
	}
	dir, err := os.MkdirTemp(tmp, "shipyard-pg-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB"}
	probe := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres", RawQuery: "sslmode=disable"}
	if serverTLS != nil {
		tlsArgs, err := writeServerTLS(dir, data, cred, *serverTLS)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		args = append(args, tlsArgs...)
		// TCP takes TLS only: probe readiness over the socket.
		probe.RawQuery = url.Values{"host": {dir}, "sslmode": {"disable"}}.Encode()
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &StartedPostgres{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	p.URL = &probe

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL.String())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return p, nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("postgres not ready after 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeServerTLS writes the certificate and key where the server reads
// them (the key readable by the server's user only, as Postgres requires),
// replaces pg_hba.conf with TLS-only TCP rules and returns the server
// options that turn TLS on.
func writeServerTLS(dir, data string, cred *syscall.Credential, t ServerTLS) ([]string, error) {
	files := map[string][]byte{
		filepath.Join(dir, "server.crt"): t.CertPEM,
		filepath.Join(dir, "server.key"): t.KeyPEM,
		// Unix socket: trust (the readiness probe); TCP: TLS only.
		filepath.Join(data, "pg_hba.conf"): []byte("local all all trust\nhostssl all all 127.0.0.1/32 trust\n"),
	}
	for path, content := range files {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return nil, fmt.Errorf("server tls: %w", err)
		}
		if cred != nil {
			if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("server tls: %w", err)
			}
		}
	}
	return []string{"-c", "ssl=on",
		"-c", "ssl_cert_file=" + filepath.Join(dir, "server.crt"),
		"-c", "ssl_key_file=" + filepath.Join(dir, "server.key")}, nil
}

// Stop shuts the server down (immediate shutdown) and removes its files.
func (p *StartedPostgres) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	os.RemoveAll(p.dir)
}

// ------------------------------------------------------------------- Redis

// RedisURL returns a URL to an empty Redis logical database for this test,
// one of 1 to 15: the stacks' Redis has 16 (config.RedisDatabases, which
// the app refuses to exceed) and the throwaway server as many. Each is
// this test's until it ends; a test holding all 15 at once fails.
func RedisURL(t testing.TB) string {
	t.Helper()
	redisOnce.Do(func() {
		if s := os.Getenv("TEST_REDIS_URL"); s != "" {
			redisBase, redisErr = url.Parse(s)
			return
		}
		r, err := StartRedis()
		if err != nil {
			redisErr = err
			return
		}
		addCleanup(r.Stop)
		redisBase, redisErr = url.Parse(r.URL)
	})
	if redisErr != nil {
		t.Fatalf("testenv: redis: %v (set TEST_REDIS_URL or install redis-server)", redisErr)
	}
	n := leaseRedisDB(t)
	u := *redisBase
	u.Path = "/" + strconv.Itoa(n)
	s := u.String()
	flush(t, s)
	return s
}

// leaseRedisDB picks a logical database from 1 to 15 no running test holds
// (the one after the last leased first, so that a database freed is reused
// last) and holds it until t ends.
func leaseRedisDB(t testing.TB) int {
	t.Helper()
	redisMu.Lock()
	defer redisMu.Unlock()
	const dbs = config.RedisDatabases - 1 // 0 is left alone
	for i := range dbs {
		n := 1 + (redisLast+i)%dbs
		if !redisUsed[n] {
			redisUsed[n], redisLast = true, n
			t.Cleanup(func() {
				redisMu.Lock()
				redisUsed[n] = false
				redisMu.Unlock()
			})
			return n
		}
	}
	t.Fatalf("testenv: all %d Redis logical databases (1 to %d) are held by running tests", dbs, dbs)
	return 0
}

func flush(t testing.TB, s string) {
	t.Helper()
	opts, err := redis.ParseURL(s)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("testenv: flush redis: %v", err)
	}
}

// StartedRedis is a throwaway Redis server.
type StartedRedis struct {
	URL   string
	Port  int
	cmd   *exec.Cmd
	dir   string
	bin   string
	extra []string
	done  chan struct{}
}

// StartRedis starts a server in a temp dir on a random loopback port, with
// persistence off; extra are further redis-server arguments (e.g.
// "--requirepass", "pw").
func StartRedis(extra ...string) (*StartedRedis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found on PATH")
	}
	dir, err := os.MkdirTemp("", "shipyard-redis-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startRedisAt(bin, dir, port, extra)
}

func startRedisAt(bin, dir string, port int, extra []string) (*StartedRedis, error) {
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--databases", strconv.Itoa(config.RedisDatabases), "--loglevel", "warning"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	r := &StartedRedis{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Port: port, cmd: cmd, dir: dir, bin: bin, extra: extra, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	opts, _ := redis.ParseURL(r.URL)
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "--requirepass" {
			opts.Password = extra[i+1]
		}
	}
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("redis exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("redis not ready after 20s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and removes its files.
func (r *StartedRedis) Stop() {
	_ = r.cmd.Process.Kill()
	<-r.done
	os.RemoveAll(r.dir)
}

// Snapshot saves the dataset (SAVE) and returns a copy of the RDB file,
// for RestartFrom.
func (r *StartedRedis) Snapshot(t testing.TB) []byte {
	t.Helper()
	opts, _ := redis.ParseURL(r.URL)
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		t.Fatalf("testenv: redis SAVE: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, "dump.rdb"))
	if err != nil {
		t.Fatalf("testenv: reading the redis snapshot: %v", err)
	}
	return b
}

// RestartFrom kills the server and starts a new one on the same port that
// loads snapshot (from Snapshot): a Redis restored from an older backup,
// or failed over to a replica that had not received the last writes. r
// then refers to the new server.
func (r *StartedRedis) RestartFrom(t testing.TB, snapshot []byte) {
	t.Helper()
	_ = r.cmd.Process.Kill()
	<-r.done
	if err := os.WriteFile(filepath.Join(r.dir, "dump.rdb"), snapshot, 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	n, err := startRedisAt(r.bin, r.dir, r.Port, r.extra)
	if err != nil {
		t.Fatalf("testenv: restarting redis: %v", err)
	}
	r.cmd, r.done = n.cmd, n.done
}

// OwnRedis starts a Redis just for this test (to stop it mid-test, e.g.
// for outage tests); it is stopped when the test ends.
func OwnRedis(t testing.TB, extra ...string) *StartedRedis {
	t.Helper()
	r, err := StartRedis(extra...)
	if err != nil {
		t.Fatalf("testenv: redis: %v", err)
	}
	t.Cleanup(r.Stop)
	return r
}
