package dcap

import (
	"crypto/x509"
	"errors"
	"testing"
)

// Tests on the simulated hierarchy of fake_test.go.

func TestSimulatedQuoteVerifies(t *testing.T) {
	f := newFakeDCAP(t, defaultFakeConfig())
	rd := [64]byte{0: 0xde, 63: 0xad}
	res, err := Verify(t.Context(), f.quote(t, rd), f.options(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.TCBStatus != StatusUpToDate || res.ReportDataBytes() != rd || !res.TDAttributes.SEPTVEDisable {
		t.Errorf("result %+v", res)
	}
	if err := (&Policy{RequireSEPTVEDisable: true}).Check(res); err != nil {
		t.Error(err)
	}
}

// TestSimulatedRootNeedsExplicitTrust: a quote and collateral from a local
// hierarchy named exactly like Intel's are refused unless its root is put
// in Options.Roots, and a trusted simulated root does not let simulated
// collateral vouch for a real quote (or the reverse).
func TestSimulatedRootNeedsExplicitTrust(t *testing.T) {
	f := newFakeDCAP(t, defaultFakeConfig())
	quote := f.quote(t, [64]byte{})
	opts := f.options(t)
	opts.Roots = nil
	if _, err := Verify(t.Context(), quote, opts); !errors.Is(err, ErrPCKChain) {
		t.Errorf("simulated quote with default roots: %v", err)
	}
	both := []*x509.Certificate{IntelRootCA(), f.root}
	// Real quote, simulated collateral.
	_, err := Verify(t.Context(), quoteBytes(t, "teekit_tdx-v4-azure.v4.bin"), Options{Roots: both, Collateral: Bundle{Fixed: f.collateral(t)}, At: at2025oct})
	if !errors.Is(err, ErrCollateralSignature) {
		t.Errorf("real quote with simulated collateral: %v", err)
	}
	// Simulated quote, real collateral.
	_, err = Verify(t.Context(), quote, Options{Roots: both, Collateral: bundle(t, coll0080), At: at2025oct})
	if !errors.Is(err, ErrCollateralSignature) {
		t.Errorf("simulated quote with real collateral: %v", err)
	}
	// Both roots trusted, each with its own collateral: fine.
	if _, err := Verify(t.Context(), quote, Options{Roots: both, Collateral: Bundle{Fixed: f.collateral(t)}, At: fakeNow}); err != nil {
		t.Errorf("simulated quote, simulated collateral, both roots: %v", err)
	}
}

func TestSimulatedRevocation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*fakeConfig)
		stage string
		want  error
	}{
		{"PCK leaf on the PCK CRL", func(c *fakeConfig) { c.revokeLeaf = true }, StageRevocation, ErrRevoked},
		// The PCK CA also signs the PCK CRL: revoking it voids the collateral.
		{"PCK CA on the root CA CRL", func(c *fakeConfig) { c.revokeCA = true }, StageCollateral, ErrRevoked},
		{"quote's PCK CA certificate on the root CA CRL", func(c *fakeConfig) { c.quoteCAReissued, c.revokeReissued = true, true }, StageRevocation, ErrRevoked},
		{"re-issued PCK CA certificate, not revoked", func(c *fakeConfig) { c.quoteCAReissued = true }, "", nil},
		{"TCB signer on the root CA CRL", func(c *fakeConfig) { c.revokeSigner = true }, StageCollateral, ErrRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultFakeConfig()
			tc.cfg(&cfg)
			f := newFakeDCAP(t, cfg)
			res, err := Verify(t.Context(), f.quote(t, [64]byte{}), f.options(t))
			if tc.want == nil {
				if err != nil || res.TCBStatus != StatusUpToDate {
					t.Fatalf("Verify = %v", err)
				}
				return
			}
			var se *StageError
			if res != nil || !errors.As(err, &se) || se.Stage != tc.stage || !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want stage %s, %v", res != nil, err, tc.stage, tc.want)
			}
		})
	}
}

// TestSimulatedPCKCRLOfOtherCA: a PCK CRL issued by another CA than the
// leaf's cannot say whether the leaf is revoked.
func TestSimulatedPCKCRLOfOtherCA(t *testing.T) {
	f := newFakeDCAP(t, defaultFakeConfig())
	opts := f.options(t)
	c := opts.Collateral.(Bundle).Fixed
	other, err := x509.ParseRevocationList(c.rootCRLDER) // issued by the root, not the PCK CA
	if err != nil {
		t.Fatal(err)
	}
	c.pckCRL = other // bypass the signature check: test the issuer match itself
	if err := c.checkRevocation(mustParse(t, f.quote(t, [64]byte{}))); !errors.Is(err, ErrCouldNotCheck) {
		t.Errorf("checkRevocation = %v", err)
	}
}

