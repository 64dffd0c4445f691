package hcl

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withRuntime rebuilds a version 1 report around new runtime data, keeping
// every declared size consistent, so that a test reaches the JSON checks.
func withRuntime(base, runtime []byte) []byte {
	out := append([]byte(nil), base[:VariableDataOffset]...)
	out = append(out, runtime...)
	le := binary.LittleEndian
	le.PutUint32(out[8:], uint32(len(out)))
	le.PutUint32(out[RequestDataOffset:], uint32(RequestDataSize+len(runtime)))
	le.PutUint32(out[RequestDataOffset+16:], uint32(len(runtime)))
	return append(out, make([]byte, 100)...) // NV padding
}

func runtimeOf(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return r.RuntimeData
}

func TestParseRealReports(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		file       string
		typ        ReportType
		reportData string // first 32 bytes of the hardware report's report data
		vmID       string
		secureBoot *bool
		userData   []byte
		ekPub      bool
	}{
		{"trustee_az-tdx-vtpm_hcl-report.bin", ReportTypeTDX, "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839",
			"6332533D-5649-4D02-8AA7-8F64B7C3EE21", &yes, make([]byte, 64), true},
		{"kinvolk_hcl-report-tdx.bin", ReportTypeTDX, "e8f0796193ba21d6d43d2ea4bb6e4081ce4920729b348f39099cd2f65ecb6170",
			"D270E56B-F668-4990-A5BC-9B624576841D", &no, make([]byte, 64), true},
		{"kinvolk_hcl-report-snp.bin", ReportTypeSNP, "1d0a466a9eed975e88f889f7aed4abc1c97e87c4f43e5e3478c9a4a5853cbd7d",
			"BAEFD3E1-184B-4C4C-AB88-0BDAD260505F", &yes, nil, false},
		{"trustee_az-snp-vtpm_hcl-report.bin", ReportTypeSNP, "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac",
			"911B0EF8-9DBA-48B0-B275-4E4DF2D39252", &yes, make([]byte, 64), true},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b := readTestdata(t, tc.file)
			r, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if r.Type != tc.typ || r.HashType != HashTypeSHA256 {
				t.Errorf("type %s hash %s, want %s sha-256", r.Type, r.HashType, tc.typ)
			}
			if (r.TD != nil) != (tc.typ == ReportTypeTDX) || (r.SNP != nil) != (tc.typ == ReportTypeSNP) {
				t.Errorf("TD %v SNP %v for a %s report", r.TD != nil, r.SNP != nil, tc.typ)
			}
			// The binding: SHA-256 of the exact runtime bytes starts the
			// hardware report's report data.
			sum := sha256.Sum256(r.RuntimeData)
			rd := r.ReportData()
			if !bytes.Equal(sum[:], rd[:32]) || !bytes.Equal(rd[:32], unhex(t, tc.reportData)) {
				t.Errorf("sha256(runtime) %x, report data %x, want %s", sum, rd[:32], tc.reportData)
			}
			if !bytes.Equal(r.RuntimeData, b[VariableDataOffset:VariableDataOffset+len(r.RuntimeData)]) {
				t.Error("RuntimeData is not the bytes at 0x4D4")
			}
			c := r.Runtime
			if c.AKPub == nil || c.AKPub.N.BitLen() != 2048 || c.AKPub.E != 65537 {
				t.Errorf("AKPub = %v", c.AKPub)
			}
			if (c.EKPub != nil) != tc.ekPub {
				t.Errorf("EKPub present %v, want %v", c.EKPub != nil, tc.ekPub)
			}
			if c.VMConfig.VMUniqueID != tc.vmID {
				t.Errorf("vmUniqueId %q, want %q", c.VMConfig.VMUniqueID, tc.vmID)
			}
			if c.VMConfig.SecureBoot == nil || *c.VMConfig.SecureBoot != *tc.secureBoot {
				t.Errorf("secure-boot %v, want %v", c.VMConfig.SecureBoot, *tc.secureBoot)
			}
			if c.VMConfig.TPMEnabled == nil || !*c.VMConfig.TPMEnabled {
				t.Errorf("tpm-enabled %v, want true", c.VMConfig.TPMEnabled)
			}
			if !bytes.Equal(c.UserData, tc.userData) || (c.UserData == nil) != (tc.userData == nil) {
				t.Errorf("user-data %x, want %x", c.UserData, tc.userData)
			}
		})
	}
}

