package stackconfig

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
)

//go:embed docs.md.tmpl
var docsTemplate string

// ConfigDocs renders docs/config.md: the prose in docs.md.tmpl, the field
// reference generated from schema (the bytes of config/schema.json), the
// cross-field rules (Rules) and the environment (EnvSpecs). A test fails
// when docs/config.md differs from it; `make config-docs` rewrites it.
func ConfigDocs(schema []byte) ([]byte, error) {
	sd, err := loadSchema(schema)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("config.md").Parse(docsTemplate)
	if err != nil {
		return nil, err
	}
	plainEnv, secretEnv := EnvSpecs()
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]any{
		"Reference": sd.reference(),
		"Rules":     Rules(),
		"Env":       plainEnv,
		"Secrets":   secretEnv,
		"Prod":      ProdStack,
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// reference renders the field reference: one table per top-level field,
// and one table per shared definition ($defs) listing its fields once with
// each referrer's default.
func (sd *schemaDoc) reference() string {
	var b strings.Builder
	root := sd.resolve(sd.root)
	props := root.obj("properties")
	required := map[string]bool{}
	if req, ok := root.get("required").([]any); ok {
		for _, r := range req {
			required[fmt.Sprint(r)] = true
		}
	}
	type ref struct {
		def, parent string
		names       []string
		nodes       []*omap
	}
	var refs []*ref
	refOf := map[string]*ref{}
	for _, top := range props.keys {
		raw := props.obj(top)
		n := sd.resolve(raw)
		fmt.Fprintf(&b, "### `%s`\n\n", top)
		if required[top] {
			b.WriteString("**Required.**\n\n")
		}
		if n.obj("properties") == nil {
			b.WriteString(tableHeader)
			b.WriteString(row(top, n))
			b.WriteString("\n")
			continue
		}
		b.WriteString(n.str("description") + "\n\n" + tableHeader)
		var walk func(path string, n *omap)
		walk = func(path string, n *omap) {
			ps := n.obj("properties")
			if strings.Count(path, ".") > 16 { // a recursive schema stops here
				return
			}
			for _, k := range ps.keys {
				raw := ps.obj(k)
				child := sd.resolve(raw)
				p := path + "." + k
				b.WriteString(row(p, child))
				if def := strings.TrimPrefix(raw.str("$ref"), "#/$defs/"); def != "" {
					key := def + "\x00" + path
					r := refOf[key]
					if r == nil {
						r = &ref{def: def, parent: path}
						refOf[key] = r
						refs = append(refs, r)
					}
					r.names = append(r.names, k)
					r.nodes = append(r.nodes, child)
					continue
				}
				if child.obj("properties") != nil {
					walk(p, child)
				}
			}
		}
		walk(top, n)
		b.WriteString("\n")
	}
	for _, r := range refs {
		prefix := r.parent + ".<" + r.def + ">"
		def := sd.resolve(sd.root.obj("$defs").obj(r.def))
		fmt.Fprintf(&b, "### `%s`\n\n%s `<%s>` is %s:\n\n%s", prefix, def.str("description"), r.def, joinCode(r.parent, r.names), tableHeader)
		var walk func(path string, rel []string)
		walk = func(path string, rel []string) {
			if len(rel) > 16 { // a recursive definition stops here
				return
			}
			base := def
			for _, seg := range rel {
				base = sd.resolve(base.obj("properties").obj(seg))
			}
			ps := base.obj("properties")
			for _, k := range ps.keys {
				sub := append(append([]string(nil), rel...), k)
				child := sd.resolve(ps.obj(k))
				// Each referrer's own default for this field.
				var defaults []string
				same, first := true, ""
				for i, rn := range r.nodes {
					n := rn
					for _, seg := range sub {
						n = sd.resolve(n.obj("properties").obj(seg))
					}
					d := defaultText(n)
					defaults = append(defaults, r.names[i]+": "+d)
					if i == 0 {
						first = d
					}
					same = same && d == first
				}
				merged := child
				if same && first != defaultText(child) {
					merged = merge(child, &omap{keys: []string{"x-defaultText"}, vals: map[string]any{"x-defaultText": first}})
				} else if !same {
					merged = merge(child, &omap{keys: []string{"x-defaultText"}, vals: map[string]any{"x-defaultText": strings.Join(defaults, "; ")}})
				}
				p := path + "." + k
				b.WriteString(row(p, merged))
				if child.obj("properties") != nil {
					walk(p, sub)
				}
			}
		}
		walk(prefix, nil)
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func joinCode(parent string, names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	if len(out) > 1 {
		return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
	}
	return strings.Join(out, ", ")
}

const tableHeader = "| Field | Type | Default | Allowed | Description |\n| --- | --- | --- | --- | --- |\n"

func row(path string, n *omap) string {
	def := n.str("x-defaultText")
	if def == "" {
		def = defaultText(n)
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s |\n", path, cell(typeText(n)), cell(def), cell(allowedText(n)), cell(n.str("description")))
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func code(v any) string {
	b, _ := json.Marshal(plain(v))
	return "`" + string(b) + "`"
}

func typeText(n *omap) string {
	t := n.str("type")
	if t == "array" {
		if it := n.obj("items"); it != nil && it.str("type") != "" {
			return "array of " + it.str("type")
		}
	}
	if t == "object" && n.obj("properties") == nil {
		if ap := n.obj("additionalProperties"); ap != nil && ap.str("type") != "" {
			return "map of " + ap.str("type")
		}
	}
	return t
}

func defaultText(n *omap) string {
	if !n.has("default") {
		if n.obj("properties") != nil {
			return ""
		}
		return "unset"
	}
	return code(n.get("default"))
}

func allowedText(n *omap) string {
	var parts []string
	if e, ok := n.get("enum").([]any); ok {
		vals := make([]string, len(e))
		for i, v := range e {
			vals[i] = code(v)
		}
		parts = append(parts, strings.Join(vals, ", "))
	}
	lo, hi := n.get("minimum"), n.get("maximum")
	switch {
	case lo != nil && hi != nil:
		parts = append(parts, fmt.Sprintf("%v to %v", lo, hi))
	case lo != nil:
		parts = append(parts, fmt.Sprintf("≥ %v", lo))
	case hi != nil:
		parts = append(parts, fmt.Sprintf("≤ %v", hi))
	}
	if p := n.str("pattern"); p != "" {
		if h := n.str("x-patternHint"); strings.Contains(h, p) {
			parts = append(parts, h)
		} else if h != "" {
			parts = append(parts, h+": `"+p+"`")
		} else {
			parts = append(parts, "`"+p+"`")
		}
	}
	if v := n.get("maxLength"); v != nil {
		parts = append(parts, fmt.Sprintf("at most %v characters", v))
	}
	if it := n.obj("items"); it != nil {
		if s := allowedText(it); s != "" {
			parts = append(parts, "items: "+s)
		}
	}
	if v := n.get("minItems"); v != nil {
		parts = append(parts, fmt.Sprintf("at least %v item(s)", v))
	}
	if n.get("uniqueItems") == true {
		parts = append(parts, "no duplicates")
	}
	if pn := n.obj("propertyNames"); pn != nil {
		if s := allowedText(pn); s != "" {
			parts = append(parts, "names: "+s)
		}
	}
	if ap := n.obj("additionalProperties"); ap != nil {
		if s := allowedText(ap); s != "" {
			parts = append(parts, "values: "+s)
		}
	}
	if v := n.get("maxProperties"); v != nil {
		parts = append(parts, fmt.Sprintf("at most %v entries", v))
	}
	return strings.Join(parts, "; ")
}
