package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Termination says where an endpoint's TLS sessions end.
type Termination string

// Terminations.
const (
	// TerminationRegional: TLS ends inside the endpoint's region. Such an
	// entry counts only through its Scope.
	TerminationRegional Termination = "regional"
	// TerminationEdge: the name does not fix where TLS ends: an anycast
	// front end (Google's GFE, Azure Front Door, CloudFront) wherever the
	// client happens to be, or a global name that DNS steers by the
	// resolver's location (sts.amazonaws.com, management.azure.com). Such an
	// entry proves nothing about a region: it is kept in a catalog only so
	// that the verifier can name it when it refuses it (ErrEdge).
	TerminationEdge Termination = "edge"
)

// Echo says how to time round trips against an endpoint.
type Echo struct {
	// Method is "h2-ping", "http1" or "auto".
	Method string `json:"method"`
	// HTTP1 is the request of http1 echoes (method, path, headers).
	HTTP1 *HTTP1Request `json:"http1,omitempty"`
	// EchoesPerConn caps echoes per connection (0: no cap).
	EchoesPerConn int `json:"echoes_per_conn,omitempty"`
	// MinSpacing is the least time between two echoes to the endpoint.
	MinSpacing Duration `json:"min_spacing,omitempty"`
}

// HTTP1Request is the request line and headers of an http1 echo or of a
// region binding.
type HTTP1Request struct {
	Method string      `json:"method,omitempty"`
	Path   string      `json:"path,omitempty"`
	Header http.Header `json:"header,omitempty"`
}

// Endpoint is one entry of a catalog.
type Endpoint struct {
	// Name identifies the entry; by convention its hostname, or for a
	// template (whose hostname holds a placeholder) a stable name such as
	// "azure-blob.westeurope".
	Name     string `json:"name"`
	Provider string `json:"provider"`
	Region   string `json:"region"`
	// Lat and Lon are approximate coordinates of the region (metro level);
	// Source says where they come from. An edge entry's are not used.
	Lat         float64     `json:"lat"`
	Lon         float64     `json:"lon"`
	Hostname    string      `json:"hostname"`
	Port        int         `json:"port"`
	Termination Termination `json:"termination"`
	Echo        Echo        `json:"echo"`
	// Scope ties the entry's sessions to its region; required on regional
	// entries from version 2 on, refused on edge entries.
	Scope *Scope `json:"scope,omitempty"`
	// Source says where the entry's facts come from (source ids of the
	// catalog's Sources, or URLs).
	Source string `json:"source,omitempty"`
	// Notes explain the entry's choices (echo budget, scope).
	Notes []string `json:"notes,omitempty"`
	// Uncertain lists what no source settled and a probe from inside the
	// region must check before the entry is trusted.
	Uncertain []string `json:"uncertain,omitempty"`
}

// Address returns hostname:port.
func (e Endpoint) Address() string {
	return fmt.Sprintf("%s:%d", e.Hostname, e.Port)
}

// Catalog is a list of endpoints.
type Catalog struct {
	Version int    `json:"version"`
	Name    string `json:"name,omitempty"`
	// Description says what the catalog is and how far to trust it.
	Description string `json:"description,omitempty"`
	// Sources maps the source ids that entries cite to what they are.
	Sources map[string]string `json:"sources,omitempty"`
	// Placeholders maps each placeholder name that the entries hold (as
	// "{{name}}") to what a deployer must put there; see Fill.
	Placeholders map[string]string `json:"placeholders,omitempty"`
	Endpoints    []Endpoint        `json:"endpoints"`
}

// CatalogVersion is the catalog schema this package writes. Version 2 added
// Scope and made it mandatory on regional entries, because without it an
// entry whose certificate serves every region proves nothing about its
// region; it also added the descriptive fields (Description, Sources,
// Placeholders, Notes, Uncertain). A version 1 reader refuses these fields,
// so a version 2 catalog never passes for version 1.
const CatalogVersion = 2

// MinCatalogVersion is the oldest schema this package reads. Version 1
// catalogs still read; their regional entries without a Scope validate but
// are unusable as evidence (ErrUnscoped).
const MinCatalogVersion = 1

