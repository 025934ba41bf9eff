package bootstrap_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/bootstrap"
)

// fakeKMS answers KMS's Encrypt and Decrypt as KMS does for them: the
// ciphertext is bound to the encryption context, and Decrypt with
// another one is refused. It records the context of every call.
type fakeKMS struct {
	mu    sync.Mutex
	calls []string // "Encrypt stack=dev"
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndex(op, ".")+1:]
	var req struct {
		Plaintext, CiphertextBlob []byte
		EncryptionContext         map[string]string
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	context, _ := json.Marshal(req.EncryptionContext)
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+string(context))
	f.mu.Unlock()
	type blob struct {
		Context   map[string]string
		Plaintext []byte
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	var out any
	switch op {
	case "Encrypt":
		data, _ := json.Marshal(blob{req.EncryptionContext, req.Plaintext})
		out = map[string]any{"CiphertextBlob": data, "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/k"}
	case "Decrypt":
		var b blob
		if err := json.Unmarshal(req.CiphertextBlob, &b); err != nil || string(mustJSON(b.Context)) != string(context) {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidCiphertextException", "message": "the encryption context differs"})
			return
		}
		out = map[string]any{"Plaintext": b.Plaintext, "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/k"}
	default:
		http.Error(w, "fake KMS: no "+op, http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(out)
}

func mustJSON(v any) []byte { data, _ := json.Marshal(v); return data }

// The pinned Pulumi CLI, given a stack's secrets provider as the bootstrap
// writes it (StackSecretsProvider), encrypts and decrypts the stack's
// data key with the stack's name as the KMS encryption context, which the
// preview roles' IAM condition reads; the same ciphertext under another
// stack's context is refused. Against a fake KMS endpoint on loopback
// (gocloud's endpoint parameter), with the real CLI.
func TestAStacksSecretsProviderBindsItsSecretsToItsName(t *testing.T) {
	cli, err := exec.LookPath(filepath.Join("..", "..", "bin", "pulumi"))
	if err != nil {
		if cli, err = exec.LookPath("pulumi"); err != nil {
			t.Fatalf("the Pulumi CLI is needed: run `make tools` (offline: PULUMI_OFFLINE_DIR=<bundle> make tools)")
		}
	}
	cli, _ = filepath.Abs(cli)
	kms := &fakeKMS{}
	srv := httptest.NewServer(kms)
	defer srv.Close()
	dir := t.TempDir()
	project, state := filepath.Join(dir, "project"), filepath.Join(dir, "state")
	for _, d := range []string{project, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte("name: kmscontext\nruntime: yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	provider := bootstrap.StackSecretsProvider("eu-west-1", "dev") + "&endpoint=" + srv.URL + "&disableSSL=true"
	pulumi := func(args ...string) (string, error) {
		cmd := exec.Command(cli, append(args, "--non-interactive")...)
		cmd.Dir = project
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "PULUMI_HOME=" + filepath.Join(dir, "pulumi-home"),
			"PULUMI_BACKEND_URL=file://" + state, "PULUMI_SKIP_UPDATE_CHECK=true",
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{
		{"stack", "init", "dev", "--secrets-provider", provider},
		{"config", "set", "--secret", "token", "s3cret", "--stack", "dev"},
	} {
		if out, err := pulumi(args...); err != nil {
			t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := pulumi("config", "get", "token", "--stack", "dev"); err != nil || strings.TrimSpace(out) != "s3cret" {
		t.Fatalf("pulumi config get: %q, %v", out, err)
	}
	kms.mu.Lock()
	calls := append([]string(nil), kms.calls...)
	kms.mu.Unlock()
	encrypts := 0
	for _, c := range calls {
		op, context, _ := strings.Cut(c, " ")
		if context != `{"stack":"dev"}` {
			t.Errorf("%s with encryption context %s, want {\"stack\":\"dev\"}", op, context)
		}
		if op == "Encrypt" {
			encrypts++
		}
	}
	if encrypts != 1 || len(calls) < 2 {
		t.Errorf("KMS calls %v: want the data key encrypted once and decrypted after", calls)
	}

	// The stack's data key, sent with prod's context: refused.
	settings := filepath.Join(project, "Pulumi.dev.yaml")
	data, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "context_stack=dev") {
		t.Fatalf("%s does not keep the provider's context:\n%s", settings, data)
	}
	if err := os.WriteFile(settings, []byte(strings.ReplaceAll(string(data), "context_stack=dev", "context_stack=prod")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := pulumi("config", "get", "token", "--stack", "dev"); err == nil || strings.Contains(out, "s3cret") {
		t.Errorf("the data key decrypted under another stack's context: %q, %v", out, err)
	}
	kms.mu.Lock()
	last := kms.calls[len(kms.calls)-1]
	kms.mu.Unlock()
	if last != `Decrypt {"stack":"prod"}` {
		t.Errorf("last KMS call %q, want a Decrypt with prod's context", last)
	}
}
