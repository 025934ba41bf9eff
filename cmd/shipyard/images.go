package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
)

const imagesUsage = "images STACK [NAME]       print the images `make up` of STACK needs on this machine, one \"NAME REF\" a line: app (what `make image` builds) and, on docker, each local.images image; with NAME only its REF"

// cmdImages prints a stack's images (stackconfig's Images) from its
// validated config: tests/images/build.sh builds its offline stand-ins
// under these names.
func cmdImages(_ context.Context, e env) error {
	if len(e.args) < 1 || len(e.args) > 2 || strings.HasPrefix(e.args[0], "-") {
		return cliflag.UsageError("shipyard", "images STACK [NAME]", e.args)
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	cfg, err := stackconfig.Load(pr.configDir, e.args[0])
	if err != nil {
		return err
	}
	images := cfg.Images()
	if len(e.args) == 1 {
		for _, img := range images {
			fmt.Fprintln(e.stdout, img.Name, img.Ref)
		}
		return nil
	}
	names := make([]string, len(images))
	for i, img := range images {
		if img.Name == e.args[1] {
			fmt.Fprintln(e.stdout, img.Ref)
			return nil
		}
		names[i] = img.Name
	}
	return fmt.Errorf("stack %q (target %s) has no image %q: allowed %s", cfg.Stack, cfg.Target, e.args[1], strings.Join(names, ", "))
}
