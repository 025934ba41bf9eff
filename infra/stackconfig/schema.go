package stackconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaDoc is a parsed config/schema.json: the compiled validator, and the
// document itself (with key order kept) for messages, docs and tests.
type schemaDoc struct {
	compiled *jsonschema.Schema
	root     *omap
}

// schemaCache keeps the last compiled schema: every Load compiles the same
// bytes, and compiling is the slow part of validation.
var schemaCache struct {
	sync.Mutex
	key [sha256.Size]byte
	doc *schemaDoc
}

// loadSchema parses and compiles a schema document.
func loadSchema(data []byte) (*schemaDoc, error) {
	key := sha256.Sum256(data)
	schemaCache.Lock()
	defer schemaCache.Unlock()
	if schemaCache.doc != nil && schemaCache.key == key {
		return schemaCache.doc, nil
	}
	root, err := decodeOrdered(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SchemaFile, err)
	}
	obj, ok := root.(*omap)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object", SchemaFile)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SchemaFile, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(SchemaFile, doc); err != nil {
		return nil, fmt.Errorf("loading %s: %w", SchemaFile, err)
	}
	sch, err := c.Compile(SchemaFile)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", SchemaFile, err)
	}
	sd := &schemaDoc{compiled: sch, root: obj}
	schemaCache.key, schemaCache.doc = key, sd
	return sd, nil
}

// omap is a JSON object that remembers its key order.
type omap struct {
	keys []string
	vals map[string]any
}

func (m *omap) get(k string) any {
	if m == nil {
		return nil
	}
	return m.vals[k]
}

func (m *omap) obj(k string) *omap {
	o, _ := m.get(k).(*omap)
	return o
}

func (m *omap) str(k string) string {
	s, _ := m.get(k).(string)
	return s
}

func (m *omap) has(k string) bool {
	if m == nil {
		return false
	}
	_, ok := m.vals[k]
	return ok
}

