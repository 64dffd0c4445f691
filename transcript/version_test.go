package transcript

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

// serverFirstFlight runs a Go TLS client offering only TLS 1.3 against a Go
// server capped at maxVersion and returns the server's bytes.
func serverFirstFlight(t *testing.T, maxVersion uint16) []byte {
	t.Helper()
	p := mustPKI(t)
	cc, sc := net.Pipe()
	defer cc.Close()
	go func() {
		defer sc.Close()
		srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{p.leaves["ecdsa"]}, MaxVersion: maxVersion})
		_ = srv.Handshake()
	}()
	rec := &recorder{Conn: cc, clock: &fakeClock{}}
	c := tls.Client(rec, &tls.Config{ServerName: testHost, RootCAs: p.roots, MinVersion: tls.VersionTLS13, Time: func() time.Time { return testAt }})
	_ = c.Handshake()
	return rec.session(nil).S2C
}

func TestServerVersion(t *testing.T) {
	if v, err := ServerVersion(serverFirstFlight(t, tls.VersionTLS13)); err != nil || v != tls.VersionTLS13 {
		t.Fatalf("TLS 1.3 server: %#x, %v", v, err)
	}
	// A TLS 1.2-only Go server refuses a 1.3-only client with a
	// protocol_version alert.
	if _, err := ServerVersion(serverFirstFlight(t, tls.VersionTLS12)); !errors.Is(err, ErrNotTLS13) {
		t.Fatalf("TLS 1.2 server: err = %v, want ErrNotTLS13", err)
	}
	sh := serverFirstFlight(t, tls.VersionTLS13)
	tests := map[string]struct {
		in   []byte
		want error
	}{
		"empty":           {nil, ErrTruncated},
		"cut ServerHello": {sh[:40], ErrTruncated},
		"other alert":     {[]byte{21, 3, 3, 0, 2, 2, 40}, ErrHandshake},
		"app data first":  {[]byte{23, 3, 3, 0, 1, 0}, ErrHandshake},
		"not ServerHello": {[]byte{22, 3, 3, 0, 4, 11, 0, 0, 0}, ErrHandshake},
		"bad ServerHello": {[]byte{22, 3, 3, 0, 5, 2, 0, 0, 1, 0}, ErrHandshake},
	}
	for name, tt := range tests {
		if _, err := ServerVersion(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tt.want)
		}
	}
}

func FuzzServerVersion(f *testing.F) {
	f.Add([]byte{21, 3, 3, 0, 2, 2, 70})
	f.Add([]byte{22, 3, 3, 0, 4, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ServerVersion(b)
	})
}
