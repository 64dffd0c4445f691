package datasets

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// scopeEntries are the entries the ScopeCheck table asks about.
func scopeEntries(t testing.TB) map[string]Endpoint {
	t.Helper()
	m, err := buildScopeEntries()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func buildScopeEntries() (map[string]Endpoint, error) {
	doc := appendEntry(templateCatalog, `{"name": "s3-bound.eu-west-1", "provider": "aws", "region": "eu-west-1", "lat": 53.3, "lon": -6.3,
  "hostname": "poc-bucket.s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional", "echo": {"method": "http1"},
  "scope": {"names": ["*.s3.eu-west-1.amazonaws.com"],
    "binding": {"request": {"method": "HEAD", "path": "/", "header": {"x-poc": ["1"]}}, "status": 200, "header": {"X-Amz-Bucket-Region": ["eu-west-1"]}}}}`)
	c, err := ReadCatalog(strings.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c, err = c.Fill(map[string]string{"acct": "pocwesteurope", "sha": sha})
	if err != nil {
		return nil, err
	}
	m := map[string]Endpoint{}
	for _, e := range c.Endpoints {
		m[e.Name] = e
	}
	return m, nil
}

func TestScopeCheck(t *testing.T) {
	entries := scopeEntries(t)
	const blobHost = "pocwesteurope.blob.core.windows.net"
	read := func(status int, body string, mod ...func(*HTTPExchange)) HTTPExchange {
		x := HTTPExchange{Host: blobHost, Request: HTTP1Request{Method: "GET", Path: "/poc/token", Header: http.Header{"X-Poc-Echo": {"tok"}}}, Status: status, BodySHA256: body}
		for _, f := range mod {
			f(&x)
		}
		return x
	}
	headBucket := func(region string) HTTPExchange {
		return HTTPExchange{Host: "poc-bucket.s3.eu-west-1.amazonaws.com", Request: HTTP1Request{Method: "HEAD", Path: "/", Header: http.Header{"X-Poc": {"1"}}},
			Status: 200, Header: http.Header{"x-amz-bucket-region": {region}}}
	}
	s3Region := []string{"s3.eu-west-1.amazonaws.com", "*.s3.eu-west-1.amazonaws.com", "s3.dualstack.eu-west-1.amazonaws.com"}
	tests := []struct {
		name  string
		entry string
		ev    ScopeEvidence
		basis ScopeBasis // when the session is in scope
		err   error      // when it is not
	}{
		// By certificate.
		{"region-only leaf", "s3.eu-west-1", ScopeEvidence{DNSNames: s3Region[:1]}, ScopeByCertificate, nil},
		{"case and trailing dot", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"S3.EU-WEST-1.amazonaws.com."}}, ScopeByCertificate, nil},
		{"leaf names more than the scope", "s3.eu-west-1", ScopeEvidence{DNSNames: s3Region}, "", ErrNeedsRegionBinding},
		{"shared legacy wildcard", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"s3.eu-west-1.amazonaws.com", "*.s3.amazonaws.com"}}, "", ErrNeedsRegionBinding},
		{"multi-region leaf", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"s3.eu-west-1.amazonaws.com", "s3.us-east-1.amazonaws.com"}}, "", ErrNeedsRegionBinding},
		{"another region's leaf", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"s3.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com"}}, "", ErrOutOfScope},
		{"another domain", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"example.com", "*.example.com"}}, "", ErrOutOfScope},
		{"wildcard does not cover the bare name", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"*.s3.eu-west-1.amazonaws.com"}}, "", ErrOutOfScope},
		{"wildcard covers one label only", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"*.amazonaws.com"}}, "", ErrOutOfScope},
		{"broader region wildcard", "s3.eu-west-1", ScopeEvidence{DNSNames: []string{"*.eu-west-1.amazonaws.com"}}, "", ErrNeedsRegionBinding},
		{"no names", "s3.eu-west-1", ScopeEvidence{}, "", ErrOutOfScope},
		{"edge entry", "management.azure.com", ScopeEvidence{DNSNames: []string{"management.azure.com"}}, "", ErrEdge},

		// By binding: a shared certificate.
		{"shared wildcard without binding", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}}, "", ErrNeedsRegionBinding},
		{"binding read", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{read(200, sha)}}, ScopeByBinding, nil},
		{"binding with port and upper-case hash", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"},
			Exchanges: []HTTPExchange{read(200, strings.ToUpper(sha), func(x *HTTPExchange) { x.Host = blobHost + ":443"; x.Request.Method = "" })}}, ScopeByBinding, nil},
		{"leaf names the account exactly", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{blobHost}}, "", ErrNeedsRegionBinding},
		{"blob missing there", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{read(404, sha)}}, "", ErrOutOfScope},
		{"other content", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{read(200, strings.Repeat("0", 64))}}, "", ErrOutOfScope},
		{"body not hashed", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{read(200, "")}}, "", ErrNeedsRegionBinding},
		{"another account", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"},
			Exchanges: []HTTPExchange{read(200, sha, func(x *HTTPExchange) { x.Host = "attacker.blob.core.windows.net" })}}, "", ErrNeedsRegionBinding},
		{"another path", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"},
			Exchanges: []HTTPExchange{read(200, sha, func(x *HTTPExchange) { x.Request.Path = "/poc/other" })}}, "", ErrNeedsRegionBinding},
		{"another method", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"},
			Exchanges: []HTTPExchange{read(200, sha, func(x *HTTPExchange) { x.Request.Method = "HEAD" })}}, "", ErrNeedsRegionBinding},
		{"throttled, then read", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{read(503, ""), read(503, sha), read(200, sha)}}, ScopeByBinding, nil},
		{"only throttled", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{read(503, sha), read(503, sha)}}, "", ErrOutOfScope},
		{"foreign leaf with a good read", "azure-blob.westeurope", ScopeEvidence{DNSNames: []string{"*.example.net"}, Exchanges: []HTTPExchange{read(200, sha)}}, "", ErrOutOfScope},

		// Certificate and binding together.
		{"region-only leaf, no binding exchange", "s3-bound.eu-west-1", ScopeEvidence{DNSNames: []string{"*.s3.eu-west-1.amazonaws.com"}}, ScopeByCertificate, nil},
		{"region-only leaf, binding agrees", "s3-bound.eu-west-1", ScopeEvidence{DNSNames: []string{"*.s3.eu-west-1.amazonaws.com"}, Exchanges: []HTTPExchange{headBucket("eu-west-1")}}, ScopeByCertificate, nil},
		{"region-only leaf, binding contradicts", "s3-bound.eu-west-1", ScopeEvidence{DNSNames: []string{"*.s3.eu-west-1.amazonaws.com"}, Exchanges: []HTTPExchange{headBucket("us-east-1")}}, "", ErrOutOfScope},
		{"shared leaf, binding header", "s3-bound.eu-west-1", ScopeEvidence{DNSNames: []string{"*.s3.eu-west-1.amazonaws.com", "*.s3.amazonaws.com"}, Exchanges: []HTTPExchange{headBucket("eu-west-1")}}, ScopeByBinding, nil},
		{"shared leaf, request header missing", "s3-bound.eu-west-1", ScopeEvidence{DNSNames: []string{"*.s3.eu-west-1.amazonaws.com", "*.s3.amazonaws.com"},
			Exchanges: []HTTPExchange{func() HTTPExchange { x := headBucket("eu-west-1"); x.Request.Header = nil; return x }()}}, "", ErrNeedsRegionBinding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := entries[tc.entry]
			if !ok {
				t.Fatalf("no entry %s", tc.entry)
			}
			r, err := e.ScopeCheck(tc.ev)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				var se *ScopeError
				if !errors.As(err, &se) || se.Endpoint != e.Name || se.Reason == "" {
					t.Fatalf("error %#v is not a complete *ScopeError", err)
				}
				return
			}
			if err != nil || r.Basis != tc.basis || r.Detail == "" {
				t.Fatalf("ScopeCheck = %+v, %v; want basis %s", r, err, tc.basis)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		cert, host string
		want       bool
	}{
		{"a.example.com", "a.example.com", true},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "*.example.com", false},
		{"a.example.com", "b.example.com", false},
	} {
		if got := certNameMatches(tc.cert, tc.host); got != tc.want {
			t.Errorf("certNameMatches(%q, %q) = %v", tc.cert, tc.host, got)
		}
	}
	for _, tc := range []struct {
		name, region string
		want         bool
	}{
		{"s3.eu-west-1.amazonaws.com", "eu-west-1", true},
		{"s3-eu-west-1.amazonaws.com", "eu-west-1", true},
		{"us-central1-aiplatform.googleapis.com", "us-central1", true},
		{"s3.eu-west-10.amazonaws.com", "eu-west-1", false},
		{"eastus2.management.azure.com", "eastus", false},
		{"xeastus.example", "eastus", false},
		{"eastus.eastus2.example", "eastus2", true},
		{"example", "", false},
	} {
		if got := hasRegionToken(tc.name, tc.region); got != tc.want {
			t.Errorf("hasRegionToken(%q, %q) = %v", tc.name, tc.region, got)
		}
	}
}

