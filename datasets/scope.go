package datasets

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Scope says what ties a regional endpoint's TLS sessions to its region.
//
// The prover chooses the IP address it connects to; the hostname does not
// fix the place. Where one certificate and key serve every region
// (*.blob.core.windows.net, *.googleapis.com, legacy *.s3.amazonaws.com), a
// valid handshake with the nearest front end of any region is possible. A
// session therefore counts for the region only if
//
//   - its leaf certificate names that region alone: every DNS name in the
//     leaf is covered by Names (exact names, or wildcards whose every match
//     is in the region); or
//   - the session carries the Binding exchange: a request only that region
//     can answer (reading an object that exists only in a bucket or storage
//     account of the region), answered as Binding expects.
//
// A regional entry has Names, a Binding, or both. Both checks are per TLS
// session: the prover picks the IP of every connection anew, so a binding
// seen on one connection says nothing about another.
type Scope struct {
	// Names are the certificate names admissible for this region alone:
	// lower-case host names or "*.<name>" wildcards (one label, as in
	// certificates). Each must carry the region identifier as a whole
	// token (between dots or hyphens), and the entry's hostname must match
	// one of them. Never list a name that another region's front ends also
	// present (for AWS, *.execute-api.<region>.amazonaws.com is one: the
	// CloudFront distributions of edge-optimized APIs present it too).
	Names []string `json:"names,omitempty"`
	// Binding is the region-binding exchange, required where the
	// certificate is shared between regions.
	Binding *RegionBinding `json:"binding,omitempty"`
}

// RegionBinding is a request that only the endpoint's region can answer, and
// the answer it must get.
type RegionBinding struct {
	// Request is sent in the session (over HTTP/1.1, or as a stream of an
	// HTTP/2 session) to the entry's hostname. Method is GET or HEAD.
	Request HTTP1Request `json:"request"`
	// Status is the status the answer must carry.
	Status int `json:"status"`
	// BodySHA256, if set, is the lower-case hex SHA-256 of the answer's
	// body (after any transfer coding is removed).
	BodySHA256 string `json:"body_sha256,omitempty"`
	// Header, if set, lists response header values the answer must carry
	// (each listed value must be among the answer's values of that field).
	Header http.Header `json:"header,omitempty"`
}

// ScopeEvidence is what one verified TLS session shows that bears on the
// region: the leaf certificate's DNS names and the HTTP exchanges of the
// session. Pass each session separately.
type ScopeEvidence struct {
	// DNSNames are the leaf certificate's DNS subject alternative names.
	DNSNames []string
	// Exchanges are the session's HTTP requests with their answers, as the
	// decrypted transcript shows them.
	Exchanges []HTTPExchange
}

// HTTPExchange is one request of a session and its answer.
type HTTPExchange struct {
	// Host is the request's Host header (HTTP/1.1) or :authority (HTTP/2).
	Host string
	// Request is the request line and headers as sent.
	Request HTTP1Request
	// Status is the answer's status code.
	Status int
	// Header is the answer's header.
	Header http.Header
	// BodySHA256 is the lower-case hex SHA-256 of the answer's body, or
	// empty when the transcript checker did not compute it.
	BodySHA256 string
}

// ScopeBasis says what put a session in its endpoint's region scope.
type ScopeBasis string

// Scope bases.
const (
	// ScopeByCertificate: every name in the leaf certificate is in the
	// region's scope.
	ScopeByCertificate ScopeBasis = "certificate"
	// ScopeByBinding: the certificate is shared between regions, and the
	// session read what only the region holds.
	ScopeByBinding ScopeBasis = "region-binding"
)

// ScopeResult is the outcome of a successful ScopeCheck.
type ScopeResult struct {
	Basis ScopeBasis `json:"basis"`
	// Detail says which names or which exchange decided, for reports.
	Detail string `json:"detail"`
}

