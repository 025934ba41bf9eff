// Package rdsca pins the Amazon RDS global CA bundle the app image ships:
// global-bundle.pem, a copy of
// https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
// (the root CAs of every commercial region: rds-ca-rsa2048-g1,
// rds-ca-rsa4096-g1 and rds-ca-ecc384-g1). The Dockerfile copies it to
// ImagePath, which the aws stacks' DATABASE_URL names as sslrootcert with
// sslmode=verify-full (infra/stackconfig Env). The test pins its checksum,
// so a changed bundle is a reviewed change of SHA256 (docs/app.md says how
// to update it).
package rdsca

import _ "embed"

// Bundle is global-bundle.pem's content, for tests and tools; the app
// itself reads the copy at ImagePath, as libpq would.
//
//go:embed global-bundle.pem
var Bundle []byte

// SHA256 is the hex SHA-256 of global-bundle.pem.
const SHA256 = "05c6b4a9bf4daa95c888711481e19cc8e2e11aed4de8db759f51f4a6fce64917"

// ImagePath is where the app image holds the bundle
// (stackconfig.RDSCABundlePath, which a test keeps equal).
const ImagePath = "/etc/ssl/certs/rds-global-bundle.pem"
