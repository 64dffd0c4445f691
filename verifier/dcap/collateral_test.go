package dcap

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCollateralReal(t *testing.T) {
	tests := []struct {
		file  string
		fmspc string
		eval  uint32
		from  string // latest start of a piece's validity
		until string // earliest nextUpdate
	}{
		{collB0C0, "b0c06f000000", 17, "2025-06-19T10:32:27Z", "2025-07-19T10:00:35Z"},
		{coll90C0, "90c06f000000", 18, "2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z"},
		{collSGX, "00a067110000", 17, "2025-06-19T10:56:11Z", "2025-07-19T10:01:18Z"},
		{coll5080, "50806f000000", 15, "2023-06-18T08:42:58Z", "2023-07-08T07:24:59Z"},
		{coll90C0gt, "90c06f000000", 18, "2026-02-18T10:42:15Z", "2026-03-03T14:49:26Z"},
		{coll0080, "00806f050000", 17, "2025-10-19T17:48:50Z", "2025-11-12T10:45:32Z"},
		{collA06D, "00a06d080000", 17, "2025-10-28T06:45:09Z", "2025-11-12T10:45:32Z"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			c := collateral(t, tc.file)
			if c.FMSPC() != tc.fmspc {
				t.Errorf("FMSPC %s", c.FMSPC())
			}
			d := c.Dates()
			if d.TCBEvaluationDataNumber != tc.eval {
				t.Errorf("eval %d", d.TCBEvaluationDataNumber)
			}
			from := d.TCBInfoIssueDate
			for _, x := range []time.Time{d.QEIdentityIssueDate, d.PCKCRLThisUpdate, d.RootCRLThisUpdate} {
				if x.After(from) {
					from = x
				}
			}
			if got := from.Format(time.RFC3339); got != tc.from {
				t.Errorf("valid from %s, want %s", got, tc.from)
			}
			if got := c.nextUpdate().Format(time.RFC3339); got != tc.until {
				t.Errorf("valid until %s, want %s", got, tc.until)
			}
		})
	}
}

func TestMarshalCollateralRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/collateral/*.json")
	if len(files) != 7 {
		t.Fatalf("%d collateral files", len(files))
	}
	for _, f := range files {
		c := collateral(t, filepath.Base(f))
		b, err := MarshalCollateral(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseCollateral(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := MarshalCollateral(c2)
		if string(b) != string(b2) {
			t.Errorf("%s: marshal is not stable", f)
		}
		if c2.TCBInfoJSON() != c.TCBInfoJSON() || c2.QEIdentityJSON() != c.QEIdentityJSON() {
			t.Errorf("%s: signed texts changed", f)
		}
		// Same fields as the file, same values.
		var orig, again map[string]string
		json.Unmarshal(readTestdata(t, "collateral", filepath.Base(f)), &orig)
		json.Unmarshal(b, &again)
		for k, v := range orig {
			if strings.TrimSpace(again[k]) != strings.TrimSpace(v) && !strings.EqualFold(again[k], v) {
				t.Errorf("%s: field %s changed", f, k)
			}
		}
	}
}

func TestParseCollateralRefusals(t *testing.T) {
	var good map[string]string
	if err := json.Unmarshal(readTestdata(t, "collateral", coll0080), &good); err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) []byte {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "\x00delete" {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	tcb := good["tcb_info"]
	const first15 = `"sgxtcbcomponents":[{"svn":7,"category":"BIOS","type":"Early Microcode Update"},`
	tests := map[string][]byte{
		"not JSON":              []byte("{"),
		"array":                 []byte("[]"),
		"too large":             make([]byte, maxCollateralSize+1),
		"no tcb_info":           with("tcb_info", "\x00delete"),
		"no root CRL":           with("root_ca_crl", "\x00delete"),
		"CRL not hex":           with("pck_crl", "zz"),
		"CRL not DER":           with("pck_crl", "3000"),
		"chain not PEM":         with("tcb_info_issuer_chain", "hello"),
		"chain of one":          with("qe_identity_issuer_chain", strings.SplitAfter(good["qe_identity_issuer_chain"], "-----END CERTIFICATE-----")[0]),
		"signature short":       with("tcb_info_signature", "abcd"),
		"tcb_info not JSON":     with("tcb_info", "{"),
		"tcb_info bad status":   with("tcb_info", strings.Replace(tcb, `"UpToDate"`, `"Fine"`, 1)),
		"tcb_info bad fmspc":    with("tcb_info", strings.Replace(tcb, `"00806F050000"`, `"00806F0500"`, 1)),
		"tcb_info no levels":    with("tcb_info", tcb[:strings.Index(tcb, `,"tcbLevels"`)]+"}"),
		"tcb_info 15 SGX comps": with("tcb_info", strings.Replace(tcb, first15, `"sgxtcbcomponents":[`, 1)),
		"qe_identity bad mrsigner": with("qe_identity", strings.Replace(good["qe_identity"],
			"DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5", "DC9E", 1)),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseCollateral(in); !errors.Is(err, ErrMalformedCollateral) {
				t.Fatalf("ParseCollateral: %v", err)
			}
		})
	}
	// The edits above must hit the text they target.
	for _, target := range []string{`"UpToDate"`, `"00806F050000"`, `,"tcbLevels"`, first15} {
		if !strings.Contains(tcb, target) {
			t.Errorf("tcb_info has no %s", target)
		}
	}
}

func TestReadBundle(t *testing.T) {
	b, err := ReadBundle(filepath.Join("testdata", "collateral", coll0080))
	if err != nil || b.Fixed == nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(filepath.Join("testdata", "nope.json")); err == nil {
		t.Error("missing file read")
	}
	if _, err := (Bundle{}).Collateral(t.Context(), [6]byte{}, "platform"); !errors.Is(err, ErrCouldNotCheck) {
		t.Errorf("empty bundle: %v", err)
	}
}
