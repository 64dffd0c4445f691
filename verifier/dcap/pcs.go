package dcap

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Intel PCS defaults.
const (
	// DefaultPCSBaseURL is Intel's Provisioning Certification Service.
	DefaultPCSBaseURL = "https://api.trustedservices.intel.com"
	// DefaultRootCRLURL is the CRL of the Intel SGX Root CA (the CRL
	// distribution point named in the root certificate).
	DefaultRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// PCS v4 response headers carrying URL-encoded PEM issuer chains.
const (
	headerTCBInfoChain    = "TCB-Info-Issuer-Chain"
	headerQEIdentityChain = "SGX-Enclave-Identity-Issuer-Chain"
	headerPCKCRLChain     = "SGX-PCK-CRL-Issuer-Chain"
)

// maxResponseSize bounds a PCS response body.
const maxResponseSize = 4 << 20

// Getter fetches a URL and returns the header and body of a successful
// (200) response. It is how PCS reaches the network; tests replace it.
type Getter func(ctx context.Context, url string) (http.Header, []byte, error)

// HTTPGetter returns a Getter using client (nil: a client with a 30 s
// timeout). Non-200 responses are errors.
func HTTPGetter(client *http.Client) Getter {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return func(ctx context.Context, u string) (http.Header, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", u, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, nil, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		if len(body) > maxResponseSize {
			return nil, nil, fmt.Errorf("GET %s: response exceeds %d bytes", u, maxResponseSize)
		}
		return resp.Header, body, nil
	}
}

// PCS is a Source fetching collateral from Intel's Provisioning
// Certification Service (API v4), with an optional on-disk cache.
//
// Every piece (TCB info per FMSPC, QE identity, PCK CRL per CA, root CA
// CRL) is served from the cache until its own nextUpdate and fetched again
// after; a cached piece past its nextUpdate is never used, and if it cannot
// be fetched again Verify reports ErrCouldNotCheck rather than use it.
// Assembled collateral is also kept in memory, so repeated verifications
// of quotes from one platform reuse one *Collateral and its cached
// signature checks. Use a *PCS; do not copy it after first use.
type PCS struct {
	// BaseURL of the PCS API; empty means DefaultPCSBaseURL.
	BaseURL string
	// RootCRLURL overrides where the root CA CRL is fetched. Empty means
	// the https CRL distribution point of the root certificate in the PCK
	// CRL issuer chain, or DefaultRootCRLURL.
	RootCRLURL string
	// Get fetches URLs; nil means HTTPGetter(nil).
	Get Getter
	// CacheDir holds cached responses; empty means memory only.
	CacheDir string
	// Now is the clock deciding whether cached pieces are fresh; nil means time.Now.
	Now func() time.Time

	mu  sync.Mutex
	mem map[string]*Collateral
}

func (p *PCS) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Collateral returns fresh collateral for the platform fmspc whose PCK
// certificate was issued by the "platform" or "processor" CA.
func (p *PCS) Collateral(ctx context.Context, fmspc [6]byte, pckCA string) (*Collateral, error) {
	if pckCA != "platform" && pckCA != "processor" {
		return nil, fmt.Errorf("PCK CA %q is neither platform nor processor", pckCA)
	}
	now := p.now()
	key := hex.EncodeToString(fmspc[:]) + "/" + pckCA
	p.mu.Lock()
	if c := p.mem[key]; c != nil && now.Before(c.nextUpdate()) {
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()

	base := strings.TrimSuffix(p.BaseURL, "/")
	if base == "" {
		base = DefaultPCSBaseURL
	}
	fm := strings.ToUpper(hex.EncodeToString(fmspc[:]))
	tcb, err := p.piece(ctx, now, pieceSpec{
		file: "tcbinfo-" + fm, url: base + "/tdx/certification/v4/tcb?fmspc=" + fm,
		header: headerTCBInfoChain, kind: kindTCBInfo,
	})
	if err != nil {
		return nil, err
	}
	qe, err := p.piece(ctx, now, pieceSpec{
		file: "qeidentity-td", url: base + "/tdx/certification/v4/qe/identity",
		header: headerQEIdentityChain, kind: kindQEIdentity,
	})
	if err != nil {
		return nil, err
	}
	pckCRL, err := p.piece(ctx, now, pieceSpec{
		file: "pckcrl-" + pckCA, url: base + "/sgx/certification/v4/pckcrl?ca=" + pckCA + "&encoding=der",
		header: headerPCKCRLChain, kind: kindCRL,
	})
	if err != nil {
		return nil, err
	}
	rootCRL, err := p.piece(ctx, now, pieceSpec{
		file: "rootcrl", url: p.rootCRLURL(pckCRL.chain), kind: kindCRL,
	})
	if err != nil {
		return nil, err
	}
	c, err := newCollateral(collateralParts{
		pckCRLIssuerChain:     pckCRL.chain,
		rootCRL:               rootCRL.der,
		pckCRL:                pckCRL.der,
		tcbInfoIssuerChain:    tcb.chain,
		tcbInfo:               tcb.signed,
		tcbInfoSig:            tcb.sig,
		qeIdentityIssuerChain: qe.chain,
		qeIdentity:            qe.signed,
		qeIdentitySig:         qe.sig,
	})
	if err != nil {
		return nil, fmt.Errorf("assembling PCS collateral: %w", err)
	}
	p.mu.Lock()
	if p.mem == nil {
		p.mem = make(map[string]*Collateral)
	}
	p.mem[key] = c
	p.mu.Unlock()
	return c, nil
}

func (p *PCS) rootCRLURL(pckCRLChain string) string {
	if p.RootCRLURL != "" {
		return p.RootCRLURL
	}
	if chain, err := parseIssuerChain("pck_crl_issuer_chain", pckCRLChain); err == nil {
		for _, u := range chain[len(chain)-1].CRLDistributionPoints {
			if strings.HasPrefix(u, "https://") {
				return u
			}
		}
	}
	return DefaultRootCRLURL
}

type pieceKind int

const (
	kindTCBInfo pieceKind = iota
	kindQEIdentity
	kindCRL
)

type pieceSpec struct {
	file   string // cache file name (without extension)
	url    string
	header string // issuer chain header; empty for the root CA CRL
	kind   pieceKind
}

// cachedPiece is the on-disk form of one PCS response.
type cachedPiece struct {
	URL         string    `json:"url"`
	FetchedAt   time.Time `json:"fetched_at"`
	IssuerChain string    `json:"issuer_chain,omitempty"`
	Body        []byte    `json:"body"`
}

// piece is one decoded PCS response.
type piece struct {
	chain      string
	signed     string // exact signed JSON text (TCB info, QE identity)
	sig        []byte
	der        []byte // CRL
	nextUpdate time.Time
}

// piece returns a fresh piece: from the cache if it is there and before
// its nextUpdate, else from the network (and then caches it).
func (p *PCS) piece(ctx context.Context, now time.Time, s pieceSpec) (*piece, error) {
	if cp := p.readCache(s); cp != nil && cp.URL == s.url {
		if pc, err := decodePiece(s, cp.IssuerChain, cp.Body); err == nil && now.Before(pc.nextUpdate) {
			return pc, nil
		}
	}
	get := p.Get
	if get == nil {
		get = HTTPGetter(nil)
	}
	hdr, body, err := get(ctx, s.url)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", s.url, err)
	}
	var chain string
	if s.header != "" {
		raw := http.Header(hdr).Get(s.header)
		if raw == "" {
			return nil, fmt.Errorf("fetching %s: no %s header", s.url, s.header)
		}
		if chain, err = unescapeChain(raw); err != nil {
			return nil, fmt.Errorf("decoding %s header: %w", s.header, err)
		}
	}
	pc, err := decodePiece(s, chain, body)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", s.url, err)
	}
	p.writeCache(s, &cachedPiece{URL: s.url, FetchedAt: now.UTC(), IssuerChain: chain, Body: body})
	return pc, nil
}

