// Package workflowtest reads the repository's GitHub workflows
// (.github/workflows) for the tests that check them: the roles and
// environments the jobs assume (bootstrap), the steps run with fakes
// (cmd/preflight) and the one Pulumi pin (cmd/shipyard). One type holds
// what any of them reads.
package workflowtest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"
)

// Workflow is what the tests read of a workflow file.
type Workflow struct {
	Name string `yaml:"name"`
	On   struct {
		Push *struct {
			Branches []string `yaml:"branches"`
		} `yaml:"push"`
		// WorkflowRun starts the workflow when another one (by name) runs.
		WorkflowRun *struct {
			Workflows []string `yaml:"workflows"`
			Types     []string `yaml:"types"`
			Branches  []string `yaml:"branches"`
		} `yaml:"workflow_run"`
		WorkflowDispatch struct {
			Inputs map[string]struct {
				Options []string `yaml:"options"`
			} `yaml:"inputs"`
		} `yaml:"workflow_dispatch"`
		Schedule []map[string]string `yaml:"schedule"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency Concurrency       `yaml:"concurrency"`
	// Env is the workflow's env, which every step has.
	Env  map[string]string `yaml:"env"`
	Jobs map[string]Job    `yaml:"jobs"`
}

// Job is one job of a workflow.
type Job struct {
	If string `yaml:"if"`
	// Needs is a job name or a list of them.
	Needs       any               `yaml:"needs"`
	Concurrency Concurrency       `yaml:"concurrency"`
	Environment string            `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Steps       []Step            `yaml:"steps"`
}

// Concurrency is a workflow's or a job's concurrency group.
type Concurrency struct {
	Group            string `yaml:"group"`
	CancelInProgress bool   `yaml:"cancel-in-progress"`
}

// Step is one step of a job.
type Step struct {
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// Dir is the workflows' directory of the repository whose root is root.
func Dir(root string) string { return filepath.Join(root, ".github", "workflows") }

// Names lists the workflow files (name.yml) of the repository at root.
func Names(t testing.TB, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Dir(root), "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in %s: %v", Dir(root), err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	sort.Strings(names)
	return names
}

// ReadFile is the text of workflow name of the repository at root.
func ReadFile(t testing.TB, root, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(root), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Read parses workflow name of the repository at root.
func Read(t testing.TB, root, name string) Workflow {
	t.Helper()
	var w Workflow
	if err := yaml.Unmarshal(ReadFile(t, root, name), &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return w
}

// StepByID is the step with id of job in workflow name, which must run a
// script.
func StepByID(t testing.TB, root, name, job, id string) Step {
	t.Helper()
	j, ok := Read(t, root, name).Jobs[job]
	if !ok {
		t.Fatalf("%s has no job %s", name, job)
	}
	for _, s := range j.Steps {
		if s.ID == id {
			if s.Run == "" {
				t.Fatalf("%s %s: step %s runs no script", name, job, id)
			}
			return s
		}
	}
	t.Fatalf("%s %s has no step with id %s", name, job, id)
	return Step{}
}
