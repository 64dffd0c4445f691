package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodCatalog = `{"version": 2, "name": "t", "endpoints": [
 {"name": "s3.eu-west-1", "provider": "aws", "region": "eu-west-1", "lat": 53.3, "lon": -6.3,
  "hostname": "s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional",
  "echo": {"method": "http1", "http1": {"method": "HEAD", "path": "/bucket/object"}, "echoes_per_conn": 100, "min_spacing": "10ms"},
  "scope": {"names": ["s3.eu-west-1.amazonaws.com", "*.s3.eu-west-1.amazonaws.com"]}}
]}`

// goodCatalogV1 is a catalog as version 1 wrote it: no scope.
const goodCatalogV1 = `{"version": 1, "name": "t", "endpoints": [
 {"name": "s3.eu-west-1", "provider": "aws", "region": "eu-west-1", "lat": 53.3, "lon": -6.3,
  "hostname": "s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional",
  "echo": {"method": "http1", "http1": {"method": "HEAD", "path": "/bucket/object"}, "echoes_per_conn": 100, "min_spacing": "10ms"}}
]}`

// templateCatalog holds an Azure storage entry whose account and token hash
// a deployer fills in, an edge entry, and a ready entry of another region.
const templateCatalog = `{"version": 2, "name": "t",
 "placeholders": {"acct": "storage account in westeurope", "sha": "SHA-256 of poc/token"},
 "endpoints": [
 {"name": "azure-blob.westeurope", "provider": "azure", "region": "westeurope", "lat": 52.37, "lon": 4.9,
  "hostname": "{{acct}}.blob.core.windows.net", "port": 443, "termination": "regional",
  "echo": {"method": "http1", "http1": {"path": "/poc/token"}},
  "scope": {"binding": {"request": {"method": "GET", "path": "/poc/token"}, "status": 200, "body_sha256": "{{sha}}"}}},
 {"name": "management.azure.com", "provider": "azure", "region": "global", "lat": 0, "lon": 0,
  "hostname": "management.azure.com", "port": 443, "termination": "edge", "echo": {"method": "auto"}},
 {"name": "s3.eu-west-1", "provider": "aws", "region": "eu-west-1", "lat": 53.3, "lon": -6.3,
  "hostname": "s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional",
  "echo": {"method": "http1"}, "scope": {"names": ["s3.eu-west-1.amazonaws.com"]}}
]}`

// appendEntry adds an endpoint (JSON) at the end of a catalog document.
func appendEntry(doc, entry string) string {
	i := strings.LastIndex(doc, "\n]}")
	return doc[:i] + ",\n" + entry + doc[i:]
}

const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestReadCatalog(t *testing.T) {
	c, err := ReadCatalog(strings.NewReader(goodCatalog))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := c.Lookup("s3.eu-west-1.amazonaws.com:443")
	if !ok || e.Echo.HTTP1.Path != "/bucket/object" || time.Duration(e.Echo.MinSpacing) != 10*time.Millisecond {
		t.Fatalf("lookup: %+v %v", e, ok)
	}
	if _, ok := c.Lookup("nowhere"); ok {
		t.Fatal("lookup of an unknown name succeeded")
	}
	if err := c.Ready(); err != nil {
		t.Fatalf("a catalog without templates is ready: %v", err)
	}
	// Round trip: what is written reads back the same.
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ReadCatalog(bytes.NewReader(b))
	if err != nil || c2.Endpoints[0].Echo.MinSpacing != c.Endpoints[0].Echo.MinSpacing || len(c2.Endpoints[0].Scope.Names) != 2 {
		t.Fatalf("round trip: %v", err)
	}
}

// A version 1 catalog still reads; its unscoped regional entry is refused as
// evidence, not as a catalog.
func TestReadCatalogV1(t *testing.T) {
	c, err := ReadCatalog(strings.NewReader(goodCatalogV1))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Endpoints[0]
	if err := e.Usable(); !errors.Is(err, ErrUnscoped) || !errors.Is(err, ErrNotEvidence) {
		t.Fatalf("Usable = %v, want ErrUnscoped", err)
	}
	if _, err := e.ScopeCheck(ScopeEvidence{DNSNames: []string{"s3.eu-west-1.amazonaws.com"}}); !errors.Is(err, ErrUnscoped) {
		t.Fatalf("ScopeCheck = %v, want ErrUnscoped", err)
	}
	if err := c.Ready(); !errors.Is(err, ErrUnscoped) {
		t.Fatalf("Ready = %v, want ErrUnscoped", err)
	}
	var se *ScopeError
	if err := e.Usable(); !errors.As(err, &se) || se.Endpoint != "s3.eu-west-1" || se.Region != "eu-west-1" {
		t.Fatalf("Usable error %#v", err)
	}
}