// TestTDReportOffsets checks the TDREPORT offsets against the report's own
// hashes: TEE_TCB_INFO_HASH = SHA-384(TEE_TCB_INFO) and TEE_INFO_HASH =
// SHA-384(TDINFO), and against values read independently.
func TestTDReportOffsets(t *testing.T) {
	for _, file := range []string{"trustee_az-tdx-vtpm_hcl-report.bin", "kinvolk_hcl-report-tdx.bin"} {
		r, err := Parse(readTestdata(t, file))
		if err != nil {
			t.Fatal(err)
		}
		td := r.TD
		if got := sha512.Sum384(td.Raw[TDTCBInfoOffset : TDTCBInfoOffset+TDTCBInfoSize]); got != td.TEETCBInfoHash {
			t.Errorf("%s: SHA-384(TEE_TCB_INFO) %x != TEE_TCB_INFO_HASH %x", file, got, td.TEETCBInfoHash)
		}
		if got := sha512.Sum384(td.Raw[TDInfoOffset : TDInfoOffset+TDInfoSize]); got != td.TEEInfoHash {
			t.Errorf("%s: SHA-384(TDINFO) %x != TEE_INFO_HASH %x", file, got, td.TEEInfoHash)
		}
		if td.Type != TDReportTypeTDX || td.TDAttributesWord()&1 != 0 {
			t.Errorf("%s: type 0x%x attributes %x", file, td.Type, td.TDAttributes)
		}
	}
	r, _ := Parse(readTestdata(t, "trustee_az-tdx-vtpm_hcl-report.bin"))
	if !strings.HasPrefix(hex.EncodeToString(r.TD.MRTD[:]), "024a32b070383331181619fa387cb4d5") {
		t.Errorf("MRTD %x", r.TD.MRTD)
	}
	if !strings.HasPrefix(hex.EncodeToString(r.TD.MRSEAM[:]), "360304d34a16aace0a18e09ad2d07d2b") {
		t.Errorf("MRSEAM %x", r.TD.MRSEAM)
	}
	if hex.EncodeToString(r.TD.XFAM[:]) != "e718060000000000" || hex.EncodeToString(r.TD.TEETCBSVN[:4]) != "02010600" {
		t.Errorf("XFAM %x TEE_TCB_SVN %x", r.TD.XFAM, r.TD.TEETCBSVN)
	}
}

func TestParseRequestDataV2(t *testing.T) {
	base := readTestdata(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	rt := runtimeOf(t, base)
	// Insert the 4-byte capability bitmap of a version 2 request.
	b := append([]byte(nil), base[:VariableDataOffset]...)
	b = append(b, 0x05, 0, 0, 0)
	b = append(b, rt...)
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[RequestDataOffset:], uint32(RequestDataSize+4+len(rt)))
	le.PutUint32(b[RequestDataOffset+4:], 2)
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestData.Capabilities != 5 || !bytes.Equal(r.RuntimeData, rt) {
		t.Errorf("capabilities %d, runtime data changed: %v", r.RequestData.Capabilities, !bytes.Equal(r.RuntimeData, rt))
	}
}

