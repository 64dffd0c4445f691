package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	proversvc "github.com/latencyproof/poc/prover/service"
)

// serviceApp is poc's command line with the service commands, whether or
// not main.go lists them yet.
func serviceApp(stdout, stderr io.Writer) *cli.App {
	app := newApp(stdout, stderr)
	for _, cmd := range []*cli.Command{proverCommand(), verifierCommand()} {
		if !slices.ContainsFunc(app.Commands, func(c *cli.Command) bool { return c.Name == cmd.Name }) {
			app.Commands = append(app.Commands, cmd)
		}
	}
	usageErrors(app.Commands)
	return app
}

// runService runs a command line as run does, until ctx ends.
func runService(ctx context.Context, stdout, stderr io.Writer, args ...string) int {
	err := serviceApp(stdout, stderr).RunContext(ctx, append([]string{"poc"}, args...))
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitUsage
	}
	if ee.err != errSilent {
		fmt.Fprintf(stderr, "error: %v\n", err)
	}
	return ee.code
}

// syncBuffer is an output safe for a server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// service is a 'poc prover serve' or 'poc verifier serve' running in the
// test's process.
type service struct {
	url    string
	stderr *syncBuffer
	stop   context.CancelFunc
	code   chan int
}

var listening = regexp.MustCompile(`service listening on (https?://\S+)`)

// startService runs a serve command on a loopback port of the kernel's
// choice and waits until it listens.
func startService(t *testing.T, args ...string) *service {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	s := &service{stderr: &syncBuffer{}, stop: stop, code: make(chan int, 1)}
	go func() { s.code <- runService(ctx, io.Discard, s.stderr, append(args, "--listen", "127.0.0.1:0")...) }()
	t.Cleanup(func() { s.shutdown(t) })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := listening.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case code := <-s.code:
			s.code <- code
			t.Fatalf("%s exited %d before listening:\n%s", strings.Join(args[:2], " "), code, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen after 10 s:\n%s", strings.Join(args[:2], " "), s.stderr)
		}
	}
}

// shutdown stops the service as SIGTERM would and returns its exit code.
func (s *service) shutdown(t *testing.T) int {
	t.Helper()
	s.stop()
	select {
	case code := <-s.code:
		s.code <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("the service does not stop:\n%s", s.stderr)
		return -1
	}
}

func TestServeUsage(t *testing.T) {
	state := startLab(t)
	dir := t.TempDir()
	sim := filepath.Join(dir, "sim")
	if code, _, stderr := poc(t, "sim", "init", "--dir", sim); code != exitOK {
		t.Fatalf("sim init: %s", stderr)
	}
	prover := []string{"prover", "serve", "--endpoints", state, "--vantage", "westeurope-vm", "--region", "westeurope"}
	verifierArgs := []string{"verifier", "serve", "--profiles", "../../calibration/profile/testdata/example.json", "--lab", state,
		"--key", filepath.Join(dir, "key"), "--nonces", filepath.Join(dir, "nonces.db"), "--collateral", filepath.Join(sim, "collateral.json")}
	tests := []struct {
		name string
		args []string
	}{
		{"prover: unknown TEE", append(slices.Clone(prover), "--tee", "moon")},
		{"prover: sim without its directory", append(slices.Clone(prover), "--tee", "sim")},
		{"prover: no TEE", prover},
		{"prover: rate 0", append(slices.Clone(prover), "--tee", "tdx", "--rate", "0")},
		{"prover: certificate without key", append(slices.Clone(prover), "--tee", "tdx", "--tls-cert", "cert.pem")},
		{"prover: an argument", append(slices.Clone(prover), "--tee", "tdx", "extra")},
		{"prover: bad binding", append(slices.Clone(prover), "--tee", "tdx", "--bind-app", "xyz")},
		{"verifier: no nonce store", slices.DeleteFunc(slices.Clone(verifierArgs), func(s string) bool {
			return s == "--nonces" || strings.HasSuffix(s, "nonces.db")
		})},
		{"verifier: no profiles", []string{"verifier", "serve", "--nonces", filepath.Join(dir, "n.db")}},
		{"verifier: timeout 0", append(slices.Clone(verifierArgs), "--timeout", "0")},
		{"verifier: ttl beyond the verifier's", append(slices.Clone(verifierArgs), "--max-ttl", "48h")},
		{"verifier: both collateral sources", append(slices.Clone(verifierArgs), "--pcs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := runService(context.Background(), io.Discard, &stderr, tt.args...); code != exitUsage {
				t.Fatalf("exit %d, want %d:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), "error: ") {
				t.Fatalf("stderr %q", stderr.String())
			}
		})
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key as PEM
// files, and returns a pool that trusts it.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "poc test service"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With --tls-cert and --tls-key the service speaks HTTPS only.
func TestServeTLS(t *testing.T) {
	state := startLab(t)
	certFile, keyFile, pool := writeSelfSigned(t, t.TempDir())
	p := startService(t, "prover", "serve", "--endpoints", state, "--region", "westeurope", "--vantage", "westeurope-vm",
		"--tee", "tdx", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("url %s", p.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(p.url + proversvc.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + strings.TrimPrefix(p.url, "https://") + proversvc.PathHealth); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the TLS service answered plain HTTP")
		}
	}
	// A key that does not exist: could not start.
	var stderr bytes.Buffer
	if code := runService(context.Background(), io.Discard, &stderr, "prover", "serve", "--endpoints", state, "--region", "westeurope",
		"--vantage", "westeurope-vm", "--tee", "tdx", "--tls-cert", certFile, "--tls-key", certFile+".missing"); code != exitCouldNot {
		t.Fatalf("missing key: exit %d: %s", code, stderr.String())
	}
}
