// Package buildinfo holds the version and commit stamped into the binary
// with -ldflags "-X …/buildinfo.Version=… -X …/buildinfo.Commit=…".
package buildinfo

// Version is the release version (git describe), "dev" when unstamped.
var Version = "dev"

// Commit is the git commit the binary was built from.
var Commit = "unknown"
