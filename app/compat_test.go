package main

// The N-1 compatibility gate (issue 13; docs/operations.md, "N-1
// compatibility gate"). A deploy runs `app migrate` in an init container
// while the previous release keeps serving from the same database, and
// `make rollback` runs the previous image against the new schema. This
// test builds the previous release's binary from git and plays both orders
// with the real binaries as processes on a throwaway Postgres and Redis.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
	"github.com/shipyard-kit/shipyard/internal/release"
)

func TestCompatN1(t *testing.T) {
	start := time.Now()
	root, err := gitOut("", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatalf("the N-1 compatibility gate builds the previous release from git and needs a clone with its history: %v", err)
	}
	base, err := compatBase(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("previous release: %s (%s)", short(base.Commit), base.Why)

	src := t.TempDir()
	if err := extractCommit(root, base.Commit, src); err != nil {
		t.Fatal(err)
	}
	oldBin, err := goBuild(src, filepath.Join(t.TempDir(), "app-old"))
	if err != nil {
		t.Fatalf("building the previous release (%s, %s): %v", short(base.Commit), base.Why, err)
	}
	prev := compatRelease{Name: "the previous release (" + short(base.Commit) + ")", Bin: oldBin}
	next := compatRelease{Name: "this release", Bin: binary(t)}
	t.Logf("built both releases in %s", time.Since(start).Round(time.Millisecond))

	t.Run("the previous release and this one survive a deploy and a rollback", func(t *testing.T) {
		if err := compatGate(t, compatEnv(t), prev, next); err != nil {
			t.Fatalf("N-1 compatibility gate: %v", err)
		}
	})

	t.Run("a migration dropping a column the previous release reads fails the gate", func(t *testing.T) {
		// The previous release's source plus one more migration: what a
		// change dropping notes.summary in one step (not expand/contract)
		// would ship.
		mig := filepath.Join(src, "app", "internal", "db", "migrations", "99999_drop_notes_summary.sql")
		if err := os.WriteFile(mig, []byte("-- +goose Up\nALTER TABLE notes DROP COLUMN summary;\n\n-- +goose Down\nALTER TABLE notes ADD COLUMN summary text;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		bad, err := goBuild(src, filepath.Join(t.TempDir(), "app-bad"))
		if err != nil {
			t.Fatalf("building the breaking release: %v", err)
		}
		err = compatGate(t, compatEnv(t), prev, compatRelease{Name: "a release dropping notes.summary", Bin: bad})
		if err == nil {
			t.Fatal("the gate passed a release that drops a column the previous release reads")
		}
		t.Logf("the gate failed as it should: %v", err)
		for _, want := range []string{prev.Name, "POST /api/v1/notes", `column "summary" does not exist`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the gate's error does not name %q: %v", want, err)
			}
		}
	})
	t.Logf("N-1 compatibility gate: %s in all", time.Since(start).Round(time.Millisecond))
}

// ------------------------------------------------ choosing the previous release

type compatChoice struct {
	Commit string
	Why    string
}

// compatBase picks the commit of the release running before this change:
// COMPAT_BASE if set; else the image commit of the newest succeeded record
// across releases/*.jsonl (when that commit is in this clone); else the
// newest tag before HEAD; else the merge base with origin/main (or main);
// else HEAD~1 (a commit on main: the one before it).
func compatBase(root string) (compatChoice, error) {
	head, err := gitOut(root, "rev-parse", "HEAD")
	if err != nil {
		return compatChoice{}, fmt.Errorf("git rev-parse HEAD: %w", err)
	}
	if v := os.Getenv("COMPAT_BASE"); v != "" {
		c, err := gitOut(root, "rev-parse", "--verify", "--quiet", v+"^{commit}")
		if err != nil {
			return compatChoice{}, fmt.Errorf("COMPAT_BASE=%s is not a commit in this clone (fetch it, or unset COMPAT_BASE)", v)
		}
		return compatChoice{c, "COMPAT_BASE=" + v}, nil
	}
	var notes []string
	if rec, ok, err := newestRelease(filepath.Join(root, "releases"), head); err != nil {
		return compatChoice{}, err
	} else if ok {
		if c, err := gitOut(root, "rev-parse", "--verify", "--quiet", rec.ImageCommit+"^{commit}"); err == nil {
			return compatChoice{c, "the newest ledger record, " + rec.ID}, nil
		}
		notes = append(notes, fmt.Sprintf("the newest ledger record %s names commit %s, which this clone lacks", rec.ID, short(rec.ImageCommit)))
	} else {
		notes = append(notes, "no succeeded record in releases/*.jsonl")
	}
	if tag, err := gitOut(root, "describe", "--tags", "--abbrev=0", "HEAD~1"); err == nil {
		c, err := gitOut(root, "rev-parse", tag+"^{commit}")
		if err == nil {
			return compatChoice{c, "the newest tag before HEAD, " + tag}, nil
		}
	}
	notes = append(notes, "no tag before HEAD")
	for _, ref := range []string{"origin/main", "main"} {
		if _, err := gitOut(root, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
			continue
		}
		if mb, err := gitOut(root, "merge-base", "HEAD", ref); err == nil && mb != head {
			return compatChoice{mb, "the merge base with " + ref}, nil
		}
	}
	if c, err := gitOut(root, "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}"); err == nil {
		return compatChoice{c, "HEAD~1 (HEAD is on main)"}, nil
	}
	notes = append(notes, "HEAD has no parent in this clone")
	if s, _ := gitOut(root, "rev-parse", "--is-shallow-repository"); s == "true" {
		notes = append(notes, "the clone is shallow: git fetch --unshallow, or actions/checkout with fetch-depth: 0")
	}
	return compatChoice{}, fmt.Errorf("N-1 compatibility gate: no previous release to check against (%s); set COMPAT_BASE=<commit of the running release>", strings.Join(notes, "; "))
}

// newestRelease is the newest succeeded ledger record, over every stack,
// whose image was built from a commit other than head.
func newestRelease(dir, head string) (release.Record, bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return release.Record{}, false, err
	}
	var recs []release.Record
	l := release.Ledger{Dir: dir}
	for _, f := range files {
		rs, err := l.Read(strings.TrimSuffix(filepath.Base(f), ".jsonl"))
		if err != nil {
			return release.Record{}, false, err
		}
		for _, r := range rs {
			if r.Status == release.StatusSucceeded && r.ImageCommit != "" && r.ImageCommit != head {
				recs = append(recs, r)
			}
		}
	}
	if len(recs) == 0 {
		return release.Record{}, false, nil
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs[len(recs)-1], true, nil
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// ------------------------------------------------------ building a release

// extractCommit writes the tree of commit into dir (git archive: the
// repository, its worktrees and its index are left alone).
func extractCommit(root, commit, dir string) error {
	cmd := exec.Command("git", "archive", "--format=tar", commit)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	terr := untar(out, dir)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %w: %s", short(commit), err, stderr.String())
	}
	if terr != nil {
		return fmt.Errorf("git archive %s: %w", short(commit), terr)
	}
	return nil
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(name, filepath.Clean(dir)+string(filepath.Separator)) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, name); err != nil {
				return err
			}
		}
	}
}

