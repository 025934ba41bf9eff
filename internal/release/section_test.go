package release

import (
	"strings"
	"testing"
)

func TestSetSectionChangesOnlyThatMember(t *testing.T) {
	tests := []struct {
		name, in, value, want, wantErr string
	}{
		{
			name:  "appends a missing section with the file's indentation",
			in:    "{\n  \"target\": \"aws\",\n  \"aws\": {\"region\": \"eu-west-1\"}\n}\n",
			value: `{"backendUrl": "s3://b"}`,
			want:  "{\n  \"target\": \"aws\",\n  \"aws\": {\"region\": \"eu-west-1\"},\n  \"bootstrap\": {\"backendUrl\": \"s3://b\"}\n}\n",
		},
		{
			name:  "replaces an existing section in place",
			in:    "{\n  \"bootstrap\": {\"backendUrl\": \"s3://old\"},\n  \"target\": \"aws\"\n}\n",
			value: `{"backendUrl": "s3://new"}`,
			want:  "{\n  \"bootstrap\": {\"backendUrl\": \"s3://new\"},\n  \"target\": \"aws\"\n}\n",
		},
		{name: "refuses a value that is not JSON", in: `{"target": "aws"}`, value: `{`, wantErr: "invalid JSON value"},
		{name: "refuses a file that is not an object", in: `[1]`, value: `{}`, wantErr: "want a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetSection([]byte(tc.in), "bootstrap", []byte(tc.value))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
}
