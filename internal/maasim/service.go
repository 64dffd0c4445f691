package maasim

import (
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
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"
)

// Service is a running loopback HTTPS instance of the simulator.
type Service struct {
	srv     *http.Server
	ln      net.Listener
	url     string
	roots   *x509.CertPool
	certPEM []byte
	done    chan error
	once    sync.Once
	err     error
}

// Start listens on cfg.Addr (loopback only; default 127.0.0.1, any free
// port) and serves the simulator over HTTPS until Close. Its issuer is its
// own base URL, "https://127.0.0.1:PORT". Unless cfg.TLSCertificate is
// set, it makes a fresh self-signed ECDSA P-256 certificate for 127.0.0.1,
// ::1 and localhost, which RootCAs and CertificatePEM expose for clients
// to trust.
func Start(cfg Config) (*Service, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	s := &Service{done: make(chan error, 1)}
	var cert tls.Certificate
	switch {
	case cfg.TLSCertificate != nil:
		if cfg.TLSRoots == nil {
			return nil, errors.New("maasim: TLSCertificate given without TLSRoots")
		}
		cert, s.roots = *cfg.TLSCertificate, cfg.TLSRoots
	default:
		var err error
		cert, s.certPEM, err = selfSignedTLS()
		if err != nil {
			return nil, err
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("maasim: %w", err)
		}
		s.roots = x509.NewCertPool()
		s.roots.AddCert(leaf)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("maasim: listening on %s: %w", addr, err)
	}
	s.ln = ln
	s.url = "https://" + ln.Addr().String()
	h, err := NewHandler(cfg, s.url)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// HTTP/1.1 only: a REST client needs nothing more, and an HTTP/2
	// connection would hold Shutdown for its one-second GOAWAY grace.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	s.srv = &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { s.done <- s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// checkLoopback refuses to listen anywhere but loopback: the simulator's
// tokens are trusted by explicit local choice and must not be reachable
// from a network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("maasim: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("maasim: address %q is not loopback", addr)
	}
	return nil
}

// URL is the base URL, which is also the tokens' issuer.
func (s *Service) URL() string { return s.url }

// RootCAs is the pool clients must trust to reach the service.
func (s *Service) RootCAs() *x509.CertPool { return s.roots }

// CertificatePEM is the self-signed TLS certificate in PEM, for a client
// in another process; nil when Config.TLSCertificate was given.
func (s *Service) CertificatePEM() []byte { return append([]byte(nil), s.certPEM...) }

// Client returns an HTTP client that trusts the service's certificate.
func (s *Service) Client() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12},
		},
	}
}

// Close stops the service, waiting briefly for requests in flight. Calls
// after the first return the first call's result.
func (s *Service) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.err = s.srv.Shutdown(ctx)
		if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && s.err == nil {
			s.err = serr
		}
	})
	return s.err
}

// selfSignedTLS makes the service's TLS certificate.
func selfSignedTLS() (tls.Certificate, []byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("maasim: TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("maasim: TLS serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "poc MAA simulator (loopback)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("maasim: TLS certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, pemBytes, nil
}
