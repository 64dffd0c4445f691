package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	dcapTD  = "../../verifier/dcap/testdata/"
	azureTD = "../../verifier/azure/testdata/"
	maaTD   = "../../verifier/maa/testdata/"
)

func TestQuoteVerify(t *testing.T) {
	azureQuote := dcapTD + "quotes/teekit_tdx-v4-azure.v4.b64"
	coll00806f := dcapTD + "collateral/assembled_00806f050000_2025-10.json"
	tests := []struct {
		name   string
		args   []string
		code   int
		status string
	}{
		{"Azure quote, in window", []string{"--quote", azureQuote, "--collateral", coll00806f, "--at", "2025-11-01T00:00:00Z"}, exitOK, "UpToDate"},
		{"collateral expired", []string{"--quote", azureQuote, "--collateral", coll00806f, "--at", "2026-11-01T00:00:00Z"}, exitCrypto, ""},
		{"collateral not yet valid", []string{"--quote", azureQuote, "--collateral", coll00806f, "--at", "2025-01-01T00:00:00Z"}, exitCrypto, ""},
		{"another FMSPC's collateral", []string{"--quote", azureQuote, "--collateral", dcapTD + "collateral/dcap-qvl_tdx_quote_collateral_b0c06f000000_2025-06.json", "--at", "2025-06-25T00:00:00Z"}, exitCrypto, ""},
		{"OutOfDate refused by policy", []string{"--quote", dcapTD + "quotes/trustee_tdx_quote_6.dat", "--collateral", dcapTD + "collateral/assembled_00a06d080000_2025-10.json", "--at", "2025-11-01T00:00:00Z"}, exitPolicy, "OutOfDate"},
		{"debug TD refused by policy", []string{"--quote", dcapTD + "quotes/trustee_tdx_quote_4.dat", "--collateral", dcapTD + "collateral/assembled_go-tdx-guest_50806f000000_2023-06.json", "--at", "2023-06-20T00:00:00Z"}, exitPolicy, "UpToDate"},
		{"v5 unsupported", []string{"--quote", dcapTD + "quotes/trustee_tdx_quote_5.dat", "--collateral", coll00806f}, exitCrypto, ""},
		{"no collateral", []string{"--quote", azureQuote}, exitCouldNot, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := poc(t, append([]string{"quote", "verify", "--json"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, stderr)
			}
			var rep quoteReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("stdout is not one JSON document: %v", err)
			}
			if rep.TCBStatus != tt.status {
				t.Fatalf("tcb_status %q, want %q", rep.TCBStatus, tt.status)
			}
			if code != exitOK && len(rep.Errors)+len(rep.PolicyErrors) == 0 {
				t.Fatal("a refusal without a reason")
			}
			if code == exitOK && (rep.QuoteVersion != 4 || rep.FMSPC == "" || rep.MRTD == "" || len(rep.RTMRs) != 4 || len(rep.ReportData) != 128) {
				t.Fatalf("fields missing: %+v", rep)
			}
		})
	}
}

// The simulated hierarchy round-trips: a sim quote with chosen report data
// verifies only with the sim root trusted explicitly.
func TestSimRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	if code, _, stderr := poc(t, "sim", "init", "--dir", dir); code != exitOK {
		t.Fatalf("sim init: %d %s", code, stderr)
	}
	if code, _, _ := poc(t, "sim", "init", "--dir", dir); code != exitUsage {
		t.Fatalf("sim init over an existing TEE: exit %d, want %d", code, exitUsage)
	}
	for _, f := range []string{"root.pem", "collateral.json", simMAAKeyFile, simMAAJWKSFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, simMAAKeyFile)); st.Mode().Perm() != 0o600 {
		t.Fatalf("MAA key mode %v", st.Mode().Perm())
	}
	quote := filepath.Join(t.TempDir(), "q.bin")
	rd := strings.Repeat("ab", 64)
	if code, _, stderr := poc(t, "sim", "quote", "--dir", dir, "--report-data", rd, "--out", quote); code != exitOK {
		t.Fatalf("sim quote: %s", stderr)
	}
	coll := filepath.Join(dir, "collateral.json")
	if code, _, _ := poc(t, "quote", "verify", "--quote", quote, "--collateral", coll); code != exitCrypto {
		t.Fatalf("without the sim root: exit %d, want %d", code, exitCrypto)
	}
	code, out, _ := poc(t, "quote", "verify", "--json", "--quote", quote, "--collateral", coll, "--sim-root", filepath.Join(dir, "root.pem"))
	var rep quoteReport
	json.Unmarshal([]byte(out), &rep)
	if code != exitOK || rep.ReportData != rd || rep.TCBStatus != "UpToDate" {
		t.Fatalf("with the sim root: exit %d, report data %s, status %s", code, rep.ReportData, rep.TCBStatus)
	}
}

