package docker_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
)

func parseCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PEM certificate: %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, dockerinfra.DatabaseTLSSeedBytes) }

// verify checks the server certificate against the CA for host, as the
// app does with sslmode=verify-full.
func verify(t *testing.T, certs dockerinfra.DatabaseCerts, caPEM, host string) error {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatal("no CA certificate")
	}
	_, err := parseCert(t, certs.ServerCert).Verify(x509.VerifyOptions{
		Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func TestDatabaseCerts(t *testing.T) {
	certs, err := dockerinfra.DeriveDatabaseCerts(seed(1), "local", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the same seed gives the same certificates and key, byte for byte (make up replaces nothing)", func(t *testing.T) {
		again, err := dockerinfra.DeriveDatabaseCerts(seed(1), "local", "postgres")
		if err != nil {
			t.Fatal(err)
		}
		if again != certs {
			t.Error("a second derivation differs")
		}
	})
	t.Run("another seed gives another CA, which the server certificate does not chain to", func(t *testing.T) {
		other, err := dockerinfra.DeriveDatabaseCerts(seed(2), "local", "postgres")
		if err != nil {
			t.Fatal(err)
		}
		if other.CACert == certs.CACert || other.ServerKey == certs.ServerKey {
			t.Fatal("another seed gives the same CA or key")
		}
		if err := verify(t, certs, other.CACert, "postgres"); err == nil {
			t.Error("the server certificate verifies against another seed's CA")
		}
	})
	t.Run("the server certificate chains to the CA and names the host, and only it", func(t *testing.T) {
		if err := verify(t, certs, certs.CACert, "postgres"); err != nil {
			t.Errorf("verify: %v", err)
		}
		if err := verify(t, certs, certs.CACert, "redis"); err == nil {
			t.Error("the certificate verifies for another host name")
		}
	})
	t.Run("the CA is a CA that signs only end-entity certificates; the server certificate is not a CA", func(t *testing.T) {
		ca, srv := parseCert(t, certs.CACert), parseCert(t, certs.ServerCert)
		if !ca.IsCA || !ca.MaxPathLenZero || ca.MaxPathLen != 0 || srv.IsCA {
			t.Errorf("CA: IsCA %v MaxPathLen %d; server IsCA %v", ca.IsCA, ca.MaxPathLen, srv.IsCA)
		}
		if !strings.Contains(ca.Subject.CommonName, "local") {
			t.Errorf("CA subject %q does not name the stack", ca.Subject)
		}
		if now := time.Now(); now.Before(srv.NotBefore) || now.After(srv.NotAfter) || now.After(ca.NotAfter) {
			t.Errorf("not valid today: server %s to %s, CA until %s", srv.NotBefore, srv.NotAfter, ca.NotAfter)
		}
	})
	t.Run("the server key is the certificate's, and the CA's key is not handed out", func(t *testing.T) {
		b, _ := pem.Decode([]byte(certs.ServerKey))
		if b == nil || b.Type != "PRIVATE KEY" {
			t.Fatalf("server key is not a PKCS#8 PEM key")
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || !ek.PublicKey.Equal(parseCert(t, certs.ServerCert).PublicKey) {
			t.Error("the server key does not match the server certificate")
		}
		if ek.PublicKey.Equal(parseCert(t, certs.CACert).PublicKey) {
			t.Error("the server key is the CA's key")
		}
	})
	t.Run("a short seed is refused", func(t *testing.T) {
		_, err := dockerinfra.DeriveDatabaseCerts(make([]byte, 8), "local", "postgres")
		if err == nil || !strings.Contains(err.Error(), "8 bytes") {
			t.Errorf("err = %v", err)
		}
	})
}
