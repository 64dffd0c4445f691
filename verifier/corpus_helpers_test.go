package verifier

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/e2elab"
	imaa "github.com/latencyproof/poc/internal/maa"
	"github.com/latencyproof/poc/internal/maasim"
	"github.com/latencyproof/poc/internal/simtee"
	"github.com/latencyproof/poc/prover"
	"github.com/latencyproof/poc/verifier/dcap"
	"github.com/latencyproof/poc/verifier/maa"
)

// The hardening corpus (corpus_test.go) mutates one honest proof in every
// field and checks where each mutation is refused. This file is its world:
// the e2e lab and profiles of verify_test.go, plus what the corpus needs on
// top of them.
//
//   - Its own simulated TEE, whose collateral lives two hours (so that a
//     verifier clock 90 minutes on finds it expired while the three-hour
//     challenge is still live) and whose TCB signing and platform CA keys,
//     test keys in a temporary directory, can re-sign altered collateral.
//   - A local MAA service (internal/maasim) with a fresh signing key. The
//     simulated attester of package prover asks no MAA for a token, so
//     maaAttester does what an Azure-less TD would do: a second quote whose
//     REPORTDATA[0:32] is SHA-256 of the runtime JSON {"user-data": <report
//     data>}, sent to the service, which verifies it and signs a token. The
//     verifier checks that token's user-data against the proof and its MRTD
//     against the proof's quote. The signing key, read back through its PEM,
//     re-signs altered tokens for the policy checks a forged signature would
//     never reach.
//   - An honest base proof: two endpoints (the HTTP/2 one over two
//     connections of eight echoes, so that connections can be swapped), an
//     application binding, the MAA token; and a second honest proof of
//     another challenge, whose parts are swapped in.
//
// Re-binding (rebind) is the attacker who owns a TEE that signs whatever
// body its code produces: the simulated TEE re-attests the mutated body, so
// only the checks behind the binding can catch the mutation.
type corpusEnv struct {
	e       *e2e
	sim     *simtee.Sim
	att     *maaAttester
	maaKey  *maasim.Key
	maaPriv *rsa.PrivateKey
	maaURL  string
	maaKeys *maa.KeySet
	coll    *dcap.Collateral
	appKey  []byte
	policy  *Policy
	// now is the verifier's pinned clock: a minute after the base proof's
	// challenge was issued.
	now   time.Time
	base  *evidence.Proof
	other *evidence.Proof
	// kernel says that every stamp of the base proof carries the kernel's
	// time.
	kernel bool
}

// kernelTimes reports whether every stamp of a proof carries a kernel time.
func kernelTimes(p *evidence.Proof) bool {
	for _, pr := range p.Body.Probes {
		for _, c := range pr.Conns {
			for _, st := range slices.Concat(c.C2S, c.S2C) {
				if st.KernelNs <= 0 {
					return false
				}
			}
		}
	}
	return true
}

var (
	corpusOnce sync.Once
	corpusVal  *corpusEnv
	corpusErr  error
)

// corpusSetup builds the corpus world once per test binary.
func corpusSetup(t *testing.T) *corpusEnv {
	t.Helper()
	e := setup(t)
	corpusOnce.Do(func() { corpusVal, corpusErr = newCorpusEnv(e) })
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpusVal
}

// corpusChallengeTTL outlives the collateral (two hours from an hour ago),
// so that an expired-collateral entry is not refused as an expired
// challenge first.
const corpusChallengeTTL = 3 * time.Hour

