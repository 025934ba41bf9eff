package release

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Digests used by the tests.
var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
	digestC = "sha256:" + strings.Repeat("c", 64)
)

// world is a fake cloud: the stacks' outputs, the registries, the health
// of each URL and what ECS runs, all derived from config/<stack>.json the
// way `pulumi up` would.
type world struct {
	t         *testing.T
	configDir string
	calls     []string

	outputs  map[string]Outputs
	revision map[string]int
	// deployed is the digest ECS runs per stack (the last one that
	// rolled out).
	deployed map[string]string

	images    map[string]map[string]bool // repo -> digest -> present
	copyGives string                     // when set, Copy reports this digest
	copyErr   error
	pushErr   error
	unhealthy map[string]bool
	upErr     error
	// duringUp runs in every Up, before it fails with upErr: what happens
	// to the checkout meanwhile (an operator's edit).
	duringUp func()
	// snapshots are the snapshots taken (instance/id); snapshotErr fails
	// the next one.
	snapshots   []string
	snapshotErr error
	// ecs decides what ECS does with a new deployment: "ok", "rollback"
	// (circuit breaker: the previous task definition comes back and
	// `pulumi up` still succeeds), "alarmRollback" (the same, because the
	// web service's deployment alarms went into ALARM), "stuck" (rollout
	// FAILED), "otherImage".
	ecs string
	// since is what the last Services call was given.
	since time.Time
	// extraOutputs are added to every stack's outputs (a CodeDeploy
	// application, for example).
	extraOutputs Outputs
}

func newWorld(t *testing.T, configDir string) *world {
	return &world{
		t: t, configDir: configDir,
		outputs: map[string]Outputs{}, revision: map[string]int{}, deployed: map[string]string{},
		images: map[string]map[string]bool{}, unhealthy: map[string]bool{}, ecs: "ok",
	}
}

func repoURL(stack string) string {
	return "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shipyard-" + stack
}

// deploy makes stack look deployed with digest (its outputs and ECS).
func (w *world) deploy(stack, digest string) {
	w.revision[stack]++
	taskDefs := map[string]any{}
	names := map[string]any{}
	for _, p := range []string{"web", "worker", "clock"} {
		taskDefs[p] = w.taskDef(stack, p, w.revision[stack])
		names[p] = "shipyard-" + stack + "-" + p
	}
	w.outputs[stack] = Outputs{
		"stack": stack, "target": "aws",
		"url":                "https://" + stack + ".example.com",
		"image":              repoURL(stack) + "@" + digest,
		"imageDigest":        digest,
		"imageRepositoryUrl": repoURL(stack),
		"clusterName":        "shipyard-" + stack,
		"serviceNames":       names,
		"taskDefinitionArns": taskDefs,
		"databaseInstanceId": "shipyard-" + stack,
	}
	for k, v := range w.extraOutputs {
		w.outputs[stack][k] = v
	}
	if digest == "" {
		delete(w.outputs[stack], "image")
	}
	w.deployed[stack] = digest
	w.push(repoURL(stack), digest)
}

func (w *world) push(repo, digest string) {
	if w.images[repo] == nil {
		w.images[repo] = map[string]bool{}
	}
	w.images[repo][digest] = true
}

func (w *world) taskDef(stack, process string, rev int) string {
	return fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-%s-%s:%d", stack, process, rev)
}

