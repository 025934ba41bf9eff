package stackconfig

import (
	"encoding/json"
	"reflect"
	"sort"
)

// RestatedDefaults returns the dotted paths of the fields in a stack file
// whose value equals the default (Defaults()). Stack files list only what
// differs from the defaults, so the answer for every file in config/
// should be empty: a restated default hides which settings a stack really
// chose and would not follow a change of the default. "$schema" is
// ignored; maps (app.env, tags) have no defaults and are never restated.
func RestatedDefaults(data []byte) ([]string, error) {
	var file any
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, describeJSONError(data, err)
	}
	defaults, err := json.Marshal(Defaults())
	if err != nil {
		return nil, err
	}
	var def any
	if err := json.Unmarshal(defaults, &def); err != nil {
		return nil, err
	}
	var out []string
	var walk func(path string, f, d any)
	walk = func(path string, f, d any) {
		fm, fok := f.(map[string]any)
		dm, dok := d.(map[string]any)
		if fok && dok {
			for k, fv := range fm {
				if path == "" && k == "$schema" {
					continue
				}
				p := k
				if path != "" {
					p = path + "." + k
				}
				dv, ok := dm[k]
				if !ok {
					// An omitempty field absent from the defaults is zero.
					if fv == "" || fv == 0.0 || fv == false {
						out = append(out, p)
					}
					continue
				}
				walk(p, fv, dv)
			}
			return
		}
		if !fok && reflect.DeepEqual(f, d) {
			out = append(out, path)
		}
	}
	walk("", file, def)
	sort.Strings(out)
	return out, nil
}
