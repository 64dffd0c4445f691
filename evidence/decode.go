package evidence

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Decoding errors.
var (
	// ErrFormat: the document is not a well-formed version 1 proof
	// (syntax, a missing, unknown or repeated field, a wrong type, a
	// limit exceeded).
	ErrFormat = errors.New("malformed proof")
	// ErrUnsupportedVersion: the proof is of a version this package does
	// not read.
	ErrUnsupportedVersion = errors.New("unsupported proof version")
)

// Decode reads one proof document strictly: at most MaxProofBytes; the
// version first (anything but 1 is ErrUnsupportedVersion); then every
// object must have exactly its fields — none missing (unless optional),
// none unknown, none repeated — each of its type; nothing may follow the
// document; the body must validate and the attestation keep its limits.
func Decode(r io.Reader) (*Proof, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxProofBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrFormat, err)
	}
	if len(data) > MaxProofBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxProofBytes)
	}
	var head struct {
		Version json.Number `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if head.Version == "" {
		return nil, fmt.Errorf("%w: no version field", ErrFormat)
	}
	if head.Version != "1" {
		return nil, fmt.Errorf("%w: version %s (this verifier reads version %d)", ErrUnsupportedVersion, head.Version, Version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &walker{dec: dec, root: "proof"}
	if err := w.walk(reflect.TypeOf(Proof{})); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the proof document", ErrFormat)
	}
	var p Proof
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err := p.Body.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err := p.Attestation.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return &p, nil
}

// Encode writes the proof as JSON. It validates the body first, so a proof
// this package writes is one it reads.
func (p *Proof) Encode(w io.Writer) error {
	if p.Version != Version {
		return fmt.Errorf("%w: version %d", ErrUnsupportedVersion, p.Version)
	}
	if err := p.Body.Validate(); err != nil {
		return err
	}
	if err := p.Attestation.validate(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(p)
}

func (a *Attestation) validate() error {
	switch a.TEE {
	case TEETDX, TEEAzureTDX, TEESim:
	default:
		return fmt.Errorf("attestation tee %q", a.TEE)
	}
	if len(a.Quote) > MaxQuoteBytes || len(a.MAAToken) > MaxTokenBytes {
		return fmt.Errorf("attestation quote or token exceeds its limit")
	}
	if az := a.Azure; az != nil {
		if len(az.HCLReport) > MaxHCLReportBytes || len(az.AKCert) > MaxTPMFieldBytes {
			return fmt.Errorf("azure evidence exceeds its limits")
		}
		if q := az.TPMQuote; q != nil {
			if len(q.Attest) > MaxTPMFieldBytes || len(q.Signature) > MaxTPMFieldBytes || len(q.Nonce) > 64 ||
				len(q.PCRs) > MaxPCRs || len(q.Indices) != len(q.PCRs) {
				return fmt.Errorf("tpm quote exceeds its limits or its PCR list does not match its indices")
			}
			for _, v := range q.PCRs {
				if len(v) != 32 {
					return fmt.Errorf("tpm quote PCR value of %d bytes, want 32 (SHA-256)", len(v))
				}
			}
		}
	}
	return nil
}

var (
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	byteSlice       = reflect.TypeOf([]byte(nil))
)

type field struct {
	name     string
	typ      reflect.Type
	optional bool
}

// structInfo is a struct type's JSON fields, computed once per type.
type structInfo struct {
	fields []field
	index  map[string]int
}

var structInfos sync.Map // reflect.Type → *structInfo

// fieldsOf lists the JSON fields of a struct type: every field without
// omitempty is required.
func fieldsOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{index: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		si.index[name] = len(si.fields)
		si.fields = append(si.fields, field{name: name, typ: f.Type, optional: strings.Contains(opts, "omitempty")})
	}
	structInfos.Store(t, si)
	return si
}

// walker reads a JSON document token by token, checking its shape against
// Go types. The path to the current value is kept as a stack and spelled
// out only for an error: building it for every value would cost more than
// the walk.
type walker struct {
	dec  *json.Decoder
	root string
	path []step
}

// step is an object key, or an index into a list when key is empty.
type step struct {
	key   string
	index int
}

func (w *walker) where() string {
	var b strings.Builder
	b.WriteString(w.root)
	for _, s := range w.path {
		if s.key != "" {
			b.WriteByte('.')
			b.WriteString(s.key)
		} else {
			fmt.Fprintf(&b, "[%d]", s.index)
		}
	}
	return b.String()
}

func (w *walker) fail(format string, a ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{w.where()}, a...)...)
}

// walk reads one JSON value of type t, checking its shape: objects have
// exactly their fields, each once, values have their types. Types bound
// the depth, so hostile nesting ends at the first unexpected token.
func (w *walker) walk(t reflect.Type) error {
	tok, err := w.dec.Token()
	if err != nil {
		return w.fail("%w", err)
	}
	if t.Kind() == reflect.Pointer {
		if tok == nil {
			return nil
		}
		t = t.Elem()
	}
	switch {
	case reflect.PointerTo(t).Implements(textUnmarshaler), t.Kind() == reflect.String:
		if _, ok := tok.(string); !ok {
			return w.fail("want a string")
		}
		return nil
	case t == byteSlice:
		if _, ok := tok.(string); !ok && tok != nil {
			return w.fail("want a base64 string")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.fail("want true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := tok.(json.Number); !ok {
			return w.fail("want a number")
		}
	case reflect.Slice:
		if tok == nil {
			return nil
		}
		if tok != json.Delim('[') {
			return w.fail("want a list")
		}
		w.path = append(w.path, step{})
		for i := 0; w.dec.More(); i++ {
			w.path[len(w.path)-1].index = i
			if err := w.walk(t.Elem()); err != nil {
				return err
			}
		}
		w.path = w.path[:len(w.path)-1]
		if _, err := w.dec.Token(); err != nil {
			return w.fail("%w", err)
		}
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.fail("want an object")
		}
		si := fieldsOf(t)
		var buf [64]bool
		seen := buf[:0]
		if len(si.fields) <= len(buf) {
			seen = buf[:len(si.fields)]
		} else {
			seen = make([]bool, len(si.fields))
		}
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return w.fail("%w", err)
			}
			key, _ := kt.(string)
			i, ok := si.index[key]
			switch {
			case !ok:
				return w.fail("unknown field %q", key)
			case seen[i]:
				return w.fail("field %q appears twice", key)
			}
			seen[i] = true
			w.path = append(w.path, step{key: key})
			if err := w.walk(si.fields[i].typ); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
		if _, err := w.dec.Token(); err != nil {
			return w.fail("%w", err)
		}
		var missing []string
		for i, f := range si.fields {
			if !f.optional && !seen[i] {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return w.fail("missing field(s) %s", strings.Join(missing, ", "))
		}
	default:
		return w.fail("unsupported type %s", t)
	}
	return nil
}