func newCorpusEnv(e *e2e) (*corpusEnv, error) {
	dir := filepath.Join(e.Dir, "corpus")
	sim, err := simtee.Init(filepath.Join(dir, "sim"), simtee.InitOptions{Now: time.Now().Add(-time.Hour), CollateralValidity: 2 * time.Hour})
	if err != nil {
		return nil, err
	}
	key, err := maasim.GenerateKey()
	if err != nil {
		return nil, err
	}
	// The service lives until the test binary exits (TestMain, in
	// verify_test.go, closes only the lab). Its clock stands still, a
	// little before every challenge of the corpus: however long the run
	// takes, no token is issued after the verifier's pinned clock.
	tokenTime := time.Now().Add(-time.Second).Truncate(time.Second)
	svc, err := maasim.Start(maasim.Config{Key: key, Quotes: maasim.DCAPVerifier{Roots: sim.RootPool()}, Now: func() time.Time { return tokenTime }})
	if err != nil {
		return nil, err
	}
	keyPEM, err := key.MarshalPEM()
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("MAA simulator key: no PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("MAA simulator key is %T", parsed)
	}
	keys, err := maa.ParseKeySet(key.JWKS())
	if err != nil {
		return nil, err
	}
	coll, err := dcap.ParseCollateral(sim.CollateralJSON())
	if err != nil {
		return nil, err
	}
	app := sha256.Sum256([]byte("corpus workload public key"))
	pol := *e.policy
	pol.MAA = &maa.Policy{Issuer: svc.URL()}
	pol.RequireMAA = true
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	c := &corpusEnv{
		e: e, sim: sim, maaKey: key, maaPriv: priv, maaURL: svc.URL(), maaKeys: keys, coll: coll,
		appKey: app[:], policy: &pol,
		att: &maaAttester{sim: &prover.Sim{TEEHierarchy: sim}, url: svc.URL(), client: &imaa.Client{HTTPClient: svc.Client()}},
	}
	// The lab shares two cores with the rest of the run: an honest proof
	// is refused now and then, and the kernel's receive timestamps are
	// missing from a connection now and then. Up to five tries for an
	// accepted proof with kernel times on every stamp; failing that, an
	// accepted one without (the entries that need kernel times skip).
	var lastErr error
	for try := 0; try < 5 && (c.base == nil || !c.kernel); try++ {
		p, err := c.prove()
		if err != nil {
			return nil, err
		}
		now := time.Unix(p.Body.Challenge.IssuedUnix, 0).Add(time.Minute)
		o := c.options()
		o.Now = func() time.Time { return now }
		if _, lastErr = Verify(context.Background(), p, c.pol(), o); lastErr == nil && (c.base == nil || kernelTimes(p)) {
			c.base, c.now, c.kernel = p, now, kernelTimes(p)
		}
	}
	if c.base == nil {
		return nil, fmt.Errorf("no honest corpus proof was accepted in five tries: %w", lastErr)
	}
	if c.other, err = c.prove(); err != nil {
		return nil, err
	}
	return c, nil
}

// prove answers a fresh challenge from the westeurope vantage.
func (c *corpusEnv) prove() (*evidence.Proof, error) {
	ch, err := c.e.key.Issue("corpus verifier", time.Now(), corpusChallengeTTL)
	if err != nil {
		return nil, err
	}
	o, err := c.e.ProverOptions(e2elab.Vantage)
	if err != nil {
		return nil, err
	}
	if len(o.Endpoints) != 2 {
		return nil, fmt.Errorf("the e2e world has %d westeurope endpoints, the corpus needs 2", len(o.Endpoints))
	}
	for i, ep := range o.Endpoints {
		if ep.Echo.Method == evidence.MethodH2Ping {
			o.Endpoints[i].Echo.EchoesPerConn = 4 // two connections of four echoes
		}
	}
	slices.SortFunc(o.Endpoints, func(a, b datasets.Endpoint) int { return strings.Compare(a.Echo.Method, b.Echo.Method) })
	o.Echoes, o.Attester, o.AppBinding = 8, c.att, c.appKey
	return prover.Prove(context.Background(), ch, o)
}

// pol returns a copy of the corpus policy that an entry may change.
func (c *corpusEnv) pol() *Policy {
	p := *c.policy
	m := *c.policy.MAA
	p.MAA = &m
	p.TEEs = slices.Clone(p.TEEs)
	p.Counter.Sources = slices.Clone(p.Counter.Sources)
	return &p
}

// options returns the corpus verifier's options: the pinned clock, a fresh
// nonce store, the corpus TEE's root and collateral, the MAA keys, and the
// application binding the verifier expects.
func (c *corpusEnv) options() Options {
	o := c.e.options()
	o.Collateral = dcap.Bundle{Fixed: c.coll}
	o.SimRoots = []*x509.Certificate{c.sim.Root()}
	o.MAAKeys = c.maaKeys
	o.AppBinding = slices.Clone(c.appKey)
	now := c.now
	o.Now = func() time.Time { return now }
	return o
}

