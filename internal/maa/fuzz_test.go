package maa

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseResponse: reading MAA's success and error bodies never panics,
// and error text stays printable, bounded and free of the bearer token.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"token":"`+testJWT+`"}`), "code")
	f.Add([]byte(`{"error":{"code":"InvalidParameter","message":"bad quote"}}`), "")
	f.Add([]byte("\x00\xff{"), "x-y")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		if tok, err := parseToken(body); err == nil {
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("accepted %q", tok)
			}
		} else if !errors.Is(err, ErrResponse) {
			t.Fatalf("untyped error %v", err)
		}
		h := http.Header{}
		h.Set("x-ms-error-code", header)
		e := parseError(500, h, body, "bearer-XYZ")
		for _, s := range []string{e.Code, e.Message, e.Error()} {
			if strings.Contains(s, "bearer-XYZ") {
				t.Fatalf("bearer in %q", s)
			}
		}
		if len(e.Message) > maxErrorText+len("…") || !utf8.ValidString(e.Message) {
			t.Fatalf("message %q", e.Message)
		}
	})
}
