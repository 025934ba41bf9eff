// Package preflight holds the checks every stack target runs before it
// does anything slow or writes anything: the stack exists, and an aws
// stack keeps its Pulumi state in a shared backend, never in a file on
// one machine. It imports only the standard library, so the Makefile can
// build and run it (cmd/preflight) in seconds on a cold Go cache, before
// the Pulumi program and cmd/shipyard are compiled.
//
// cmd/shipyard resolves the backend and the secrets provider through the
// same functions, so `make` and `go run ./cmd/shipyard` agree.
package preflight

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// StateDir is the file backend of docker stacks, inside the repository
// (gitignored).
const StateDir = ".pulumi-state"

// The variables the checks read.
const (
	BackendEnv         = "PULUMI_BACKEND_URL"
	PassphraseEnv      = "PULUMI_CONFIG_PASSPHRASE"
	PassphraseFileEnv  = "PULUMI_CONFIG_PASSPHRASE_FILE"
	SecretsProviderEnv = "SHIPYARD_SECRETS_PROVIDER"
	// AllowLocalStateEnv=1 lets an aws stack keep its state in a file
	// backend on purpose (a throwaway experiment in a sandbox account).
	AllowLocalStateEnv = "SHIPYARD_ALLOW_LOCAL_STATE"
)

// Stack is what the checks need of config/<stack>.json: its target, an
// aws stack's region and what `make bootstrap` wrote into it. The full
// config is validated later by infra/stackconfig.
type Stack struct {
	Name string
	// Path is the config file's path ("" for a Stack not read from one).
	Path      string
	Target    string
	Region    string
	Bootstrap Bootstrap
	// PullRequestPreviews is the config's ci.pullRequestPreviews
	// (default true): whether every pull request previews the stack.
	PullRequestPreviews bool
}

// The targets of a stack (infra/stackconfig's TargetAWS and TargetDocker).
const (
	TargetAWS    = "aws"
	TargetDocker = "docker"
)

// CheckTarget refuses a target of the config file at path that is neither
// TargetDocker nor TargetAWS, naming the file and the allowed ones.
func CheckTarget(path, target string) error {
	if target != TargetDocker && target != TargetAWS {
		return fmt.Errorf("%s: target %q: allowed %q or %q", path, target, TargetDocker, TargetAWS)
	}
	return nil
}

// Bootstrap is the "bootstrap" section of an aws stack's config, written
// by `make bootstrap`: where the stack's state and secrets live and the
// role CI assumes to deploy it.
type Bootstrap struct {
	BackendURL      string `json:"backendUrl,omitempty"`
	SecretsProvider string `json:"secretsProvider,omitempty"`
	DeployRoleArn   string `json:"deployRoleArn,omitempty"`
	PreviewRoleArn  string `json:"previewRoleArn,omitempty"`
}

// stackNameRE is what a stack name looks like: it names AWS resources
// ("shipyard-<stack>-…", an ALB name has at most 32 characters) and Docker
// containers, so lowercase letters, digits and inner hyphens, at most
// maxStackNameLen. This is the one rule: infra/stackconfig's
// ValidStackName and StackNamePattern are these.
var stackNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

const maxStackNameLen = 20

// prStackRE is the end of a PR environment's name: PR n of stack B is the
// stack "B-pr-n" (infra/stackconfig.PreviewOf), which has no file of its
// own. A stack file may not take such a name: `shipyard pr-up B n` would
// load it as the PR's config, and pr-reap would take the stack for a PR
// environment and destroy it.
var prStackRE = regexp.MustCompile(`-pr-[0-9]+$`)

// StackNamePattern describes valid stack names in messages and docs.
const StackNamePattern = "^[a-z][a-z0-9]*(-[a-z0-9]+)*$, at most 20 characters, not ending in -pr-<n> (reserved for PR environments)"

// ValidStackName reports whether name can be a stack's name
// (StackNamePattern).
func ValidStackName(name string) bool {
	return len(name) <= maxStackNameLen && stackNameRE.MatchString(name) && !prStackRE.MatchString(name)
}

