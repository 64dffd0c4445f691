package relay

import (
	"math"
	"sync"
	"testing"
	"time"
)

func moments(s Sampler, n int) (mean, std, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	var sum, sum2 float64
	for range n {
		x := float64(s.Sample())
		sum += x
		sum2 += x * x
		lo, hi = min(lo, x), max(hi, x)
	}
	mean = sum / float64(n)
	return mean, math.Sqrt(sum2/float64(n) - mean*mean), lo, hi
}

func TestSamplerMoments(t *testing.T) {
	const n = 200_000
	ms := float64(time.Millisecond)
	for _, tc := range []struct {
		name            string
		s               Sampler
		mean, std       float64 // expected, ns
		tolMean         float64 // relative
		tolStd          float64 // relative
		minAt, maxUnder float64
	}{
		{"fixed", Fixed(5 * time.Millisecond), 5 * ms, 0, 1e-9, 1e-9, 5 * ms, math.Inf(1)},
		{"uniform", Uniform(time.Millisecond, 2*time.Millisecond, 1), 2 * ms, 2 * ms / math.Sqrt(12), 0.01, 0.02, ms, 3 * ms},
		{"exponential", Exponential(time.Millisecond, 500*time.Microsecond, 2), 1.5 * ms, 0.5 * ms, 0.01, 0.03, ms, math.Inf(1)},
		{"lognormal", LogNormal(2*time.Millisecond, time.Millisecond, 500*time.Microsecond, 3), 3 * ms, 0.5 * ms, 0.01, 0.05, 2 * ms, math.Inf(1)},
		{"lognormal no spread", LogNormal(0, time.Millisecond, 0, 3), ms, 0, 1e-9, 1e-9, ms, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mean, std, lo, hi := moments(tc.s, n)
			if math.Abs(mean-tc.mean) > tc.tolMean*tc.mean {
				t.Errorf("mean %.0f ns, want %.0f ± %.1f%%", mean, tc.mean, 100*tc.tolMean)
			}
			if math.Abs(std-tc.std) > tc.tolStd*max(tc.std, 1) {
				t.Errorf("stddev %.0f ns, want %.0f ± %.1f%%", std, tc.std, 100*tc.tolStd)
			}
			if lo < tc.minAt || hi >= tc.maxUnder && !math.IsInf(tc.maxUnder, 1) {
				t.Errorf("range [%.0f, %.0f] ns outside [%.0f, %.0f)", lo, hi, tc.minAt, tc.maxUnder)
			}
		})
	}
}

func TestSamplerSeedReproducible(t *testing.T) {
	mk := []func(seed uint64) Sampler{
		func(s uint64) Sampler { return Uniform(0, time.Millisecond, s) },
		func(s uint64) Sampler { return Exponential(0, time.Millisecond, s) },
		func(s uint64) Sampler { return LogNormal(0, time.Millisecond, time.Millisecond, s) },
	}
	for i, f := range mk {
		a, b, c := f(42), f(42), f(43)
		same, differ := true, false
		for range 100 {
			x, y, z := a.Sample(), b.Sample(), c.Sample()
			same = same && x == y
			differ = differ || x != z
		}
		if !same || !differ {
			t.Errorf("sampler %d: same seed equal %v, other seed differs %v", i, same, differ)
		}
	}
}

func TestSamplerClampsNegative(t *testing.T) {
	for _, s := range []Sampler{
		Fixed(-time.Second),
		Uniform(-time.Hour, time.Millisecond, 1),
		Exponential(-time.Hour, time.Millisecond, 1),
		LogNormal(-time.Hour, time.Millisecond, time.Millisecond, 1),
		Uniform(0, -time.Second, 1),
	} {
		for range 100 {
			if d := s.Sample(); d < 0 {
				t.Fatalf("%T sampled %v", s, d)
			}
		}
	}
}

// Run with -race: samplers are shared by every connection of a relay.
func TestSamplerConcurrent(t *testing.T) {
	s := Exponential(time.Millisecond, time.Millisecond, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if s.Sample() < time.Millisecond {
					t.Errorf("sample below base")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestFibreDelay(t *testing.T) {
	for _, tc := range []struct {
		km, factor float64
		want       time.Duration
	}{
		{1000, 1, 4_893_385},   // 1000 km / (299792.458 / 1.467) km/s
		{1000, 1.4, 6_850_739}, // typical route
		{0, 1, 0},
		{-5, 1, 0},
		{100, -1, 0},
		{math.NaN(), 1, 0},
		{math.Inf(1), 1, 0},
		{1e12, 1, maxDelay},
	} {
		got := FibreDelay(tc.km, tc.factor)
		if d := got - tc.want; d < -1 || d > 1 {
			t.Errorf("FibreDelay(%v, %v) = %v, want %v", tc.km, tc.factor, got, tc.want)
		}
	}
}