// Errors of ScopeCheck and Endpoint.Usable. ErrEdge, ErrUnscoped and
// ErrUnfilled wrap ErrNotEvidence.
var (
	// ErrOutOfScope: the session does not belong to the entry's region:
	// the leaf certificate does not name the entry's host, or a region
	// binding was answered otherwise than only the region would.
	ErrOutOfScope = errors.New("session out of the endpoint's region scope")
	// ErrNeedsRegionBinding: the leaf certificate is valid for the host
	// but not for this region alone (it names names outside the scope),
	// and the session carries no matching region-binding exchange (or the
	// entry defines none).
	ErrNeedsRegionBinding = errors.New("certificate not region-specific: region-binding request needed")
	// ErrNotEvidence: the catalog entry cannot stand for its region.
	ErrNotEvidence = errors.New("catalog entry cannot be evidence for a region")
	// ErrEdge: the entry's TLS ends at an edge front end or a DNS-steered
	// global name; it is in the catalog only to be refused.
	ErrEdge = fmt.Errorf("%w: edge endpoint", ErrNotEvidence)
	// ErrUnscoped: a regional entry without a Scope (version 1 catalogs).
	ErrUnscoped = fmt.Errorf("%w: no region scope", ErrNotEvidence)
	// ErrUnfilled: the entry still holds placeholders a deployer must fill
	// in (see Catalog.Fill).
	ErrUnfilled = fmt.Errorf("%w: placeholders not filled in", ErrNotEvidence)
)

// ScopeError is the error of ScopeCheck and Usable: which entry, why, and
// one of the sentinel errors above (match with errors.Is).
type ScopeError struct {
	Endpoint string
	Region   string
	Reason   string
	Err      error
}

// Error names the entry, its region, the sentinel and the reason.
func (e *ScopeError) Error() string {
	return fmt.Sprintf("endpoint %s (region %s): %v: %s", e.Endpoint, e.Region, e.Err, e.Reason)
}

// Unwrap returns the sentinel error.
func (e *ScopeError) Unwrap() error { return e.Err }

func (e Endpoint) scopeErr(err error, format string, a ...any) *ScopeError {
	return &ScopeError{Endpoint: e.Name, Region: e.Region, Reason: fmt.Sprintf(format, a...), Err: err}
}

// Usable returns nil if the entry can stand for its region as it is, and
// otherwise a *ScopeError wrapping ErrEdge, ErrUnscoped or ErrUnfilled.
func (e Endpoint) Usable() error {
	if e.Termination != TerminationRegional {
		return e.scopeErr(ErrEdge, "termination %q: TLS does not end at a place the name fixes", e.Termination)
	}
	if e.Scope == nil || (len(e.Scope.Names) == 0 && e.Scope.Binding == nil) {
		return e.scopeErr(ErrUnscoped, "the entry names no region-only certificate names and no region binding")
	}
	if ph := e.Placeholders(); len(ph) > 0 {
		return e.scopeErr(ErrUnfilled, "fill in %s", strings.Join(braced(ph), ", "))
	}
	return nil
}

// ScopeCheck decides whether one verified TLS session with the entry's host
// belongs to the entry's region. It returns how the session was placed in
// scope, or a *ScopeError wrapping ErrNotEvidence (the entry is unusable),
// ErrOutOfScope or ErrNeedsRegionBinding.
//
// The rule: the leaf must be valid for the entry's hostname (else out of
// scope). If every DNS name of the leaf is covered by Scope.Names, the
// certificate names the region alone and the session is in scope. Otherwise
// the certificate is shared (it names a global wildcard, or other regions'
// names as well) and only a Binding exchange in this session can place it:
// a request equal to Binding.Request, sent to the hostname, whose answer
// matches Binding. A matching request answered otherwise is out of scope.
// When the certificate alone suffices, a binding exchange that is present
// must still be answered as expected: a contradicting answer is out of
// scope.
//
// ScopeCheck does not verify the certificate chain, the transcript or the
// hostname's validity at a time: the transcript checker does, first.
func (e Endpoint) ScopeCheck(ev ScopeEvidence) (ScopeResult, error) {
	if err := e.Usable(); err != nil {
		return ScopeResult{}, err
	}
	host := normName(e.Hostname)
	names := make([]string, 0, len(ev.DNSNames))
	valid := false
	for _, n := range ev.DNSNames {
		n = normName(n)
		names = append(names, n)
		if certNameMatches(n, host) {
			valid = true
		}
	}
	if !valid {
		return ScopeResult{}, e.scopeErr(ErrOutOfScope, "the leaf names %s, none valid for %s", quoteList(names, 8), host)
	}
	var outside []string
	for _, n := range names {
		if !slices.ContainsFunc(e.Scope.Names, func(p string) bool { return covers(p, n) }) {
			outside = append(outside, n)
		}
	}
	b := e.Scope.Binding
	if len(outside) == 0 {
		if b != nil {
			if x, ok := b.find(host, ev.Exchanges); ok {
				if why := b.mismatch(x); why != "" {
					return ScopeResult{}, e.scopeErr(ErrOutOfScope, "the region-only certificate checks, but the region binding was answered otherwise: %s", why)
				}
			}
		}
		return ScopeResult{Basis: ScopeByCertificate, Detail: fmt.Sprintf("every leaf name (%s) is in the scope of %s", quoteList(names, 8), e.Region)}, nil
	}
	if b == nil {
		return ScopeResult{}, e.scopeErr(ErrNeedsRegionBinding, "the leaf also names %s, outside the scope of %s, and the entry has no region binding", quoteList(outside, 8), e.Region)
	}
	x, ok := b.find(host, ev.Exchanges)
	if !ok {
		return ScopeResult{}, e.scopeErr(ErrNeedsRegionBinding, "the leaf names %s, outside the scope of %s, and the session carries no %s %s to %s (with its answer's body hash, where the binding needs one)", quoteList(outside, 8), e.Region, b.method(), b.Request.Path, host)
	}
	if why := b.mismatch(x); why != "" {
		return ScopeResult{}, e.scopeErr(ErrOutOfScope, "the region binding %s %s was answered otherwise than by %s: %s", b.method(), b.Request.Path, e.Region, why)
	}
	return ScopeResult{Basis: ScopeByBinding, Detail: fmt.Sprintf("shared certificate (%s); the session read %s %s as only %s can answer it", quoteList(outside, 8), b.method(), b.Request.Path, e.Region)}, nil
}

