package main

import (
	"reflect"
	"testing"
)

func TestCutFlag(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		flag      string
		value     string
		found     bool
		remaining []string
	}{
		{"a valued flag is taken out with its value", []string{"dev", "--image=app:1"}, "image", "app:1", true, []string{"dev"}},
		{"a bare flag is found with no value", []string{"--allow-stateful-changes", "prod"}, "allow-stateful-changes", "", true, []string{"prod"}},
		{"an absent flag leaves the arguments alone", []string{"dev"}, "confirm", "", false, []string{"dev"}},
		{"a longer flag with the same prefix is not the flag", []string{"--imagex=1", "dev"}, "image", "", false, []string{"--imagex=1", "dev"}},
		{"the last of repeated flags wins", []string{"--confirm=a", "--confirm=b"}, "confirm", "b", true, nil},
		{"an empty value is still a value", []string{"--image="}, "image", "", true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			value, found, rest := cutFlag(c.args, c.flag)
			if value != c.value || found != c.found || !reflect.DeepEqual(rest, c.remaining) {
				t.Errorf("cutFlag(%q, %q) = %q, %v, %q; want %q, %v, %q", c.args, c.flag, value, found, rest, c.value, c.found, c.remaining)
			}
		})
	}
}
