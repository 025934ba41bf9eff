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
		a.onlyTheKeptNote(t, path, tok)
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
		{"an upper-case key is an unknown field", "POST", "/api/v1/notes", `{"TITLE":"x"}`, `unknown field "TITLE"`, "TITLE", "unknown_field"},
		{"a capitalised key of an update is an unknown field", "PATCH", path, `{"Title":"x"}`, `unknown field "Title"`, "Title", "unknown_field"},
		{"a capitalised key of a registration is an unknown field", "POST", "/api/v1/users", `{"Email":"b@example.com","password":"correct horse"}`, `unknown field "Email"`, "Email", "unknown_field"},
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
		a.onlyTheKeptNote(t, path, tok)
		if r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "b@example.com", "password": "correct horse"}); r.status != 401 {
			t.Fatalf("the registration with a capitalised key was stored: login %d", r.status)
		}
	})
}

func TestAnUnknownFieldIsAFieldErrorListingTheAllowedOnes(t *testing.T) {
	a := newApp(t)
	tok := a.user("ada@example.com")
	for _, tc := range []struct {
		name, path, body string
		detail           string
		want             map[string]string // field → words its message must hold
	}{
		{"an unknown field of a note", "/api/v1/notes", `{"title":"x","tags":["a"]}`,
			`unknown field "tags"; allowed fields: title, body`, map[string]string{"tags": "allowed: title, body"}},
		{"every unknown field of a note", "/api/v1/notes", `{"title":"x","tags":[],"colour":"red"}`,
			`unknown fields "tags", "colour"; allowed fields: title, body`, map[string]string{"tags": "allowed: title, body", "colour": "allowed: title, body"}},
		{"a wrong-case field with the name it misses", "/api/v1/notes", `{"Body":"x","title":"t"}`,
			`unknown field "Body"`, map[string]string{"Body": `did you mean "body"?`}},
		{"an unknown field of a registration", "/api/v1/users", `{"email":"c@example.com","password":"correct horse","admin":true}`,
			`allowed fields: email, password, name`, map[string]string{"admin": "allowed: email, password, name"}},
	} {
		t.Run(tc.name+" is named with the allowed fields", func(t *testing.T) {
			pr := wantProblem(t, a.do("POST", tc.path, tok, tc.body), 400, "malformed_json")
			if d, _ := pr["detail"].(string); !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q does not say %s", d, tc.detail)
			}
			errs, _ := pr["errors"].([]any)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %v, want one per unknown field %v", pr["errors"], tc.want)
			}
			for _, e := range errs {
				m := e.(map[string]any)
				words, ok := tc.want[fmt.Sprint(m["field"])]
				if !ok || m["code"] != "unknown_field" || !strings.Contains(fmt.Sprint(m["message"]), words) {
					t.Errorf("error %v, want code unknown_field and %q in the message", m, words)
				}
			}
		})
	}
}

func TestListQueryParametersAreReadOnceOrRefused(t *testing.T) {
	a := newApp(t)
	tok := a.user("ada@example.com")
	for i := range 3 {
		a.note(tok, fmt.Sprintf("note %d", i), "")
	}
	cursor := a.do("GET", "/api/v1/notes?limit=1", tok, nil).json(t)["next_cursor"].(string)

	for _, tc := range []struct {
		name, query string
		fcode       string
	}{
		{"a limit that is not valid percent-encoding is refused, not the default", "limit=%zz", "invalid_encoding"},
		{"a limit given twice is refused, not the first one taken", "limit=5&limit=abc", "repeated"},
		{"a limit given twice with the same value is refused too", "limit=2&limit=2", "repeated"},
		{"an empty limit is refused, not the default", "limit=", "out_of_range"},
		{"a limit without a value is refused", "limit", "out_of_range"},
		{"a percent-encoded limit name counts as limit", "limit=2&li%6dit=3", "repeated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do("GET", "/api/v1/notes?"+tc.query, tok, nil)
			pr := wantProblem(t, r, 422, "validation_failed")
			if fieldErrors(pr)["limit"] != tc.fcode {
				t.Fatalf("errors = %v, want limit: %s", pr["errors"], tc.fcode)
			}
		})
	}
	t.Run("a cursor given twice is refused, not the first one taken", func(t *testing.T) {
		pr := wantProblem(t, a.do("GET", "/api/v1/notes?cursor="+cursor+"&cursor="+cursor, tok, nil), 400, "invalid_cursor")
		if d, _ := pr["detail"].(string); !strings.Contains(d, "cursor once") {
			t.Errorf("detail %q does not say cursor must be given once", d)
		}
	})
	t.Run("a percent-encoded limit is read", func(t *testing.T) {
		r := a.do("GET", "/api/v1/notes?limit=%32&cursor="+cursor, tok, nil)
		if r.status != 200 || len(r.json(t)["items"].([]any)) != 2 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestAnUpdateThatChangesNothingIsRefused(t *testing.T) {
	a := newApp(t)
	tok := a.user("ada@example.com")
	path := fmt.Sprintf("/api/v1/notes/%d", int64(a.note(tok, "kept", "kept")["id"].(float64)))
	etag := a.do("GET", path, tok, nil).header.Get("ETag")

	for _, tc := range []struct {
		name, method, body string
		detail             string
		want               map[string]string // field → code
	}{
		{"an empty update is refused naming the fields it may have", "PATCH", `{}`, "no field to update; allowed fields: title, body",
			map[string]string{"title": "one_required", "body": "one_required"}},
		{"a null title is the wrong type, not 'unchanged'", "PATCH", `{"title":null}`, "", map[string]string{"title": "invalid_type"}},
		{"a null body is the wrong type, not 'unchanged' or 'cleared'", "PATCH", `{"title":"changed","body":null}`, "", map[string]string{"body": "invalid_type"}},
		{"a null body of a new note is the wrong type", "POST", `{"title":"new","body":null}`, "", map[string]string{"body": "invalid_type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.method == "POST" {
				p = "/api/v1/notes"
			}
			pr := wantProblem(t, a.do(tc.method, p, tok, tc.body, "If-Match", etag), 422, "validation_failed")
			if d, _ := pr["detail"].(string); !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q does not say %q", d, tc.detail)
			}
			if got := fieldErrors(pr); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("errors = %v, want %v", pr["errors"], tc.want)
			}
		})
	}
	t.Run("the note keeps its version and ETag", func(t *testing.T) {
		r := a.do("GET", path, tok, nil)
		if m := r.json(t); r.header.Get("ETag") != etag || m["version"] != float64(1) || m["title"] != "kept" {
			t.Fatalf("ETag %s (was %s): %s", r.header.Get("ETag"), etag, r.body)
		}
		if n := a.countNotes(); n != 1 {
			t.Fatalf("%d notes, want 1", n)
		}
	})
}

// onlyTheKeptNote fails the test unless the one note stored is still the
// "kept" one at path, at version 1: the refused requests stored and
// changed nothing.
func (a *testApp) onlyTheKeptNote(t *testing.T, path, tok string) {
	t.Helper()
	if n := a.countNotes(); n != 1 {
		t.Fatalf("%d notes, want 1", n)
	}
	if m := a.do("GET", path, tok, nil).json(t); m["title"] != "kept" || m["body"] != "kept" || m["version"] != float64(1) {
		t.Fatalf("note changed: %v", m)
	}
}
