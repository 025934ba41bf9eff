package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRedisIsNotNeededByTheCommandsTheDocsName: the commands .env.example
// and docs/app.md say run without REDIS_URL are exactly those whose
// configuration does not require it (every command of the usage text).
func TestRedisIsNotNeededByTheCommandsTheDocsName(t *testing.T) {
	var without []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) *(create\|drop)?`).FindAllStringSubmatch(usage, -1) {
		cmd := m[1]
		if cmd == "healthcheck" || cmd == "version" || seen[cmd] {
			continue // no configuration but PORT; migrate's second form
		}
		seen[cmd] = true
		subs := []string{""}
		if m[2] != "" {
			subs = strings.Split(m[2], "|")
		}
		for _, sub := range subs {
			name := strings.TrimSpace(cmd + " " + sub)
			if !needsFor(strings.Fields("app " + name)).Redis {
				without = append(without, name)
			}
		}
	}
	slices.Sort(without)
	if len(seen) < 9 || len(without) < 2 {
		t.Fatalf("read %d commands from the usage text, %v without Redis: is it still parsed?", len(seen), without)
	}
	t.Logf("commands without Redis: %v", without)

	env, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)# Not needed by (.*?)\n[A-Z_]+=`).FindSubmatch(env)
	docs, err := os.ReadFile("../docs/app.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `REDIS_URL` \\| (.*?) \\|").FindSubmatch(docs)
	if block == nil || row == nil {
		t.Fatalf("no REDIS_URL note in .env.example (%q) or row in docs/app.md (%q)", block, row)
	}
	for _, doc := range []struct {
		file, text string
		re         *regexp.Regexp
	}{
		{".env.example", string(block[1]), regexp.MustCompile("`app ([a-z ]+)`")},
		{"docs/app.md", string(row[1]), regexp.MustCompile("`([a-z ]+)`")},
	} {
		var named []string
		for _, m := range doc.re.FindAllStringSubmatch(doc.text, -1) {
			named = append(named, m[1])
		}
		slices.Sort(named)
		if !slices.Equal(named, without) {
			t.Errorf("%s says REDIS_URL is not needed by %v; the commands that do not need it are %v", doc.file, named, without)
		}
	}
}