// rebind re-attests a mutated body: a fresh quote over its report data and
// a fresh MAA token vouching for it.
func (c *corpusEnv) rebind(p *evidence.Proof) error {
	rd, err := evidence.ReportData(&p.Body)
	if err != nil {
		return fmt.Errorf("re-binding: %w", err)
	}
	att, err := c.att.Attest(context.Background(), rd)
	if err != nil {
		return fmt.Errorf("re-binding: %w", err)
	}
	p.Attestation = *att
	return nil
}

// maaAttester is the simulated TEE with a token from the local MAA service
// (see corpusEnv).
type maaAttester struct {
	sim    *prover.Sim
	url    string
	client *imaa.Client
}

func (a *maaAttester) TEE() string { return evidence.TEESim }

func (a *maaAttester) Attest(ctx context.Context, rd [evidence.ReportDataSize]byte) (*evidence.Attestation, error) {
	att, err := a.sim.Attest(ctx, rd)
	if err != nil {
		return nil, err
	}
	runtime, err := json.Marshal(map[string]string{"user-data": hex.EncodeToString(rd[:])})
	if err != nil {
		return nil, err
	}
	var qrd [evidence.ReportDataSize]byte
	h := sha256.Sum256(runtime)
	copy(qrd[:], h[:])
	quote, err := a.sim.TEEHierarchy.Quote(qrd, a.sim.TD)
	if err != nil {
		return nil, err
	}
	tok, err := a.client.Attest(ctx, a.url, imaa.Request{Quote: quote, RuntimeData: runtime})
	if err != nil {
		return nil, err
	}
	att.MAAToken = tok
	return att, nil
}

// --- copying and re-hashing proofs ---------------------------------------

// copyProof deep-copies a proof through JSON without validating it, so
// that invalid mutations copy too.
func copyProof(p *evidence.Proof) (*evidence.Proof, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var q evidence.Proof
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// rehash makes the body commit to the sessions' bytes as they are now:
// the mutation of a session's bytes then survives the hash check and the
// binding, once re-bound, and must be caught by the transcript checks.
func rehash(p *evidence.Proof) {
	for _, s := range p.Sessions {
		if int(s.Probe) >= len(p.Body.Probes) || int(s.Conn) >= len(p.Body.Probes[s.Probe].Conns) {
			continue
		}
		c := &p.Body.Probes[s.Probe].Conns[s.Conn]
		c.C2SHash, c.S2CHash, c.KeyLogHash = sha256.Sum256(s.C2S), sha256.Sum256(s.S2C), sha256.Sum256(s.KeyLog)
	}
}

// session returns the session of a connection; it panics if there is none,
// which is a broken corpus entry, not a verifier bug.
func session(p *evidence.Proof, probe, conn uint32) *evidence.Session {
	s := p.Session(probe, conn)
	if s == nil {
		panic(fmt.Sprintf("corpus: the proof has no session for probe %d conn %d", probe, conn))
	}
	return s
}

// --- TLS records ---------------------------------------------------------

// tlsRecord is one record of a recorded stream: its offset, its length with
// the 5-byte header, and its content type.
type tlsRecord struct {
	off, n int
	typ    byte
}

// records splits a stream into TLS records (it stops at a truncated one).
func records(stream []byte) []tlsRecord {
	var out []tlsRecord
	for off := 0; off+5 <= len(stream); {
		n := 5 + (int(stream[off+3])<<8 | int(stream[off+4]))
		if off+n > len(stream) {
			break
		}
		out = append(out, tlsRecord{off: off, n: n, typ: stream[off]})
		off += n
	}
	return out
}

// recordsOf returns a stream's records of one content type.
func recordsOf(stream []byte, typ byte) []tlsRecord {
	var out []tlsRecord
	for _, r := range records(stream) {
		if r.typ == typ {
			out = append(out, r)
		}
	}
	return out
}

const (
	recHandshake = 22
	recAppData   = 23
)

// swapRecords exchanges two adjacent records of a stream.
func swapRecords(stream []byte, a, b tlsRecord) []byte {
	if a.off+a.n != b.off {
		panic("corpus: records not adjacent")
	}
	out := slices.Clone(stream[:a.off])
	out = append(out, stream[b.off:b.off+b.n]...)
	out = append(out, stream[a.off:a.off+a.n]...)
	return append(out, stream[b.off+b.n:]...)
}

// --- key logs --------------------------------------------------------------

// keyLogLabels are the NSS labels of the four TLS 1.3 secrets.
var keyLogLabels = []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}

