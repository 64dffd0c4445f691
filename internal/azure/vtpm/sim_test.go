//go:build cgo

package vtpm_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/latencyproof/poc/internal/azure/hcl"
	"github.com/latencyproof/poc/internal/azure/vtpm"
	"github.com/latencyproof/poc/verifier/azure"
)

// openSim starts the TPM simulator with fixed seeds. Only one simulator
// can exist per process, so these tests never run in parallel.
func openSim(t *testing.T) *simulator.Simulator {
	t.Helper()
	sim, err := simulator.GetWithFixedSeedInsecure(1)
	if err != nil {
		t.Fatalf("starting TPM simulator: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("closing simulator: %v", err)
		}
	})
	return sim
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var owner = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

func defineNV(t *testing.T, rw io.ReadWriter, index uint32, size int, attrs tpm2.TPMANV) {
	t.Helper()
	attrs.NT = tpm2.TPMNTOrdinary
	_, err := tpm2.NVDefineSpace{
		AuthHandle: owner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: tpm2.TPMHandle(index), NameAlg: tpm2.TPMAlgSHA256, Attributes: attrs, DataSize: uint16(size),
		}),
	}.Execute(transport.FromReadWriter(rw))
	if err != nil {
		t.Fatalf("defining NV index 0x%08x: %v", index, err)
	}
}

func undefineNV(t *testing.T, rw io.ReadWriter, index uint32) {
	t.Helper()
	tpm := transport.FromReadWriter(rw)
	pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpm2.NVUndefineSpace{
		AuthHandle: owner,
		NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: pub.NVName},
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("undefining NV index 0x%08x: %v", index, err)
	}
}

// writeNV writes data with owner authorisation in chunks the simulator
// accepts (MAX_NV_BUFFER_SIZE 1024): what the paravisor does for the HCL
// report.
func writeNV(t *testing.T, rw io.ReadWriter, index uint32, data []byte) {
	t.Helper()
	tpm := transport.FromReadWriter(rw)
	for off := 0; off < len(data); off += 1024 {
		pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tpm)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tpm2.NVWrite{
			AuthHandle: owner,
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: pub.NVName},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off:min(off+1024, len(data))]},
			Offset:     uint16(off),
		}.Execute(tpm)
		if err != nil {
			t.Fatalf("writing NV index 0x%08x at %d: %v", index, off, err)
		}
	}
}

func nvAttributes(t *testing.T, rw io.ReadWriter, index uint32) (tpm2.TPMANV, uint16) {
	t.Helper()
	rsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(transport.FromReadWriter(rw))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return pub.Attributes, pub.DataSize
}

// counter counts the TPM commands sent through it, by command code.
type counter struct {
	io.ReadWriter
	n map[tpm2.TPMCC]int
}

func (c *counter) Write(b []byte) (int, error) {
	if len(b) >= 10 {
		c.n[tpm2.TPMCC(binary.BigEndian.Uint32(b[6:10]))]++
	}
	return c.ReadWriter.Write(b)
}