func TestReadCatalogRejects(t *testing.T) {
	edit := func(doc, old, new string) string {
		t.Helper()
		if !strings.Contains(doc, old) {
			t.Fatalf("test edit: %q not in the document", old)
		}
		return strings.Replace(doc, old, new, 1)
	}
	g := func(old, new string) string { return edit(goodCatalog, old, new) }
	scope := func(s string) string {
		return g(`"scope": {"names": ["s3.eu-west-1.amazonaws.com", "*.s3.eu-west-1.amazonaws.com"]}`, `"scope": `+s)
	}
	names := func(ns ...string) string {
		b, _ := json.Marshal(ns)
		return scope(`{"names": ` + string(b) + `}`)
	}
	binding := func(b string) string { return scope(`{"binding": ` + b + `}`) }
	tp := func(old, new string) string { return edit(templateCatalog, old, new) }
	tests := map[string]string{
		// Schema.
		"version":          g(`"version": 2`, `"version": 3`),
		"version 0":        g(`"version": 2`, `"version": 0`),
		"unknown field":    g(`"name": "t"`, `"name": "t", "x": 1`),
		"termination":      g(`"regional"`, `"anycast"`),
		"method":           g(`"method": "http1"`, `"method": "udp"`),
		"port":             g(`"port": 443`, `"port": 0`),
		"latitude":         g(`"lat": 53.3`, `"lat": 95`),
		"no provider":      g(`"provider": "aws"`, `"provider": ""`),
		"provider case":    g(`"provider": "aws"`, `"provider": "AWS"`),
		"region spaces":    g(`"region": "eu-west-1"`, `"region": "eu west 1"`),
		"hostname":         g(`"hostname": "s3.eu-west-1.amazonaws.com"`, `"hostname": "a/b"`),
		"hostname case":    g(`"hostname": "s3.eu-west-1.amazonaws.com"`, `"hostname": "S3.eu-west-1.amazonaws.com"`),
		"wildcard host":    g(`"hostname": "s3.eu-west-1.amazonaws.com"`, `"hostname": "*.s3.eu-west-1.amazonaws.com"`),
		"bare duration":    g(`"min_spacing": "10ms"`, `"min_spacing": 10`),
		"bad duration":     g(`"min_spacing": "10ms"`, `"min_spacing": "soon"`),
		"negative spacing": g(`"min_spacing": "10ms"`, `"min_spacing": "-1s"`),
		"echo path":        g(`"path": "/bucket/object"`, `"path": "/a b"`),
		"echo path CRLF":   g(`"path": "/bucket/object"`, `"path": "/a\r\nX: y"`),
		"echo header":      g(`"method": "HEAD",`, `"method": "HEAD", "header": {"X-A": ["1\r\nX-B: 2"]},`),
		"echo method":      g(`"method": "HEAD"`, `"method": "he ad"`),
		"trailing data":    goodCatalog + `{}`,
		"oversized":        `{"name":"` + strings.Repeat("x", MaxCatalogBytes) + `"}`,
		"duplicate":        appendEntry(goodCatalog, goodCatalog[strings.Index(goodCatalog, `{"name": "s3`):strings.LastIndex(goodCatalog, "\n]}")]),

		// Scope.
		"regional without scope": scope(`null`),
		"empty scope":            scope(`{}`),
		"edge with scope":        g(`"regional"`, `"edge"`),
		"wildcard mid-name":      names("s3.eu-west-1.amazonaws.com", "s3.*.eu-west-1.amazonaws.com"),
		"partial wildcard":       names("s3.eu-west-1.amazonaws.com", "s3*.eu-west-1.amazonaws.com"),
		"bare wildcard":          names("s3.eu-west-1.amazonaws.com", "*"),
		"wildcard over a TLD":    names("s3.eu-west-1.amazonaws.com", "*.com"),
		"double wildcard":        names("s3.eu-west-1.amazonaws.com", "*.*.eu-west-1.amazonaws.com"),
		"wildcard of no region":  names("s3.eu-west-1.amazonaws.com", "*.amazonaws.com"),
		"shared legacy wildcard": names("s3.eu-west-1.amazonaws.com", "*.s3.amazonaws.com"),
		"other region's token":   names("s3.eu-west-1.amazonaws.com", "s3.eu-west-10.amazonaws.com"),
		"name twice":             names("s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"),
		"upper-case name":        names("S3.eu-west-1.amazonaws.com"),
		"hostname outside scope": names("*.s3.eu-west-1.amazonaws.com"),
		"binding POST":           binding(`{"request": {"method": "POST", "path": "/x"}, "status": 200}`),
		"binding no path":        binding(`{"request": {"method": "GET"}, "status": 200}`),
		"binding status":         binding(`{"request": {"path": "/x"}, "status": 0}`),
		"binding hash":           binding(`{"request": {"path": "/x"}, "status": 200, "body_sha256": "ABC"}`),
		"binding upper hash":     binding(`{"request": {"path": "/x"}, "status": 200, "body_sha256": "` + strings.ToUpper(sha) + `"}`),
		"HEAD with body hash":    binding(`{"request": {"method": "HEAD", "path": "/x"}, "status": 200, "body_sha256": "` + sha + `"}`),
		"binding header name":    binding(`{"request": {"path": "/x"}, "status": 200, "header": {"Bad Name": ["v"]}}`),

		// Templates.
		"undeclared placeholder": tp(`"acct": "storage account in westeurope", `, ``),
		"unused placeholder":     tp(`"placeholders": {`, `"placeholders": {"spare": "nothing", `),
		"empty description":      tp(`"storage account in westeurope"`, `" "`),
		"bad placeholder name":   tp(`"placeholders": {`, `"placeholders": {"Bad-Name": "x", `),
		"malformed placeholder":  tp(`{{acct}}.blob`, `{{acct}.blob`),
		"placeholder in name":    tp(`"name": "azure-blob.westeurope"`, `"name": "azure-blob.{{acct}}"`),
		"partial hash template":  tp(`"body_sha256": "{{sha}}"`, `"body_sha256": "ab{{sha}}"`),

		// Catalog-wide.
		"scope overlap": appendEntry(goodCatalog, `{"name": "other", "provider": "aws", "region": "us-east-1",
  "hostname": "us-east-1.s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional", "echo": {"method": "http1"},
  "scope": {"names": ["us-east-1.s3.eu-west-1.amazonaws.com"]}}`),
		"host of two regions": appendEntry(templateCatalog, `{"name": "s3-bis", "provider": "aws", "region": "us-east-1",
  "hostname": "s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional", "echo": {"method": "http1"},
  "scope": {"binding": {"request": {"path": "/x"}, "status": 200}}}`),
	}
	// A scope name whose region comes only from a placeholder's value.
	tests["region from template"] = strings.Replace(tp(`"placeholders": {`, `"placeholders": {"r": "region", `),
		`"scope": {"names": ["s3.eu-west-1.amazonaws.com"]}`, `"scope": {"names": ["s3.eu-west-1.amazonaws.com", "*.{{r}}.amazonaws.com"]}`, 1)
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadCatalog(strings.NewReader(doc))
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("err = %v, want ErrCatalog", err)
			}
			t.Log(err)
		})
	}
	// The base documents themselves read.
	for _, doc := range []string{goodCatalog, goodCatalogV1, templateCatalog} {
		if _, err := ReadCatalog(strings.NewReader(doc)); err != nil {
			t.Fatal(err)
		}
	}
}

