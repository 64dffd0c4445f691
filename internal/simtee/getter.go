package simtee

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-tdx-guest/pcs"
	"github.com/google/go-tdx-guest/verify/trust"
)

// Hosts and paths of Intel PCS v4 (and Intel's certificate host) that the
// replay getter answers.
const (
	pcsHost         = "api.trustedservices.intel.com"
	certsHost       = "certificates.trustedservices.intel.com"
	tcbInfoPath     = "/tdx/certification/v4/tcb"
	qeIdentityPath  = "/tdx/certification/v4/qe/identity"
	pckCRLPath      = "/sgx/certification/v4/pckcrl"
	rootCRLPath     = "/IntelSGXRootCA.der"
	platformCAParam = "platform"
)

// Getter returns a go-tdx-guest trust.HTTPSGetter (also a
// trust.ContextHTTPSGetter) that answers Intel PCS v4 URLs with this
// simulated TEE's collateral, in the form Intel PCS returns it:
//
//   - …/tdx/certification/v4/tcb?fmspc=<the sim's FMSPC, any case>: the
//     body {"tcbInfo":…,"signature":…} and the TCB-Info-Issuer-Chain header;
//   - …/tdx/certification/v4/qe/identity: {"enclaveIdentity":…,
//     "signature":…} and SGX-Enclave-Identity-Issuer-Chain;
//   - …/sgx/certification/v4/pckcrl?ca=platform[&encoding=der|pem]: the PCK
//     CRL (DER, or PEM when encoding is pem or absent) and
//     SGX-PCK-CRL-Issuer-Chain;
//   - https://certificates.trustedservices.intel.com/IntelSGXRootCA.der: the
//     root CA CRL, DER.
//
// Issuer chains are percent-encoded PEM (signing certificate, then root),
// as Intel sends them. Anything else is an error wrapping ErrUnknownURL.
// The getter never touches the network, so go-tdx-guest's verification
// with GetCollateral and CheckRevocations runs offline against sim quotes.
func (s *Sim) Getter() trust.HTTPSGetter {
	c := s.coll
	return &pcsReplay{
		fmspc:           s.manifest.FMSPC,
		tcbInfoBody:     pcsBody("tcbInfo", []byte(c.c.TCBInfo), c.c.TCBInfoSignature),
		tcbInfoChain:    pcsEscape(c.tcbInfoChain),
		qeIdentityBody:  pcsBody("enclaveIdentity", []byte(c.c.QEIdentity), c.c.QEIdentitySignature),
		qeIdentityChain: pcsEscape(c.qeIdentityChain),
		pckCRL:          clone(c.pckCRL),
		pckCRLChain:     pcsEscape(c.pckCRLChain),
		rootCRL:         clone(c.rootCRL),
	}
}

// pcsReplay answers from fixed responses; it holds no mutable state.
type pcsReplay struct {
	fmspc                         string
	tcbInfoBody, qeIdentityBody   []byte
	tcbInfoChain, qeIdentityChain string
	pckCRL, rootCRL               []byte
	pckCRLChain                   string
}

// Get implements trust.HTTPSGetter.
func (g *pcsReplay) Get(rawURL string) (map[string][]string, []byte, error) {
	return g.GetContext(context.Background(), rawURL)
}

// GetContext implements trust.ContextHTTPSGetter. It fails only if ctx is
// done or the URL is not one it serves.
func (g *pcsReplay) GetContext(ctx context.Context, rawURL string) (map[string][]string, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("simulated PCS: %w", err)
	}
	header, body, err := g.route(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("simulated PCS: %w", err)
	}
	// Callers own what they get.
	return header, clone(body), nil
}

func (g *pcsReplay) route(rawURL string) (map[string][]string, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownURL, err)
	}
	unknown := fmt.Errorf("%w: %q", ErrUnknownURL, rawURL)
	if u.Scheme != "https" || u.User != nil || u.Fragment != "" {
		return nil, nil, unknown
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownURL, err)
	}
	// only reports whether every query parameter is one of allowed, given once.
	only := func(allowed ...string) bool {
		for k, v := range q {
			if len(v) != 1 || !slices.Contains(allowed, k) {
				return false
			}
		}
		return true
	}
	header := func(key, value, contentType string) map[string][]string {
		h := map[string][]string{"Content-Type": {contentType}}
		if key != "" {
			h[key] = []string{value}
		}
		return h
	}
	switch {
	case u.Host == pcsHost && u.Path == tcbInfoPath && only("fmspc") && strings.EqualFold(q.Get("fmspc"), g.fmspc):
		return header(pcs.TcbInfoIssuerChainPhrase, g.tcbInfoChain, "application/json"), g.tcbInfoBody, nil
	case u.Host == pcsHost && u.Path == qeIdentityPath && len(q) == 0:
		return header(pcs.SgxQeIdentityIssuerChainPhrase, g.qeIdentityChain, "application/json"), g.qeIdentityBody, nil
	case u.Host == pcsHost && u.Path == pckCRLPath && only("ca", "encoding") && strings.EqualFold(q.Get("ca"), platformCAParam):
		switch strings.ToLower(q.Get("encoding")) {
		case "der":
			return header(pcs.SgxPckCrlIssuerChainPhrase, g.pckCRLChain, "application/pkix-crl"), g.pckCRL, nil
		case "", "pem":
			crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: g.pckCRL})
			return header(pcs.SgxPckCrlIssuerChainPhrase, g.pckCRLChain, "application/x-pem-file"), crl, nil
		}
	case u.Host == certsHost && u.Path == rootCRLPath && len(q) == 0:
		return header("", "", "application/pkix-crl"), g.rootCRL, nil
	}
	return nil, nil, unknown
}

// pcsEscape percent-encodes s the way Intel PCS encodes issuer-chain
// headers: everything but RFC 3986 unreserved characters, so spaces are
// %20 and '+' is %2B (which url.QueryUnescape, go-tdx-guest's decoder,
// reads back exactly).
func pcsEscape(s []byte) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range s {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

var _ trust.ContextHTTPSGetter = (*pcsReplay)(nil)
