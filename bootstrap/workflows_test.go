package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/workflowtest"
)

// The workflows assume exactly the roles the bootstrap creates: every job
// that asks for an OIDC token takes its role from the bootstrap section of
// config/<stack>.json (through `go run ./cmd/preflight ci`, whose steps
// cmd/preflight's tests run), and runs where the role's trust policy admits it:
// the GitHub environment named after the stack (deploy roles), a pull
// request or main's scheduled drift check (the preview role).
func TestTheWorkflowsAssumeTheRolesTheBootstrapTrusts(t *testing.T) {
	stacks, _, err := regionStacks(configDir, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	jobs := 0
	for _, name := range []string{"ci.yml", "deploy.yml", "promote.yml", "drift.yml", "pr-environments.yml"} {
		w := workflowtest.Read(t, "..", name)
		for jobName, job := range w.Jobs {
			perms := job.Permissions
			if perms == nil {
				perms = w.Permissions
			}
			var assume string
			for _, s := range job.Steps {
				if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
					assume = s.With["role-to-assume"]
				}
			}
			if assume == "" {
				continue
			}
			jobs++
			if perms["id-token"] != "write" {
				t.Errorf("%s %s assumes a role without id-token: write", name, jobName)
			}
			if assume != "${{ steps.stack.outputs.role }}" {
				t.Errorf("%s %s assumes %q, not the role of the bootstrap section", name, jobName, assume)
			}
			var read string
			for _, s := range job.Steps {
				if s.ID == "stack" {
					read = s.Run
				}
			}
			switch {
			case name == "drift.yml":
				// Scheduled on main (or dispatched there), with the
				// read-only preview role, which trusts main.
				if job.Environment != "" || w.On.Schedule == nil {
					t.Errorf("%s %s: the drift check runs on a schedule outside any environment", name, jobName)
				}
				if !strings.Contains(read, "go run ./cmd/preflight ci \"$STACK\" --role=preview") || strings.Contains(read, "--role=deploy") {
					t.Errorf("%s %s: the drift check must read the preview role only (preflight ci --role=preview):\n%s", name, jobName, read)
				}
			case job.Environment == "":
				// Only pull requests, with the preview role.
				if !strings.Contains(job.If+" "+w.Jobs[firstNeed(t, name, jobName)].If, "github.event_name == 'pull_request'") {
					t.Errorf("%s %s assumes a role outside an environment and outside pull requests", name, jobName)
				}
				if !strings.Contains(read, "go run ./cmd/preflight ci \"$STACK\" --role=preview") || strings.Contains(read, "--role=deploy") {
					t.Errorf("%s %s: a pull-request job must read the preview role only (preflight ci --role=preview):\n%s", name, jobName, read)
				}
			case job.Environment == "${{ inputs.to }}":
				opts := w.On.WorkflowDispatch.Inputs["to"].Options
				for _, o := range opts {
					if !slices.Contains(stacks, o) {
						t.Errorf("%s: input to offers %q, which gets no deploy role (stacks %v)", name, o, stacks)
					}
				}
				if len(opts) == 0 || !strings.Contains(read, `go run ./cmd/preflight ci "$TO" --role=deploy`) {
					t.Errorf("%s %s must read the deploy role of config/<to>.json (preflight ci \"$TO\" --role=deploy):\n%s", name, jobName, read)
				}
			default:
				if !slices.Contains(stacks, job.Environment) {
					t.Errorf("%s %s runs in environment %q, which no deploy role trusts (stacks %v)", name, jobName, job.Environment, stacks)
				}
				if !strings.Contains(read, "go run ./cmd/preflight ci "+job.Environment+" --role=deploy") {
					t.Errorf("%s %s must read the deploy role of config/%s.json (preflight ci %s --role=deploy):\n%s", name, jobName, job.Environment, job.Environment, read)
				}
			}
		}
	}
	if jobs != 7 {
		t.Errorf("%d jobs assume an AWS role, want 7 (ci preview, deploy dev, promote, drift, PR environments up, down and reap)", jobs)
	}
}

