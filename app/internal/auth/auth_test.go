package auth_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
)

func TestPasswords(t *testing.T) {
	h, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := auth.HashPassword("correct horse")
	for _, tc := range []struct {
		name string
		ok   bool
		got  func() (bool, error)
	}{
		{"the right password matches", true, func() (bool, error) { return auth.CheckPassword(h, "correct horse") }},
		{"a wrong password does not match", false, func() (bool, error) { return auth.CheckPassword(h, "correct horsE") }},
		{"an empty password does not match", false, func() (bool, error) { return auth.CheckPassword(h, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := tc.got()
			if err != nil || ok != tc.ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
		})
	}
	t.Run("hashes are argon2id and salted", func(t *testing.T) {
		if !strings.HasPrefix(h, "$argon2id$v=19$") || h == h2 {
			t.Fatalf("%s / %s", h, h2)
		}
	})
	t.Run("a malformed hash is an error, not a match", func(t *testing.T) {
		for _, bad := range []string{"", "$2a$10$bcrypt", "$argon2id$v=19$m=x$a$b", "$argon2id$v=19$m=1,t=1,p=1$!!$!!"} {
			if ok, err := auth.CheckPassword(bad, "x"); ok || err == nil {
				t.Errorf("%q: ok=%v err=%v", bad, ok, err)
			}
		}
	})
}

func TestTokens(t *testing.T) {
	a, ha, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := auth.NewToken()
	if a == b || !strings.HasPrefix(a, auth.TokenPrefix) || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if !bytes.Equal(ha, auth.HashToken(a)) || len(ha) != 32 || bytes.Contains(ha, []byte(a)) {
		t.Fatal("the stored hash must be SHA-256 of the token")
	}
}
