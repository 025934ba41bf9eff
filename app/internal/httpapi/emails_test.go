package httpapi_test

import (
	"net/http"
	"testing"
)

func TestLookAlikeEmailsAreOneAccountOrRefused(t *testing.T) {
	a := newApp(t)
	const nfc = "jos\u00e9@example.com" // é as one code point
	if r := a.do("POST", "/api/v1/users", "", map[string]string{"email": nfc, "password": "correct horse"}); r.status != 201 {
		t.Fatalf("register %q: %d %s", nfc, r.status, r.body)
	}
	t.Run("the NFD spelling of a registered email is the same account", func(t *testing.T) {
		nfd := "jose\u0301@example.com" // e + combining acute
		wantProblem(t, a.do("POST", "/api/v1/users", "", map[string]string{"email": nfd, "password": "correct horse"}), http.StatusConflict, "email_taken")
		if r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": nfd, "password": "correct horse"}); r.status != 201 {
			t.Fatalf("login with the NFD spelling: %d %s", r.status, r.body)
		}
	})
	for _, tc := range []struct{ name, email, code string }{
		{"a zero-width space", "ada\u200b@example.com", "invisible_character"},
		{"a zero-width joiner", "a\u200dda@example.com", "invisible_character"},
		{"a right-to-left override", "\u202eada@example.com", "invisible_character"},
		{"a bidi isolate", "ada\u2066@example.com", "invisible_character"},
		{"a byte order mark", "\ufeffada@example.com", "invisible_character"},
		{"a soft hyphen", "a\u00adda@example.com", "invisible_character"},
		{"fullwidth letters", "\uff41da@example.com", "compatibility_character"},
	} {
		t.Run("an email with "+tc.name+" is refused", func(t *testing.T) {
			p := wantProblem(t, a.do("POST", "/api/v1/users", "", map[string]string{"email": tc.email, "password": "correct horse"}), http.StatusUnprocessableEntity, "validation_failed")
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["code"] != tc.code || errs[0].(map[string]any)["field"] != "email" {
				t.Fatalf("errors = %v, want one email error %s", p["errors"], tc.code)
			}
		})
	}
}
