package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// registry implements release.Registry with docker (login, push) and
// crane (copy by digest, digest lookups). crane copies the manifest and
// blobs as they are, so the digest is preserved; `make tools` installs it.
type registry struct {
	x      execer
	region string
	// loggedIn remembers the registries already logged into.
	loggedIn map[string]bool
}

// host returns the registry host of a repository URL.
func host(repo string) string {
	h, _, _ := strings.Cut(repo, "/")
	return h
}

// login logs docker (and so crane, which reads docker's credentials) into
// an ECR registry.
func (r *registry) login(ctx context.Context, repo string) error {
	h := host(repo)
	if r.loggedIn[h] || !strings.Contains(h, ".dkr.ecr.") {
		return nil
	}
	pw, err := r.x(ctx, call{Name: "aws", Args: []string{"ecr", "get-login-password", "--region", r.region}})
	if err != nil {
		return err
	}
	if _, err := r.x(ctx, call{Name: "docker", Args: []string{"login", "--username", "AWS", "--password-stdin", h}, Stdin: strings.NewReader(strings.TrimSpace(string(pw)))}); err != nil {
		return err
	}
	if r.loggedIn == nil {
		r.loggedIn = map[string]bool{}
	}
	r.loggedIn[h] = true
	return nil
}

func (r *registry) digest(ctx context.Context, ref string) (string, error) {
	out, err := r.x(ctx, call{Name: "crane", Args: []string{"digest", ref}})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Push tags and pushes a local image, then asks the registry for the
// digest it stored.
func (r *registry) Push(ctx context.Context, local, repo, tag string) (string, error) {
	if err := r.login(ctx, repo); err != nil {
		return "", err
	}
	ref := repo + ":" + tag
	if _, err := r.x(ctx, call{Name: "docker", Args: []string{"tag", local, ref}}); err != nil {
		return "", err
	}
	if _, err := r.x(ctx, call{Name: "docker", Args: []string{"push", ref}, Stream: true}); err != nil {
		return "", err
	}
	return r.digest(ctx, ref)
}

// Copy copies srcRepo@digest to dstRepo:tag and returns the digest the
// destination reports.
func (r *registry) Copy(ctx context.Context, srcRepo, digest, dstRepo, tag string) (string, error) {
	if err := r.login(ctx, srcRepo); err != nil {
		return "", err
	}
	if err := r.login(ctx, dstRepo); err != nil {
		return "", err
	}
	dst := dstRepo + ":" + tag
	if _, err := r.x(ctx, call{Name: "crane", Args: []string{"copy", srcRepo + "@" + digest, dst}, Stream: true}); err != nil {
		return "", err
	}
	return r.digest(ctx, dst)
}

// Has checks that repo still holds digest.
func (r *registry) Has(ctx context.Context, repo, digest string) error {
	if err := r.login(ctx, repo); err != nil {
		return err
	}
	got, err := r.digest(ctx, repo+"@"+digest)
	if err != nil {
		return err
	}
	if got != digest {
		return fmt.Errorf("%s@%s resolves to %s", repo, digest, got)
	}
	return nil
}

// httpHealth implements release.Health with an HTTP GET.
type httpHealth struct {
	client *http.Client
	// tries is how many GETs are made before giving up, pause apart.
	tries int
	pause time.Duration
}

func newHTTPHealth() httpHealth {
	return httpHealth{client: &http.Client{Timeout: 10 * time.Second}, tries: 3, pause: 2 * time.Second}
}

// Ready requires 200 with status "ready" from url (a "degraded" stack
// serves, but is not promoted from); it retries a few times so one dropped
// request does not block a promotion.
func (h httpHealth) Ready(ctx context.Context, url string) error {
	var last error
	for i := 0; i < max(1, h.tries); i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(h.pause):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := h.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		var body struct {
			Status string          `json:"status"`
			Checks json.RawMessage `json:"checks"`
		}
		decodeErr := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body)
		resp.Body.Close()
		switch {
		case resp.StatusCode != http.StatusOK:
			last = fmt.Errorf("GET %s: %s, want 200 OK", url, resp.Status)
		case decodeErr != nil || body.Status != "ready":
			// 200 "degraded": the replica serves (Redis is down and the app
			// falls back to Postgres), but a release should not move on a
			// degraded stack.
			last = fmt.Errorf("GET %s: status %q (checks %s), want \"ready\"", url, body.Status, body.Checks)
		default:
			return nil
		}
	}
	return last
}
