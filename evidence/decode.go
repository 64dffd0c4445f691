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
	if err := walk(dec, reflect.TypeOf(Proof{}), "proof"); err != nil {
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
	typ      reflect.Type
	optional bool
}

// fields lists the JSON fields of a struct type: every field without
// omitempty is required.
func fields(t reflect.Type) map[string]field {
	m := map[string]field{}
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
		m[name] = field{typ: f.Type, optional: strings.Contains(opts, "omitempty")}
	}
	return m
}

// walk reads one JSON value of type t from dec, checking its shape: objects
// have exactly their fields, each once, values have their types. Types bound
// the depth, so hostile nesting ends at the first unexpected token.
func walk(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
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
			return fmt.Errorf("%s: want a string", path)
		}
		return nil
	case t == byteSlice:
		if _, ok := tok.(string); !ok && tok != nil {
			return fmt.Errorf("%s: want a base64 string", path)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return fmt.Errorf("%s: want true or false", path)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := tok.(json.Number); !ok {
			return fmt.Errorf("%s: want a number", path)
		}
	case reflect.Slice:
		if tok == nil {
			return nil
		}
		if tok != json.Delim('[') {
			return fmt.Errorf("%s: want a list", path)
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	case reflect.Struct:
		if tok != json.Delim('{') {
			return fmt.Errorf("%s: want an object", path)
		}
		fs := fields(t)
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			key, _ := kt.(string)
			f, ok := fs[key]
			switch {
			case !ok:
				return fmt.Errorf("%s: unknown field %q", path, key)
			case seen[key]:
				return fmt.Errorf("%s: field %q appears twice", path, key)
			}
			seen[key] = true
			if err := walk(dec, f.typ, path+"."+key); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var missing []string
		for name, f := range fs {
			if !f.optional && !seen[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return fmt.Errorf("%s: missing field(s) %s", path, strings.Join(missing, ", "))
		}
	default:
		return fmt.Errorf("%s: unsupported type %s", path, t)
	}
	return nil
}
