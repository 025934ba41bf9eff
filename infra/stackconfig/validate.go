package stackconfig

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Problem is one thing wrong with a stack file.
type Problem struct {
	// Path is the JSON path of the field, e.g. "services.web.cpu".
	Path string
	// Message says what is wrong and what is allowed.
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError lists every problem found in a stack file.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	return fmt.Sprintf("%d problem(s):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// problems collects Problems; its err is nil when none were added.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return &ValidationError{Problems: ps}
}

// validateSchema checks data against the JSON Schema.
func validateSchema(data, schema []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return fmt.Errorf("reading schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		return fmt.Errorf("loading schema: %w", err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		return fmt.Errorf("compiling schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return describeJSONError(data, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return nil
}

// Validate applies the cross-field rules the schema cannot express and
// returns a *ValidationError listing every problem, or nil.
func (c *Config) Validate() error {
	var ps problems
	if c.Target == TargetAWS && c.AWS.Region == "" {
		ps.add("aws.region", "required when target is %q", TargetAWS)
	}
	return ps.err()
}
