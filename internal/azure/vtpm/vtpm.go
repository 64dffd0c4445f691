// Package vtpm is the prover's access to an Azure confidential VM's virtual
// TPM: the NV indices through which the guest talks to the paravisor, and
// quotes by the vTPM's attestation key.
//
// The guest cannot set its TD's REPORTDATA on Azure. It writes the 64-byte
// proof digest to NV index 0x01400002 (WriteUserData); the paravisor then
// publishes at NV index 0x01400001 an HCL report whose runtime data carries
// those bytes as user-data and whose TDREPORT binds that runtime data
// (ReadHCLReport, ReportWithUserData; see package hcl). The TDREPORT goes to
// the IMDS for a TD quote (package imds). The runtime data also names the
// vTPM's attestation key (AK, persistent handle 0x81000003), whose quotes
// over the PCRs (Quote) a verifier can check with it, and whose certificate
// chained to Microsoft sits at NV index 0x01C101D0 (ReadAKCert).
//
// Every function takes the TPM as an io.ReadWriter (/dev/tpmrm0 on a VM,
// the go-tpm-tools simulator in tests) and sends one command at a time; the
// caller serialises access. Objects that do not exist are reported with
// ErrAbsent. Authorisation is by empty password, as on Azure: owner
// authorisation where the index allows it, else the index's own.
package vtpm

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Handles of the Azure vTPM.
const (
	// HCLReportIndex holds the paravisor's HCL report.
	HCLReportIndex uint32 = 0x01400001
	// UserDataIndex is where the guest writes the 64 bytes that the next
	// HCL report carries as user-data.
	UserDataIndex uint32 = 0x01400002
	// AKCertIndex holds the AK's certificate (DER, padded).
	AKCertIndex uint32 = 0x01C101D0
	// AKHandle is the persistent handle of the attestation key.
	AKHandle uint32 = 0x81000003

	// UserDataSize is the size of UserDataIndex.
	UserDataSize = 64
)

// AKTemplate is the public template of the attestation key as Azure
// provisions it at AKHandle: a restricted RSA-2048 signing key of the
// owner hierarchy that signs with RSASSA-PKCS1-v1_5 SHA-256, the scheme
// Quote requires. Simulators create their AK from it, so that the code
// reading the AK sees what it sees on Azure.
func AKTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgRSA,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			UserWithAuth: true, Restricted: true, SignEncrypt: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Scheme: tpm2.TPMTRSAScheme{
				Scheme:  tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			KeyBits: 2048,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)}),
	}
}

// Errors, matchable with errors.Is. TPM response codes stay matchable too
// (errors.Is(err, tpm2.TPMRCNVLocked), for instance).
var (
	// ErrAbsent: the NV index or persistent object does not exist, or the
	// NV index was never written.
	ErrAbsent = errors.New("vTPM object absent")
	// ErrNVSize: the NV index exists with a size other than required.
	ErrNVSize = errors.New("NV index has an unexpected size")
	// ErrNVAccess: neither owner nor index authorisation may do the
	// operation on the NV index.
	ErrNVAccess = errors.New("NV index not accessible by password")
	// ErrAKScheme: the AK does not sign with RSASSA-PKCS1-v1_5 SHA-256.
	ErrAKScheme = errors.New("AK is not an RSASSA-SHA256 key")
	// ErrPCRsChanged: PCRs kept changing between quote and read-back.
	ErrPCRsChanged = errors.New("PCRs changed while quoting")
	// ErrStaleReport: the HCL report does not carry the user-data just
	// written.
	ErrStaleReport = errors.New("HCL report does not carry the user-data written")
	// ErrTPM: the TPM answered in a way the TPM 2.0 specification rules
	// out (a short read, a malformed structure).
	ErrTPM = errors.New("unexpected TPM response")
)

func tpmOf(rw io.ReadWriter) transport.TPM { return transport.FromReadWriter(rw) }

var ownerAuth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

