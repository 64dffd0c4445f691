package tlsprobe

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/latencyproof/poc/transcript"
)

// maxHTTP1Body bounds the body of one http1 echo's answer. Echo requests ask
// for something small; a larger answer is read and counted, never kept.
const maxHTTP1Body = 1 << 20

// http1Echoes times up to want HTTP/1.1 keep-alive requests, one at a time,
// each written in one record. It stops early, cleanly, on "Connection: close".
func (p *prober) http1Echoes(tc *tls.Conn, base uint32, want int) (done int, stop string, err error) {
	br := bufio.NewReader(tc)
	method := p.cfg.HTTP1.Method
	if method == "" {
		method = http.MethodGet
	}
	for done < want {
		p.pace()
		idx := base + uint32(done)
		req := p.http1Request(method, transcript.HTTP1Token(p.cfg.Nonce, idx))
		if _, err := tc.Write(req); err != nil {
			return done, "", fmt.Errorf("writing request %d: %w", idx, err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return done, "", fmt.Errorf("reading response %d: %w", idx, err)
		}
		n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxHTTP1Body+1))
		resp.Body.Close()
		if err != nil {
			return done, "", fmt.Errorf("reading response %d body: %w", idx, err)
		}
		if n > maxHTTP1Body {
			return done, "", fmt.Errorf("response %d body exceeds %d bytes", idx, maxHTTP1Body)
		}
		done++
		if resp.Close {
			return done, "connection-close", nil
		}
	}
	return done, "done", nil
}

// http1Request renders the echo request: the configured request line and
// headers, Host, and the echo token, in a stable order.
func (p *prober) http1Request(method, token string) []byte {
	path := p.cfg.HTTP1.Path
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	h := p.cfg.HTTP1.Header
	if h.Get("Host") == "" {
		fmt.Fprintf(&b, "Host: %s\r\n", p.host)
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "%s: %s\r\n\r\n", transcript.EchoHeader, token)
	return []byte(b.String())
}