// goBuild builds src's ./app into out. The module cache and build cache
// are shared with this test's own build, so only what differs compiles.
func goBuild(src, out string) (string, error) {
	gotool, err := exec.LookPath("go") // go test puts its own first on PATH
	if err != nil {
		return "", err
	}
	cmd := exec.Command(gotool, "build", "-o", out, "./app")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./app: %w: %s", err, b)
	}
	return out, nil
}

// ------------------------------------------------------------ the gate

// compatRelease is one release's app binary.
type compatRelease struct {
	Name string
	Bin  string
}

// compatEnv is the app environment on an empty database and Redis.
func compatEnv(t testing.TB) map[string]string {
	return appEnv(testenv.EmptyDatabaseURL(t), testenv.RedisURL(t))
}

// compatGate plays a deploy of next over prev, and the rollback, on the
// empty database of env, in the order the platform runs them:
//
//  1. prev's migrate, prev serving, its API round trip (the running release
//     and its data);
//  2. next starting against prev's schema (the init-container order: it
//     must start and be ready; it only serves traffic after step 3);
//  3. next's migrate, with prev still serving;
//  4. prev's tasks that kept serving during the deploy, after the
//     migrations: the round trip again;
//  5. next serving on its schema: the round trip, and the data prev wrote;
//  6. a rollback: prev's migrate (its init container) and a fresh prev
//     serving against next's schema: the round trip, and the data next
//     wrote.
//
// It returns the first failure, naming the release, the step and the
// request (t is for logs and ports only: the gate's verdict is the error).
func compatGate(t testing.TB, env map[string]string, prev, next compatRelease) error {
	t.Helper()
	var procs []*appProc
	defer func() {
		for _, p := range procs {
			_ = p.stop()
		}
	}()
	serve := func(r compatRelease, what string) (*appProc, error) {
		e := make(map[string]string, len(env)+1)
		for k, v := range env {
			e[k] = v
		}
		e["PORT"] = strconv.Itoa(testenv.FreePort(t))
		p, err := startApp(r.Name+" "+what, r.Bin, e)
		if p != nil {
			procs = append(procs, p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Name, what, err)
		}
		return p, nil
	}
	step := func(s string) { t.Logf("N-1 gate: %s", s) }

	step("1. " + prev.Name + ": migrate, serve, round trip")
	if err := runApp(prev.Bin, env, "migrate"); err != nil {
		return fmt.Errorf("%s: migrate on an empty database: %w", prev.Name, err)
	}
	oldTask, err := serve(prev, "(the running release)")
	if err != nil {
		return err
	}
	oldNote, err := roundTrip(oldTask.base, "n1-prev@example.com")
	if err != nil {
		return fmt.Errorf("%s fails its own round trip on its own schema (is the base a working release?): %w%s", prev.Name, err, oldTask.errors())
	}

	step("2. " + next.Name + ": starts against the previous schema")
	early, err := serve(next, "(against the previous schema, before its migration)")
	if err != nil {
		return err
	}
	if err := early.ready(); err != nil {
		return fmt.Errorf("%s against the previous schema, before its migration: %w%s", next.Name, err, early.errors())
	}

	step("3. " + next.Name + ": migrate, with the previous release serving")
	if err := runApp(next.Bin, env, "migrate"); err != nil {
		return fmt.Errorf("%s: migrate over the previous release's schema and data: %w", next.Name, err)
	}

	step("4. " + prev.Name + ": the tasks still serving during the deploy, after the migrations")
	if _, err := roundTrip(oldTask.base, "n1-deploy@example.com"); err != nil {
		return fmt.Errorf("%s, still serving during the deploy, after the new migrations: %w%s", prev.Name, err, oldTask.errors())
	}

	step("5. " + next.Name + ": serving on its schema")
	_ = early.stop()
	newTask, err := serve(next, "(after its migration)")
	if err != nil {
		return err
	}
	newNote, err := roundTrip(newTask.base, "n1-next@example.com")
	if err != nil {
		return fmt.Errorf("%s after its migration: %w%s", next.Name, err, newTask.errors())
	}
	if err := readBack(newTask.base, oldNote); err != nil {
		return fmt.Errorf("%s reading what the previous release wrote: %w%s", next.Name, err, newTask.errors())
	}

	step("6. a rollback: " + prev.Name + " against the new schema")
	_ = oldTask.stop()
	if err := runApp(prev.Bin, env, "migrate"); err != nil {
		return fmt.Errorf("%s: migrate (its init container in a rollback) over the new schema: %w", prev.Name, err)
	}
	rolledBack, err := serve(prev, "(rolled back)")
	if err != nil {
		return err
	}
	if _, err := roundTrip(rolledBack.base, "n1-rollback@example.com"); err != nil {
		return fmt.Errorf("%s, rolled back onto the new schema: %w%s", prev.Name, err, rolledBack.errors())
	}
	if err := readBack(rolledBack.base, newNote); err != nil {
		return fmt.Errorf("%s, rolled back, reading what the new release wrote: %w%s", prev.Name, err, rolledBack.errors())
	}
	return nil
}

