// Package dockermock answers, under Pulumi mocks, what pulumi-docker and
// pulumi-random compute for the docker target: the app image's ID, the
// stand-in images' IDs, generated passwords and random bytes, autonamed
// containers and the migration's exit code. Tests anywhere in the repository build the real
// local graph with it:
//
//	g, err := pulumitest.Run("local", program, dockermock.Options(dockermock.Migration{})...)
package dockermock

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

// ImageID is the ID the mocked `make image` build has.
const ImageID = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// Migration is what the mocked `app migrate` container reports.
type Migration struct {
	ExitCode int
	Logs     string
}

// Options returns the invoke answers and computed outputs of the docker
// target's resources.
func Options(m Migration) []pulumitest.Option {
	str := resource.NewStringProperty
	return []pulumitest.Option{
		pulumitest.WithCall("docker:index/getRemoteImage:getRemoteImage", func(args resource.PropertyMap) (resource.PropertyMap, error) {
			name := args["name"].StringValue()
			if !strings.HasSuffix(name, ":"+preflight.AppImageTag) {
				return nil, fmt.Errorf("dockermock: looked up image %q; only the app image <repository>:%s is built", name, preflight.AppImageTag)
			}
			return resource.PropertyMap{"id": str(ImageID), "name": args["name"]}, nil
		}),
		pulumitest.WithOutputs("docker:index/remoteImage:RemoteImage", func(_ string, in resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"imageId": str("sha256:" + in["name"].StringValue())}
		}),
		pulumitest.WithOutputs("random:index/randomPassword:RandomPassword", func(name string, _ resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"result": resource.MakeSecret(str("generated-" + name))}
		}),
		// Random bytes (the database TLS seed): a digest of the name, the
		// same on every run, as a created RandomBytes keeps its value.
		pulumitest.WithOutputs("random:index/randomBytes:RandomBytes", func(name string, _ resource.PropertyMap) resource.PropertyMap {
			sum := sha256.Sum256([]byte("dockermock " + name))
			return resource.PropertyMap{
				"base64": resource.MakeSecret(str(base64.StdEncoding.EncodeToString(sum[:]))),
				"hex":    resource.MakeSecret(str(hex.EncodeToString(sum[:]))),
			}
		}),
		pulumitest.WithOutputs("docker:index/container:Container", func(name string, _ resource.PropertyMap) resource.PropertyMap {
			out := resource.PropertyMap{"exitCode": resource.NewNumberProperty(0)}
			if strings.Contains(name, "-migrate") {
				out["exitCode"] = resource.NewNumberProperty(float64(m.ExitCode))
				out["containerLogs"] = str(m.Logs)
			}
			return out
		}),
	}
}
