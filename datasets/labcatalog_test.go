package datasets_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
)

// catalog-lab.json is what a lab of the default world publishes in its State,
// but for the ports, which a running lab picks at start.
func TestLabCatalogMatchesTheLab(t *testing.T) {
	static, err := datasets.LabCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if err := static.Ready(); err != nil {
		t.Fatalf("the lab catalog must be usable as it is: %v", err)
	}
	w, err := lab.DefaultWorld()
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	live := l.State.Catalog
	if live.Version != static.Version || live.Name != static.Name || len(live.Endpoints) != len(static.Endpoints) {
		t.Fatalf("live catalog %s v%d with %d entries; static %s v%d with %d", live.Name, live.Version, len(live.Endpoints), static.Name, static.Version, len(static.Endpoints))
	}
	for i, e := range live.Endpoints {
		s := static.Endpoints[i]
		e.Port, s.Port = 0, 0
		if !reflect.DeepEqual(e, s) {
			t.Errorf("entry %d:\n live   %+v\n static %+v", i, e, s)
		}
	}
	// The lab certificate names the hostname alone: in scope by
	// certificate; another lab region's certificate is out of scope.
	for _, e := range live.Endpoints {
		if r, err := e.ScopeCheck(datasets.ScopeEvidence{DNSNames: []string{e.Hostname}}); err != nil || r.Basis != datasets.ScopeByCertificate {
			t.Errorf("%s: %+v, %v", e.Name, r, err)
		}
		var other datasets.Endpoint
		for _, o := range live.Endpoints {
			if o.Region != e.Region {
				other = o
				break
			}
		}
		if _, err := e.ScopeCheck(datasets.ScopeEvidence{DNSNames: []string{other.Hostname}}); !errors.Is(err, datasets.ErrOutOfScope) {
			t.Errorf("%s with %s's certificate: %v, want ErrOutOfScope", e.Name, other.Name, err)
		}
	}
}