// Scope names that are fine: region tokens between dots or hyphens, and
// region-specific wildcards.
func TestScopeNamesAccepted(t *testing.T) {
	for _, n := range []string{
		"s3.dualstack.eu-west-1.amazonaws.com",
		"s3-eu-west-1.amazonaws.com",
		"*.s3-eu-west-1.amazonaws.com",
		"*.eu-west-1.amazonaws.com",
		"eu-west-1-s3.example",
	} {
		doc := strings.Replace(goodCatalog, `"*.s3.eu-west-1.amazonaws.com"]`, `"*.s3.eu-west-1.amazonaws.com", "`+n+`"]`, 1)
		if _, err := ReadCatalog(strings.NewReader(doc)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// Decoding errors say where they stopped.
func TestReadCatalogPosition(t *testing.T) {
	_, err := ReadCatalog(strings.NewReader("{\n \"version\": 2,\n \"endpoints\": [x]}"))
	if !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), "line 3, column") {
		t.Fatalf("err = %v, want a position on line 3", err)
	}
}

// The validation table of templates: an unfilled template validates, is not
// usable, and Ready names it; filling makes it usable.
func TestTemplates(t *testing.T) {
	c, err := ReadCatalog(strings.NewReader(templateCatalog))
	if err != nil {
		t.Fatal(err)
	}
	blob := c.Endpoints[0]
	if got := blob.Placeholders(); len(got) != 2 || got[0] != "acct" || got[1] != "sha" {
		t.Fatalf("placeholders %v", got)
	}
	if err := blob.Usable(); !errors.Is(err, ErrUnfilled) || !errors.Is(err, ErrNotEvidence) {
		t.Fatalf("Usable = %v, want ErrUnfilled", err)
	}
	if _, err := blob.ScopeCheck(ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}}); !errors.Is(err, ErrUnfilled) {
		t.Fatalf("ScopeCheck of a template = %v, want ErrUnfilled", err)
	}
	err = c.Ready()
	if !errors.Is(err, ErrUnfilled) {
		t.Fatalf("Ready = %v, want ErrUnfilled", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "azure-blob.westeurope") || !strings.Contains(msg, "{{acct}}") || strings.Contains(msg, "management.azure.com") {
		t.Errorf("Ready must name the unfilled entry and its placeholders, not the edge entry: %v", err)
	}
	if err := c.Endpoints[1].Usable(); !errors.Is(err, ErrEdge) {
		t.Fatalf("edge entry: Usable = %v, want ErrEdge", err)
	}

	// Filling in steps.
	half, err := c.Fill(map[string]string{"acct": "pocwesteurope"})
	if err != nil {
		t.Fatal(err)
	}
	if err := half.Ready(); !errors.Is(err, ErrUnfilled) || !strings.Contains(err.Error(), "{{sha}}") {
		t.Fatalf("half-filled: Ready = %v", err)
	}
	if c.Endpoints[0].Hostname != "{{acct}}.blob.core.windows.net" {
		t.Fatal("Fill modified its receiver")
	}
	full, err := half.Fill(map[string]string{"sha": sha})
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Ready(); err != nil {
		t.Fatalf("filled: Ready = %v", err)
	}
	if full.Placeholders != nil || full.Endpoints[0].Hostname != "pocwesteurope.blob.core.windows.net" || full.Endpoints[0].Scope.Binding.BodySHA256 != sha {
		t.Fatalf("filled catalog %+v", full.Endpoints[0])
	}
	// A filled catalog is an ordinary one: it writes and reads back.
	b, _ := json.Marshal(full)
	if _, err := ReadCatalog(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}

	bad := map[string]map[string]string{
		"unknown placeholder": {"nope": "x"},
		"space":               {"acct": "a b"},
		"brace":               {"acct": "{{sha}}"},
		"quote":               {"acct": `a"b`},
		"empty":               {"acct": ""},
		"long":                {"acct": strings.Repeat("a", 600)},
		"invalid hostname":    {"acct": "Upper_Case"},
		"invalid hash":        {"sha": "xyz"},
	}
	for name, vals := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Fill(vals); !errors.Is(err, ErrCatalog) {
				t.Fatalf("Fill = %v, want ErrCatalog", err)
			}
		})
	}
}

