package hcl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

var parseErrors = []error{ErrTruncated, ErrTooLarge, ErrBadMagic, ErrUnsupportedVersion, ErrBadSize,
	ErrUnknownReportType, ErrUnknownHashType, ErrHardwareReport, ErrRuntimeData}

func FuzzParseHCL(f *testing.F) {
	for _, name := range []string{"trustee_az-tdx-vtpm_hcl-report.bin", "kinvolk_hcl-report-tdx.bin",
		"kinvolk_hcl-report-snp.bin", "trustee_az-snp-vtpm_hcl-report.bin"} {
		b := readTestdata(f, name)
		f.Add(b)
		f.Add(b[:binary.LittleEndian.Uint32(b[8:])])
	}
	f.Add([]byte("HCLA"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		r, err := Parse(b)
		if !bytes.Equal(in, b) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			if r != nil {
				t.Fatal("report and error")
			}
			n := 0
			for _, e := range parseErrors {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %v wraps %d sentinel errors, want 1", err, n)
			}
			return
		}
		if len(r.HardwareReport) != HardwareReportSize || r.Runtime == nil {
			t.Fatalf("accepted report with %d-byte hardware report, runtime %v", len(r.HardwareReport), r.Runtime)
		}
		end := int(r.Header.ReportSize)
		if end > len(b) || !bytes.Equal(r.RuntimeData, b[end-len(r.RuntimeData):end]) {
			t.Fatal("runtime data is not the bytes ending at report_size")
		}
		if (r.Type == ReportTypeTDX) != (r.TD != nil) || (r.Type == ReportTypeSNP) != (r.SNP != nil) {
			t.Fatalf("type %s with TD %v SNP %v", r.Type, r.TD != nil, r.SNP != nil)
		}
		if r.TD != nil && !bytes.Equal(r.TD.Raw, b[HardwareReportOffset:HardwareReportOffset+TDReportSize]) {
			t.Fatal("TDREPORT is not the first 1024 bytes of the hardware report")
		}
	})
}

func FuzzParseRuntimeClaims(f *testing.F) {
	f.Add(readTestdata(f, "kinvolk_var-data.bin"))
	f.Add([]byte(`{"keys":[],"vm-configuration":{},"user-data":"00"}`))
	f.Add([]byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","n":"AQAB","e":"AQAB"}],"vm-configuration":{"a":{"b":[1]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseRuntimeClaims(b)
		if err != nil {
			if !errors.Is(err, ErrRuntimeData) || c != nil {
				t.Fatalf("claims %v, error %v", c != nil, err)
			}
			return
		}
		if c.AKPub != nil && (c.AKPub.E < 3 || c.AKPub.N.BitLen() < 1017) {
			t.Fatalf("weak AK accepted: e=%d, %d bits", c.AKPub.E, c.AKPub.N.BitLen())
		}
	})
}
