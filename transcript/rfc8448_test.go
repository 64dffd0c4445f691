package transcript

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latencyproof/poc/transcript/internal/rfc8448"
)

// rfcAt is inside the RFC 8448 certificate's validity
// (2016-07-30T01:23:59Z to 2026-07-30T01:23:59Z).
var rfcAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func readRFC(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc8448", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type rfcTrace struct {
	Client struct {
		Random string `json:"random"`
	} `json:"client"`
	Records map[string]string `json:"records"`
	Secrets map[string]string `json:"secrets"`
	AppData string            `json:"app_data_plaintext"`
}

func loadRFCTrace(t testing.TB) rfcTrace {
	var tr rfcTrace
	if err := json.Unmarshal(readRFC(t, "trace.json"), &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfcSession is the RFC 8448 session as testdata holds it.
func rfcSession(t testing.TB) (Session, Options) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(readRFC(t, "root.pem")) {
		t.Fatal("root.pem")
	}
	return Session{C2S: readRFC(t, "c2s.bin"), S2C: readRFC(t, "s2c.bin"), KeyLog: readRFC(t, "keylog.txt")},
		Options{ServerName: "rsa", Roots: roots, At: rfcAt}
}

// TestRFC8448Fixture proves that the fixture files are what the generator
// derives from the trace, and that they hold the trace's values.
func TestRFC8448Fixture(t *testing.T) {
	files, err := rfc8448.Files(readRFC(t, "trace.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		if got := readRFC(t, name); !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator derives; re-run transcript/internal/rfc8448/gen", name)
		}
	}
	tr := loadRFCTrace(t)
	var c2s, s2c []byte
	for _, r := range rfc8448.C2SRecords {
		c2s = append(c2s, unhex(t, tr.Records[r])...)
	}
	for _, r := range rfc8448.S2CRecords {
		s2c = append(s2c, unhex(t, tr.Records[r])...)
	}
	if !bytes.Equal(c2s, readRFC(t, "c2s.bin")) || !bytes.Equal(s2c, readRFC(t, "s2c.bin")) {
		t.Error("c2s.bin/s2c.bin are not the trace's records in order")
	}
	kl, err := parseKeyLog(readRFC(t, "keylog.txt"), [32]byte(unhex(t, tr.Client.Random)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ls := range rfc8448.KeyLogSecrets {
		if !bytes.Equal(kl.secrets[ls[0]], unhex(t, tr.Secrets[ls[1]])) {
			t.Errorf("keylog %s differs from the trace's %s", ls[0], ls[1])
		}
	}
}

// TestRFC8448KeySchedule checks HKDF-Expand-Label and the Finished key
// against the RFC's published intermediate values.
func TestRFC8448KeySchedule(t *testing.T) {
	tr := loadRFCTrace(t)
	s := suiteByID(suiteAES128GCMSHA256)
	for _, side := range []string{"server_handshake", "client_handshake", "server_application", "client_application"} {
		secretName := side + "_traffic_secret"
		if side == "server_application" || side == "client_application" {
			secretName += "_0"
		}
		secret := unhex(t, tr.Secrets[secretName])
		if got, want := expandLabel(s.hash, secret, "key", nil, 16), unhex(t, tr.Secrets[side+"_key"]); !bytes.Equal(got, want) {
			t.Errorf("%s key %x, want %x", side, got, want)
		}
		if got, want := expandLabel(s.hash, secret, "iv", nil, 12), unhex(t, tr.Secrets[side+"_iv"]); !bytes.Equal(got, want) {
			t.Errorf("%s iv %x, want %x", side, got, want)
		}
	}
	for _, side := range []string{"server", "client"} {
		secret := unhex(t, tr.Secrets[side+"_handshake_traffic_secret"])
		if got, want := expandLabel(crypto.SHA256, secret, "finished", nil, 32), unhex(t, tr.Secrets[side+"_finished_key"]); !bytes.Equal(got, want) {
			t.Errorf("%s finished key %x, want %x", side, got, want)
		}
	}
	// The transcript hash of ClientHello‖ServerHello.
	msgs := [][]byte{unhex(t, tr.Records["client_hello"])[5:], unhex(t, tr.Records["server_hello"])[5:]}
	if got, want := transcriptHash(crypto.SHA256, msgs...), unhex(t, tr.Secrets["transcript_hash_ch_sh"]); !bytes.Equal(got, want) {
		t.Errorf("transcript hash %x, want %x", got, want)
	}
}

func checkByName(r *Result, name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// TestRFC8448 verifies the RFC's session. Its certificate has CN=rsa and no
// SAN, so the name check fails honestly while every cryptographic check
// passes; its application data is 50 opaque bytes, not an echo protocol.
func TestRFC8448(t *testing.T) {
	tr := loadRFCTrace(t)
	s, o := rfcSession(t)
	res, err := Verify(s, o)
	for _, name := range []string{CheckRecords, CheckClientHello, CheckHandshakeDecrypt, CheckCertificateChain,
		CheckCertificateVerify, CheckServerFinished, CheckApplicationData} {
		if c := checkByName(res, name); c == nil || !c.OK {
			t.Errorf("check %s: %+v", name, c)
		}
	}
	nameCheck := checkByName(res, CheckServerName)
	var he x509.HostnameError
	if nameCheck == nil || nameCheck.OK || !errors.Is(nameCheck.Err, ErrServerName) || !errors.As(nameCheck.Err, &he) {
		t.Errorf("server_name: %+v", nameCheck)
	}
	if !errors.Is(err, ErrEcho) {
		t.Errorf("err %v, want ErrEcho (opaque application data)", err)
	}
	if res.OK() {
		t.Error("OK() true")
	}
	if res.CipherSuite != suiteAES128GCMSHA256 || res.SNI != "server" || res.ALPN != "" || res.HelloRetry {
		t.Errorf("result %+v", res)
	}
	if hex.EncodeToString(res.ClientRandom[:]) != tr.Client.Random {
		t.Errorf("client random %x", res.ClientRandom)
	}
	if res.NewSessionTickets != 1 || len(res.Alerts) != 2 || res.Alerts[0].Description != alertCloseNotify || res.Alerts[1].Description != alertCloseNotify {
		t.Errorf("tickets %d alerts %+v", res.NewSessionTickets, res.Alerts)
	}
	if len(res.Chain) != 1 || res.Chain[0].Subject.CommonName != "rsa" {
		t.Errorf("chain %v", res.Chain)
	}

	// Without the application data and closures only the name fails, and
	// Verify's error is the name error.
	s2 := Session{C2S: readRFC(t, "c2s-handshake.bin"), S2C: readRFC(t, "s2c-handshake.bin"), KeyLog: s.KeyLog}
	if !bytes.HasPrefix(s.C2S, s2.C2S) || !bytes.HasPrefix(s.S2C, s2.S2C) {
		t.Fatal("handshake-only files are not prefixes of the full streams")
	}
	cf := len(s2.C2S)
	res, err = Verify(s2, o)
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Check != CheckServerName || !errors.Is(err, ErrServerName) {
		t.Errorf("err %v, want the server_name CheckError", err)
	}
	want := []string{CheckRecords, CheckClientHello, CheckHandshakeDecrypt, CheckCertificateChain, CheckServerName,
		CheckCertificateVerify, CheckServerFinished, CheckApplicationData}
	if got := checkNames(res); !slices.Equal(got, want) {
		t.Errorf("checks %v, want %v", got, want)
	}

	// With one stamp per record, written/read in the RFC's order, timing
	// holds: ClientHello at 100, server flight read at 300.
	s2.C2STimes = []Stamp{{Offset: 0, Cycles: 100}, {Offset: int64(cf - 58), Cycles: 400}}
	s2.S2CTimes = []Stamp{{Offset: 0, Cycles: 200}, {Offset: 95, Cycles: 300}, {Offset: 95 + 679, Cycles: 500}}
	res, _ = Verify(s2, o)
	if c := checkByName(res, CheckTiming); c == nil || !c.OK || res.HandshakeCycles != 200 {
		t.Errorf("timing %+v, handshake cycles %d", c, res.HandshakeCycles)
	}

	// After the certificate's NotAfter the chain fails as expired.
	o.At = time.Date(2026, 7, 31, 0, 0, 0, 0, time.UTC)
	_, err = Verify(s, o)
	var inv x509.CertificateInvalidError
	if !errors.Is(err, ErrCertificateChain) || !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("err %v, want an expired chain", err)
	}
}
