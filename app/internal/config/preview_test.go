package config_test

import (
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

// previewValid is what Shipyard hands `app preview create` for PR 7.
func previewValid() map[string]string {
	return map[string]string{
		"DATABASE_URL":              "postgres://admin@db:5432/shipyard?sslmode=disable",
		"PREVIEW_DATABASE":          "pr_7",
		"PREVIEW_DATABASE_USER":     "pr_7",
		"PREVIEW_DATABASE_PASSWORD": "correct-horse-battery-staple",
	}
}

var previewCreate = config.Needs{Database: true, Preview: true, PreviewPassword: true}

func TestPreviewDatabasePassword(t *testing.T) {
	for _, tc := range []struct {
		name, password string
		want           string // "" when accepted
	}{
		{"a password of 16 characters is accepted", "0123456789abcdef", ""},
		{"a missing password is required", "", "PREVIEW_DATABASE_PASSWORD: is required: the PR user's password, at least 16 characters"},
		{"a short password is refused with its length and the minimum", "short", "PREVIEW_DATABASE_PASSWORD: must be at least 16 characters long; it has 5"},
		{"a password of 15 characters is refused however many bytes they take", strings.Repeat("é", 15), "PREVIEW_DATABASE_PASSWORD: must be at least 16 characters long; it has 15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := previewValid()
			e["PREVIEW_DATABASE_PASSWORD"] = tc.password
			_, err := config.Load(env(e), previewCreate)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Fatalf("the password is in the error: %v", err)
			}
		})
	}
	t.Run("drop needs no password", func(t *testing.T) {
		e := previewValid()
		delete(e, "PREVIEW_DATABASE_PASSWORD")
		if _, err := config.Load(env(e), config.Needs{Database: true, Preview: true}); err != nil {
			t.Fatal(err)
		}
	})
}
