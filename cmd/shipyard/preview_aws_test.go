package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

const (
	prRepo      = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shipyard-dev"
	prLocalID   = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	prDigest    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	prAdminTD   = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-admin:1"
	prMigrateTD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-migrate:1"
	prTaskArn   = "arn:aws:ecs:eu-west-1:123456789012:task/shipyard-dev/0a1b2c3d4e5f"
	prLogGroup  = "/shipyard/dev-pr-7/web"
)

// prOutputs are the outputs of a deployed dev-pr-7 stack.
func prOutputs() release.Outputs {
	return release.Outputs{
		"stack": "dev-pr-7", "url": "https://pr-7.dev.shipyard.example.com", "previewSlot": 3.0, "pr": 7.0,
		"clusterName": "shipyard-dev", "privateSubnetIds": []any{"subnet-a", "subnet-b"}, "appSecurityGroupId": "sg-app",
		"serviceNames": map[string]any{"web": "shipyard-dev-pr-7-web", "worker": "shipyard-dev-pr-7-worker", "clock": "shipyard-dev-pr-7-clock"},
		"taskDefinitionArns": map[string]any{
			"web":    "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-web:1",
			"worker": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-worker:1",
			"clock":  "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-clock:1",
		},
		"migrateTaskDefinitionArn": prMigrateTD, "adminTaskDefinitionArn": prAdminTD, "adminLogGroupName": prLogGroup,
	}
}

