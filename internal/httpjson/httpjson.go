// Package httpjson is what the prover and verifier services share in
// answering HTTP: JSON bodies, problem documents and method checks.
package httpjson

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Problem is the body of every answer that is not a success.
type Problem struct {
	// Error says what went wrong in a short, fixed message.
	Error string `json:"error"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
}

// Write answers with v as JSON (and a newline). A value that cannot be
// encoded becomes a 500 problem document.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error","status":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// WriteProblem answers with a problem document.
func WriteProblem(w http.ResponseWriter, status int, msg string) {
	Write(w, status, Problem{Error: msg, Status: status})
}

// Allow reports whether the request's method is one of methods, and
// answers 405 with an Allow header when it is not.
func Allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	WriteProblem(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

// IsJSON reports whether the request's content type is JSON (or absent).
func IsJSON(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
