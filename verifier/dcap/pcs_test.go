package dcap

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pcsReplay is a local Intel PCS replaying recorded responses.
type pcsReplay struct {
	fmspc                          string // upper-case hex
	tcb, qe, pckCRL, rootCRL       []byte
	tcbChain, qeChain, pckCRLChain string
	formEncoded                    bool // '+' for spaces instead of %20
	mu                             sync.Mutex
	hits                           map[string]int
	down                           bool
	srv                            *httptest.Server
}

func (r *pcsReplay) encode(chain string) string {
	if r.formEncoded {
		return url.QueryEscape(chain)
	}
	return strings.ReplaceAll(url.PathEscape(chain), "+", "%2B") // as Intel does
}

func (r *pcsReplay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hits[req.URL.Path]++
	down := r.down
	r.mu.Unlock()
	if down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	q := req.URL.Query()
	switch req.URL.Path {
	case "/tdx/certification/v4/tcb":
		if q.Get("fmspc") != r.fmspc {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("TCB-Info-Issuer-Chain", r.encode(r.tcbChain))
		w.Write(r.tcb)
	case "/tdx/certification/v4/qe/identity":
		w.Header().Set("SGX-Enclave-Identity-Issuer-Chain", r.encode(r.qeChain))
		w.Write(r.qe)
	case "/sgx/certification/v4/pckcrl":
		if q.Get("ca") != "platform" || q.Get("encoding") != "der" {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("SGX-PCK-CRL-Issuer-Chain", r.encode(r.pckCRLChain))
		w.Write(r.pckCRL)
	case "/IntelSGXRootCA.der":
		w.Write(r.rootCRL)
	default:
		http.NotFound(w, req)
	}
}

func (r *pcsReplay) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

func (r *pcsReplay) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.hits {
		n += v
	}
	return n
}

func (r *pcsReplay) setDown(d bool) {
	r.mu.Lock()
	r.down = d
	r.mu.Unlock()
}

func startReplay(t *testing.T, r *pcsReplay) *pcsReplay {
	r.hits = map[string]int{}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

// replay2023 serves go-tdx-guest's recorded PCS responses (FMSPC
// 50806f000000, June 2023).
func replay2023(t *testing.T) *pcsReplay {
	d := func(f string) []byte { return readTestdata(t, "raw-pcs", "go-tdx-guest", f) }
	return startReplay(t, &pcsReplay{
		fmspc: "50806F000000", tcb: d("sample_tcbInfo_response"), qe: d("sample_qeIdentity_response"),
		pckCRL: d("pckcrl"), rootCRL: d("rootcrl.der"),
		tcbChain: string(d("tcbInfoIssuerChain.pem")), qeChain: string(d("qeIdentityIssuerChain.pem")),
		pckCRLChain: string(d("pckCrlIssuerChain.pem")),
	})
}

// replay2025 serves automata's recorded responses for FMSPC 00806f050000
// (October 2025), with the issuer chains and root CA CRL of the matching
// assembled collateral (the headers were not recorded).
func replay2025(t *testing.T) *pcsReplay {
	d := func(f string) []byte { return readTestdata(t, "raw-pcs", "automata-2025-10", f) }
	m := fields(t, coll0080)
	return startReplay(t, &pcsReplay{
		fmspc: "00806F050000", tcb: d("tcb_info_00806F050000.json"), qe: d("qe_identity_TD_QE.json"),
		pckCRL: d("pck_crl_platform.der"), rootCRL: mustHex(t, m["root_ca_crl"]),
		tcbChain: m["tcb_info_issuer_chain"], qeChain: m["qe_identity_issuer_chain"], pckCRLChain: m["pck_crl_issuer_chain"],
		formEncoded: true,
	})
}

func (r *pcsReplay) pcs(dir string, now time.Time) *PCS {
	return &PCS{
		BaseURL: r.srv.URL, RootCRLURL: r.srv.URL + "/IntelSGXRootCA.der", CacheDir: dir,
		Get: HTTPGetter(r.srv.Client()), Now: func() time.Time { return now },
	}
}

func TestPCSMatchesRecordedCollateral(t *testing.T) {
	r := replay2023(t)
	src := r.pcs("", at2023)
	c, err := src.Collateral(t.Context(), [6]byte{0x50, 0x80, 0x6f}, "platform")
	if err != nil {
		t.Fatal(err)
	}
	want := collateral(t, coll5080)
	if c.TCBInfoJSON() != want.TCBInfoJSON() || c.QEIdentityJSON() != want.QEIdentityJSON() ||
		!bytes.Equal(c.tcbInfoSig, want.tcbInfoSig) || !bytes.Equal(c.qeIdentitySig, want.qeIdentitySig) ||
		!bytes.Equal(c.pckCRLDER, want.pckCRLDER) || !bytes.Equal(c.rootCRLDER, want.rootCRLDER) {
		t.Error("PCS collateral differs from the assembled bundle")
	}
	for i, pair := range [][2][]*x509.Certificate{
		{c.tcbInfoIssuerChain, want.tcbInfoIssuerChain},
		{c.qeIdentityIssuerChain, want.qeIdentityIssuerChain},
		{c.pckCRLIssuerChain, want.pckCRLIssuerChain},
	} {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("chain %d: %d vs %d certificates", i, len(pair[0]), len(pair[1]))
		}
		for j := range pair[0] {
			if !pair[0][j].Equal(pair[1][j]) {
				t.Errorf("chain %d certificate %d differs", i, j)
			}
		}
	}

	// Verifying through PCS gives the same result as through the bundle.
	raw := quoteBytes(t, "trustee_tdx_quote_4.dat")
	viaPCS, err := Verify(t.Context(), raw, Options{Collateral: src, At: at2023})
	if err != nil {
		t.Fatal(err)
	}
	viaBundle, err := Verify(t.Context(), raw, Options{Collateral: Bundle{Fixed: want}, At: at2023})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(viaPCS)
	b, _ := json.Marshal(viaBundle)
	if !bytes.Equal(a, b) {
		t.Errorf("PCS and bundle results differ:\n%s\n%s", a, b)
	}
}

func TestPCS2025FormEncodedHeaders(t *testing.T) {
	r := replay2025(t)
	res, err := Verify(t.Context(), quoteBytes(t, "teekit_tdx-v4-azure.v4.bin"), Options{Collateral: r.pcs("", at2025oct), At: at2025oct})
	if err != nil {
		t.Fatal(err)
	}
	if res.TCBStatus != StatusUpToDate {
		t.Errorf("status %s", res.TCBStatus)
	}
}

func TestPCSCacheRespectsNextUpdate(t *testing.T) {
	r := replay2023(t)
	dir := t.TempDir()
	fmspc := [6]byte{0x50, 0x80, 0x6f}
	get := func(now time.Time) (*Collateral, error) {
		return r.pcs(dir, now).Collateral(t.Context(), fmspc, "platform")
	}

	// First use fetches the four pieces and caches them.
	src := r.pcs(dir, at2023)
	c1, err := src.Collateral(t.Context(), fmspc, "platform")
	if err != nil || r.total() != 4 {
		t.Fatalf("first fetch: %v, %d requests", err, r.total())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 4 {
		t.Errorf("%d cache files", len(files))
	}
	// Same source: the assembled collateral is reused from memory.
	if c2, err := src.Collateral(t.Context(), fmspc, "platform"); err != nil || c2 != c1 || r.total() != 4 {
		t.Errorf("memory cache: %v, same object %v, %d requests", err, c2 == c1, r.total())
	}
	// New source, same directory, while everything is fresh: no request,
	// even with PCS down.
	r.setDown(true)
	if _, err := get(at2023.Add(24 * time.Hour)); err != nil || r.total() != 4 {
		t.Errorf("disk cache: %v, %d requests", err, r.total())
	}
	// Past the QE identity's and PCK CRL's nextUpdate (2023-07-08T07:2x)
	// but before the TCB info's (07-18) and root CRL's (2024-04-02): those
	// two are never served from the cache, and with PCS down nothing is.
	late := time.Date(2023, 7, 10, 0, 0, 0, 0, time.UTC)
	_, err = get(late)
	if err == nil {
		t.Fatal("stale cached pieces were used")
	}
	_, verr := Verify(t.Context(), quoteBytes(t, "trustee_tdx_quote_4.dat"), Options{Collateral: r.pcs(dir, late), At: late})
	if !errors.Is(verr, ErrCouldNotCheck) {
		t.Errorf("Verify with PCS down and stale cache: %v", verr)
	}
	// PCS back: only the stale pieces are fetched again.
	r.setDown(false)
	before := map[string]int{}
	for _, p := range []string{"/tdx/certification/v4/tcb", "/tdx/certification/v4/qe/identity", "/sgx/certification/v4/pckcrl", "/IntelSGXRootCA.der"} {
		before[p] = r.count(p)
	}
	if _, err := get(late); err != nil {
		t.Fatal(err)
	}
	for p, n := range map[string]int{"/tdx/certification/v4/tcb": 0, "/tdx/certification/v4/qe/identity": 1, "/sgx/certification/v4/pckcrl": 1, "/IntelSGXRootCA.der": 0} {
		if got := r.count(p) - before[p]; got != n {
			t.Errorf("%s fetched %d times, want %d", p, got, n)
		}
	}
	// PCS serves the same stale data; Verify refuses it as expired.
	_, verr = Verify(t.Context(), quoteBytes(t, "trustee_tdx_quote_4.dat"), Options{Collateral: r.pcs(dir, late), At: late})
	if !errors.Is(verr, ErrCollateralExpired) {
		t.Errorf("Verify with stale PCS data: %v", verr)
	}
}

func TestPCSCorruptCacheIsRefetched(t *testing.T) {
	r := replay2023(t)
	dir := t.TempDir()
	if _, err := r.pcs(dir, at2023).Collateral(t.Context(), [6]byte{0x50, 0x80, 0x6f}, "platform"); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		os.WriteFile(f, []byte("{garbage"), 0o644)
	}
	if _, err := r.pcs(dir, at2023).Collateral(t.Context(), [6]byte{0x50, 0x80, 0x6f}, "platform"); err != nil || r.total() != 8 {
		t.Errorf("after corrupting the cache: %v, %d requests", err, r.total())
	}
}

func TestPCSRefusals(t *testing.T) {
	r := replay2023(t)
	ctx := context.Background()
	if _, err := r.pcs("", at2023).Collateral(ctx, [6]byte{1}, "platform"); err == nil {
		t.Error("unknown FMSPC: no error")
	}
	if _, err := r.pcs("", at2023).Collateral(ctx, [6]byte{0x50, 0x80, 0x6f}, "elsewhere"); err == nil {
		t.Error("bad CA: no error")
	}
	noHeader := &PCS{BaseURL: r.srv.URL, Get: func(ctx context.Context, u string) (http.Header, []byte, error) {
		return http.Header{}, []byte("{}"), nil
	}}
	if _, err := noHeader.Collateral(ctx, [6]byte{0x50, 0x80, 0x6f}, "platform"); err == nil {
		t.Error("missing issuer chain header: no error")
	}
	garbage := &PCS{BaseURL: r.srv.URL, Get: func(ctx context.Context, u string) (http.Header, []byte, error) {
		return http.Header{"Tcb-Info-Issuer-Chain": {"x"}}, []byte("not json"), nil
	}}
	if _, err := garbage.Collateral(ctx, [6]byte{0x50, 0x80, 0x6f}, "platform"); !errors.Is(err, ErrMalformedCollateral) {
		t.Errorf("garbage body: %v", err)
	}
}

func TestUnescapeChain(t *testing.T) {
	pemText := "-----BEGIN CERTIFICATE-----\nMIIC+ab/c=\n-----END CERTIFICATE-----\n"
	for _, enc := range []string{
		strings.ReplaceAll(url.PathEscape(pemText), "+", "%2B"),
		url.QueryEscape(pemText),
		url.PathEscape(strings.ReplaceAll(pemText, "+", "")),
	} {
		got, err := unescapeChain(enc)
		if err != nil || (got != pemText && got != strings.ReplaceAll(pemText, "+", "")) {
			t.Errorf("unescapeChain(%q) = %q, %v", enc, got, err)
		}
	}
}
