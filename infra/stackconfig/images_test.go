package stackconfig

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Images is what tests/images builds stand-ins of: every local.images
// field of a docker stack, by its JSON name, and the app image.
func TestImagesListsTheAppAndEveryLocalImage(t *testing.T) {
	c := Defaults()
	c.Stack, c.Target = "local", TargetDocker
	c.Release.ImageRepository = "team/my-app"
	c.Local.Images.Nginx = "registry.example.com:5000/nginx:1.28"
	raw, err := json.Marshal(c.Local.Images)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{AppImageName: "team/my-app:local"}
	for k, v := range fields {
		want[k] = v
	}
	got := map[string]string{}
	for _, img := range c.Images() {
		got[img.Name] = img.Ref
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(c.Images()) != len(want) {
		t.Errorf("Images() = %v, want %v", c.Images(), want)
	}
	if first := c.Images()[0]; first.Name != AppImageName {
		t.Errorf("Images()[0] = %v, want the app image first", first)
	}

	c.Stack, c.Target = "dev", TargetAWS
	if got := fmt.Sprint(c.Images()); got != "[{app shipyard-app:local}]" {
		t.Errorf("aws Images() = %s, want only the local build shipyard-app:local", got)
	}
}
