package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// StatefulTypes hold data a replacement or deletion would lose.
var StatefulTypes = []string{
	TypeRDSInstance,
	TypeReplicationGroup,
	TypeLogGroup,
	TypeECRRepository,
	TypeBucketV2,
	TypeBucket,
	TypeKMSKey,
	"aws:rds/cluster:Cluster",
	"aws:secretsmanager/secret:Secret",
}

// IsStateful reports whether resources of typ hold data.
func IsStateful(typ string) bool { return contains(StatefulTypes, typ) }

// StatefulRules require protection of stateful resources in prod.
func StatefulRules() []Rule {
	return []Rule{{
		ID:           "SHIPYARD-STATEFUL-1",
		Title:        "Stateful resources are protected in prod",
		Reason:       "neither pulumi destroy nor a replacement may delete production data",
		Types:        StatefulTypes,
		ProdOnly:     true,
		ReadsOptions: true,
		Check: func(r Resource) []string {
			if !r.Protect {
				return []string{"must be created with pulumi.Protect(true)"}
			}
			return nil
		},
	}}
}

// Destructive step ops of `pulumi preview --json`: they delete a resource's
// current physical instance.
var destructiveOps = []string{"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced", "import-replacement"}

// previewDigest is the part of `pulumi preview --json` CheckPlan reads (see
// pulumi/pkg display/json.go).
type previewDigest struct {
	Steps []previewStep `json:"steps"`
}

type previewStep struct {
	Op             string         `json:"op"`
	URN            string         `json:"urn"`
	OldState       *previewState  `json:"oldState"`
	NewState       *previewState  `json:"newState"`
	ReplaceReasons []string       `json:"replaceReasons"`
	DetailedDiff   map[string]any `json:"detailedDiff"`
}

type previewState struct {
	Type string `json:"type"`
}

// StatefulChange is one destructive step on a stateful resource.
type StatefulChange struct {
	Op, URN, Type  string
	ReplaceReasons []string
}

func (c StatefulChange) String() string {
	s := fmt.Sprintf("%s %s", c.Op, c.URN)
	if len(c.ReplaceReasons) > 0 {
		s += " (replace because of " + strings.Join(c.ReplaceReasons, ", ") + ")"
	}
	return s
}

// PlanError lists the destructive steps a plan would take on stateful
// resources.
type PlanError struct {
	Changes []StatefulChange
}

func (e *PlanError) Error() string {
	lines := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		lines[i] = "  " + c.String()
	}
	return fmt.Sprintf("the plan deletes or replaces %d stateful resource(s):\n%s\nre-run with --allow-stateful-changes if this is intended", len(e.Changes), strings.Join(lines, "\n"))
}

// StatefulChanges returns the destructive steps on stateful resources in a
// `pulumi preview --json` document.
func StatefulChanges(previewJSON io.Reader) ([]StatefulChange, error) {
	var d previewDigest
	dec := json.NewDecoder(previewJSON)
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("guard: empty preview; pipe `pulumi preview --json` in")
		}
		return nil, fmt.Errorf("guard: reading preview JSON: %w", err)
	}
	var out []StatefulChange
	seen := map[string]bool{}
	for _, s := range d.Steps {
		if !contains(destructiveOps, s.Op) {
			continue
		}
		typ := ""
		switch {
		case s.OldState != nil && s.OldState.Type != "":
			typ = s.OldState.Type
		case s.NewState != nil && s.NewState.Type != "":
			typ = s.NewState.Type
		default:
			typ = typeOfURN(s.URN)
		}
		if !IsStateful(typ) {
			continue
		}
		// A replacement appears as replace, create-replacement and
		// delete-replaced steps of one URN: report it once.
		if seen[s.URN] {
			continue
		}
		seen[s.URN] = true
		out = append(out, StatefulChange{Op: s.Op, URN: s.URN, Type: typ, ReplaceReasons: s.ReplaceReasons})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out, nil
}

// CheckPlan refuses a plan (`pulumi preview --json` output) that deletes or
// replaces a stateful resource, unless allow. An unreadable plan is an
// error either way.
func CheckPlan(previewJSON io.Reader, allow bool) error {
	changes, err := StatefulChanges(previewJSON)
	if err != nil {
		return err
	}
	if len(changes) > 0 && !allow {
		return &PlanError{Changes: changes}
	}
	return nil
}
