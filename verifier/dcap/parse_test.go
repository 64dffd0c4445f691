package dcap

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
)

func TestParseRealQuotes(t *testing.T) {
	tests := []struct {
		file   string
		fmspc  string
		teeSVN string
		debug  bool
	}{
		{"dcap-qvl_tdx_quote.v4.dat", "b0c06f000000", "06010300000000000000000000000000", false},
		{"dcap-qvl_quote-from-tappd.v4.hex", "b0c06f000000", "05010200000000000000000000000000", false},
		{"dcap-qvl_tdx-quote.v4.hex", "b0c06f000000", "05010200000000000000000000000000", false},
		{"go-tdx-guest_cos-113-gcp.v4.dat", "00806f050000", "04010700000000000000000000000000", false},
		{"go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat", "50806f000000", "03000400000000000000000000000000", false},
		{"teekit_tdx-v4-azure.v4.bin", "00806f050000", "04010700000000000000000000000000", false},
		{"teekit_tdx-v4-azure.v4.b64", "00806f050000", "04010700000000000000000000000000", false},
		{"teekit_tdx-v4-moemahhouk.v4.dat", "90c06f000000", "04010200000000000000000000000000", false},
		{"teekit_tdx-v4-zkdcap.v4.dat", "00806f050000", "04010700000000000000000000000000", false},
		{"trustee_tdx_quote_4.dat", "50806f000000", "03000500000000000000000000000000", true},
		{"trustee_tdx_quote_6.dat", "00a06d080000", "05030200000000000000000000000000", false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := quoteBytes(t, tc.file) // DecodeQuoteFile strips padding
			q, err := ParseQuote(raw)
			if err != nil {
				t.Fatal(err)
			}
			if q.Version != 4 || q.TEEType != 0x81 {
				t.Errorf("version %d TEE type %#x", q.Version, q.TEEType)
			}
			if got := hex.EncodeToString(q.PCK.FMSPC[:]); got != tc.fmspc {
				t.Errorf("FMSPC %s, want %s", got, tc.fmspc)
			}
			if got := hex.EncodeToString(q.TEETCBSVN[:]); got != tc.teeSVN {
				t.Errorf("TEE_TCB_SVN %s, want %s", got, tc.teeSVN)
			}
			if q.PCK.CA != "platform" || q.MRSERVICETD != nil || len(q.PCKChain) != 3 {
				t.Errorf("CA %q MRSERVICETD %x chain %d", q.PCK.CA, q.MRSERVICETD, len(q.PCKChain))
			}
			if q.QESVN == 0 || q.PCESVN == 0 {
				t.Errorf("QE SVN %d PCE SVN %d", q.QESVN, q.PCESVN)
			}
			if debug := q.TDAttributes[0]&1 == 1; debug != tc.debug {
				t.Errorf("debug %v", debug)
			}
			if q.Len() != len(raw) {
				t.Errorf("Len %d, want %d", q.Len(), len(raw))
			}
		})
	}
}

func TestParseKeepsPaddingCount(t *testing.T) {
	raw := readTestdata(t, "quotes", "go-tdx-guest_cos-113-gcp.v4.dat") // 8000-byte buffer
	q, err := ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 4935 || q.Padding != 8000-4935 {
		t.Errorf("Len %d Padding %d", q.Len(), q.Padding)
	}
}

func TestDecodeQuoteFileForms(t *testing.T) {
	raw := quoteBytes(t, "dcap-qvl_tdx_quote.v4.dat")
	padded := append(bytes.Clone(raw), make([]byte, 70)...)
	hx := hex.EncodeToString(padded)
	forms := map[string][]byte{
		"raw":             raw,
		"raw padded":      padded,
		"hex":             []byte(hx),
		"HEX 0x newline":  []byte("  0x" + hex.EncodeToString(raw) + "\n"),
		"base64":          []byte(base64.StdEncoding.EncodeToString(padded) + "\n"),
		"base64 raw":      []byte(base64.RawStdEncoding.EncodeToString(raw)),
		"base64url":       []byte(base64.URLEncoding.EncodeToString(raw)),
		"base64url raw":   []byte(base64.RawURLEncoding.EncodeToString(padded)),
		"base64 wrapped":  wrap(base64.StdEncoding.EncodeToString(raw), 76),
		"hex and padding": []byte(hx + "\r\n\r\n"),
	}
	for name, in := range forms {
		got, err := DecodeQuoteFile(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: decoded %d bytes, want the %d-byte quote", name, len(got), len(raw))
		}
	}
	// The Azure quote as published in base64 decodes to the .bin file.
	b64 := quoteBytes(t, "teekit_tdx-v4-azure.v4.b64")
	bin := quoteBytes(t, "teekit_tdx-v4-azure.v4.bin")
	if !bytes.Equal(b64, bin) {
		t.Error("Azure base64 and binary quotes differ")
	}
	// Non-zero trailing bytes are left for ParseQuote to refuse.
	spr, err := DecodeQuoteFile(readTestdata(t, "quotes", "go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat"))
	if err != nil || len(spr) != sprE4Len+39 {
		t.Errorf("SPR E4: %d bytes, %v", len(spr), err)
	}
	if _, err := DecodeQuoteFile([]byte(" \n ")); !errors.Is(err, ErrMalformedQuote) {
		t.Errorf("empty file: %v", err)
	}
}