func TestWriteUserData(t *testing.T) {
	sim := openSim(t)
	if _, err := vtpm.ReadNV(sim, vtpm.UserDataIndex); !errors.Is(err, vtpm.ErrAbsent) {
		t.Fatalf("fresh TPM: %v", err)
	}
	var data [64]byte
	copy(data[:], "proof digest, first")
	if err := vtpm.WriteUserData(sim, data); err != nil {
		t.Fatalf("WriteUserData on a fresh TPM: %v", err)
	}
	attrs, size := nvAttributes(t, sim, vtpm.UserDataIndex)
	if size != 64 || !attrs.OwnerRead || !attrs.OwnerWrite || !attrs.AuthRead || !attrs.AuthWrite || !attrs.Written {
		t.Errorf("defined with size %d, attributes %+v", size, attrs)
	}
	if got, err := vtpm.ReadNV(sim, vtpm.UserDataIndex); err != nil || !bytes.Equal(got, data[:]) {
		t.Fatalf("read back %x, %v", got, err)
	}
	// Defined already: written over, not defined again.
	copy(data[:], "proof digest, second")
	c := &counter{ReadWriter: sim, n: map[tpm2.TPMCC]int{}}
	if err := vtpm.WriteUserData(c, data); err != nil {
		t.Fatal(err)
	}
	if c.n[tpm2.TPMCCNVDefineSpace] != 0 || c.n[tpm2.TPMCCNVWrite] != 1 {
		t.Errorf("commands %v", c.n)
	}
	if got, _ := vtpm.ReadNV(sim, vtpm.UserDataIndex); !bytes.Equal(got, data[:]) {
		t.Errorf("second write read back as %x", got)
	}
	undefineNV(t, sim, vtpm.UserDataIndex)

	// An index someone else defined with password access only.
	defineNV(t, sim, vtpm.UserDataIndex, 64, tpm2.TPMANV{AuthRead: true, AuthWrite: true})
	if err := vtpm.WriteUserData(sim, data); err != nil {
		t.Fatalf("password-only index: %v", err)
	}
	if got, err := vtpm.ReadNV(sim, vtpm.UserDataIndex); err != nil || !bytes.Equal(got, data[:]) {
		t.Errorf("password-only index read back %x, %v", got, err)
	}
	undefineNV(t, sim, vtpm.UserDataIndex)

	// An index of the wrong size, and one that no password may write.
	defineNV(t, sim, vtpm.UserDataIndex, 32, tpm2.TPMANV{OwnerRead: true, OwnerWrite: true})
	if err := vtpm.WriteUserData(sim, data); !errors.Is(err, vtpm.ErrNVSize) {
		t.Errorf("32-byte index: %v", err)
	}
	undefineNV(t, sim, vtpm.UserDataIndex)
	defineNV(t, sim, vtpm.UserDataIndex, 64, tpm2.TPMANV{OwnerRead: true, PolicyWrite: true})
	if err := vtpm.WriteUserData(sim, data); !errors.Is(err, vtpm.ErrNVAccess) {
		t.Errorf("policy-write index: %v", err)
	}
	if _, err := vtpm.ReadNV(sim, vtpm.UserDataIndex); !errors.Is(err, vtpm.ErrAbsent) {
		t.Errorf("unwritten index: %v", err)
	}
}

func TestReadHCLReport(t *testing.T) {
	sim := openSim(t)
	if _, err := vtpm.ReadHCLReport(sim); !errors.Is(err, vtpm.ErrAbsent) {
		t.Fatalf("fresh TPM: %v", err)
	}
	// A real HCL report: 2048 bytes, the simulator's largest NV index
	// (Azure's TDX reports are 2600 and do not fit).
	report := readTestdata(t, "kinvolk_hcl-report-snp.bin")
	defineNV(t, sim, vtpm.HCLReportIndex, len(report), tpm2.TPMANV{OwnerRead: true, OwnerWrite: true})
	writeNV(t, sim, vtpm.HCLReportIndex, report)

	c := &counter{ReadWriter: sim, n: map[tpm2.TPMCC]int{}}
	got, err := vtpm.ReadHCLReport(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, report) {
		t.Fatal("HCL report read back differs")
	}
	if c.n[tpm2.TPMCCNVRead] != 2 {
		t.Errorf("%d NV_Read commands for 2048 bytes with a 1024-byte buffer, want 2", c.n[tpm2.TPMCCNVRead])
	}
	r, err := hcl.Parse(got)
	if err != nil || r.Type != hcl.ReportTypeSNP {
		t.Fatalf("parsed %v, %v", r, err)
	}

	// This report carries no user-data: writing some does not make the
	// (unrefreshed) report carry it.
	var data [64]byte
	data[0] = 1
	if _, err := vtpm.ReportWithUserData(sim, data); !errors.Is(err, vtpm.ErrStaleReport) {
		t.Errorf("ReportWithUserData = %v, want ErrStaleReport", err)
	}

	// A size that leaves a partial last chunk.
	blob := readTestdata(t, "kinvolk_var-data.bin")
	const idx = 0x01500001
	defineNV(t, sim, idx, len(blob), tpm2.TPMANV{AuthRead: true, AuthWrite: true, OwnerWrite: true})
	writeNV(t, sim, idx, blob)
	c.n = map[tpm2.TPMCC]int{}
	if got, err := vtpm.ReadNV(c, idx); err != nil || !bytes.Equal(got, blob) || c.n[tpm2.TPMCCNVRead] != 2 {
		t.Errorf("1110-byte index: %d bytes, %v, %d reads", len(got), err, c.n[tpm2.TPMCCNVRead])
	}
	// Readable by neither owner nor password.
	const locked = 0x01500002
	defineNV(t, sim, locked, 8, tpm2.TPMANV{OwnerWrite: true, PolicyRead: true})
	writeNV(t, sim, locked, make([]byte, 8))
	if _, err := vtpm.ReadNV(sim, locked); !errors.Is(err, vtpm.ErrNVAccess) {
		t.Errorf("policy-read index: %v", err)
	}
}

