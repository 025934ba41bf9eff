package stackconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shipyard-kit/shipyard/internal/preflight"
)

// SchemaFile is the JSON Schema every stack file references, in the config
// directory.
const SchemaFile = "schema.json"

// DirEnv overrides where FindDir looks for the config directory.
const DirEnv = "SHIPYARD_CONFIG_DIR"

// ProdStack is the name of the production stack. A stack is prod exactly
// when its file is config/prod.json: the prod-only rules (multi-AZ
// database, deletion protection, at least two web tasks) apply to it, and
// the docker stacks must run its Postgres and Redis major versions.
const ProdStack = "prod"

// DevStack is the name of the development stack: the only aws stack that may
// keep its logs less than MinLogRetentionDays (a cost exception, written in
// infra/policy's Exceptions).
const DevStack = "dev"

// MinLogRetentionDays is CloudWatch.16's default minimum retention; every
// aws stack but DevStack keeps its logs at least this long.
const MinLogRetentionDays = 365

// longRetentions are CloudWatch's retentions of at least
// MinLogRetentionDays (the schema's logging.retentionDays enum).
var longRetentions = []int{365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// IsProd reports whether c is the production stack (see ProdStack).
func (c *Config) IsProd() bool { return c.Stack == ProdStack }

// FindDir returns the config directory: $SHIPYARD_CONFIG_DIR when set,
// otherwise the first "config" directory holding schema.json found walking
// up from start (the Pulumi program runs in stacks/, tests in their package
// directory).
func FindDir(getenv func(string) string, start string) (string, error) {
	if d := getenv(DirEnv); d != "" {
		if _, err := os.Stat(filepath.Join(d, SchemaFile)); err != nil {
			return "", fmt.Errorf("%s=%s: no %s there: %w", DirEnv, d, SchemaFile, err)
		}
		return d, nil
	}
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("finding config directory: %w", err)
	}
	for {
		candidate := filepath.Join(dir, "config")
		if _, err := os.Stat(filepath.Join(candidate, SchemaFile)); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no config/%s found in %s or any parent; set %s", SchemaFile, start, DirEnv)
		}
		dir = parent
	}
}

// StackNamePattern describes valid stack names in messages and docs:
// lowercase letters, digits and inner hyphens, at most 20 characters (a
// stack names AWS resources, "shipyard-<stack>-…", and Docker
// containers), not ending in -pr-<n>, the names of PR environments
// (PreviewOf). The rule is internal/preflight's, the one copy (the
// Makefile's quick check builds it without this package).
const StackNamePattern = preflight.StackNamePattern

// ValidStackName reports whether name can be a stack's name
// (StackNamePattern).
func ValidStackName(name string) bool { return preflight.ValidStackName(name) }

// Stacks lists the stack names in dir, sorted: every *.json file but the
// schema whose name is a valid stack name (ValidStackName). Other files,
// such as dev.old.json, are not stacks (see Ignored); a file named as a PR
// environment, such as dev-pr-7.json, is an error
// (preflight.ReservedStackFile).
func Stacks(dir string) ([]string, error) {
	names, _, err := listStacks(dir)
	return names, err
}

// Ignored lists the *.json files of dir (besides the schema) that are not
// stacks because their name is not a valid stack name, e.g. dev.old.json.
func Ignored(dir string) ([]string, error) {
	_, ignored, err := listStacks(dir)
	return ignored, err
}

func listStacks(dir string) (names, ignored []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("listing stacks: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == SchemaFile || filepath.Ext(n) != ".json" {
			continue
		}
		name := strings.TrimSuffix(n, ".json")
		if err := preflight.ReservedStackFile(filepath.Join(dir, n), name); err != nil {
			return nil, nil, err
		}
		if ValidStackName(name) {
			names = append(names, name)
		} else {
			ignored = append(ignored, n)
		}
	}
	sort.Strings(names)
	return names, ignored, nil
}

// Load reads config/<stack>.json from dir, applies defaults and validates
// it: the schema, the cross-field rules and the cross-stack rules (a docker
// stack is checked against prod.json, and prod.json against every docker
// stack, when those files exist and parse). Every problem is reported at
// once in a *ValidationError wrapped with the file's path.
func Load(dir, stack string) (*Config, error) {
	d, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	if base, n, ok := PreviewOf(stack); ok && !slices.Contains(d.stacks, stack) && slices.Contains(d.stacks, base) {
		return loadPreview(dir, stack, base, n)
	}
	cfg, ps, err := d.parse(stack)
	if err != nil {
		return nil, err
	}
	others := map[string]*Config{}
	for _, name := range d.stacks {
		if name == stack || !(name == ProdStack || stack == ProdStack) {
			continue
		}
		if o, _, err := d.parse(name); err == nil {
			others[name] = o
		}
	}
	ps = append(ps, d.located(stack, withoutCovered(CrossStackProblems(cfg, others), ps))...)
	if err := ps.err(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.path(stack), err)
	}
	return cfg, nil
}