func mustParse(t *testing.T, b []byte) *Quote {
	t.Helper()
	q, err := ParseQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestSimulatedStatuses drives each Intel status end to end through Verify.
func TestSimulatedStatuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*fakeConfig)
		want TCBStatus
	}{
		{"up to date", func(c *fakeConfig) {}, StatusUpToDate},
		{"SW hardening", func(c *fakeConfig) { c.levels[0].TCBStatus = StatusSWHardeningNeeded }, StatusSWHardeningNeeded},
		{"configuration", func(c *fakeConfig) { c.levels[0].TCBStatus = StatusConfigurationNeeded }, StatusConfigurationNeeded},
		{"configuration and SW hardening", func(c *fakeConfig) { c.levels[0].TCBStatus = StatusConfigurationAndSWHardeningNeeded }, StatusConfigurationAndSWHardeningNeeded},
		{"platform out of date", func(c *fakeConfig) { c.pckComponents[0] = 6 }, StatusOutOfDate},
		{"platform out of date, configuration", func(c *fakeConfig) {
			c.levels[1].TCBStatus = StatusOutOfDateConfigurationNeeded
			c.pckComponents[0] = 6
		}, StatusOutOfDateConfigurationNeeded},
		{"platform revoked", func(c *fakeConfig) { c.levels[0].TCBStatus = StatusRevoked }, StatusRevoked},
		{"module out of date", func(c *fakeConfig) { c.teeTCBSVN[0] = 3 }, StatusOutOfDate},
		{"module out of date, configuration", func(c *fakeConfig) {
			c.teeTCBSVN[0] = 3
			c.levels[0].TCBStatus = StatusConfigurationNeeded
		}, StatusOutOfDateConfigurationNeeded},
		{"module revoked", func(c *fakeConfig) { c.modules[0].TCBLevels[0].TCBStatus = StatusRevoked }, StatusRevoked},
		{"QE out of date", func(c *fakeConfig) {
			c.qeISVSVN = 3
			c.qeLevels = append(c.qeLevels, moduleLevel(2, StatusOutOfDate))
		}, StatusOutOfDate},
		{"QE revoked", func(c *fakeConfig) { c.qeLevels[0].TCBStatus = StatusRevoked }, StatusRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultFakeConfig()
			tc.cfg(&cfg)
			f := newFakeDCAP(t, cfg)
			res, err := Verify(t.Context(), f.quote(t, [64]byte{}), f.options(t))
			if err != nil {
				t.Fatal(err)
			}
			if res.TCBStatus != tc.want {
				t.Errorf("status %s, want %s", res.TCBStatus, tc.want)
			}
			// The default policy accepts only UpToDate; Revoked never.
			if err := (&Policy{}).Check(res); (err == nil) != (tc.want == StatusUpToDate) {
				t.Errorf("default policy: %v", err)
			}
			all := &Policy{AcceptedTCBStatuses: []TCBStatus{StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded,
				StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate, StatusOutOfDateConfigurationNeeded}}
			if err := all.Check(res); (err == nil) != (tc.want != StatusRevoked) {
				t.Errorf("permissive policy: %v", err)
			}
		})
	}
}

func TestSimulatedTCBFailures(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*fakeConfig)
		stage string
		want  error
	}{
		{"no level", func(c *fakeConfig) { c.pceSVN = 3 }, StageTCB, ErrTCBLevelNotFound},
		{"unknown module version", func(c *fakeConfig) { c.teeTCBSVN[1] = 2 }, StageTCB, ErrTDXModuleMismatch},
		{"foreign module signer", func(c *fakeConfig) { c.mrSignerSeam[0] = 1 }, StageTCB, ErrTDXModuleMismatch},
		{"QE below every level", func(c *fakeConfig) { c.qeISVSVN = 1 }, StageTCB, ErrTCBLevelNotFound},
		{"SGX TCB info", func(c *fakeConfig) { c.tcbInfoID = "SGX" }, StageCollateral, ErrTCBInfoMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultFakeConfig()
			tc.cfg(&cfg)
			f := newFakeDCAP(t, cfg)
			res, err := Verify(t.Context(), f.quote(t, [64]byte{}), f.options(t))
			var se *StageError
			if res != nil || !errors.As(err, &se) || se.Stage != tc.stage || !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want stage %s, %v", res != nil, err, tc.stage, tc.want)
			}
		})
	}
}

func TestCollateralVerdictIsCachedPerAnchorSet(t *testing.T) {
	f := newFakeDCAP(t, defaultFakeConfig())
	quote := f.quote(t, [64]byte{})
	opts := f.options(t)
	for range 3 {
		if _, err := Verify(t.Context(), quote, opts); err != nil {
			t.Fatal(err)
		}
	}
	c := opts.Collateral.(Bundle).Fixed
	if len(c.verified) != 1 {
		t.Errorf("%d cached verdicts, want 1", len(c.verified))
	}
	// Another anchor set is judged afresh, and fails: the collateral does
	// not chain to the Intel root.
	opts.Roots = []*x509.Certificate{IntelRootCA()}
	if v := c.signatures(mustAnchors(t, opts)); !errors.Is(v.err, ErrCollateralSignature) {
		t.Errorf("verdict for Intel root: %v", v.err)
	}
	if len(c.verified) != 2 {
		t.Errorf("%d cached verdicts, want 2", len(c.verified))
	}
}

func mustAnchors(t *testing.T, o Options) *anchors {
	a, err := o.anchors()
	if err != nil {
		t.Fatal(err)
	}
	return a
}