// unescapeChain decodes an issuer chain header. Intel percent-encodes it
// (%20 for spaces, %2B for plus signs); a form-encoded header ('+' for
// spaces) is recognised by the absence of any literal plus in PEM's base64.
func unescapeChain(raw string) (string, error) {
	if strings.Contains(raw, "%2B") || strings.Contains(raw, "%2b") || strings.Contains(raw, "BEGIN+CERTIFICATE") {
		return url.QueryUnescape(raw)
	}
	return url.PathUnescape(raw)
}

func decodePiece(s pieceSpec, chain string, body []byte) (*piece, error) {
	pc := &piece{chain: chain}
	switch s.kind {
	case kindTCBInfo, kindQEIdentity:
		field := "tcbInfo"
		if s.kind == kindQEIdentity {
			field = "enclaveIdentity"
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, badCollateral("decoding PCS response: %v", err)
		}
		signed, ok := env[field]
		if !ok {
			return nil, badCollateral("PCS response has no %q", field)
		}
		var sigHex string
		if err := json.Unmarshal(env["signature"], &sigHex); err != nil {
			return nil, badCollateral("PCS response signature: %v", err)
		}
		sig, err := hex.DecodeString(sigHex)
		if err != nil {
			return nil, badCollateral("PCS response signature: %v", err)
		}
		pc.signed, pc.sig = string(signed), sig
		var dates struct {
			NextUpdate time.Time `json:"nextUpdate"`
		}
		if err := json.Unmarshal(signed, &dates); err != nil {
			return nil, badCollateral("reading %s nextUpdate: %v", field, err)
		}
		pc.nextUpdate = dates.NextUpdate
	case kindCRL:
		der := body
		if blk, _ := pem.Decode(body); blk != nil && blk.Type == "X509 CRL" {
			der = blk.Bytes
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, badCollateral("parsing CRL: %v", err)
		}
		pc.der, pc.nextUpdate = der, crl.NextUpdate
	}
	if pc.nextUpdate.IsZero() {
		return nil, badCollateral("%s has no nextUpdate", s.file)
	}
	return pc, nil
}

func (p *PCS) cachePath(s pieceSpec) string {
	return filepath.Join(p.CacheDir, s.file+".json")
}

func (p *PCS) readCache(s pieceSpec) *cachedPiece {
	if p.CacheDir == "" {
		return nil
	}
	b, err := os.ReadFile(p.cachePath(s))
	if err != nil || len(b) > 2*maxResponseSize {
		return nil
	}
	var cp cachedPiece
	if json.Unmarshal(b, &cp) != nil {
		return nil
	}
	return &cp
}

// writeCache stores a piece atomically. A cache that cannot be written only
// costs a refetch, so errors are dropped.
func (p *PCS) writeCache(s pieceSpec, cp *cachedPiece) {
	if p.CacheDir == "" {
		return
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return
	}
	if err := os.MkdirAll(p.CacheDir, 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(p.CacheDir, s.file+".*.tmp")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return
	}
	if os.Rename(f.Name(), p.cachePath(s)) != nil {
		os.Remove(f.Name())
	}
}
