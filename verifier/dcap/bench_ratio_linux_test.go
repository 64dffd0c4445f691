//go:build linux

package dcap

import (
	"context"
	"sort"
	"syscall"
	"testing"
	"time"

	tdxverify "github.com/google/go-tdx-guest/verify"
)

// cpuTime is the process's user+system CPU time. On a shared machine the
// wall clock measures the neighbours as much as the code; CPU time mostly
// does not (cache effects remain).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyRatio interleaves rounds of 100 dcap.Verify (warm
// collateral) and 100 go-tdx-guest RawTdxQuote on the same quote, so that a
// noisy machine affects both alike, and reports the median per-round CPU
// time per verification of each (GC included), their ratio, and
// quotes/s/core for Verify. (testing.Benchmark cannot be nested in a
// benchmark: it deadlocks.)
func BenchmarkVerifyRatio(b *testing.B) {
	raw, opts := benchQuote(b)
	ctx := context.Background()
	a, err := defaultAnchors()
	if err != nil {
		b.Fatal(err)
	}
	at := opts.At
	const per = 100
	round := func(fn func()) float64 {
		start := cpuTime()
		for range per {
			fn()
		}
		return float64((cpuTime() - start).Nanoseconds()) / per
	}
	ourFn := func() {
		if _, err := Verify(ctx, raw, opts); err != nil {
			b.Fatal(err)
		}
	}
	theirFn := func() {
		o := &tdxverify.Options{TrustedRoots: a.pool, Now: &tdxverify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at}}
		if err := tdxverify.RawTdxQuote(raw, o); err != nil {
			b.Fatal(err)
		}
	}
	var ours, theirs []float64
	for b.Loop() {
		ours = append(ours, round(ourFn))
		theirs = append(theirs, round(theirFn))
	}
	median := func(v []float64) float64 {
		sort.Float64s(v)
		return v[len(v)/2]
	}
	o, g := median(ours), median(theirs)
	b.ReportMetric(o, "dcap-cpu-ns/op")
	b.ReportMetric(g, "gotdx-cpu-ns/op")
	b.ReportMetric(o/g, "ratio")
	b.ReportMetric(1e9/o, "quotes/s/core")
}