// MaxCatalogBytes bounds a catalog file.
const MaxCatalogBytes = 8 << 20

// ErrCatalog is wrapped by every catalog validation error.
var ErrCatalog = errors.New("invalid endpoint catalog")

// Lookup returns the endpoint whose name, hostname or hostname:port is name.
func (c *Catalog) Lookup(name string) (Endpoint, bool) {
	for _, e := range c.Endpoints {
		if e.Name == name || e.Hostname == name || e.Address() == name {
			return e, true
		}
	}
	return Endpoint{}, false
}

var (
	idRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	methodRE = regexp.MustCompile(`^[A-Z]{1,16}$`)
	hexRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks the catalog's fields and reports every problem found. A
// template (an entry holding placeholders) validates with each placeholder
// read as a sample value; Ready says whether entries are usable as they
// stand.
func (c *Catalog) Validate() error {
	var errs []error
	if c.Version < MinCatalogVersion || c.Version > CatalogVersion {
		errs = append(errs, fmt.Errorf("version %d, want %d to %d", c.Version, MinCatalogVersion, CatalogVersion))
	}
	seen := map[string]bool{}
	used := map[string]bool{}
	hostRegion := map[string]string{}
	for i, e := range c.Endpoints {
		at := fmt.Sprintf("endpoint %d (%s)", i, e.Name)
		for _, err := range e.validate(c.Version) {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate name", at))
		}
		seen[e.Name] = true
		for _, p := range e.Placeholders() {
			used[p] = true
			if _, ok := c.Placeholders[p]; !ok {
				errs = append(errs, fmt.Errorf("%s: placeholder {{%s}} is not declared in the catalog's placeholders", at, p))
			}
		}
		if e.Termination == TerminationRegional && !strings.Contains(e.Hostname, "{{") {
			a := normName(e.Hostname) + fmt.Sprintf(":%d", e.Port)
			if r, ok := hostRegion[a]; ok && r != e.Region {
				errs = append(errs, fmt.Errorf("%s: %s stands for both %s and %s", at, a, r, e.Region))
			}
			hostRegion[a] = e.Region
		}
	}
	for _, k := range sortedKeys(c.Placeholders) {
		if !placeholderName.MatchString(k) {
			errs = append(errs, fmt.Errorf("placeholder name %q (want a-z, 0-9, _; starting with a letter)", k))
		}
		if strings.TrimSpace(c.Placeholders[k]) == "" {
			errs = append(errs, fmt.Errorf("placeholder %s has no description", k))
		}
		if !used[k] {
			errs = append(errs, fmt.Errorf("placeholder %s is declared but no entry holds it", k))
		}
	}
	for _, k := range sortedKeys(c.Sources) {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(c.Sources[k]) == "" {
			errs = append(errs, fmt.Errorf("source %q: empty id or description", k))
		}
	}
	errs = append(errs, c.crossRegion()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrCatalog, errors.Join(errs...))
	}
	return nil
}