// awsPreviewFixture is PR 7 of dev in slot 3 against fake CLIs answering
// by command-line prefix.
func awsPreviewFixture(t *testing.T, answers map[string]answer) (*previewRun, *fakeExec, *bytes.Buffer) {
	t.Helper()
	dir := filepath.Join(repoRoot, "config")
	base, err := stackconfig.Load(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	prCfg, err := stackconfig.Load(dir, "dev-pr-7")
	if err != nil {
		t.Fatal(err)
	}
	if err := prCfg.SetPreviewSlot("3"); err != nil {
		t.Fatal(err)
	}
	all := map[string]answer{
		"pulumi stack output --json --stack dev": {out: `{"imageRepositoryUrl": "` + prRepo + `"}`},
		"aws ecr get-login-password":             {out: "pw\n"},
		"docker login":                           {},
	}
	for k, v := range answers {
		all[k] = v
	}
	x := newFakeExec(all)
	var out bytes.Buffer
	env := map[string]string{"PULUMI_BACKEND_URL": "s3://shipyard-state-test", "PULUMI_CONFIG_PASSPHRASE": "test"}
	getenv := func(k string) string { return env[k] }
	r := &previewRun{x: x.exec, pulumi: &pulumiCLI{x: x.exec, root: t.TempDir(), getenv: getenv, configDir: dir}, getenv: getenv, stdout: &out, Base: base, PR: prCfg}
	return r, x, &out
}

func TestAWSIsATargetOfPREnvironments(t *testing.T) {
	r, _, _ := awsPreviewFixture(t, nil)
	ops, err := previewOpsFor(r.Base)
	if err != nil || ops.Image == nil || ops.AfterUp == nil || ops.Drop == nil {
		t.Fatalf("aws ops %+v, %v", ops, err)
	}
}

func TestAWSPRImageIsBuiltOncePushedByDigestToTheBasesRepository(t *testing.T) {
	tag := prRepo + ":pr-7-bbbbbbbbbbbb"
	inspect := "docker image inspect --format {{.Id}} shipyard-app:local"
	t.Run("the local build is pushed once, tagged pr-<n>-<image id>, and run by its digest", func(t *testing.T) {
		r, fx, _ := awsPreviewFixture(t, map[string]answer{
			inspect:               {out: prLocalID + "\n"},
			"docker tag":          {},
			"docker push " + tag:  {},
			"crane digest " + tag: {out: prDigest + "\n"},
		})
		// The registry knows the tag only once it is pushed.
		pushed := false
		r.x = func(ctx context.Context, c call) ([]byte, error) {
			line := c.String()
			if strings.HasPrefix(line, "docker push") {
				pushed = true
			}
			if strings.HasPrefix(line, "crane digest") && !pushed {
				fx.calls = append(fx.calls, c)
				return nil, errors.New("MANIFEST_UNKNOWN")
			}
			return fx.exec(ctx, c)
		}
		got, err := awsPreviewImage(context.Background(), r, "")
		if err != nil || got != prDigest {
			t.Fatalf("image %q, %v\n%s", got, err, strings.Join(fx.lines(), "\n"))
		}
		if !contains(fx.lines(), "docker push "+tag) {
			t.Errorf("no push of %s:\n%s", tag, strings.Join(fx.lines(), "\n"))
		}
	})
	t.Run("a build pushed before is not pushed again", func(t *testing.T) {
		r, fx, _ := awsPreviewFixture(t, map[string]answer{
			inspect:               {out: prLocalID + "\n"},
			"crane digest " + tag: {out: prDigest + "\n"},
		})
		got, err := awsPreviewImage(context.Background(), r, "")
		if err != nil || got != prDigest || contains(fx.lines(), "docker push") {
			t.Fatalf("image %q, %v\n%s", got, err, strings.Join(fx.lines(), "\n"))
		}
	})
	t.Run("an image by digest in the base's repository runs as it is", func(t *testing.T) {
		r, fx, _ := awsPreviewFixture(t, map[string]answer{"crane digest " + prRepo + "@" + prDigest: {out: prDigest + "\n"}})
		got, err := awsPreviewImage(context.Background(), r, prRepo+"@"+prDigest)
		if err != nil || got != prDigest || contains(fx.lines(), "docker push") || contains(fx.lines(), "crane copy") {
			t.Fatalf("image %q, %v\n%s", got, err, strings.Join(fx.lines(), "\n"))
		}
	})
	t.Run("an image by digest in another repository is copied by digest", func(t *testing.T) {
		src := "ghcr.io/acme/shipyard"
		r, fx, _ := awsPreviewFixture(t, map[string]answer{
			"crane copy " + src + "@" + prDigest + " " + prRepo + ":pr-7-111111111111": {},
			"crane digest " + prRepo + ":pr-7-111111111111":                            {out: prDigest + "\n"},
		})
		got, err := awsPreviewImage(context.Background(), r, src+"@"+prDigest)
		if err != nil || got != prDigest {
			t.Fatalf("image %q, %v\n%s", got, err, strings.Join(fx.lines(), "\n"))
		}
	})
	t.Run("a malformed digest names IMAGE", func(t *testing.T) {
		r, _, _ := awsPreviewFixture(t, nil)
		if _, err := awsPreviewImage(context.Background(), r, prRepo+"@sha256:abc"); err == nil || !strings.Contains(err.Error(), "IMAGE=") {
			t.Fatalf("got %v", err)
		}
	})
}

// oneOffAnswers are a one-off task that exits code, and the PR's services.
func oneOffAnswers(code int, logLines int) map[string]answer {
	var events []map[string]string
	for i := 1; i <= logLines; i++ {
		events = append(events, map[string]string{"message": fmt.Sprintf("log line %d\n", i)})
	}
	logs, _ := json.Marshal(map[string]any{"events": events})
	var services []map[string]any
	for _, p := range []string{"clock", "web", "worker"} {
		services = append(services, map[string]any{"serviceName": "shipyard-dev-pr-7-" + p, "deployments": []map[string]any{{
			"status": "PRIMARY", "rolloutState": "COMPLETED",
			"taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-" + p + ":1",
		}}})
	}
	described, _ := json.Marshal(map[string]any{"services": services})
	return map[string]answer{
		"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "admin"}, {"name": "log_router"}]}}`},
		"aws ecs run-task":                 {out: `{"tasks": [{"taskArn": "` + prTaskArn + `"}]}`},
		"aws ecs wait tasks-stopped":       {},
		"aws ecs describe-tasks": {out: fmt.Sprintf(`{"tasks": [{"stoppedReason": "Essential container in task exited",
			"containers": [{"name": "admin", "exitCode": %d}, {"name": "log_router", "exitCode": 0}]}]}`, code)},
		"aws logs filter-log-events":   {out: string(logs)},
		"aws ecs update-service":       {},
		"aws ecs wait services-stable": {},
		"aws ecs describe-services":    {out: string(described)},
	}
}

func TestAWSPRUpCreatesTheDatabaseMigratesThenStartsTheServicesAnew(t *testing.T) {
	r, fx, _ := awsPreviewFixture(t, oneOffAnswers(0, 0))
	if err := awsPreviewAfterUp(context.Background(), r, prOutputs()); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(fx.lines(), "\n"))
	}
	var order []string
	for _, l := range fx.lines() {
		switch {
		case strings.HasPrefix(l, "aws ecs run-task"):
			td := flagOf(l, "--task-definition")
			cmd := "migrate"
			if ov := flagOf(l, "--overrides"); ov != "" {
				cmd = ov
			}
			order = append(order, "run "+td+" "+cmd)
			if !strings.Contains(l, "--network-configuration awsvpcConfiguration={subnets=[subnet-a,subnet-b],securityGroups=[sg-app],assignPublicIp=DISABLED}") {
				t.Errorf("run-task outside the base's private subnets: %s", l)
			}
		case strings.HasPrefix(l, "aws ecs update-service"):
			order = append(order, "update "+flagOf(l, "--service")+" "+strings.Fields(l)[len(strings.Fields(l))-5])
		case strings.HasPrefix(l, "aws ecs describe-services"):
			order = append(order, "describe-services")
		}
	}
	want := []string{
		"run " + prAdminTD + ` {"containerOverrides":[{"command":["preview","create"],"name":"admin"}]}`,
		"run " + prMigrateTD + " migrate",
		"update shipyard-dev-pr-7-clock --force-new-deployment",
		"update shipyard-dev-pr-7-web --force-new-deployment",
		"update shipyard-dev-pr-7-worker --force-new-deployment",
		"describe-services",
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
}

