package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
)

// fieldErrors is a problem's errors as field → code.
func fieldErrors(p map[string]any) map[string]string {
	out := map[string]string{}
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		m := e.(map[string]any)
		out[fmt.Sprint(m["field"])] = fmt.Sprint(m["code"])
	}
	return out
}

func TestTextIsStoredAsSentOrRefused(t *testing.T) {
	a := newApp(t)
	tok := a.user("ada@example.com")
	path := fmt.Sprintf("/api/v1/notes/%d", int64(a.note(tok, "kept", "kept")["id"].(float64)))

	for _, tc := range []struct {
		name, method, body string
		status             int
		code, field, fcode string
	}{
		{"an invalid UTF-8 byte in the title is a field error", "POST", "{\"title\":\"caf\xe9\"}", 422, "validation_failed", "title", "invalid_utf8"},
		{"a surrogate encoded in UTF-8 is a field error", "POST", "{\"title\":\"\xed\xa0\x80\"}", 422, "validation_failed", "title", "invalid_utf8"},
		{"an unpaired high surrogate escape is a field error", "POST", `{"title":"\ud800"}`, 422, "validation_failed", "title", "unpaired_surrogate"},
		{"an unpaired low surrogate escape is a field error", "POST", `{"title":"x\udc00y"}`, 422, "validation_failed", "title", "unpaired_surrogate"},
		{"a high surrogate followed by another character is a field error", "POST", `{"title":"t","body":"\ud83d\u0041"}`, 422, "validation_failed", "body", "unpaired_surrogate"},
		{"a high surrogate at the end of the text is a field error", "POST", `{"title":"t","body":"x\ud83d"}`, 422, "validation_failed", "body", "unpaired_surrogate"},
		{"an invalid byte in an update's body is a field error", "PATCH", "{\"body\":\"\xff\"}", 422, "validation_failed", "body", "invalid_utf8"},
		{"an unpaired surrogate in an update's title is a field error", "PATCH", `{"title":"\udfff"}`, 422, "validation_failed", "title", "unpaired_surrogate"},
		{"an invalid byte in a key is a malformed body", "POST", "{\"title\":\"t\",\"\xff\":1}", 400, "malformed_json", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "/api/v1/notes"
			if tc.method == "PATCH" {
				p = path
			}
			pr := wantProblem(t, a.do(tc.method, p, tok, tc.body), tc.status, tc.code)
			if tc.field != "" && fieldErrors(pr)[tc.field] != tc.fcode {
				t.Errorf("errors = %v, want %s: %s", pr["errors"], tc.field, tc.fcode)
			}
		})
	}
	t.Run("nothing was stored or changed", func(t *testing.T) {
		if n := a.countNotes(); n != 1 {
			t.Fatalf("%d notes, want 1", n)
		}
		if m := a.do("GET", path, tok, nil).json(t); m["title"] != "kept" || m["body"] != "kept" || m["version"] != float64(1) {
			t.Fatalf("note changed: %v", m)
		}
	})
	t.Run("a password with an invalid byte is a field error, never hashed as U+FFFD", func(t *testing.T) {
		pr := wantProblem(t, a.do("POST", "/api/v1/users", "", "{\"email\":\"b@example.com\",\"password\":\"correct horse\xff\"}"), 422, "validation_failed")
		if fieldErrors(pr)["password"] != "invalid_utf8" {
			t.Fatalf("errors = %v", pr["errors"])
		}
	})
	t.Run("a surrogate pair and a sent U+FFFD are stored as sent", func(t *testing.T) {
		r := a.do("POST", "/api/v1/notes", tok, `{"title":"smile \ud83d\ude00","body":"\ufffd and `+"\ufffd"+`"}`)
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if m := r.json(t); m["title"] != "smile \U0001F600" || m["body"] != "\ufffd and \ufffd" {
			t.Fatalf("stored %q %q", m["title"], m["body"])
		}
	})
	t.Run("the problem never echoes the text", func(t *testing.T) {
		r := a.do("POST", "/api/v1/notes", tok, "{\"title\":\"secret\xff\"}")
		if strings.Contains(string(r.body), "secret") {
			t.Fatalf("the text reached the problem: %s", r.body)
		}
	})
}

func TestKeysAreExactAndOnce(t *testing.T) {
	a := newApp(t)
	tok := a.user("ada@example.com")
	path := fmt.Sprintf("/api/v1/notes/%d", int64(a.note(tok, "kept", "kept")["id"].(float64)))

	for _, tc := range []struct {
		name, method, path, body string
		detail, field, fcode     string
	}{
		{"a key twice is refused, not the last one kept", "POST", "/api/v1/notes", `{"title":"a","title":"b"}`, `duplicate key "title"`, "title", "duplicate_key"},
		{"a key twice is refused however it is escaped", "POST", "/api/v1/notes", `{"title":"a","t\u0069tle":"b"}`, `duplicate key "title"`, "title", "duplicate_key"},
		{"an update's key twice is refused", "PATCH", path, `{"body":"a","body":"b"}`, `duplicate key "body"`, "body", "duplicate_key"},
		{"a key twice in a nested object is refused", "POST", "/api/v1/notes", `{"title":{"a":1,"a":2}}`, `duplicate key "a" in "title"`, "title", "duplicate_key"},
		{"an upper-case key is an unknown field", "POST", "/api/v1/notes", `{"TITLE":"x"}`, `unknown field "TITLE"`, "", ""},
		{"a capitalised key of an update is an unknown field", "PATCH", path, `{"Title":"x"}`, `unknown field "Title"`, "", ""},
		{"a capitalised key of a registration is an unknown field", "POST", "/api/v1/users", `{"Email":"b@example.com","password":"correct horse"}`, `unknown field "Email"`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := tok
			if tc.path == "/api/v1/users" {
				tk = ""
			}
			r := a.do(tc.method, tc.path, tk, tc.body)
			pr := wantProblem(t, r, 400, "malformed_json")
			if d, _ := pr["detail"].(string); !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q does not say %s", d, tc.detail)
			}
			if tc.field != "" && fieldErrors(pr)[tc.field] != tc.fcode {
				t.Errorf("errors = %v, want %s: %s", pr["errors"], tc.field, tc.fcode)
			}
		})
	}
	t.Run("nothing was stored or changed", func(t *testing.T) {
		if n := a.countNotes(); n != 1 {
			t.Fatalf("%d notes, want 1", n)
		}
		if m := a.do("GET", path, tok, nil).json(t); m["title"] != "kept" || m["body"] != "kept" || m["version"] != float64(1) {
			t.Fatalf("note changed: %v", m)
		}
		if r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "b@example.com", "password": "correct horse"}); r.status != 401 {
			t.Fatalf("the registration with a capitalised key was stored: login %d", r.status)
		}
	})
}
