package httpjson

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAllowAndProblem(t *testing.T) {
	w := httptest.NewRecorder()
	if Allow(w, httptest.NewRequest(http.MethodDelete, "/", nil), http.MethodGet, http.MethodHead) {
		t.Fatal("DELETE allowed")
	}
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" ||
		strings.TrimSpace(w.Body.String()) != `{"error":"method not allowed","status":405}` {
		t.Fatalf("%d %q %q", w.Code, w.Header().Get("Allow"), w.Body.String())
	}
	if !Allow(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), http.MethodGet) {
		t.Fatal("GET refused")
	}
}

func TestWriteUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, http.StatusOK, math.NaN())
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "internal error") {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{"": true, "application/json": true, "application/problem+json; charset=utf-8": true,
		"text/plain": false, "application/json;;": false} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if got := IsJSON(r); got != want {
			t.Errorf("%q: %v", ct, got)
		}
	}
}