// flagOf returns the value after flag in a recorded command line.
func flagOf(line, flag string) string {
	f := strings.Fields(line)
	for i := range f {
		if f[i] == flag && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

func TestAFailedPRTaskReportsItsExitCodeStoppedReasonAndLastLogLines(t *testing.T) {
	r, fx, _ := awsPreviewFixture(t, oneOffAnswers(3, 25))
	err := awsPreviewAfterUp(context.Background(), r, prOutputs())
	if err == nil {
		t.Fatal("a task that exited 3 passed")
	}
	for _, want := range []string{"preview-create task " + prTaskArn + " failed", "container admin exited 3", "Essential container in task exited", "log line 6", "log line 25"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "log line 5\n") {
		t.Errorf("more than the last %d lines: %v", logTailLines, err)
	}
	if !contains(fx.lines(), "aws logs filter-log-events --log-group-name "+prLogGroup+" --log-stream-name-prefix admin/admin-firelens-0a1b2c3d4e5f") {
		t.Errorf("logs not read from the task's stream:\n%s", strings.Join(fx.lines(), "\n"))
	}
	if contains(fx.lines(), "aws ecs update-service") {
		t.Error("the services were restarted after a failed create")
	}
}

func TestAWSPRDownStopsTheServicesBeforeDroppingItsData(t *testing.T) {
	r, fx, _ := awsPreviewFixture(t, oneOffAnswers(0, 0))
	if err := awsPreviewDrop(context.Background(), r, prOutputs()); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(fx.lines(), "\n"))
	}
	lines := strings.Join(fx.lines(), "\n")
	stop := strings.Index(lines, "aws ecs update-service --cluster shipyard-dev --service shipyard-dev-pr-7-worker --desired-count 0")
	stable := strings.Index(lines, "aws ecs wait services-stable --cluster shipyard-dev --services shipyard-dev-pr-7-clock shipyard-dev-pr-7-web shipyard-dev-pr-7-worker")
	drop := strings.Index(lines, `"command":["preview","drop"]`)
	if stop < 0 || stable < stop || drop < stable {
		t.Errorf("stop %d, stable %d, drop %d:\n%s", stop, stable, drop, lines)
	}
	if !strings.Contains(lines, "--task-definition "+prAdminTD) {
		t.Errorf("the drop did not run the admin task:\n%s", lines)
	}

	t.Run("a stack whose first deploy failed has nothing to drop", func(t *testing.T) {
		r, fx, out := awsPreviewFixture(t, nil)
		if err := awsPreviewDrop(context.Background(), r, release.Outputs{}); err != nil || len(fx.lines()) != 0 {
			t.Fatalf("%v, calls %v", err, fx.lines())
		}
		if !strings.Contains(out.String(), "no database of PR 7 was created") {
			t.Errorf("said %q", out)
		}
	})
}

