package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The suite trusts the local stack's CA (its tlsCaCert output) as a user
// does with curl --cacert: every CA a stack of the suite had (a full
// destroy and up derives a new one) is added to one pool, which the
// HTTPS clients of the suite verify against. An aws stack's certificate
// chains to a public root: no CA is added and the system roots apply.
var (
	trustMu    sync.Mutex
	stackRoots = x509.NewCertPool()
	stackTrust *tls.Config
)

// trustStackCA adds the CA of a docker stack's outputs to the pool and
// makes the default transport (the suite's own http.Clients) use it.
func trustStackCA(t *testing.T, out Outputs) {
	t.Helper()
	if out.TLSCACert == "" {
		if out.Target == "docker" {
			t.Fatalf("the docker stack has no tlsCaCert output")
		}
		return
	}
	trustMu.Lock()
	defer trustMu.Unlock()
	if !stackRoots.AppendCertsFromPEM([]byte(out.TLSCACert)) {
		t.Fatalf("tlsCaCert is not a PEM certificate: %q", out.TLSCACert)
	}
	if stackTrust == nil {
		stackTrust = &tls.Config{RootCAs: stackRoots, MinVersion: tls.VersionTLS12}
		http.DefaultTransport.(*http.Transport).TLSClientConfig = stackTrust
	}
}

// stackTLS is the TLS configuration of the suite's requests to the stack
// (terratest's http-helper takes it per call): nil, the system roots,
// until a docker stack's CA is trusted.
func stackTLS() *tls.Config {
	trustMu.Lock()
	defer trustMu.Unlock()
	return stackTrust
}

// https checks the stack's TLS front door as the ALB's listeners define
// it: the certificate chains to the stack's CA (docker) or a public root
// (aws), TLS below 1.2 is refused, every HTTPS answer carries the HSTS
// header, and plain HTTP answers only with a 301 to the same path on HTTPS.
func (s *suite) https(t *testing.T) {
	u, err := url.Parse(s.out.URL)
	if err != nil || u.Scheme != "https" {
		t.Fatalf("url %q is not https", s.out.URL)
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "443"
	}
	addr := net.JoinHostPort(host, port)

	t.Run("the certificate chains to the stack's CA and names the host", func(t *testing.T) {
		roots := (*x509.CertPool)(nil) // aws: the system's public roots
		if s.out.Target == "docker" {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM([]byte(s.out.TLSCACert)) {
				t.Fatal("no CA in the tlsCaCert output")
			}
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS to %s against the stack's CA: %v", addr, err)
		}
		defer conn.Close()
		st := conn.ConnectionState()
		if len(st.VerifiedChains) == 0 {
			t.Fatal("no verified chain")
		}
		chain := st.VerifiedChains[0]
		if err := chain[0].VerifyHostname(host); err != nil {
			t.Error(err)
		}
		if s.out.Target == "docker" {
			block, _ := pem.Decode([]byte(s.out.TLSCACert))
			ca, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if root := chain[len(chain)-1]; !root.Equal(ca) {
				t.Errorf("the chain ends at %q, not the stack's CA %q", root.Subject, ca.Subject)
			}
		}
		if st.Version < tls.VersionTLS12 {
			t.Errorf("negotiated TLS version %x", st.Version)
		}
	})

	t.Run("TLS 1.1 is refused, as by the ALB's TLS13-1-2-Res policy", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
			&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}) // #nosec G402 -- only the version is under test
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})

	t.Run("HTTPS answers carry the ALB's HSTS header", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: stackTLS()}}
		for _, path := range []string{"/livez", "/metrics", "/no-such-page"} {
			resp, err := client.Get(s.url + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != stackconfig.StrictTransportSecurity {
				t.Errorf("GET %s (%d): Strict-Transport-Security %q, want %q", path, resp.StatusCode, got, stackconfig.StrictTransportSecurity)
			}
		}
	})

	t.Run("plain HTTP only redirects to the same path on HTTPS", func(t *testing.T) {
		plain := s.out.HTTPURL
		if plain == "" {
			plain = "http://" + host // aws: the ALB's port 80
		}
		client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, req := range []struct{ method, path string }{{http.MethodGet, "/livez?probe=1"}, {http.MethodPost, "/api/v1/sessions"}} {
			r, err := http.NewRequest(req.method, plain+req.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusMovedPermanently || err != nil {
				t.Errorf("%s %s: %d to %q, want a 301", req.method, plain+req.path, resp.StatusCode, resp.Header.Get("Location"))
				continue
			}
			locPort := loc.Port()
			if locPort == "" {
				locPort = "443"
			}
			if loc.Scheme != "https" || loc.Hostname() != host || locPort != port || loc.RequestURI() != req.path {
				t.Errorf("%s %s redirects to %s, want https://%s%s", req.method, plain+req.path, loc, addr, req.path)
			}
		}
	})

	t.Run("the redirect target serves the app", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: stackTLS()}}
		resp, err := client.Get(s.url + "/livez")
		if err != nil {
			var uerr x509.UnknownAuthorityError
			if errors.As(err, &uerr) {
				t.Fatalf("the suite does not trust the stack's CA: %v", err)
			}
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /livez: %d", resp.StatusCode)
		}
	})
}