func TestParseRefuses(t *testing.T) {
	tdx := readTestdata(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	rt := runtimeOf(t, tdx)
	reportSize := int(binary.LittleEndian.Uint32(tdx[8:]))
	set32 := func(off int, v uint32) []byte {
		b := append([]byte(nil), tdx...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(rt, []byte(old)) {
			t.Fatalf("runtime data lacks %q", old)
		}
		return withRuntime(tdx, bytes.Replace(rt, []byte(old), []byte(new), 1))
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"header only", tdx[:HeaderSize], ErrTruncated},
		{"no request data", tdx[:RequestDataOffset], ErrTruncated},
		{"fixed part minus one", tdx[:MinReportSize-1], ErrTruncated},
		{"runtime data cut", tdx[:reportSize-1], ErrTruncated},
		{"oversized", append(append([]byte(nil), tdx...), make([]byte, MaxReportSize)...), ErrTooLarge},
		{"bad magic", set32(0, 0x414c4349), ErrBadMagic},
		{"header version 0", set32(4, 0), ErrUnsupportedVersion},
		{"header version 3", set32(4, 3), ErrUnsupportedVersion},
		{"request data version 3", set32(RequestDataOffset+4, 3), ErrUnsupportedVersion},
		{"report_size off by one", set32(8, uint32(reportSize+1)), ErrBadSize},
		{"data_size off by one", set32(RequestDataOffset, uint32(RequestDataSize+len(rt)-1)), ErrBadSize},
		{"variable size beyond input", func() []byte {
			b := set32(RequestDataOffset+16, 1<<20)
			binary.LittleEndian.PutUint32(b[RequestDataOffset:], RequestDataSize+1<<20)
			binary.LittleEndian.PutUint32(b[8:], VariableDataOffset+1<<20)
			return b
		}(), ErrTruncated},
		{"variable size overflowing 32 bits", func() []byte {
			b := set32(RequestDataOffset+16, 0xffffffff)
			binary.LittleEndian.PutUint32(b[RequestDataOffset:], RequestDataSize-1) // wraps in 32 bits
			binary.LittleEndian.PutUint32(b[8:], VariableDataOffset-1)
			return b
		}(), ErrBadSize},
		{"report type invalid", set32(RequestDataOffset+8, 0), ErrUnknownReportType},
		{"report type VBS", set32(RequestDataOffset+8, 1), ErrUnknownReportType},
		{"report type TVM", set32(RequestDataOffset+8, 3), ErrUnknownReportType},
		{"report type CCA", set32(RequestDataOffset+8, 5), ErrUnknownReportType},
		{"hash type invalid", set32(RequestDataOffset+12, 0), ErrUnknownHashType},
		{"hash type 4", set32(RequestDataOffset+12, 4), ErrUnknownHashType},
		{"TDREPORT type not TDX", set32(HardwareReportOffset, 0x80), ErrHardwareReport},
		{"SNP declared over a TDREPORT", set32(RequestDataOffset+8, uint32(ReportTypeSNP)), ErrHardwareReport},
		{"runtime not JSON", replace(`{"keys"`, `["keys"`), ErrRuntimeData},
		{"runtime JSON cut", withRuntime(tdx, rt[:len(rt)-1]), ErrRuntimeData},
		{"runtime trailing data", withRuntime(tdx, append(append([]byte(nil), rt...), "{}"...)), ErrRuntimeData},
		{"runtime trailing NUL", withRuntime(tdx, append(append([]byte(nil), rt...), 0)), ErrRuntimeData},
		{"duplicate user-data", replace(`"user-data":`, `"user-data":"ff","user-data":`), ErrRuntimeData},
		{"duplicate user-data by case", replace(`"user-data":`, `"User-Data":"ff","user-data":`), ErrRuntimeData},
		{"duplicate nested key", replace(`"secure-boot":true`, `"secure-boot":true,"secure-boot":false`), ErrRuntimeData},
		{"user-data not hex", replace(`"user-data":"00`, `"user-data":"zz`), ErrRuntimeData},
		{"user-data odd length", replace(`"user-data":"00`, `"user-data":"0`), ErrRuntimeData},
		{"user-data not a string", replace(`"user-data":"`, `"user-data":1,"x":"`), ErrRuntimeData},
		{"no keys", replace(`"keys":`, `"kays":`), ErrRuntimeData},
		{"no vm-configuration", replace(`"vm-configuration":`, `"vm-config":`), ErrRuntimeData},
		{"secure-boot not a bool", replace(`"secure-boot":true`, `"secure-boot":"true"`), ErrRuntimeData},
		{"AK not RSA", replace(`"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA"`, `"kid":"HCLAkPub","key_ops":["sign"],"kty":"EC"`), ErrRuntimeData},
		{"AK modulus padded base64", replace(`"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB"`, `"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB="`), ErrRuntimeData},
		{"AK exponent even", replace(`"e":"AQAB"`, `"e":"AQAA"`), ErrRuntimeData},
		{"AK modulus tiny", replace(`"kty":"RSA","e":"AQAB","n":"`, `"kty":"RSA","e":"AQAB","n":"AQAB","x":"`), ErrRuntimeData},
		{"duplicate kid", replace(`"kid":"HCLEkPub"`, `"kid":"HCLAkPub"`), ErrRuntimeData},
		{"deep nesting", replace(`"user-data":`, `"x":`+strings.Repeat("[", 20)+strings.Repeat("]", 20)+`,"user-data":`), ErrRuntimeData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, %v; want %v", r != nil, err, tc.want)
			}
			if r != nil {
				t.Error("report returned with an error")
			}
		})
	}
}

