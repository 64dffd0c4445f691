package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Termination says where an endpoint's TLS sessions end.
type Termination string

// Terminations.
const (
	// TerminationRegional: TLS ends inside the endpoint's region.
	TerminationRegional Termination = "regional"
	// TerminationEdge: TLS ends at an anycast front end (Google's GFE,
	// Azure Front Door, CloudFront) wherever the client happens to be; such
	// an endpoint proves nothing about a region.
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

// HTTP1Request is the request line and headers of an http1 echo.
type HTTP1Request struct {
	Method string      `json:"method,omitempty"`
	Path   string      `json:"path,omitempty"`
	Header http.Header `json:"header,omitempty"`
}

// Endpoint is one entry of a catalog.
type Endpoint struct {
	// Name identifies the entry; by convention its hostname.
	Name        string      `json:"name"`
	Provider    string      `json:"provider"`
	Region      string      `json:"region"`
	Lat         float64     `json:"lat"`
	Lon         float64     `json:"lon"`
	Hostname    string      `json:"hostname"`
	Port        int         `json:"port"`
	Termination Termination `json:"termination"`
	Echo        Echo        `json:"echo"`
	// Source says where the entry's facts come from.
	Source string `json:"source,omitempty"`
}

// Address returns hostname:port.
func (e Endpoint) Address() string {
	return fmt.Sprintf("%s:%d", e.Hostname, e.Port)
}

// Catalog is a list of endpoints.
type Catalog struct {
	Version   int        `json:"version"`
	Name      string     `json:"name,omitempty"`
	Endpoints []Endpoint `json:"endpoints"`
}

// CatalogVersion is the catalog schema this package reads and writes.
const CatalogVersion = 1

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

// Validate checks the catalog's fields and reports every problem found.
func (c *Catalog) Validate() error {
	var errs []error
	if c.Version != CatalogVersion {
		errs = append(errs, fmt.Errorf("version %d, want %d", c.Version, CatalogVersion))
	}
	seen := map[string]bool{}
	for i, e := range c.Endpoints {
		at := fmt.Sprintf("endpoint %d (%s)", i, e.Name)
		if e.Name == "" || e.Hostname == "" || e.Region == "" || e.Provider == "" {
			errs = append(errs, fmt.Errorf("%s: name, provider, region and hostname are required", at))
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate name", at))
		}
		seen[e.Name] = true
		if e.Port < 1 || e.Port > 65535 {
			errs = append(errs, fmt.Errorf("%s: port %d", at, e.Port))
		}
		if e.Lat < -90 || e.Lat > 90 || e.Lon < -180 || e.Lon > 180 {
			errs = append(errs, fmt.Errorf("%s: coordinates %v,%v out of range", at, e.Lat, e.Lon))
		}
		if e.Termination != TerminationRegional && e.Termination != TerminationEdge {
			errs = append(errs, fmt.Errorf("%s: termination %q (want regional or edge)", at, e.Termination))
		}
		switch e.Echo.Method {
		case "h2-ping", "http1", "auto":
		default:
			errs = append(errs, fmt.Errorf("%s: echo method %q", at, e.Echo.Method))
		}
		if e.Echo.EchoesPerConn < 0 || e.Echo.MinSpacing < 0 {
			errs = append(errs, fmt.Errorf("%s: negative echo budget", at))
		}
		if strings.ContainsAny(e.Hostname, " /:") {
			errs = append(errs, fmt.Errorf("%s: hostname %q", at, e.Hostname))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrCatalog, errors.Join(errs...))
	}
	return nil
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
// refusing unknown fields and trailing data.
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
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}