// editKeyLogLine rewrites the line of a key log with the given label; edit
// returns the new line, or "" to drop it.
func editKeyLogLine(log []byte, label string, edit func(fields []string) string) []byte {
	lines := strings.Split(string(log), "\n")
	found := false
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == label {
			found = true
			if l = edit(f); l == "" {
				continue
			}
		}
		out = append(out, l)
	}
	if !found {
		panic("corpus: key log has no " + label + " line")
	}
	return []byte(strings.Join(out, "\n"))
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

// --- quotes ----------------------------------------------------------------

// Offsets in a TDX v4 quote from the simulated TEE (Intel TDX DCAP Quoting
// Library API, A.3; verifier/dcap/parse.go has the same layout): header,
// TD quote body, signature data (ECDSA signature, attestation key, QE
// certification data: QE report, its signature, authentication data, then
// the PEM PCK chain).
const (
	qVersion       = 0
	qAKType        = 2
	qTEEType       = 4
	qQEVendorID    = 12
	qUserData      = 28
	qBody          = 48
	qTDAttributes  = qBody + 120
	qMRTD          = qBody + 136
	qReportData    = qBody + 520
	qSigDataLen    = 632
	qSignature     = 636
	qAttestKey     = qSignature + 64
	qCertDataType  = qAttestKey + 64
	qQEReport      = qCertDataType + 6
	qQEReportData  = qQEReport + 320
	qQEReportSig   = qQEReport + 384
	qQEAuthLen     = qQEReportSig + 64
	qQEAuthData    = qQEAuthLen + 2
	qPCKCertHeader = qQEAuthData + 32
	qPCKChainPEM   = qPCKCertHeader + 6
)

// checkQuoteLayout checks the offsets above against a real simulated quote,
// so that an entry flips the byte it says it flips.
func checkQuoteLayout(q []byte, rd [evidence.ReportDataSize]byte) error {
	switch {
	case len(q) < qPCKChainPEM+64:
		return fmt.Errorf("quote of %d bytes", len(q))
	case !bytes.Equal(q[qReportData:qReportData+64], rd[:]):
		return errors.New("REPORTDATA is not where the corpus expects it")
	case q[qCertDataType] != 6 || q[qPCKCertHeader] != 5:
		return errors.New("certification data types are not where the corpus expects them")
	case !bytes.HasPrefix(q[qPCKChainPEM:], []byte("-----BEGIN CERTIFICATE-----")):
		return errors.New("the PCK chain is not where the corpus expects it")
	}
	return nil
}

// --- collateral ------------------------------------------------------------

// simKey reads a PKCS #8 key of the corpus's simulated TEE (a test key in a
// temporary directory).
func (c *corpusEnv) simKey(name string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(c.sim.Dir(), name))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %T", name, k)
	}
	return ek, nil
}

func (c *corpusEnv) simCert(name string) (*x509.Certificate, error) {
	b, err := os.ReadFile(filepath.Join(c.sim.Dir(), name))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", name)
	}
	return x509.ParseCertificate(block.Bytes)
}

// collateralFields is the collateral bundle's JSON (every field a string).
func (c *corpusEnv) collateralFields() (map[string]string, error) {
	m := map[string]string{}
	if err := json.Unmarshal(c.sim.CollateralJSON(), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func encodeCollateral(m map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(m)
	return buf.Bytes(), err
}

// signCollateralJSON signs exact JSON text as Intel signs TCB info and QE
// identity: ECDSA P-256 over SHA-256, r ‖ s in hex.
func signCollateralJSON(key *ecdsa.PrivateKey, body string) (string, error) {
	d := sha256.Sum256([]byte(body))
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return hex.EncodeToString(sig), nil
}

// editTCBInfo returns the collateral with its TCB info text rewritten by re
// → repl, re-signed by the TCB signing key when resign is set.
func (c *corpusEnv) editTCBInfo(field string, re *regexp.Regexp, repl string, resign bool) ([]byte, error) {
	m, err := c.collateralFields()
	if err != nil {
		return nil, err
	}
	old := m[field]
	m[field] = re.ReplaceAllString(old, repl)
	if m[field] == old {
		return nil, fmt.Errorf("corpus: %s has no match for %v", field, re)
	}
	if resign {
		key, err := c.simKey("tcb-signing.key")
		if err != nil {
			return nil, err
		}
		if m[field+"_signature"], err = signCollateralJSON(key, m[field]); err != nil {
			return nil, err
		}
	}
	return encodeCollateral(m)
}

// revokedPCKCollateral returns the collateral with a PCK CRL, re-issued by
// the platform CA, that lists the PCK certificate.
func (c *corpusEnv) revokedPCKCollateral() ([]byte, error) {
	m, err := c.collateralFields()
	if err != nil {
		return nil, err
	}
	der, err := hex.DecodeString(m["pck_crl"])
	if err != nil {
		return nil, err
	}
	old, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	ca, err := c.simCert("platform-ca.pem")
	if err != nil {
		return nil, err
	}
	caKey, err := c.simKey("platform-ca.key")
	if err != nil {
		return nil, err
	}
	pck, err := c.simCert("pck.pem")
	if err != nil {
		return nil, err
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(2), ThisUpdate: old.ThisUpdate, NextUpdate: old.NextUpdate,
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: pck.SerialNumber, RevocationTime: old.ThisUpdate}},
	}, ca, caKey)
	if err != nil {
		return nil, err
	}
	m["pck_crl"] = hex.EncodeToString(crl)
	return encodeCollateral(m)
}

