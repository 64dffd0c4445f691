package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// Read decodes and validates a profile file. It refuses unknown fields,
// field names in another case than the schema's, repeated fields, trailing
// data, files over MaxFileBytes and every problem Validate finds; all
// errors wrap ErrInvalid.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrInvalid, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %w: larger than %d bytes", ErrInvalid, ErrTooLarge, MaxFileBytes)
	}
	if err := checkKeys(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: decoding: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON document", ErrInvalid)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Write validates f and writes it as indented JSON. A file that Write
// accepts, Read reads back equal.
func Write(w io.Writer, f *File) error {
	if err := f.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding profile file: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing profile file: %w", err)
	}
	return nil
}

// Lookup returns the profiles of f that match the key, clock and origin.
func (f *File) Lookup(k Key, clock Clock, origin Origin) []*Profile {
	var out []*Profile
	for i := range f.Profiles {
		p := &f.Profiles[i]
		if p.Key() == k && p.Clock == clock && p.Origin == origin {
			out = append(out, p)
		}
	}
	return out
}

// fieldNames returns every JSON field name of the schema, exactly as
// spelt.
var fieldNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || t.PkgPath() != reflect.TypeFor[File]().PkgPath() {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				names[name] = true
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[File]())
	return names
})

// checkKeys walks the document's tokens and refuses a field name the
// schema does not spell exactly so (encoding/json would match it without
// regard to case) and a field repeated within one object (encoding/json
// would keep the last).
func checkKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	names := fieldNames()
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // syntax errors are the decoder's to report
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k, _ := tok.(string)
			if !names[k] {
				return fmt.Errorf("field %q is not in the schema", k)
			}
			if top.keys[k] {
				return fmt.Errorf("field %q repeated", k)
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true // a value was read; a key comes next
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
