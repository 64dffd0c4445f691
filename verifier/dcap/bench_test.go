package dcap

import (
	"context"
	"testing"
	"time"

	tdxverify "github.com/google/go-tdx-guest/verify"
)

// The benchmarks compare a full Verify with warm collateral (a parsed
// Bundle whose signatures were checked by an earlier call; no network)
// against go-tdx-guest's bare offline verify.RawTdxQuote on the same quote
// (PCK chain, quote and QE report signatures; no collateral, no TCB status).

func benchQuote(b *testing.B) ([]byte, Options) {
	raw := quoteBytes(b, "teekit_tdx-v4-azure.v4.bin")
	opts := Options{Collateral: bundle(b, coll0080), At: at2025oct}
	if _, err := Verify(context.Background(), raw, opts); err != nil { // warm the collateral cache
		b.Fatal(err)
	}
	return raw, opts
}

func benchOurs(b *testing.B, raw []byte, opts Options) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(ctx, raw, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGoTDXGuest(b *testing.B, raw []byte, at time.Time) {
	a, err := defaultAnchors()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		opts := &tdxverify.Options{ // fresh each time: go-tdx-guest mutates it
			TrustedRoots: a.pool,
			Now:          &tdxverify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at},
		}
		if err := tdxverify.RawTdxQuote(raw, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify reports both figures as sub-benchmarks.
func BenchmarkVerify(b *testing.B) {
	raw, opts := benchQuote(b)
	b.Run("dcap.Verify", func(b *testing.B) { benchOurs(b, raw, opts) })
	b.Run("go-tdx-guest.RawTdxQuote", func(b *testing.B) { benchGoTDXGuest(b, raw, opts.At) })
}

func BenchmarkParseQuote(b *testing.B) {
	raw := quoteBytes(b, "teekit_tdx-v4-azure.v4.bin")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseQuote(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyColdCollateral verifies with a freshly parsed collateral
// each time: the cost of the collateral signature checks that the cache saves.
func BenchmarkVerifyColdCollateral(b *testing.B) {
	raw := quoteBytes(b, "teekit_tdx-v4-azure.v4.bin")
	js := readTestdata(b, "collateral", coll0080)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := ParseCollateral(js)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(ctx, raw, Options{Collateral: Bundle{Fixed: c}, At: at2025oct}); err != nil {
			b.Fatal(err)
		}
	}
}