// useTestDomain replaces the documentation domain of config/dev.json, which
// pr-up refuses like up does, with one of the test's.
func (r *cliRepo) useTestDomain() {
	data, err := os.ReadFile(r.configPath("dev"))
	if err != nil {
		r.t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("shipyard.example.com"), []byte("shipyard-test.dev"))
	if err := os.WriteFile(r.configPath("dev"), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// `shipyard pr-up dev 7` and `pr-down dev 7` against fake pulumi, aws,
// docker and crane executables: the commands and their order.
func TestPRUpAndDownOnAWSRunTheirStepsInOrder(t *testing.T) {
	r := newCLIRepo(t)
	r.useTestDomain()
	state := installFakes(t, &fakeWorld{
		Outputs: map[string]map[string]any{"dev": deployedOutputs("dev", "https://dev.shipyard-test.dev", cliDigestA)},
		Images:  map[string]map[string]bool{repoOf("dev"): {cliDigestA: true}},
	})
	out, err := runCLI(t, "pr-up", "dev", "7")
	if err != nil {
		t.Fatalf("pr-up: %v\n%s\n%s", err, out, strings.Join(readCalls(t, state), "\n"))
	}
	for _, want := range []string{"url: https://pr-7.dev.shipyard-test.dev", "reaped after: "} {
		if !strings.Contains(out, want) {
			t.Errorf("pr-up printed no %q:\n%s", want, out)
		}
	}
	tag := repoOf("dev") + ":pr-7-555555555555"
	assertOrder(t, readCalls(t, state), []string{
		"docker image inspect --format {{.Id}} shipyard-app:local",
		"docker push " + tag,
		"crane digest " + tag,
		"pulumi stack init dev-pr-7",
		"pulumi config set shipyard:previewSlot 1 --stack dev-pr-7",
		"pulumi up --yes --diff --refresh --stack dev-pr-7",
		"aws ecs run-task --cluster shipyard-dev --launch-type FARGATE --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-admin:1",
		"aws ecs run-task --cluster shipyard-dev --launch-type FARGATE --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-migrate:1",
		"aws ecs update-service --cluster shipyard-dev --service shipyard-dev-pr-7-clock --force-new-deployment",
		"aws ecs describe-services --cluster shipyard-dev --services shipyard-dev-pr-7-clock shipyard-dev-pr-7-web shipyard-dev-pr-7-worker",
	})
	if w := readWorld(t, state); len(w.Tasks) != 2 || !strings.Contains(strings.Join(mapValues(w.Tasks), " "), "preview create") {
		t.Errorf("one-off tasks %v, want preview create and migrate", w.Tasks)
	}

	// A second pr-up of the same build pushes nothing.
	if out, err := runCLI(t, "pr-up", "dev", "7"); err != nil {
		t.Fatalf("second pr-up: %v\n%s", err, out)
	}
	pushes := 0
	for _, c := range readCalls(t, state) {
		if strings.HasPrefix(c, "docker push") {
			pushes++
		}
	}
	if pushes != 1 {
		t.Errorf("the same build was pushed %d times", pushes)
	}

	before := len(readCalls(t, state))
	if out, err := runCLI(t, "pr-down", "dev", "7"); err != nil {
		t.Fatalf("pr-down: %v\n%s", err, out)
	}
	assertOrder(t, readCalls(t, state)[before:], []string{
		"aws ecs update-service --cluster shipyard-dev --service shipyard-dev-pr-7-web --desired-count 0",
		"aws ecs wait services-stable --cluster shipyard-dev --services shipyard-dev-pr-7-clock shipyard-dev-pr-7-web shipyard-dev-pr-7-worker",
		"aws ecs run-task --cluster shipyard-dev --launch-type FARGATE --task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/shipyard-dev-pr-7-admin:1",
		"pulumi destroy --yes --refresh --stack dev-pr-7",
		"pulumi stack rm --yes --stack dev-pr-7",
	})
	w := readWorld(t, state)
	if _, ok := w.Outputs["dev-pr-7"]; ok {
		t.Error("dev-pr-7 is still a stack")
	}
	if !strings.Contains(strings.Join(mapValues(w.Tasks), " "), "preview drop") {
		t.Errorf("no preview drop among %v", w.Tasks)
	}
}

// assertOrder checks that each of want starts one of the calls, in order.
func assertOrder(t *testing.T, calls, want []string) {
	t.Helper()
	i := 0
	for _, c := range calls {
		if i < len(want) && strings.HasPrefix(c, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("no call %q (in this order) among:\n%s", want[i], strings.Join(calls, "\n"))
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