// createAK makes an AK like Azure's at AKHandle: RSA 2048, restricted
// signing, RSASSA with SHA-256, empty password.
func createAK(t *testing.T, rw io.ReadWriter) {
	t.Helper()
	tpm := transport.FromReadWriter(rw)
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: owner,
		InPublic:      tpm2.New2B(vtpm.AKTemplate()),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("creating AK: %v", err)
	}
	defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tpm)
	_, err = tpm2.EvictControl{
		Auth:             owner,
		ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		PersistentHandle: tpm2.TPMHandle(vtpm.AKHandle),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("persisting AK at 0x%08x: %v", vtpm.AKHandle, err)
	}
}

// createECCKey persists a restricted ECDSA signing key: not an AK this
// project can use.
func createECCKey(t *testing.T, rw io.ReadWriter, handle uint32) {
	t.Helper()
	tpm := transport.FromReadWriter(rw)
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: owner,
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:    tpm2.TPMAlgECC,
			NameAlg: tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{
				FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
				UserWithAuth: true, Restricted: true, SignEncrypt: true,
			},
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Scheme: tpm2.TPMTECCScheme{
					Scheme:  tpm2.TPMAlgECDSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				CurveID: tpm2.TPMECCNistP256,
			}),
		}),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("creating ECC key: %v", err)
	}
	defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tpm)
	_, err = tpm2.EvictControl{
		Auth:             owner,
		ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		PersistentHandle: tpm2.TPMHandle(handle),
	}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
}

func extendPCR(t *testing.T, rw io.ReadWriter, pcr uint32, data string) {
	t.Helper()
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256, Digest: bytes.Repeat([]byte(data), 32)[:32],
		}}},
	}.Execute(transport.FromReadWriter(rw))
	if err != nil {
		t.Fatalf("extending PCR %d: %v", pcr, err)
	}
}

func loadKinvolkAK(t *testing.T) *rsa.PublicKey {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, "kinvolk_akpub.pem"))
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

