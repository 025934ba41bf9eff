package docker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DatabaseTLSSeedBytes is the length of the random seed the local stack's
// database CA and server key (and, from a seed of their own, its HTTPS CA
// and server key) are derived from.
const DatabaseTLSSeedBytes = 32

// The validity of the local database certificates: fixed, so that the same
// seed always gives the same certificates (no diff on `make up`), and long,
// so that a local stack never sees them expire.
var (
	databaseTLSNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	databaseTLSNotAfter  = time.Date(2125, 1, 1, 0, 0, 0, 0, time.UTC)
)

// DatabaseCerts are the local Postgres container's TLS files (PEM): the CA
// certificate the app verifies against, and the server certificate and
// key Postgres presents. The CA's private key is not among them: it signs
// the server certificate in DeriveDatabaseCerts and is discarded. The
// HTTPS certificates of nginx (DeriveHTTPSCerts) have the same shape.
type DatabaseCerts struct {
	CACert     string
	ServerCert string
	ServerKey  string
}

// DeriveHTTPSCerts derives the local stack's HTTPS CA and nginx's server
// certificate for 127.0.0.1 (the address the load balancer is published
// on; no DNS name, so a browser never records the HSTS header for a name
// such as localhost) from seed, like DeriveDatabaseCerts. Clients trust
// the CA (the tlsCaCert output), as they trust a public CA for the ALB.
func DeriveHTTPSCerts(seed []byte, stack string) (DatabaseCerts, error) {
	return deriveCerts(seed, "https", "", "shipyard "+stack+" local HTTPS CA", ListenAddress, nil, []net.IP{net.ParseIP(ListenAddress)})
}

// DerivePreviewHTTPSCerts derives, from the base stack's HTTPS seed, the
// base's own CA (byte for byte DeriveHTTPSCerts's) and a server
// certificate of its for a PR environment: host ("pr-7.localhost"),
// localhost and 127.0.0.1, with a key of its own. A client that trusts the
// base's CA trusts every PR environment of it.
func DerivePreviewHTTPSCerts(seed []byte, baseStack, host string) (DatabaseCerts, error) {
	return deriveCerts(seed, "https", " "+host, "shipyard "+baseStack+" local HTTPS CA", host, []string{host, "localhost"}, []net.IP{net.ParseIP(ListenAddress)})
}

// DeriveDatabaseCerts derives the local stack's database CA and the
// server certificate for host (the Postgres container's network alias)
// from seed: ECDSA P-256 keys from HKDF-SHA256 of the seed, certificates
// with fixed validity and serials signed deterministically (RFC 6979). The
// same seed, stack and host always give the same PEM, byte for byte.
func DeriveDatabaseCerts(seed []byte, stack, host string) (DatabaseCerts, error) {
	return deriveCerts(seed, "database", "", "shipyard "+stack+" local database CA", host, []string{host}, nil)
}

// deriveCerts derives a CA named caName and a server certificate for
// dnsNames and ips from seed; purpose ("database", "https") separates the
// derivations and names the errors; serverLabel ("" for the stack's own, " <host>"
// for a PR environment's) separates the server keys of one CA.
func deriveCerts(seed []byte, purpose, serverLabel, caName, commonName string, dnsNames []string, ips []net.IP) (DatabaseCerts, error) {
	if len(seed) < DatabaseTLSSeedBytes {
		return DatabaseCerts{}, fmt.Errorf("%s tls: seed has %d bytes, want at least %d", purpose, len(seed), DatabaseTLSSeedBytes)
	}
	caKey, err := deriveKey(seed, purpose, "ca key")
	if err != nil {
		return DatabaseCerts{}, err
	}
	serverKey, err := deriveKey(seed, purpose, "server key"+serverLabel)
	if err != nil {
		return DatabaseCerts{}, err
	}
	caSerial, err := deriveSerial(seed, purpose, "ca serial")
	if err != nil {
		return DatabaseCerts{}, err
	}
	serverSerial, err := deriveSerial(seed, purpose, "server serial"+serverLabel)
	if err != nil {
		return DatabaseCerts{}, err
	}
	ca := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{Organization: []string{"Shipyard"}, CommonName: caName},
		NotBefore:             databaseTLSNotBefore,
		NotAfter:              databaseTLSNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	// A nil rand makes the ECDSA signatures deterministic (RFC 6979).
	caDER, err := x509.CreateCertificate(nil, ca, ca, caKey.Public(), caKey)
	if err != nil {
		return DatabaseCerts{}, fmt.Errorf("%s tls: ca certificate: %w", purpose, err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return DatabaseCerts{}, fmt.Errorf("%s tls: ca certificate: %w", purpose, err)
	}
	server := &x509.Certificate{
		SerialNumber: serverSerial,
		Subject:      pkix.Name{Organization: []string{"Shipyard"}, CommonName: commonName},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		NotBefore:    databaseTLSNotBefore,
		NotAfter:     databaseTLSNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverDER, err := x509.CreateCertificate(nil, server, ca, serverKey.Public(), caKey)
	if err != nil {
		return DatabaseCerts{}, fmt.Errorf("%s tls: server certificate: %w", purpose, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return DatabaseCerts{}, fmt.Errorf("%s tls: server key: %w", purpose, err)
	}
	return DatabaseCerts{
		CACert:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		ServerCert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER})),
		ServerKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}, nil
}