// plain converts v (possibly holding *omap) to the encoding/json form.
func plain(v any) any {
	switch v := v.(type) {
	case *omap:
		out := make(map[string]any, len(v.keys))
		for _, k := range v.keys {
			out[k] = plain(v.vals[k])
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	default:
		return v
	}
}

// decodeOrdered decodes one JSON value keeping object key order; numbers
// are json.Number.
func decodeOrdered(data []byte) (any, error) {
	// Report syntax errors the same way as for stack files.
	if _, err := decodeInstance(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, describeJSONError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, dec.InputOffset())
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: unexpected data after the top-level value", line, col)
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &omap{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := m.vals[k]; !dup {
					m.keys = append(m.keys, k)
				}
				m.vals[k] = v
			}
			_, err := dec.Token()
			return m, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// resolve returns node with a local "$ref" ("#/$defs/name") merged in: the
// referenced schema, overlaid by node's own keywords (so a property can
// refine a shared definition's defaults).
func (sd *schemaDoc) resolve(node *omap) *omap { return sd.resolveDepth(node, 0) }

func (sd *schemaDoc) resolveDepth(node *omap, depth int) *omap {
	ref := node.str("$ref")
	if !strings.HasPrefix(ref, "#/$defs/") || depth > 16 {
		return node
	}
	base := sd.root.obj("$defs").obj(strings.TrimPrefix(ref, "#/$defs/"))
	if base == nil {
		return node
	}
	return merge(sd.resolveDepth(base, depth+1), node)
}

// merge overlays b on a, merging nested objects key by key.
func merge(a, b *omap) *omap {
	out := &omap{vals: map[string]any{}}
	for _, k := range a.keys {
		out.keys = append(out.keys, k)
		out.vals[k] = a.vals[k]
	}
	for _, k := range b.keys {
		if k == "$ref" {
			continue
		}
		bv := b.vals[k]
		if av, ok := out.vals[k]; ok {
			ao, aok := av.(*omap)
			bo, bok := bv.(*omap)
			if aok && bok {
				out.vals[k] = merge(ao, bo)
				continue
			}
		} else {
			out.keys = append(out.keys, k)
		}
		out.vals[k] = bv
	}
	return out
}

// node returns the (resolved) schema of the instance at path, or nil.
func (sd *schemaDoc) node(path []string) *omap {
	n := sd.resolve(sd.root)
	for _, seg := range path {
		var next *omap
		switch {
		case n.obj("properties").has(seg):
			next = n.obj("properties").obj(seg)
		case n.obj("additionalProperties") != nil:
			next = n.obj("additionalProperties")
		case n.obj("items") != nil:
			next = n.obj("items")
		}
		if next == nil {
			return nil
		}
		n = sd.resolve(next)
	}
	return n
}

// schemaField is one property of the schema, for docs and tests.
type schemaField struct {
	Path []string
	Node *omap // resolved
}

// fields lists every property of the schema depth first, in file order.
// Objects with declared properties are listed before their properties.
func (sd *schemaDoc) fields() []schemaField {
	var out []schemaField
	var walk func(path []string, n *omap)
	walk = func(path []string, n *omap) {
		props := n.obj("properties")
		if props == nil || len(path) > 16 { // a recursive schema stops here
			return
		}
		for _, k := range props.keys {
			child := sd.resolve(props.obj(k))
			p := append(append([]string(nil), path...), k)
			out = append(out, schemaField{Path: p, Node: child})
			walk(p, child)
		}
	}
	walk(nil, sd.resolve(sd.root))
	return out
}

// schemaProblems converts a jsonschema validation error into Problems with
// dotted paths and the allowed values. inst is the validated instance.
func (sd *schemaDoc) schemaProblems(inst any, verr *jsonschema.ValidationError) problems {
	var ps problems
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		loc := e.InstanceLocation
		switch k := e.ErrorKind.(type) {
		case *kind.PropertyNames:
			// jsonschema v6.0.3 sets this error's InstanceLocation to a
			// slice it keeps reusing; the schema location is reliable.
			if l, ok := instancePathOf(e.SchemaURL, "propertyNames"); ok {
				loc = l
			}
			n := sd.node(loc).obj("propertyNames")
			if enum, ok := n.get("enum").([]any); ok {
				vals := make([]string, len(enum))
				for i, w := range enum {
					vals[i] = display(w)
				}
				ps.add(dotted(inst, loc, k.Property), "%q is not an allowed name; allowed %s", k.Property, strings.Join(vals, ", "))
				return
			}
			ps.add(dotted(inst, loc, k.Property), "%q is not %s", k.Property, hintOr(n, "an allowed name"))
			return
		case *kind.AdditionalProperties:
			allowed := sd.node(loc).obj("properties")
			var names []string
			if allowed != nil {
				names = append(names, allowed.keys...)
				sort.Strings(names)
			}
			for _, p := range k.Properties {
				msg := "unknown field"
				if s := suggest(p, names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				ps.add(dotted(inst, loc, p), "%s; allowed: %s", msg, strings.Join(names, ", "))
			}
			return
		case *kind.Required:
			for _, m := range k.Missing {
				msg := "is required"
				if w := wantedText(sd.node(append(slices.Clip(loc), m))); w != "" {
					msg += "; " + w
				}
				ps.add(dotted(inst, loc, m), "%s", msg)
			}
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		n := sd.node(loc)
		path := dotted(inst, loc, "")
		got := display(valueAt(inst, loc))
		switch k := e.ErrorKind.(type) {
		case *kind.Type:
			ps.add(path, "%s is %s; want %s", got, article(k.Got), orList(k.Want))
		case *kind.Enum:
			vals := make([]string, len(k.Want))
			for i, w := range k.Want {
				vals[i] = display(w)
			}
			name := n.str("x-valueName")
			if name == "" {
				name = "an allowed value"
			}
			ps.add(path, "%s is not %s; allowed %s", got, name, strings.Join(vals, ", "))
		case *kind.Const:
			ps.add(path, "%s is not allowed; allowed %s", got, display(k.Want))
		case *kind.Minimum, *kind.ExclusiveMinimum:
			ps.add(path, "%s is too small; allowed %s", got, rangeText(n))
		case *kind.Maximum, *kind.ExclusiveMaximum:
			ps.add(path, "%s is too large; allowed %s", got, rangeText(n))
		case *kind.MultipleOf:
			ps.add(path, "%s is not a multiple of %v", got, n.get("multipleOf"))
		case *kind.Pattern:
			ps.add(path, "%s is not %s", got, hintOr(n, "matching "+strconv.Quote(k.Want)))
		case *kind.MinLength:
			ps.add(path, "%s is too short; want at least %d characters", got, k.Want)
		case *kind.MaxLength:
			ps.add(path, "is %d characters long; allowed at most %d", k.Got, k.Want)
		case *kind.MinItems:
			ps.add(path, "has %d item(s); want at least %d", k.Got, k.Want)
		case *kind.MaxItems:
			ps.add(path, "has %d item(s); allowed at most %d", k.Got, k.Want)
		case *kind.MaxProperties:
			ps.add(path, "has %d entries; allowed at most %d", k.Got, k.Want)
		case *kind.UniqueItems:
			ps.add(path, "items %d and %d are equal; items must be unique", k.Duplicates[0], k.Duplicates[1])
		default:
			ps.add(path, "%s", e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))
		}
	}
	walk(verr)
	return ps
}

// instancePathOf maps a schema location such as
// "…schema.json#/properties/app/properties/env/propertyNames" to the
// instance path it applies to (["app", "env"]); ok is false when the
// location passes through anything but "properties".
func instancePathOf(schemaURL, keyword string) (path []string, ok bool) {
	_, frag, found := strings.Cut(schemaURL, "#")
	if !found {
		return nil, false
	}
	segs := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	if len(segs) == 0 || segs[len(segs)-1] != keyword {
		return nil, false
	}
	segs = segs[:len(segs)-1]
	if len(segs)%2 != 0 {
		return nil, false
	}
	for i := 0; i < len(segs); i += 2 {
		if segs[i] != "properties" {
			return nil, false
		}
		name := strings.ReplaceAll(strings.ReplaceAll(segs[i+1], "~1", "/"), "~0", "~")
		path = append(path, name)
	}
	return path, true
}

// dotted renders an instance location as a dotted path
// ("services.web.cpu", "logging.destinations[1]"), plus an optional last
// property name.
func dotted(inst any, loc []string, last string) string {
	var b strings.Builder
	v := inst
	for _, seg := range loc {
		switch cur := v.(type) {
		case []any:
			b.WriteString("[" + seg + "]")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(cur) {
				v = cur[i]
			} else {
				v = nil
			}
		case map[string]any:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
			v = cur[seg]
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
			v = nil
		}
	}
	if last != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(last)
	}
	return b.String()
}

func valueAt(inst any, loc []string) any {
	v := inst
	for _, seg := range loc {
		switch cur := v.(type) {
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(cur) {
				return nil
			}
			v = cur[i]
		case map[string]any:
			v = cur[seg]
		default:
			return nil
		}
	}
	return v
}

// display renders a JSON value for a message, shortened.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if r := []rune(string(b)); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return string(b)
}

