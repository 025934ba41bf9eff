package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"

	"github.com/shipyard-kit/shipyard/internal/atomicfile"
)

// ResetImageDigest returns a copy of the stack file data with
// release.imageDigest put back as it is in prev (the file as a deployment
// found it, before it wrote its digest): prev's value written in place
// (SetImageDigest's rewrite), or, when prev had none, the field removed,
// and with it a release object it leaves empty that prev did not have.
// Every other byte of data is kept, edits made since prev included, and
// the result is checked to differ from data only in that field.
func ResetImageDigest(data, prev []byte) ([]byte, error) {
	ptop, err := scanObject(prev, 0)
	if err != nil {
		return nil, fmt.Errorf("the previous file: %w", err)
	}
	prel, hadRelease := ptop.member("release")
	var pobj object
	if hadRelease {
		if prev[prel.valueStart] != '{' {
			return nil, fmt.Errorf("the previous file's release: want a JSON object, found %s", snippet(prev[prel.valueStart:prel.valueEnd]))
		}
		if pobj, err = scanObject(prev, prel.valueStart); err != nil {
			return nil, fmt.Errorf("the previous file: %w", err)
		}
	}
	if pd, ok := pobj.member("imageDigest"); ok {
		var old string
		if err := json.Unmarshal(prev[pd.valueStart:pd.valueEnd], &old); err != nil {
			return nil, fmt.Errorf("the previous file's release.imageDigest %s: %w", snippet(prev[pd.valueStart:pd.valueEnd]), err)
		}
		return setImageDigest(data, old)
	}

	// prev had no digest: remove the one data has.
	top, err := scanObject(data, 0)
	if err != nil {
		return nil, err
	}
	rel, ok := top.member("release")
	if !ok {
		return slices.Clone(data), nil
	}
	if data[rel.valueStart] != '{' {
		return nil, fmt.Errorf("release: want a JSON object, found %s", snippet(data[rel.valueStart:rel.valueEnd]))
	}
	obj, err := scanObject(data, rel.valueStart)
	if err != nil {
		return nil, err
	}
	d, ok := obj.member("imageDigest")
	if !ok {
		return slices.Clone(data), nil
	}
	dropRelease := !hadRelease && len(obj.members) == 1
	var out []byte
	if dropRelease {
		out = removeMember(data, top, rel)
	} else {
		out = removeMember(data, obj, d)
	}
	var b, a map[string]any
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if err := json.Unmarshal(out, &a); err != nil {
		return nil, fmt.Errorf("removing release.imageDigest produced invalid JSON (a bug): %w", err)
	}
	if dropRelease {
		delete(b, "release")
	} else if r, ok := b["release"].(map[string]any); ok {
		delete(r, "imageDigest")
	}
	if !reflect.DeepEqual(a, b) {
		return nil, errors.New("removing release.imageDigest changed other fields (a bug); the file was left as it was")
	}
	return out, nil
}

// removeMember returns a copy of data without member m of obj and the
// comma and space that separated it from its neighbour.
func removeMember(data []byte, obj object, m member) []byte {
	i := slices.IndexFunc(obj.members, func(x member) bool { return x.keyStart == m.keyStart })
	switch {
	case len(obj.members) == 1:
		return splice(data, obj.open+1, obj.close, nil)
	case i > 0:
		return splice(data, obj.members[i-1].valueEnd, m.valueEnd, nil)
	default:
		return splice(data, m.keyStart, obj.members[1].keyStart, nil)
	}
}

// imageDigestOf reads release.imageDigest of a stack file ("" when none).
func imageDigestOf(data []byte) (string, error) {
	var f struct {
		Release struct {
			ImageDigest string `json:"imageDigest"`
		} `json:"release"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("invalid stack file: %w", err)
	}
	return f.Release.ImageDigest, nil
}

// restoreDigest is what a failed deployment does to the stack file at
// path, whose release.imageDigest it set to one of wrote: it reads the
// file again and puts that one field back as prev (the file as the
// deployment found it) has it, only while the field still holds what the
// deployment wrote. Edits made to the file meanwhile (a bake takes
// minutes) are kept; a digest set meanwhile by someone else, or a file
// that no longer parses, is left as it is. It returns cause, saying which.
func restoreDigest(path string, prev []byte, cause error, wrote ...string) error {
	old, err := imageDigestOf(prev)
	if err != nil {
		return errors.Join(cause, fmt.Errorf("restoring %s: the file as this deployment found it: %w", path, err))
	}
	left, err := resetDigest(path, prev, wrote...)
	switch {
	case err != nil:
		return errors.Join(cause, fmt.Errorf("restoring %s to its previous digest %s: %w", path, orNone(old), err))
	case left != "":
		return fmt.Errorf("%w (%s left as it is: %s; its release.imageDigest was %s before this deployment)", cause, path, left, orNone(old))
	}
	return fmt.Errorf("%w (%s restored to its previous digest %s)", cause, path, orNone(old))
}

// resetDigest rewrites path's release.imageDigest as prev has it when it
// holds one of wrote. left says why the file was left as it is ("" when
// it was reset, or already holds prev's digest).
func resetDigest(path string, prev []byte, wrote ...string) (left string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	old, err := imageDigestOf(prev)
	if err != nil {
		return "", err
	}
	cur, err := imageDigestOf(data)
	switch {
	case err != nil:
		return fmt.Sprintf("it no longer parses (%v)", err), nil
	case cur == old:
		return "", nil
	case !slices.Contains(wrote, cur):
		return fmt.Sprintf("its release.imageDigest is now %s, set since this deployment wrote %s", orNone(cur), wrote[len(wrote)-1]), nil
	}
	out, err := ResetImageDigest(data, prev)
	if err != nil {
		return fmt.Sprintf("its release.imageDigest cannot be put back (%v)", err), nil
	}
	return "", atomicfile.Write(path, out)
}
