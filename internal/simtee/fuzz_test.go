package simtee

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tdx-guest/pcs"
)

// FuzzParseManifest: parseManifest never panics, and whatever it accepts
// survives a write and a re-read unchanged.
func FuzzParseManifest(f *testing.F) {
	s := newSim(f, InitOptions{})
	good, err := os.ReadFile(filepath.Join(s.Dir(), manifestName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 2`), 1))
	f.Add(bytes.Replace(good, []byte(`"pck.key"`), []byte(`"../pck.key"`), 1))
	f.Add(bytes.Replace(good, []byte(`"UpToDate"`), []byte(`"upToDate"`), 1))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1e999}`))
	f.Add([]byte(`{"version":"1"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := parseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v is neither ErrManifest nor ErrVersion", err)
			}
			return
		}
		out, err := marshalManifest(m)
		if err != nil {
			t.Fatalf("marshalManifest of an accepted manifest: %v", err)
		}
		m2, _, err := parseManifest(out)
		if err != nil {
			t.Fatalf("re-reading a written manifest: %v", err)
		}
		out2, err := marshalManifest(m2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("manifest changed on a round trip:\n%s\n%s", out, out2)
		}
		for _, name := range m.Files.list() {
			if !plainName(name[1]) {
				t.Fatalf("accepted file name %q", name[1])
			}
		}
	})
}

// FuzzParseCollateral: parseCollateral never panics, and what it accepts
// has 64-byte signatures and two-certificate chains.
func FuzzParseCollateral(f *testing.F) {
	s := newSim(f, InitOptions{})
	f.Add(s.CollateralJSON())
	intel, err := os.ReadFile(filepath.Join("testdata", "dcap-qvl_tdx_quote_collateral_b0c06f000000_2025-06.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(intel)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"tcb_info_signature":"00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCollateral(data)
		if err != nil {
			return
		}
		if len(c.tcbSig) != 64 || len(c.qeSig) != 64 || len(c.pckCRL) == 0 || len(c.rootCRL) == 0 {
			t.Fatalf("accepted collateral with signatures of %d and %d bytes", len(c.tcbSig), len(c.qeSig))
		}
	})
}

// FuzzGetter: the replay getter never panics on a URL, answers only the
// URLs it documents, and says ErrUnknownURL for the rest.
func FuzzGetter(f *testing.F) {
	s := newSim(f, InitOptions{})
	g := s.Getter()
	for _, u := range []string{
		pcs.TcbInfoURL(s.Manifest().FMSPC), pcs.QeIdentityURL(), pcs.PckCrlURL("platform"), rootCRLURL,
		pcs.PckCrlURL("processor"), "https://api.trustedservices.intel.com/%zz", "https://[::1", "",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		header, body, err := g.Get(u)
		if err != nil {
			if !errors.Is(err, ErrUnknownURL) {
				t.Fatalf("Get(%q) error %v is not ErrUnknownURL", u, err)
			}
			return
		}
		if len(body) == 0 || header == nil {
			t.Fatalf("Get(%q) answered with nothing", u)
		}
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme != "https" || (parsed.Host != pcsHost && parsed.Host != certsHost) {
			t.Fatalf("Get(%q) answered a URL outside Intel's hosts", u)
		}
	})
}
