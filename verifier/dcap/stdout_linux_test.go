//go:build linux

package dcap

import (
	"io"
	"os"
	"syscall"
	"testing"

	tdxverify "github.com/google/go-tdx-guest/verify"
)

// captureFD1 runs fn with file descriptor 1 redirected to a pipe and returns
// what was written to it. go-tdx-guest's logger holds the process's stdout
// file from init time, so swapping os.Stdout would not catch it.
func captureFD1(t *testing.T, fn func()) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 1, 0); err != nil {
		t.Fatal(err)
	}
	out := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	fn()
	syscall.Dup3(saved, 1, 0)
	syscall.Close(saved)
	w.Close()
	return <-out
}

func TestVerifyNeverPrintsToStdout(t *testing.T) {
	raw := quoteBytes(t, "teekit_tdx-v4-azure.v4.bin")
	// The harness catches go-tdx-guest's warning when TrustedRoots is nil…
	control := captureFD1(t, func() {
		tdxverify.RawTdxQuote(raw, &tdxverify.Options{Now: &tdxverify.TimeSet{PckCertChain: at2025oct}})
	})
	if len(control) == 0 {
		t.Fatal("capture harness saw nothing from go-tdx-guest with nil TrustedRoots")
	}
	// …and Verify, successful or not, writes nothing.
	got := captureFD1(t, func() {
		Verify(t.Context(), raw, Options{Collateral: bundle(t, coll0080), At: at2025oct})
		bad := append([]byte{}, raw...)
		bad[100] ^= 1
		Verify(t.Context(), bad, Options{Collateral: bundle(t, coll0080), At: at2025oct})
		Verify(t.Context(), raw, Options{Collateral: bundle(t, coll0080), At: atNever})
		Verify(t.Context(), raw, Options{Collateral: bundle(t, coll0080)})
	})
	if len(got) != 0 {
		t.Errorf("Verify wrote to stdout: %q", got)
	}
}
