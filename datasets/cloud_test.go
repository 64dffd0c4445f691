package datasets

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCloudCatalog(t *testing.T) {
	c, err := CloudCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != CatalogVersion {
		t.Fatalf("version %d", c.Version)
	}
	want := map[string][]string{
		"aws":   {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"},
		"azure": {"eastus", "westus2", "westeurope", "northeurope", "southeastasia", "japaneast"},
		"gcp":   {"us-central1", "us-east1", "europe-west1", "europe-west4", "asia-southeast1", "asia-northeast1"},
	}
	have := map[string]map[string]bool{}
	idRef := regexp.MustCompile(`\b(?:[AZGPD][0-9]+|ENDPOINTS)\b`)
	for _, e := range c.Endpoints {
		if e.Termination == TerminationRegional {
			if have[e.Provider] == nil {
				have[e.Provider] = map[string]bool{}
			}
			have[e.Provider][e.Region] = true
			if len(e.Uncertain) == 0 {
				t.Errorf("%s: nothing was probed, so every regional entry lists what is uncertain", e.Name)
			}
			if e.Lat == 0 && e.Lon == 0 {
				t.Errorf("%s: no coordinates", e.Name)
			}
		}
		refs := idRef.FindAllString(e.Source, -1)
		if len(refs) == 0 {
			t.Errorf("%s: source %q cites no source id", e.Name, e.Source)
		}
		for _, id := range refs {
			if _, ok := c.Sources[id]; !ok {
				t.Errorf("%s: source id %s is not in the catalog's sources", e.Name, id)
			}
		}
		for _, n := range append(slices.Clone(e.Notes), e.Uncertain...) {
			for _, m := range regexp.MustCompile(`\(([AZGP][0-9]+)[,)]`).FindAllStringSubmatch(n, -1) {
				if _, ok := c.Sources[m[1]]; !ok {
					t.Errorf("%s: note cites %s, not in the catalog's sources", e.Name, m[1])
				}
			}
		}
		switch {
		case e.Termination == TerminationEdge:
			if err := e.Usable(); !errors.Is(err, ErrEdge) {
				t.Errorf("%s: edge entry usable: %v", e.Name, err)
			}
		case strings.HasPrefix(e.Name, "s3.") || strings.HasPrefix(e.Name, "azure-blob."):
			if e.Echo.Method != "http1" {
				t.Errorf("%s: S3 and Azure Storage speak HTTP/1.1 only, echo %q", e.Name, e.Echo.Method)
			}
		case e.Provider == "gcp":
			if e.Echo.Method != "h2-ping" || e.Echo.EchoesPerConn != 1 || e.Echo.MinSpacing <= 0 {
				t.Errorf("%s: Google front ends take about one PING per 30 s per connection: echo %+v", e.Name, e.Echo)
			}
		}
	}
	for p, regions := range want {
		for _, r := range regions {
			if !have[p][r] {
				t.Errorf("no regional %s entry for %s", p, r)
			}
		}
	}
	if !strings.Contains(c.Description, "NOTHING HERE WAS PROBED") {
		t.Error("the description must say that nothing was probed")
	}
}

// The templates are exactly the entries that need something the verifier
// owns; filling them in makes the catalog ready.
func TestCloudCatalogTemplates(t *testing.T) {
	c, err := CloudCatalog()
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ready()
	if !errors.Is(err, ErrUnfilled) {
		t.Fatalf("Ready = %v, want ErrUnfilled", err)
	}
	values := map[string]string{}
	for _, e := range c.Endpoints {
		templ := strings.HasPrefix(e.Name, "azure-blob.") || strings.HasPrefix(e.Name, "apigw.")
		if got := len(e.Placeholders()) > 0; got != templ {
			t.Errorf("%s: template %v, want %v", e.Name, got, templ)
		}
		if templ && !strings.Contains(err.Error(), e.Name) {
			t.Errorf("Ready does not name %s", e.Name)
		}
		if e.Termination == TerminationRegional && !templ {
			if err := e.Usable(); err != nil {
				t.Errorf("%s: %v", e.Name, err)
			}
		}
		for _, p := range e.Placeholders() {
			switch {
			case strings.Contains(p, "sha256"):
				values[p] = sha
			case strings.Contains(p, "apigw_id"):
				values[p] = "a1b2c3d4e5"
			default:
				values[p] = "poc" + strings.ReplaceAll(strings.TrimPrefix(p, "azure_storage_account_"), "_", "")
			}
		}
	}
	filled, err := c.Fill(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := filled.Ready(); err != nil {
		t.Fatalf("filled catalog not ready: %v", err)
	}

	// What the entries then decide, for leaves a real probe might see.
	get := func(name string) Endpoint {
		e, ok := filled.Lookup(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return e
	}
	check := func(name string, ev ScopeEvidence, want error) {
		t.Helper()
		_, err := get(name).ScopeCheck(ev)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s with %v: err = %v, want %v", name, ev.DNSNames, err, want)
		}
	}
	check("s3.eu-west-1.amazonaws.com", ScopeEvidence{DNSNames: []string{"s3.eu-west-1.amazonaws.com", "*.s3.eu-west-1.amazonaws.com", "s3.dualstack.eu-west-1.amazonaws.com", "*.s3.dualstack.eu-west-1.amazonaws.com"}}, nil)
	check("s3.us-east-1.amazonaws.com", ScopeEvidence{DNSNames: []string{"s3.us-east-1.amazonaws.com", "s3.amazonaws.com", "*.s3.amazonaws.com"}}, ErrNeedsRegionBinding)
	check("kinesis.eu-central-1.amazonaws.com", ScopeEvidence{DNSNames: []string{"kinesis.eu-west-1.amazonaws.com"}}, ErrOutOfScope)
	check("storage.europe-west4.rep.googleapis.com", ScopeEvidence{DNSNames: []string{"*.europe-west4.rep.googleapis.com"}}, nil)
	check("storage.europe-west4.rep.googleapis.com", ScopeEvidence{DNSNames: []string{"storage.europe-west4.rep.googleapis.com", "*.googleapis.com"}}, ErrNeedsRegionBinding)
	check("storage.europe-west4.rep.googleapis.com", ScopeEvidence{DNSNames: []string{"*.europe-west1.rep.googleapis.com"}}, ErrOutOfScope)
	check("westeurope.management.azure.com", ScopeEvidence{DNSNames: []string{"management.azure.com", "*.management.azure.com"}}, ErrNeedsRegionBinding)
	blob := get("azure-blob.westeurope")
	check(blob.Name, ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}}, ErrNeedsRegionBinding)
	check(blob.Name, ScopeEvidence{DNSNames: []string{"*.blob.core.windows.net"}, Exchanges: []HTTPExchange{{
		Host: blob.Hostname, Request: *blob.Echo.HTTP1, Status: 200, BodySHA256: sha,
	}}}, nil)
	check("storage.googleapis.com", ScopeEvidence{DNSNames: []string{"*.googleapis.com"}}, ErrEdge)
	check("us-central1-storage.googleapis.com", ScopeEvidence{DNSNames: []string{"*.googleapis.com"}}, ErrEdge)
}

// The Azure entries sit at the dataset's coordinates.
func TestCloudCatalogAzureCoordinates(t *testing.T) {
	c, err := CloudCatalog()
	if err != nil {
		t.Fatal(err)
	}
	a, err := LoadAzureLatency()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Endpoints {
		if e.Provider != "azure" || e.Termination != TerminationRegional {
			continue
		}
		r, ok := a.Region(e.Region)
		if !ok {
			t.Errorf("%s: region %s not in the dataset", e.Name, e.Region)
			continue
		}
		if math.Abs(r.Lat-e.Lat) > 1e-9 || math.Abs(r.Lon-e.Lon) > 1e-9 {
			t.Errorf("%s at %v,%v; the dataset has %v,%v", e.Name, e.Lat, e.Lon, r.Lat, r.Lon)
		}
	}
}
