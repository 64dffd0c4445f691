package relay

import (
	"math/bits"
	"sync"
	"time"
)

// Stats is the scheduler's own account of its accuracy: the lateness of
// every chunk, that is the time from a chunk's deadline to the start of the
// write that delivered it. Lateness is never negative: a chunk is never
// written before its deadline.
//
// Quantiles come from a log-linear histogram and are exact to within 1/64
// (1.6%) of the value; Max is exact.
type Stats struct {
	Count  uint64        // chunks written (EOFs included)
	Median time.Duration // 50th percentile of lateness
	P90    time.Duration // 90th percentile of lateness
	P99    time.Duration // 99th percentile of lateness
	Max    time.Duration // largest lateness seen
	// Stalled counts chunks whose first write could not start on the
	// scheduler because the receiving socket was full (the peer read
	// slowly) or is not a kernel socket; their lateness includes that wait.
	Stalled uint64
}

// Histogram layout: values below subBuckets ns have a bucket each; above,
// every power of two is split into subBuckets equal buckets.
const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxExp     = 42 // values are capped at 2^48 ns (about 3 days)
	numBuckets = (maxExp + 2) * subBuckets
)

// histogram is a bounded, mutex-guarded lateness histogram: 22 KiB whatever
// the number of samples.
type histogram struct {
	mu      sync.Mutex
	counts  [numBuckets]uint64
	total   uint64
	stalled uint64
	max     int64
}

func bucketOf(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // v>>e is in [subBuckets, 2·subBuckets)
	if e > maxExp {
		return numBuckets - 1
	}
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketMid returns the middle of bucket i's value range.
func bucketMid(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets - 1
	lo := int64(i%subBuckets+subBuckets) << e
	return lo + (int64(1)<<e)/2
}

func (h *histogram) record(lateness int64, stalled bool) {
	h.mu.Lock()
	h.counts[bucketOf(lateness)]++
	h.total++
	if stalled {
		h.stalled++
	}
	if lateness > h.max {
		h.max = lateness
	}
	h.mu.Unlock()
}

func (h *histogram) reset() {
	h.mu.Lock()
	h.counts = [numBuckets]uint64{}
	h.total, h.stalled, h.max = 0, 0, 0
	h.mu.Unlock()
}

func (h *histogram) stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Count: h.total, Stalled: h.stalled, Max: time.Duration(h.max)}
	if h.total == 0 {
		return st
	}
	q := func(p float64) time.Duration {
		// Nearest rank: the smallest value with at least p·total at or below.
		rank := uint64(p*float64(h.total) + 0.999999)
		rank = max(rank, 1)
		var seen uint64
		for i, c := range h.counts {
			seen += c
			if seen >= rank {
				return time.Duration(min(bucketMid(i), h.max))
			}
		}
		return time.Duration(h.max)
	}
	st.Median, st.P90, st.P99 = q(0.50), q(0.90), q(0.99)
	return st
}