func TestQuoteAndAKCert(t *testing.T) {
	sim := openSim(t)
	nonce := []byte("0123456789abcdef0123456789abcdef") // 32 bytes, as the prover sends
	if _, err := vtpm.Quote(sim, vtpm.AKHandle, nonce, nil); !errors.Is(err, vtpm.ErrAbsent) {
		t.Fatalf("Quote without an AK: %v", err)
	}
	if _, err := vtpm.ReadAKPublic(sim, vtpm.AKHandle); !errors.Is(err, vtpm.ErrAbsent) {
		t.Fatalf("ReadAKPublic without an AK: %v", err)
	}
	if _, err := vtpm.ReadAKCert(sim); !errors.Is(err, vtpm.ErrAbsent) {
		t.Fatalf("ReadAKCert without a certificate: %v", err)
	}
	createAK(t, sim)
	ak, err := vtpm.ReadAKPublic(sim, vtpm.AKHandle)
	if err != nil {
		t.Fatal(err)
	}
	if ak.N.BitLen() != 2048 || ak.E != 65537 {
		t.Fatalf("AK %d bits, e=%d", ak.N.BitLen(), ak.E)
	}
	extendPCR(t, sim, 16, "a")
	extendPCR(t, sim, 23, "b")

	t.Run("all PCRs", func(t *testing.T) {
		q, err := vtpm.Quote(sim, vtpm.AKHandle, nonce, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(q.PCRs) != 24 || len(q.Indices) != 24 || len(q.Signature) != 256 {
			t.Fatalf("quote with %d PCRs, %d indices, %d-byte signature", len(q.PCRs), len(q.Indices), len(q.Signature))
		}
		res, err := azure.VerifyTPMQuote(q, ak, nonce)
		if err != nil {
			t.Fatalf("verifier refuses the simulator's quote: %v", err)
		}
		if bytes.Equal(res.PCRs[16], make([]byte, 32)) || !bytes.Equal(res.PCRs[0], make([]byte, 32)) {
			t.Errorf("PCR 0 %x, PCR 16 %x", res.PCRs[0], res.PCRs[16])
		}
		if _, err := azure.VerifyTPMQuote(q, loadKinvolkAK(t), nonce); !errors.Is(err, azure.ErrTPMQuoteSignature) {
			t.Errorf("another VM's AK: %v", err)
		}
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := azure.VerifyTPMQuote(q, &other.PublicKey, nonce); !errors.Is(err, azure.ErrTPMQuoteSignature) {
			t.Errorf("a fresh key: %v", err)
		}
		if _, err := azure.VerifyTPMQuote(q, ak, []byte("another nonce")); !errors.Is(err, azure.ErrTPMNonce) {
			t.Errorf("another nonce: %v", err)
		}
		q.PCRs[23][0] ^= 1
		if _, err := azure.VerifyTPMQuote(q, ak, nonce); !errors.Is(err, azure.ErrPCRDigest) {
			t.Errorf("PCR 23 altered: %v", err)
		}
	})

	t.Run("some PCRs, any order", func(t *testing.T) {
		q, err := vtpm.Quote(sim, vtpm.AKHandle, nonce, []uint32{16, 0, 7, 16})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(q.Indices, []uint32{0, 7, 16}) {
			t.Errorf("indices %v", q.Indices)
		}
		if _, err := azure.VerifyTPMQuote(q, ak, nonce); err != nil {
			t.Error(err)
		}
	})

	t.Run("PCR moved", func(t *testing.T) {
		// A PCR extended after the quote makes the read-back disagree;
		// Quote must notice and quote again, never return a mismatch.
		c := &extendAfterQuote{rw: sim, t: t}
		q, err := vtpm.Quote(c, vtpm.AKHandle, nonce, []uint32{16})
		if err != nil {
			t.Fatal(err)
		}
		if c.quotes != 2 {
			t.Errorf("%d quotes, want 2", c.quotes)
		}
		if _, err := azure.VerifyTPMQuote(q, ak, nonce); err != nil {
			t.Error(err)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		if _, err := vtpm.Quote(sim, vtpm.AKHandle, nonce, []uint32{24}); err == nil {
			t.Error("PCR 24 accepted")
		}
		if _, err := vtpm.Quote(sim, vtpm.AKHandle, make([]byte, 65), nil); err == nil {
			t.Error("65-byte nonce accepted")
		}
		const eccHandle = 0x81000010
		createECCKey(t, sim, eccHandle)
		if _, err := vtpm.Quote(sim, eccHandle, nonce, nil); !errors.Is(err, vtpm.ErrAKScheme) {
			t.Errorf("ECC key: %v", err)
		}
	})

	t.Run("AK certificate", func(t *testing.T) {
		root, rootKey := newTestCA(t, "Test vTPM Root", nil, nil)
		inter, interKey := newTestCA(t, "Test vTPM CA", root, rootKey)
		now := time.Now()
		leaf, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(7),
			Subject:      pkix.Name{CommonName: "simulator AK"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}, inter, ak, interKey)
		if err != nil {
			t.Fatal(err)
		}
		nv := append(bytes.Clone(leaf), make([]byte, 2048-len(leaf))...)
		defineNV(t, sim, vtpm.AKCertIndex, len(nv), tpm2.TPMANV{OwnerRead: true, OwnerWrite: true})
		writeNV(t, sim, vtpm.AKCertIndex, nv)
		got, err := vtpm.ReadAKCert(sim)
		if err != nil || !bytes.Equal(got, nv) {
			t.Fatalf("ReadAKCert: %d bytes, %v", len(got), err)
		}
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root)
		inters.AddCert(inter)
		if _, err := azure.VerifyAKCert(got, ak, roots, inters, now); err != nil {
			t.Errorf("VerifyAKCert: %v", err)
		}
		if _, err := azure.VerifyAKCert(got, loadKinvolkAK(t), roots, inters, now); !errors.Is(err, azure.ErrAKMismatch) {
			t.Errorf("certificate checked against another AK: %v", err)
		}
	})
}

// extendAfterQuote extends PCR 16 once, right after the first TPM2_Quote
// has been answered.
type extendAfterQuote struct {
	rw      io.ReadWriter
	t       *testing.T
	quotes  int
	pending bool
}

func (e *extendAfterQuote) Write(b []byte) (int, error) {
	if len(b) >= 10 && tpm2.TPMCC(binary.BigEndian.Uint32(b[6:10])) == tpm2.TPMCCQuote {
		e.quotes++
		e.pending = e.quotes == 1
	}
	return e.rw.Write(b)
}

func (e *extendAfterQuote) Read(b []byte) (int, error) {
	n, err := e.rw.Read(b)
	if e.pending {
		e.pending = false
		extendPCR(e.t, e.rw, 16, "c")
	}
	return n, err
}

func newTestCA(t *testing.T, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
