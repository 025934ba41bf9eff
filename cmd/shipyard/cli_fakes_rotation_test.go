package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The fakes of a web service that CodeDeploy controls and of the Redis
// AUTH token's secret (fakeWorld.CodeDeploy): `pulumi up` leaves such a
// web service's tasks alone and restarts the others (forceNewDeployment),
// `aws deploy create-deployment` replaces web's tasks with ones of the
// AppSpec's task definition, and the secret gets a new current version
// when up deploys a new cache.authTokenVersion.

// fakeTask is a running task of a service.
type fakeTask struct {
	Arn       string    `json:"arn"`
	CreatedAt time.Time `json:"createdAt"`
}

// fakeSecret is the Redis AUTH token secret's current version: the token
// generation it holds and when it got it.
type fakeSecret struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
}

// fakeCodeDeployment is one `aws deploy create-deployment`.
type fakeCodeDeployment struct {
	ID             string    `json:"id"`
	TaskDefinition string    `json:"taskDefinition"`
	Created        time.Time `json:"created"`
}

func fakeSecretArn(stack string) string {
	return "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shipyard/" + stack + "/REDIS_PASSWORD-AbCdEf"
}

// startTasks replaces a service's running tasks with n new ones.
func (w *fakeWorld) startTasks(service string, n int, at time.Time) {
	if w.RunningTasks == nil {
		w.RunningTasks = map[string][]fakeTask{}
	}
	var tasks []fakeTask
	for i := 0; i < n; i++ {
		w.Seq++
		tasks = append(tasks, fakeTask{Arn: fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:task/%s/%04d", service, w.Seq), CreatedAt: at})
	}
	w.RunningTasks[service] = tasks
}

// upToken is what `pulumi up` does with the token: a new generation in
// the config becomes the secret's current value, and the outputs record
// the generations and the secret.
func (w *fakeWorld) upToken(cwd, stack string, o map[string]any, now time.Time) error {
	var cfg struct {
		Cache struct {
			AuthTokenVersion        int `json:"authTokenVersion"`
			RetiredAuthTokenVersion int `json:"retiredAuthTokenVersion"`
		} `json:"cache"`
	}
	data, err := os.ReadFile(filepath.Join(cwd, "config", stack+".json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	v := max(cfg.Cache.AuthTokenVersion, 1)
	if w.Secret == nil || w.Secret.Version != v {
		w.Secret = &fakeSecret{Version: v, Created: now}
	}
	o["redisAuthSecretArn"] = fakeSecretArn(stack)
	o["redisAuthTokenVersion"], o["redisRetiredAuthTokenVersion"] = v, cfg.Cache.RetiredAuthTokenVersion
	if w.CodeDeploy {
		o["codeDeployApplication"], o["codeDeployDeploymentGroup"] = "shipyard-"+stack+"-web", "shipyard-"+stack+"-web"
		o["webContainerName"], o["webContainerPort"] = "app", 8080
	}
	return nil
}

// awsRotation fakes Secrets Manager, the services' tasks and CodeDeploy;
// handled reports whether args were one of theirs.
func (w *fakeWorld) awsRotation(args []string, out func(any) (int, error)) (code int, handled bool, err error) {
	cmd := strings.Join(args, " ")
	switch {
	case strings.HasPrefix(cmd, "secretsmanager list-secret-version-ids"):
		if w.Secret == nil || !strings.Contains(flagValue(args, "--secret-id"), "/REDIS_PASSWORD") {
			return 254, true, fmt.Errorf("ResourceNotFoundException: %s", flagValue(args, "--secret-id"))
		}
		versions := []map[string]any{{"VersionId": "v-current", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": w.Secret.Created.Format("2006-01-02T15:04:05.000000-07:00")}}
		if w.Secret.Version > 1 {
			versions = append(versions, map[string]any{"VersionId": "v-previous", "VersionStages": []string{"AWSPREVIOUS"}, "CreatedDate": "2026-10-01T00:00:00+00:00"})
		}
		code, err := out(map[string]any{"Versions": versions})
		return code, true, err
	case strings.HasPrefix(cmd, "ecs list-tasks"):
		arns := []string{}
		for _, t := range w.RunningTasks[flagValue(args, "--service-name")] {
			arns = append(arns, t.Arn)
		}
		code, err := out(map[string]any{"taskArns": arns})
		return code, true, err
	case strings.HasPrefix(cmd, "ecs describe-tasks"):
		var tasks []map[string]any
		for _, ts := range w.RunningTasks {
			for _, t := range ts {
				for _, a := range args {
					if a == t.Arn {
						tasks = append(tasks, map[string]any{"taskArn": t.Arn, "lastStatus": "RUNNING", "createdAt": t.CreatedAt.Format(time.RFC3339Nano)})
					}
				}
			}
		}
		if tasks == nil {
			return 0, false, nil // a one-off's
		}
		code, err := out(map[string]any{"tasks": tasks, "failures": []any{}})
		return code, true, err
	case strings.HasPrefix(cmd, "deploy create-deployment"):
		var rev struct {
			AppSpecContent struct {
				Content string `json:"content"`
			} `json:"appSpecContent"`
		}
		var spec struct {
			Resources []map[string]struct {
				Properties struct {
					TaskDefinition string `json:"TaskDefinition"`
				} `json:"Properties"`
			} `json:"Resources"`
		}
		if err := json.Unmarshal([]byte(flagValue(args, "--revision")), &rev); err != nil {
			return 2, true, err
		}
		if err := json.Unmarshal([]byte(rev.AppSpecContent.Content), &spec); err != nil || len(spec.Resources) != 1 {
			return 2, true, fmt.Errorf("fake aws: appspec %q: %v", rev.AppSpecContent.Content, err)
		}
		td := spec.Resources[0]["TargetService"].Properties.TaskDefinition
		if _, ok := w.TaskDefs[td]; !ok {
			return 254, true, fmt.Errorf("InvalidECSServiceException: task definition %s not found", td)
		}
		web := flagValue(args, "--deployment-group-name")
		now := time.Now().UTC()
		d := fakeCodeDeployment{ID: fmt.Sprintf("d-FAKE%04d", len(w.CodeDeployments)+1), TaskDefinition: td, Created: now}
		w.CodeDeployments = append(w.CodeDeployments, d)
		w.Primary[web] = td
		w.startTasks(web, 3, now)
		code, err := out(map[string]any{"deploymentId": d.ID})
		return code, true, err
	case strings.HasPrefix(cmd, "deploy get-deployment-target"):
		d, ok := w.codeDeployment(flagValue(args, "--deployment-id"))
		if !ok {
			return 254, true, fmt.Errorf("DeploymentDoesNotExistException")
		}
		at := func(s int) string { return d.Created.Add(time.Duration(s) * time.Second).Format(time.RFC3339) }
		code, err := out(map[string]any{"deploymentTarget": map[string]any{"ecsTarget": map[string]any{
			"lifecycleEvents": []map[string]any{
				{"lifecycleEventName": "AllowTestTraffic", "status": "Succeeded", "startTime": at(0), "endTime": at(1)},
				{"lifecycleEventName": "AllowTraffic", "status": "Succeeded", "startTime": at(2), "endTime": at(3)},
			},
			"taskSetsInfo": []map[string]any{{"status": "PRIMARY", "trafficWeight": 100.0, "targetGroup": map[string]any{"name": "web-deploy-green"}, "taskSetLabel": "Green"}},
		}}})
		return code, true, err
	case strings.HasPrefix(cmd, "deploy list-deployment-targets"):
		if _, ok := w.codeDeployment(flagValue(args, "--deployment-id")); !ok {
			return 254, true, fmt.Errorf("DeploymentDoesNotExistException")
		}
		code, err := out(map[string]any{"targetIds": []string{"shipyard:web"}})
		return code, true, err
	case strings.HasPrefix(cmd, "deploy get-deployment"):
		d, ok := w.codeDeployment(flagValue(args, "--deployment-id"))
		if !ok {
			return 254, true, fmt.Errorf("DeploymentDoesNotExistException")
		}
		code, err := out(map[string]any{"deploymentInfo": map[string]any{"status": "Succeeded", "completeTime": d.Created.Add(4 * time.Second).Format(time.RFC3339)}})
		return code, true, err
	}
	return 0, false, nil
}

func (w *fakeWorld) codeDeployment(id string) (fakeCodeDeployment, bool) {
	for _, d := range w.CodeDeployments {
		if d.ID == id {
			return d, true
		}
	}
	return fakeCodeDeployment{}, false
}