// deriveKey derives a P-256 private key for label; a candidate scalar that
// is not below the group order (probability about 2^-32) moves on to the
// next counter.
func deriveKey(seed []byte, purpose, label string) (*ecdsa.PrivateKey, error) {
	for i := 0; i < 16; i++ {
		d, err := hkdf.Key(sha256.New, seed, nil, "shipyard local "+purpose+" "+label+" "+strconv.Itoa(i), 32)
		if err != nil {
			return nil, fmt.Errorf("%s tls: %s: %w", purpose, label, err)
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s tls: %s: no valid key in 16 candidates", purpose, label)
}

// deriveSerial derives a positive 127-bit certificate serial for label.
func deriveSerial(seed []byte, purpose, label string) (*big.Int, error) {
	b, err := hkdf.Key(sha256.New, seed, nil, "shipyard local "+purpose+" "+label, 16)
	if err != nil {
		return nil, fmt.Errorf("%s tls: %s: %w", purpose, label, err)
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // never zero, always 16 bytes
	return new(big.Int).SetBytes(b), nil
}

// databaseTLS is the local stack's database (or HTTPS) TLS material as
// outputs.
type databaseTLS struct {
	// CACert and ServerCert are public; ServerKey is a secret.
	CACert, ServerCert, ServerKey pulumi.StringOutput
	// Seed is the seed (base64, secret) they are derived from.
	Seed pulumi.StringOutput
}

// newDatabaseTLS creates the seed (a RandomBytes kept, encrypted, in the
// stack's state, so every `make up` derives the same certificates and
// replaces nothing) and derives the certificates for host from it. The
// derivation is a pure function of the seed: no resource is created
// inside it.
func newDatabaseTLS(ctx *pulumi.Context, prefix, stack, host string) (*databaseTLS, error) {
	return newTLS(ctx, prefix, "database", func(seed []byte) (DatabaseCerts, error) { return DeriveDatabaseCerts(seed, stack, host) })
}

// newHTTPSTLS is newDatabaseTLS for nginx's HTTPS certificate, from a seed
// of its own.
func newHTTPSTLS(ctx *pulumi.Context, prefix, stack string) (*databaseTLS, error) {
	return newTLS(ctx, prefix, "https", func(seed []byte) (DatabaseCerts, error) { return DeriveHTTPSCerts(seed, stack) })
}

func newTLS(ctx *pulumi.Context, prefix, purpose string, deriveCerts func(seed []byte) (DatabaseCerts, error)) (*databaseTLS, error) {
	seed, err := random.NewRandomBytes(ctx, prefix+"-"+purpose+"-tls-seed", &random.RandomBytesArgs{
		Length: pulumi.Int(DatabaseTLSSeedBytes),
	})
	if err != nil {
		return nil, fmt.Errorf("%s tls seed: %w", purpose, err)
	}
	return deriveTLS(purpose, pulumi.ToSecret(seed.Base64).(pulumi.StringOutput), deriveCerts), nil
}

// deriveTLS derives the certificates from a seed (base64) output.
func deriveTLS(purpose string, seed pulumi.StringOutput, deriveCerts func(seed []byte) (DatabaseCerts, error)) *databaseTLS {
	derive := func(pick func(DatabaseCerts) string) pulumi.StringOutput {
		return seed.ApplyT(func(b64 string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return "", fmt.Errorf("%s tls seed: %w", purpose, err)
			}
			certs, err := deriveCerts(b)
			if err != nil {
				return "", err
			}
			return pick(certs), nil
		}).(pulumi.StringOutput)
	}
	return &databaseTLS{
		// Certificates are public: unsecret them so that they may show in
		// diffs; the server key stays a secret like the seed.
		CACert:     pulumi.Unsecret(derive(func(c DatabaseCerts) string { return c.CACert })).(pulumi.StringOutput),
		ServerCert: pulumi.Unsecret(derive(func(c DatabaseCerts) string { return c.ServerCert })).(pulumi.StringOutput),
		ServerKey:  pulumi.ToSecret(derive(func(c DatabaseCerts) string { return c.ServerKey })).(pulumi.StringOutput),
		Seed:       seed,
	}
}