// firstNeed is the job a pull-request-only job depends on (ci.yml's
// preview runs only when stacks does).
func firstNeed(t *testing.T, name, job string) string {
	t.Helper()
	w := workflowtest.Read(t, "..", name)
	switch n := w.Jobs[job].Needs.(type) {
	case string:
		return n
	case []any:
		if len(n) > 0 {
			s, _ := n[0].(string)
			return s
		}
	}
	return ""
}

// PR environments: forks get none and no secrets, every job that changes
// them waits for the others (slots are allocated one pr-up at a time, and
// a running deploy is never cancelled), and the reaper is told the open
// PRs.
func TestPREnvironmentsAreForThisRepositorysBranchesOneJobAtATime(t *testing.T) {
	w := workflowtest.Read(t, "..", "pr-environments.yml")
	if len(w.On.Schedule) == 0 {
		t.Error("no scheduled reap")
	}
	groups := map[string]bool{}
	for name, job := range w.Jobs {
		groups[job.Concurrency.Group] = true
		if job.Concurrency.Group == "" || job.Concurrency.CancelInProgress {
			t.Errorf("job %s: concurrency %+v", name, job.Concurrency)
		}
		isPR := strings.Contains(job.If, "github.event_name == 'pull_request'")
		if isPR && !strings.Contains(job.If, "github.event.pull_request.head.repo.full_name == github.repository") {
			t.Errorf("job %s runs for forks' pull requests: if %q", name, job.If)
		}
		var runs []string
		for _, s := range job.Steps {
			runs = append(runs, s.Run)
		}
		all := strings.Join(runs, "\n")
		switch name {
		case "up":
			// make pr-up builds the image unless IMAGE= names one: a
			// make image step before it builds it a second time.
			builds := strings.Count(all, "make image")
			if strings.Contains(all, `make pr-up PR="$PR"`) && !strings.Contains(all, "IMAGE=") {
				builds++
			}
			if !isPR || builds != 1 || !strings.Contains(all, `make pr-up PR="$PR"`) || !strings.Contains(all, "PATCH") {
				t.Errorf("up: builds once (%d builds), pr-up, updates one comment; got\n%s", builds, all)
			}
		case "down":
			if !isPR || !strings.Contains(job.If, "github.event.action == 'closed'") || !strings.Contains(all, `make pr-down PR="$PR"`) {
				t.Errorf("down: on closed, pr-down; got if %q\n%s", job.If, all)
			}
		case "reap":
			if isPR || !strings.Contains(all, "gh pr list") || !strings.Contains(all, "make pr-reap") {
				t.Errorf("reap: scheduled, with the open PRs; got\n%s", all)
			}
		default:
			t.Errorf("unexpected job %s", name)
		}
	}
	if len(groups) != 1 {
		t.Errorf("the jobs are in %d concurrency groups, want one", len(groups))
	}
}

