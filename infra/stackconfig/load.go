package stackconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SchemaFile is the JSON Schema every stack file references, in the config
// directory.
const SchemaFile = "schema.json"

// DirEnv overrides where FindDir looks for the config directory.
const DirEnv = "SHIPYARD_CONFIG_DIR"

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

// Stacks lists the stack names in dir: every *.json file but the schema,
// sorted.
func Stacks(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing stacks: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == SchemaFile || filepath.Ext(n) != ".json" {
			continue
		}
		names = append(names, strings.TrimSuffix(n, ".json"))
	}
	sort.Strings(names)
	return names, nil
}

// Load reads config/<stack>.json from dir, applies defaults and validates
// it. Every problem is reported at once in a *ValidationError.
func Load(dir, stack string) (*Config, error) {
	known, err := Stacks(dir)
	if err != nil {
		return nil, err
	}
	found := false
	for _, k := range known {
		found = found || k == stack
	}
	if !found {
		return nil, fmt.Errorf("unknown stack %q: no %s; known stacks: %s",
			stack, filepath.Join(dir, stack+".json"), strings.Join(known, ", "))
	}
	schema, err := os.ReadFile(filepath.Join(dir, SchemaFile))
	if err != nil {
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	path := filepath.Join(dir, stack+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading stack config: %w", err)
	}
	cfg, err := Parse(stack, data, schema)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes one stack file's bytes, applies defaults and validates them
// against the schema and the cross-field rules.
func Parse(stack string, data, schema []byte) (*Config, error) {
	if err := validateSchema(data, schema); err != nil {
		return nil, err
	}
	cfg := Defaults()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, describeJSONError(data, err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the top-level JSON object")
	}
	cfg.Stack = stack
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// describeJSONError turns a decoding error into one naming line and column.
func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		return fmt.Errorf("line %d, column %d: %s: %s is not a %s", line, col, typ.Field, typ.Value, typ.Type)
	case errors.Is(err, fs.ErrNotExist):
		return err
	default:
		return fmt.Errorf("invalid JSON: %w", err)
	}
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
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
