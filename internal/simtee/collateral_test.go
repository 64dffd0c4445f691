package simtee

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/pcs"
)

// bundleOf reads collateral.json the way a verifier does: as plain JSON
// with the nine dcap-qvl fields.
func bundleOf(t *testing.T, s *Sim) collateral {
	t.Helper()
	var raw map[string]string
	if err := json.Unmarshal(s.CollateralJSON(), &raw); err != nil {
		t.Fatalf("collateral.json: %v", err)
	}
	want := []string{"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
		"tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature"}
	var got []string
	for k := range raw {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("collateral.json fields %v, want %v", got, want)
	}
	var c collateral
	if err := json.Unmarshal(s.CollateralJSON(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func chainOf(t *testing.T, pemChain string) []*x509.Certificate {
	t.Helper()
	certs, err := parseChain([]byte(pemChain))
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// verifyRaw checks a hex r ‖ s signature over body with crypto/ecdsa
// directly, independently of the package's own helpers.
func verifyRaw(t *testing.T, pub any, body, sigHex string) bool {
	t.Helper()
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("signing key is %T", pub)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature %q: %v", sigHex, err)
	}
	digest := sha256.Sum256([]byte(body))
	return ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func TestCollateralSignedAndValid(t *testing.T) {
	const certValidity, collValidity = 90 * 24 * time.Hour, 7 * 24 * time.Hour
	s := newSim(t, InitOptions{CertValidity: certValidity, CollateralValidity: collValidity})
	c := bundleOf(t, s)

	for _, chain := range []struct {
		name, pem, signerCN string
	}{
		{"tcb_info_issuer_chain", c.TCBInfoIssuerChain, cnTCBSigning},
		{"qe_identity_issuer_chain", c.QEIdentityIssuerChain, cnTCBSigning},
		{"pck_crl_issuer_chain", c.PCKCRLIssuerChain, cnPlatformCA},
	} {
		certs := chainOf(t, chain.pem)
		if len(certs) != 2 || certs[0].Subject.CommonName != chain.signerCN || !certs[1].Equal(s.Root()) {
			t.Fatalf("%s is not %q ‖ sim root", chain.name, chain.signerCN)
		}
		if err := certs[0].CheckSignatureFrom(certs[1]); err != nil {
			t.Errorf("%s: %v", chain.name, err)
		}
		if !certs[0].NotBefore.Equal(pinned) || !certs[0].NotAfter.Equal(pinned.Add(certValidity)) {
			t.Errorf("%s: signer valid %v to %v", chain.name, certs[0].NotBefore, certs[0].NotAfter)
		}
	}
	signer := chainOf(t, c.TCBInfoIssuerChain)[0]
	if !verifyRaw(t, signer.PublicKey, c.TCBInfo, c.TCBInfoSignature) {
		t.Error("tcb_info signature does not verify with the TCB signing certificate")
	}
	if !verifyRaw(t, signer.PublicKey, c.QEIdentity, c.QEIdentitySignature) {
		t.Error("qe_identity signature does not verify with the TCB signing certificate")
	}
	if verifyRaw(t, signer.PublicKey, c.TCBInfo+" ", c.TCBInfoSignature) {
		t.Error("tcb_info signature verifies over other bytes")
	}

	// TCB info, read with go-tdx-guest's own types.
	var info pcs.TcbInfo
	if err := json.Unmarshal([]byte(c.TCBInfo), &info); err != nil {
		t.Fatalf("tcb_info: %v", err)
	}
	m := s.Manifest()
	if info.ID != "TDX" || info.Version != 3 || !strings.EqualFold(info.Fmspc, m.FMSPC) || info.PceID != m.PCEID ||
		!info.IssueDate.Equal(pinned) || !info.NextUpdate.Equal(pinned.Add(collValidity)) {
		t.Errorf("tcb_info id %q v%d fmspc %s pceId %s, %v to %v", info.ID, info.Version, info.Fmspc, info.PceID, info.IssueDate, info.NextUpdate)
	}
	statuses := map[pcs.TcbComponentStatus]bool{}
	for _, l := range info.TcbLevels {
		statuses[l.TcbStatus] = true
		if len(l.Tcb.SgxTcbcomponents) != 16 || len(l.Tcb.TdxTcbcomponents) != 16 {
			t.Errorf("TCB level with %d SGX and %d TDX components", len(l.Tcb.SgxTcbcomponents), len(l.Tcb.TdxTcbcomponents))
		}
	}
	if !statuses[pcs.TcbComponentStatusUpToDate] || !statuses[pcs.TcbComponentStatusOutOfDate] {
		t.Errorf("TCB levels have statuses %v, want UpToDate and OutOfDate", statuses)
	}
	if len(info.TdxModuleIdentities) == 0 || info.TdxModuleIdentities[0].ID != "TDX_01" {
		t.Errorf("tdxModuleIdentities %+v", info.TdxModuleIdentities)
	}

	var qe pcs.EnclaveIdentity
	if err := json.Unmarshal([]byte(c.QEIdentity), &qe); err != nil {
		t.Fatalf("qe_identity: %v", err)
	}
	if qe.ID != "TD_QE" || qe.Version != 2 || len(qe.TcbLevels) == 0 || hex.EncodeToString(qe.Mrsigner.Bytes) != m.QE.MRSIGNER ||
		qe.IsvProdID != m.QE.ISVProdID || !qe.IssueDate.Equal(pinned) || !qe.NextUpdate.Equal(pinned.Add(collValidity)) {
		t.Errorf("qe_identity %+v", qe)
	}

	// CRLs: issuers, windows, signatures, nothing revoked by default.
	for _, crl := range []struct {
		name, hex string
		issuer    *x509.Certificate
	}{
		{"pck_crl", c.PCKCRL, chainOf(t, c.PCKCRLIssuerChain)[0]},
		{"root_ca_crl", c.RootCACRL, s.Root()},
	} {
		der, err := hex.DecodeString(crl.hex)
		if err != nil {
			t.Fatal(err)
		}
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("%s: %v", crl.name, err)
		}
		if rl.Issuer.String() != crl.issuer.Subject.String() || rl.CheckSignatureFrom(crl.issuer) != nil {
			t.Errorf("%s: issuer %q or signature wrong", crl.name, rl.Issuer)
		}
		if !rl.ThisUpdate.Equal(pinned) || !rl.NextUpdate.Equal(pinned.Add(collValidity)) {
			t.Errorf("%s: %v to %v", crl.name, rl.ThisUpdate, rl.NextUpdate)
		}
		if len(rl.RevokedCertificateEntries) != 0 {
			t.Errorf("%s revokes %d certificates", crl.name, len(rl.RevokedCertificateEntries))
		}
	}
}

func TestRevokedPCKInCRL(t *testing.T) {
	s := newSim(t, InitOptions{RevokePCK: true})
	der, err := hex.DecodeString(bundleOf(t, s).PCKCRL)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(s.pck.SerialNumber) != 0 {
		t.Fatalf("PCK CRL entries %+v, want the PCK serial %x", rl.RevokedCertificateEntries, s.pck.SerialNumber)
	}
	if !s.Manifest().PCKRevoked {
		t.Error("manifest does not record the revocation")
	}
}

func TestOutOfDateTCBInfo(t *testing.T) {
	s := newSim(t, InitOptions{TCBOutOfDate: true})
	var info pcs.TcbInfo
	if err := json.Unmarshal([]byte(bundleOf(t, s).TCBInfo), &info); err != nil {
		t.Fatal(err)
	}
	// The platform's own level exists and is OutOfDate.
	found := false
	for _, l := range info.TcbLevels {
		if l.Tcb.Pcesvn == s.Manifest().PCESVN {
			found = true
			if l.TcbStatus != pcs.TcbComponentStatusOutOfDate || len(l.AdvisoryIDs) == 0 {
				t.Errorf("platform level %+v", l)
			}
		}
	}
	if !found || info.TcbLevels[0].TcbStatus != pcs.TcbComponentStatusUpToDate {
		t.Errorf("levels %+v: want a newer UpToDate level first and the platform's OutOfDate", info.TcbLevels)
	}
	if s.Manifest().TCBStatus != "OutOfDate" {
		t.Errorf("manifest TCB status %q", s.Manifest().TCBStatus)
	}
}

// keyShape lists every object key path of a JSON document, so two
// documents can be compared for shape regardless of values and lengths.
func keyShape(t *testing.T, doc string) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				out[prefix+"."+k] = true
				walk(prefix+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}

// TestCollateralShapeMatchesIntel compares the simulated collateral with
// real Intel collateral (testdata, see PROVENANCE.md): the bundle, the TCB
// info and the QE identity have the same keys at every level.
func TestCollateralShapeMatchesIntel(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "dcap-qvl_tdx_quote_collateral_b0c06f000000_2025-06.json"))
	if err != nil {
		t.Fatal(err)
	}
	var intel collateral
	if err := json.Unmarshal(data, &intel); err != nil {
		t.Fatal(err)
	}
	sim := bundleOf(t, newSim(t, InitOptions{}))
	for _, doc := range []struct{ name, intel, sim string }{
		{"bundle", string(data), string(sim.bundleJSON(t))},
		{"tcb_info", intel.TCBInfo, sim.TCBInfo},
		{"qe_identity", intel.QEIdentity, sim.QEIdentity},
	} {
		want, got := keyShape(t, doc.intel), keyShape(t, doc.sim)
		for k := range want {
			if !got[k] {
				t.Errorf("%s: Intel's has %s, the simulated one does not", doc.name, k)
			}
		}
		for k := range got {
			if !want[k] {
				t.Errorf("%s: the simulated one has %s, Intel's does not", doc.name, k)
			}
		}
	}
	if len(intel.TCBInfoSignature) != len(sim.TCBInfoSignature) || len(intel.QEIdentitySignature) != len(sim.QEIdentitySignature) {
		t.Error("signature lengths differ from Intel's")
	}
}

func (c collateral) bundleJSON(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPCSFilesMatchBundle checks the PCS-format copies Init writes beside
// collateral.json.
func TestPCSFilesMatchBundle(t *testing.T) {
	s := newSim(t, InitOptions{})
	c := bundleOf(t, s)
	f := s.Manifest().Files
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(s.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var tcb pcs.TdxTcbInfo
	if err := json.Unmarshal(read(f.TCBInfo), &tcb); err != nil || tcb.Signature != c.TCBInfoSignature {
		t.Errorf("tcb-info.json: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(read(f.TCBInfo), &raw); err != nil || string(raw["tcbInfo"]) != c.TCBInfo {
		t.Error("tcb-info.json does not carry the exact signed tcb_info bytes")
	}
	if err := json.Unmarshal(read(f.QEIdentity), &raw); err != nil || string(raw["enclaveIdentity"]) != c.QEIdentity {
		t.Error("qe-identity.json does not carry the exact signed qe_identity bytes")
	}
	if hex.EncodeToString(read(f.PCKCRL)) != c.PCKCRL || hex.EncodeToString(read(f.RootCRL)) != c.RootCACRL {
		t.Error("CRL files differ from the bundle")
	}
	chain := chainOf(t, string(read(f.PCKChain)))
	if len(chain) != 3 || !chain[0].Equal(s.pck) || !chain[2].Equal(s.Root()) {
		t.Error("pck-chain.pem is not PCK ‖ platform CA ‖ root")
	}
}