// The reaper's step, run with a fake gh and make: the open PRs go to
// make pr-reap as OPEN, none as OPEN=none (pr-reap refuses an empty OPEN);
// a list as long as gh's limit may be cut short, and a failed one is no
// list: either fails the step before make runs, as the PRs left off would
// be reaped.
func TestTheReaperIsToldTheOpenPRsOrNoneAndStopsOnAListItCannotTrust(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed (the workflow's steps run in it): %v", err)
	}
	var script string
	for _, s := range workflowtest.Read(t, "..", "pr-environments.yml").Jobs["reap"].Steps {
		if strings.Contains(s.Run, "make pr-reap") {
			script = s.Run
		}
	}
	if script == "" {
		t.Fatal("the reap job has no step running make pr-reap")
	}
	bin := t.TempDir()
	// gh pr list prints the numbers of at most --limit of FAKE_OPEN PRs,
	// numbered from 1, comma separated: what gh's built-in jq makes of
	// the --json number list with the one filter the step may use (any
	// other fails, so a changed filter is noticed here).
	gh := `#!/bin/bash
[ -z "$FAKE_GH_FAIL" ] || { echo "HTTP 502: Bad Gateway" >&2; exit 1; }
limit=30 filter=
while [ $# -gt 0 ]; do
  case $1 in --limit) limit=$2; shift;; --jq) filter=$2; shift;; esac
  shift
done
[ "$filter" = 'map(.number) | join(",")' ] || { echo "fake gh: unexpected --jq: $filter" >&2; exit 2; }
n=$FAKE_OPEN; [ "$n" -le "$limit" ] || n=$limit
out=; for ((i = 1; i <= n; i++)); do out+=${out:+,}$i; done; echo "$out"
`
	mk := "#!/bin/sh\necho \"make $*\" >> \"$FAKE_MAKE_LOG\"\n"
	for name, body := range map[string]string{"gh": gh, "make": mk} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		open       string
		ghFails    bool
		wantMake   string // "": the step fails before make runs
		wantOutput string
	}{
		{name: "no open PR is OPEN=none", open: "0", wantMake: "make pr-reap STACK=dev OPEN=none"},
		{name: "the open PRs are OPEN", open: "3", wantMake: "make pr-reap STACK=dev OPEN=1,2,3"},
		{name: "a list as long as the limit fails the step", open: "1500", wantOutput: "its limit of 1000: the list may be cut short"},
		{name: "a failed listing fails the step", open: "3", ghFails: true, wantOutput: "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "make.log")
			// GitHub runs a step's script with bash -e.
			cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "STACK=dev", "GITHUB_REPOSITORY=acme/shop", "FAKE_OPEN=" + tc.open, "FAKE_MAKE_LOG=" + log}
			if tc.ghFails {
				cmd.Env = append(cmd.Env, "FAKE_GH_FAIL=1")
			}
			out, err := cmd.CombinedOutput()
			made, _ := os.ReadFile(log)
			if tc.wantMake == "" {
				if err == nil || len(made) != 0 {
					t.Fatalf("the step went on (err %v), make ran %.80q…:\n%.500s", err, made, out)
				}
				if !strings.Contains(string(out), tc.wantOutput) {
					t.Errorf("the step does not say %q:\n%s", tc.wantOutput, out)
				}
				return
			}
			if err != nil || strings.TrimSpace(string(made)) != tc.wantMake {
				t.Fatalf("err %v, make ran %q, want %q:\n%s", err, made, tc.wantMake, out)
			}
		})
	}
}

// ci.yml previews, on pull requests, exactly the aws stacks whose preview
// role (the bootstrap program's previewRoleArns, from the same configs)
// trusts pull requests: the stacks job's list step, run as GitHub runs
// it, against the roles of the program's graph.
func TestPullRequestsPreviewExactlyTheStacksWhosePreviewRoleTrustsThem(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed (the workflow's steps run in it): %v", err)
	}
	step := workflowtest.StepByID(t, "..", "ci.yml", "stacks", "list")
	outputs := filepath.Join(t.TempDir(), "output")
	cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", step.Run)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GITHUB_OUTPUT="+outputs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the list step: %v\n%s", err, out)
	}
	data, err := os.ReadFile(outputs)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "aws=")
	if !ok {
		t.Fatalf("the list step wrote %q, want aws=<JSON list>", data)
	}
	var previewed []string
	if err := json.Unmarshal([]byte(list), &previewed); err != nil {
		t.Fatalf("aws=%s: %v", list, err)
	}

	g := runProgram(t)
	trustsPRs := map[string]bool{} // role name: its trust admits pull requests
	for _, r := range g.ByType("aws:iam/role:Role") {
		trustsPRs[r.String("name")] = strings.Contains(r.String("assumeRolePolicy"), "repo:acme/shop:pull_request")
	}
	roles, ok := g.Outputs["previewRoleArns"].(map[string]string)
	if !ok || len(roles) == 0 {
		t.Fatalf("previewRoleArns output %v (%T)", g.Outputs["previewRoleArns"], g.Outputs["previewRoleArns"])
	}
	var want []string
	for stack, arn := range roles {
		_, name, _ := strings.Cut(arn, ":role/")
		if trustsPRs[name] {
			want = append(want, stack)
		}
	}
	slices.Sort(want)
	if !slices.Equal(previewed, want) || slices.Contains(previewed, "prod") {
		t.Errorf("pull requests preview %v; the stacks whose preview role trusts them: %v (prod is not one)", previewed, want)
	}
}