// wantedText says what a field's schema allows, for a field that is
// missing: its values ("allowed \"aws\", \"docker\""), its form ("want an
// AWS region such as \"eu-west-1\"") or its type ("want a string"); ""
// when the schema does not say.
func wantedText(n *omap) string {
	if enum, ok := n.get("enum").([]any); ok {
		vals := make([]string, len(enum))
		for i, w := range enum {
			vals[i] = display(plain(w))
		}
		return "allowed " + strings.Join(vals, ", ")
	}
	if h := n.str("x-patternHint"); h != "" {
		return "want " + h
	}
	if lo, hi := n.get("minimum"), n.get("maximum"); lo != nil || hi != nil {
		return "allowed " + rangeText(n)
	}
	if t := n.str("type"); t != "" {
		return "want " + article(t)
	}
	return ""
}

func article(typ string) string {
	switch typ {
	case "array", "integer", "object":
		return "an " + typ
	case "null":
		return "null"
	default:
		return "a " + typ
	}
}

func orList(types []string) string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = article(t)
	}
	return strings.Join(out, " or ")
}

func hintOr(n *omap, fallback string) string {
	if h := n.str("x-patternHint"); h != "" {
		return h
	}
	return fallback
}

// rangeText describes a node's numeric bounds: "2 to 6", "at least 2".
func rangeText(n *omap) string {
	lo, hi := n.get("minimum"), n.get("maximum")
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%v to %v", lo, hi)
	case lo != nil:
		return fmt.Sprintf("at least %v", lo)
	case hi != nil:
		return fmt.Sprintf("at most %v", hi)
	}
	return "a value within the schema's bounds"
}

// suggest returns the name in names closest to s when it is a likely typo.
func suggest(s string, names []string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// errSchemaDrift marks a file the schema accepts but the Go types reject:
// a bug in schema.json or config.go, never in the stack file.
var errSchemaDrift = errors.New("schema.json and the Go types disagree")
