package dcap

import (
	"errors"
	"slices"
	"testing"
)

// realTCBInfo loads a signed TDX TCB info in PCS response form from
// testdata/raw-pcs.
func realTCBInfo(t *testing.T, path ...string) (*tcbInfo, *piece) {
	t.Helper()
	pc, err := decodePiece(pieceSpec{file: "tcbinfo", kind: kindTCBInfo}, "", readTestdata(t, append([]string{"raw-pcs"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	var ti tcbInfo
	if err := ti.parse(pc.signed); err != nil {
		t.Fatal(err)
	}
	return &ti, pc
}

// azureInput is the TCB input of the real Azure quote.
func azureInput(t *testing.T) tcbInput {
	q, err := ParseQuote(quoteBytes(t, "teekit_tdx-v4-azure.v4.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return inputFromQuote(q)
}

func TestEvaluateTCBRealInfo(t *testing.T) {
	ti0080, _ := realTCBInfo(t, "teekit-tcbinfo-2025-09", "tcbInfo-tdx-00806f050000.json")
	ti5080, _ := realTCBInfo(t, "teekit-tcbinfo-2025-09", "tcbInfo-tdx-50806f000000.json")
	ti90c0, _ := realTCBInfo(t, "teekit-tcbinfo-2025-09", "tcbInfo-tdx-90c06f000000.json")
	ti2026, _ := realTCBInfo(t, "go-tdx-guest", "sample_tcbinfo_response_v5") // 90c06f000000, eval 18
	tiA06D, _ := realTCBInfo(t, "trustee-2025-10", "tcbInfo_00A06D080000.json")
	qi := &collateral(t, coll0080).qeIdentity
	base := azureInput(t)

	type mod func(*tcbInput)
	pck := func(c ...byte) mod {
		return func(in *tcbInput) { in.pckComponents = [16]byte(append(c, make([]byte, 16-len(c))...)) }
	}
	pce := func(v uint16) mod { return func(in *tcbInput) { in.pceSVN = v } }
	tee := func(c ...byte) mod {
		return func(in *tcbInput) { in.teeTCBSVN = [16]byte(append(c, make([]byte, 16-len(c))...)) }
	}
	qesvn := func(v uint16) mod { return func(in *tcbInput) { in.qe.ISVSVN = v } }

	tests := []struct {
		name     string
		ti       *tcbInfo
		mods     []mod
		status   TCBStatus
		platform int    // matched platform level
		module   string // matched module identity, "" for none
		nAdv     int    // number of advisory IDs
		err      error
	}{
		{"Azure SVNs, 00806f 2025-09", ti0080, nil, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"module SVN 3 < 4: module OutOfDate", ti0080, []mod{tee(3, 1, 7)}, StatusOutOfDate, 0, "TDX_01", 0, nil},
		{"module SVN 2: module OutOfDate", ti0080, []mod{tee(2, 1, 7)}, StatusOutOfDate, 0, "TDX_01", 0, nil},
		{"module SVN 1: no module level", ti0080, []mod{tee(1, 1, 7)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"module version 2: no identity", ti0080, []mod{tee(4, 2, 7)}, "", 0, "", 0, ErrTDXModuleMismatch},
		{"module version 3", ti0080, []mod{tee(3, 3, 7)}, StatusUpToDate, 0, "TDX_03", 0, nil},
		{"module version 3 SVN 2", ti0080, []mod{tee(2, 3, 7)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"module version 1 ignores TDX components 0 and 1", ti0080, []mod{tee(4, 1, 7)}, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"module version 0 compares all 16", ti0080, []mod{tee(5, 0, 7)}, StatusUpToDate, 0, "", 0, nil},
		{"module version 0, SVN 4 < 5", ti0080, []mod{tee(4, 0, 7)}, StatusOutOfDate, 1, "", 3, nil},
		{"module version 0, SVN 2 < 3 everywhere", ti0080, []mod{tee(2, 0, 7)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"late microcode 6 < 7", ti0080, []mod{tee(4, 1, 6)}, StatusOutOfDate, 1, "TDX_01", 3, nil},
		{"late microcode 5", ti0080, []mod{tee(4, 1, 5)}, StatusOutOfDate, 2, "TDX_01", 4, nil},
		{"late microcode 4: nothing", ti0080, []mod{tee(4, 1, 4)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"higher TDX component 15 is fine", ti0080, []mod{tee(4, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9)}, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"SGX component 0 is 6", ti0080, []mod{pck(6, 7, 2, 2, 3, 1, 0, 3)}, StatusOutOfDate, 1, "TDX_01", 3, nil},
		{"SGX component 1 is 6", ti0080, []mod{pck(7, 6, 2, 2, 3, 1, 0, 3)}, StatusOutOfDate, 1, "TDX_01", 3, nil},
		{"every SGX component must be at least", ti0080, []mod{pck(9, 9, 9, 9, 9, 9, 9, 2)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"higher SGX components are fine", ti0080, []mod{pck(9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9)}, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"PCESVN 10", ti0080, []mod{pce(10)}, StatusOutOfDate, 3, "TDX_01", 17, nil},
		{"PCESVN 4", ti0080, []mod{pce(4)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"PCESVN 12 is fine", ti0080, []mod{pce(12)}, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"QE SVN 3: no QE level", ti0080, []mod{qesvn(3)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"QE SVN 9 is fine", ti0080, []mod{qesvn(9)}, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"MRSIGNERSEAM not Intel's", ti0080, []mod{func(in *tcbInput) { in.mrSignerSeam[0] = 1 }}, "", 0, "", 0, ErrTDXModuleMismatch},
		{"SEAMATTRIBUTES set", ti0080, []mod{func(in *tcbInput) { in.seamAttributes[7] = 0x80 }}, "", 0, "", 0, ErrTDXModuleMismatch},
		{"QE MRSIGNER", ti0080, []mod{func(in *tcbInput) { in.qe.MRSIGNER[31] ^= 1 }}, "", 0, "", 0, ErrQEIdentity},
		{"QE ISVPRODID", ti0080, []mod{func(in *tcbInput) { in.qe.ISVProdID = 1 }}, "", 0, "", 0, ErrQEIdentity},
		{"QE debug attribute", ti0080, []mod{func(in *tcbInput) { in.qe.Attributes[0] |= 0x02 }}, "", 0, "", 0, ErrQEIdentity},
		{"QE masked-out attribute bit is ignored", ti0080, []mod{func(in *tcbInput) { in.qe.Attributes[0] |= 0x04; in.qe.Attributes[9] = 0xff }}, StatusUpToDate, 0, "TDX_01", 0, nil},
		{"QE MISCSELECT", ti0080, []mod{func(in *tcbInput) { in.qe.MiscSelect[0] = 1 }}, "", 0, "", 0, ErrQEIdentity},
		// Azure's SVNs on the eval-18 (2026-02) TCB info of FMSPC 90c06f, whose
		// TDX_01 levels moved to isvsvn 6: the module SVN 4 is OutOfDate.
		{"Azure module SVN on eval-18 TDX_01 levels", ti2026, []mod{pck(3, 3, 2, 2, 4, 1, 0, 5), pce(13), tee(4, 1, 3)}, StatusOutOfDate, 0, "TDX_01", 2, nil},
		{"eval-18 platform level 1", ti2026, []mod{pck(2, 2, 2, 2, 3, 1, 0, 5), pce(13), tee(6, 1, 3)}, StatusOutOfDate, 1, "TDX_01", 5, nil},
		{"eval-18 up to date", ti2026, []mod{pck(3, 3, 2, 2, 4, 1, 0, 5), pce(13), tee(6, 1, 3)}, StatusUpToDate, 0, "TDX_01", 0, nil},
		// trustee_tdx_quote_4's SVNs (module version 0) on the 2025-09 TCB info.
		{"trustee_4 SVNs on 50806f 2025-09", ti5080, []mod{pck(5, 5, 13, 2, 3, 1, 0, 3), pce(11), tee(3, 0, 5), qesvn(4)}, StatusOutOfDate, 2, "", 4, nil},
		{"moemahhouk SVNs on 90c06f 2025-09", ti90c0, []mod{pck(2, 2, 2, 2, 3, 1, 0, 3), pce(13), tee(4, 1, 2)}, "", 0, "", 0, ErrTCBLevelNotFound},
		{"trustee_6 SVNs on 00a06d 2025-10", tiA06D, []mod{pck(2, 2, 7, 7, 4, 1, 0, 2), pce(11), tee(5, 3, 2), qesvn(7)}, StatusOutOfDate, 1, "TDX_03", 0, nil},
		{"trustee_6 with PCESVN 13", tiA06D, []mod{pck(2, 2, 7, 7, 4, 1, 0, 2), pce(13), tee(5, 3, 2), qesvn(7)}, StatusUpToDate, 0, "TDX_03", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			for _, m := range tc.mods {
				m(&in)
			}
			ev, err := evaluateTCB(tc.ti, qi, in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("evaluateTCB = %+v, %v; want %v", ev, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != tc.status || ev.Platform.Index != tc.platform || len(ev.AdvisoryIDs) != tc.nAdv {
				t.Errorf("status %s platform level %d advisories %v; want %s, %d, %d", ev.Status, ev.Platform.Index, ev.AdvisoryIDs, tc.status, tc.platform, tc.nAdv)
			}
			if gotModule := ""; ev.Module != nil {
				gotModule = ev.Module.ID
				if gotModule != tc.module {
					t.Errorf("module %s, want %s", gotModule, tc.module)
				}
			} else if tc.module != "" {
				t.Errorf("no module level, want %s", tc.module)
			}
		})
	}
}

func TestConverge(t *testing.T) {
	all := []TCBStatus{StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded,
		StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate, StatusOutOfDateConfigurationNeeded, StatusRevoked}
	outOfDate := map[TCBStatus]TCBStatus{
		StatusUpToDate:                          StatusOutOfDate,
		StatusSWHardeningNeeded:                 StatusOutOfDate,
		StatusConfigurationNeeded:               StatusOutOfDateConfigurationNeeded,
		StatusConfigurationAndSWHardeningNeeded: StatusOutOfDateConfigurationNeeded,
		StatusOutOfDate:                         StatusOutOfDate,
		StatusOutOfDateConfigurationNeeded:      StatusOutOfDateConfigurationNeeded,
		StatusRevoked:                           StatusRevoked,
	}
	for _, p := range all {
		if got := converge(p, StatusUpToDate); got != p {
			t.Errorf("converge(%s, UpToDate) = %s", p, got)
		}
		if got := converge(p, StatusRevoked); got != StatusRevoked {
			t.Errorf("converge(%s, Revoked) = %s", p, got)
		}
		if got := converge(p, StatusOutOfDate); got != outOfDate[p] {
			t.Errorf("converge(%s, OutOfDate) = %s, want %s", p, got, outOfDate[p])
		}
	}
}

// TestEvaluateTCBEveryStatus runs each platform status through the module
// and QE combinations on a copy of a real TCB info.
func TestEvaluateTCBEveryStatus(t *testing.T) {
	real, _ := realTCBInfo(t, "teekit-tcbinfo-2025-09", "tcbInfo-tdx-00806f050000.json")
	realQE := collateral(t, coll0080).qeIdentity
	in := azureInput(t)
	for _, plat := range []TCBStatus{StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded,
		StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate, StatusOutOfDateConfigurationNeeded, StatusRevoked} {
		for _, mod := range []TCBStatus{StatusUpToDate, StatusOutOfDate, StatusRevoked} {
			for _, qe := range []TCBStatus{StatusUpToDate, StatusOutOfDate, StatusRevoked} {
				ti := *real
				ti.TCBLevels = slices.Clone(real.TCBLevels)
				ti.TCBLevels[0].TCBStatus = plat
				ti.TCBLevels[0].AdvisoryIDs = []string{"SA-P", "SA-X"}
				ti.TDXModuleIdentities = slices.Clone(real.TDXModuleIdentities)
				m := &ti.TDXModuleIdentities[1] // TDX_01
				m.TCBLevels = slices.Clone(m.TCBLevels)
				m.TCBLevels[0].TCBStatus = mod
				m.TCBLevels[0].AdvisoryIDs = []string{"SA-M", "SA-X"}
				qi := realQE
				qi.TCBLevels = slices.Clone(realQE.TCBLevels)
				qi.TCBLevels[0].TCBStatus = qe
				qi.TCBLevels[0].AdvisoryIDs = []string{"SA-Q"}
				ev, err := evaluateTCB(&ti, &qi, in)
				if err != nil {
					t.Fatal(err)
				}
				if want := converge(converge(plat, mod), qe); ev.Status != want {
					t.Errorf("%s/%s/%s = %s, want %s", plat, mod, qe, ev.Status, want)
				}
				if !slices.Equal(ev.AdvisoryIDs, []string{"SA-P", "SA-X", "SA-M", "SA-Q"}) {
					t.Errorf("advisories %v", ev.AdvisoryIDs)
				}
			}
		}
	}
}

// TestRealTCBInfoSignatures checks the 2025-09 TCB infos (for which no
// matching QE identity or CRLs exist) against the 2025 TCB signing chain.
func TestRealTCBInfoSignatures(t *testing.T) {
	base := fields(t, coll0080)
	for _, f := range []string{"00806f050000", "50806f000000", "90c06f000000", "b0c06f000000"} {
		_, pc := realTCBInfo(t, "teekit-tcbinfo-2025-09", "tcbInfo-tdx-"+f+".json")
		c, err := newCollateral(collateralParts{
			pckCRLIssuerChain: base["pck_crl_issuer_chain"], rootCRL: mustHex(t, base["root_ca_crl"]), pckCRL: mustHex(t, base["pck_crl"]),
			tcbInfoIssuerChain: base["tcb_info_issuer_chain"], tcbInfo: pc.signed, tcbInfoSig: pc.sig,
			qeIdentityIssuerChain: base["qe_identity_issuer_chain"], qeIdentity: base["qe_identity"], qeIdentitySig: mustHex(t, base["qe_identity_signature"]),
		})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := defaultAnchors()
		if v := c.signatures(a); v.err != nil {
			t.Errorf("%s: %v", f, v.err)
		}
		// One changed byte breaks it.
		c2, _ := newCollateral(collateralParts{
			pckCRLIssuerChain: base["pck_crl_issuer_chain"], rootCRL: mustHex(t, base["root_ca_crl"]), pckCRL: mustHex(t, base["pck_crl"]),
			tcbInfoIssuerChain: base["tcb_info_issuer_chain"], tcbInfo: pc.signed + " ", tcbInfoSig: pc.sig,
			qeIdentityIssuerChain: base["qe_identity_issuer_chain"], qeIdentity: base["qe_identity"], qeIdentitySig: mustHex(t, base["qe_identity_signature"]),
		})
		if v := c2.signatures(a); !errors.Is(v.err, ErrCollateralSignature) {
			t.Errorf("%s with a trailing space: %v", f, v.err)
		}
	}
}
