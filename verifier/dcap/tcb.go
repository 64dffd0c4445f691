package dcap

import (
	"bytes"
	"fmt"
	"strings"
)

// TCBStatus is Intel's verdict on a platform's trusted computing base, in
// Intel's spelling.
type TCBStatus string

// Intel's TCB statuses (PCS v4 TCB info tcbStatus values).
const (
	// StatusUpToDate: the platform is patched; nothing to do.
	StatusUpToDate TCBStatus = "UpToDate"
	// StatusSWHardeningNeeded: patched, but some advisories need software
	// mitigations in the TD that the quote cannot show.
	StatusSWHardeningNeeded TCBStatus = "SWHardeningNeeded"
	// StatusConfigurationNeeded: patched, but the platform configuration
	// (e.g. BIOS settings) must be changed to be safe.
	StatusConfigurationNeeded TCBStatus = "ConfigurationNeeded"
	// StatusConfigurationAndSWHardeningNeeded: both of the above.
	StatusConfigurationAndSWHardeningNeeded TCBStatus = "ConfigurationAndSWHardeningNeeded"
	// StatusOutOfDate: the platform misses security updates (microcode,
	// TDX module, QE); the advisory IDs say which.
	StatusOutOfDate TCBStatus = "OutOfDate"
	// StatusOutOfDateConfigurationNeeded: out of date and needs configuration.
	StatusOutOfDateConfigurationNeeded TCBStatus = "OutOfDateConfigurationNeeded"
	// StatusRevoked: Intel revoked this TCB level; never acceptable.
	StatusRevoked TCBStatus = "Revoked"
)

func (s TCBStatus) valid() bool {
	switch s {
	case StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded,
		StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate,
		StatusOutOfDateConfigurationNeeded, StatusRevoked:
		return true
	}
	return false
}

// TCBEvaluation records how the TCB status was reached: the level matched
// in each of the three places Intel's collateral describes, and how they
// combine.
type TCBEvaluation struct {
	// Status is the combined status, as Intel's QVL computes it.
	Status TCBStatus `json:"status"`
	// AdvisoryIDs of the matched platform, TDX module and QE levels,
	// de-duplicated, in that order.
	AdvisoryIDs []string `json:"advisory_ids"`
	// Platform is the first TCB level whose SGX components and PCESVN are
	// at or below the PCK certificate's and whose TDX components are at
	// or below TEE_TCB_SVN.
	Platform LevelMatch `json:"platform"`
	// Module is the TDX module identity level (TCB info v3,
	// tdxModuleIdentities), used when TEE_TCB_SVN[1] (the module's major
	// version) is not zero; nil otherwise.
	Module *LevelMatch `json:"module,omitempty"`
	// QE is the QE identity level matched by the QE's ISVSVN.
	QE LevelMatch `json:"qe"`
}

// LevelMatch is one matched TCB level.
type LevelMatch struct {
	// ID names the identity for module levels ("TDX_01").
	ID      string    `json:"id,omitempty"`
	Status  TCBStatus `json:"status"`
	TCBDate string    `json:"tcb_date"`
	// Index is the level's position in its tcbLevels list.
	Index int `json:"index"`
}

// tcbInput is what the TCB status depends on, from the quote and PCK
// certificate. Keeping it apart from Quote lets the matching be tested with
// crafted SVNs.
type tcbInput struct {
	pckComponents  [16]byte
	pceSVN         uint16
	teeTCBSVN      [16]byte
	mrSignerSeam   [48]byte
	seamAttributes [8]byte
	qe             QEReport
}

func inputFromQuote(q *Quote) tcbInput {
	return tcbInput{
		pckComponents:  q.PCK.TCBComponents,
		pceSVN:         q.PCK.PCESVN,
		teeTCBSVN:      q.TEETCBSVN,
		mrSignerSeam:   q.MRSIGNERSEAM,
		seamAttributes: q.SEAMAttributes,
		qe:             q.QEReport,
	}
}

