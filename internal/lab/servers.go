package lab

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// endpoint is one running lab TLS server.
type endpoint struct {
	svc  Service
	srv  *http.Server
	ln   net.Listener
	addr string
}

// startEndpoint runs a TLS server for one lab service on a loopback port: an
// HTTP/2 server (answering PINGs as any x/net/http2-based server does) or an
// HTTP/1.1-only one, like an object store. It presents cert whatever name
// the client asks for. Every path answers a short body naming the host; a
// shared-certificate server also answers GET RegionTokenPath with token,
// the body only its region has.
func startEndpoint(svc Service, cert tls.Certificate, token []byte, host string, errLog *log.Logger) (*endpoint, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("listening for %s: %w", svc.Hostname(), err)
	}
	hostname := svc.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", serveBody([]byte("poc lab endpoint "+hostname+"\n")))
	if svc.SharedCert {
		// "GET" patterns match HEAD too.
		mux.HandleFunc(http.MethodGet+" "+RegionTokenPath, serveBody(token))
	}
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errLog,
	}
	switch svc.Protocol {
	case "h2":
		tlsCfg.NextProtos = []string{"h2", "http/1.1"}
	case "http1":
		tlsCfg.NextProtos = []string{"http/1.1"}
		// A non-nil, empty map turns net/http's HTTP/2 off.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	srv.TLSConfig = tlsCfg
	e := &endpoint{svc: svc, srv: srv, ln: ln, addr: ln.Addr().String()}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return e, nil
}

// serveBody answers every request with body (HEAD with its length alone).
func serveBody(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	}
}

func (e *endpoint) close() error { return e.srv.Close() }