// A workflow's PR comment is the bot's own comment that starts with the
// workflow's marker: found, it is edited in place; not found, a new one is
// posted (the PR environment's teardown only edits). A user's comment that
// quotes the marker, before the bot's or alone, is never edited. The steps
// run with a fake gh whose --jq filter real jq applies to the PR's
// comments.
func TestAPRCommentIsTheBotsOwnCommentWithTheMarker(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatalf("jq is needed (the fake gh filters with it, as gh does): %v", err)
	}
	bin := t.TempDir()
	gh := `#!/bin/bash
[ "$1" = api ] || { echo "fake gh: unexpected: gh $*" >&2; exit 2; }
shift
method=GET filter= path=
while [ $# -gt 0 ]; do
  case $1 in
    --paginate) ;;
    --method) method=$2; shift;;
    --jq) filter=$2; shift;;
    -f|-F) shift;;
    *) path=$1;;
  esac
  shift
done
if [ "$method" = GET ]; then jq -r "$filter" "$FAKE_COMMENTS"; else echo "$method $path" >> "$FAKE_GH_WRITES"; fi
`
	if err := os.WriteFile(filepath.Join(bin, "gh"), []byte(gh), 0o755); err != nil {
		t.Fatal(err)
	}
	type step struct {
		workflow, job string
		marker        string
		posts         bool // posts a comment when it finds none
	}
	for _, s := range []step{
		{"cost.yml", "cost", "<!-- shipyard-cost -->", true},
		{"pr-environments.yml", "up", "<!-- shipyard-pr-environment -->", true},
		{"pr-environments.yml", "down", "<!-- shipyard-pr-environment -->", false},
	} {
		w := workflowtest.Read(t, "..", s.workflow)
		script := workflowtest.StepByID(t, "..", s.workflow, s.job, "comment").Run
		user := `{"id": 11, "user": {"login": "alice"}, "body": "` + s.marker + `\nquoted"}`
		bot := `{"id": 22, "user": {"login": "github-actions[bot]"}, "body": "` + s.marker + `\nthe bot's"}`
		other := `{"id": 33, "user": {"login": "github-actions[bot]"}, "body": "another comment"}`
		for _, tc := range []struct {
			name, comments, want string
		}{
			{"the bot's comment is edited, not a user's quoting the marker", "[" + user + "," + other + "," + bot + "]", "PATCH repos/acme/shop/issues/comments/22"},
			{"a user's comment quoting the marker is no comment of the bot's", "[" + user + "," + other + "]", map[bool]string{true: "POST repos/acme/shop/issues/7/comments", false: ""}[s.posts]},
		} {
			t.Run(s.workflow+" "+s.job+": "+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				comments := filepath.Join(dir, "comments.json")
				writes := filepath.Join(dir, "writes")
				if err := os.WriteFile(comments, []byte(tc.comments), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", script)
				cmd.Dir = dir
				cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "FAKE_COMMENTS=" + comments, "FAKE_GH_WRITES=" + writes,
					"GITHUB_REPOSITORY=acme/shop", "REPO=acme/shop", "PR=7", "GH_TOKEN=t", "URL=https://pr-7.dev.example.com", "REAP=2030-01-01T00:00:00Z", "SHA=abc"}
				for k, v := range w.Env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				if err := os.WriteFile(filepath.Join(dir, "cost-comment.md"), []byte(s.marker+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("the step failed: %v\n%s", err, out)
				}
				got, _ := os.ReadFile(writes)
				if strings.TrimSpace(string(got)) != tc.want {
					t.Errorf("gh wrote %q, want %q:\n%s", got, tc.want, out)
				}
			})
		}
	}
}