// nvPublic reads an NV index's public area, mapping "no such handle" to
// ErrAbsent.
func nvPublic(t transport.TPM, index uint32) (*tpm2.TPMSNVPublic, tpm2.TPM2BName, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil, tpm2.TPM2BName{}, fmt.Errorf("%w: NV index 0x%08x", ErrAbsent, index)
		}
		return nil, tpm2.TPM2BName{}, fmt.Errorf("reading public area of NV index 0x%08x: %w", index, err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return nil, tpm2.TPM2BName{}, fmt.Errorf("%w: public area of NV index 0x%08x: %w", ErrTPM, index, err)
	}
	return pub, rsp.NVName, nil
}

// nvAuth picks the authorisation for reading (write=false) or writing an
// index: the owner's where allowed, else the index's own.
func nvAuth(index uint32, pub *tpm2.TPMSNVPublic, name tpm2.TPM2BName, write bool) (tpm2.AuthHandle, error) {
	owner, self := pub.Attributes.OwnerRead, pub.Attributes.AuthRead
	what := "read"
	if write {
		owner, self, what = pub.Attributes.OwnerWrite, pub.Attributes.AuthWrite, "write"
	}
	switch {
	case owner:
		return ownerAuth, nil
	case self:
		return tpm2.AuthHandle{Handle: tpm2.TPMHandle(index), Name: name, Auth: tpm2.PasswordAuth(nil)}, nil
	}
	return tpm2.AuthHandle{}, fmt.Errorf("%w: NV index 0x%08x allows neither owner nor password %s", ErrNVAccess, index, what)
}

// nvBufferMax returns TPM_PT_NV_BUFFER_MAX, the most an NV command moves.
func nvBufferMax(t transport.TPM) (int, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTNVBufferMax),
		PropertyCount: 1,
	}.Execute(t)
	if err != nil {
		return 0, fmt.Errorf("reading TPM_PT_NV_BUFFER_MAX: %w", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return 0, fmt.Errorf("%w: TPM properties: %w", ErrTPM, err)
	}
	for _, p := range props.TPMProperty {
		if p.Property == tpm2.TPMPTNVBufferMax && p.Value > 0 {
			return int(min(p.Value, 1<<15)), nil
		}
	}
	return 0, fmt.Errorf("%w: no TPM_PT_NV_BUFFER_MAX", ErrTPM)
}

// ReadNV reads a whole NV index, in chunks of the TPM's largest NV buffer.
func ReadNV(rw io.ReadWriter, index uint32) ([]byte, error) {
	t := tpmOf(rw)
	pub, name, err := nvPublic(t, index)
	if err != nil {
		return nil, err
	}
	if !pub.Attributes.Written {
		return nil, fmt.Errorf("%w: NV index 0x%08x is defined but was never written", ErrAbsent, index)
	}
	auth, err := nvAuth(index, pub, name, false)
	if err != nil {
		return nil, err
	}
	chunk, err := nvBufferMax(t)
	if err != nil {
		return nil, err
	}
	size := int(pub.DataSize)
	out := make([]byte, 0, size)
	for len(out) < size {
		n := min(chunk, size-len(out))
		rsp, err := tpm2.NVRead{
			AuthHandle: auth,
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: name},
			Size:       uint16(n),
			Offset:     uint16(len(out)),
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("reading NV index 0x%08x at %d: %w", index, len(out), err)
		}
		if len(rsp.Data.Buffer) != n {
			return nil, fmt.Errorf("%w: NV read of %d bytes at %d returned %d", ErrTPM, n, len(out), len(rsp.Data.Buffer))
		}
		out = append(out, rsp.Data.Buffer...)
	}
	return out, nil
}

// ReadHCLReport reads the paravisor's HCL report (NV index 0x01400001),
// padding included; parse it with package hcl.
func ReadHCLReport(rw io.ReadWriter) ([]byte, error) {
	b, err := ReadNV(rw, HCLReportIndex)
	if err != nil {
		return nil, fmt.Errorf("reading HCL report: %w", err)
	}
	return b, nil
}

