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

func TestPreviewNamesAreTheFormShipyardMakes(t *testing.T) {
	for _, tc := range []struct {
		name, database, user, databaseURL string
		want                              []string // "" when accepted
	}{
		{"pr_7 is accepted", "pr_7", "pr_7", "", nil},
		{"a large PR number is accepted", "pr_1234567", "pr_1234567", "", nil},
		{"a missing name is required, with the form", "", "pr_7", "", []string{`PREVIEW_DATABASE: is required: "pr_<n>", n the pull request's number`}},
		{"postgres is refused even when DATABASE_URL names no database", "postgres", "pr_7", "postgres://admin@db:5432", []string{`PREVIEW_DATABASE: must be "pr_<n>", n the pull request's number, as Shipyard names it (such as "pr_7") (got "postgres")`}},
		{"another lowercase name is refused", "shipyard", "pr_7", "", []string{`PREVIEW_DATABASE: must be "pr_<n>"`}},
		{"another user name is refused", "pr_7", "rdsadmin", "", []string{`PREVIEW_DATABASE_USER: must be "pr_<n>"`}},
		{"pr_0 is refused", "pr_0", "pr_7", "", []string{`PREVIEW_DATABASE: must be "pr_<n>"`}},
		{"a leading zero is refused", "pr_07", "pr_7", "", []string{`PREVIEW_DATABASE: must be "pr_<n>"`}},
		{"a suffix is refused", "pr_7_old", "pr_7", "", []string{`PREVIEW_DATABASE: must be "pr_<n>"`}},
		{"upper case is refused", "PR_7", "pr_7", "", []string{`PREVIEW_DATABASE: must be "pr_<n>"`}},
		{"a name that needs quoting is refused", "pr_7", `pr"; DROP`, "", []string{`PREVIEW_DATABASE_USER: must be "pr_<n>"`}},
		{"DATABASE_URL's own database is still refused", "pr_7", "pr_8", "postgres://admin@db:5432/pr_7", []string{"PREVIEW_DATABASE: must differ from DATABASE_URL's database"}},
		{"DATABASE_URL's own user is still refused", "pr_7", "pr_8", "postgres://pr_8@db:5432/shipyard", []string{"PREVIEW_DATABASE_USER: must differ from DATABASE_URL's user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := previewValid()
			e["PREVIEW_DATABASE"], e["PREVIEW_DATABASE_USER"] = tc.database, tc.user
			if tc.databaseURL != "" {
				e["DATABASE_URL"] = tc.databaseURL
			}
			for _, needs := range []config.Needs{previewCreate, {Database: true, Redis: true, Preview: true}} {
				e["REDIS_URL"] = "redis://cache:6379/1"
				c, err := config.Load(env(e), needs)
				if tc.want == nil {
					if err != nil || c.Preview.Database != tc.database || c.Preview.User != tc.user {
						t.Fatalf("%+v, %v", c, err)
					}
					continue
				}
				for _, w := range tc.want {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("want %q, got %v", w, err)
					}
				}
			}
		})
	}
}