// evaluateTCB computes Intel's TCB status for a TDX v4 quote from verified
// collateral, following Intel's SGX/TDX DCAP Quote Verification Library:
//
//  1. TDX module identity (QVL 4.1.2.4.11): when TEE_TCB_SVN[1] (the module's
//     major version) is non-zero, the TCB info's tdxModuleIdentities entry
//     "TDX_<version as two hex digits>" supplies the expected MRSIGNER and
//     attributes; otherwise tdxModule does. MRSIGNERSEAM must equal the
//     MRSIGNER; SEAMATTRIBUTES must be zero and equal the attributes.
//  2. QE identity (4.1.2.9): MISCSELECT and ATTRIBUTES under their masks,
//     MRSIGNER and ISVPRODID must match; the QE level is the first whose
//     isvsvn is at or below the QE's ISVSVN.
//  3. Platform level (4.1.2.4.17): the first level, in the collateral's
//     (descending) order, whose 16 SGX components and PCESVN are all at or
//     below the PCK certificate's and whose 16 TDX components are at or
//     below TEE_TCB_SVN. When TEE_TCB_SVN[1] is non-zero, components 0 and 1
//     (the module's SVN and version) are left to step 4.
//  4. Module level: the module identity's first level whose isvsvn is at or
//     below TEE_TCB_SVN[0].
//  5. Combine: a module or QE level that is OutOfDate turns UpToDate and
//     SWHardeningNeeded into OutOfDate, and the two ConfigurationNeeded
//     statuses into OutOfDateConfigurationNeeded; a Revoked module or QE
//     level makes the result Revoked; otherwise the platform level's status
//     stands.
//
// A failed match in step 1 or 2 is ErrTDXModuleMismatch or ErrQEIdentity;
// no level in steps 3 or 4 (or for the QE) is ErrTCBLevelNotFound.
func evaluateTCB(ti *tcbInfo, qi *qeIdentity, in tcbInput) (*TCBEvaluation, error) {
	moduleVersion := in.teeTCBSVN[1]

	// 1. TDX module identity.
	want := ti.TDXModule
	var moduleID *tdxModuleIdentity
	if moduleVersion > 0 {
		id := fmt.Sprintf("TDX_%02X", moduleVersion)
		for i := range ti.TDXModuleIdentities {
			if strings.EqualFold(ti.TDXModuleIdentities[i].ID, id) {
				moduleID = &ti.TDXModuleIdentities[i]
				break
			}
		}
		if moduleID == nil {
			return nil, fmt.Errorf("%w: TCB info has no TDX module identity %s for module version %d", ErrTDXModuleMismatch, id, moduleVersion)
		}
		want = &moduleID.tdxModule
	}
	if want == nil {
		return nil, fmt.Errorf("%w: TCB info describes no TDX module", ErrTDXModuleMismatch)
	}
	if !bytes.Equal(want.MRSIGNER, in.mrSignerSeam[:]) {
		return nil, fmt.Errorf("%w: MRSIGNERSEAM %x is not the TDX module signer %x", ErrTDXModuleMismatch, in.mrSignerSeam, []byte(want.MRSIGNER))
	}
	if in.seamAttributes != [8]byte{} || !bytes.Equal(want.Attributes, in.seamAttributes[:]) {
		return nil, fmt.Errorf("%w: SEAMATTRIBUTES %x are not zero and equal to %x", ErrTDXModuleMismatch, in.seamAttributes, []byte(want.Attributes))
	}

	// 2. QE identity.
	qeLevel, qeIdx, err := matchQE(qi, &in.qe)
	if err != nil {
		return nil, err
	}

	// 3. Platform level.
	platIdx := -1
	for i := range ti.TCBLevels {
		l := &ti.TCBLevels[i]
		if !sgxAtLeast(in.pckComponents, l) || in.pceSVN < l.TCB.PCESVN {
			continue
		}
		if tdxAtLeast(in.teeTCBSVN, l) {
			platIdx = i
			break
		}
	}
	if platIdx < 0 {
		return nil, fmt.Errorf("%w: no TCB level is at or below the platform's (PCK components %x, PCESVN %d, TEE_TCB_SVN %x)",
			ErrTCBLevelNotFound, in.pckComponents, in.pceSVN, in.teeTCBSVN)
	}
	plat := &ti.TCBLevels[platIdx]
	ev := &TCBEvaluation{
		Platform: LevelMatch{Status: plat.TCBStatus, TCBDate: plat.TCBDate, Index: platIdx},
		QE:       LevelMatch{Status: qeLevel.TCBStatus, TCBDate: qeLevel.TCBDate, Index: qeIdx},
	}
	status := plat.TCBStatus
	ids := appendUnique(nil, plat.AdvisoryIDs)

	// 4. TDX module level.
	if moduleID != nil {
		modIdx := -1
		for i, l := range moduleID.TCBLevels {
			if uint16(in.teeTCBSVN[0]) >= l.TCB.ISVSVN {
				modIdx = i
				break
			}
		}
		if modIdx < 0 {
			return nil, fmt.Errorf("%w: no level of TDX module identity %s is at or below the module SVN %d",
				ErrTCBLevelNotFound, moduleID.ID, in.teeTCBSVN[0])
		}
		ml := &moduleID.TCBLevels[modIdx]
		ev.Module = &LevelMatch{ID: moduleID.ID, Status: ml.TCBStatus, TCBDate: ml.TCBDate, Index: modIdx}
		status = converge(status, ml.TCBStatus)
		ids = appendUnique(ids, ml.AdvisoryIDs)
	}

	// 5. QE.
	status = converge(status, qeLevel.TCBStatus)
	ids = appendUnique(ids, qeLevel.AdvisoryIDs)
	ev.Status = status
	ev.AdvisoryIDs = ids
	if ev.AdvisoryIDs == nil {
		ev.AdvisoryIDs = []string{}
	}
	return ev, nil
}

