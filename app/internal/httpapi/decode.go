package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// decodeError is a request body problem mapped to a response.
type decodeError struct {
	status int
	code   string
	detail string
	fields []fieldError
}

func (e *decodeError) Error() string { return e.code + ": " + e.detail }

func (e *decodeError) write(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, e.status, e.code, e.detail, e.fields...)
}

// decodeJSON decodes exactly one JSON object from r's body into dst,
// rejecting unknown fields, trailing data, non-JSON content types and
// bodies over the limit (set by the bodyLimit middleware).
func decodeJSON(r *http.Request, dst any) *decodeError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &decodeError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json", nil}
		}
	}
	return decodeBody(r.Body, dst)
}

func decodeBody(body io.Reader, dst any) *decodeError {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		var nerr net.Error
		if errors.As(err, &mbe) || (errors.As(err, &nerr) && nerr.Timeout()) {
			return jsonError(err)
		}
		return &decodeError{http.StatusBadRequest, "malformed_json", "the body must contain a single JSON object", nil}
	}
	return nil
}

func jsonError(err error) *decodeError {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var nerr net.Error
	switch {
	case errors.As(err, &nerr) && nerr.Timeout():
		// The body did not arrive within ReadTimeout (REQUEST_TIMEOUT).
		return &decodeError{http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time", nil}
	case errors.As(err, &mbe):
		return &decodeError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body must not exceed %d bytes", mbe.Limit), nil}
	case errors.Is(err, io.EOF):
		return &decodeError{http.StatusBadRequest, "malformed_json", "the body must not be empty", nil}
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &decodeError{http.StatusBadRequest, "malformed_json", "the body is not valid JSON", nil}
	case errors.As(err, &typ):
		if typ.Field != "" {
			return &decodeError{http.StatusUnprocessableEntity, "validation_failed", "the request body has invalid fields",
				[]fieldError{{Field: typ.Field, Code: "invalid_type", Message: "must be a " + jsonTypeName(typ.Type.Kind().String())}}}
		}
		return &decodeError{http.StatusBadRequest, "malformed_json", "the body must be a JSON object", nil}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &decodeError{http.StatusBadRequest, "malformed_json", fmt.Sprintf("unknown field %q", field), nil}
	default:
		return &decodeError{http.StatusBadRequest, "malformed_json", "the body is not valid JSON", nil}
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	default:
		return "number"
	}
}

// validator collects field errors.
type validator struct{ errs []fieldError }

func (v *validator) add(field, code, msg string) {
	v.errs = append(v.errs, fieldError{Field: field, Code: code, Message: msg})
}

// text checks a string field's length (in characters) and content.
func (v *validator) text(field, s string, required bool, minLen, maxLen int) {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "" && required:
		v.add(field, "required", "is required")
	case strings.ContainsRune(s, 0):
		v.add(field, "invalid_characters", "must not contain NUL characters")
	case s != "" && n < minLen:
		v.add(field, "too_short", fmt.Sprintf("must be at least %d characters", minLen))
	case n > maxLen:
		v.add(field, "too_long", fmt.Sprintf("must be at most %d characters", maxLen))
	}
}

func (v *validator) problem() *decodeError {
	if len(v.errs) == 0 {
		return nil
	}
	return &decodeError{http.StatusUnprocessableEntity, "validation_failed", "the request body has invalid fields", v.errs}
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (req *registerRequest) normalize() *decodeError {
	req.Email = normalizeEmail(req.Email)
	req.Name = strings.TrimSpace(req.Name)
	var v validator
	v.text("email", req.Email, true, 3, 254)
	switch {
	case req.Email == "" || len(v.errs) > 0:
	case hasInvisible(req.Email):
		v.add("email", "invisible_character", "must not contain invisible, control or bidirectional formatting characters")
	case norm.NFKC.String(req.Email) != req.Email:
		v.add("email", "compatibility_character", "must not contain compatibility characters such as fullwidth letters; write them as plain letters")
	case !validEmail(req.Email):
		v.add("email", "invalid", "must be a valid email address")
	}
	v.text("password", req.Password, true, 8, 128)
	if req.Password != "" && strings.TrimSpace(req.Password) == "" {
		v.add("password", "blank", "must not be only whitespace")
	}
	v.text("name", req.Name, false, 0, 100)
	return v.problem()
}

// normalizeEmail is how an email is stored and looked up: trimmed, in
// Unicode NFC (so that "é" typed as one code point or as "e" + U+0301 is
// one account) and lower-cased.
func normalizeEmail(s string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
}

// hasInvisible reports whether s holds a character that renders as nothing
// or reorders text: controls, format characters (zero-width joiners and
// spaces, bidi embeddings, overrides and isolates, U+FEFF), private use,
// variation selectors and other default-ignorable code points. Two emails
// differing only by one would look identical.
func hasInvisible(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return true
		}
	}
	return false
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (req *loginRequest) normalize() *decodeError {
	req.Email = normalizeEmail(req.Email)
	var v validator
	v.text("email", req.Email, true, 1, 254)
	v.text("password", req.Password, true, 1, 128)
	return v.problem()
}

type createNoteRequest struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

const (
	maxTitle = 200
	maxBody  = 100_000
)

func (req *createNoteRequest) normalize() *decodeError {
	req.Title = strings.TrimSpace(req.Title)
	var v validator
	v.text("title", req.Title, true, 1, maxTitle)
	v.text("body", req.Body, false, 0, maxBody)
	return v.problem()
}

type updateNoteRequest struct {
	Title *string `json:"title"`
	Body  *string `json:"body"`
}

func (req *updateNoteRequest) normalize() *decodeError {
	var v validator
	if req.Title != nil {
		t := strings.TrimSpace(*req.Title)
		req.Title = &t
		v.text("title", t, true, 1, maxTitle)
	}
	if req.Body != nil {
		v.text("body", *req.Body, false, 0, maxBody)
	}
	return v.problem()
}

// normalizer is a request that validates and canonicalizes itself.
type normalizer interface{ normalize() *decodeError }

// decodeValid decodes and validates a request body.
func decodeValid(r *http.Request, dst normalizer) *decodeError {
	if err := decodeJSON(r, dst); err != nil {
		return err
	}
	return dst.normalize()
}