// ReadAKCert reads the AK certificate's NV index (0x01C101D0): a DER
// certificate followed by padding, as verifier/azure.VerifyAKCert expects.
func ReadAKCert(rw io.ReadWriter) ([]byte, error) {
	b, err := ReadNV(rw, AKCertIndex)
	if err != nil {
		return nil, fmt.Errorf("reading AK certificate: %w", err)
	}
	return b, nil
}

// WriteUserData writes data to NV index 0x01400002, defining the index
// first if it does not exist, as Azure's guest tools do: 64 bytes, owner
// and password read/write, empty password. The paravisor then refreshes the
// HCL report with data as its user-data.
func WriteUserData(rw io.ReadWriter, data [UserDataSize]byte) error {
	t := tpmOf(rw)
	pub, name, err := nvPublic(t, UserDataIndex)
	if errors.Is(err, ErrAbsent) {
		if err := defineUserData(t); err != nil {
			return err
		}
		pub, name, err = nvPublic(t, UserDataIndex)
	}
	if err != nil {
		return fmt.Errorf("writing user data: %w", err)
	}
	if pub.DataSize != UserDataSize {
		return fmt.Errorf("writing user data: %w: NV index 0x%08x holds %d bytes, want %d", ErrNVSize, UserDataIndex, pub.DataSize, UserDataSize)
	}
	auth, err := nvAuth(UserDataIndex, pub, name, true)
	if err != nil {
		return fmt.Errorf("writing user data: %w", err)
	}
	_, err = tpm2.NVWrite{
		AuthHandle: auth,
		NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(UserDataIndex), Name: name},
		Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[:]},
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("writing user data to NV index 0x%08x: %w", UserDataIndex, err)
	}
	return nil
}

func defineUserData(t transport.TPM) error {
	_, err := tpm2.NVDefineSpace{
		AuthHandle: ownerAuth,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: tpm2.TPMHandle(UserDataIndex),
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				OwnerWrite: true, OwnerRead: true,
				AuthWrite: true, AuthRead: true,
				NT: tpm2.TPMNTOrdinary,
			},
			DataSize: UserDataSize,
		}),
	}.Execute(t)
	// Someone else defining it in between is as good as defining it.
	if err != nil && !errors.Is(err, tpm2.TPMRCNVDefined) {
		return fmt.Errorf("defining NV index 0x%08x: %w", UserDataIndex, err)
	}
	return nil
}

// ReadAKPublic reads the public key of the RSA key at a persistent handle
// (AKHandle on Azure).
func ReadAKPublic(rw io.ReadWriter, handle uint32) (*rsa.PublicKey, error) {
	pub, _, _, err := readRSAPublic(tpmOf(rw), handle)
	return pub, err
}

// readRSAPublic returns the key, its TPM public area and its name.
func readRSAPublic(t transport.TPM, handle uint32) (*rsa.PublicKey, *tpm2.TPMTPublic, tpm2.TPM2BName, error) {
	var noName tpm2.TPM2BName
	rsp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(handle)}.Execute(t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil, nil, noName, fmt.Errorf("%w: key 0x%08x", ErrAbsent, handle)
		}
		return nil, nil, noName, fmt.Errorf("reading public area of key 0x%08x: %w", handle, err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, nil, noName, fmt.Errorf("%w: public area of key 0x%08x: %w", ErrTPM, handle, err)
	}
	if pub.Type != tpm2.TPMAlgRSA {
		return nil, nil, noName, fmt.Errorf("%w: key 0x%08x has type 0x%04x, not RSA", ErrAKScheme, handle, uint16(pub.Type))
	}
	parms, err := pub.Parameters.RSADetail()
	if err != nil {
		return nil, nil, noName, fmt.Errorf("%w: RSA parameters of key 0x%08x: %w", ErrTPM, handle, err)
	}
	n, err := pub.Unique.RSA()
	if err != nil {
		return nil, nil, noName, fmt.Errorf("%w: RSA modulus of key 0x%08x: %w", ErrTPM, handle, err)
	}
	key, err := tpm2.RSAPub(parms, n)
	if err != nil {
		return nil, nil, noName, fmt.Errorf("%w: RSA key 0x%08x: %w", ErrTPM, handle, err)
	}
	return key, pub, rsp.Name, nil
}