// ReservedStackFile refuses the config file at path of stack name when the
// name is a PR environment's, "<base>-pr-<n>": nil for any other name (one
// such as dev.old.json is no stack, and not refused). Listing a config
// directory's stacks refuses such a file, here and in infra/stackconfig,
// rather than leaving a stack file out that its author meant as a stack.
func ReservedStackFile(path, name string) error {
	if !stackNameRE.MatchString(name) || !prStackRE.MatchString(name) {
		return nil
	}
	i := strings.LastIndex(name, "-pr-")
	return fmt.Errorf("%s: %q is no stack name: it names PR %s's environment of stack %s (make pr-up PR=%s STACK=%s), which has no config file of its own; allowed: rename the file to a stack name (%s)",
		path, name, name[i+len("-pr-"):], name[:i], name[i+len("-pr-"):], name[:i], StackNamePattern)
}

// Stacks lists the stack names in the config directory, sorted: every
// *.json file but the schema whose name is a valid stack name
// (ValidStackName), as infra/stackconfig.Stacks lists them; a file such as
// dev.old.json is not a stack, and one named as a PR environment
// (ReservedStackFile) is an error.
func Stacks(configDir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(configDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		name := strings.TrimSuffix(filepath.Base(m), ".json")
		if err := ReservedStackFile(m, name); err != nil {
			return nil, err
		}
		if name != "schema" && ValidStackName(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Read reads the target and bootstrap section of config/<stack>.json. An
// unknown stack, or a name that is no stack's (a file such as
// dev.old.json), is an error listing the known ones. A file that cannot be
// read as JSON is no error: Check's callers run the config loader next,
// which reports it in full, and such a file gets no aws-specific check
// (its Stack has the name only). A command that answers by the target
// reads with ReadStrict.
func Read(configDir, stack string) (Stack, error) {
	s, err := ReadStrict(configDir, stack)
	if errors.As(err, new(notJSONError)) {
		return Stack{Name: stack}, nil
	}
	return s, err
}

// ReadStrict is Read, but a file that cannot be read as JSON is an error
// naming the file and where its JSON breaks, as ReadAll's: for the
// commands whose answer is the stack's target (preflight ci, preflight
// passphrase), which would otherwise answer for a stack of no target.
func ReadStrict(configDir, stack string) (Stack, error) {
	known, err := Stacks(configDir)
	if err != nil {
		return Stack{}, err
	}
	found := false
	for _, k := range known {
		found = found || k == stack
	}
	path := filepath.Join(configDir, stack+".json")
	if !found {
		return Stack{}, UnknownStack(configDir, stack, known)
	}
	return parseStack(path, stack)
}

// UnknownStack is the error for stack, which is none of the known stacks
// of configDir: the one message of preflight and infra/stackconfig.Load,
// naming the known stacks (an empty name as STACK, the variable that gave
// it).
func UnknownStack(configDir, stack string, known []string) error {
	list := listOr(known, "none")
	path := filepath.Join(configDir, stack+".json")
	switch {
	case stack == "":
		return fmt.Errorf("STACK is empty: allowed %s (the stacks of %s)", list, configDir)
	case !ValidStackName(stack):
		return fmt.Errorf("unknown stack %q: not a stack name (stack names match %s, so a file such as %s is not a stack); known stacks: %s", stack, StackNamePattern, path, list)
	}
	return fmt.Errorf("unknown stack %q: there is no %s; known stacks: %s", stack, path, list)
}

// Location is where an error about a config file points: the file, and
// the line and column in it (both from 1; 0 when the error is about the
// whole file). GitHub's error annotations carry it (cmd/preflight).
type Location struct {
	File      string
	Line, Col int
}

// LocationOf is the location of the config file err is about, when err
// is (or wraps) such an error: a file that cannot be read as JSON, or a
// stack ForCI refuses for what its file lacks.
func LocationOf(err error) (Location, bool) {
	var located interface{ location() Location }
	if !errors.As(err, &located) {
		return Location{}, false
	}
	return located.location(), true
}

// fileError is an error about a whole config file.
type fileError struct {
	path string
	err  error
}

func (e fileError) Error() string      { return e.err.Error() }
func (e fileError) Unwrap() error      { return e.err }
func (e fileError) location() Location { return Location{File: e.path} }

// fileError is err located at s's config file, when s was read from one.
func (s Stack) fileError(err error) error {
	if s.Path == "" {
		return err
	}
	return fileError{path: s.Path, err: err}
}

// notJSONError is a config file that cannot be read as JSON: its path,
// where its JSON breaks (line and column from 1, or 0 when the error has
// no position) and the error.
type notJSONError struct {
	path      string
	line, col int
	err       error
}

func newNotJSONError(path string, data []byte, err error) notJSONError {
	line, col := jsonPosition(data, err)
	return notJSONError{path: path, line: line, col: col, err: err}
}

func (e notJSONError) Error() string {
	if e.line == 0 {
		return e.path + ": " + e.err.Error()
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.path, e.line, e.col, e.err)
}

func (e notJSONError) Unwrap() error { return e.err }

func (e notJSONError) location() Location {
	return Location{File: e.path, Line: e.line, Col: e.col}
}

// jsonPosition is the line and column (both from 1, the column in bytes)
// of a JSON syntax error in data: the byte refused, or the end of data
// when it ends too soon. Any other error has no position (0, 0).
func jsonPosition(data []byte, err error) (line, col int) {
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		return 0, 0
	}
	// Offset counts the bytes read, the one refused included.
	at := int(syn.Offset) - 1
	if syn.Offset >= int64(len(data)) && strings.HasPrefix(syn.Error(), "unexpected end of JSON input") {
		at = len(data)
	}
	at = max(0, min(at, len(data)))
	before := data[:at]
	line = 1 + strings.Count(string(before), "\n")
	col = at - strings.LastIndexByte(string(before), '\n')
	return line, col
}

// parse reads what the checks need of a stack's config file; a file that
// cannot be read as JSON, is not UTF-8 or has a key twice in one object
// (which the config loader refuses), is a notJSONError.
func parse(path, stack string) (Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Stack{}, fmt.Errorf("reading stack config: %w", err)
	}
	var f struct {
		Target string `json:"target"`
		AWS    struct {
			Region string `json:"region"`
		} `json:"aws"`
		Bootstrap Bootstrap `json:"bootstrap"`
		CI        struct {
			PullRequestPreviews *bool `json:"pullRequestPreviews"`
		} `json:"ci"`
	}
	data = trimBOM(data)
	if line, col, err := InvalidUTF8(data); err != nil {
		return Stack{Name: stack}, notJSONError{path: path, line: line, col: col, err: err}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return Stack{Name: stack}, newNotJSONError(path, data, err)
	}
	if err := duplicateKey(path, data); err != nil {
		return Stack{Name: stack}, err
	}
	prs := f.CI.PullRequestPreviews == nil || *f.CI.PullRequestPreviews
	return Stack{Name: stack, Path: path, Target: f.Target, Region: f.AWS.Region, Bootstrap: f.Bootstrap, PullRequestPreviews: prs}, nil
}

// InvalidUTF8 finds the first byte of data, a config file's bytes, that
// is not UTF-8: its line and column (from 1, the column in bytes) and an
// error naming it; err is nil when data is UTF-8. encoding/json reads such
// a byte as U+FFFD, the replacement character, so a value would carry a
// character the file does not hold: preflight and infra/stackconfig refuse
// the file instead.
func InvalidUTF8(data []byte) (line, col int, err error) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			before := data[:i]
			line = 1 + bytes.Count(before, []byte("\n"))
			col = i - bytes.LastIndexByte(before, '\n')
			return line, col, fmt.Errorf("byte 0x%02x is not UTF-8; allowed: UTF-8 text (save the file as UTF-8)", data[i])
		}
		i += size
	}
	return 0, 0, nil
}

