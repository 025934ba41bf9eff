package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMetricLabelsAreBounded(t *testing.T) {
	a := newApp(t)
	for i := range 30 {
		a.do(fmt.Sprintf("M%05dX", i), "/nope", "", nil)
	}
	m := a.metrics()
	if strings.Contains(m, `method="M00001X"`) {
		t.Fatal("a made-up method became a label value")
	}
	if !strings.Contains(m, `http_requests_total{method="other",route="unmatched",status="405"} 30`) {
		t.Fatalf("made-up methods not counted as other:\n%s", testenv.GrepLines(m, "http_requests_total"))
	}
}

func TestPasswordHashingIsBounded(t *testing.T) {
	hashes := auth.NewLimiter(1)
	a := newApp(t, func(o *appOpts) { o.hashes = hashes })
	a.user("ada@example.com")
	release, ok := hashes.Acquire(context.Background(), time.Second)
	if !ok {
		t.Fatal("could not take the only slot")
	}
	for _, tc := range []struct{ name, path, email string }{
		{"a login while every slot is busy is 503 with Retry-After", "/api/v1/sessions", "ada@example.com"},
		{"a login of an unknown user too (it hashes a dummy)", "/api/v1/sessions", "nobody@example.com"},
		{"a registration too", "/api/v1/users", "bob@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do("POST", tc.path, "", map[string]string{"email": tc.email, "password": "correct horse"})
			wantProblem(t, r, 503, "overloaded")
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		})
	}
	release()
	t.Run("once a slot is free it works", func(t *testing.T) {
		if r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "ada@example.com", "password": "correct horse"}); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
