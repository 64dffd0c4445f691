package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	proversvc "github.com/latencyproof/poc/prover/service"
	"github.com/latencyproof/poc/verifier"
	verifiersvc "github.com/latencyproof/poc/verifier/service"
)

// labPolicy accepts the simulated TEE, any counter source this machine may
// have, and lab profiles.
const labPolicy = `{"version": 1, "tees": ["sim"],
  "counter": {"sources": ["cpuid-0x15", "cpuid-0x16", "hypervisor-cpuid", "cntfrq", "calibrated", "monotonic"]},
  "latency": {"origin": "lab", "min_echoes": 8}}`

func httpPost(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// Both services from the command line, in the lab with the simulated TEE:
// the verifier issues a challenge, the prover answers it, the verifier
// checks the proof (the latency verdict depends on the example profiles, so
// only the stages before it are asserted), and both stop cleanly.
func TestServeCommands(t *testing.T) {
	state := startLab(t)
	dir := t.TempDir()
	sim := filepath.Join(dir, "sim")
	if code, _, stderr := poc(t, "sim", "init", "--dir", sim); code != exitOK {
		t.Fatalf("sim init: %s", stderr)
	}
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(labPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	key, nonces := filepath.Join(dir, "verifier.key"), filepath.Join(dir, "nonces.db")
	v := startService(t, "verifier", "serve", "--policy", policy, "--profiles", "../../calibration/profile/testdata/example.json",
		"--lab", state, "--key", key, "--nonces", nonces, "--collateral", filepath.Join(sim, "collateral.json"),
		"--sim-root", filepath.Join(sim, "root.pem"), "--name", "cli verifier")
	p := startService(t, "prover", "serve", "--endpoints", state, "--region", "westeurope", "--vantage", "westeurope-vm",
		"--tee", "sim", "--sim-dir", sim, "--echoes", "8")

	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the challenge key: %v, %v", st, err)
	}
	for _, url := range []string{v.url, p.url} {
		resp, err := http.Get(url + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz of %s: %v %v", url, resp, err)
		}
		resp.Body.Close()
	}
	status, challenge := httpPost(t, v.url+verifiersvc.PathChallenges, []byte(`{"ttl": "2m"}`))
	if status != http.StatusOK {
		t.Fatalf("challenge: %d %s", status, challenge)
	}
	status, proof := httpPost(t, p.url+proversvc.PathProofs, challenge)
	if status != http.StatusOK {
		t.Fatalf("proof: %d %s\n%s", status, proof, p.stderr)
	}
	status, body := httpPost(t, v.url+verifiersvc.PathVerifications, proof)
	var r verifiersvc.Response
	if err := json.Unmarshal(body, &r); err != nil || status != http.StatusOK || r.Result == nil {
		t.Fatalf("verification: %d %v %s", status, err, body)
	}
	passed := map[string]bool{}
	for _, c := range r.Checks {
		passed[c.Stage] = c.OK
	}
	for _, stage := range []string{verifier.StageProof, verifier.StageChallenge, verifier.StageTEE, verifier.StageCounter,
		verifier.StageQuote, verifier.StageBinding, verifier.StageTranscripts, verifier.StageScope} {
		if !passed[stage] {
			t.Errorf("stage %s did not pass: %+v", stage, r.Checks)
		}
	}
	if !strings.HasPrefix(r.Verifier, "cli verifier (key ") {
		t.Errorf("verifier %q", r.Verifier)
	}
	// Not a proof: 400, refused.
	status, body = httpPost(t, v.url+verifiersvc.PathVerifications, challenge)
	if err := json.Unmarshal(body, &r); err != nil || status != http.StatusBadRequest || r.Outcome != verifier.RefusedCrypto {
		t.Fatalf("a challenge as a proof: %d %s", status, body)
	}

	for _, s := range []*service{p, v} {
		if code := s.shutdown(t); code != exitOK {
			t.Fatalf("exit %d:\n%s", code, s.stderr)
		}
		if !strings.Contains(s.stderr.String(), "service stopped") {
			t.Fatalf("stderr:\n%s", s.stderr)
		}
	}
	logs := v.stderr.String()
	if !strings.Contains(logs, "warning: trusting the simulated TEE root") || !strings.Contains(logs, "route=verifications") {
		t.Fatalf("verifier stderr:\n%s", logs)
	}
	secret, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	hexKey := strings.TrimSpace(strings.SplitN(string(secret), "\n", 2)[1])
	if strings.Contains(logs, hexKey) {
		t.Fatal("the challenge key is in the log")
	}
	// The nonce store outlives the service, and another may open it now.
	nf, err := verifier.OpenNonceFile(nonces)
	if err != nil {
		t.Fatal(err)
	}
	nf.Close()
}
