package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// workflow is what the test reads of a GitHub workflow.
type workflow struct {
	On struct {
		WorkflowDispatch struct {
			Inputs map[string]struct {
				Options []string `yaml:"options"`
			} `yaml:"inputs"`
		} `yaml:"workflow_dispatch"`
		Schedule []map[string]string `yaml:"schedule"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		If          string `yaml:"if"`
		Concurrency struct {
			Group            string `yaml:"group"`
			CancelInProgress bool   `yaml:"cancel-in-progress"`
		} `yaml:"concurrency"`
		Environment string            `yaml:"environment"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			ID   string            `yaml:"id"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", ".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return w
}

// The workflows assume exactly the roles the bootstrap creates: every job
// that asks for an OIDC token takes its role from the bootstrap section of
// config/<stack>.json, and runs where the role's trust policy admits it:
// the GitHub environment named after the stack (deploy roles), a pull
// request or main's scheduled drift check (the preview role).
func TestTheWorkflowsAssumeTheRolesTheBootstrapTrusts(t *testing.T) {
	stacks, err := regionStacks(configDir, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	jobs := 0
	for _, name := range []string{"ci.yml", "deploy.yml", "promote.yml", "drift.yml", "pr-environments.yml"} {
		w := readWorkflow(t, name)
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
				if !strings.Contains(read, ".bootstrap.previewRoleArn") || strings.Contains(read, "deployRoleArn") {
					t.Errorf("%s %s: the drift check must read bootstrap.previewRoleArn only:\n%s", name, jobName, read)
				}
			case job.Environment == "":
				// Only pull requests, with the preview role.
				if !strings.Contains(job.If+" "+w.Jobs[firstNeed(t, name, jobName)].If, "github.event_name == 'pull_request'") {
					t.Errorf("%s %s assumes a role outside an environment and outside pull requests", name, jobName)
				}
				if !strings.Contains(read, ".bootstrap.previewRoleArn") || strings.Contains(read, "deployRoleArn") {
					t.Errorf("%s %s: a pull-request job must read bootstrap.previewRoleArn only:\n%s", name, jobName, read)
				}
			case job.Environment == "${{ inputs.to }}":
				opts := w.On.WorkflowDispatch.Inputs["to"].Options
				for _, o := range opts {
					if !slices.Contains(stacks, o) {
						t.Errorf("%s: input to offers %q, which gets no deploy role (stacks %v)", name, o, stacks)
					}
				}
				if len(opts) == 0 || !strings.Contains(read, `config/$TO.json`) || !strings.Contains(read, ".bootstrap.deployRoleArn") {
					t.Errorf("%s %s must read the deploy role of config/<to>.json:\n%s", name, jobName, read)
				}
			default:
				if !slices.Contains(stacks, job.Environment) {
					t.Errorf("%s %s runs in environment %q, which no deploy role trusts (stacks %v)", name, jobName, job.Environment, stacks)
				}
				if !strings.Contains(read, "config/"+job.Environment+".json") || !strings.Contains(read, ".bootstrap.deployRoleArn") {
					t.Errorf("%s %s must read the deploy role of config/%s.json:\n%s", name, jobName, job.Environment, read)
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
	data, err := os.ReadFile(filepath.Join("..", ".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Jobs map[string]struct {
			Needs any `yaml:"needs"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
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
	w := readWorkflow(t, "pr-environments.yml")
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
			if !isPR || !strings.Contains(all, "make image") || !strings.Contains(all, `make pr-up PR="$PR"`) || !strings.Contains(all, "PATCH") {
				t.Errorf("up: builds once, pr-up, updates one comment; got\n%s", all)
			}
		case "down":
			if !isPR || !strings.Contains(job.If, "github.event.action == 'closed'") || !strings.Contains(all, `make pr-down PR="$PR"`) {
				t.Errorf("down: on closed, pr-down; got if %q\n%s", job.If, all)
			}
		case "reap":
			if isPR || !strings.Contains(all, "gh pr list") || !strings.Contains(all, `OPEN="$open"`) {
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
