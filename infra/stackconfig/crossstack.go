package stackconfig

import (
	"sort"
	"strings"
)

// CrossStackProblems returns cfg's problems that involve other stacks of
// the same config directory; others maps stack names to their configs
// (cfg itself may be among them and is skipped). Paths are in cfg's file.
//
// The one cross-stack rule: the local mirror runs prod's major versions.
// Every docker stack's local.images.postgres and local.images.redis tags
// start with the major version of prod's database.engineVersion and
// cache.engineVersion. A docker stack is checked against others["prod"];
// prod is checked against every docker stack in others, so changing either
// side alone fails validation. Without a prod stack there is nothing to
// check.
func CrossStackProblems(cfg *Config, others map[string]*Config) []Problem {
	var ps problems
	if cfg == nil {
		return nil
	}
	if cfg.Target == TargetDocker && !cfg.IsProd() {
		if prod := others[ProdStack]; prod != nil && prod != cfg {
			for _, m := range versionMismatches(cfg, prod) {
				ps.add(m.localPath, "%q %s but prod runs %s %s (%s %q); allowed: a tag starting with %s, e.g. %q",
					m.image, runs(m.what, m.localMajor), m.what, m.prodMajor, m.prodPath, m.prodVersion, m.prodMajor, m.suggest)
			}
		}
	}
	if cfg.IsProd() {
		names := make([]string, 0, len(others))
		for n := range others {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			local := others[n]
			if local == nil || local == cfg || local.Target != TargetDocker || n == ProdStack {
				continue
			}
			for _, m := range versionMismatches(local, cfg) {
				ps.add(m.prodPath, "%q is %s %s but docker stack %q %s (%s %q); allowed: %s %s, or change %s.json in the same commit",
					m.prodVersion, m.what, m.prodMajor, n, runs(m.what, m.localMajor), m.localPath, m.image, m.what, orNone(m.localMajor), n)
			}
		}
	}
	return ps
}

type mismatch struct {
	what                  string
	localPath, image      string
	localMajor            string
	prodPath, prodVersion string
	prodMajor, suggest    string
}

func versionMismatches(local, prod *Config) []mismatch {
	var out []mismatch
	for _, c := range []struct {
		what, localPath, image, prodPath, prodVersion string
	}{
		{"Postgres", "local.images.postgres", local.Local.Images.Postgres, "database.engineVersion", prod.Database.EngineVersion},
		{"Redis", "local.images.redis", local.Local.Images.Redis, "cache.engineVersion", prod.Cache.EngineVersion},
	} {
		lm, pm := ImageMajor(c.image), VersionMajor(c.prodVersion)
		if pm == "" || lm == pm {
			continue
		}
		out = append(out, mismatch{
			what: c.what, localPath: c.localPath, image: c.image, localMajor: lm,
			prodPath: c.prodPath, prodVersion: c.prodVersion, prodMajor: pm,
			suggest: imageName(c.image) + ":" + pm,
		})
	}
	return out
}

func runs(what, major string) string {
	if major == "" {
		return "has no major version in its tag"
	}
	return "runs " + what + " " + major
}

func orNone(major string) string {
	if major == "" {
		return "with the same major version"
	}
	return major
}

// VersionMajor returns the major version of an engine version: "15.10" →
// "15"; "" when v does not start with a digit.
func VersionMajor(v string) string {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	return v[:end]
}

// ImageMajor returns the major version in an image reference's tag:
// "postgres:15" → "15", "redis:7.2-alpine" → "7",
// "registry:5000/library/postgres:16@sha256:…" → "16"; "" without a tag
// starting with a digit.
func ImageMajor(image string) string {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash {
		return ""
	}
	return VersionMajor(ref[colon+1:])
}

// imageName is an image reference without tag and digest.
func imageName(image string) string {
	ref, _, _ := strings.Cut(image, "@")
	if colon := strings.LastIndex(ref, ":"); colon > strings.LastIndex(ref, "/") {
		return ref[:colon]
	}
	return ref
}