func wrap(s string, n int) []byte {
	var b bytes.Buffer
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s + "\n")
	return b.Bytes()
}

func TestParseQuoteRefusals(t *testing.T) {
	good := quoteBytes(t, "dcap-qvl_tdx_quote.v4.dat")
	set16 := func(off int, v uint16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[off:], v)
		return b
	}
	set32 := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	sdLen := int(binary.LittleEndian.Uint32(good[sigDataLenOff:]))
	certOff := sigDataOff + 128
	qeCD := certOff + 6
	authLen := int(binary.LittleEndian.Uint16(good[qeCD+448:]))
	pckOff := qeCD + 450 + authLen
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformedQuote},
		{"header only", good[:48], ErrMalformedQuote},
		{"truncated body", good[:600], ErrMalformedQuote},
		{"truncated signed data", good[:len(good)-1], ErrMalformedQuote},
		{"truncated to signed data length", good[:sigDataOff], ErrMalformedQuote},
		{"oversized", make([]byte, MaxQuoteSize+1), ErrQuoteTooLarge},
		{"version 5", readTestdata(t, "quotes", "go-tdx-guest_quote_v5_sample.v5.dat"), ErrUnsupportedVersion},
		{"version 5 outdated", readTestdata(t, "quotes", "dcap-qvl_tdx_quote_outdated.v5.dat"), ErrUnsupportedVersion},
		{"version 5 alibaba", readTestdata(t, "quotes", "automata_alibaba_quote_5.v5.dat"), ErrUnsupportedVersion},
		{"version 5 trustee", readTestdata(t, "quotes", "trustee_tdx_quote_5.dat"), ErrUnsupportedVersion},
		{"version 3 TDX", set16(0, 3), ErrUnsupportedVersion},
		{"SGX v3", readTestdata(t, "quotes", "dcap-qvl_sgx_quote.v3.dat"), ErrNotTDX},
		{"SGX TEE type", set32(4, 0), ErrNotTDX},
		{"unknown TEE type", set32(4, 0x82), ErrNotTDX},
		{"attestation key type 3", set16(2, 3), ErrMalformedQuote},
		{"signed data too long", set32(sigDataLenOff, uint32(sdLen+1)), ErrMalformedQuote},
		{"signed data too short", set32(sigDataLenOff, 100), ErrMalformedQuote},
		{"signed data huge", set32(sigDataLenOff, 0xffffffff), ErrMalformedQuote},
		{"trailing text", append(bytes.Clone(good), "extra"...), ErrMalformedQuote},
		{"cert data type", set16(certOff, 5), ErrMalformedQuote},
		{"cert data size", set32(certOff+2, 7), ErrMalformedQuote},
		{"QE auth data size", set16(qeCD+448, 0xffff), ErrMalformedQuote},
		{"PCK data type", set16(pckOff, 6), ErrMalformedQuote},
		{"PCK chain size", set32(pckOff+2, 10), ErrMalformedQuote},
		{"SPR E4 with test suffix", readTestdata(t, "quotes", "go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat"), ErrMalformedQuote},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseQuote(tc.in)
			if !errors.Is(err, tc.want) || q != nil {
				t.Fatalf("ParseQuote = %v, %v; want %v", q != nil, err, tc.want)
			}
		})
	}
}

func TestParseQuoteEveryTruncation(t *testing.T) {
	good := quoteBytes(t, "teekit_tdx-v4-azure.v4.bin")
	for n := 0; n < len(good); n++ {
		if _, err := ParseQuote(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: parsed", n)
		} else if !errors.Is(err, ErrMalformedQuote) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
}

func TestVersionMessages(t *testing.T) {
	_, err := ParseQuote(readTestdata(t, "quotes", "go-tdx-guest_quote_v5_sample.v5.dat"))
	if err == nil || err.Error() != "quote version 5 is not supported (only v4)" {
		t.Errorf("v5: %v", err)
	}
	_, err = ParseQuote(readTestdata(t, "quotes", "dcap-qvl_sgx_quote.v3.dat"))
	if err == nil || err.Error() != "quote is an SGX enclave quote (TEE type 0x00, version 3), not a TDX quote" {
		t.Errorf("SGX: %v", err)
	}
}
