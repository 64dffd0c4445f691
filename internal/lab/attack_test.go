package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/tlsprobe"
	"github.com/latencyproof/poc/transcript"
)

// attackWorld has every attack option: a shared-certificate service in r1
// and r2, edges with and without a region, an attacker's unlisted server
// presenting another domain's certificate, and a vantage 10 km from r1.
const attackWorld = `{
  "version": 1, "name": "attack", "route_factor": 1.0,
  "regions": [
    {"name": "r1", "lat": 50, "lon": 5}, {"name": "r2", "lat": 50.5, "lon": 5}, {"name": "r3", "lat": 48, "lon": 2}
  ],
  "endpoints": [
    {"service": "api", "region": "r1", "protocol": "h2"},
    {"service": "store", "region": "r1", "protocol": "http1", "shared_cert": true, "echoes_per_conn": 2},
    {"service": "store", "region": "r2", "protocol": "http1", "shared_cert": true, "echoes_per_conn": 2},
    {"service": "cdn", "protocol": "h2", "termination": "edge", "sites": ["r1", "r2"]},
    {"service": "cdn", "region": "r3", "protocol": "http1", "termination": "edge"},
    {"service": "evil", "region": "r2", "protocol": "h2", "cert_names": ["other.example.lab.test"], "unlisted": true}
  ],
  "vantages": [
    {"name": "v1", "region": "r1"}, {"name": "v2", "region": "r2"}, {"name": "v3", "region": "r3"},
    {"name": "a10", "offset": {"from": "r1", "km": 10, "bearing": 90}}
  ]
}`