// LoadAll loads every stack in dir like Load, checking the cross-stack
// rules between them. It returns the stacks that are valid and, when any
// is not, an error joining one error per bad file (each wrapping a
// *ValidationError or naming the file's syntax error).
func LoadAll(dir string) (map[string]*Config, error) {
	d, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	parsed := map[string]*Config{}
	own := map[string]problems{}
	var errs []error
	for _, name := range d.stacks {
		cfg, ps, err := d.parse(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parsed[name], own[name] = cfg, ps
	}
	out := map[string]*Config{}
	for _, name := range d.stacks {
		cfg, ok := parsed[name]
		if !ok {
			continue
		}
		others := map[string]*Config{}
		for n, o := range parsed {
			if n != name {
				others[n] = o
			}
		}
		ps := append(own[name], d.located(name, withoutCovered(CrossStackProblems(cfg, others), own[name]))...)
		if err := ps.err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.path(name), err))
			continue
		}
		out[name] = cfg
	}
	return out, errors.Join(errs...)
}

// configDir is a config directory whose schema has been read.
type configDir struct {
	dir    string
	stacks []string
	schema []byte
}

func openDir(dir string) (*configDir, error) {
	stacks, err := Stacks(dir)
	if err != nil {
		return nil, err
	}
	schema, err := os.ReadFile(filepath.Join(dir, SchemaFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("schema %s is missing; every stack file is validated against it", filepath.Join(dir, SchemaFile))
		}
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	if _, err := loadSchema(schema); err != nil {
		return nil, fmt.Errorf("in %s: %w", dir, err)
	}
	return &configDir{dir: dir, stacks: stacks, schema: schema}, nil
}

func (d *configDir) path(stack string) string { return filepath.Join(d.dir, stack+".json") }

// located sets the line numbers of problems found after parsing (the
// cross-stack rules) from the stack's file.
func (d *configDir) located(stack string, ps problems) problems {
	if len(ps) == 0 {
		return ps
	}
	if data, err := os.ReadFile(d.path(stack)); err == nil {
		if lines, err := keyLines(bytes.TrimPrefix(data, utf8BOM)); err == nil {
			ps.locate(lines)
		}
	}
	return ps
}

// parse reads and parses one stack file. The error is about the file as a
// whole (missing, malformed); problems are the validation problems.
func (d *configDir) parse(stack string) (*Config, problems, error) {
	found := false
	for _, k := range d.stacks {
		found = found || k == stack
	}
	if !found {
		return nil, nil, preflight.UnknownStack(d.dir, stack, d.stacks)
	}
	data, err := os.ReadFile(d.path(stack))
	if err != nil {
		return nil, nil, fmt.Errorf("reading stack config: %w", err)
	}
	cfg, ps, err := parse(stack, data, d.schema)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.path(stack), err)
	}
	return cfg, ps, nil
}

// Parse decodes one stack file's bytes, applies defaults and validates them
// against the schema and the cross-field rules (not the cross-stack rules,
// which need the other files: see Load and LoadAll). Schema and
// cross-field problems are reported together in one *ValidationError.
func Parse(stack string, data, schema []byte) (*Config, error) {
	cfg, ps, err := parse(stack, data, schema)
	if err != nil {
		return nil, err
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse returns the decoded config (defaults applied, best effort when
// there are problems) and its problems, or an error when the data cannot
// be read as JSON at all or the schema is unusable.
func parse(stack string, data, schema []byte) (*Config, problems, error) {
	sd, err := loadSchema(schema)
	if err != nil {
		return nil, nil, err
	}
	// A UTF-8 byte order mark (some Windows editors write one) is not
	// JSON; it carries no meaning in UTF-8, so it is dropped.
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("empty file; want a JSON object such as {\"target\": \"docker\"}")
	}
	// encoding/json reads a byte that is not UTF-8 as U+FFFD: the value
	// (an app.env entry, a domain) would carry a character the file does
	// not hold.
	if line, col, err := preflight.InvalidUTF8(data); err != nil {
		return nil, nil, fmt.Errorf("invalid UTF-8 at line %d, column %d: %w", line, col, err)
	}
	inst, err := decodeInstance(data)
	if err != nil {
		return nil, nil, err
	}
	lines, err := keyLines(data)
	if err != nil {
		return nil, nil, err
	}
	var ps problems
	if verr := sd.compiled.Validate(inst); verr != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(verr, &ve) {
			return nil, nil, fmt.Errorf("schema: %w", verr)
		}
		ps = sd.schemaProblems(inst, ve)
	}
	sd.hugeNumbers(&ps, inst)
	if _, isObject := inst.(map[string]any); !isObject {
		if len(ps) == 0 {
			ps.add("", "%s is not a JSON object; want an object such as {\"target\": \"docker\"}", display(inst))
		}
		ps.locate(lines)
		return nil, ps, nil
	}

	// Decode into the defaults. encoding/json keeps going after a wrong
	// type or an unknown field, so the rest of the file is still read and
	// the cross-field rules still run; those errors are already schema
	// problems, unless schema.json and the Go types disagree. JSON Schema
	// counts 1e2 and 100.0 as the integer 100, and so does the decoding:
	// integral numbers are rewritten as integers first.
	cfg := Defaults()
	normalized, err := json.Marshal(integralNumbers(inst))
	if err != nil {
		return nil, nil, fmt.Errorf("re-encoding the file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(normalized))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil && len(ps) == 0 {
		ps.add(decodeErrorPath(err), "%v (%v: fix config/schema.json or infra/stackconfig)", err, errSchemaDrift)
	}
	cfg.Stack = stack

	var cross problems
	cfg.check(&cross)
	ps = append(ps, withoutCovered(cross, ps)...)
	ps.locate(lines)
	return &cfg, ps, nil
}

// decodeInstance reads the file as a JSON value for the schema validator,
// naming line and column on a syntax error.
func decodeInstance(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, describeJSONError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, dec.InputOffset())
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: unexpected data after the top-level value", line, col)
	}
	return v, nil
}