// ----------------------------------------------------------- the processes

type appProc struct {
	name string
	base string
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{}
	err  error
}

// startApp runs `bin serve` on env's PORT and waits until it answers
// /livez.
func startApp(name, bin string, env map[string]string) (*appProc, error) {
	p := &appProc{name: name, base: "http://127.0.0.1:" + env["PORT"], out: &testenv.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = envList(env)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/livez")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return p, fmt.Errorf("serve exited at start (%v): %s", p.err, tail(p.out.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("serve did not answer /livez within 30s: %s", tail(p.out.String()))
		}
	}
}

// ready waits up to 10s for /readyz to answer 200.
func (p *appProc) ready() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /readyz: %d %s", resp.StatusCode, bytes.TrimSpace(b))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within 10s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errors stops the process and returns the errors it logged (the server's
// side of a failed request), as a suffix for an error message. Stopping
// first waits for its output to be copied in full.
func (p *appProc) errors() string {
	_ = p.stop()
	var errs []string
	for _, line := range strings.Split(p.out.String(), "\n") {
		var l struct {
			Level, Msg, Err string
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" && l.Err != "" {
			errs = append(errs, l.Msg+": "+l.Err)
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return " (its log: " + strings.Join(errs, "; ") + ")"
}

// stop sends SIGTERM (what ECS and docker stop send) and waits for the
// drain; it kills after 30s. Stopping twice is harmless.
func (p *appProc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s: still running 30s after SIGTERM", p.name)
	}
}

// runApp runs a one-off command (migrate) to completion.
func runApp(bin string, env map[string]string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = envList(env)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("app %s: %w: %s", strings.Join(args, " "), err, tail(string(out)))
	}
	return nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// ----------------------------------------------------------- the round trip

// compatNote is a note one release wrote, for the other to read back.
type compatNote struct {
	Email string
	ID    int64
	Title string
}

const compatPassword = "correct horse battery"

// roundTrip is the API round trip a release must pass: register, log in,
// create a note, read it, update it (If-Match its ETag), read it again and
// list it. An error names the request that failed and what it answered.
func roundTrip(base, email string) (compatNote, error) {
	c := apiClient{base: base}
	if _, _, err := c.do("POST", "/api/v1/users", "", nil, map[string]string{"email": email, "password": compatPassword, "name": "N-1"}, 201); err != nil {
		return compatNote{}, err
	}
	tok, err := c.login(email)
	if err != nil {
		return compatNote{}, err
	}
	if _, _, err := c.do("GET", "/api/v1/me", tok, nil, nil, 200); err != nil {
		return compatNote{}, err
	}
	m, _, err := c.do("POST", "/api/v1/notes", tok, nil, map[string]string{"title": "written by " + email, "body": "one two three"}, 201)
	if err != nil {
		return compatNote{}, err
	}
	idf, _ := m["id"].(float64)
	id := int64(idf)
	if id <= 0 {
		return compatNote{}, fmt.Errorf("POST /api/v1/notes: no id in %v", m)
	}
	path := "/api/v1/notes/" + strconv.FormatInt(id, 10)
	m, h, err := c.do("GET", path, tok, nil, nil, 200)
	if err != nil {
		return compatNote{}, err
	}
	if m["title"] != "written by "+email || m["body"] != "one two three" {
		return compatNote{}, fmt.Errorf("GET %s: got %v, not the note just created", path, m)
	}
	etag := h.Get("ETag")
	title := "updated by " + email
	if _, _, err := c.do("PATCH", path, tok, map[string]string{"If-Match": etag}, map[string]string{"title": title}, 200); err != nil {
		return compatNote{}, err
	}
	n := compatNote{Email: email, ID: id, Title: title}
	if err := c.check(tok, n); err != nil {
		return compatNote{}, err
	}
	return n, nil
}

// readBack logs in as the note's author and reads it and the list.
func readBack(base string, n compatNote) error {
	c := apiClient{base: base}
	tok, err := c.login(n.Email)
	if err != nil {
		return err
	}
	return c.check(tok, n)
}

type apiClient struct{ base string }

func (c apiClient) login(email string) (string, error) {
	m, _, err := c.do("POST", "/api/v1/sessions", "", nil, map[string]string{"email": email, "password": compatPassword}, 201)
	if err != nil {
		return "", err
	}
	tok, _ := m["token"].(string)
	if tok == "" {
		return "", fmt.Errorf("POST /api/v1/sessions: no token in %v", m)
	}
	return tok, nil
}

// check reads the note and finds it in the list.
func (c apiClient) check(tok string, n compatNote) error {
	path := "/api/v1/notes/" + strconv.FormatInt(n.ID, 10)
	m, _, err := c.do("GET", path, tok, nil, nil, 200)
	if err != nil {
		return err
	}
	if m["title"] != n.Title {
		return fmt.Errorf("GET %s: title %v, want %q", path, m["title"], n.Title)
	}
	m, _, err = c.do("GET", "/api/v1/notes", tok, nil, nil, 200)
	if err != nil {
		return err
	}
	items, _ := m["items"].([]any)
	for _, it := range items {
		if o, _ := it.(map[string]any); o != nil && o["id"] == float64(n.ID) && o["title"] == n.Title {
			return nil
		}
	}
	return fmt.Errorf("GET /api/v1/notes: note %d (%q) not in %v", n.ID, n.Title, m)
}

func (c apiClient) do(method, path, tok string, hdr map[string]string, body any, want int) (map[string]any, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(b))
	}
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, nil, fmt.Errorf("%s %s: not JSON: %s", method, path, b)
		}
	}
	return m, resp.Header, nil
}