func startAttack(t *testing.T) *Lab {
	t.Helper()
	w, err := ReadWorld(strings.NewReader(attackWorld))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Start(w, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustVantage(t *testing.T, st *State, name string) *VantageState {
	t.Helper()
	v, err := st.Vantage(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustEntry(t *testing.T, st *State, name string) datasets.Endpoint {
	t.Helper()
	e, ok := st.Catalog.Lookup(name)
	if !ok {
		t.Fatalf("%s not in the lab catalog", name)
	}
	return e
}

// handshake completes a TLS handshake with the server of host (Direct, no
// relay) for serverName, verifying the chain against the lab CA.
func handshake(t *testing.T, st *State, host, serverName string) (*x509.Certificate, error) {
	t.Helper()
	roots, err := st.Roots()
	if err != nil {
		t.Fatal(err)
	}
	d := tls.Dialer{Config: &tls.Config{ServerName: serverName, RootCAs: roots, MinVersion: tls.VersionTLS13}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", st.Direct[host])
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// Every server presents the certificate its world entry calls for: its
// hostname alone, the shared wildcard (one certificate and key for every
// region, valid for each region's host), or another domain's names.
func TestServerCertificates(t *testing.T) {
	l := startAttack(t)
	st := l.State
	leaves := map[string]*x509.Certificate{}
	for _, svc := range l.World.Endpoints {
		h := svc.Hostname()
		serverName := svc.CertDNSNames()[0]
		if strings.HasPrefix(serverName, "*.") {
			serverName = h
		}
		leaf, err := handshake(t, st, h, serverName)
		if err != nil {
			t.Fatalf("%s: handshake for %s: %v", h, serverName, err)
		}
		if !slices.Equal(leaf.DNSNames, svc.CertDNSNames()) {
			t.Errorf("%s presents %q, want %q", h, leaf.DNSNames, svc.CertDNSNames())
		}
		leaves[h] = leaf
	}
	s1, s2 := leaves["r1.store.lab.test"], leaves["r2.store.lab.test"]
	if !bytes.Equal(s1.Raw, s2.Raw) {
		t.Error("the shared-certificate servers of r1 and r2 present different certificates")
	}
	for _, h := range []string{"r1.store.lab.test", "r2.store.lab.test", "r9.store.lab.test"} {
		if err := s1.VerifyHostname(h); err != nil {
			t.Errorf("the shared certificate is not valid for %s: %v", h, err)
		}
	}
	if bytes.Equal(leaves["api.r1.lab.test"].RawSubjectPublicKeyInfo, leaves["cdn.lab.test"].RawSubjectPublicKeyInfo) {
		t.Error("two unshared servers share a key")
	}
	// The server with another domain's certificate fails a client that
	// checks names: the chain is good, the name is not.
	_, err := handshake(t, st, "evil.r2.lab.test", "evil.r2.lab.test")
	var he x509.HostnameError
	if !errors.As(err, &he) {
		t.Fatalf("handshake with evil.r2.lab.test for its own name: %v, want a hostname error", err)
	}
}

// get fetches path from host through dial, trusting the lab CA.
func get(t *testing.T, st *State, dial func(context.Context, string, string) (net.Conn, error), host, path string) (int, []byte) {
	t.Helper()
	roots, err := st.Roots()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext:     dial,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("https://" + host + ":443" + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// Each region's shared-certificate server answers its own token, whose hash
// is the catalog's binding; other servers have none.
func TestRegionTokens(t *testing.T) {
	l := startAttack(t)
	st := l.State
	dial := mustVantage(t, st, "v1").Dialer()
	tokens := map[string]bool{}
	for _, host := range []string{"r1.store.lab.test", "r2.store.lab.test"} {
		status, body := get(t, st, dial, host, RegionTokenPath)
		if status != http.StatusOK || !bytes.HasPrefix(body, []byte("lab region token "+strings.Split(host, ".")[0]+" ")) {
			t.Fatalf("%s answers %d %q", host, status, body)
		}
		tokens[string(body)] = true
		b := mustEntry(t, st, host).Scope.Binding
		if sum := sha256.Sum256(body); b == nil || b.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: catalog binding %+v does not hash its token", host, b)
		}
	}
	if len(tokens) != 2 {
		t.Error("two regions answer the same token")
	}
	if _, body := get(t, st, dial, "api.r1.lab.test", RegionTokenPath); bytes.Contains(body, []byte("token")) {
		t.Errorf("an unshared server answers a region token: %q", body)
	}
	// A new lab draws new tokens.
	l2 := startAttack(t)
	_, again := get(t, l2.State, mustVantage(t, l2.State, "v1").Dialer(), "r1.store.lab.test", RegionTokenPath)
	if tokens[string(again)] {
		t.Error("a second lab answers the first one's token")
	}
}

// The catalog entry of a shared-certificate service makes the binding
// request its echo request and scopes the region by binding alone.
func TestSharedCatalogEntry(t *testing.T) {
	l := startAttack(t)
	e := mustEntry(t, l.State, "r1.store.lab.test")
	b := e.Scope.Binding
	if e.Echo.Method != "http1" || e.Echo.HTTP1 == nil || b == nil || len(e.Scope.Names) != 0 {
		t.Fatalf("entry %+v", e)
	}
	if h := e.Echo.HTTP1; h.Method != http.MethodGet || h.Path != RegionTokenPath || h.Header != nil || b.Request.Header != nil || b.Request.Method != h.Method || b.Request.Path != e.Echo.HTTP1.Path || b.Status != http.StatusOK {
		t.Errorf("echo request %+v, binding %+v", e.Echo.HTTP1, b)
	}
	if err := e.Usable(); err != nil {
		t.Error(err)
	}
}

// probeScope probes a catalog entry from a vantage the way the prover does
// (the entry's echo method, request and budget), through dial, then
// re-verifies every session as the verifier does, for the entry's hostname,
// and returns what each session shows the scope check.
func probeScope(t *testing.T, st *State, e datasets.Endpoint, dial tlsprobe.DialFunc, path string, echoes int) ([]datasets.ScopeEvidence, *tlsprobe.Result) {
	t.Helper()
	roots, err := st.Roots()
	if err != nil {
		t.Fatal(err)
	}
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	method, err := tlsprobe.ParseMethod(e.Echo.Method)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsprobe.Config{
		Endpoint: e.Address(), Nonce: nonce, Echoes: echoes, Method: method, Roots: roots, Dial: dial,
		Budget: tlsprobe.Budget{EchoesPerConn: e.Echo.EchoesPerConn}, Timeout: 10 * time.Second,
	}
	if h := e.Echo.HTTP1; h != nil {
		cfg.HTTP1 = tlsprobe.HTTP1Request{Method: h.Method, Path: h.Path, Header: h.Header}
	}
	if path != "" {
		cfg.HTTP1.Path = path
	}
	res, err := tlsprobe.Probe(context.Background(), cfg)
	if err != nil {
		t.Fatalf("probing %s: %v", e.Name, err)
	}
	var out []datasets.ScopeEvidence
	for _, c := range res.Conns {
		r, err := transcript.Verify(c.Session, transcript.Options{
			ServerName: e.Hostname, Roots: roots, At: time.Now(),
			Nonce: &nonce, ConnIndex: c.Index, EchoBase: c.EchoBase,
		})
		if err != nil {
			t.Fatalf("%s conn %d does not verify: %v", e.Name, c.Index, err)
		}
		ev := datasets.ScopeEvidence{DNSNames: r.Chain[0].DNSNames}
		for _, x := range r.Echoes {
			if x.HTTP != nil {
				ev.Exchanges = append(ev.Exchanges, datasets.HTTPExchange{
					Host: x.HTTP.Host, Request: datasets.HTTP1Request{Method: x.HTTP.Method, Path: x.HTTP.Target},
					Status: x.HTTP.Status, Header: x.HTTP.Header, BodySHA256: x.HTTP.BodySHA256,
				})
			}
		}
		out = append(out, ev)
	}
	return out, res
}

// The region binding places an honest session with the region's own server
// and refuses a session that an attacker in r2 routed to r2's front end
// under r1's name: the certificate is valid for the name, the transcript
// verifies, only the token gives it away.
func TestBindingScopeWithRealSessions(t *testing.T) {
	l := startAttack(t)
	st := l.State
	tests := []struct {
		name      string
		entry     string
		vantage   string
		overrides map[string]string
		path      string // echo path instead of the entry's
		landsOn   string // the server the probe must reach
		basis     datasets.ScopeBasis
		err       error
	}{
		{"honest shared", "r1.store.lab.test", "v1", nil, "", "r1.store.lab.test", datasets.ScopeByBinding, nil},
		{"honest from afar", "r1.store.lab.test", "v2", nil, "", "r1.store.lab.test", datasets.ScopeByBinding, nil},
		{"honest route from 10 km", "r1.store.lab.test", "a10", nil, "", "r1.store.lab.test", datasets.ScopeByBinding, nil},
		{"attacker's own region", "r1.store.lab.test", "v2", map[string]string{"r1.store.lab.test": "r2.store.lab.test"}, "", "r2.store.lab.test", "", datasets.ErrOutOfScope},
		{"attacker 10 km away", "r2.store.lab.test", "a10", map[string]string{"r2.store.lab.test": "r1.store.lab.test"}, "", "r1.store.lab.test", "", datasets.ErrOutOfScope},
		{"no binding request", "r1.store.lab.test", "v1", nil, "/", "r1.store.lab.test", "", datasets.ErrNeedsRegionBinding},
		{"by certificate", "api.r1.lab.test", "v1", nil, "", "api.r1.lab.test", datasets.ScopeByCertificate, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEntry(t, st, tc.entry)
			v := mustVantage(t, st, tc.vantage)
			evs, res := probeScope(t, st, e, v.DialerWith(tc.overrides), tc.path, 3)
			if e.Echo.EchoesPerConn == 2 && len(evs) != 2 {
				t.Errorf("3 echoes at 2 per connection gave %d sessions", len(evs))
			}
			want, err := st.Route(tc.vantage, tc.landsOn)
			if err != nil {
				t.Fatal(err)
			}
			for i, ev := range evs {
				if got := res.Conns[i].Address; got != want {
					t.Errorf("conn %d went to %s, want %s's relay %s", i, got, tc.landsOn, want)
				}
				r, err := e.ScopeCheck(ev)
				if !errors.Is(err, tc.err) || (tc.err == nil && r.Basis != tc.basis) {
					t.Errorf("conn %d: ScopeCheck = %+v, %v; want basis %q, err %v", i, r, err, tc.basis, tc.err)
				}
			}
		})
	}
}

// Edge entries are in the catalog as edge, without scope, and are refused
// whatever the session shows; their routes take the nearest site's delay.
func TestEdgeEndpoints(t *testing.T) {
	l := startAttack(t)
	st := l.State
	tests := []struct {
		host, region string
		sites        []string
	}{
		{"cdn.lab.test", GlobalRegion, []string{"r1", "r2"}},
		{"cdn.r3.lab.test", "r3", []string{"r1", "r2", "r3"}},
	}
	for _, tc := range tests {
		e := mustEntry(t, st, tc.host)
		if e.Termination != datasets.TerminationEdge || e.Scope != nil || e.Region != tc.region {
			t.Errorf("%s: termination %q, scope %+v, region %q", tc.host, e.Termination, e.Scope, e.Region)
		}
		if _, err := e.ScopeCheck(datasets.ScopeEvidence{DNSNames: []string{tc.host}}); !errors.Is(err, datasets.ErrEdge) {
			t.Errorf("%s: ScopeCheck = %v, want ErrEdge", tc.host, err)
		}
		for _, v := range l.World.Vantages {
			d := mustVantage(t, st, v.Name).Delays[tc.host]
			best := math.Inf(1)
			for _, s := range tc.sites {
				best = min(best, l.World.RouteKm(v, s))
			}
			if d.RouteKm != best || l.World.RouteKm(v, d.Site) != best || !slices.Contains(tc.sites, d.Site) {
				t.Errorf("%s from %s: %v km via %s, want %v km to the nearest site", tc.host, v.Name, d.RouteKm, d.Site, best)
			}
		}
	}
	if d := mustVantage(t, st, "v3").Delays["cdn.lab.test"]; d.Site != "r1" {
		t.Errorf("from r3 the nearest of r1, r2 is r1; the route goes to %s", d.Site)
	}
	// An edge answers probes like any server: it is the catalog, not the
	// session, that disqualifies it.
	if _, res := probeScope(t, st, mustEntry(t, st, "cdn.lab.test"), mustVantage(t, st, "v3").Dialer(), "", 2); len(res.Echoes) != 2 {
		t.Errorf("edge probe gave %d echoes", len(res.Echoes))
	}
}

// DialerWith lands a dial of one name on another host's server, through the
// vantage's relay for that host.
func TestAttackerRouting(t *testing.T) {
	l := startAttack(t)
	st := l.State
	v := mustVantage(t, st, "v2")
	over := map[string]string{"api.r1.lab.test": "r2.store.lab.test", "nowhere.lab.test": "missing.lab.test"}
	dial := v.DialerWith(over)
	over["api.r1.lab.test"] = "cdn.lab.test" // the dialer keeps its own copy

	// api.r1's name, r2.store's server (which is valid for no api name:
	// check the landing by the body, over a handshake for the shared name).
	c, err := dial(context.Background(), "tcp", "api.r1.lab.test:443")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != v.Routes["r2.store.lab.test"] {
		t.Errorf("dial of api.r1.lab.test reached %s, want r2.store's relay %s", c.RemoteAddr(), v.Routes["r2.store.lab.test"])
	}
	_, body := get(t, st, v.DialerWith(map[string]string{"r1.store.lab.test": "r2.store.lab.test"}), "r1.store.lab.test", "/")
	if string(body) != "poc lab endpoint r2.store.lab.test\n" {
		t.Errorf("r1.store.lab.test routed to r2's server answered %q", body)
	}
	tests := map[string]string{
		"override to a host outside the lab": "nowhere.lab.test:443",
		"no override, not a lab host":        "example.com:443",
	}
	for name, addr := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := dial(context.Background(), "tcp", addr); !errors.Is(err, ErrUnknownHost) {
				t.Fatalf("err = %v, want ErrUnknownHost", err)
			}
		})
	}
	if _, err := st.Route("v2", "nowhere.lab.test"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("Route to an unknown host: %v", err)
	}
	if _, err := st.Route("moon", "api.r1.lab.test"); !errors.Is(err, ErrUnknownVantage) {
		t.Errorf("Route from an unknown vantage: %v", err)
	}
}

// An attacker's prover that ignores names would accept the server with
// another domain's certificate. The production probe does not: it fails
// the handshake. The attacker can still get a verified session by probing
// the name the certificate carries, routed to that server, and claim it for
// an endpoint of the catalog: the transcript checker and the scope check
// both refuse it.
func TestAnotherDomainCertificate(t *testing.T) {
	l := startAttack(t)
	st := l.State
	if _, ok := st.Catalog.Lookup("evil.r2.lab.test"); ok {
		t.Error("an unlisted server is in the catalog")
	}
	if _, ok := st.Direct["evil.r2.lab.test"]; !ok {
		t.Error("an unlisted server is not served")
	}
	roots, _ := st.Roots()
	v := mustVantage(t, st, "v2")
	_, err := tlsprobe.Probe(context.Background(), tlsprobe.Config{
		Endpoint: "evil.r2.lab.test:443", Echoes: 1, Roots: roots, Dial: v.Dialer(), Timeout: 10 * time.Second,
	})
	if !errors.Is(err, tlsprobe.ErrHandshake) {
		t.Fatalf("probing a server whose certificate names another domain: %v, want ErrHandshake", err)
	}

	var nonce [32]byte
	res, err := tlsprobe.Probe(context.Background(), tlsprobe.Config{
		Endpoint: "other.example.lab.test:443", Nonce: nonce, Echoes: 2, Roots: roots, Timeout: 10 * time.Second,
		Dial: v.DialerWith(map[string]string{"other.example.lab.test": "evil.r2.lab.test"}),
	})
	if err != nil {
		t.Fatalf("probing the certificate's own name: %v", err)
	}
	c := res.Conns[0]
	claim := mustEntry(t, st, "api.r1.lab.test")
	_, err = transcript.Verify(c.Session, transcript.Options{
		ServerName: claim.Hostname, Roots: roots, At: time.Now(), Nonce: &nonce, ConnIndex: c.Index, EchoBase: c.EchoBase,
	})
	if !errors.Is(err, transcript.ErrServerName) {
		t.Errorf("the session claimed for %s: %v, want ErrServerName", claim.Hostname, err)
	}
	if _, err := claim.ScopeCheck(datasets.ScopeEvidence{DNSNames: c.Chain[0].DNSNames}); !errors.Is(err, datasets.ErrOutOfScope) {
		t.Errorf("ScopeCheck of %q for %s: %v, want ErrOutOfScope", c.Chain[0].DNSNames, claim.Name, err)
	}
}

func TestReadWorldRejectsAttackOptions(t *testing.T) {
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(attackWorld), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	ep := func(m map[string]any, i int) map[string]any { return m["endpoints"].([]any)[i].(map[string]any) }
	vt := func(m map[string]any, i int) map[string]any { return m["vantages"].([]any)[i].(map[string]any) }
	const store, cdn, cdnR3, evil = 1, 3, 4, 5
	tests := map[string]string{
		"unknown endpoint option":   mutate(func(m map[string]any) { ep(m, 0)["sharedcert"] = true }),
		"unknown termination":       mutate(func(m map[string]any) { ep(m, cdn)["termination"] = "anycast" }),
		"shared cert over h2":       mutate(func(m map[string]any) { ep(m, store)["protocol"] = "h2" }),
		"shared cert on an edge":    mutate(func(m map[string]any) { ep(m, cdnR3)["shared_cert"] = true }),
		"cert names on a binding":   mutate(func(m map[string]any) { ep(m, store)["cert_names"] = []any{"x.lab.test"} }),
		"shared in one region only": mutate(func(m map[string]any) { delete(ep(m, store), "shared_cert") }),
		"regional without region":   mutate(func(m map[string]any) { delete(ep(m, 0), "region") }),
		"sites on a regional":       mutate(func(m map[string]any) { ep(m, 0)["sites"] = []any{"r1"} }),
		"unknown site":              mutate(func(m map[string]any) { ep(m, cdn)["sites"] = []any{"r9"} }),
		"site twice":                mutate(func(m map[string]any) { ep(m, cdn)["sites"] = []any{"r1", "r1"} }),
		"edge in unknown region":    mutate(func(m map[string]any) { ep(m, cdnR3)["region"] = "r9" }),
		"cert name outside the lab": mutate(func(m map[string]any) { ep(m, evil)["cert_names"] = []any{"www.example.com"} }),
		"cert name upper case":      mutate(func(m map[string]any) { ep(m, evil)["cert_names"] = []any{"Other.lab.test"} }),
		"inner wildcard":            mutate(func(m map[string]any) { ep(m, evil)["cert_names"] = []any{"a.*.lab.test"} }),
		"cert name twice":           mutate(func(m map[string]any) { ep(m, evil)["cert_names"] = []any{"a.lab.test", "a.lab.test"} }),
		"wildcard covers a host": mutate(func(m map[string]any) {
			m["regions"] = append(m["regions"].([]any), map[string]any{"name": "store", "lat": 1, "lon": 1})
			m["endpoints"] = append(m["endpoints"].([]any), map[string]any{"service": "api", "region": "store", "protocol": "h2"})
		}),
		"host twice": mutate(func(m map[string]any) {
			m["endpoints"] = append(m["endpoints"].([]any), map[string]any{"service": "cdn", "protocol": "http1", "termination": "edge"})
		}),
		"global region and a regionless edge": mutate(func(m map[string]any) {
			m["regions"] = append(m["regions"].([]any), map[string]any{"name": "global", "lat": 1, "lon": 1})
		}),
		"edge without regions": `{"version":1,"name":"x","regions":[],"endpoints":[{"service":"cdn","protocol":"h2","termination":"edge"}],"vantages":[{"name":"v","lat":1,"lon":1}]}`,
		"offset and region":    mutate(func(m map[string]any) { vt(m, 3)["region"] = "r1" }),
		"offset and coords":    mutate(func(m map[string]any) { vt(m, 3)["lat"] = 10 }),
		"offset unknown from":  mutate(func(m map[string]any) { vt(m, 3)["offset"].(map[string]any)["from"] = "r9" }),
		"offset negative km":   mutate(func(m map[string]any) { vt(m, 3)["offset"].(map[string]any)["km"] = -1 }),
		"offset too far":       mutate(func(m map[string]any) { vt(m, 3)["offset"].(map[string]any)["km"] = 20001 }),
		"bearing 360":          mutate(func(m map[string]any) { vt(m, 3)["offset"].(map[string]any)["bearing"] = 360 }),
		"offset unknown field": mutate(func(m map[string]any) { vt(m, 3)["offset"].(map[string]any)["miles"] = 1 }),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadWorld(strings.NewReader(doc))
			if !errors.Is(err, ErrWorld) {
				t.Fatalf("err = %v, want ErrWorld", err)
			}
			t.Log(err)
		})
	}
}

// The demo world: real Azure coordinates, attacker vantages at their
// nominal distances, a catalog with six usable regional entries and one
// edge, and a lab that starts and stops without leaving goroutines.
func TestDemoWorld(t *testing.T) {
	before := runtime.NumGoroutine()
	w, err := DemoWorld()
	if err != nil {
		t.Fatal(err)
	}
	az, err := datasets.LoadAzureLatency()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range w.Regions {
		a, ok := az.Region(r.Name)
		if !ok || a.Lat != r.Lat || a.Lon != r.Lon {
			t.Errorf("region %s at %v,%v; the Azure dataset has %+v", r.Name, r.Lat, r.Lon, a)
		}
	}
	attackers := map[string]float64{"attacker-1km": 1, "attacker-10km": 10, "attacker-50km": 50, "attacker-100km": 100, "attacker-500km": 500}
	for name, km := range attackers {
		v, ok := w.Vantage(name)
		if !ok {
			t.Fatalf("no vantage %s", name)
		}
		if d := w.DistanceKm(v, "westeurope"); math.Abs(d-km) > 1e-6*km+1e-9 {
			t.Errorf("%s is %v km from westeurope", name, d)
		}
	}
	l, err := Start(w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	regional, edge := 0, 0
	for _, e := range l.State.Catalog.Endpoints {
		switch err := e.Usable(); {
		case err == nil:
			regional++
		case errors.Is(err, datasets.ErrEdge):
			edge++
		default:
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	if regional != 6 || edge != 1 {
		t.Errorf("%d usable regional entries and %d edges, want 6 and 1", regional, edge)
	}
	if err := l.State.Catalog.Ready(); err != nil {
		t.Errorf("the demo catalog is not ready: %v", err)
	}
	if _, ok := l.State.Catalog.Lookup("mallory.westeurope.lab.test"); ok {
		t.Error("the attacker's unlisted server is in the catalog")
	}
	for _, v := range l.State.Vantages {
		if len(v.Routes) != len(w.Endpoints) {
			t.Errorf("vantage %s has %d routes for %d endpoints", v.Name, len(v.Routes), len(w.Endpoints))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before Start", n, before)
	}
}

func TestDestination(t *testing.T) {
	tests := []struct{ lat, lon, bearing, km float64 }{
		{52.3676, 4.9041, 135, 1},
		{52.3676, 4.9041, 135, 500},
		{0, 179.9, 90, 100}, // across the antimeridian
		{89.9, 0, 0, 50},    // over the pole
		{-33.87, 151.21, 270, 12000},
		{10, 20, 45, 0},
	}
	for _, tc := range tests {
		lat, lon := Destination(tc.lat, tc.lon, tc.bearing, tc.km)
		if !validCoords(lat, lon) {
			t.Errorf("%+v: destination %v,%v out of range", tc, lat, lon)
		}
		if d := datasets.GreatCircleKm(tc.lat, tc.lon, lat, lon); math.Abs(d-tc.km) > 1e-6*tc.km+1e-6 {
			t.Errorf("%+v: destination %v km away", tc, d)
		}
	}
	// Due east along the equator: the longitude grows by km/R radians.
	if lat, lon := Destination(0, 0, 90, 111.195); math.Abs(lat) > 1e-9 || math.Abs(lon-1) > 1e-4 {
		t.Errorf("111 km east of 0,0 is %v,%v", lat, lon)
	}
}
