package fit

import (
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/latencyproof/poc/calibration/dataset"
)

// heapWatch is a Source wrapper that samples the live heap every 2^20
// samples, to report the peak while streaming.
type heapWatch struct {
	src  Source
	n    int
	peak uint64
}

func (h *heapWatch) Read() (dataset.Sample, error) {
	if h.n&(1<<20-1) == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapAlloc)
	}
	h.n++
	return h.src.Read()
}

// BenchmarkFit10M streams 10⁷ synthetic samples (one group, a shifted
// log-normal) through Fit: the throughput in samples/s (generation
// included) and the peak live heap while streaming and fitting, which
// must not depend on the sample count.
func BenchmarkFit10M(b *testing.B) {
	const n = 10_000_000
	cpu0 := cpuTime(b)
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		h := &heapWatch{src: newGen(n, 1, lognormalDraw(100_000, math.Log(30_000), 0.5))}
		f, err := Fit(h, Options{Locate: locate})
		if err != nil || f.Profiles[0].Count != n {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapAlloc)
		b.ReportMetric(float64(h.peak-base)/(1<<20), "peak-heap-MiB")
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime(b)-cpu0).Seconds(), "samples/cpu-s")
}

// BenchmarkAdd is the streaming cost of one sample (sketch, moments,
// reservoir, lowest values), without generation or fitting.
func BenchmarkAdd(b *testing.B) {
	fr, _ := NewFitter(Options{Locate: locate})
	r := rand.New(rand.NewPCG(1, 1))
	xs := make([]float64, 1<<16)
	for i := range xs {
		xs[i] = 100_000 + math.Exp(math.Log(30_000)+0.5*r.NormFloat64())
	}
	s := sample(0)
	i := 0
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		s.RTTNs = xs[i&(1<<16-1)]
		i++
		if err := fr.Add(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkFitGroup is the cost of turning one group's streamed state
// (10⁶ samples) into a profile: quantiles, both families, goodness of fit.
func BenchmarkFitGroup(b *testing.B) {
	fr, _ := NewFitter(Options{Locate: locate})
	g := newGen(1_000_000, 1, lognormalDraw(100_000, math.Log(30_000), 0.5))
	for {
		s, err := g.Read()
		if err == io.EOF {
			break
		}
		_ = fr.Add(s)
	}
	cpu0 := cpuTime(b)
	for b.Loop() {
		if _, err := fr.File(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