func (w *world) configDigest(stack string) string {
	data, err := os.ReadFile(filepath.Join(w.configDir, stack+".json"))
	if err != nil {
		w.t.Fatal(err)
	}
	var f struct {
		Release struct {
			ImageDigest string `json:"imageDigest"`
		} `json:"release"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		w.t.Fatal(err)
	}
	return f.Release.ImageDigest
}

// Pulumi.

func (w *world) Outputs(_ context.Context, stack string) (Outputs, error) {
	w.calls = append(w.calls, "outputs "+stack)
	out := Outputs{}
	for k, v := range w.outputs[stack] {
		out[k] = v
	}
	return out, nil
}

func (w *world) Preview(_ context.Context, stack string) error {
	w.calls = append(w.calls, "preview "+stack)
	return nil
}

func (w *world) Up(_ context.Context, stack string) error {
	w.calls = append(w.calls, "up "+stack)
	if w.duringUp != nil {
		w.duringUp()
	}
	if w.upErr != nil {
		return w.upErr
	}
	digest := w.configDigest(stack)
	if !w.images[repoURL(stack)][digest] {
		return fmt.Errorf("CannotPullContainerError: %s@%s not found", repoURL(stack), digest)
	}
	previous := w.deployed[stack]
	w.deploy(stack, digest)
	if w.ecs == "rollback" || w.ecs == "alarmRollback" {
		w.deployed[stack] = previous
	}
	return nil
}

// Backups.

func (w *world) Snapshot(_ context.Context, instance, id string) error {
	w.calls = append(w.calls, "snapshot "+instance+" "+id)
	if w.snapshotErr != nil {
		return w.snapshotErr
	}
	w.snapshots = append(w.snapshots, instance+"/"+id)
	return nil
}

// Registry.

func (w *world) Push(_ context.Context, local, repo, tag string) (string, error) {
	w.calls = append(w.calls, "push "+local+" "+repo+":"+tag)
	if w.pushErr != nil {
		return "", w.pushErr
	}
	w.push(repo, digestC)
	return digestC, nil
}

func (w *world) Copy(_ context.Context, src, digest, dst, tag string) (string, error) {
	w.calls = append(w.calls, "copy "+src+"@"+digest+" "+dst+":"+tag)
	if w.copyErr != nil {
		return "", w.copyErr
	}
	if !w.images[src][digest] {
		return "", fmt.Errorf("MANIFEST_UNKNOWN: %s@%s", src, digest)
	}
	got := digest
	if w.copyGives != "" {
		got = w.copyGives
	}
	w.push(dst, got)
	return got, nil
}

func (w *world) Has(_ context.Context, repo, digest string) error {
	w.calls = append(w.calls, "has "+repo+"@"+digest)
	if !w.images[repo][digest] {
		return fmt.Errorf("MANIFEST_UNKNOWN: %s@%s", repo, digest)
	}
	return nil
}

// Health.

func (w *world) Ready(_ context.Context, url string) error {
	w.calls = append(w.calls, "ready "+url)
	for stack, bad := range w.unhealthy {
		if bad && strings.Contains(url, "//"+stack+".") {
			return fmt.Errorf("GET %s: 503 Service Unavailable", url)
		}
	}
	return nil
}

// Runtime.

func (w *world) Services(_ context.Context, stack string, out Outputs, since time.Time) ([]Service, error) {
	w.calls = append(w.calls, "services "+stack)
	w.since = since
	var services []Service
	for _, p := range []string{"web", "worker", "clock"} {
		s := Service{
			Process: p, Name: out.Map("serviceNames")[p],
			TaskDefinition: w.taskDef(stack, p, w.revision[stack]),
			RolloutState:   "COMPLETED", Deployments: 1,
			Images: []string{repoURL(stack) + "@" + w.deployed[stack], repoURL(stack) + "@" + w.deployed[stack],
				"public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4"},
		}
		switch w.ecs {
		case "rollback":
			s.TaskDefinition = w.taskDef(stack, p, w.revision[stack]-1)
		case "alarmRollback":
			s.TaskDefinition = w.taskDef(stack, p, w.revision[stack]-1)
			if p == "web" {
				s.Alarms = []string{"shipyard-" + stack + "-web-5xx", "shipyard-" + stack + "-web-p99"}
				s.Failure = "service deployment ROLLBACK_SUCCESSFUL: Service deployment rolled back because of alarms."
			}
		case "stuck":
			s.RolloutState, s.Deployments = "FAILED", 2
		case "otherImage":
			s.Images[1] = repoURL(stack) + "@" + digestC
		case "tag":
			s.Images[0] = repoURL(stack) + ":latest"
		case "sidecarOnly":
			s.Images = s.Images[2:]
		}
		services = append(services, s)
	}
	return services, nil
}

// StoppedTask is the runtime's account of a stopped task: the stopped
// reason and log tail of a task that never became healthy.
func (w *world) StoppedTask(_ context.Context, _ Outputs, process, taskDefinition string) (string, error) {
	w.calls = append(w.calls, "stopped "+process+" "+taskDefinition)
	return "task 0a1b2c of " + taskDefinition + " stopped: Task failed ELB health checks in (target-group shipyard-dev-web-g)\n" +
		"last 20 log lines of container app:\n{\"level\":\"ERROR\",\"msg\":\"connecting to postgres: timeout\"}", nil
}

// fixture is a copy of the repository's config directory plus an empty
// ledger directory and a migrations directory, with a world around them.
type fixture struct {
	ops   *Ops
	w     *world
	dir   string
	clock time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	configDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "config")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(configDir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	migrations := filepath.Join(dir, "migrations")
	if err := os.MkdirAll(migrations, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"00001_init.sql", "00007_notes.sql", "00003_users.sql"} {
		if err := os.WriteFile(filepath.Join(migrations, n), []byte("-- +goose Up\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := newWorld(t, configDir)
	f := &fixture{w: w, dir: dir, clock: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)}
	f.ops = &Ops{
		ConfigDir: configDir, LedgerDir: filepath.Join(dir, "releases"), MigrationsDir: migrations,
		Pulumi: w, Registry: w, Health: w, Runtime: w, Backups: w,
		Commit: "0123456789abcdef0123456789abcdef01234567", Actor: "tester@host",
		Now: func() time.Time { f.clock = f.clock.Add(time.Minute); return f.clock },
	}
	return f
}

func (f *fixture) configPath(stack string) string {
	return filepath.Join(f.ops.ConfigDir, stack+".json")
}

func (f *fixture) read(stack string) []byte {
	f.w.t.Helper()
	data, err := os.ReadFile(f.configPath(stack))
	if err != nil {
		f.w.t.Fatal(err)
	}
	return data
}

// released makes stack run digest through a recorded, succeeded release.
func (f *fixture) released(stack, digest string) Record {
	f.w.t.Helper()
	data, err := SetImageDigest(f.read(stack), digest)
	if err != nil {
		f.w.t.Fatal(err)
	}
	if err := os.WriteFile(f.configPath(stack), data, 0o644); err != nil {
		f.w.t.Fatal(err)
	}
	f.w.deploy(stack, digest)
	id, err := f.ops.ledger().NextID(stack)
	if err != nil {
		f.w.t.Fatal(err)
	}
	r := Record{
		ID: id, Stack: stack, Kind: KindRelease, Status: StatusSucceeded, ImageDigest: digest,
		ImageRepository: repoURL(stack), ImageCommit: "feedface" + strings.Repeat("0", 32), MigrationVersion: 5,
		ConfigSHA256: strings.Repeat("0", 64), DeployCommit: "feedface", Actor: "ci", Time: f.clock,
	}
	if err := f.ops.ledger().Append(r); err != nil {
		f.w.t.Fatal(err)
	}
	return r
}

func (f *fixture) records(stack string) []Record {
	f.w.t.Helper()
	recs, err := f.ops.ledger().Read(stack)
	if err != nil {
		f.w.t.Fatal(err)
	}
	return recs
}

func (f *fixture) called(prefix string) bool {
	for _, c := range f.w.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}
