package dcap

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	tdxpcs "github.com/google/go-tdx-guest/pcs"
	tdxverify "github.com/google/go-tdx-guest/verify"
)

// gtGetter serves collateral to go-tdx-guest in Intel PCS form, by URL.
type gtGetter map[string]gtResponse

type gtResponse struct {
	header map[string][]string
	body   []byte
}

func (g gtGetter) Get(u string) (map[string][]string, []byte, error) {
	r, ok := g[u]
	if !ok {
		return nil, nil, fmt.Errorf("404 %s", u)
	}
	return r.header, r.body, nil
}

func intelEscape(chain string) []string {
	return []string{strings.ReplaceAll(url.PathEscape(strings.TrimSpace(chain)), "+", "%2B")}
}

// pcsResponses renders collateral c as the PCS responses go-tdx-guest
// fetches for a PCK certificate with this FMSPC.
func pcsResponses(c *Collateral, fmspc [6]byte) gtGetter {
	signed := func(field, body string, sig []byte) []byte {
		return []byte(`{"` + field + `":` + body + `,"signature":"` + hex.EncodeToString(sig) + `"}`)
	}
	g := gtGetter{
		tdxpcs.TcbInfoURL(hex.EncodeToString(fmspc[:])): {
			header: map[string][]string{tdxpcs.TcbInfoIssuerChainPhrase: intelEscape(c.tcbInfoIssuerChainPEM)},
			body:   signed("tcbInfo", c.tcbInfoJSON, c.tcbInfoSig),
		},
		tdxpcs.QeIdentityURL(): {
			header: map[string][]string{tdxpcs.SgxQeIdentityIssuerChainPhrase: intelEscape(c.qeIdentityIssuerChainPEM)},
			body:   signed("enclaveIdentity", c.qeIdentityJSON, c.qeIdentitySig),
		},
		tdxpcs.PckCrlURL("platform"): {
			header: map[string][]string{tdxpcs.SgxPckCrlIssuerChainPhrase: intelEscape(c.pckCRLIssuerChainPEM)},
			body:   c.pckCRLDER,
		},
	}
	for _, u := range c.qeIdentityIssuerChain[len(c.qeIdentityIssuerChain)-1].CRLDistributionPoints {
		g[u] = gtResponse{body: c.rootCRLDER}
	}
	return g
}

// TestCrossCheckGoTDXGuest runs go-tdx-guest's own full verification
// (collateral and revocation checks, offline through a getter replaying the
// same collateral in PCS form) on every real quote and collateral pair.
// go-tdx-guest accepts only UpToDate, so it must accept exactly the quotes
// this package finds UpToDate, with one documented exception: for TDX
// modules of major version >= 1, go-tdx-guest takes the module identity's
// status alone and ignores the platform level's, where Intel's QVL
// combines them (TcbLevelCheck.cpp, convergeTcbStatusWithTdxModuleStatus).
func TestCrossCheckGoTDXGuest(t *testing.T) {
	tests := []struct {
		quote, coll string
		at          time.Time
		divergent   bool // go-tdx-guest accepts what Intel's rules make OutOfDate
	}{
		{"dcap-qvl_tdx_quote.v4.dat", collB0C0, at2025jun, false},
		{"go-tdx-guest_cos-113-gcp.v4.dat", coll0080, at2025oct, false},
		{"teekit_tdx-v4-azure.v4.bin", coll0080, at2025oct, false},
		{"teekit_tdx-v4-zkdcap.v4.dat", coll0080, at2025oct, true},
		{"trustee_tdx_quote_6.dat", collA06D, at2025nov, true},
		{"trustee_tdx_quote_4.dat", coll5080, at2023, false},
		{"go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat", coll5080, at2023, false},
		{"dcap-qvl_quote-from-tappd.v4.hex", collB0C0, at2025jun, false},
		{"teekit_tdx-v4-moemahhouk.v4.dat", coll90C0, at2026, false},
	}
	for _, tc := range tests {
		t.Run(tc.quote, func(t *testing.T) {
			raw := quoteBytes(t, tc.quote)
			c := collateral(t, tc.coll)
			ours, err := Verify(t.Context(), raw, Options{Collateral: Bundle{Fixed: c}, At: tc.at})
			upToDate := err == nil && ours.TCBStatus == StatusUpToDate

			q, perr := ParseQuote(raw)
			if perr != nil {
				t.Fatal(perr)
			}
			a, _ := defaultAnchors()
			gerr := tdxverify.TdxQuote(q.proto, &tdxverify.Options{
				GetCollateral: true, CheckRevocations: true, Getter: pcsResponses(c, q.PCK.FMSPC), TrustedRoots: a.pool,
				Now: &tdxverify.TimeSet{PckCertChain: tc.at, TcbInfo: tc.at, QeIdentity: tc.at, PckCrl: tc.at, RootCaCrl: tc.at},
			})
			theirs := gerr == nil
			t.Logf("ours: %v %v; go-tdx-guest: %v", statusOf(ours), err, gerr)
			if tc.divergent {
				if upToDate || !theirs {
					t.Errorf("expected the documented divergence: ours UpToDate=%v, go-tdx-guest accepts=%v", upToDate, theirs)
				}
				return
			}
			if upToDate != theirs {
				t.Errorf("disagreement: ours UpToDate=%v (%v), go-tdx-guest accepts=%v (%v)", upToDate, err, theirs, gerr)
			}
		})
	}
}

func statusOf(r *Result) TCBStatus {
	if r == nil {
		return ""
	}
	return r.TCBStatus
}