func (b *RegionBinding) method() string {
	if b.Request.Method == "" {
		return http.MethodGet
	}
	return b.Request.Method
}

// find returns the first exchange of the session that sends the binding's
// request to host. Of several, a matching answer wins: one failed read (a
// throttled 503) does not outweigh a good one in the same session. An
// exchange without the body hash the binding needs is skipped: it neither
// places the session nor contradicts the region.
func (b *RegionBinding) find(host string, xs []HTTPExchange) (HTTPExchange, bool) {
	var first *HTTPExchange
	for i := range xs {
		x := &xs[i]
		if !b.sameRequest(host, x) {
			continue
		}
		if b.BodySHA256 != "" && x.BodySHA256 == "" {
			continue // the transcript checker did not hash the body: unchecked, not contradicted
		}
		if b.mismatch(*x) == "" {
			return *x, true
		}
		if first == nil {
			first = x
		}
	}
	if first == nil {
		return HTTPExchange{}, false
	}
	return *first, true
}

// sameRequest says whether an exchange sent the binding's request: same
// method and path, to host (with or without a port), with every header the
// binding sets at the same values. Other headers (the echo token) may be
// added.
func (b *RegionBinding) sameRequest(host string, x *HTTPExchange) bool {
	h := normName(x.Host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	m := x.Request.Method
	if m == "" {
		m = http.MethodGet
	}
	if h != host || m != b.method() || x.Request.Path != b.Request.Path {
		return false
	}
	return headerSubset(b.Request.Header, x.Request.Header) == ""
}

// mismatch says how an answer differs from what the binding expects, or ""
// if it does not.
func (b *RegionBinding) mismatch(x HTTPExchange) string {
	if x.Status != b.Status {
		return fmt.Sprintf("status %d, want %d", x.Status, b.Status)
	}
	if b.BodySHA256 != "" {
		if !strings.EqualFold(x.BodySHA256, b.BodySHA256) {
			return fmt.Sprintf("body SHA-256 %.16s…, want %.16s…", x.BodySHA256, b.BodySHA256)
		}
	}
	return headerSubset(b.Header, x.Header)
}

// headerSubset says how got lacks a value of want, or "" if it lacks none.
// Field names compare case-insensitively.
func headerSubset(want, got http.Header) string {
	canon := http.Header{}
	for k, vs := range got {
		ck := http.CanonicalHeaderKey(k)
		canon[ck] = append(canon[ck], vs...)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range want[k] {
			if !slices.Contains(canon[http.CanonicalHeaderKey(k)], v) {
				return fmt.Sprintf("header %s lacks %q", k, v)
			}
		}
	}
	return ""
}

// quoteList renders at most max names for a message.
func quoteList(names []string, max int) string {
	if len(names) == 0 {
		return "no DNS names"
	}
	q := make([]string, 0, max+1)
	for i, n := range names {
		if i == max {
			q = append(q, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	return strings.Join(q, ", ")
}
