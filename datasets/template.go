package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Placeholders. Where an entry needs something only its deployer has (a
// verifier-owned storage account, bucket or API in the region, and the hash
// of the token object stored there), the catalog holds a placeholder
// "{{name}}" in its place, and the catalog's Placeholders map says what to
// put there. Such an entry validates as a template but is not usable
// (Endpoint.Usable, Catalog.Ready) until Catalog.Fill has replaced every
// placeholder it holds.
//
// Placeholders may stand in the hostname, the echo request (path, header
// values), the scope's names, and the region binding (path, header values,
// body hash); never in an entry's name, provider or region, which identify
// it.

var (
	placeholderRE   = regexp.MustCompile(`\{\{([a-z][a-z0-9_]{0,63})\}\}`)
	placeholderName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// maxPlaceholderValue bounds a value given to Fill.
const maxPlaceholderValue = 512

// placeholderSample replaces a placeholder when a template's fields are
// checked: it is a valid DNS label, path segment and header value.
const placeholderSample = "placeholder"

// templated returns pointers to every field of e that may hold
// placeholders. The pointers alias e's own slices and maps: callers that
// write through them must own a deep copy.
func (e *Endpoint) templated() []*string {
	var out []*string
	out = append(out, &e.Hostname)
	addReq := func(r *HTTP1Request) {
		out = append(out, &r.Path)
		for _, vs := range r.Header {
			for i := range vs {
				out = append(out, &vs[i])
			}
		}
	}
	if e.Echo.HTTP1 != nil {
		addReq(e.Echo.HTTP1)
	}
	if e.Scope != nil {
		for i := range e.Scope.Names {
			out = append(out, &e.Scope.Names[i])
		}
		if b := e.Scope.Binding; b != nil {
			addReq(&b.Request)
			out = append(out, &b.BodySHA256)
			for _, vs := range b.Header {
				for i := range vs {
					out = append(out, &vs[i])
				}
			}
		}
	}
	return out
}

// Placeholders returns the names of the placeholders the entry still holds,
// sorted and without repeats.
func (e Endpoint) Placeholders() []string {
	c := e.clone()
	seen := map[string]bool{}
	for _, p := range c.templated() {
		for _, m := range placeholderRE.FindAllStringSubmatch(*p, -1) {
			seen[m[1]] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// clone returns a deep copy of the entry.
func (e Endpoint) clone() Endpoint {
	c := e
	if e.Echo.HTTP1 != nil {
		r := cloneRequest(*e.Echo.HTTP1)
		c.Echo.HTTP1 = &r
	}
	if e.Scope != nil {
		s := Scope{Names: slices.Clone(e.Scope.Names)}
		if b := e.Scope.Binding; b != nil {
			nb := *b
			nb.Request = cloneRequest(b.Request)
			nb.Header = b.Header.Clone()
			s.Binding = &nb
		}
		c.Scope = &s
	}
	c.Notes = slices.Clone(e.Notes)
	c.Uncertain = slices.Clone(e.Uncertain)
	return c
}

func cloneRequest(r HTTP1Request) HTTP1Request {
	r.Header = r.Header.Clone()
	return r
}

// sample returns a copy of e with every placeholder replaced by a sample
// value, for checking a template's fields.
func (e Endpoint) sample() Endpoint {
	c := e.clone()
	for _, p := range c.templated() {
		if *p == "" {
			continue
		}
		*p = placeholderRE.ReplaceAllString(*p, placeholderSample)
	}
	return c
}

// checkPlaceholderSyntax reports braces that do not form a placeholder.
func checkPlaceholderSyntax(s string) error {
	rest := placeholderRE.ReplaceAllString(s, "")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		return fmt.Errorf("%q holds a malformed placeholder (want {{name}}, name of a-z, 0-9, _)", s)
	}
	return nil
}

// Ready returns nil if every regional entry of the catalog can be used as it
// stands, and otherwise an error wrapping ErrUnfilled that names each entry
// still holding placeholders and what to put in each. Edge entries are never
// usable and are not reported; regional entries of a version 1 catalog that
// carry no scope are reported with ErrUnscoped.
func (c *Catalog) Ready() error {
	var errs []error
	for i, e := range c.Endpoints {
		if e.Termination != TerminationRegional {
			continue
		}
		if ph := e.Placeholders(); len(ph) > 0 {
			errs = append(errs, fmt.Errorf("endpoint %d (%s) is not usable until filled in: %s (see the catalog's placeholders)", i, e.Name, strings.Join(braced(ph), ", ")))
			continue
		}
		if err := e.Usable(); err != nil {
			errs = append(errs, fmt.Errorf("endpoint %d: %w", i, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	if hasUnfilled(c) {
		return fmt.Errorf("%w: %w", ErrUnfilled, err)
	}
	return err
}

func hasUnfilled(c *Catalog) bool {
	for _, e := range c.Endpoints {
		if e.Termination == TerminationRegional && len(e.Placeholders()) > 0 {
			return true
		}
	}
	return false
}

// Fill returns a copy of the catalog with placeholders replaced by values
// (name → value, names without braces), validated. Every name must be a
// placeholder the catalog declares; values are printable ASCII without
// spaces, quotes, backslashes or braces, at most 512 bytes, and must make
// valid fields where they land (Validate checks the result). Filled names
// leave the Placeholders map; placeholders not given stay, so a catalog can
// be filled in steps. The receiver is not modified.
func (c *Catalog) Fill(values map[string]string) (*Catalog, error) {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v := values[k]
		if _, ok := c.Placeholders[k]; !ok {
			errs = append(errs, fmt.Errorf("%q is not a placeholder of this catalog", k))
		}
		if err := checkPlaceholderValue(v); err != nil {
			errs = append(errs, fmt.Errorf("value of %s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: filling placeholders: %w", ErrCatalog, errors.Join(errs...))
	}
	out := *c
	out.Endpoints = make([]Endpoint, len(c.Endpoints))
	for i, e := range c.Endpoints {
		e = e.clone()
		for _, p := range e.templated() {
			*p = placeholderRE.ReplaceAllStringFunc(*p, func(m string) string {
				if v, ok := values[m[2:len(m)-2]]; ok {
					return v
				}
				return m
			})
		}
		out.Endpoints[i] = e
	}
	out.Placeholders = map[string]string{}
	for k, v := range c.Placeholders {
		if _, filled := values[k]; !filled {
			out.Placeholders[k] = v
		}
	}
	if len(out.Placeholders) == 0 {
		out.Placeholders = nil
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("filled catalog: %w", err)
	}
	return &out, nil
}

func checkPlaceholderValue(v string) error {
	if v == "" || len(v) > maxPlaceholderValue {
		return fmt.Errorf("want 1-%d bytes, got %d", maxPlaceholderValue, len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"\{}`, c) >= 0 {
			return fmt.Errorf("character %q at %d", c, i)
		}
	}
	return nil
}

// ReadPlaceholderValues decodes a JSON object of placeholder values (name →
// value) as Fill takes them, refusing anything over MaxCatalogBytes,
// duplicate names and non-string values.
func ReadPlaceholderValues(b []byte) (map[string]string, error) {
	if len(b) > MaxCatalogBytes {
		return nil, fmt.Errorf("%w: placeholder values: larger than %d bytes", ErrCatalog, MaxCatalogBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	out := map[string]string{}
	fail := func(err error) (map[string]string, error) {
		return nil, fmt.Errorf("%w: placeholder values at %s: %w", ErrCatalog, position(b, dec.InputOffset()), err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fail(errors.New("want a JSON object"))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		k, _ := t.(string)
		if !placeholderName.MatchString(k) {
			return fail(fmt.Errorf("placeholder name %q", k))
		}
		if _, dup := out[k]; dup {
			return fail(fmt.Errorf("placeholder %q given twice", k))
		}
		var v *string
		if err := dec.Decode(&v); err != nil {
			return fail(err)
		}
		if v == nil || *v == "" {
			return fail(fmt.Errorf("placeholder %q: want a non-empty string", k))
		}
		out[k] = *v
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(errors.New("trailing data after the JSON object"))
	}
	return out, nil
}

// braced renders placeholder names as they appear in a template.
func braced(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{" + n + "}}"
	}
	return out
}