// withoutCovered drops the cross-field problems at (or under) a path the
// schema already reported, or depending on such a field: a field with the
// wrong type keeps its default, and a rule judging that default would only
// add noise.
func withoutCovered(cross, schema problems) problems {
	var out problems
	for _, c := range cross {
		covered := false
		for _, path := range append([]string{c.Path}, strings.Split(c.about, "\x00")...) {
			for _, s := range schema {
				if path != "" && (path == s.Path || strings.HasPrefix(path, s.Path+".") || strings.HasPrefix(path, s.Path+"[")) {
					covered = true
				}
			}
		}
		if !covered {
			out = append(out, c)
		}
	}
	return out
}

// integralNumbers returns v with every number written with a fraction or
// an exponent but integral in value (1e2, 100.0) rewritten as an integer
// (100), so that it decodes into an int field. Numbers beyond 2^53 are
// left alone: float64 would not hold them exactly.
func integralNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = integralNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = integralNumbers(e)
		}
		return out
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			return v
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return v
		}
		return json.Number(strconv.FormatInt(int64(f), 10))
	default:
		return v
	}
}

// hugeNumbers adds a problem for every number of the file beyond float64
// (1e400) that the schema did not already report: no field can hold it.
func (sd *schemaDoc) hugeNumbers(ps *problems, inst any) {
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(append(slices.Clip(path), k), e)
			}
		case []any:
			for i, e := range v {
				walk(append(slices.Clip(path), strconv.Itoa(i)), e)
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err == nil {
				return
			}
			p := dotted(inst, path, "")
			allowed := "a number from -1.8e308 to 1.8e308"
			if n := sd.node(path); n.get("minimum") != nil || n.get("maximum") != nil {
				allowed = rangeText(n)
			}
			var found problems
			found.add(p, "%s is beyond the largest number a field can hold (about 1.8e308); allowed %s", v, allowed)
			*ps = append(*ps, withoutCovered(found, *ps)...)
		}
	}
	walk(nil, inst)
}

func decodeErrorPath(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return typ.Field
	}
	return ""
}

// describeJSONError turns a decoding error into one naming line and column.
func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset is just after the offending byte.
		line, col := lineCol(data, syn.Offset-1)
		return fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		what := typ.Value
		if typ.Field != "" {
			what = typ.Field + ": " + what
		}
		return fmt.Errorf("line %d, column %d: %s is not a %s", line, col, what, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line, col := lineCol(data, int64(len(data)))
		return fmt.Errorf("invalid JSON at line %d, column %d: unexpected end of file", line, col)
	default:
		return fmt.Errorf("invalid JSON: %w", err)
	}
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	line, col = 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

var utf8BOM = []byte("\xef\xbb\xbf")

// keyLines maps the dotted path of every key in a stack file
// ("services.web.cpu", "app.secrets[0]") to its line, and refuses a key
// that appears twice in one object: encoding/json would silently keep the
// last one.
func keyLines(data []byte) (map[string]int, error) {
	lines := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(data))
	// Numbers stay text: a value float64 cannot hold (1e400) is the
	// schema's to judge, with the field's name and range.
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return describeJSONError(data, err)
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]int{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return describeJSONError(data, err)
				}
				k, _ := kt.(string)
				line, _ := lineCol(data, dec.InputOffset())
				p := k
				if path != "" {
					p = path + "." + k
				}
				if first, dup := seen[k]; dup {
					where := "the top level"
					if path != "" {
						where = path
					}
					return fmt.Errorf("line %d: duplicate key %q in %s (first at line %d); each key may appear once, since JSON parsers disagree on which value wins", line, k, where, first)
				}
				seen[k], lines[p] = line, line
				if err := walk(p); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				p := path + "[" + strconv.Itoa(i) + "]"
				line, _ := lineCol(data, dec.InputOffset())
				lines[p] = line
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		if err != nil {
			return describeJSONError(data, err)
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	return lines, nil
}