// failingCollateral is a collateral source that is down.
type failingCollateral struct{}

func (failingCollateral) Collateral(context.Context, [6]byte, string) (*dcap.Collateral, error) {
	return nil, fmt.Errorf("%w: PCS unreachable (corpus)", dcap.ErrCouldNotCheck)
}

// --- MAA tokens ------------------------------------------------------------

// tokenParts splits a compact JWS into its decoded header and payload and
// its signature segment.
func tokenParts(tok string) (header, payload []byte, sig string, err error) {
	seg := strings.Split(tok, ".")
	if len(seg) != 3 {
		return nil, nil, "", fmt.Errorf("token has %d segments", len(seg))
	}
	if header, err = base64.RawURLEncoding.DecodeString(seg[0]); err != nil {
		return nil, nil, "", err
	}
	if payload, err = base64.RawURLEncoding.DecodeString(seg[1]); err != nil {
		return nil, nil, "", err
	}
	return header, payload, seg[2], nil
}

// jsonObject decodes a JSON object keeping numbers exact.
func jsonObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	return m, err
}

// rawToken assembles a compact JWS from header and payload bytes and a
// signature segment.
func rawToken(header, payload []byte, sig string) string {
	return base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + sig
}

// signToken signs header and payload with an RSA key, RS256.
func signToken(key *rsa.PrivateKey, header, payload []byte) (string, error) {
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// editToken rewrites a token's header and claims; with resign the MAA
// service's own key signs the result (what only MAA could do), else the
// old signature is kept.
func (c *corpusEnv) editToken(tok string, edit func(header, claims map[string]any), resign bool) (string, error) {
	hb, pb, sig, err := tokenParts(tok)
	if err != nil {
		return "", err
	}
	h, err := jsonObject(hb)
	if err != nil {
		return "", err
	}
	cl, err := jsonObject(pb)
	if err != nil {
		return "", err
	}
	edit(h, cl)
	if hb, err = json.Marshal(h); err != nil {
		return "", err
	}
	if pb, err = json.Marshal(cl); err != nil {
		return "", err
	}
	if resign {
		return signToken(c.maaPriv, hb, pb)
	}
	return rawToken(hb, pb, sig), nil
}

// --- coverage: leaf fields of the proof ------------------------------------

var (
	hashType  = reflect.TypeOf(evidence.Hash{})
	bytesType = reflect.TypeOf([]byte(nil))
)

// leafPaths lists the JSON path of every leaf field of t under prefix:
// lists of structures are written "name[]", their fields below them; any
// other list (of bytes, numbers, byte strings) is a leaf itself.
func leafPaths(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == hashType || t == bytesType:
		out[prefix] = true
	case t.Kind() == reflect.Slice:
		el := t.Elem()
		for el.Kind() == reflect.Pointer {
			el = el.Elem()
		}
		if el.Kind() == reflect.Struct && el != hashType {
			leafPaths(el, prefix+"[]", out)
		} else {
			out[prefix] = true
		}
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			leafPaths(f.Type, p, out)
		}
	default:
		out[prefix] = true
	}
}

