package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The end-to-end tests of the operator commands run the real exec
// implementations against fake pulumi, aws, crane, docker and git
// executables: small scripts in a temporary bin/ that re-run this test
// binary with SHIPYARD_FAKE=<tool>. The fakes keep their world (stack
// outputs, images, what ECS runs) as JSON files in $SHIPYARD_FAKE_STATE and
// log every call to $SHIPYARD_FAKE_STATE/calls.log.

func TestMain(m *testing.M) {
	if tool := os.Getenv("SHIPYARD_FAKE"); tool != "" {
		os.Exit(fakeCLI(tool, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakePushedDigest is the digest the fake registry gives a pushed image.
const fakePushedDigest = "sha256:9999999999999999999999999999999999999999999999999999999999999999"

// fakeWorld is the fakes' state.
type fakeWorld struct {
	// Outputs per stack; a stack without an entry does not exist.
	Outputs map[string]map[string]any `json:"outputs"`
	// Images per repository URL: digest -> present.
	Images map[string]map[string]bool `json:"images"`
	// Tags per repository URL: tag -> digest.
	Tags map[string]map[string]string `json:"tags"`
	// TaskDefs maps a task definition ARN to its image, and
	// TaskDefInputs to the rest of what `pulumi up` registered it from
	// (fakeTaskDefInputs; none recorded: the config as it is).
	TaskDefs      map[string]string `json:"taskDefs"`
	TaskDefInputs map[string]string `json:"taskDefInputs"`
	// Primary is the task definition each ECS service runs.
	Primary map[string]string `json:"primary"`
	// CircuitBreaker makes every new deployment roll back.
	CircuitBreaker bool `json:"circuitBreaker"`
	// AlarmRollback names deployment alarms that go into ALARM during every
	// new deployment of the web service, which ECS then rolls back.
	AlarmRollback []string `json:"alarmRollback"`
	// ServiceDeployments are ECS's records of the deployments (for
	// list/describe-service-deployments), by service name.
	ServiceDeployments map[string][]fakeServiceDeployment `json:"serviceDeployments"`

	// RDS: the snapshots, the instances (identifier -> status) and the
	// failures to inject ("create-db-snapshot", "wait db-instance-available",
	// "delete-db-instance", …: the aws subcommand that fails).
	Snapshots []fakeSnapshot    `json:"snapshots"`
	Instances map[string]string `json:"instances"`
	Fail      map[string]bool   `json:"fail"`
	// ECS one-off tasks: task ARN -> the app command it runs; ExitCodes
	// gives a command ("migrate", "dbcheck") a non-zero exit code.
	Tasks     map[string]string `json:"tasks"`
	ExitCodes map[string]int    `json:"exitCodes"`
	// AppOutput is what the fake app binary prints (its stdout), and
	// AppExit its exit code.
	AppOutput string `json:"appOutput"`
	AppExit   int    `json:"appExit"`
	// ExecOutput is what `docker exec` prints (the app in a container).
	ExecOutput string `json:"execOutput"`
	// DockerRuns records every `docker run` as the client saw it.
	DockerRuns []fakeDockerRun `json:"dockerRuns"`
	// Committed is a file of the config directory as the HEAD commit has
	// it, by name, when it differs from the file (`git show`).
	Committed map[string]string `json:"committed"`
	// StackConfig is each stack's Pulumi config (`pulumi config set`).
	StackConfig map[string]map[string]string `json:"stackConfig"`

	// CodeDeploy: the web service's deployment controller is CODE_DEPLOY
	// (cli_fakes_rotation_test.go); Secret is the Redis AUTH token's,
	// RunningTasks each service's tasks, CodeDeployments the deployments
	// created, and Seq numbers the tasks.
	CodeDeploy      bool                  `json:"codeDeploy"`
	Secret          *fakeSecret           `json:"secret"`
	RunningTasks    map[string][]fakeTask `json:"runningTasks"`
	CodeDeployments []fakeCodeDeployment  `json:"codeDeployments"`
	Seq             int                   `json:"seq"`
}

// fakeLocalImageID is the ID `docker image inspect` gives every local
// image.
const fakeLocalImageID = "sha256:5555555555555555555555555555555555555555555555555555555555555555"

// fakeDockerRun is one `docker run`: its arguments, the client's own
// environment, and its --env-file (path, text, the file's and its
// directory's permissions) as the client found it.
type fakeDockerRun struct {
	Args        []string    `json:"args"`
	Environ     []string    `json:"environ"`
	EnvFile     string      `json:"envFile"`
	EnvFileText string      `json:"envFileText"`
	EnvFileMode os.FileMode `json:"envFileMode"`
	EnvDirMode  os.FileMode `json:"envDirMode"`
}

type fakeServiceDeployment struct {
	Arn       string    `json:"arn"`
	CreatedAt time.Time `json:"createdAt"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason"`
	Alarms    []string  `json:"alarms"`
	Triggered []string  `json:"triggered"`
}

type fakeSnapshot struct {
	ID       string `json:"id"`
	Instance string `json:"instance"`
	Created  string `json:"created"`
	Status   string `json:"status"`
	Type     string `json:"type"`
}

func fakeStatePath() string { return filepath.Join(os.Getenv("SHIPYARD_FAKE_STATE"), "world.json") }

func loadWorld() (*fakeWorld, error) {
	w := &fakeWorld{}
	data, err := os.ReadFile(fakeStatePath())
	if err != nil {
		return nil, err
	}
	return w, json.Unmarshal(data, w)
}

func (w *fakeWorld) save() error {
	data, err := json.MarshalIndent(w, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(fakeStatePath(), data, 0o644)
}

// flag returns the value after name in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func fakeCLI(tool string, args []string) int {
	logf, err := os.OpenFile(filepath.Join(os.Getenv("SHIPYARD_FAKE_STATE"), "calls.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(logf, tool+" "+strings.Join(args, " "))
		logf.Close()
	}
	w, err := loadWorld()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 2
	}
	code, err := w.run(tool, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	if serr := w.save(); serr != nil {
		fmt.Fprintln(os.Stderr, "fake:", serr)
		return 2
	}
	return code
}

func (w *fakeWorld) run(tool string, args []string) (int, error) {
	cmd := strings.Join(args, " ")
	switch tool {
	case "git":
		if strings.Contains(cmd, "rev-parse HEAD") {
			fmt.Println(strings.Repeat("c0ffee", 6) + "c0ff")
		}
		// git -C <dir> show HEAD:./<file>: Committed's version, else the
		// file as it is (committed).
		if len(args) == 4 && args[0] == "-C" && args[2] == "show" {
			name, ok := strings.CutPrefix(args[3], "HEAD:./")
			if !ok {
				return 2, fmt.Errorf("fake git: %v", args)
			}
			if data, ok := w.Committed[name]; ok {
				fmt.Print(data)
				return 0, nil
			}
			data, err := os.ReadFile(filepath.Join(args[1], name))
			if err != nil {
				return 128, fmt.Errorf("fatal: path '%s' does not exist in 'HEAD'", name)
			}
			os.Stdout.Write(data)
		}
		return 0, nil
	case "docker":
		if len(args) > 0 && args[0] == "exec" {
			fmt.Print(w.ExecOutput)
			return 0, nil
		}
		if len(args) > 0 && args[0] == "run" {
			return 0, w.dockerRun(args)
		}
		if len(args) > 2 && args[0] == "image" && args[1] == "inspect" {
			fmt.Println(fakeLocalImageID)
			return 0, nil
		}
		if len(args) == 2 && args[0] == "push" {
			repo, _, tag := splitRef(args[1])
			if w.Images[repo] == nil {
				w.Images[repo] = map[string]bool{}
			}
			if w.Tags[repo] == nil {
				w.Tags[repo] = map[string]string{}
			}
			w.Images[repo][fakePushedDigest] = true
			w.Tags[repo][tag] = fakePushedDigest
		}
		return 0, nil
	case "crane":
		return w.crane(args)
	case "aws":
		return w.aws(args)
	case "pulumi":
		return w.pulumi(args)
	case "app":
		if os.Getenv("DATABASE_URL") == "" {
			return 2, fmt.Errorf("fake app: no DATABASE_URL")
		}
		fmt.Println(w.AppOutput)
		return w.AppExit, nil
	}
	return 2, fmt.Errorf("fake: unknown tool %s", tool)
}

// dockerRun records a `docker run` (fakeDockerRun), reading its
// --env-file as docker would: a missing or unreadable one fails the run.
func (w *fakeWorld) dockerRun(args []string) error {
	run := fakeDockerRun{Args: args, Environ: os.Environ(), EnvFile: flagValue(args, "--env-file")}
	if run.EnvFile != "" {
		data, err := os.ReadFile(run.EnvFile)
		if err != nil {
			return fmt.Errorf("docker: open %s: %w", run.EnvFile, err)
		}
		file, err := os.Stat(run.EnvFile)
		if err != nil {
			return err
		}
		dir, err := os.Stat(filepath.Dir(run.EnvFile))
		if err != nil {
			return err
		}
		run.EnvFileText, run.EnvFileMode, run.EnvDirMode = string(data), file.Mode().Perm(), dir.Mode().Perm()
	}
	w.DockerRuns = append(w.DockerRuns, run)
	return nil
}

func splitRef(ref string) (repo, sep, rest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], "@", ref[i+1:]
	}
	i := strings.LastIndex(ref, ":")
	return ref[:i], ":", ref[i+1:]
}

func (w *fakeWorld) crane(args []string) (int, error) {
	switch args[0] {
	case "copy":
		srcRepo, _, digest := splitRef(args[1])
		if !w.Images[srcRepo][digest] {
			return 1, fmt.Errorf("MANIFEST_UNKNOWN: %s", args[1])
		}
		dstRepo, _, tag := splitRef(args[2])
		if w.Images[dstRepo] == nil {
			w.Images[dstRepo] = map[string]bool{}
		}
		if w.Tags[dstRepo] == nil {
			w.Tags[dstRepo] = map[string]string{}
		}
		w.Images[dstRepo][digest] = true
		w.Tags[dstRepo][tag] = digest
		return 0, nil
	case "digest":
		repo, sep, rest := splitRef(args[1])
		if sep == "@" {
			if !w.Images[repo][rest] {
				return 1, fmt.Errorf("MANIFEST_UNKNOWN: %s", args[1])
			}
			fmt.Println(rest)
			return 0, nil
		}
		d, ok := w.Tags[repo][rest]
		if !ok {
			return 1, fmt.Errorf("MANIFEST_UNKNOWN: %s", args[1])
		}
		fmt.Println(d)
		return 0, nil
	}
	return 2, fmt.Errorf("fake crane: %v", args)
}

func (w *fakeWorld) aws(args []string) (int, error) {
	if flagValue(args, "--region") == "" {
		return 2, fmt.Errorf("fake aws: no --region in %v", args)
	}
	cmd := strings.Join(args, " ")
	out := func(v any) (int, error) {
		data, err := json.Marshal(v)
		if err != nil {
			return 2, err
		}
		fmt.Println(string(data))
		return 0, nil
	}
	if code, ok, err := w.awsRotation(args, out); ok {
		return code, err
	}
	switch {
	case strings.HasPrefix(cmd, "ecr get-login-password"):
		fmt.Println("password")
		return 0, nil
	case strings.HasPrefix(cmd, "ecs wait services-stable"):
		return 0, nil
	case strings.HasPrefix(cmd, "ecs update-service"):
		return out(map[string]any{"service": map[string]any{"serviceName": flagValue(args, "--service")}})
	case strings.HasPrefix(cmd, "ecs describe-services"):
		var services []map[string]any
		for i := 0; i < len(args); i++ {
			if args[i] != "--services" {
				continue
			}
			for _, name := range args[i+1:] {
				if strings.HasPrefix(name, "--") {
					break
				}
				svc := map[string]any{
					"serviceName": name,
					"deployments": []map[string]any{{"status": "PRIMARY", "taskDefinition": w.Primary[name], "rolloutState": "COMPLETED"}},
				}
				if w.CodeDeploy && strings.HasSuffix(name, "-web") {
					svc["deploymentController"] = map[string]any{"type": "CODE_DEPLOY"}
					svc["taskSets"] = []map[string]any{{"status": "PRIMARY", "taskDefinition": w.Primary[name], "stabilityStatus": "STEADY_STATE"}}
				}
				services = append(services, svc)
			}
		}
		return out(map[string]any{"services": services, "failures": []any{}})
	case strings.HasPrefix(cmd, "rds ") || strings.HasPrefix(cmd, "ecs run-task") || strings.HasPrefix(cmd, "ecs wait tasks-stopped") || strings.HasPrefix(cmd, "ecs describe-tasks"):
		return w.awsOneOff(args, out)
	case strings.HasPrefix(cmd, "ecs list-service-deployments"):
		after, ok := strings.CutPrefix(flagValue(args, "--created-at"), "after=")
		since, err := time.Parse(time.RFC3339, after)
		if !ok || err != nil {
			return 2, fmt.Errorf("fake aws: --created-at %q, want after=<RFC 3339>", flagValue(args, "--created-at"))
		}
		list := []map[string]any{}
		for _, d := range w.ServiceDeployments[flagValue(args, "--service")] {
			if d.CreatedAt.After(since) {
				list = append(list, map[string]any{"serviceDeploymentArn": d.Arn, "status": d.Status})
			}
		}
		return out(map[string]any{"serviceDeployments": list})
	case strings.HasPrefix(cmd, "ecs describe-service-deployments"):
		list := []map[string]any{}
		for _, ds := range w.ServiceDeployments {
			for _, d := range ds {
				if !slices.Contains(args, d.Arn) {
					continue
				}
				sd := map[string]any{"serviceDeploymentArn": d.Arn, "status": d.Status, "statusReason": d.Reason}
				if len(d.Alarms) > 0 {
					sd["alarms"] = map[string]any{"status": "TRIGGERED", "alarmNames": d.Alarms, "triggeredAlarmNames": d.Triggered}
					sd["rollback"] = map[string]any{"reason": "Alarms triggered during the deployment."}
				}
				list = append(list, sd)
			}
		}
		return out(map[string]any{"serviceDeployments": list, "failures": []any{}})
	case strings.HasPrefix(cmd, "ecs describe-task-definition"):
		arn := flagValue(args, "--task-definition")
		return out(map[string]any{"taskDefinition": map[string]any{"containerDefinitions": []map[string]any{{"name": "app", "image": w.TaskDefs[arn]}}}})
	}
	return 2, fmt.Errorf("fake aws: unexpected %v", args)
}

// awsOneOff fakes the RDS snapshot and restore calls and ECS one-off tasks.
func (w *fakeWorld) awsOneOff(args []string, out func(any) (int, error)) (int, error) {
	sub := args[0] + " " + args[1]
	if args[1] == "wait" {
		sub = args[0] + " wait " + args[2]
	}
	key := strings.TrimPrefix(strings.TrimPrefix(sub, "rds "), "ecs ")
	if w.Fail[key] {
		return 255, fmt.Errorf("An error occurred (InjectedFault) when calling %s", key)
	}
	if w.Instances == nil {
		w.Instances = map[string]string{}
	}
	if w.Tasks == nil {
		w.Tasks = map[string]string{}
	}
	switch sub {
	case "rds create-db-snapshot":
		inst := flagValue(args, "--db-instance-identifier")
		if _, ok := w.Instances[inst]; !ok {
			return 254, fmt.Errorf("DBInstanceNotFound: %s", inst)
		}
		w.Snapshots = append(w.Snapshots, fakeSnapshot{ID: flagValue(args, "--db-snapshot-identifier"), Instance: inst, Created: "2026-12-01T00:00:00Z", Status: "available", Type: "manual"})
		return 0, nil
	case "rds wait db-snapshot-available":
		id := flagValue(args, "--db-snapshot-identifier")
		for _, sn := range w.Snapshots {
			if sn.ID == id {
				return 0, nil
			}
		}
		return 255, fmt.Errorf("Waiter DBSnapshotAvailable failed: %s not found", id)
	case "rds describe-db-snapshots":
		inst := flagValue(args, "--db-instance-identifier")
		var list []map[string]any
		for _, sn := range w.Snapshots {
			if sn.Instance == inst {
				list = append(list, map[string]any{"DBSnapshotIdentifier": sn.ID, "SnapshotCreateTime": sn.Created, "Status": sn.Status, "SnapshotType": sn.Type})
			}
		}
		return out(map[string]any{"DBSnapshots": list})
	case "rds restore-db-instance-from-db-snapshot":
		id := flagValue(args, "--db-instance-identifier")
		w.Instances[id] = "available"
		return out(map[string]any{"DBInstance": map[string]any{"DBInstanceIdentifier": id, "DBInstanceStatus": "creating"}})
	case "rds wait db-instance-available":
		if _, ok := w.Instances[flagValue(args, "--db-instance-identifier")]; !ok {
			return 255, fmt.Errorf("Waiter DBInstanceAvailable failed")
		}
		return 0, nil
	case "rds describe-db-instances":
		id := flagValue(args, "--db-instance-identifier")
		if _, ok := w.Instances[id]; !ok {
			return 254, fmt.Errorf("DBInstanceNotFound: %s", id)
		}
		return out(map[string]any{"DBInstances": []map[string]any{{"DBInstanceIdentifier": id, "Endpoint": map[string]any{"Address": id + ".cabc.eu-west-1.rds.amazonaws.com", "Port": 5432}}}})
	case "rds delete-db-instance":
		id := flagValue(args, "--db-instance-identifier")
		if _, ok := w.Instances[id]; !ok {
			return 254, fmt.Errorf("DBInstanceNotFound: %s", id)
		}
		delete(w.Instances, id)
		return 0, nil
	case "rds wait db-instance-deleted":
		return 0, nil
	case "ecs run-task":
		var ov struct {
			ContainerOverrides []struct {
				Command []string `json:"command"`
			} `json:"containerOverrides"`
		}
		command := "migrate" // the migrate task definition's own command
		if o := flagValue(args, "--overrides"); o != "" {
			if err := json.Unmarshal([]byte(o), &ov); err != nil {
				return 2, err
			}
			if len(ov.ContainerOverrides) > 0 && len(ov.ContainerOverrides[0].Command) > 0 {
				command = strings.Join(ov.ContainerOverrides[0].Command, " ")
			}
		}
		arn := fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:task/shipyard/%d", len(w.Tasks)+1)
		w.Tasks[arn] = command
		return out(map[string]any{"tasks": []map[string]any{{"taskArn": arn}}, "failures": []any{}})
	case "ecs wait tasks-stopped":
		return 0, nil
	case "ecs describe-tasks":
		arn := flagValue(args, "--tasks")
		code := w.ExitCodes[w.Tasks[arn]]
		return out(map[string]any{"tasks": []map[string]any{{"stoppedReason": "Essential container in task exited", "containers": []map[string]any{{"name": "app", "exitCode": code}}}}})
	}
	return 2, fmt.Errorf("fake aws: unexpected %v", args)
}

func (w *fakeWorld) pulumi(args []string) (int, error) {
	if os.Getenv("PULUMI_BACKEND_URL") == "" {
		return 2, fmt.Errorf("fake pulumi: PULUMI_BACKEND_URL is not set")
	}
	stack, cwd := flagValue(args, "--stack"), flagValue(args, "--cwd")
	cmd := strings.Join(args, " ")
	switch {
	case strings.HasPrefix(cmd, "stack ls --json"):
		var list []map[string]string
		for s := range w.Outputs {
			list = append(list, map[string]string{"name": s})
		}
		data, _ := json.Marshal(list)
		fmt.Println(string(data))
		return 0, nil
	case strings.HasPrefix(cmd, "stack output --json"):
		o, ok := w.Outputs[stack]
		if !ok {
			return 255, fmt.Errorf("error: no stack named '%s' found", stack)
		}
		data, _ := json.Marshal(o)
		fmt.Println(string(data))
		return 0, nil
	case strings.HasPrefix(cmd, "stack init"):
		w.Outputs[args[2]] = map[string]any{}
		return 0, nil
	case strings.HasPrefix(cmd, "config set"):
		if w.StackConfig == nil {
			w.StackConfig = map[string]map[string]string{}
		}
		if w.StackConfig[stack] == nil {
			w.StackConfig[stack] = map[string]string{}
		}
		w.StackConfig[stack][args[2]] = args[3]
		return 0, nil
	case strings.HasPrefix(cmd, "config get"):
		v, ok := w.StackConfig[stack][args[2]]
		if !ok {
			return 255, fmt.Errorf("error: configuration key '%s' not found for stack '%s'", args[2], stack)
		}
		fmt.Println(v)
		return 0, nil
	case strings.HasPrefix(cmd, "destroy --yes"):
		w.Outputs[stack] = map[string]any{}
		return 0, nil
	case strings.HasPrefix(cmd, "stack rm --yes"):
		delete(w.Outputs, stack)
		delete(w.StackConfig, stack)
		return 0, nil
	case strings.HasPrefix(cmd, "up --yes") && strings.Contains(stack, "-pr-"):
		return w.previewUp(stack)
	case strings.HasPrefix(cmd, "preview --json"):
		plan := os.Getenv("SHIPYARD_FAKE_PLAN")
		// What a refresh finds changed outside Pulumi changes the plan.
		if refreshed := os.Getenv("SHIPYARD_FAKE_REFRESHED_PLAN"); refreshed != "" && slices.Contains(args, "--refresh") {
			plan = refreshed
		}
		if plan == "" {
			plan = `{"steps": []}`
		}
		fmt.Println(plan)
		return 0, nil
	case strings.HasPrefix(cmd, "preview"):
		fmt.Printf("Previewing update (%s):\n  ~ aws:ecs:Service web update [diff: ~taskDefinition]\n", stack)
		return 0, nil
	case strings.HasPrefix(cmd, "up --yes"):
		if os.Getenv("PULUMI_CONFIG_PASSPHRASE") == "" {
			return 255, fmt.Errorf("error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE")
		}
		var cfg struct {
			Release struct{ ImageDigest string } `json:"release"`
		}
		data, err := os.ReadFile(filepath.Join(cwd, "config", stack+".json"))
		if err != nil {
			return 2, err
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return 2, err
		}
		o := w.Outputs[stack]
		repo := o["imageRepositoryUrl"].(string)
		digest := cfg.Release.ImageDigest
		if !w.Images[repo][digest] {
			return 255, fmt.Errorf("error: CannotPullContainerError: %s@%s", repo, digest)
		}
		rev := 1
		if v, ok := o["revision"].(float64); ok {
			rev = int(v) + 1
		}
		names, taskDefs := map[string]any{}, map[string]any{}
		now := time.Now().UTC()
		if err := w.upToken(cwd, stack, o, now); err != nil {
			return 2, err
		}
		registered, _ := o["taskDefinitionArns"].(map[string]any)
		if w.TaskDefInputs == nil {
			w.TaskDefInputs = map[string]string{}
		}
		for _, p := range []string{"web", "worker", "clock"} {
			name := "shipyard-" + stack + "-" + p
			// As Pulumi does, a task definition whose inputs did not
			// change keeps its revision; any change registers a new one.
			image, inputs := repo+"@"+digest, fakeTaskDefInputs(data, p)
			arn, _ := registered[p].(string)
			if arn == "" || w.TaskDefs[arn] != image || w.TaskDefInputs[arn] != "" && w.TaskDefInputs[arn] != inputs {
				arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/" + name + ":" + strconv.Itoa(rev)
			}
			names[p], taskDefs[p] = name, arn
			w.TaskDefs[arn], w.TaskDefInputs[arn] = image, inputs
			if w.CodeDeploy && p == "web" && w.Primary[name] != "" {
				// CodeDeploy owns the service's task definition: up
				// registers the new one and leaves the tasks alone.
				continue
			}
			// A new deployment (forceNewDeployment, or a new task
			// definition) starts new tasks.
			w.startTasks(name, 2, now)
			alarmed := len(w.AlarmRollback) > 0 && p == "web"
			rolledBack := (w.CircuitBreaker || alarmed) && w.Primary[name] != ""
			if !rolledBack {
				w.Primary[name] = arn
			}
			d := fakeServiceDeployment{Arn: "arn:aws:ecs:eu-west-1:123456789012:service-deployment/shipyard-" + stack + "/" + name + "/" + strconv.Itoa(rev),
				CreatedAt: time.Now().UTC(), Status: "SUCCESSFUL"}
			switch {
			case rolledBack && w.CircuitBreaker:
				d.Status, d.Reason = "ROLLBACK_SUCCESSFUL", "Service deployment rolled back because the circuit breaker threshold was exceeded."
			case rolledBack:
				d.Status, d.Reason = "ROLLBACK_SUCCESSFUL", "Service deployment rolled back because of alarms."
				d.Alarms, d.Triggered = append(slices.Clone(w.AlarmRollback), "shipyard-"+stack+"-web-cpu"), w.AlarmRollback
			}
			if w.ServiceDeployments == nil {
				w.ServiceDeployments = map[string][]fakeServiceDeployment{}
			}
			w.ServiceDeployments[name] = append(w.ServiceDeployments[name], d)
		}
		o["revision"], o["imageDigest"], o["image"] = rev, digest, repo+"@"+digest
		o["serviceNames"], o["taskDefinitionArns"] = names, taskDefs
		fmt.Printf("Updating (%s):\nResources: 3 updated\n", stack)
		return 0, nil
	}
	return 2, fmt.Errorf("fake pulumi: unexpected %v", args)
}

// fakeTaskDefInputs is what the fake `pulumi up` registers a process's
// task definition from besides the image, out of config/<stack>.json: the
// process's cpu and memory, tracing and logging (a change of one registers
// a new revision).
func fakeTaskDefInputs(config []byte, process string) string {
	var c struct {
		Services map[string]struct {
			CPU    int `json:"cpu"`
			Memory int `json:"memory"`
		} `json:"services"`
		Tracing json.RawMessage `json:"tracing"`
		Logging json.RawMessage `json:"logging"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return "invalid config: " + err.Error()
	}
	svc := c.Services[process]
	return fmt.Sprintf("cpu=%d memory=%d tracing=%s logging=%s", svc.CPU, svc.Memory, c.Tracing, c.Logging)
}

// installFakes writes the fake executables and the initial world, and
// puts them first on PATH for the rest of the test.
func installFakes(t *testing.T, w *fakeWorld) (state string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, state := t.TempDir(), t.TempDir()
	for _, tool := range []string{"pulumi", "aws", "crane", "docker", "git", "app"} {
		script := fmt.Sprintf("#!/bin/sh\nSHIPYARD_FAKE=%s exec %q \"$@\"\n", tool, self)
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("SHIPYARD_FAKE_STATE", state)
	// make test exports DOCKER (the real client's path): the fake on PATH
	// must answer instead.
	t.Setenv("DOCKER", "")
	for _, m := range []*map[string]map[string]bool{&w.Images} {
		if *m == nil {
			*m = map[string]map[string]bool{}
		}
	}
	if w.Tags == nil {
		w.Tags = map[string]map[string]string{}
	}
	if w.TaskDefs == nil {
		w.TaskDefs = map[string]string{}
	}
	if w.Primary == nil {
		w.Primary = map[string]string{}
	}
	data, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "world.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return state
}

func readWorld(t *testing.T, state string) *fakeWorld {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "world.json"))
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWorld{}
	if err := json.Unmarshal(data, w); err != nil {
		t.Fatal(err)
	}
	return w
}

func readCalls(t *testing.T, state string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "calls.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// previewUp fakes `pulumi up` of an aws PR stack: the program's slot and
// image come from the environment shipyard pr-up sets; the image must be
// in the base's repository.
func (w *fakeWorld) previewUp(stack string) (int, error) {
	base, n, ok := stackconfig.PreviewOf(stack)
	slot, digest := os.Getenv(stackconfig.PreviewSlotEnv), os.Getenv(stackconfig.PreviewImageEnv)
	if !ok || slot == "" || digest == "" {
		return 255, fmt.Errorf("error: stack %s: %s=%q %s=%q", stack, stackconfig.PreviewSlotEnv, slot, stackconfig.PreviewImageEnv, digest)
	}
	repo, _ := w.Outputs[base]["imageRepositoryUrl"].(string)
	if !w.Images[repo][digest] {
		return 255, fmt.Errorf("error: CannotPullContainerError: %s@%s", repo, digest)
	}
	td := func(family string) string {
		return "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-" + stack + "-" + family + ":1"
	}
	names, taskDefs := map[string]any{}, map[string]any{}
	for _, p := range []string{"web", "worker", "clock"} {
		name := "shipyard-" + stack + "-" + p
		names[p], taskDefs[p] = name, td(p)
		w.Primary[name] = td(p)
		w.TaskDefs[td(p)] = repo + "@" + digest
	}
	s, _ := strconv.Atoi(slot)
	w.Outputs[stack] = map[string]any{
		"stack": stack, "target": "aws", "url": "https://pr-" + strconv.Itoa(n) + ".dev.shipyard-test.dev", "previewSlot": s, "pr": n,
		"baseStack": base, "databaseName": "pr_" + strconv.Itoa(n), "image": repo + "@" + digest, "region": "eu-west-1",
		"clusterName": "shipyard-" + base, "privateSubnetIds": []string{"subnet-a"}, "appSecurityGroupId": "sg-app",
		"serviceNames": names, "taskDefinitionArns": taskDefs,
		"migrateTaskDefinitionArn": td("migrate"), "adminTaskDefinitionArn": td("admin"), "adminLogGroupName": "/shipyard/" + stack + "/web",
	}
	fmt.Printf("Updating (%s):\nResources: 20 created\n", stack)
	return 0, nil
}