// validate checks one entry on its own.
func (e Endpoint) validate(version int) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if e.Name == "" || e.Hostname == "" || e.Region == "" || e.Provider == "" {
		add("name, provider, region and hostname are required")
	}
	if strings.Contains(e.Name, "{{") || strings.ContainsFunc(e.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		add("name %q: no placeholders, spaces or control characters", e.Name)
	}
	if e.Provider != "" && !idRE.MatchString(e.Provider) {
		add("provider %q (want a-z, 0-9, inner '-')", e.Provider)
	}
	if e.Region != "" && !idRE.MatchString(e.Region) {
		add("region %q (want a-z, 0-9, inner '-')", e.Region)
	}
	if e.Port < 1 || e.Port > 65535 {
		add("port %d", e.Port)
	}
	if !(e.Lat >= -90 && e.Lat <= 90 && e.Lon >= -180 && e.Lon <= 180) {
		add("coordinates %v,%v out of range", e.Lat, e.Lon)
	}
	if e.Termination != TerminationRegional && e.Termination != TerminationEdge {
		add("termination %q (want regional or edge)", e.Termination)
	}
	switch e.Echo.Method {
	case "h2-ping", "http1", "auto":
	default:
		add("echo method %q", e.Echo.Method)
	}
	if e.Echo.EchoesPerConn < 0 || e.Echo.MinSpacing < 0 {
		add("negative echo budget")
	}
	for _, p := range e.templated() {
		if err := checkPlaceholderSyntax(*p); err != nil {
			add("%v", err)
		}
	}
	s := e.sample()
	if e.Hostname != "" {
		if err := checkName(s.Hostname, false); err != nil {
			add("hostname: %v", err)
		}
	}
	if s.Echo.HTTP1 != nil {
		for _, err := range checkRequest(*s.Echo.HTTP1) {
			add("echo request: %v", err)
		}
	}
	for i, n := range e.Notes {
		if strings.TrimSpace(n) == "" {
			add("note %d is empty", i)
		}
	}
	for i, n := range e.Uncertain {
		if strings.TrimSpace(n) == "" {
			add("uncertain %d is empty", i)
		}
	}
	switch {
	case e.Termination == TerminationEdge && e.Scope != nil:
		add("an edge entry has no region scope: it is in the catalog only to be refused")
	case e.Termination != TerminationRegional:
	case e.Scope == nil || (len(e.Scope.Names) == 0 && e.Scope.Binding == nil):
		if version >= 2 {
			add("a regional entry needs a scope: certificate names of this region alone, or a region-binding request")
		}
	default:
		for _, err := range s.Scope.validate(e, s) {
			add("scope: %v", err)
		}
	}
	return errs
}

// validate checks a scope; s is the entry with placeholders replaced by
// samples, orig the entry as written.
func (sc *Scope) validate(orig, s Endpoint) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	seen := map[string]bool{}
	hostOK := false
	for i, n := range sc.Names {
		if err := checkName(n, true); err != nil {
			add("name %d: %v", i, err)
			continue
		}
		if seen[n] {
			add("name %q listed twice", n)
		}
		seen[n] = true
		// The region must show in the name as written, not come from a
		// placeholder's value.
		if w := orig.Scope.Names[i]; !hasRegionToken(strings.TrimPrefix(w, "*."), s.Region) {
			add("name %q does not carry the region %q as a token: a name that does not name its region must be bound by a request instead", w, s.Region)
		}
		if certNameMatches(n, normName(s.Hostname)) || n == normName(s.Hostname) {
			hostOK = true
		}
	}
	if len(sc.Names) > 0 && !hostOK {
		add("the hostname %q matches none of the scope's names: a certificate valid for it could never be in scope", orig.Hostname)
	}
	if b := sc.Binding; b != nil {
		if m := b.Request.Method; m != "" && m != http.MethodGet && m != http.MethodHead {
			add("binding method %q (want GET or HEAD: reading only)", m)
		}
		for _, err := range checkRequest(b.Request) {
			add("binding request: %v", err)
		}
		if b.Request.Path == "" {
			add("binding request has no path")
		}
		if b.Status < 100 || b.Status > 599 {
			add("binding status %d", b.Status)
		}
		if h := orig.Scope.Binding.BodySHA256; h != "" && !hexRE.MatchString(h) && !placeholderRE.MatchString(h) {
			add("binding body_sha256 %q (want 64 lower-case hex digits)", h)
		} else if placeholderRE.MatchString(h) && placeholderRE.ReplaceAllString(h, "") != "" {
			add("binding body_sha256 %q: a placeholder must be the whole value", h)
		}
		if b.BodySHA256 != "" && b.Request.Method == http.MethodHead {
			add("binding of a HEAD request cannot expect a body hash")
		}
		for _, err := range checkHeader(b.Header) {
			add("binding answer header: %v", err)
		}
	}
	return errs
}

// checkRequest checks a request's syntax: it is written into a request line
// and header block, so nothing in it may break one.
func checkRequest(r HTTP1Request) []error {
	var errs []error
	if r.Method != "" && !methodRE.MatchString(r.Method) {
		errs = append(errs, fmt.Errorf("method %q", r.Method))
	}
	if r.Path != "" {
		if !strings.HasPrefix(r.Path, "/") || len(r.Path) > 4096 {
			errs = append(errs, fmt.Errorf("path %.64q must start with '/' and hold at most 4096 bytes", r.Path))
		}
		for i := 0; i < len(r.Path); i++ {
			if c := r.Path[i]; c <= ' ' || c >= 0x7f {
				errs = append(errs, fmt.Errorf("path %.64q: byte %#x at %d", r.Path, c, i))
				break
			}
		}
	}
	return append(errs, checkHeader(r.Header)...)
}

