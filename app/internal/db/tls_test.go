package db_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// testCA is a certificate authority generated for one test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

func newKey(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	switch alg {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	default:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
}

func newTestCA(t *testing.T, name, alg string) *testCA {
	t.Helper()
	key := newKey(t, alg)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverTLS issues a server certificate for host.
func (ca *testCA) serverTLS(t *testing.T, host, alg string) testenv.ServerTLS {
	t.Helper()
	key := newKey(t, alg)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.ServerTLS{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// connect connects as the app does (db.ParseConfig of a DATABASE_URL) to
// the throwaway server, whatever host name the URL names: the name only
// has to match the certificate, as the docker network alias "postgres"
// must in the local stack.
func connect(t *testing.T, srv *testenv.StartedPostgres, host, query string) (bool, error) {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.URL.Host)
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort(host, port), Path: "/postgres", RawQuery: query}
	cfg, err := db.ParseConfig(db.PoolConfig{URL: u.String(), ConnectTimeout: 5 * time.Second})
	if err != nil {
		return false, err
	}
	cfg.ConnConfig.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		return false, err
	}
	return ssl, nil
}

func verifyFull(caFile string) string {
	return url.Values{"sslmode": {"verify-full"}, "sslrootcert": {caFile}}.Encode()
}

// TestVerifiedTLS runs a real Postgres serving TLS from a CA made here and
// connects to it the way DATABASE_URL makes the app connect on every stack
// (sslmode=verify-full, sslrootcert a CA file).
func TestVerifiedTLS(t *testing.T) {
	for _, alg := range []string{"ecdsa-p256", "ed25519"} {
		t.Run("with "+alg+" keys", func(t *testing.T) {
			ca := newTestCA(t, "shipyard test CA", alg)
			srv, err := testenv.StartPostgresTLS(ca.serverTLS(t, "postgres", alg))
			if err != nil {
				t.Fatalf("postgres with TLS: %v", err)
			}
			t.Cleanup(srv.Stop)
			rightCA := writeFile(t, "ca.pem", ca.pem)
			otherCA := writeFile(t, "other-ca.pem", newTestCA(t, "shipyard test CA", alg).pem)

			t.Run("the right CA and host name connect over TLS", func(t *testing.T) {
				ssl, err := connect(t, srv, "postgres", verifyFull(rightCA))
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				if !ssl {
					t.Error("connected without TLS")
				}
			})
			t.Run("a bundle that also holds the right CA connects", func(t *testing.T) {
				bundle := writeFile(t, "bundle.pem", append(newTestCA(t, "another CA", alg).pem, ca.pem...))
				if _, err := connect(t, srv, "postgres", verifyFull(bundle)); err != nil {
					t.Fatalf("connect: %v", err)
				}
			})
			t.Run("a CA of the same name but another key fails", func(t *testing.T) {
				_, err := connect(t, srv, "postgres", verifyFull(otherCA))
				if err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Fatalf("err = %v, want a certificate verification error", err)
				}
			})
			t.Run("a host name the certificate does not name fails", func(t *testing.T) {
				_, err := connect(t, srv, "db.elsewhere", verifyFull(rightCA))
				if err == nil || !strings.Contains(err.Error(), "db.elsewhere") {
					t.Fatalf("err = %v, want a host name mismatch naming db.elsewhere", err)
				}
			})
			t.Run("the server refuses plaintext, so verification cannot be skipped by downgrading", func(t *testing.T) {
				if _, err := connect(t, srv, "postgres", "sslmode=disable"); err == nil {
					t.Fatal("plaintext connection accepted")
				}
			})
			t.Run("require without a root certificate connects unverified (what verify-full replaces)", func(t *testing.T) {
				ssl, err := connect(t, srv, "db.elsewhere", "sslmode=require")
				if err != nil || !ssl {
					t.Fatalf("ssl = %v, err = %v", ssl, err)
				}
			})
		})
	}
}

func TestParseConfigNamesTheCAFile(t *testing.T) {
	cases := []struct {
		name, rootcert, want string
	}{
		{"a missing CA file", "/nonexistent/rds-global-bundle.pem", "/nonexistent/rds-global-bundle.pem"},
		{"a CA file with no certificate", writeFile(t, "empty.pem", []byte("not a certificate\n")), "unable to add CA to cert pool"},
	}
	for _, c := range cases {
		t.Run(c.name+" is named in the error, and the URL's password is not", func(t *testing.T) {
			u := "postgres://app:s3cret@db:5432/app?" + verifyFull(c.rootcert)
			_, err := db.ParseConfig(db.PoolConfig{URL: u})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "sslrootcert") {
				t.Fatalf("err = %v, want one naming sslrootcert and %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error leaks the password: %v", err)
			}
		})
	}
	t.Run("an unknown sslmode is named, without the password", func(t *testing.T) {
		_, err := db.ParseConfig(db.PoolConfig{URL: "postgres://app:s3cret@db:5432/app?sslmode=bogus"})
		if err == nil || !strings.Contains(err.Error(), "sslmode is invalid") || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("any other parse error still says only that the URL is invalid", func(t *testing.T) {
		_, err := db.ParseConfig(db.PoolConfig{URL: "postgres://app:s3cret@db:notaport/app"})
		if err == nil || err.Error() != "parse DATABASE_URL: invalid connection URL" {
			t.Fatalf("err = %v", err)
		}
	})
}
