package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/store"
)

func fullNote() store.Note {
	wc, sum, at := int32(3), "three words here", time.Date(2026, 12, 2, 17, 0, 0, 123456000, time.UTC)
	return store.Note{
		ID: 7, UserID: 3, Title: "title", Body: "three words here", Version: 2,
		WordCount: &wc, Summary: &sum, ProcessedAt: &at,
		CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(-time.Minute),
	}
}

// changed returns v with a different value of the same type.
func changed(t *testing.T, v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Int64, reflect.Int32:
		return reflect.ValueOf(v.Int() + 1).Convert(v.Type())
	case reflect.String:
		return reflect.ValueOf(v.String() + "!").Convert(v.Type())
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(changed(t, v.Elem()))
		return p
	case reflect.Struct:
		if tm, ok := v.Interface().(time.Time); ok {
			return reflect.ValueOf(tm.Add(time.Microsecond))
		}
	}
	t.Fatalf("store.Note has a field of kind %s: teach this test (and sameNote) about it", v.Kind())
	return v
}

func TestSameNoteSeesEveryField(t *testing.T) {
	base := fullNote()
	copied := fullNote() // equal values behind other pointers
	if !sameNote(base, copied) {
		t.Fatal("equal notes with distinct pointers compare different")
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run("a different "+f.Name+" is a different note", func(t *testing.T) {
			n := fullNote()
			field := reflect.ValueOf(&n).Elem().Field(i)
			field.Set(changed(t, field))
			if sameNote(base, n) {
				t.Errorf("sameNote misses a change of %s: the GET would serve the body of the old note", f.Name)
			}
			if f.Type.Kind() == reflect.Pointer {
				field.Set(reflect.Zero(f.Type))
				if sameNote(base, n) || sameNote(n, base) {
					t.Errorf("sameNote misses %s becoming nil", f.Name)
				}
			}
		})
	}
}

func TestNoteBodiesWriteWhatTheEncoderWrites(t *testing.T) {
	var m noteBodies
	encoded := func(n store.Note) []byte {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(toNote(n)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	n := fullNote()
	n.Body = `<script>"quoted" & escaped</script>`
	steps := []struct {
		name   string
		change func(*store.Note)
	}{
		{"first render", func(*store.Note) {}},
		{"the same note again, from the memo", func(*store.Note) {}},
		{"the worker's summary, same version", func(n *store.Note) { s := "new summary"; n.Summary = &s }},
		{"a new version", func(n *store.Note) { n.Version++; n.Title = "edited" }},
		{"unprocessed again", func(n *store.Note) { n.ProcessedAt, n.WordCount, n.Summary = nil, nil, nil }},
		{"another note in the same slot", func(n *store.Note) { n.ID += noteBodySlots }},
	}
	for _, s := range steps {
		s.change(&n)
		if got, want := m.body(n), encoded(n); !bytes.Equal(got, want) {
			t.Errorf("%s: body\n%s\nwant\n%s", s.name, got, want)
		}
	}
}
