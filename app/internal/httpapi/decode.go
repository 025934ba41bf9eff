package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
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
	// The body is read whole (MAX_BODY_BYTES bounds it) and checked for
	// what encoding/json lets through silently before it is decoded.
	data, err := io.ReadAll(body)
	if err != nil {
		return jsonError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &decodeError{http.StatusBadRequest, "malformed_json", "the body must contain a single JSON object", nil}
	}
	if perr := checkBody(raw, dst); perr != nil {
		return perr
	}
	dec = json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	return nil
}

// checkBody holds raw, one syntactically valid JSON value, to what
// encoding/json would let through silently when decoding it into dst, the
// request it is for:
//
//   - it decodes invalid UTF-8 and unpaired UTF-16 surrogate escapes
//     ("\ud800") as U+FFFD, so the text stored would not be the text sent.
//     Such a string is a field error of the top-level field holding it (in
//     an object key it cannot be named: the body is malformed);
//   - it keeps the last of duplicate keys, and other parsers the first:
//     a key twice in one object is refused;
//   - it matches keys case-insensitively: a key that is not exactly a
//     field's name is an unknown field;
//   - it takes null as "leave the field alone", which for a PATCH is
//     ambiguous (clear it?): no field of this API is nullable, so null is
//     the wrong type.
func checkBody(raw []byte, dst any) *decodeError {
	allowed := fieldNames(dst)
	c := bodyCheck{jsonScan: jsonScan{b: raw}}
	c.skipSpace()
	if c.b[c.i] != '{' {
		return nil // decoding it into the request reports the type
	}
	c.i++
	seen := map[string]bool{}
	for c.next('}') {
		field := c.key()
		switch {
		case seen[field]:
			c.duplicate(field, fmt.Sprintf("duplicate key %q", field))
		case !slices.Contains(allowed, field) && len(c.unknown) < maxReported:
			c.unknown = append(c.unknown, field)
		}
		seen[field] = true
		c.skipSpace()
		if c.b[c.i] == 'n' && slices.Contains(allowed, field) {
			c.fieldError(field, "invalid_type", fmt.Sprintf("must be a %s, not null: leave the field out instead", fieldType(dst, field)))
		}
		c.value(field)
	}
	if c.badKey {
		return &decodeError{http.StatusBadRequest, "malformed_json", "an object key is not valid UTF-8 text (or holds an unpaired UTF-16 surrogate escape)", nil}
	}
	if len(c.unknown) > 0 || len(c.dups) > 0 {
		var details []string
		var errs []fieldError
		if len(c.unknown) > 0 {
			quoted := make([]string, len(c.unknown))
			for i, f := range c.unknown {
				quoted[i] = strconv.Quote(f)
				if f != "" { // an entry needs a field name; the detail names ""
					errs = append(errs, unknownField(f, allowed))
				}
			}
			noun := "field"
			if len(quoted) > 1 {
				noun = "fields"
			}
			details = append(details, fmt.Sprintf("unknown %s %s; allowed fields: %s", noun, strings.Join(quoted, ", "), strings.Join(allowed, ", ")))
		}
		if len(c.dups) > 0 {
			for _, d := range c.dups {
				details = append(details, d.detail)
			}
			details[len(details)-1] += "; each key may appear once in an object"
			errs = append(errs, c.dupErrs()...)
		}
		return &decodeError{http.StatusBadRequest, "malformed_json", strings.Join(details, "; "), errs}
	}
	if len(c.errs) > 0 {
		return &decodeError{http.StatusUnprocessableEntity, "validation_failed", "the request body has invalid fields", c.errs}
	}
	return nil
}

// unknownField is the field error of key, which names none of the fields
// allowed.
func unknownField(key string, allowed []string) fieldError {
	msg := "is not a field of this request; allowed: " + strings.Join(allowed, ", ")
	for _, f := range allowed {
		if strings.EqualFold(f, key) {
			msg = fmt.Sprintf("is not a field of this request (names are case-sensitive: did you mean %q?); allowed: %s", f, strings.Join(allowed, ", "))
		}
	}
	return fieldError{Field: key, Code: "unknown_field", Message: msg}
}

// bodyCheck walks a JSON value, collecting what checkBody refuses.
type bodyCheck struct {
	jsonScan
	badKey  bool
	unknown []string // top-level keys that name no field
	dups    []dupKey
	errs    []fieldError
	seen    map[string]bool // fields with an error already
}

// maxReported bounds the unknown fields and the duplicate keys a problem
// names.
const maxReported = 10

// dupKey is a key found twice in one object of the top-level field field.
type dupKey struct{ field, detail string }

// duplicate records a key found twice in field (field itself at the top
// level, or a key of an object in its value), described by detail.
func (c *bodyCheck) duplicate(field, detail string) {
	d := dupKey{field, detail}
	if len(c.dups) < maxReported && !slices.Contains(c.dups, d) {
		c.dups = append(c.dups, d)
	}
}