// FuzzScopeCheck: any leaf names and exchanges give a decision, never a
// panic; a session in scope by certificate has only scope names in its
// leaf, and one in scope by binding carried the binding's request.
func FuzzScopeCheck(f *testing.F) {
	f.Add("s3.eu-west-1.amazonaws.com", "*.s3.amazonaws.com", "pocwesteurope.blob.core.windows.net", "/poc/token", 200, sha)
	f.Add("*.blob.core.windows.net", "", "pocwesteurope.blob.core.windows.net:443", "/poc/token", 200, sha)
	f.Add("*.s3.eu-west-1.amazonaws.com", "x", "poc-bucket.s3.eu-west-1.amazonaws.com", "/", 404, "")
	entries := scopeEntries(f)
	f.Fuzz(func(t *testing.T, n1, n2, host, path string, status int, body string) {
		for _, e := range entries {
			ev := ScopeEvidence{DNSNames: []string{n1, n2}, Exchanges: []HTTPExchange{{Host: host, Request: HTTP1Request{Path: path}, Status: status, BodySHA256: body}}}
			r, err := e.ScopeCheck(ev)
			if err != nil {
				if !errors.Is(err, ErrOutOfScope) && !errors.Is(err, ErrNeedsRegionBinding) && !errors.Is(err, ErrNotEvidence) {
					t.Fatalf("%s: unexpected error %v", e.Name, err)
				}
				continue
			}
			switch r.Basis {
			case ScopeByCertificate:
				for _, n := range []string{n1, n2} {
					n = normName(n)
					ok := false
					for _, p := range e.Scope.Names {
						ok = ok || covers(p, n)
					}
					if !ok {
						t.Fatalf("%s: in scope by certificate with %q outside the scope", e.Name, n)
					}
				}
			case ScopeByBinding:
				if path != e.Scope.Binding.Request.Path || status != e.Scope.Binding.Status {
					t.Fatalf("%s: in scope by binding with %s → %d", e.Name, path, status)
				}
			default:
				t.Fatalf("%s: basis %q", e.Name, r.Basis)
			}
		}
	})
}
