package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodCatalog = `{"version": 1, "name": "t", "endpoints": [
 {"name": "s3.eu-west-1", "provider": "aws", "region": "eu-west-1", "lat": 53.3, "lon": -6.3,
  "hostname": "s3.eu-west-1.amazonaws.com", "port": 443, "termination": "regional",
  "echo": {"method": "http1", "http1": {"method": "HEAD", "path": "/bucket/object"}, "echoes_per_conn": 100, "min_spacing": "10ms"}}
]}`

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
	// Round trip: what is written reads back the same.
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ReadCatalog(bytes.NewReader(b))
	if err != nil || c2.Endpoints[0].Echo.MinSpacing != c.Endpoints[0].Echo.MinSpacing {
		t.Fatalf("round trip: %v", err)
	}
}

func TestReadCatalogRejects(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(goodCatalog, old, new, 1) }
	tests := map[string]string{
		"version":          edit(`"version": 1`, `"version": 2`),
		"unknown field":    edit(`"name": "t"`, `"name": "t", "x": 1`),
		"termination":      edit(`"regional"`, `"anycast"`),
		"method":           edit(`"method": "http1"`, `"method": "udp"`),
		"port":             edit(`"port": 443`, `"port": 0`),
		"latitude":         edit(`"lat": 53.3`, `"lat": 95`),
		"no provider":      edit(`"provider": "aws"`, `"provider": ""`),
		"hostname":         edit(`"hostname": "s3.eu-west-1.amazonaws.com"`, `"hostname": "a/b"`),
		"bare duration":    edit(`"min_spacing": "10ms"`, `"min_spacing": 10`),
		"bad duration":     edit(`"min_spacing": "10ms"`, `"min_spacing": "soon"`),
		"negative spacing": edit(`"min_spacing": "10ms"`, `"min_spacing": "-1s"`),
		"trailing data":    goodCatalog + `{}`,
		"oversized":        `{"name":"` + strings.Repeat("x", MaxCatalogBytes) + `"}`,
		"duplicate":        strings.Replace(goodCatalog, `]}`, `, `+goodCatalog[strings.Index(goodCatalog, `{"name": "s3`):strings.LastIndex(goodCatalog, `]}`)]+`]}`, 1),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadCatalog(strings.NewReader(doc)); !errors.Is(err, ErrCatalog) {
				t.Fatalf("err = %v, want ErrCatalog", err)
			}
		})
	}
}

func FuzzReadCatalog(f *testing.F) {
	f.Add([]byte(goodCatalog))
	f.Add([]byte(`{"version":1,"endpoints":[]}`))
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
	})
}
