package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latencyproof/poc/internal/lab"
)

// poc runs the command line in-process and returns its exit code and output.
func poc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"poc"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

const rfc8448 = "../../transcript/testdata/rfc8448/"

func verifyRFC8448(t *testing.T, c2s, s2c string) (int, map[string]bool) {
	t.Helper()
	code, out, _ := poc(t, "transcript", "verify", "--json",
		"--c2s", rfc8448+c2s, "--s2c", rfc8448+s2c, "--keylog", rfc8448+"keylog.txt",
		"--roots", rfc8448+"root.pem", "--server-name", "rsa", "--at", "2020-01-01T00:00:00Z")
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, c := range rep.Checks {
		got[c.Name] = c.OK
	}
	for _, name := range []string{"records", "client_hello", "handshake_decrypt", "certificate_chain", "certificate_verify", "server_finished", "application_data"} {
		if !got[name] {
			t.Errorf("check %s failed on the RFC 8448 trace", name)
		}
	}
	if ok, present := got["server_name"]; !present || ok {
		t.Errorf("server_name must be reported and fail (CN only, no SAN): present %v ok %v", present, ok)
	}
	return code, got
}

// The RFC 8448 trace: every signature check passes and the name check fails
// honestly, which alone makes the exit status a policy refusal.
func TestTranscriptVerifyRFC8448(t *testing.T) {
	if code, _ := verifyRFC8448(t, "c2s-handshake.bin", "s2c-handshake.bin"); code != exitPolicy {
		t.Errorf("exit %d, want %d (refused by name policy only)", code, exitPolicy)
	}
	// With its 50 opaque bytes of application data, which are no echo
	// protocol, the echoes check fails too: a cryptographic-stage refusal.
	code, got := verifyRFC8448(t, "c2s.bin", "s2c.bin")
	if code != exitCrypto || got["echoes"] {
		t.Errorf("full trace: exit %d, echoes ok %v; want %d and a failed echoes check", code, got["echoes"], exitCrypto)
	}
}

func startLab(t *testing.T) string {
	t.Helper()
	w, err := lab.DefaultWorld()
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	path := filepath.Join(t.TempDir(), "lab.json")
	if err := l.State.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The "done when": live probes of an HTTP/2 and an HTTP/1.1-only lab
// endpoint write transcripts that 'poc transcript verify' accepts with all
// their echoes; a flipped byte is refused.
func TestProbeThenVerify(t *testing.T) {
	state := startLab(t)
	for _, tc := range []struct{ host, method string }{
		{"api.westeurope.lab.test", "h2-ping"},
		{"blob.westeurope.lab.test", "http1"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			dir := t.TempDir()
			code, out, stderr := poc(t, "probe", "--lab", state, "--vantage", "westeurope-vm", "--endpoint", tc.host,
				"--echoes", "6", "--transcript-out", dir, "--json")
			if code != exitOK {
				t.Fatalf("probe exit %d: %s", code, stderr)
			}
			var res struct {
				Echoes []struct{ Cycles uint64 } `json:"echoes"`
				Conns  []struct{ Method string } `json:"conns"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Echoes) != 6 || res.Conns[0].Method != tc.method {
				t.Fatalf("probe: %d echoes, method %s", len(res.Echoes), res.Conns[0].Method)
			}
			verify := func(s2c string) (int, verifyReport) {
				code, out, _ := poc(t, "transcript", "verify", "--json", "--c2s", filepath.Join(dir, "c2s.bin"), "--s2c", s2c,
					"--keylog", filepath.Join(dir, "keylog.txt"), "--timing", filepath.Join(dir, "timing.json"),
					"--server-name", tc.host, "--lab", state)
				var rep verifyReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				return code, rep
			}
			code, rep := verify(filepath.Join(dir, "s2c.bin"))
			if code != exitOK || !rep.OK {
				t.Fatalf("verify exit %d: %+v", code, rep.Checks)
			}
			if len(rep.Echoes) != 6 {
				t.Fatalf("verify found %d echoes, want 6", len(rep.Echoes))
			}
			for i, e := range rep.Echoes {
				if e.RTTCycles != res.Echoes[i].Cycles {
					t.Errorf("echo %d: verifier recomputed %d cycles, probe claimed %d", i, e.RTTCycles, res.Echoes[i].Cycles)
				}
			}
			s2c, _ := os.ReadFile(filepath.Join(dir, "s2c.bin"))
			s2c[len(s2c)-3] ^= 0x40
			bad := filepath.Join(t.TempDir(), "s2c.bin")
			os.WriteFile(bad, s2c, 0o644)
			if code, rep := verify(bad); code != exitCrypto || rep.OK {
				t.Fatalf("a flipped byte gave exit %d", code)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"probe"},
		{"probe", "--endpoint", "x.test", "--vantage", "v"},
		{"probe", "--endpoint", "x.test", "--lab", "state.json"},
		{"probe", "--endpoint", "x.test", "--nonce", "abcd"},
		{"probe", "--endpoint", "x.test", "--echo", "smoke"},
		{"probe", "--endpoint", "x.test", "extra-arg"},
		{"transcript", "verify", "--c2s", "a", "--s2c", "b", "--keylog", "c", "--server-name", "n"},
		{"transcript", "verify", "--c2s", "a", "--s2c", "b", "--keylog", "c", "--server-name", "n", "--roots", "r", "--lab", "l"},
		{"no-such-command"},
		{"probe", "--no-such-flag"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := poc(t, args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
		})
	}
}

func TestProbeUnknownVantageHints(t *testing.T) {
	state := startLab(t)
	code, _, stderr := poc(t, "probe", "--lab", state, "--vantage", "moon", "--endpoint", "api.westeurope.lab.test")
	if code != exitUsage || !strings.Contains(stderr, "error: ") || !strings.Contains(stderr, "hint: ") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs the whole lab")
	}
	code, out, stderr := poc(t, "demo", "--json", "--out", t.TempDir())
	var doc struct {
		OK        bool `json:"ok"`
		Scenarios []struct {
			Scenario string `json:"scenario"`
			Expected string `json:"expected"`
			Verdict  string `json:"verdict"`
			Reason   string `json:"reason"`
			Match    bool   `json:"match"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stderr)
	}
	if len(doc.Scenarios) < 17 {
		t.Fatalf("%d scenarios", len(doc.Scenarios))
	}
	for _, s := range doc.Scenarios {
		if !s.Match {
			t.Errorf("%s: expected %s, got %s (%s)", s.Scenario, s.Expected, s.Verdict, s.Reason)
		}
	}
	if (code == exitOK) != doc.OK {
		t.Fatalf("exit %d but ok %v", code, doc.OK)
	}
}

func TestProbeLabDownHints(t *testing.T) {
	state := startLab(t)
	st, err := lab.ReadStateFile(state)
	if err != nil {
		t.Fatal(err)
	}
	// Point every route at a closed port, as after the lab stopped.
	for i := range st.Vantages {
		for h := range st.Vantages[i].Routes {
			st.Vantages[i].Routes[h] = "127.0.0.1:1"
		}
	}
	if err := st.WriteFile(state); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := poc(t, "probe", "--lab", state, "--vantage", "westeurope-vm", "--endpoint", "api.westeurope.lab.test", "--timeout", "2s")
	if code != exitCouldNot || !strings.Contains(stderr, "hint: is 'poc lab serve' still running?") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