func TestCompatBase(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(msg string) string {
		t.Helper()
		git("commit", "-q", "--allow-empty", "-m", msg)
		return git("rev-parse", "HEAD")
	}
	pick := func(base string) compatChoice {
		t.Helper()
		t.Setenv("COMPAT_BASE", base)
		c, err := compatBase(dir)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	git("init", "-q", "-b", "main")
	c1 := commit("one")

	t.Setenv("COMPAT_BASE", "")
	if _, err := compatBase(dir); err == nil || !strings.Contains(err.Error(), "COMPAT_BASE") {
		t.Fatalf("a lone commit: want an error naming COMPAT_BASE, got %v", err)
	}
	c2 := commit("two")
	if c := pick(""); c.Commit != c1 || !strings.Contains(c.Why, "HEAD~1") {
		t.Errorf("on main: got %+v, want HEAD~1 %s", c, c1)
	}
	git("checkout", "-q", "-b", "change")
	commit("three")
	commit("four")
	if c := pick(""); c.Commit != c2 || !strings.Contains(c.Why, "merge base with main") {
		t.Errorf("on a branch: got %+v, want the merge base %s", c, c2)
	}
	git("tag", "v1", c1)
	if c := pick(""); c.Commit != c1 || !strings.Contains(c.Why, "v1") {
		t.Errorf("with a tag: got %+v, want v1 %s", c, c1)
	}
	ledger := func(recs ...release.Record) {
		t.Helper()
		var b bytes.Buffer
		for _, r := range recs {
			line, _ := json.Marshal(r)
			b.Write(append(line, '\n'))
		}
		if err := os.MkdirAll(filepath.Join(dir, "releases"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "releases", recs[0].Stack+".jsonl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ledger(release.Record{ID: "staging-1", Stack: "staging", Kind: release.KindRelease, Status: release.StatusSucceeded, ImageDigest: digest, ImageCommit: c1, Time: t0},
		release.Record{ID: "staging-2", Stack: "staging", Kind: release.KindRelease, Status: release.StatusFailed, ImageCommit: c2, Time: t0.Add(2 * time.Hour)})
	ledger(release.Record{ID: "prod-1", Stack: "prod", Kind: release.KindPromote, Status: release.StatusSucceeded, ImageDigest: digest, ImageCommit: c2, Time: t0.Add(time.Hour)})
	if c := pick(""); c.Commit != c2 || !strings.Contains(c.Why, "prod-1") {
		t.Errorf("with ledgers: got %+v, want prod-1's %s (the newest succeeded record)", c, c2)
	}
	ledger(release.Record{ID: "prod-1", Stack: "prod", Kind: release.KindPromote, Status: release.StatusSucceeded, ImageDigest: digest, ImageCommit: strings.Repeat("0", 40), Time: t0.Add(time.Hour)})
	if c := pick(""); c.Commit != c1 || !strings.Contains(c.Why, "v1") {
		t.Errorf("a ledger commit this clone lacks: got %+v, want the tag v1 %s", c, c1)
	}
	if c := pick(c2[:10]); c.Commit != c2 || !strings.Contains(c.Why, "COMPAT_BASE") {
		t.Errorf("COMPAT_BASE: got %+v, want %s", c, c2)
	}
	t.Setenv("COMPAT_BASE", "no-such-commit")
	if _, err := compatBase(dir); err == nil || !strings.Contains(err.Error(), "COMPAT_BASE=no-such-commit") {
		t.Errorf("a COMPAT_BASE that is not a commit: want an error naming it, got %v", err)
	}
}
