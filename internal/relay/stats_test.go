package relay

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketResolution(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 100_000 {
		v := int64(r.Uint64N(1 << 45))
		if r.IntN(4) == 0 {
			v = int64(r.IntN(5000))
		}
		mid := bucketMid(bucketOf(v))
		if diff := mid - v; diff < -v/subBuckets-1 || diff > v/subBuckets+1 {
			t.Fatalf("value %d in bucket %d with middle %d: error beyond 1/%d", v, bucketOf(v), mid, subBuckets)
		}
	}
	if b := bucketOf(1 << 62); b != numBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last (%d)", b, numBuckets-1)
	}
	if b := bucketOf(-5); b != 0 {
		t.Errorf("negative value in bucket %d, want 0", b)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if st := h.stats(); st.Count != 0 || st.Median != 0 {
		t.Fatalf("empty histogram: %+v", st)
	}
	// 1..10000 µs, each once; every tenth write stalled.
	for i := int64(1); i <= 10000; i++ {
		h.record(i*int64(time.Microsecond), i%10 == 0)
	}
	st := h.stats()
	check := func(name string, got time.Duration, want float64) {
		t.Helper()
		if g := float64(got); g < want*(1-1.0/subBuckets) || g > want*(1+1.0/subBuckets) {
			t.Errorf("%s = %v, want %v ± 1.6%%", name, got, time.Duration(want))
		}
	}
	check("median", st.Median, 5000e3)
	check("p90", st.P90, 9000e3)
	check("p99", st.P99, 9900e3)
	if st.Max != 10*time.Millisecond || st.Count != 10000 || st.Stalled != 1000 {
		t.Errorf("max %v count %d stalled %d", st.Max, st.Count, st.Stalled)
	}
}
