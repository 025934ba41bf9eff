package stackconfig

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func repoSchemaDoc(t *testing.T) *schemaDoc {
	t.Helper()
	sd, err := loadSchema(repoSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// TestSchemaDefaultsEqualDefaults walks every "default" in schema.json and
// compares it with the same path of the marshalled Defaults().
func TestSchemaDefaultsEqualDefaults(t *testing.T) {
	raw, err := json.Marshal(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	var defaults any
	if err := json.Unmarshal(raw, &defaults); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range repoSchemaDoc(t).fields() {
		if !f.Node.has("default") {
			continue
		}
		checked++
		schemaDefault := plain(f.Node.get("default"))
		b, _ := json.Marshal(schemaDefault)
		var want any
		_ = json.Unmarshal(b, &want) // json.Number → float64
		got, ok := lookup(defaults, f.Path)
		if !ok {
			// omitempty: absent means the zero value.
			if isZero(want) {
				continue
			}
			t.Errorf("%s: schema default %s, but Defaults() has no value", strings.Join(f.Path, "."), b)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			t.Errorf("%s: schema default %s, Defaults() %s", strings.Join(f.Path, "."), b, g)
		}
	}
	if checked < 40 {
		t.Errorf("only %d defaults checked", checked)
	}
}

func lookup(v any, path []string) (any, bool) {
	for _, seg := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case float64:
		return v == 0
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// TestEveryDefaultIsInTheSchema is the other direction: every leaf value of
// Defaults() is documented as a default in the schema.
func TestEveryDefaultIsInTheSchema(t *testing.T) {
	raw, _ := json.Marshal(Defaults())
	var defaults map[string]any
	_ = json.Unmarshal(raw, &defaults)
	documented := map[string]bool{}
	for _, f := range repoSchemaDoc(t).fields() {
		if f.Node.has("default") {
			documented[strings.Join(f.Path, ".")] = true
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, e)
			}
			return
		}
		if !documented[path] && !isZero(v) {
			t.Errorf("Defaults() sets %s = %v, but the schema documents no default", path, v)
		}
	}
	walk("", defaults)
}

// TestSchemaDocumentsEveryField checks that every field has a description
// and a type, every object forbids unknown fields, and every leaf has a
// default unless it is one of the fields deliberately unset by default.
func TestSchemaDocumentsEveryField(t *testing.T) {
	unset := map[string]bool{
		"$schema": true, "target": true, "aws.region": true, "loadBalancer.domain": true,
		"loadBalancer.certificateArn": true, "release.imageRepository": true, "release.imageDigest": true,
		// Written by `make bootstrap`; absent until then.
		"bootstrap.backendUrl": true, "bootstrap.secretsProvider": true, "bootstrap.deployRoleArn": true, "bootstrap.previewRoleArn": true,
		// Unset usage is unknown usage: `make cost` shows its unit price.
		"cost.usage.albLcus": true, "cost.usage.natDataGb": true, "cost.usage.vpcEndpointDataGb": true,
		"cost.usage.wafRequestsMillions": true, "cost.usage.logsIngestedGb": true,
		"loadBalancer.hostedZone.id": true, "loadBalancer.hostedZone.name": true, "alarms.noRecipientsReason": true,
	}
	sd := repoSchemaDoc(t)
	if sd.root.str("$schema") != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", sd.root.str("$schema"))
	}
	if ap, ok := sd.root.get("additionalProperties").(bool); !ok || ap {
		t.Error("the top level allows additional properties")
	}
	fields := sd.fields()
	for _, f := range fields {
		path := strings.Join(f.Path, ".")
		if f.Node.str("description") == "" {
			t.Errorf("%s has no description", path)
		}
		typ := f.Node.str("type")
		if typ == "" {
			t.Errorf("%s has no type", path)
		}
		if typ == "object" && f.Node.obj("properties") != nil {
			if ap, ok := f.Node.get("additionalProperties").(bool); !ok || ap {
				t.Errorf("%s allows additional properties", path)
			}
			continue
		}
		if !f.Node.has("default") && !unset[path] {
			t.Errorf("%s has no default", path)
		}
		if typ == "integer" && !f.Node.has("enum") && (!f.Node.has("minimum") || !f.Node.has("maximum")) {
			t.Errorf("%s has no bounds", path)
		}
		if typ == "string" && !f.Node.has("enum") && !f.Node.has("pattern") && path != "$schema" {
			t.Errorf("%s has no pattern nor enum", path)
		}
	}
	if len(fields) < 60 {
		t.Errorf("only %d fields", len(fields))
	}
}

// TestSchemaAndGoTypesHaveTheSameFields compares the schema's properties
// with the json tags of Config, so a field cannot be added to one only.
func TestSchemaAndGoTypesHaveTheSameFields(t *testing.T) {
	goFields := map[string]bool{}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || name == "" {
				continue
			}
			p := prefix + name
			goFields[p] = true
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(p+".", ft)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	schemaFields := map[string]bool{}
	for _, f := range repoSchemaDoc(t).fields() {
		schemaFields[strings.Join(f.Path, ".")] = true
	}
	for _, diff := range []struct {
		a, b       map[string]bool
		onlyIn, of string
	}{{goFields, schemaFields, "Go types", "schema"}, {schemaFields, goFields, "schema", "Go types"}} {
		var missing []string
		for k := range diff.a {
			if !diff.b[k] {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("only in the %s, not in the %s: %v", diff.onlyIn, diff.of, missing)
		}
	}
}

// TestSchemaProblemMessages checks the conversion of each jsonschema error
// kind into a Problem.
func TestSchemaProblemMessages(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		want  []want
	}{
		{"a CloudWatch retention that does not exist lists the allowed ones",
			`{"logging": {"retentionDays": 13}}`,
			[]want{{"logging.retentionDays", "13 is not a CloudWatch retention; allowed 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"}}},
		{"an unknown log destination is reported at its index",
			`{"logging": {"destinations": ["cloudwatch", "syslog"]}}`,
			[]want{{"logging.destinations[1]", `"syslog" is not a log destination; allowed "cloudwatch", "s3"`}}},
		{"no log destination is rejected",
			`{"logging": {"destinations": []}}`,
			[]want{{"logging.destinations", "has 0 item(s); want at least 1"}}},
		{"a duplicate log destination is rejected",
			`{"logging": {"destinations": ["s3", "s3"]}}`,
			[]want{{"logging.destinations", "items 0 and 1 are equal"}}},
		{"a short image digest is rejected with the expected form",
			`{"release": {"imageDigest": "sha256:abc"}}`,
			[]want{{"release.imageDigest", `"sha256:abc" is not "sha256:" followed by 64 lowercase hex digits`}}},
		{"a full image digest is accepted",
			`{"release": {"imageDigest": "sha256:` + hex64('0') + `"}}`, nil},
		{"an uppercase image digest is rejected",
			`{"release": {"imageDigest": "sha256:` + hex64('A') + `"}}`,
			[]want{{"release.imageDigest", "is not \"sha256:\""}}},
		{"a malformed region is rejected",
			`{"aws": {"region": "Europe"}}`,
			[]want{{"aws.region", `"Europe" is not an AWS region such as "eu-west-1"`}}},
		{"an unknown target is rejected with the targets",
			`{"target": "k8s"}`,
			[]want{{"target", `"k8s" is not a target; allowed "aws", "docker"`}}},
		{"a privileged port is rejected",
			`{"services": {"web": {"port": 80}}}`,
			[]want{{"services.web.port", "80 is too small; allowed 1024 to 65535"}}},
		{"a health check path must be absolute",
			`{"services": {"web": {"healthCheckPath": "readyz"}}}`,
			[]want{{"services.web.healthCheckPath", "is not an absolute URL path"}}},
		{"a local image without a version tag is rejected",
			`{"local": {"images": {"nginx": "nginx:latest"}}}`,
			[]want{{"local.images.nginx", `"nginx:latest" is not an image reference whose tag starts with the major version`}}},
		{"a tag value longer than 256 characters is rejected",
			`{"tags": {"team": "` + strings.Repeat("x", 257) + `"}}`,
			[]want{{"tags.team", "is 257 characters long; allowed at most 256"}}},
		{"several unknown fields are all reported",
			`{"foo": 1, "bar": 2, "cache": {"nodes": 3}}`,
			[]want{{"foo", "unknown field"}, {"bar", "unknown field"}, {"cache.nodes", "unknown field; allowed: authTokenVersion, engineVersion, nodeType, replicas, retiredAuthTokenVersion"}}},
		{"a bad env name keeps its path among other problems (jsonschema reuses that location's slice)",
			`{"app": {"env": {"bad-name": "x"}}, "release": {"imageDigest": "sha256:abc"}, "tags": {"bad|key": "v"}, "logging": {"destinations": ["x"]}}`,
			[]want{{"app.env.bad-name", "is not an env var name"}, {"release.imageDigest", "is not \"sha256:\""},
				{"tags.bad|key", "is not a tag key"}, {"logging.destinations[0]", "not a log destination"}}},
		{"a wrong type on a section is reported once",
			`{"services": []}`,
			[]want{{"services", "[] is an array; want an object"}}},
	}
	schema := repoSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("dev", patched(t, awsBase, tt.patch), schema)
			checkProblems(t, problemsOf(t, err), tt.want...)
		})
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"cpu", "memory", "minCount", "maxCount", "desiredCount"}
	for in, want := range map[string]string{"memruy": "memory", "mincount": "minCount", "desired": "", "zzz": ""} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInstancePathOf(t *testing.T) {
	for url, want := range map[string]string{
		"https://x/schema.json#/properties/app/properties/env/propertyNames": "[app env]",
		"https://x/schema.json#/properties/tags/propertyNames":               "[tags]",
		"https://x/schema.json#/$defs/x/propertyNames":                       "<nil>",
		"https://x/schema.json":                                              "<nil>",
	} {
		p, ok := instancePathOf(url, "propertyNames")
		got := "<nil>"
		if ok {
			got = fmt.Sprint(p)
		}
		if got != want {
			t.Errorf("instancePathOf(%q) = %s, want %s", url, got, want)
		}
	}
}

