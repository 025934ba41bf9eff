package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkHandlerCachedGET measures the handler chain of an authenticated,
// cached note read in-process (no network): the CPU and allocations the
// server spends per request.
func BenchmarkHandlerCachedGET(b *testing.B) {
	a := newApp(b)
	r := a.do("POST", "/api/v1/users", "", map[string]string{"email": "b@example.com", "password": "correct horse"})
	if r.status != 201 {
		b.Fatal(r.status)
	}
	r = a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "b@example.com", "password": "correct horse"})
	var tok string
	if m := a.decode(r); m != nil {
		tok, _ = m["token"].(string)
	}
	r = a.do("POST", "/api/v1/notes", tok, map[string]string{"title": "t", "body": "b"})
	path := fmt.Sprintf("/api/v1/notes/%d", int64(a.decode(r)["id"].(float64)))
	a.do("GET", path, tok, nil)
	h := a.srv.Config.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
