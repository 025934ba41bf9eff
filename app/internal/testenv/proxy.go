package testenv

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"testing"
)

// Proxy is a loopback TCP proxy in front of a real server, for fault
// tests: Stall stops forwarding in both directions (bytes are held, and
// dropped if either side closes meanwhile, as a network partition loses
// them), Resume forwards what was held and carries on. HoldRepliesAfter
// holds only the server's replies on a connection once the client sent
// a query containing a pattern (a commit that succeeds while its answer
// never arrives in time).
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
	pattern []byte
	// holdMatch: hold from the chunk matching pattern, not the next one.
	holdMatch bool
	held      map[*proxyConn]bool
	conns     map[*proxyConn]bool
}

type proxyConn struct {
	client, server net.Conn
	holdReplies    bool
	armed          bool
	dead           bool
	toServer       pipeQueue
	toClient       pipeQueue
}

type pipeQueue struct {
	chunks [][]byte
	eof    bool
}

// NewProxy starts a proxy to target (host:port); it stops with the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, held: map[*proxyConn]bool{}, conns: map[*proxyConn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Stall stops forwarding until Resume.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// Resume forwards again, releasing held replies too.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.stalled = false
	p.pattern, p.holdMatch = nil, false
	for c := range p.conns {
		c.holdReplies, c.armed = false, false
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// HoldRepliesAfter holds the server→client bytes of a connection from
// the client's next chunk after one containing pattern (pgx sends a
// statement's text to prepare it, then executes it in a second message),
// until Resume.
func (p *Proxy) HoldRepliesAfter(pattern string) {
	p.mu.Lock()
	p.pattern, p.holdMatch = []byte(pattern), false
	p.mu.Unlock()
}

// HoldRepliesFrom holds the server→client bytes of a connection from its
// chunk containing pattern on (e.g. "commit": Postgres commits, the client
// never hears it), until Resume.
func (p *Proxy) HoldRepliesFrom(pattern string) {
	p.mu.Lock()
	p.pattern, p.holdMatch = []byte(pattern), true
	p.mu.Unlock()
}

// HoldsReplies reports whether a connection's replies are held since a
// client query matched HoldRepliesAfter's or HoldRepliesFrom's pattern
// (what a test waits for to know the query reached the server).
func (p *Proxy) HoldsReplies() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if c.holdReplies {
			return true
		}
	}
	return false
}

// Close stops the proxy and drops every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		p.kill(c)
	}
	p.stalled = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		p.conns[pc] = true
		p.mu.Unlock()
		go p.read(pc, c, &pc.toServer, true)
		go p.read(pc, s, &pc.toClient, false)
		go p.write(pc, s, &pc.toServer, true)
		go p.write(pc, c, &pc.toClient, false)
	}
}

func (p *Proxy) kill(pc *proxyConn) {
	pc.dead = true
	delete(p.conns, pc)
	_ = pc.client.Close()
	_ = pc.server.Close()
	p.cond.Broadcast()
}

func (p *Proxy) holding(pc *proxyConn, fromClient bool) bool {
	return p.stalled || (!fromClient && pc.holdReplies)
}

// read queues what src sends. When src closes while its bytes are held,
// they are dropped and the connection is cut, as a partition loses them.
func (p *Proxy) read(pc *proxyConn, src net.Conn, q *pipeQueue, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		if n > 0 {
			chunk := bytes.Clone(buf[:n])
			switch {
			case !fromClient || p.pattern == nil:
			case pc.armed:
				// pgx prepares a statement (its text) and then executes
				// it (by name) in a second message.
				pc.holdReplies = true
			case bytes.Contains(chunk, p.pattern) && p.holdMatch:
				pc.holdReplies = true
			case bytes.Contains(chunk, p.pattern):
				pc.armed = true
			}
			q.chunks = append(q.chunks, chunk)
		}
		if err != nil {
			if p.holding(pc, fromClient) || !errorsIsEOF(err) {
				p.kill(pc)
			} else {
				q.eof = true
			}
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// write forwards queued chunks to dst whenever they are not held.
func (p *Proxy) write(pc *proxyConn, dst net.Conn, q *pipeQueue, fromClient bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for !pc.dead && (p.holding(pc, fromClient) || (len(q.chunks) == 0 && !q.eof)) {
			p.cond.Wait()
		}
		if pc.dead {
			return
		}
		if len(q.chunks) == 0 && q.eof {
			p.kill(pc)
			return
		}
		chunk := q.chunks[0]
		q.chunks = q.chunks[1:]
		p.mu.Unlock()
		_, err := dst.Write(chunk)
		p.mu.Lock()
		if err != nil {
			p.kill(pc)
			return
		}
	}
}

func errorsIsEOF(err error) bool { return err == io.EOF }

// Pause stops the Redis process (SIGSTOP): connections stay open and
// nothing answers, like a hung server.
func (r *StartedRedis) Pause() { _ = r.cmd.Process.Signal(syscall.SIGSTOP) }

// Continue resumes a paused Redis (SIGCONT).
func (r *StartedRedis) Continue() { _ = r.cmd.Process.Signal(syscall.SIGCONT) }

// ProxyURL returns rawURL (a postgres:// or redis:// URL) with its host
// replaced by a new Proxy to it, and the proxy.
func ProxyURL(t testing.TB, rawURL string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("testenv: proxy for %q: %v", rawURL, err)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.Addr
	return u.String(), p
}