// checkHeader checks field names (RFC 9110 tokens) and values (no control
// characters but tab).
func checkHeader(h http.Header) []error {
	var errs []error
	for _, k := range sortedKeys(h) {
		if k == "" || strings.IndexFunc(k, func(r rune) bool { return !isTchar(r) }) >= 0 {
			errs = append(errs, fmt.Errorf("header name %q", k))
		}
		for _, v := range h[k] {
			if strings.IndexFunc(v, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
				errs = append(errs, fmt.Errorf("header %s: value %q holds a control character", k, v))
			}
		}
	}
	return errs
}

func isTchar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return r < 0x7f && strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// crossRegion refuses scope names of one region that cover another
// region's hostname or scope names: such a name does not name one region
// alone. Names holding placeholders are skipped (their samples collide).
// It runs in time linear in the number of names.
func (c *Catalog) crossRegion() []error {
	type owner struct{ region, entry string }
	exact := map[string][]owner{}     // exact scope names and hostnames
	wildcard := map[string][]owner{}  // wildcard scope names, by base
	byParent := map[string][]string{} // exact names by their parent domain
	addExact := func(n string, o owner) {
		if _, seen := exact[n]; !seen {
			if _, parent, ok := strings.Cut(n, "."); ok {
				byParent[parent] = append(byParent[parent], n)
			}
		}
		exact[n] = append(exact[n], o)
	}
	for _, e := range c.Endpoints {
		if e.Termination != TerminationRegional || e.Scope == nil {
			continue
		}
		o := owner{e.Region, e.Name}
		if !strings.Contains(e.Hostname, "{{") {
			addExact(normName(e.Hostname), o)
		}
		for _, n := range e.Scope.Names {
			switch {
			case strings.Contains(n, "{{"):
			case isWildcard(n):
				wildcard[n[2:]] = append(wildcard[n[2:]], o)
			default:
				addExact(n, o)
			}
		}
	}
	var errs []error
	// clash reports the first two owners of different regions, if any.
	clash := func(name string, groups ...[]owner) {
		var first *owner
		for _, g := range groups {
			for i := range g {
				if first == nil {
					first = &g[i]
				} else if g[i].region != first.region {
					errs = append(errs, fmt.Errorf("%q is in the scope of %s (%s) and of %s (%s) too", name, first.region, first.entry, g[i].region, g[i].entry))
					return
				}
			}
		}
	}
	for _, base := range sortedKeys(wildcard) {
		groups := [][]owner{wildcard[base]}
		for _, n := range byParent[base] {
			groups = append(groups, exact[n])
		}
		clash("*."+base, groups...)
	}
	for _, n := range sortedKeys(exact) {
		clash(n, exact[n])
	}
	return errs
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ReadCatalog decodes and validates a catalog, refusing unknown fields and
// anything over MaxCatalogBytes.
func ReadCatalog(r io.Reader) (*Catalog, error) {
	var c Catalog
	if err := decodeStrict(r, MaxCatalogBytes, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCatalog, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeStrict decodes one JSON document of at most max bytes into v,
// refusing unknown fields and trailing data. Errors name the line and
// column where decoding stopped.
func decodeStrict(r io.Reader, max int64, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > max {
		return fmt.Errorf("larger than %d bytes", max)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.As(err, &te):
			off = te.Offset
		}
		return fmt.Errorf("at %s: %w", position(b, off), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("at %s: trailing data after the JSON document", position(b, dec.InputOffset()))
	}
	return nil
}

// position renders a byte offset of b as "line L, column C".
func position(b []byte, off int64) string {
	line, col := lineCol(b, off)
	return fmt.Sprintf("line %d, column %d", line, col)
}

// lineCol converts a byte offset of b to a 1-based line and column (columns
// count bytes).
func lineCol(b []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(b))))
	line, col = 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
