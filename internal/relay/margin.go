package relay

import (
	"slices"
	"time"
)

const (
	marginRing    = 128
	marginWindow  = int64(2 * time.Second) // older samples are forgotten
	marginMinN    = 32                     // fresh samples needed to adapt
	marginGuard   = int64(20 * time.Microsecond)
	marginInitial = int64(250 * time.Microsecond)
	marginSkip    = 32 // ignore the largest 1/marginSkip of the samples
)

// marginEstimator keeps the spin margin just above how late the scheduler's
// sleeps return. The margin is all but the largest 1/32 of the recent
// overshoots plus a guard: the rare sleep that overshoots more costs a late
// chunk, while a margin sized for the worst outlier would spin for
// milliseconds before every deadline.
//
// Samples expire after marginWindow. That matters because a large margin is
// self-sustaining: once it exceeds the usual wait, the scheduler spins
// instead of sleeping and learns nothing new, so without expiry one burst of
// load would leave it spinning at MaxSpin for good.
type marginEstimator struct {
	lo, hi int64 // bounds (MinSpin, MaxSpin)
	margin int64
	at     [marginRing]int64 // when each sample was taken (mono ns)
	over   [marginRing]int64
	n      int   // samples ever taken
	last   int64 // time of the last refresh
}

func newMarginEstimator(lo, hi int64) marginEstimator {
	e := marginEstimator{lo: lo, hi: hi}
	e.margin = e.clamp(marginInitial)
	return e
}

func (e *marginEstimator) clamp(m int64) int64 { return min(max(m, e.lo), e.hi) }

// learn records that a sleep ending at now overshot by over ns.
func (e *marginEstimator) learn(now, over int64) {
	i := e.n % marginRing
	e.at[i], e.over[i] = now, over
	e.n++
	e.recompute(now)
}

// refresh expires old samples at most every 50 ms; it reports whether the
// margin changed.
func (e *marginEstimator) refresh(now int64) bool {
	if now-e.last < int64(50*time.Millisecond) {
		return false
	}
	old := e.margin
	e.recompute(now)
	return e.margin != old
}

func (e *marginEstimator) recompute(now int64) {
	e.last = now
	var fresh [marginRing]int64
	k := 0
	for i := range min(e.n, marginRing) {
		if now-e.at[i] <= marginWindow {
			fresh[k] = e.over[i]
			k++
		}
	}
	if k < marginMinN {
		e.margin = e.clamp(marginInitial)
		return
	}
	slices.Sort(fresh[:k])
	e.margin = e.clamp(fresh[k-1-k/marginSkip] + marginGuard)
}
