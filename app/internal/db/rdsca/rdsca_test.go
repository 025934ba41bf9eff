package rdsca_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/db/rdsca"
)

func certs(t *testing.T) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	rest := rdsca.Bundle
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Fatalf("block %d is a %s, not a CERTIFICATE", len(out), b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("certificate %d: %v", len(out), err)
		}
		out = append(out, c)
	}
	if strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("%d bytes after the last certificate", len(rest))
	}
	return out
}

func TestBundle(t *testing.T) {
	t.Run("the bundle is the pinned one", func(t *testing.T) {
		sum := sha256.Sum256(rdsca.Bundle)
		if got := hex.EncodeToString(sum[:]); got != rdsca.SHA256 {
			t.Fatalf("global-bundle.pem has SHA-256 %s, pinned %s: review the new bundle, then update rdsca.SHA256 (docs/app.md)", got, rdsca.SHA256)
		}
	})

	cs := certs(t)
	t.Run("every certificate is a self-signed Amazon RDS root CA valid today", func(t *testing.T) {
		if len(cs) < 90 {
			t.Fatalf("%d certificates, want the global bundle's roots of every region", len(cs))
		}
		for _, c := range cs {
			if !c.IsCA || !strings.HasPrefix(c.Subject.CommonName, "Amazon RDS ") || c.Subject.String() != c.Issuer.String() {
				t.Errorf("%s (issuer %s, CA %v) is not an Amazon RDS root CA", c.Subject, c.Issuer, c.IsCA)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("%s is not self-signed: %v", c.Subject, err)
			}
			if now := time.Now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
				t.Errorf("%s is valid %s to %s only", c.Subject, c.NotBefore, c.NotAfter)
			}
		}
	})

	// The CAs the stack config may choose (database.caCertIdentifier):
	// the bundle must hold each of them for every region a stack may use.
	t.Run("every region has the rsa2048, rsa4096 and ecc384 G1 roots", func(t *testing.T) {
		name := regexp.MustCompile(`^Amazon RDS ([a-z]{2}-[a-z]+-[0-9]) Root CA (RSA2048|RSA4096|ECC384) G1$`)
		have := map[string]map[string]bool{}
		for _, c := range cs {
			m := name.FindStringSubmatch(c.Subject.CommonName)
			if m == nil {
				continue
			}
			if have[m[1]] == nil {
				have[m[1]] = map[string]bool{}
			}
			have[m[1]][m[2]] = true
		}
		for _, region := range []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} {
			if have[region] == nil {
				t.Errorf("no root CA for %s", region)
			}
		}
		for region, algs := range have {
			for _, alg := range []string{"RSA2048", "RSA4096", "ECC384"} {
				if !algs[alg] {
					t.Errorf("%s lacks the %s G1 root", region, alg)
				}
			}
		}
	})

	t.Run("the image copies the bundle to ImagePath", func(t *testing.T) {
		b, err := os.ReadFile("../../../../Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		want := "COPY app/internal/db/rdsca/global-bundle.pem " + rdsca.ImagePath
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("the Dockerfile lacks %q", want)
		}
		ignore, err := os.ReadFile("../../../../.dockerignore")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(ignore), "\n!app/internal/db/rdsca/global-bundle.pem\n") {
			t.Error(".dockerignore keeps the bundle out of the build context")
		}
	})
}
