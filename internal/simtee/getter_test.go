package simtee

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-tdx-guest/pcs"
	"github.com/google/go-tdx-guest/verify/trust"
)

func TestGetterAnswersPCS(t *testing.T) {
	s := newSim(t, InitOptions{})
	c := bundleOf(t, s)
	crl, err := hex.DecodeString(c.PCKCRL)
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := hex.DecodeString(c.RootCACRL)
	if err != nil {
		t.Fatal(err)
	}
	fmspc := s.Manifest().FMSPC
	tests := []struct {
		name      string
		url       string
		chainKey  string
		wantChain string
		check     func(t *testing.T, body []byte)
	}{
		{
			name: "TCB info", url: pcs.TcbInfoURL(fmspc), chainKey: pcs.TcbInfoIssuerChainPhrase, wantChain: c.TCBInfoIssuerChain,
			check: func(t *testing.T, body []byte) {
				var raw map[string]json.RawMessage
				if err := json.Unmarshal(body, &raw); err != nil || string(raw["tcbInfo"]) != c.TCBInfo {
					t.Errorf("body does not carry the exact signed tcbInfo (%v)", err)
				}
				var sig string
				if err := json.Unmarshal(raw["signature"], &sig); err != nil || sig != c.TCBInfoSignature {
					t.Errorf("signature %q", sig)
				}
			},
		},
		{
			name: "TCB info, FMSPC upper case", url: pcs.TcbInfoURL(strings.ToUpper(fmspc)), chainKey: pcs.TcbInfoIssuerChainPhrase,
			wantChain: c.TCBInfoIssuerChain,
		},
		{
			name: "QE identity", url: pcs.QeIdentityURL(), chainKey: pcs.SgxQeIdentityIssuerChainPhrase, wantChain: c.QEIdentityIssuerChain,
			check: func(t *testing.T, body []byte) {
				var raw map[string]json.RawMessage
				if err := json.Unmarshal(body, &raw); err != nil || string(raw["enclaveIdentity"]) != c.QEIdentity {
					t.Errorf("body does not carry the exact signed enclaveIdentity (%v)", err)
				}
			},
		},
		{
			name: "PCK CRL, DER", url: pcs.PckCrlURL("platform"), chainKey: pcs.SgxPckCrlIssuerChainPhrase, wantChain: c.PCKCRLIssuerChain,
			check: func(t *testing.T, body []byte) {
				if !bytes.Equal(body, crl) {
					t.Error("body is not the PCK CRL")
				}
			},
		},
		{
			name: "PCK CRL, PEM", url: "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform",
			chainKey: pcs.SgxPckCrlIssuerChainPhrase, wantChain: c.PCKCRLIssuerChain,
			check: func(t *testing.T, body []byte) {
				b, _ := pem.Decode(body)
				if b == nil || b.Type != "X509 CRL" || !bytes.Equal(b.Bytes, crl) {
					t.Error("body is not the PCK CRL in PEM")
				}
			},
		},
		{
			name: "root CRL", url: rootCRLURL,
			check: func(t *testing.T, body []byte) {
				if !bytes.Equal(body, rootCRL) {
					t.Error("body is not the root CRL")
				}
			},
		},
	}
	g := s.Getter()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header, body, err := g.Get(tc.url)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if tc.chainKey != "" {
				v := header[tc.chainKey]
				if len(v) != 1 {
					t.Fatalf("header %s: %v", tc.chainKey, v)
				}
				if strings.ContainsAny(v[0], " +\n") {
					t.Errorf("issuer chain header is not percent-encoded as Intel's: %.40q", v[0])
				}
				chain, err := url.QueryUnescape(v[0])
				if err != nil || chain != tc.wantChain {
					t.Errorf("issuer chain header does not decode to the bundle's chain (%v)", err)
				}
			}
			if tc.check != nil {
				tc.check(t, body)
			}
			// The caller owns the body.
			body[0] ^= 0xff
			if _, again, _ := g.Get(tc.url); again[0] == body[0] {
				t.Error("a caller's edit changed the next response")
			}
		})
	}
}

func TestGetterRefuses(t *testing.T) {
	s := newSim(t, InitOptions{})
	g := s.Getter()
	for _, u := range []string{
		pcs.TcbInfoURL("112233445566"),
		pcs.PckCrlURL("processor"),
		"http://api.trustedservices.intel.com/tdx/certification/v4/qe/identity",
		"https://api.trustedservices.intel.com/sgx/certification/v4/qe/identity",
		"https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity?x=1",
		"https://example.com/tdx/certification/v4/qe/identity",
		"https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=" + s.Manifest().FMSPC + "&fmspc=" + s.Manifest().FMSPC,
		"https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=xml",
		"https://user@certificates.trustedservices.intel.com/IntelSGXRootCA.der",
		"://",
		"",
	} {
		if _, _, err := g.Get(u); !errors.Is(err, ErrUnknownURL) {
			t.Errorf("Get(%q) error = %v, want ErrUnknownURL", u, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cg, ok := g.(trust.ContextHTTPSGetter)
	if !ok {
		t.Fatal("getter does not take a context")
	}
	if _, _, err := cg.GetContext(ctx, pcs.QeIdentityURL()); !errors.Is(err, context.Canceled) {
		t.Errorf("GetContext with a cancelled context: %v", err)
	}
}

func TestPCSEscape(t *testing.T) {
	in := []byte("-----BEGIN CERTIFICATE-----\nab+/=c d~_.\x00\xff\n")
	out := pcsEscape(in)
	if want := "-----BEGIN%20CERTIFICATE-----%0Aab%2B%2F%3Dc%20d~_.%00%FF%0A"; out != want {
		t.Errorf("pcsEscape = %q, want %q", out, want)
	}
	back, err := url.QueryUnescape(out)
	if err != nil || back != string(in) {
		t.Errorf("QueryUnescape does not invert pcsEscape: %q, %v", back, err)
	}
}
