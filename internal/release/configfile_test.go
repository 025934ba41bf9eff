package release

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSetImageDigest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "replaces an existing digest in place and keeps every other byte",
			in:   "{\n  \"target\": \"aws\",\n  \"release\": {\n    \"imageDigest\": \"" + digestA + "\",\n    \"imageRepository\": \"x\"\n  },\n  \"tags\": {\"a\": \"\\u00e9\"}\n}\n",
			want: "{\n  \"target\": \"aws\",\n  \"release\": {\n    \"imageDigest\": \"" + digestB + "\",\n    \"imageRepository\": \"x\"\n  },\n  \"tags\": {\"a\": \"\\u00e9\"}\n}\n",
		},
		{
			name: "adds the digest to a release object that lacks it, indented like its siblings",
			in:   "{\n  \"release\": {\n    \"imageRepository\": \"x\"\n  }\n}\n",
			want: "{\n  \"release\": {\n    \"imageRepository\": \"x\",\n    \"imageDigest\": \"" + digestB + "\"\n  }\n}\n",
		},
		{
			name: "fills an empty release object",
			in:   "{\n  \"release\": {}\n}\n",
			want: "{\n  \"release\": {\n    \"imageDigest\": \"" + digestB + "\"\n  }\n}\n",
		},
		{
			name: "adds a release object at the end of a file that has none",
			in:   "{\n  \"$schema\": \"./schema.json\",\n  \"target\": \"aws\"\n}\n",
			want: "{\n  \"$schema\": \"./schema.json\",\n  \"target\": \"aws\",\n  \"release\": {\"imageDigest\": \"" + digestB + "\"}\n}\n",
		},
		{
			name: "keeps a one-line file on one line",
			in:   `{"target": "aws", "tags": {"x": "y"}}`,
			want: `{"target": "aws", "tags": {"x": "y"}, "release": {"imageDigest": "` + digestB + `"}}`,
		},
		{
			name: "uses the file's own tab indentation",
			in:   "{\n\t\"target\": \"aws\"\n}",
			want: "{\n\t\"target\": \"aws\",\n\t\"release\": {\"imageDigest\": \"" + digestB + "\"}\n}",
		},
		{
			name: "is not fooled by a nested object with an imageDigest key",
			in:   "{\"app\": {\"env\": {\"imageDigest\": \"keep\"}}, \"release\": {\"imageDigest\": \"\"}}",
			want: "{\"app\": {\"env\": {\"imageDigest\": \"keep\"}}, \"release\": {\"imageDigest\": \"" + digestB + "\"}}",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetImageDigest([]byte(tc.in), digestB)
			if err != nil {
				t.Fatalf("SetImageDigest: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}

	bad := []struct {
		name, in, digest, wantMsg string
	}{
		{"rejects a digest that is not sha256 hex", `{}`, "sha256:XYZ", "64 lowercase hex"},
		{"rejects a tag instead of a digest", `{}`, "latest", "64 lowercase hex"},
		{"rejects a release field that is not an object", `{"release": "v1"}`, digestA, "release: want a JSON object"},
		{"rejects a file that is not a JSON object", `[1, 2]`, digestA, "want a JSON object"},
		{"rejects malformed JSON", `{"target": `, digestA, "invalid JSON"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SetImageDigest([]byte(tc.in), tc.digest)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want one saying %q", err, tc.wantMsg)
			}
		})
	}
}

// Every stack file in config/ keeps all its data, and its digest written
// twice is the same file.
func TestSetImageDigestOnEveryStackFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if filepath.Base(path) == "schema.json" {
			continue
		}
		n++
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			once, err := SetImageDigest(data, digestA)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(withoutDigest(t, data), withoutDigest(t, once)) {
				t.Errorf("other fields changed:\n%s", once)
			}
			var m struct {
				Release struct{ ImageDigest string } `json:"release"`
			}
			if err := json.Unmarshal(once, &m); err != nil || m.Release.ImageDigest != digestA {
				t.Errorf("digest not set: %v %q", err, m.Release.ImageDigest)
			}
			again, err := SetImageDigest(once, digestA)
			if err != nil || !bytes.Equal(again, once) {
				t.Errorf("writing the same digest again changed the file: %v\n%s", err, again)
			}
			back, err := SetImageDigest(once, digestB)
			if err != nil || !bytes.Equal(bytes.Replace(back, []byte(digestB), []byte(digestA), 1), once) {
				t.Errorf("changing the digest touched other bytes: %v", err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no stack files found in config/")
	}
}

// FuzzSetImageDigest: on any input, SetImageDigest either refuses or
// returns a file whose release.imageDigest is the digest and whose other
// fields are the input's.
func FuzzSetImageDigest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "config", "*.json"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"release": {"imageDigest": "x", "imageRepository": "r"}, "a": [1, {"release": 2}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := SetImageDigest(data, digestA)
		if err != nil {
			return
		}
		var m struct {
			Release struct{ ImageDigest string } `json:"release"`
		}
		if err := json.Unmarshal(out, &m); err != nil || m.Release.ImageDigest != digestA {
			t.Fatalf("digest not set in %q: %v", out, err)
		}
		var before map[string]any
		if json.Unmarshal(data, &before) != nil {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if !reflect.DeepEqual(withoutDigest(t, data), withoutDigest(t, out)) {
			t.Fatalf("other fields changed:\n%s\n%s", data, out)
		}
	})
}
