package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// policyDoc is an IAM / resource / key policy, leniently decoded: Statement,
// Action, Resource and principals may each be a string or a list.
type policyDoc struct {
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Principal principalSet
	Action    stringList
	NotAction stringList
	Resource  stringList
	Condition map[string]map[string]any
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

type principalSet struct {
	Any     bool
	AWS     stringList
	Service stringList
}

func (p *principalSet) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		p.Any = one == "*"
		return nil
	}
	var m struct {
		AWS     stringList
		Service stringList
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	p.AWS, p.Service = m.AWS, m.Service
	return nil
}

func (d *policyDoc) UnmarshalJSON(b []byte) error {
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw.Statement) == 0 {
		return nil
	}
	var one policyStatement
	if err := json.Unmarshal(raw.Statement, &one); err == nil && raw.Statement[0] == '{' {
		d.Statement = []policyStatement{one}
		return nil
	}
	return json.Unmarshal(raw.Statement, &d.Statement)
}

func parsePolicy(s string) (policyDoc, error) {
	var d policyDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return d, fmt.Errorf("policy is not valid JSON: %w", err)
	}
	return d, nil
}

// container is the part of an ECS container definition the rules read.
type container struct {
	Name                   string
	Image                  string
	Command                []string
	User                   string
	ReadonlyRootFilesystem *bool
	Privileged             *bool
	StopTimeout            *int
	Environment            []struct{ Name, Value string }
	Secrets                []struct{ Name, ValueFrom string }
	LogConfiguration       *struct {
		LogDriver string
		Options   map[string]string
	}
	FirelensConfiguration *struct{ Type string }
	PortMappings          []struct{ ContainerPort int }
}

// isLogRouter reports whether c is the FireLens log router.
func (c container) isLogRouter() bool { return c.FirelensConfiguration != nil }

// env returns the value of an environment variable.
func (c container) env(name string) (string, bool) {
	for _, e := range c.Environment {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// containers parses a task definition's containerDefinitions; ok is false
// when the value is not known yet (a preview of a new image or endpoint).
func containers(r Resource) (cs []container, ok bool, err error) {
	s := r.String("containerDefinitions")
	if s == "" {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, true, fmt.Errorf("containerDefinitions is not valid JSON: %w", err)
	}
	return cs, true, nil
}

// seconds parses the app's duration env values: "10s", "1m30s" or "10".
func seconds(v string) (float64, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return float64(n), nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}