// proofLeaves is every leaf path of a proof document.
func proofLeaves() map[string]bool {
	m := map[string]bool{}
	leafPaths(reflect.TypeOf(evidence.Proof{}), "", m)
	return m
}

// changedLeaves reports the leaf paths (of leaves) whose values differ
// between two proofs. Elements of lists of structures are compared index by
// index; elements only one side has are not counted (dropping a probe
// changes none of its fields), but an object member only one side has is
// (adding Azure evidence sets each of its fields).
func changedLeaves(a, b *evidence.Proof, leaves map[string]bool) (map[string]bool, error) {
	var av, bv any
	for _, x := range []struct {
		p   *evidence.Proof
		dst *any
	}{{a, &av}, {b, &bv}} {
		raw, err := json.Marshal(x.p)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(x.dst); err != nil {
			return nil, err
		}
	}
	out := map[string]bool{}
	diffJSON(av, bv, "", leaves, out)
	return out, nil
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func diffJSON(a, b any, path string, leaves, out map[string]bool) {
	if leaves[path] {
		if !reflect.DeepEqual(a, b) {
			out[path] = true
		}
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok || bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			av, ain := am[k]
			bv, bin := bm[k]
			switch {
			case ain && bin:
				diffJSON(av, bv, joinPath(path, k), leaves, out)
			case ain:
				allLeaves(av, joinPath(path, k), leaves, out)
			default:
				allLeaves(bv, joinPath(path, k), leaves, out)
			}
		}
		return
	}
	al, _ := a.([]any)
	bl, _ := b.([]any)
	for i := 0; i < len(al) && i < len(bl); i++ {
		diffJSON(al[i], bl[i], path+"[]", leaves, out)
	}
}

func allLeaves(v any, path string, leaves, out map[string]bool) {
	if leaves[path] {
		out[path] = true
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			allLeaves(e, joinPath(path, k), leaves, out)
		}
	case []any:
		for _, e := range x {
			allLeaves(e, path+"[]", leaves, out)
		}
	}
}

// --- the corpus as files ---------------------------------------------------

// corpusDir holds the corpus as files: the honest proof and everything a
// verifier needs to check it offline at the pinned time (certificates,
// public keys, collateral, policy, profiles, catalog, and the challenge key:
// a TEST-ONLY secret made for the corpus, which authenticates nothing
// else), then every mutated proof and the manifest of expected refusals.
// FuzzVerify seeds from it.
const corpusDir = "testdata/corpus"

// corpusContext is corpusDir/context.json: how to verify the files.
type corpusContext struct {
	Comment string `json:"comment"`
	// ChallengeKeyTestOnly is the corpus verifier's challenge key, hex. A
	// test key generated for this corpus: it protects nothing.
	ChallengeKeyTestOnly string `json:"challenge_key_hex_TEST_ONLY"`
	// VerifyAtUnix is the verifier's pinned clock.
	VerifyAtUnix int64  `json:"verify_at_unix"`
	AppBinding   string `json:"app_binding_hex"`
	Policy       string `json:"policy"`
	SimRoot      string `json:"sim_root"`
	LabCA        string `json:"lab_ca"`
	MAAJWKS      string `json:"maa_jwks"`
	Collateral   string `json:"collateral"`
	Profiles     string `json:"profiles"`
	Catalog      string `json:"catalog"`
	Base         string `json:"base"`
}

