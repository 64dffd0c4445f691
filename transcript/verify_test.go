package transcript

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

var allChecks = []string{CheckRecords, CheckClientHello, CheckHandshakeDecrypt, CheckCertificateChain, CheckServerName,
	CheckCertificateVerify, CheckServerFinished, CheckApplicationData, CheckEchoes, CheckTiming}

func checkNames(r *Result) []string {
	var n []string
	for _, c := range r.Checks {
		n = append(n, c.Name)
	}
	return n
}

// assertGood verifies a recorded session and checks what every good
// session must show.
func assertGood(t *testing.T, r *recorded, o Options) *Result {
	t.Helper()
	res, err := Verify(r.Session, o)
	if err != nil {
		for _, c := range res.Checks {
			t.Logf("%s ok=%v %s", c.Name, c.OK, c.Detail)
		}
		t.Fatalf("Verify: %v", err)
	}
	if !res.OK() {
		t.Fatal("Verify returned nil error but OK() is false")
	}
	if got := checkNames(res); !slices.Equal(got, allChecks) {
		t.Errorf("checks %v, want %v", got, allChecks)
	}
	for _, c := range res.Checks {
		if !c.OK || c.Err != nil || c.Detail == "" {
			t.Errorf("check %s: ok=%v err=%v detail=%q", c.Name, c.OK, c.Err, c.Detail)
		}
	}
	if res.CipherSuite != r.suite {
		t.Errorf("suite %#x, client saw %#x", res.CipherSuite, r.suite)
	}
	if res.ALPN != r.alpn {
		t.Errorf("ALPN %q, client saw %q", res.ALPN, r.alpn)
	}
	if res.SNI != testHost {
		t.Errorf("SNI %q", res.SNI)
	}
	if o.Nonce != nil && res.ClientRandom != ClientRandom(*o.Nonce, o.ConnIndex) {
		t.Errorf("client random %x", res.ClientRandom)
	}
	if len(res.Chain) == 0 || res.Chain[0].DNSNames[0] != testHost {
		t.Errorf("chain %v", res.Chain)
	}
	if len(res.Echoes) != r.echoes {
		t.Errorf("%d echoes, client saw %d answered", len(res.Echoes), r.echoes)
	}
	if res.HandshakeCycles == 0 {
		t.Error("HandshakeCycles is 0")
	}
	for i, e := range res.Echoes {
		if e.Index != o.EchoBase+uint32(i) || e.RTTCycles == 0 {
			t.Errorf("echo %d: %+v", i, e)
		}
		q, a := res.Records[e.Request], res.Records[e.Answer]
		if q.Dir != ClientToServer || a.Dir != ServerToClient || q.Inner != typeApplicationData || a.Inner != typeApplicationData {
			t.Errorf("echo %d: request %+v answer %+v", i, q, a)
		}
		if e.RTTCycles != a.Cycles-q.Cycles {
			t.Errorf("echo %d: RTT %d != %d-%d", i, e.RTTCycles, a.Cycles, q.Cycles)
		}
		if o.Nonce != nil {
			want := ""
			switch e.Method {
			case MethodH2Ping:
				p := PingPayload(*o.Nonce, e.Index)
				want = hex.EncodeToString(p[:])
			case MethodHTTP1:
				want = HTTP1Token(*o.Nonce, e.Index)
			}
			if e.Value != want {
				t.Errorf("echo %d value %s, want %s", i, e.Value, want)
			}
		}
	}
	for i, rec := range res.Records {
		if rec.Inner == 0 || rec.Cycles == 0 {
			t.Errorf("record %d not decrypted or not timed: %+v", i, rec)
		}
	}
	return res
}

func TestGoSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  sessionConfig
		want func(*testing.T, *Result)
	}{
		{"h2/ecdsa", sessionConfig{alpn: "h2", echoes: 5}, nil},
		{"h2/ed25519", sessionConfig{alpn: "h2", leaf: "ed25519", echoes: 3}, nil},
		{"h2/rsa", sessionConfig{alpn: "h2", leaf: "rsa", echoes: 3}, nil},
		{"http1/ecdsa", sessionConfig{alpn: "http/1.1", echoes: 8}, func(t *testing.T, r *Result) {
			var st []int
			for _, e := range r.Echoes {
				st = append(st, e.Status)
			}
			if !slices.Equal(st, []int{200, 200, 200, 200, 200, 200, 200, 200}) {
				t.Errorf("statuses %v", st)
			}
		}},
		{"http1/rsa", sessionConfig{alpn: "http/1.1", leaf: "rsa", echoes: 2}, nil},
		{"http1/ed25519", sessionConfig{alpn: "http/1.1", leaf: "ed25519", echoes: 2}, nil},
		{"h2/hrr", sessionConfig{alpn: "h2", echoes: 2, hrr: true}, func(t *testing.T, r *Result) {
			if !r.HelloRetry {
				t.Error("HelloRetry not set")
			}
		}},
		{"http1/hrr", sessionConfig{alpn: "http/1.1", echoes: 2, hrr: true}, func(t *testing.T, r *Result) {
			if !r.HelloRetry {
				t.Error("HelloRetry not set")
			}
		}},
		{"h2/client-auth-requested", sessionConfig{alpn: "h2", echoes: 2, clientAuth: true}, func(t *testing.T, r *Result) {
			if !r.CertificateRequested {
				t.Error("CertificateRequested not set")
			}
		}},
		{"h2/conn-index-and-echo-base", sessionConfig{alpn: "h2", echoes: 2, connIndex: 3, echoBase: 17}, nil},
		{"h2/goaway", sessionConfig{alpn: "h2", echoes: 4, goAwayAfter: 2}, func(t *testing.T, r *Result) {
			if r.GoAway == nil || r.GoAway.ErrCode != 1 { // PROTOCOL_ERROR
				t.Errorf("GoAway %+v", r.GoAway)
			}
		}},
		{"http1/connection-close", sessionConfig{alpn: "http/1.1", echoes: 5, closeAfter: 3}, func(t *testing.T, r *Result) {
			if len(r.Echoes) != 3 {
				t.Errorf("%d echoes, want 3", len(r.Echoes))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := recordGoSession(t, tc.cfg)
			o := r.options()
			o.ConnIndex, o.EchoBase = tc.cfg.connIndex, tc.cfg.echoBase
			res := assertGood(t, r, o)
			if res.NewSessionTickets == 0 {
				t.Error("Go's server sends a NewSessionTicket; none found")
			}
			if tc.want != nil {
				tc.want(t, res)
			}
		})
	}
}

func TestMiniSessions(t *testing.T) {
	suites := []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256}
	for _, s := range suites {
		for _, tc := range []struct {
			name string
			cfg  miniConfig
		}{
			{"plain", miniConfig{sessionConfig: sessionConfig{echoes: 3}}},
			{"fragmented-flight+ccs+padding", miniConfig{sessionConfig: sessionConfig{echoes: 3, leaf: "rsa"}, fragment: 37, ccs: true, padding: 5}},
			{"keyupdate-every-ping", miniConfig{sessionConfig: sessionConfig{echoes: 4, leaf: "ed25519"}, keyUpdate: 1}},
			{"server-ping", miniConfig{sessionConfig: sessionConfig{echoes: 2, serverPing: true}}},
		} {
			t.Run(tls.CipherSuiteName(s)+"/"+tc.name, func(t *testing.T) {
				tc.cfg.suite = s
				r := recordMiniSession(t, tc.cfg)
				if r.suite != s {
					t.Fatalf("client negotiated %#x", r.suite)
				}
				res := assertGood(t, r, r.options())
				if tc.cfg.keyUpdate > 0 && (res.KeyUpdates[ServerToClient] != tc.cfg.echoes || res.KeyUpdates[ClientToServer] == 0) {
					t.Errorf("key updates %v", res.KeyUpdates)
				}
			})
		}
	}
}

// TestGoChaCha20 covers TLS_CHACHA20_POLY1305_SHA256 between Go's own client
// and server. Go picks ChaCha20 only without AES hardware, which
// GODEBUG=cpu.aes=off simulates; the runtime reads it at start-up, so the
// test re-runs itself in a child process.
func TestGoChaCha20(t *testing.T) {
	if os.Getenv("TRANSCRIPT_CHACHA_CHILD") == "1" {
		for _, alpn := range []string{"h2", "http/1.1"} {
			r := recordGoSession(t, sessionConfig{alpn: alpn, echoes: 3})
			if r.suite != tls.TLS_CHACHA20_POLY1305_SHA256 {
				t.Fatalf("negotiated %s; GODEBUG=cpu.aes=off had no effect", tls.CipherSuiteName(r.suite))
			}
			assertGood(t, r, r.options())
		}
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoChaCha20$", "-test.v")
	cmd.Env = append(os.Environ(), "TRANSCRIPT_CHACHA_CHILD=1", "GODEBUG=cpu.aes=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestGoChaCha20") {
		t.Fatalf("child did not pass:\n%s", out)
	}
}

func TestUnansweredEcho(t *testing.T) {
	r := recordMiniSession(t, miniConfig{sessionConfig: sessionConfig{echoes: 3, noAnswerFrom: 3}, suite: tls.TLS_AES_128_GCM_SHA256})
	res, err := Verify(r.Session, r.options())
	if !errors.Is(err, ErrEcho) {
		t.Fatalf("err %v, want ErrEcho", err)
	}
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Check != CheckEchoes {
		t.Fatalf("err %v, want a CheckError of %s", err, CheckEchoes)
	}
	if res.OK() {
		t.Fatal("OK() true")
	}
	// Without timestamps nothing proves the answer was due: the echoes that
	// were answered stand.
	r.C2STimes, r.S2CTimes = nil, nil
	res, err = Verify(r.Session, r.options())
	if err != nil || len(res.Echoes) != 2 {
		t.Fatalf("without stamps: err %v, %d echoes", err, len(res.Echoes))
	}
}
