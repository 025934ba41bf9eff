package docker

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// dataStore is what the Postgres and Redis containers share: an official
// image kept locally, a named volume for the data, the network alias the
// app's endpoints use, and a health check the deploy waits for.
type dataStore struct {
	Image         string
	ContainerName string
	VolumeName    string
	DataDir       string
	Network       pulumi.StringInput
	Alias         string
	Logs          LogOptions
	// Stack labels the volume and container (StackLabel).
	Stack string

	// What differs between the stores.
	Envs        pulumi.StringArrayInput
	Command     pulumi.StringArrayInput
	Healthcheck *docker.ContainerHealthcheckArgs
	// Uploads are files copied into the container before it starts;
	// Volumes are mounted besides the data volume.
	Uploads docker.ContainerUploadArray
	Volumes docker.ContainerVolumeArray
}

// newDataStore creates the image, volume and container of a store, named
// from name and parented by parent.
func newDataStore(ctx *pulumi.Context, name string, s dataStore, parent pulumi.ResourceOption) (*docker.Container, error) {
	image, err := docker.NewRemoteImage(ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        pulumi.String(s.Image),
		KeepLocally: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	// The data outlives the stack's resources: Pulumi never deletes the
	// volume (a replaced or destroyed volume resource leaves the Docker
	// volume in place, and creating one of the same name adopts it), so
	// no `make up` of any change loses data. `make destroy` removes the
	// stack's volumes explicitly (by StackLabel); `make down` keeps them.
	volume, err := docker.NewVolume(ctx, name+"-data", &docker.VolumeArgs{
		Name:   pulumi.String(s.VolumeName),
		Labels: docker.VolumeLabelArray{docker.VolumeLabelArgs{Label: pulumi.String(StackLabel), Value: pulumi.String(s.Stack)}},
	}, parent, pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	container, err := docker.NewContainer(ctx, name, &docker.ContainerArgs{
		Name:    pulumi.String(s.ContainerName),
		Image:   image.ImageId,
		Envs:    s.Envs,
		Command: s.Command,
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			docker.ContainerNetworksAdvancedArgs{Name: s.Network, Aliases: pulumi.StringArray{pulumi.String(s.Alias)}},
		},
		Volumes: append(docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: volume.Name, ContainerPath: pulumi.String(s.DataDir)},
		}, s.Volumes...),
		Uploads:     s.Uploads,
		Healthcheck: s.Healthcheck,
		Labels:      stackLabels(s.Stack),
		Restart:     pulumi.String("unless-stopped"),
		StopTimeout: pulumi.Int(30),
		LogDriver:   pulumi.String(s.Logs.Driver),
		LogOpts:     s.Logs.opts(),
		Wait:        pulumi.Bool(true),
		WaitTimeout: pulumi.Int(120),
		// One server per data directory: the old container stops before its
		// replacement starts on the same volume.
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	return container, nil
}
