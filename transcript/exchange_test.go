package transcript

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// An http1 echo reports the exchange as it went over the wire: what a
// region-binding check needs (host, method, target, status, body hash).
func TestHTTPExchanges(t *testing.T) {
	rec := recordGoSession(t, sessionConfig{alpn: "http/1.1", echoes: 4})
	res, err := Verify(rec.Session, rec.options())
	if err != nil {
		t.Fatal(err)
	}
	hash := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	want := []HTTPExchange{
		{Host: testHost, Method: "GET", Target: "/echo", Status: 200, BodySHA256: hash("pong")},
		{Host: testHost, Method: "HEAD", Target: "/echo", Status: 200, BodySHA256: hash("")},
		{Host: testHost, Method: "POST", Target: "/echo", Status: 200, BodySHA256: hash("pong")},
		{Host: testHost, Method: "GET", Target: "/chunked", Status: 200, BodySHA256: hash("first part second part")},
	}
	if len(res.Echoes) != len(want) {
		t.Fatalf("%d echoes", len(res.Echoes))
	}
	for i, e := range res.Echoes {
		x := e.HTTP
		if x == nil {
			t.Fatalf("echo %d has no exchange", i)
		}
		w := want[i]
		if x.Host != w.Host || x.Method != w.Method || x.Target != w.Target || x.Status != w.Status || x.BodySHA256 != w.BodySHA256 {
			t.Errorf("echo %d: %+v, want %+v", i, *x, w)
		}
		if x.Header.Get("Content-Length") == "" && i != 3 {
			t.Errorf("echo %d: response header not reported: %v", i, x.Header)
		}
	}
	rec2 := recordGoSession(t, sessionConfig{alpn: "h2", echoes: 1})
	res2, err := Verify(rec2.Session, rec2.options())
	if err != nil || res2.Echoes[0].HTTP != nil {
		t.Fatalf("a PING echo must have no HTTP exchange (err %v)", err)
	}
}
