package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// digestPattern is what a release digest looks like (the schema's pattern
// for release.imageDigest).
var digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// ValidDigest reports whether d is "sha256:<64 lowercase hex>".
func ValidDigest(d string) bool { return digestPattern.MatchString(d) }

// SetImageDigest returns a copy of the stack file data with
// release.imageDigest set to digest. Every other byte is kept: the field's
// value is replaced in place when it exists; otherwise the key (and the
// release object, when missing) is inserted with the file's own
// indentation. The result is checked to differ from the input only in that
// one field, so no data is ever lost.
func SetImageDigest(data []byte, digest string) ([]byte, error) {
	if !ValidDigest(digest) {
		return nil, fmt.Errorf("image digest %q: want \"sha256:\" followed by 64 lowercase hex digits", digest)
	}
	return setImageDigest(data, digest)
}

// setImageDigest is SetImageDigest for any string value (ResetImageDigest
// puts back whatever the file held).
func setImageDigest(data []byte, digest string) ([]byte, error) {
	top, err := scanObject(data, 0)
	if err != nil {
		return nil, err
	}
	quoted, _ := json.Marshal(digest)
	var out []byte
	if rel, ok := top.member("release"); ok {
		if data[rel.valueStart] != '{' {
			return nil, fmt.Errorf("release: want a JSON object, found %s", snippet(data[rel.valueStart:rel.valueEnd]))
		}
		obj, err := scanObject(data, rel.valueStart)
		if err != nil {
			return nil, err
		}
		if d, ok := obj.member("imageDigest"); ok {
			out = splice(data, d.valueStart, d.valueEnd, quoted)
		} else {
			out = insertMember(data, obj, "imageDigest", quoted)
		}
	} else {
		out = insertMember(data, top, "release", []byte(`{"imageDigest": `+string(quoted)+`}`))
	}
	if err := checkOnlyDigestChanged(data, out, digest); err != nil {
		return nil, err
	}
	return out, nil
}

// member is one "key": value pair of a scanned object, as byte offsets.
type member struct {
	key                  string
	keyStart             int
	valueStart, valueEnd int
}

// object is a scanned JSON object: its braces' offsets and its members.
type object struct {
	open, close int
	members     []member
}

func (o object) member(key string) (member, bool) {
	var found member
	ok := false
	for _, m := range o.members {
		if m.key == key {
			found, ok = m, true // the last one wins, as in encoding/json
		}
	}
	return found, ok
}

// scanObject scans the JSON object starting at data[start] (after
// whitespace) and returns the offsets of its members.
func scanObject(data []byte, start int) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data[start:]))
	tok, err := dec.Token()
	if err != nil {
		return object{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return object{}, errors.New("invalid stack file: want a JSON object")
	}
	o := object{open: start + int(dec.InputOffset()) - 1}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return object{}, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := tok.(string)
		keyEnd := start + int(dec.InputOffset())
		m := member{key: key, keyStart: lastIndexByteBefore(data, keyEnd-1, '"', start)}
		// The value starts after the colon and any whitespace.
		i := keyEnd
		for i < len(data) && (isSpace(data[i]) || data[i] == ':') {
			i++
		}
		m.valueStart = i
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return object{}, fmt.Errorf("invalid JSON in %q: %w", key, err)
		}
		m.valueEnd = start + int(dec.InputOffset())
		o.members = append(o.members, m)
	}
	if _, err := dec.Token(); err != nil {
		return object{}, fmt.Errorf("invalid JSON: %w", err)
	}
	o.close = start + int(dec.InputOffset()) - 1
	if o.close < 0 || o.close >= len(data) || data[o.close] != '}' {
		return object{}, errors.New("invalid stack file: unterminated object")
	}
	return o, nil
}

// lastIndexByteBefore returns the index of the opening quote of the string
// whose closing quote is at end.
func lastIndexByteBefore(data []byte, end int, c byte, floor int) int {
	for i := end - 1; i >= floor; i-- {
		if data[i] == c && (i == 0 || data[i-1] != '\\') {
			return i
		}
	}
	return floor
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func splice(data []byte, start, end int, repl []byte) []byte {
	out := make([]byte, 0, len(data)-(end-start)+len(repl))
	out = append(out, data[:start]...)
	out = append(out, repl...)
	return append(out, data[end:]...)
}

// insertMember adds "key": value as the last member of obj, indented like
// its other members (or one level deeper than the object's own line).
func insertMember(data []byte, obj object, key string, value []byte) []byte {
	quotedKey, _ := json.Marshal(key)
	if len(obj.members) == 0 {
		indent := lineIndent(data, obj.open)
		unit := "  "
		text := "\n" + indent + unit + string(quotedKey) + ": " + string(value) + "\n" + indent
		return splice(data, obj.open+1, obj.close, []byte(text))
	}
	last := obj.members[len(obj.members)-1]
	indent := lineIndent(data, last.keyStart)
	sep := ", "
	if bytes.Contains(data[obj.open:last.keyStart], []byte("\n")) {
		sep = ",\n" + indent
	}
	text := sep + string(quotedKey) + ": " + string(value)
	return splice(data, last.valueEnd, last.valueEnd, []byte(text))
}

// lineIndent returns the leading whitespace of the line holding data[i].
func lineIndent(data []byte, i int) string {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := start
	for end < len(data) && (data[end] == ' ' || data[end] == '\t') {
		end++
	}
	return string(data[start:end])
}

// checkOnlyDigestChanged decodes both versions and requires them to be
// equal except for release.imageDigest, which must be digest.
func checkOnlyDigestChanged(before, after []byte, digest string) error {
	var b, a map[string]any
	if err := json.Unmarshal(before, &b); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if err := json.Unmarshal(after, &a); err != nil {
		return fmt.Errorf("rewriting release.imageDigest produced invalid JSON (a bug): %w", err)
	}
	rel, _ := b["release"].(map[string]any)
	if rel == nil {
		rel = map[string]any{}
	}
	rel["imageDigest"] = digest
	b["release"] = rel
	if !reflect.DeepEqual(a, b) {
		return errors.New("rewriting release.imageDigest changed other fields (a bug); the file was left as it was")
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// SetSection returns a copy of the stack file data with the top-level
// member key set to value (JSON), replaced in place or appended with the
// file's own indentation; every other byte is kept, and the result is
// checked to differ from the input only in that member (`make bootstrap`
// writes its "bootstrap" section this way).
func SetSection(data []byte, key string, value []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON value: %w", key, err)
	}
	top, err := scanObject(data, 0)
	if err != nil {
		return nil, err
	}
	var out []byte
	if m, ok := top.member(key); ok {
		out = splice(data, m.valueStart, m.valueEnd, value)
	} else {
		out = insertMember(data, top, key, value)
	}
	var b, a map[string]any
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if err := json.Unmarshal(out, &a); err != nil {
		return nil, fmt.Errorf("rewriting %s produced invalid JSON (a bug): %w", key, err)
	}
	b[key] = v
	if !reflect.DeepEqual(a, b) {
		return nil, fmt.Errorf("rewriting %s changed other fields (a bug); the file was left as it was", key)
	}
	return out, nil
}
