package stackconfig

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestStackFilesListOnlyWhatDiffers enforces the sharing decision
// (docs/config.md): stacks share the defaults, and a stack file restating
// a default value fails.
func TestStackFilesListOnlyWhatDiffers(t *testing.T) {
	names, err := Stacks(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(repoConfig, n+".json"))
		if err != nil {
			t.Fatal(err)
		}
		restated, err := RestatedDefaults(data)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if len(restated) > 0 {
			t.Errorf("config/%s.json restates default values; remove them: %v", n, restated)
		}
	}
}

func TestRestatedDefaults(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"a file with only non-default values restates nothing",
			`{"$schema": "./schema.json", "target": "aws", "network": {"azCount": 3}, "tags": {"a": "b"}}`, nil},
		{"a restated scalar default is flagged",
			`{"target": "docker", "local": {"webReplicas": 2, "httpPort": 9090}}`, []string{"local.webReplicas"}},
		{"a restated false is flagged",
			`{"target": "aws", "database": {"multiAz": false}}`, []string{"database.multiAz"}},
		{"a restated array is flagged",
			`{"target": "aws", "logging": {"destinations": ["cloudwatch"]}}`, []string{"logging.destinations"}},
		{"a service default restated per service is flagged",
			`{"target": "aws", "services": {"web": {"healthCheckPath": "/readyz"}, "worker": {"healthCheckPath": "/readyz"}}}`,
			[]string{"services.web.healthCheckPath"}},
		{"an empty omitted-by-default field is flagged",
			`{"target": "aws", "aws": {"region": ""}, "services": {"worker": {"autoscaling": {"requestsPerTarget": 0}}}}`,
			[]string{"aws.region", "services.worker.autoscaling.requestsPerTarget"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RestatedDefaults([]byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("RestatedDefaults = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := RestatedDefaults([]byte(`{`)); err == nil {
		t.Error("malformed JSON accepted")
	}
}
