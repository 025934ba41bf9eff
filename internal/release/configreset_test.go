package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestResetImageDigest(t *testing.T) {
	d := func(digest string) string { return `"imageDigest": "` + digest + `"` }
	tests := []struct {
		name string
		// prev is the file as the deployment found it, data as it is now
		// (the deployment's digest and whatever was edited meanwhile).
		prev, data, want string
	}{
		{
			name: "puts the previous digest back in place and keeps an edit made meanwhile",
			prev: "{\n  \"target\": \"aws\",\n  \"release\": {" + d(digestA) + "},\n  \"tags\": {\"a\": \"b\"}\n}\n",
			data: "{\n  \"target\": \"aws\",\n  \"release\": {" + d(digestB) + "},\n  \"tags\": {\"a\": \"edited\"}\n}\n",
			want: "{\n  \"target\": \"aws\",\n  \"release\": {" + d(digestA) + "},\n  \"tags\": {\"a\": \"edited\"}\n}\n",
		},
		{
			name: "removes the release object the deployment appended to a file that had none, byte for byte",
			prev: "{\n  \"target\": \"aws\",\n  \"tags\": {\"a\": \"b\"}\n}\n",
			data: "{\n  \"target\": \"aws\",\n  \"tags\": {\"a\": \"edited\"},\n  \"release\": {" + d(digestB) + "}\n}\n",
			want: "{\n  \"target\": \"aws\",\n  \"tags\": {\"a\": \"edited\"}\n}\n",
		},
		{
			name: "removes only the digest from a release object that had none",
			prev: "{\"release\": {\"imageRepository\": \"x\"}, \"target\": \"aws\"}",
			data: "{\"release\": {\"imageRepository\": \"x\", " + d(digestB) + "}, \"target\": \"aws\"}",
			want: "{\"release\": {\"imageRepository\": \"x\"}, \"target\": \"aws\"}",
		},
		{
			name: "removes a digest that comes first in its object",
			prev: "{\"release\": {\"imageRepository\": \"x\"}}",
			data: "{\"release\": {" + d(digestB) + ", \"imageRepository\": \"x\"}}",
			want: "{\"release\": {\"imageRepository\": \"x\"}}",
		},
		{
			name: "keeps a release object someone filled meanwhile, removing only the digest",
			prev: "{\"target\": \"aws\"}",
			data: "{\"target\": \"aws\", \"release\": {" + d(digestB) + ", \"imageRepository\": \"mine\"}}",
			want: "{\"target\": \"aws\", \"release\": {\"imageRepository\": \"mine\"}}",
		},
		{
			name: "keeps an empty release object the file had",
			prev: "{\"release\": {}}",
			data: "{\"release\": {\n    " + d(digestB) + "\n  }}",
			want: "{\"release\": {}}",
		},
		{
			name: "puts back an empty digest as it was",
			prev: "{\"release\": {\"imageDigest\": \"\"}}",
			data: "{\"release\": {" + d(digestB) + "}}",
			want: "{\"release\": {\"imageDigest\": \"\"}}",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResetImageDigest([]byte(tc.data), []byte(tc.prev))
			if err != nil {
				t.Fatalf("ResetImageDigest: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAFailedDeploymentPutsBackOnlyItsDigestAndKeepsEditsMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	edit := func(data []byte) []byte {
		return bytes.Replace(data, []byte(`"environment": "dev"`), []byte(`"environment": "dev", "team": "payments"`), 1)
	}
	tests := []struct {
		name string
		// during changes config/dev.json while pulumi up runs (prev: the
		// file as the deployment wrote it); want is the file after the
		// failure, from the file as the deployment found it (before).
		during  func(prev []byte) []byte
		want    func(before, during []byte) []byte
		wantMsg string
	}{
		{
			name:    "an edit of another field made during the deployment is kept and the digest goes back",
			during:  edit,
			want:    func(before, _ []byte) []byte { return edit(before) },
			wantMsg: "config/dev.json restored to its previous digest " + digestA,
		},
		{
			name: "a digest someone set during the deployment is left as it is, and the error says so",
			during: func(prev []byte) []byte {
				out, err := SetImageDigest(prev, digestB)
				if err != nil {
					panic(err)
				}
				return out
			},
			want:    func(_, during []byte) []byte { return during },
			wantMsg: "left as it is: its release.imageDigest is now " + digestB + ", set since this deployment wrote " + digestC + "; its release.imageDigest was " + digestA + " before this deployment",
		},
		{
			name:    "a file left half-edited is not overwritten",
			during:  func(prev []byte) []byte { return append(edit(prev)[:40:40], "\n"...) },
			want:    func(_, during []byte) []byte { return during },
			wantMsg: "left as it is: it no longer parses",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.released("dev", digestA)
			before := f.read("dev")
			var during []byte
			f.w.duringUp = func() {
				during = tc.during(f.read("dev"))
				if err := os.WriteFile(f.configPath("dev"), during, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f.w.upErr = errors.New("exit status 255")
			_, err := f.ops.Release(ctx, "dev", "shipyard-app:local")
			if err == nil || !strings.Contains(err.Error(), "exit status 255") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v\nwant it to say %q", err, tc.wantMsg)
			}
			if got, want := f.read("dev"), tc.want(before, during); !bytes.Equal(got, want) {
				t.Errorf("config/dev.json after the failure:\n%s\nwant\n%s", got, want)
			}
			if recs := f.records("dev"); recs[len(recs)-1].Status != StatusFailed {
				t.Errorf("ledger = %+v", recs)
			}
		})
	}
}

func TestAFailedLocalReleaseKeepsEditsMadeDuringItsBake(t *testing.T) {
	o, w, path := newLocalFixture(t, canary25)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(data []byte) []byte {
		return bytes.Replace(data, []byte(`"evaluationPeriods": 1}, "targetLatencyP99"`), []byte(`"evaluationPeriods": 2}, "targetLatencyP99"`), 1)
	}
	w.duringCanary = func() {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, edit(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.errorRate = 100
	if _, err := o.ReleaseLocal(context.Background(), "rel", "app:new"); !errors.Is(err, ErrGate) {
		t.Fatalf("error %v, want a gate failure", err)
	}
	after, _ := os.ReadFile(path)
	if want := edit(before); bytes.Equal(want, before) || !bytes.Equal(after, want) {
		t.Errorf("config after the rollback:\n%s\nwant the edit made during the bake, without the pinned digest:\n%s", after, want)
	}
}
