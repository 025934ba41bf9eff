package preflight

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// The app image `make image` builds, by name: AppImageRef. infra/stackconfig
// ((*Config).AppImage, RepositoryName) uses these, so the Makefile, which
// asks `preflight image STACK`, and the Go code (the docker program, shipyard
// release and pr-up, the e2e suite) name the same image.
const (
	// AppImageTag is the tag of the image `make image` builds and a stack
	// runs or releases by default.
	AppImageTag = "local"
	// DefaultAppRepository is the local app image's repository on a docker
	// stack without release.imageRepository, and on every aws stack (whose
	// release.imageRepository is its ECR repository: `make release` pushes
	// the local image there).
	DefaultAppRepository = "shipyard-app"
)

// AppImageRef is the app image `make image` builds for a stack of target
// with release.imageRepository imageRepository: on docker
// "<imageRepository>:local" ("shipyard-app:local" when empty), the image the
// stack runs until a release names another; on aws "shipyard-app:local",
// the local build `make release` and `make pr-up` push to the stack's ECR
// repository (release.imageRepository names that one).
func AppImageRef(target, imageRepository string) string {
	return appRepository(target, imageRepository) + ":" + AppImageTag
}

func appRepository(target, imageRepository string) string {
	if target == "docker" && imageRepository != "" {
		return imageRepository
	}
	return DefaultAppRepository
}

// imageRepositoryRE and imageRepositoryHint are config/schema.json's
// release.imageRepository pattern and x-patternHint, copied because this
// package imports only the standard library;
// TestTheImageRepositoryRuleIsTheSchemas checks that both agree.
var imageRepositoryRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

const (
	imageRepositoryHint   = `a lowercase repository name such as "shipyard-prod"`
	maxImageRepositoryLen = 256
)

// imageTagRE is what Docker accepts as a tag.
var imageTagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// AppImage returns the app image of config/<stack>.json (AppImageRef), with
// tag instead of AppImageTag when tag is not empty: what `make image`
// tags (`preflight image STACK [TAG]`). Unlike Read it reports a file it
// cannot read as JSON, and checks what it uses: the target, a docker stack's
// release.imageRepository and the tag, each error naming the field and what
// it allows.
func AppImage(configDir, stack, tag string) (string, error) {
	if _, err := Read(configDir, stack); err != nil {
		return "", err
	}
	path := filepath.Join(configDir, stack+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading stack config: %w", err)
	}
	var f struct {
		Target  string `json:"target"`
		Release struct {
			ImageRepository string `json:"imageRepository"`
		} `json:"release"`
	}
	data = trimBOM(data)
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("%w (`make validate` reports every problem)", newNotJSONError(path, data, err))
	}
	if err := CheckTarget(path, f.Target); err != nil {
		return "", err
	}
	if repo := f.Release.ImageRepository; f.Target == "docker" && repo != "" && (len(repo) > maxImageRepositoryLen || !imageRepositoryRE.MatchString(repo)) {
		return "", fmt.Errorf("%s: release.imageRepository %q: allowed %s (%s, at most %d characters), or none for %q", path, repo, imageRepositoryHint, imageRepositoryRE, maxImageRepositoryLen, DefaultAppRepository)
	}
	if tag == "" {
		return AppImageRef(f.Target, f.Release.ImageRepository), nil
	}
	if !imageTagRE.MatchString(tag) {
		return "", fmt.Errorf("image tag %q (the Makefile's VERSION): allowed a Docker tag, %s", tag, imageTagRE)
	}
	return appRepository(f.Target, f.Release.ImageRepository) + ":" + tag, nil
}