func TestParseIgnoresPaddingAndCopies(t *testing.T) {
	b := readTestdata(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	reportSize := int(binary.LittleEndian.Uint32(b[8:]))
	// The NV index is padded; what follows report_size is not covered by
	// anything and does not matter.
	for i := reportSize; i < len(b); i++ {
		b[i] = 0xa5
	}
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b[:reportSize]); err != nil {
		t.Errorf("report without padding: %v", err)
	}
	want := append([]byte(nil), r.RuntimeData...)
	for i := range b {
		b[i] = 0
	}
	if !bytes.Equal(r.RuntimeData, want) || r.TD.Type != TDReportTypeTDX {
		t.Error("Report aliases its input")
	}
}

func TestParseRuntimeClaims(t *testing.T) {
	c, err := ParseRuntimeClaims(readTestdata(t, "kinvolk_var-data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if c.AKPub == nil || c.EKPub == nil || c.VMConfig.VMUniqueID != "3404EF27-32A2-4A07-A4C7-1A1171624C5D" || len(c.UserData) != 64 {
		t.Errorf("claims %+v", c)
	}
	// A claim set with everything OpenHCL writes today.
	full := `{"keys":[],"vm-configuration":{"current-time":1700000000,"root-cert-thumbprint":"x","console-enabled":false,` +
		`"interactive-console-enabled":false,"secure-boot":true,"tpm-enabled":true,"tpm-persisted":true,` +
		`"filtered-vpci-devices-allowed":false,"vmUniqueId":"id","vmgs-provisioner":{"id":"g","signer":"s"},` +
		`"hardware-sealing-policy":"hash","future-claim":[1,{"a":2}]},"user-data":"ABCDEF","future":null}`
	c, err = ParseRuntimeClaims([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	v := c.VMConfig
	if *v.CurrentTime != 1700000000 || *v.TPMPersisted != true || *v.InteractiveConsoleEnabled != false ||
		*v.FilteredVPCIDevicesAllowed != false || v.HardwareSealingPolicy != "hash" ||
		v.VMGSProvisioner == nil || v.VMGSProvisioner.Signer != "s" || !bytes.Equal(c.UserData, []byte{0xab, 0xcd, 0xef}) {
		t.Errorf("claims %+v", v)
	}
	if c.AKPub != nil {
		t.Error("AKPub from no keys")
	}
	// Claim names are matched exactly: "User-Data" is not "user-data".
	c, err = ParseRuntimeClaims([]byte(`{"keys":[],"vm-configuration":{},"User-Data":"00"}`))
	if err != nil || c.UserData != nil {
		t.Errorf("case-folded claim name: %v, %x", err, c.UserData)
	}
}