// duplicateKey refuses a key that appears twice in one object of data,
// a JSON value, as a notJSONError at the second one, naming the key, the
// object and the line of the first: encoding/json keeps the last value,
// and infra/stackconfig, which refuses the file (its keyLines), would
// otherwise disagree with preflight's answers (target, backend,
// passphrase).
func duplicateKey(path string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(where string) error
	walk = func(where string) error {
		tok, err := dec.Token()
		if err != nil {
			return newNotJSONError(path, data, err)
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		seen := map[string]int{}
		for i := 0; dec.More(); i++ {
			inner := where + "[" + strconv.Itoa(i) + "]"
			if d == '{' {
				kt, err := dec.Token()
				if err != nil {
					return newNotJSONError(path, data, err)
				}
				k, _ := kt.(string)
				line, col := keyPosition(data, int(dec.InputOffset()))
				if first, dup := seen[k]; dup {
					in := "the top level"
					if where != "" {
						in = where
					}
					return notJSONError{path: path, line: line, col: col,
						err: fmt.Errorf("duplicate key %q in %s (first at line %d); each key may appear once, since JSON parsers disagree on which value wins", k, in, first)}
				}
				seen[k] = line
				inner = k
				if where != "" {
					inner = where + "." + k
				}
			}
			if err := walk(inner); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return newNotJSONError(path, data, err)
		}
		return nil
	}
	return walk("")
}

// keyPosition is the line and column (from 1, the column in bytes) of the
// opening quote of the object key that ends just before offset in data.
func keyPosition(data []byte, offset int) (line, col int) {
	at := min(max(offset-1, 0), len(data)) // the closing quote
	for i := at - 1; i >= 0; i-- {
		if data[i] != '"' {
			continue
		}
		escapes := 0
		for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
			escapes++
		}
		if escapes%2 == 0 {
			at = i
			break
		}
	}
	before := data[:at]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = at - bytes.LastIndexByte(before, '\n')
	return line, col
}