// matchQE checks the QE report against the QE identity and returns the QE's
// TCB level.
func matchQE(qi *qeIdentity, r *QEReport) (*tcbLevel, int, error) {
	for i := range 4 {
		if r.MiscSelect[i]&qi.MiscSelectMask[i] != qi.MiscSelect[i] {
			return nil, 0, fmt.Errorf("%w: MISCSELECT %x under mask %x is not %x", ErrQEIdentity, r.MiscSelect, []byte(qi.MiscSelectMask), []byte(qi.MiscSelect))
		}
	}
	for i := range 16 {
		if r.Attributes[i]&qi.AttributesMask[i] != qi.Attributes[i] {
			return nil, 0, fmt.Errorf("%w: ATTRIBUTES %x under mask %x are not %x", ErrQEIdentity, r.Attributes, []byte(qi.AttributesMask), []byte(qi.Attributes))
		}
	}
	if !bytes.Equal(r.MRSIGNER[:], qi.MRSIGNER) {
		return nil, 0, fmt.Errorf("%w: QE MRSIGNER %x is not %x", ErrQEIdentity, r.MRSIGNER, []byte(qi.MRSIGNER))
	}
	if r.ISVProdID != qi.ISVProdID {
		return nil, 0, fmt.Errorf("%w: QE ISVPRODID %d is not %d", ErrQEIdentity, r.ISVProdID, qi.ISVProdID)
	}
	for i := range qi.TCBLevels {
		if qi.TCBLevels[i].TCB.ISVSVN <= r.ISVSVN {
			return &qi.TCBLevels[i], i, nil
		}
	}
	return nil, 0, fmt.Errorf("%w: no QE identity level is at or below the QE's ISVSVN %d", ErrTCBLevelNotFound, r.ISVSVN)
}

func sgxAtLeast(pck [16]byte, l *tcbLevel) bool {
	for i, c := range l.TCB.SGXComponents {
		if pck[i] < c.SVN {
			return false
		}
	}
	return true
}

func tdxAtLeast(tee [16]byte, l *tcbLevel) bool {
	start := 0
	if tee[1] > 0 {
		start = 2 // module SVN and version are judged by the module identity
	}
	for i := start; i < 16; i++ {
		if tee[i] < l.TCB.TDXComponents[i].SVN {
			return false
		}
	}
	return true
}

// converge folds a module or QE level status into the platform status, as
// Intel's QVL does (convergeTcbStatusWithTdxModuleStatus /
// convergeTcbStatusWithQeTcbStatus). Module and QE levels are only ever
// UpToDate, OutOfDate or Revoked; any other value is treated as OutOfDate.
func converge(platform, other TCBStatus) TCBStatus {
	switch other {
	case StatusUpToDate:
		return platform
	case StatusRevoked:
		return StatusRevoked
	}
	switch platform {
	case StatusUpToDate, StatusSWHardeningNeeded:
		return StatusOutOfDate
	case StatusConfigurationNeeded, StatusConfigurationAndSWHardeningNeeded:
		return StatusOutOfDateConfigurationNeeded
	}
	return platform
}

func appendUnique(dst, src []string) []string {
	for _, s := range src {
		dup := false
		for _, d := range dst {
			if d == s {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, s)
		}
	}
	return dst
}
