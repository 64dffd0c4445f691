package vtpm

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/latencyproof/poc/internal/azure/tpmquote"
)

const (
	// NumPCRs is the number of PCRs of the vTPM's SHA-256 bank.
	NumPCRs = 24
	// MaxNonce is the largest nonce Quote accepts (a SHA-512 digest).
	MaxNonce = 64
	// quoteAttempts bounds retries when PCRs move under a quote.
	quoteAttempts = 3
)

// Quote has the key at handle (AKHandle on Azure) quote the SHA-256 PCRs
// pcrs (nil means all 24) with nonce as qualifying data, reads the PCR
// values back and returns them in the form verifier/azure checks. The AK
// must sign with RSASSA-PKCS1-v1_5 SHA-256, as Azure's does. If a PCR is
// extended between quote and read-back the digests disagree and Quote tries
// again, up to three times, then fails with ErrPCRsChanged.
func Quote(rw io.ReadWriter, handle uint32, nonce []byte, pcrs []uint32) (*tpmquote.Quote, error) {
	if len(nonce) > MaxNonce {
		return nil, fmt.Errorf("quoting: nonce of %d bytes, limit %d", len(nonce), MaxNonce)
	}
	if pcrs == nil {
		for i := range uint32(NumPCRs) {
			pcrs = append(pcrs, i)
		}
	}
	bitmap := make([]byte, (NumPCRs+7)/8)
	for _, p := range pcrs {
		if p >= NumPCRs {
			return nil, fmt.Errorf("quoting: PCR %d does not exist", p)
		}
		bitmap[p/8] |= 1 << (p % 8)
	}
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: bitmap}}}
	// The order the TPM digests them in: ascending, whatever the caller's.
	indices := tpmquote.PCRSelection{Hash: tpmquote.AlgSHA256, Select: bitmap}.Indices()

	t := tpmOf(rw)
	_, pub, name, err := readRSAPublic(t, handle)
	if err != nil {
		return nil, fmt.Errorf("quoting: %w", err)
	}
	if err := checkRSASSA(pub); err != nil {
		return nil, fmt.Errorf("quoting: key 0x%08x: %w", handle, err)
	}

	for range quoteAttempts {
		rsp, err := tpm2.Quote{
			SignHandle:     tpm2.AuthHandle{Handle: tpm2.TPMHandle(handle), Name: name, Auth: tpm2.PasswordAuth(nil)},
			QualifyingData: tpm2.TPM2BData{Buffer: nonce},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      sel,
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("quoting with key 0x%08x: %w", handle, err)
		}
		if rsp.Signature.SigAlg != tpm2.TPMAlgRSASSA {
			return nil, fmt.Errorf("quoting: %w: signature algorithm 0x%04x", ErrAKScheme, uint16(rsp.Signature.SigAlg))
		}
		sig, err := rsp.Signature.Signature.RSASSA()
		if err != nil {
			return nil, fmt.Errorf("quoting: %w: signature: %w", ErrTPM, err)
		}
		if sig.Hash != tpm2.TPMAlgSHA256 {
			return nil, fmt.Errorf("quoting: %w: signature hash 0x%04x", ErrAKScheme, uint16(sig.Hash))
		}
		attest := bytes.Clone(rsp.Quoted.Bytes())
		a, err := tpmquote.ParseAttest(attest)
		if err != nil {
			return nil, fmt.Errorf("quoting: %w: %w", ErrTPM, err)
		}
		values, err := readPCRs(t, indices)
		if err != nil {
			return nil, fmt.Errorf("quoting: %w", err)
		}
		if d := tpmquote.PCRDigest(values); !bytes.Equal(d[:], a.PCRDigest) {
			continue // a PCR moved: quote again
		}
		return &tpmquote.Quote{
			Attest:    attest,
			Signature: bytes.Clone(sig.Sig.Buffer),
			PCRs:      values,
			Indices:   indices,
		}, nil
	}
	return nil, fmt.Errorf("quoting: %w (%d attempts)", ErrPCRsChanged, quoteAttempts)
}

// checkRSASSA refuses keys that would not sign a quote the verifier reads:
// a restricted signing key fixes its scheme, and it must be RSASSA with
// SHA-256.
func checkRSASSA(pub *tpm2.TPMTPublic) error {
	if !pub.ObjectAttributes.SignEncrypt || !pub.ObjectAttributes.Restricted {
		return fmt.Errorf("%w: not a restricted signing key", ErrAKScheme)
	}
	parms, err := pub.Parameters.RSADetail()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTPM, err)
	}
	if parms.Scheme.Scheme != tpm2.TPMAlgRSASSA {
		return fmt.Errorf("%w: scheme 0x%04x", ErrAKScheme, uint16(parms.Scheme.Scheme))
	}
	ss, err := parms.Scheme.Details.RSASSA()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTPM, err)
	}
	if ss.HashAlg != tpm2.TPMAlgSHA256 {
		return fmt.Errorf("%w: hash 0x%04x", ErrAKScheme, uint16(ss.HashAlg))
	}
	return nil
}

// readPCRs reads SHA-256 PCR values in the order given. TPM2_PCR_Read
// returns at most eight digests per call, saying which, so it loops until
// every PCR has come back.
func readPCRs(t transport.TPM, indices []uint32) ([][]byte, error) {
	got := make(map[uint32][]byte, len(indices))
	for len(got) < len(indices) {
		bitmap := make([]byte, (NumPCRs+7)/8)
		for _, i := range indices {
			if _, ok := got[i]; !ok {
				bitmap[i/8] |= 1 << (i % 8)
			}
		}
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{
			PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: bitmap}},
		}}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("reading PCRs: %w", err)
		}
		var out []uint32
		for _, s := range rsp.PCRSelectionOut.PCRSelections {
			if s.Hash != tpm2.TPMAlgSHA256 {
				return nil, fmt.Errorf("%w: PCR_Read returned bank 0x%04x", ErrTPM, uint16(s.Hash))
			}
			out = append(out, tpmquote.PCRSelection{Hash: tpmquote.AlgSHA256, Select: s.PCRSelect}.Indices()...)
		}
		if len(out) == 0 || len(out) != len(rsp.PCRValues.Digests) {
			return nil, fmt.Errorf("%w: PCR_Read returned %d PCRs and %d digests", ErrTPM, len(out), len(rsp.PCRValues.Digests))
		}
		for k, i := range out {
			d := rsp.PCRValues.Digests[k].Buffer
			if _, dup := got[i]; dup || !slices.Contains(indices, i) || len(d) != 32 {
				return nil, fmt.Errorf("%w: PCR_Read returned PCR %d unasked, twice or of %d bytes", ErrTPM, i, len(d))
			}
			got[i] = bytes.Clone(d)
		}
	}
	values := make([][]byte, len(indices))
	for k, i := range indices {
		values[k] = got[i]
	}
	return values, nil
}