func TestReadPlaceholderValues(t *testing.T) {
	v, err := ReadPlaceholderValues([]byte(`{"acct": "pocwesteurope", "sha": "` + sha + `"}`))
	if err != nil || v["acct"] != "pocwesteurope" || len(v) != 2 {
		t.Fatalf("%v %v", v, err)
	}
	for _, doc := range []string{
		``, `[]`, `{"acct": 1}`, `{"acct": null}`, `{"acct": ""}`, `{"acct": "a", "acct": "b"}`, `{"Bad": "x"}`, `{"a": "b"} {}`, `{"a": "b"} x`, `{"a": "b"`,
	} {
		if _, err := ReadPlaceholderValues([]byte(doc)); !errors.Is(err, ErrCatalog) {
			t.Errorf("%q: err = %v, want ErrCatalog", doc, err)
		}
	}
}

func FuzzReadCatalog(f *testing.F) {
	f.Add([]byte(goodCatalog))
	f.Add([]byte(goodCatalogV1))
	f.Add([]byte(templateCatalog))
	f.Add(CloudCatalogJSON)
	f.Add(LabCatalogJSON)
	f.Add([]byte(`{"version":2,"endpoints":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadCatalog(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("error %v does not wrap ErrCatalog", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("a catalog that reads must validate: %v", err)
		}
		// Filling nothing changes nothing that matters.
		same, err := c.Fill(nil)
		if err != nil {
			t.Fatalf("Fill(nil) of a valid catalog: %v", err)
		}
		if (c.Ready() == nil) != (same.Ready() == nil) {
			t.Fatal("Fill(nil) changed readiness")
		}
		// Every entry can be asked about any session without a panic, and
		// only usable entries can be in scope.
		for _, e := range c.Endpoints {
			r, err := e.ScopeCheck(ScopeEvidence{DNSNames: []string{e.Hostname, "*.example.com"}})
			if err == nil && e.Usable() != nil {
				t.Fatalf("%s: unusable entry in scope (%+v)", e.Name, r)
			}
		}
	})
}

func FuzzReadPlaceholderValues(f *testing.F) {
	f.Add([]byte(`{"acct": "pocwesteurope"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ReadPlaceholderValues(b)
		if err != nil {
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("error %v does not wrap ErrCatalog", err)
			}
			return
		}
		for k := range v {
			if !placeholderName.MatchString(k) {
				t.Fatalf("name %q read", k)
			}
		}
	})
}