// parseStack is parse, with a file that cannot be read as JSON named as
// the stack's and pointing to `shipyard validate`.
func parseStack(path, stack string) (Stack, error) {
	s, err := parse(path, stack)
	if errors.As(err, new(notJSONError)) {
		return Stack{}, fmt.Errorf("stack %q: %w (shipyard validate %s says more)", stack, err, stack)
	}
	return s, err
}

// ReadAll reads every stack of the config directory (Stacks), sorted by
// name. Unlike Read, a file that cannot be read as JSON is an error: its
// target, which a listing of the stacks by target needs, is unknown.
func ReadAll(configDir string) ([]Stack, error) {
	names, err := Stacks(configDir)
	if err != nil {
		return nil, err
	}
	out := make([]Stack, 0, len(names))
	for _, n := range names {
		s, err := parseStack(filepath.Join(configDir, n+".json"), n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

// Backend returns the PULUMI_BACKEND_URL of a stack's pulumi calls:
// $PULUMI_BACKEND_URL when set; for an aws stack, the bootstrap.backendUrl
// of its config; else the repository's file backend (root/.pulumi-state).
// An aws stack whose state would be a file (on this machine only) is an
// error naming `make bootstrap` and the variable to set, unless
// SHIPYARD_ALLOW_LOCAL_STATE=1.
func Backend(getenv func(string) string, root string, s Stack) (string, error) {
	url := getenv(BackendEnv)
	if url == "" && s.Target == TargetAWS {
		url = s.Bootstrap.BackendURL
	}
	if url == "" {
		url = "file://" + filepath.Join(root, StateDir)
	}
	if s.Target == TargetAWS && strings.HasPrefix(url, "file://") && getenv(AllowLocalStateEnv) != "1" {
		return "", fmt.Errorf("stack %q is an aws stack and its Pulumi state would be a file on this machine (%s): run `make bootstrap STACK=%s` once per account (it writes bootstrap.backendUrl into config/%s.json), or set %s to the team's s3:// backend; %s=1 allows local state on purpose",
			s.Name, url, s.Name, s.Name, BackendEnv, AllowLocalStateEnv)
	}
	return url, nil
}

// SecretsProvider returns the secrets provider a new stack is created
// with: $SHIPYARD_SECRETS_PROVIDER when set; for an aws stack, the
// bootstrap.secretsProvider of its config; else "passphrase".
func SecretsProvider(getenv func(string) string, s Stack) string {
	if p := getenv(SecretsProviderEnv); p != "" {
		return p
	}
	if s.Target == TargetAWS && s.Bootstrap.SecretsProvider != "" {
		return s.Bootstrap.SecretsProvider
	}
	return "passphrase"
}

// LocalPassphrase is the secrets passphrase of docker-target stacks when
// the user set none, so `make up` is one command. Their secrets are
// generated local passwords, not worth protecting; aws stacks never get a
// default.
const LocalPassphrase = "shipyard-local"

// Passphrase returns the PULUMI_CONFIG_PASSPHRASE a stack's pulumi calls
// get when the user set neither PULUMI_CONFIG_PASSPHRASE nor
// PULUMI_CONFIG_PASSPHRASE_FILE: LocalPassphrase for a docker stack, by
// its target whatever its name; an aws stack gets none (ok false). The one
// rule of cmd/shipyard's pulumi calls and of the Makefile's (`preflight
// passphrase STACK`).
func Passphrase(getenv func(string) string, s Stack) (passphrase string, ok bool) {
	if getenv(PassphraseEnv) != "" || getenv(PassphraseFileEnv) != "" || s.Target != TargetDocker {
		return "", false
	}
	return LocalPassphrase, true
}

// Check reads every stack named and checks its backend: the checks `make
// up`, `preview`, `release`, `promote` and the other stack targets run
// first. It returns the stacks read.
func Check(getenv func(string) string, root, configDir string, stacks ...string) ([]Stack, error) {
	if len(stacks) == 0 {
		return nil, errors.New("no stack named")
	}
	var out []Stack
	for _, name := range stacks {
		s, err := Read(configDir, name)
		if err != nil {
			return nil, err
		}
		if _, err := Backend(getenv, root, s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// CheckConfirm is the one rule of destroy's CONFIRM (`make destroy
// CONFIRM=`, `shipyard destroy --confirm=`), checked before anything runs:
// an aws stack is destroyed only with CONFIRM naming it, and a docker
// stack with CONFIRM empty or naming it. A CONFIRM naming another stack
// is refused on every target: `make destroy CONFIRM=prod`, with STACK
// left at its default, would destroy local and its data volumes.
func CheckConfirm(s Stack, confirm string) error {
	switch {
	case confirm == s.Name:
		return nil
	case confirm == "" && s.Target != TargetAWS:
		return nil
	}
	how := fmt.Sprintf("destroying aws stack %q deletes its database and data: confirm with `make destroy STACK=%s CONFIRM=%s`", s.Name, s.Name, s.Name)
	if confirm == "" {
		return errors.New(how)
	}
	allowed := s.Name + ", or empty for a docker stack"
	if s.Target == TargetAWS {
		allowed = s.Name + " (" + how + ")"
	}
	return fmt.Errorf("CONFIRM=%s does not name STACK=%s; allowed: %s; nothing was destroyed", confirm, s.Name, allowed)
}

// MaxPR is the largest pull request number a PR environment takes.
const MaxPR = 9_999_999

// ParsePR parses a pull request number as given to `make pr-up PR=<n>`:
// the one rule of shipyard's pr commands (infra/stackconfig.ParsePR) and
// of the Makefile's check before it builds anything (`preflight pr`).
func ParsePR(s string) (int, error) {
	allowed := fmt.Sprintf("allowed a pull request number from 1 to %d", MaxPR)
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("PR is missing: %s", allowed)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxPR {
		return 0, fmt.Errorf("PR=%q: %s", s, allowed)
	}
	return n, nil
}

// StacksOf lists the stacks of the config directory whose config reads
// with target, sorted; a config that cannot be read is left out (for the
// allowed values of a message: the command that reads it names it).
func StacksOf(configDir, target string) ([]string, error) {
	names, err := Stacks(configDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if s, err := parse(filepath.Join(configDir, n+".json"), n); err == nil && s.Target == target {
			out = append(out, n)
		}
	}
	return out, nil
}

// listOr is names comma separated, or none.
func listOr(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ", ")
}

// CheckPromote is the one check of promote's FROM and TO (`make promote`,
// which runs it before anything is installed, and `shipyard promote`):
// two different aws stacks of the config directory. Its errors name the
// variable and the aws stacks.
func CheckPromote(configDir, from, to string) error {
	aws, err := StacksOf(configDir, TargetAWS)
	if err != nil {
		return err
	}
	allowed := listOr(aws, "none: no config/<stack>.json has target aws")
	var missing []string
	for _, v := range []struct{ name, stack string }{{"FROM", from}, {"TO", to}} {
		if v.stack == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		verb := "is"
		if len(missing) == 2 {
			verb = "are"
		}
		return fmt.Errorf("%s %s missing: allowed the aws stacks %s (make promote FROM=<stack> TO=<stack>, e.g. FROM=staging TO=prod)", strings.Join(missing, " and "), verb, allowed)
	}
	known, err := Stacks(configDir)
	if err != nil {
		return err
	}
	for _, v := range []struct{ name, stack string }{{"FROM", from}, {"TO", to}} {
		if !slices.Contains(known, v.stack) {
			return fmt.Errorf("%s=%s: unknown stack; allowed the aws stacks %s", v.name, v.stack, allowed)
		}
		s, err := ReadStrict(configDir, v.stack)
		if err != nil {
			return fmt.Errorf("%s=%s: %w", v.name, v.stack, err)
		}
		if s.Target != TargetAWS {
			return fmt.Errorf("%s=%s: stack %q has target %q; allowed the aws stacks %s (promote deploys an aws stack's release by digest to another)", v.name, v.stack, v.stack, s.Target, allowed)
		}
	}
	if from == to {
		return fmt.Errorf("FROM=%s and TO=%s are the same stack; allowed two different aws stacks of %s", from, to, allowed)
	}
	return nil
}

// The roles `make bootstrap` creates for CI: each aws stack's deploy role
// (bootstrap.deployRoleArn), which trusts only the GitHub environment
// named after the stack, and the read-only preview role
// (bootstrap.previewRoleArn) of pull requests and scheduled drift checks.
const (
	RoleDeploy  = "deploy"
	RolePreview = "preview"
)

// Roles are the roles CI assumes, as a flag's allowed values.
var Roles = []string{RoleDeploy, RolePreview}

// CI is what a workflow job reads of an aws stack before it assumes role:
// the role's ARN, the stack's region and its state backend.
type CI struct {
	RoleArn, Region, Backend string
}

// ForCI is the one check of a stack's bootstrap section the workflows run
// (`preflight ci`, which reads the stack with ReadStrict): for an aws
// stack whose config has the role's ARN, its bootstrap.backendUrl and its
// aws.region, those. Any other stack is an error in one line: a stack of
// another target (docker, which has no roles, or a misspelt one) names
// its target and the one allowed, and a section without the role names
// what is missing and `make bootstrap STACK=<stack>`.
func ForCI(s Stack, role string) (CI, error) {
	if s.Target != TargetAWS {
		return CI{}, s.fileError(fmt.Errorf("stack %q: target %q: allowed %q (preflight ci is for aws stacks: CI assumes AWS roles only for them)", s.Name, s.Target, TargetAWS))
	}
	ci := CI{Region: s.Region, Backend: s.Bootstrap.BackendURL}
	var roleField string
	switch role {
	case RoleDeploy:
		ci.RoleArn, roleField = s.Bootstrap.DeployRoleArn, "bootstrap.deployRoleArn"
	case RolePreview:
		ci.RoleArn, roleField = s.Bootstrap.PreviewRoleArn, "bootstrap.previewRoleArn"
	default:
		return CI{}, fmt.Errorf("unknown role %q: allowed %s", role, strings.Join(Roles, ", "))
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{roleField, ci.RoleArn}, {"bootstrap.backendUrl", ci.Backend}, {"aws.region", ci.Region}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return CI{}, s.fileError(fmt.Errorf("stack %q is not bootstrapped for CI's %s role: config/%s.json has no %s; run make bootstrap STACK=%s and commit config/ (docs/operations.md#bootstrapping-an-aws-account)",
			s.Name, role, s.Name, strings.Join(missing, ", "), s.Name))
	}
	return ci, nil
}