// writeCorpusContext writes the verifier's side of the corpus into dir.
func (c *corpusEnv) writeCorpusContext(dir string) error {
	files := map[string][]byte{}
	pol, err := json.MarshalIndent(c.policy, "", "  ")
	if err != nil {
		return err
	}
	files["policy.json"] = pol
	files["sim-root.pem"] = c.sim.RootPEM()
	files["lab-ca.pem"] = []byte(c.e.Lab.State.CAPEM)
	files["maa-jwks.json"] = c.maaKey.JWKS()
	files["collateral.json"] = c.sim.CollateralJSON()
	var prof bytes.Buffer
	if err := profile.Write(&prof, c.e.Profiles); err != nil {
		return err
	}
	files["profiles.json"] = prof.Bytes()
	cat, err := json.MarshalIndent(c.e.Lab.State.Catalog, "", "  ")
	if err != nil {
		return err
	}
	files["catalog.json"] = cat
	base, err := json.Marshal(c.base)
	if err != nil {
		return err
	}
	files["base.json"] = base
	ctx := corpusContext{
		Comment:              "The verifier side of the poc hardening corpus (verifier/corpus_test.go); regenerate with: go test ./verifier -run TestCorpus -update. Certificates and public keys only, except the challenge key, a TEST-ONLY key made for this corpus.",
		ChallengeKeyTestOnly: hex.EncodeToString(c.e.key.secret[:]),
		VerifyAtUnix:         c.now.Unix(),
		AppBinding:           hex.EncodeToString(c.appKey),
		Policy:               "policy.json", SimRoot: "sim-root.pem", LabCA: "lab-ca.pem", MAAJWKS: "maa-jwks.json",
		Collateral: "collateral.json", Profiles: "profiles.json", Catalog: "catalog.json", Base: "base.json",
	}
	cb, err := json.MarshalIndent(ctx, "", "  ")
	if err != nil {
		return err
	}
	files["context.json"] = cb
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fileVerifier is a verifier configured from corpusDir.
type fileVerifier struct {
	policy *Policy
	opts   Options
	base   []byte
	body   []byte // Encode(base body)
}

// loadCorpusContext reads corpusDir's context. Missing files skip the
// caller's test: the corpus has not been generated.
func loadCorpusContext(t testing.TB, dir string) *fileVerifier {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("%s: no corpus files (go test ./verifier -run TestCorpus -update writes them)", filepath.Join(dir, name))
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var ctx corpusContext
	if err := json.Unmarshal(read("context.json"), &ctx); err != nil {
		t.Fatal(err)
	}
	secret, err := hex.DecodeString(ctx.ChallengeKeyTestOnly)
	if err != nil || len(secret) != KeySize {
		t.Fatalf("context: challenge key: %v", err)
	}
	key := &ChallengeKey{}
	copy(key.secret[:], secret)
	pol, err := ReadPolicy(bytes.NewReader(read(ctx.Policy)))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(read(ctx.SimRoot))
	if block == nil {
		t.Fatal("context: sim root: no PEM block")
	}
	simRoot, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	labCA := x509.NewCertPool()
	if !labCA.AppendCertsFromPEM(read(ctx.LabCA)) {
		t.Fatal("context: lab CA: no certificate")
	}
	keys, err := maa.ParseKeySet(read(ctx.MAAJWKS))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := dcap.ParseCollateral(read(ctx.Collateral))
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Read(bytes.NewReader(read(ctx.Profiles)))
	if err != nil {
		t.Fatalf("context: profiles: %v (regenerate the corpus if the profile format changed)", err)
	}
	cat, err := datasets.ReadCatalog(bytes.NewReader(read(ctx.Catalog)))
	if err != nil {
		t.Fatal(err)
	}
	app, err := hex.DecodeString(ctx.AppBinding)
	if err != nil {
		t.Fatal(err)
	}
	base := read(ctx.Base)
	bp, err := evidence.Decode(bytes.NewReader(base))
	if err != nil {
		t.Fatalf("context: base proof: %v", err)
	}
	body, err := evidence.Encode(&bp.Body)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(ctx.VerifyAtUnix, 0)
	return &fileVerifier{
		policy: pol, base: base, body: body,
		opts: Options{
			ChallengeKey: key, Collateral: dcap.Bundle{Fixed: coll}, SimRoots: []*x509.Certificate{simRoot},
			MAAKeys: keys, Profiles: prof, Catalog: cat, EndpointRoots: labCA, AppBinding: app,
			Now: func() time.Time { return at },
		},
	}
}

// options returns the file verifier's options with a fresh nonce store.
func (f *fileVerifier) options() Options {
	o := f.opts
	o.Nonces = NewMemoryNonces()
	return o
}

// decodeAndVerify is the whole pipeline a program runs on a proof file, as
// cmd/poc does: a document that does not decode is refused at the proof
// stage as refused-crypto.
func decodeAndVerify(data []byte, pol *Policy, o Options) (*Result, error) {
	p, err := evidence.Decode(bytes.NewReader(data))
	if err != nil {
		se := &StageError{Stage: StageProof, Outcome: RefusedCrypto, Err: err}
		return &Result{Outcome: RefusedCrypto, Checks: []Check{{Stage: StageProof, Detail: err.Error()}}}, se
	}
	return Verify(context.Background(), p, pol, o)
}

// sortedKeys returns a set's members in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
