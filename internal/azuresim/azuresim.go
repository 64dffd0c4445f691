// Package azuresim simulates the parts of an Azure TDX confidential VM that
// lie outside the guest: the paravisor, which turns the 64 bytes the guest
// writes to vTPM NV index 0x01400002 into an HCL report, and the IMDS
// endpoint that turns a TDREPORT into a TD quote. With the TPM simulator
// and the simulated TEE (package simtee) it lets the Azure attestation path
// run end to end on a machine without Azure: the guest-side code (vTPM NV
// writes, AK quotes, IMDS calls, MAA) is the real one.
//
// The HCL report is built from a real one recorded on Azure (its header,
// vm-configuration and HCLEkPub are kept); the TDREPORT carries the
// simulated TD's measurements and REPORTDATA = SHA-256(runtime JSON) ‖ 0³²,
// as Azure's paravisor does; HCLAkPub is the simulated vTPM's AK. The TD
// quote is signed by the simulated TEE, so verifiers refuse it unless the
// simulated root is trusted explicitly.
package azuresim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sort"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/latencyproof/poc/internal/azure/hcl"
	"github.com/latencyproof/poc/internal/azure/vtpm"
	"github.com/latencyproof/poc/internal/simtee"
)

//go:embed testdata/template-hcl-report.bin
var templateReport []byte

// ErrSim is wrapped by the simulator's errors.
var ErrSim = errors.New("azure simulator")

// VM is a simulated Azure TDX confidential VM's host side.
type VM struct {
	sim      *simtee.Sim
	td       simtee.TDOptions
	template *hcl.Report
}

// New returns a simulated VM whose TD has the measurements td (the zero
// value takes the simulated TEE's defaults).
func New(sim *simtee.Sim, td simtee.TDOptions) (*VM, error) {
	t, err := hcl.Parse(templateReport)
	if err != nil {
		return nil, fmt.Errorf("%w: the template HCL report: %w", ErrSim, err)
	}
	if td == (simtee.TDOptions{}) {
		td = sim.TDDefaults()
	}
	return &VM{sim: sim, td: td, template: t}, nil
}

// Report does what the guest and the paravisor do together on Azure: the
// guest's 64 bytes go to vTPM NV 0x01400002 (through the real vTPM code),
// and the paravisor answers with the HCL report carrying them. It satisfies
// prover.HCLSource.
func (v *VM) Report(_ context.Context, rw io.ReadWriter, data [64]byte) ([]byte, error) {
	if err := vtpm.WriteUserData(rw, data); err != nil {
		return nil, fmt.Errorf("%w: writing user data: %w", ErrSim, err)
	}
	return v.Paravisor(rw)
}

// Paravisor plays the paravisor: it reads the user data the guest wrote to
// NV 0x01400002 and the AK's public key from the vTPM, and returns the HCL
// report carrying both. (Azure's paravisor writes the report to NV
// 0x01400001; the TPM simulator's NV indexes hold at most 2048 bytes, less
// than a TDX HCL report, so the report is handed over directly.)
func (v *VM) Paravisor(rw io.ReadWriter) ([]byte, error) {
	ud, err := vtpm.ReadNV(rw, vtpm.UserDataIndex)
	if err != nil {
		return nil, fmt.Errorf("%w: reading user data: %w", ErrSim, err)
	}
	if len(ud) != vtpm.UserDataSize {
		return nil, fmt.Errorf("%w: user data is %d bytes", ErrSim, len(ud))
	}
	ak, err := vtpm.ReadAKPublic(rw, vtpm.AKHandle)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the AK: %w", ErrSim, err)
	}
	runtime, err := v.runtimeJSON(ud, ak)
	if err != nil {
		return nil, err
	}
	return v.build(runtime)
}