// dupErrs is one field error per field with a duplicate key.
func (c *bodyCheck) dupErrs() []fieldError {
	var errs []fieldError
	for _, d := range c.dups {
		if d.field != "" && !slices.ContainsFunc(errs, func(e fieldError) bool { return e.Field == d.field }) {
			errs = append(errs, fieldError{Field: d.field, Code: "duplicate_key", Message: "must appear once: JSON parsers disagree on which of two values wins"})
		}
	}
	return errs
}

// key consumes an object key and its colon and returns the key.
func (c *bodyCheck) key() string {
	key, ok := decodeText(c.str())
	if !ok {
		c.badKey = true
	}
	c.skipSpace()
	c.i++ // ':'
	return key
}

// fieldError records the first problem of field.
func (c *bodyCheck) fieldError(field, code, msg string) {
	if c.seen[field] {
		return
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[field] = true
	c.errs = append(c.errs, fieldError{Field: field, Code: code, Message: msg})
}

// value consumes one value of the top-level field field.
func (c *bodyCheck) value(field string) {
	c.skipSpace()
	switch c.b[c.i] {
	case '{':
		c.i++
		seen := map[string]bool{}
		for c.next('}') {
			key := c.key()
			if seen[key] {
				c.duplicate(field, fmt.Sprintf("duplicate key %q in %q", key, field))
			}
			seen[key] = true
			c.value(field)
		}
	case '[':
		c.i++
		for c.next(']') {
			c.value(field)
		}
	case '"':
		s := c.str()
		if code, msg := textProblem(s); code != "" {
			c.fieldError(field, code, msg)
		}
	default: // a number, true, false or null
		for c.i < len(c.b) && !strings.ContainsRune(",]} \t\r\n", rune(c.b[c.i])) {
			c.i++
		}
	}
}

// fieldNames are the JSON names of the fields of the struct dst points
// to, in order.
func fieldNames(dst any) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// fieldType is the JSON type of dst's field name (jsonTypeName).
func fieldType(dst any, name string) string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == name || n == "" && t.Field(i).Name == name {
			ft := t.Field(i).Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			return jsonTypeName(ft.Kind().String())
		}
	}
	return "value"
}

// jsonScan reads a JSON value already known to be valid.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) skipSpace() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// next reports whether another element of an object or array follows
// (consuming its comma), or consumes the closing delimiter end.
func (s *jsonScan) next(end byte) bool {
	s.skipSpace()
	switch s.b[s.i] {
	case end:
		s.i++
		return false
	case ',':
		s.i++
		s.skipSpace()
	}
	return true
}

// str consumes a string and returns what is between its quotes, escapes
// as written.
func (s *jsonScan) str() []byte {
	start := s.i + 1
	for s.i = start; s.b[s.i] != '"'; s.i++ {
		if s.b[s.i] == '\\' {
			s.i++ // the escaped character (a \u's hex digits hold no quote)
		}
	}
	s.i++
	return s.b[start : s.i-1]
}

// textProblem is why the contents of a JSON string are not valid Unicode
// text (a field error's code and message), or "" when they are.
func textProblem(s []byte) (code, msg string) {
	if !utf8.Valid(s) {
		return "invalid_utf8", "must be valid UTF-8 text"
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++
		if s[i] != 'u' {
			continue
		}
		r := hex4(s[i+1:])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r < 0xdc00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
			if lo := hex4(s[i+3:]); lo >= 0xdc00 && lo <= 0xdfff {
				i += 6
				continue
			}
		}
		return "unpaired_surrogate", `must not contain an unpaired UTF-16 surrogate escape such as "\ud800": write a character outside the Basic Multilingual Plane as a pair ("\ud83d\ude00") or as UTF-8`
	}
	return "", ""
}

// hex4 is the value of the four hex digits s starts with (a \u escape's,
// already validated).
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// decodeText decodes the contents of a JSON string; ok is false when they
// are not valid Unicode text (textProblem).
func decodeText(s []byte) (string, bool) {
	if code, _ := textProblem(s); code != "" {
		return "", false
	}
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s), true
	}
	var v string
	if err := json.Unmarshal(append(append([]byte{'"'}, s...), '"'), &v); err != nil {
		return "", false
	}
	return v, true
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
		return &decodeError{http.StatusBadRequest, "malformed_json", fmt.Sprintf("unknown field %q", field),
			[]fieldError{{Field: field, Code: "unknown_field", Message: "is not a field of this request"}}}
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
	if req.Title == nil && req.Body == nil {
		// Nothing to change: refused rather than answered 200 with a new
		// version (and ETag) of an unchanged note.
		msg := "at least one of " + strings.Join(fieldNames(req), ", ") + " is required"
		return &decodeError{http.StatusUnprocessableEntity, "validation_failed", "no field to update; allowed fields: " + strings.Join(fieldNames(req), ", "),
			[]fieldError{{Field: "title", Code: "one_required", Message: msg}, {Field: "body", Code: "one_required", Message: msg}}}
	}
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