func TestARecursiveSchemaDoesNotHang(t *testing.T) {
	schema := []byte(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
		"properties": {"target": {"type": "string"}, "node": {"$ref": "#/$defs/node"}},
		"$defs": {"node": {"type": "object", "$ref": "#/$defs/node", "properties": {"next": {"$ref": "#/$defs/node"}}}}}`)
	sd, err := loadSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.fields()) == 0 {
		t.Error("no fields")
	}
	if _, err := ConfigDocs(schema); err != nil {
		t.Error(err)
	}
	_, _ = Parse("dev", []byte(`{"target": "docker", "node": {"next": {"next": 1}}}`), schema)
}

// TestAMissingRequiredFieldSaysWhatIsAllowed uses a schema requiring more
// than config/schema.json does (only target) to cover every kind of field.
func TestAMissingRequiredFieldSaysWhatIsAllowed(t *testing.T) {
	const schema = `{"type": "object", "required": ["target", "tags"], "properties": {
		"target": {"type": "string", "enum": ["aws", "docker"]},
		"tags": {"type": "object"},
		"aws": {"type": "object", "required": ["region"], "properties": {"region": {"type": "string", "x-patternHint": "an AWS region such as \"eu-west-1\""}}},
		"app": {"type": "object", "required": ["dbPoolSize"], "properties": {"dbPoolSize": {"type": "integer", "minimum": 1, "maximum": 100}}}}}`
	tests := []struct {
		name, file string
		want       want
	}{
		{"a missing field with an enum lists its values", `{"tags": {}}`,
			want{"target", `is required; allowed "aws", "docker"`}},
		{"a missing field with a pattern shows its form", `{"target": "docker", "tags": {}, "aws": {}}`,
			want{"aws.region", `is required; want an AWS region such as "eu-west-1"`}},
		{"a missing number gives its range", `{"target": "docker", "tags": {}, "app": {}}`,
			want{"app.dbPoolSize", "is required; allowed 1 to 100"}},
		{"a missing field gives its type otherwise", `{"target": "docker"}`,
			want{"tags", "is required; want an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("dev", []byte(tt.file), []byte(schema))
			checkProblems(t, problemsOf(t, err), tt.want)
		})
	}
}
