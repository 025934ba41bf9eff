package stackconfig

import (
	"reflect"
	"strings"
)

// AppImageName is the name Images gives the app image.
const AppImageName = "app"

// Image is an image a stack needs on this machine's Docker engine, by name.
type Image struct {
	// Name is AppImageName, or the JSON name of a local.images field
	// ("postgres", "nginxExporter", …).
	Name string
	// Ref is the image reference: AppImage, or the field's value.
	Ref string
}

// Images lists the images `make up` of the stack needs on this machine:
// the app image `make image` builds (AppImage) and, on docker, every
// local.images image, in the order of LocalImages' fields. tests/images
// builds offline stand-ins of exactly these (`shipyard images STACK`).
func (c *Config) Images() []Image {
	out := []Image{{Name: AppImageName, Ref: c.AppImage()}}
	if c.Target != TargetDocker {
		return out
	}
	v := reflect.ValueOf(c.Local.Images)
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		out = append(out, Image{Name: name, Ref: v.Field(i).String()})
	}
	return out
}