func TestMAAVerify(t *testing.T) {
	sharedweu := []string{"--token", maaTD + "ms-cvm-guest-attestation_azurevm_sharedweu_2023-03-30.jwt",
		"--jwks", maaTD + "secretnetwork_maa_signing_keys_jwks.json", "--type", "azurevm",
		"--issuer", "https://sharedweu.weu.attest.azure.net"}
	tampered := filepath.Join(t.TempDir(), "t.jwt")
	b, _ := os.ReadFile(maaTD + "ms-cvm-guest-attestation_azurevm_sharedweu_2023-03-30.jwt")
	parts := strings.Split(strings.TrimSpace(string(b)), ".")
	parts[1] = parts[1][:20] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return r
	}, parts[1][20:])
	os.WriteFile(tampered, []byte(strings.Join(parts, ".")), 0o644)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"real token", append(sharedweu, "--at", "2023-03-30T12:00:00Z"), exitOK},
		// Sound but too old: a policy refusal.
		{"expired", append(sharedweu, "--at", "2024-03-30T12:00:00Z"), exitPolicy},
		// The key file says its keys serve sharedweu: for another issuer
		// there is no trusted key, so the token cannot be checked.
		{"wrong issuer", append(append([]string{}, sharedweu[:6]...), "--issuer", "https://evil.example", "--at", "2023-03-30T12:00:00Z"), exitCouldNot},
		{"unknown kid", []string{"--token", maaTD + "ms-cvm-guest-attestation_azurevm_sharedeus2_2022-04-14.jwt", "--jwks", maaTD + "secretnetwork_maa_signing_keys_jwks.json", "--type", "azurevm", "--issuer", "https://sharedeus2.eus2.attest.azure.net", "--at", "2022-04-14T12:00:00Z"}, exitCouldNot},
		{"changed payload", []string{"--token", tampered, "--jwks", maaTD + "secretnetwork_maa_signing_keys_jwks.json", "--type", "azurevm", "--issuer", "https://sharedweu.weu.attest.azure.net", "--at", "2023-03-30T12:00:00Z"}, exitCrypto},
		{"no keys", []string{"--token", tampered}, exitUsage},
		{"fetch without issuer", []string{"--token", tampered, "--fetch"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := poc(t, append([]string{"maa", "verify", "--json"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, stderr)
			}
			if code != exitUsage {
				var rep maaReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Verified != (code == exitOK) {
					t.Fatalf("JSON %v, verified %v", err, rep.Verified)
				}
			}
		})
	}
}

func TestAzureVerify(t *testing.T) {
	base := []string{"azure", "verify", "--json", "--hcl-report", azureTD + "trustee_az-tdx-vtpm_hcl-report.bin",
		"--td-quote", azureTD + "trustee_az-tdx-vtpm_td-quote.bin",
		"--tpm-quote", azureTD + "trustee_az-tdx-vtpm_tpm-quote.json", "--tpm-nonce", "6368616c6c656e6765",
		"--user-data", strings.Repeat("00", 64),
		"--collateral", dcapTD + "collateral/assembled_00806f050000_2025-10.json", "--at", "2025-11-01T00:00:00Z"}
	// The real VM's TD is OutOfDate on this collateral: refused by the
	// default policy, accepted by one that says so.
	code, out, _ := poc(t, base...)
	var rep azureReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitPolicy || rep.Quote == nil || rep.Quote.TCBStatus != "OutOfDate" || rep.Azure == nil {
		t.Fatalf("default policy: exit %d, %v", code, err)
	}
	pol := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(pol, []byte(`{"version": 1, "quote": {"accepted_tcb_statuses": ["UpToDate", "OutOfDate"]}, "azure": {"require_tpm_quote": true}}`), 0o644)
	if code, out, _ := poc(t, append(base, "--policy", pol)...); code != exitOK {
		t.Fatalf("OutOfDate accepted by policy: exit %d\n%s", code, out)
	}
	for name, args := range map[string][]string{
		"HCL report of another VM": {"azure", "verify", "--hcl-report", azureTD + "kinvolk_hcl-report-tdx.bin", "--td-quote", azureTD + "trustee_az-tdx-vtpm_td-quote.bin"},
		"wrong nonce":              append(append([]string{}, base[:9]...), "--tpm-nonce", "00", "--user-data", strings.Repeat("00", 64)),
		"wrong user-data":          append(append([]string{}, base[:11]...), "--user-data", strings.Repeat("11", 64)),
	} {
		if code, out, _ := poc(t, args...); code != exitCrypto {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, exitCrypto, out)
		}
	}
	if code, _, _ := poc(t, "azure", "verify", "--hcl-report", "x", "--td-quote", "y", "--tpm-quote", "z"); code != exitUsage {
		t.Errorf("a vTPM quote without its nonce: exit %d, want %d", code, exitUsage)
	}
}