// runtimeJSON rewrites the template's runtime data: HCLAkPub becomes ak,
// user-data the guest's bytes; every other claim is kept. Keys are written
// in a fixed order (keys, vm-configuration, user-data, then the rest), as
// the hash covers these exact bytes.
func (v *VM) runtimeJSON(userData []byte, ak *rsa.PublicKey) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(v.template.RuntimeData, &top); err != nil {
		return nil, fmt.Errorf("%w: template runtime data: %w", ErrSim, err)
	}
	var keys []map[string]any
	if err := json.Unmarshal(top["keys"], &keys); err != nil {
		return nil, fmt.Errorf("%w: template keys: %w", ErrSim, err)
	}
	found := false
	for _, k := range keys {
		if k["kid"] == "HCLAkPub" {
			k["n"] = base64.RawURLEncoding.EncodeToString(ak.N.Bytes())
			k["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(ak.E)).Bytes())
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: template has no HCLAkPub", ErrSim)
	}
	kb, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	top["keys"] = kb
	ub, _ := json.Marshal(hex.EncodeToString(userData))
	top["user-data"] = ub
	order := []string{"keys", "vm-configuration", "user-data"}
	var rest []string
	for k := range top {
		if k != "keys" && k != "vm-configuration" && k != "user-data" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range append(order, rest...) {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(top[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// build assembles the HCL report: the template's header and hardware-report
// padding, a TDREPORT of the simulated TD binding SHA-256(runtime), and the
// runtime data, with every size field recomputed.
func (v *VM) build(runtime []byte) ([]byte, error) {
	tmpl := templateReport
	le := binary.LittleEndian
	varOff := hcl.VariableDataOffset
	if v.template.RequestData.Version == 2 {
		varOff += 4
	}
	out := make([]byte, varOff+len(runtime))
	copy(out, tmpl[:varOff])
	le.PutUint32(out[8:], uint32(len(out)))                                           // report_size
	le.PutUint32(out[hcl.RequestDataOffset:], uint32(len(out)-hcl.RequestDataOffset)) // data_size
	le.PutUint32(out[hcl.RequestDataOffset+16:], uint32(len(runtime)))                // variable_data_size
	copy(out[varOff:], runtime)
	td := v.tdReport(sha256.Sum256(runtime))
	copy(out[hcl.HardwareReportOffset:], td)
	if _, err := hcl.Parse(out); err != nil {
		return nil, fmt.Errorf("%w: the report built does not parse: %w", ErrSim, err)
	}
	return out, nil
}

// tdReport writes the simulated TD's fields into the template's TDREPORT.
// The MAC and the TEE_TCB_INFO/TEE_INFO hashes are left as they are: only
// the CPU that made a TDREPORT can check its MAC, and no verifier reads it.
func (v *VM) tdReport(hash [32]byte) []byte {
	r := append([]byte(nil), v.template.HardwareReport[:hcl.TDReportSize]...)
	var rd [64]byte
	copy(rd[:], hash[:])
	copy(r[hcl.TDReportDataOffset:], rd[:])
	td := v.td
	put := func(off int, b []byte) { copy(r[off:], b) }
	put(hcl.TDTCBInfoOffset+8, td.TEETCBSVN[:])
	put(hcl.TDTCBInfoOffset+24, td.MRSeam[:])
	put(hcl.TDTCBInfoOffset+72, make([]byte, 48)) // MRSIGNERSEAM: Intel's module
	put(hcl.TDTCBInfoOffset+120, make([]byte, 8)) // SEAM ATTRIBUTES
	put(hcl.TDAttributesOffset, td.TDAttributes[:])
	put(hcl.TDAttributesOffset+8, td.XFAM[:])
	put(hcl.TDMRTDOffset, td.MRTD[:])
	put(hcl.TDMRTDOffset+48, td.MRConfigID[:])
	put(hcl.TDMRTDOffset+96, td.MROwner[:])
	put(hcl.TDMRTDOffset+144, td.MROwnerConfig[:])
	for i := range td.RTMR {
		put(hcl.TDRTMROffset+48*i, td.RTMR[i][:])
	}
	return r
}

// TDQuote plays IMDS's /acc/tdquote: a TD quote of the TDREPORT's TD with
// its REPORTDATA, signed by the simulated TEE.
func (v *VM) TDQuote(_ context.Context, tdReport []byte) ([]byte, error) {
	t, err := hcl.ParseTDReport(tdReport)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSim, err)
	}
	td := simtee.TDOptions{
		TEETCBSVN: t.TEETCBSVN, MRSeam: t.MRSEAM, TDAttributes: t.TDAttributes, XFAM: t.XFAM,
		MRTD: t.MRTD, MRConfigID: t.MRConfigID, MROwner: t.MROwner, MROwnerConfig: t.MROwnerConfig, RTMR: t.RTMRs,
	}
	return v.sim.Quote(t.ReportData, td)
}

// IMDSHandler serves POST /acc/tdquote like Azure's IMDS.
func (v *VM) IMDSHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /acc/tdquote", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" {
			http.Error(w, "Required metadata header not specified", http.StatusBadRequest)
			return
		}
		var req struct {
			Report string `json:"report"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rep, err := base64.RawURLEncoding.DecodeString(req.Report)
		if err != nil {
			http.Error(w, "bad report encoding", http.StatusBadRequest)
			return
		}
		q, err := v.TDQuote(r.Context(), rep)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"quote": base64.RawURLEncoding.EncodeToString(q)})
	})
	return mux
}

// CreateAK makes an AK like Azure's at persistent handle 0x81000003: RSA
// 2048, restricted signing, RSASSA with SHA-256, empty password.
func CreateAK(rw io.ReadWriter) error {
	tpm := transport.FromReadWriter(rw)
	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: owner,
		InPublic:      tpm2.New2B(vtpm.AKTemplate()),
	}.Execute(tpm)
	if err != nil {
		return fmt.Errorf("%w: creating the AK: %w", ErrSim, err)
	}
	defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tpm)
	if _, err := (tpm2.EvictControl{
		Auth:             owner,
		ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		PersistentHandle: tpm2.TPMHandle(vtpm.AKHandle),
	}).Execute(tpm); err != nil {
		return fmt.Errorf("%w: persisting the AK: %w", ErrSim, err)
	}
	return nil
}
