package relay

import (
	"container/heap"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSchedulerClosed ends the connections of a relay whose Scheduler was
// closed before it.
var ErrSchedulerClosed = errors.New("relay: scheduler closed")

// SchedulerConfig tunes a Scheduler. The zero value gives the defaults, which
// suit the 2-vCPU lab VMs.
type SchedulerConfig struct {
	// MinSpin and MaxSpin bound the spin margin: how long before the next
	// deadline the scheduler stops sleeping and starts watching the clock.
	// Between the bounds the margin follows the scheduler's own record of
	// how late its sleeps return: all but the largest 1/32 of the timed
	// sleeps of the last 2 s (at most 128), plus 20 µs. Defaults: 50 µs and
	// 1 ms.
	MinSpin, MaxSpin time.Duration
	// YieldEvery bounds how long the spin runs without calling
	// runtime.Gosched. While a goroutine spins, the Go runtime does not
	// poll the network on its P, and if the other Ps are idle nobody does:
	// goroutines whose sockets became readable (relay readers, in-process
	// servers and clients) wait for the spin to end. Yielding lets the
	// runtime poll, but it also wakes a second thread, and on these VMs
	// every later write to an in-process peer then pays tens of µs to wake
	// that thread again; so a spin that ends within YieldEvery never
	// yields. Zero means 200 µs; negative means never yield.
	YieldEvery time.Duration
}

const (
	defaultMinSpin    = 50 * time.Microsecond
	defaultMaxSpin    = time.Millisecond
	defaultYieldEvery = 200 * time.Microsecond
	maxIOV            = 64 // chunks per writev
)

// Scheduler writes every relayed chunk at its deadline. One Scheduler
// serves any number of relays, connections and directions from a single
// goroutine, so however many relays a process runs, at most one goroutine
// spins; share one per process. When no deadline is near it sleeps, and when
// no data is queued it blocks without using CPU.
type Scheduler struct {
	yieldEvery int64
	w          *waker
	hist       histogram

	mu       sync.Mutex
	inbox    []*dir
	closed   bool
	pending  atomic.Bool // inbox may be non-empty or closed was set
	sleeping atomic.Bool // the loop is (about to be) blocked in w.sleep
	done     chan struct{}

	margin atomic.Int64 // copy of est.margin for SpinMargin

	// Owned by the loop goroutine.
	heap      dirHeap
	spare     []*dir
	iov       [][]byte
	marks     []int64
	est       marginEstimator
	lastYield int64
}

// NewScheduler starts a scheduler goroutine; stop it with Close.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	w, err := newWaker()
	if err != nil {
		return nil, fmt.Errorf("starting relay scheduler: %w", err)
	}
	pick := func(v, def time.Duration) int64 {
		if v == 0 {
			return int64(def)
		}
		return int64(v)
	}
	minSpin := max(pick(cfg.MinSpin, defaultMinSpin), 0)
	s := &Scheduler{
		yieldEvery: pick(cfg.YieldEvery, defaultYieldEvery),
		w:          w,
		done:       make(chan struct{}),
		est:        newMarginEstimator(minSpin, max(pick(cfg.MaxSpin, defaultMaxSpin), minSpin)),
	}
	s.margin.Store(s.est.margin)
	go s.loop()
	return s, nil
}

// Close stops the scheduler and waits for its goroutine to exit. Connections
// that still have data queued, or that queue more later, are closed with
// ErrSchedulerClosed; close the relays first to end them cleanly. Close is
// idempotent and always returns nil.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.pending.Store(true)
		s.w.wake()
	}
	s.mu.Unlock()
	<-s.done
	return nil
}

// Stats returns the lateness recorded since the scheduler started or since
// the last ResetStats.
func (s *Scheduler) Stats() Stats { return s.hist.stats() }

// ResetStats clears the lateness record, for example after a warm-up.
func (s *Scheduler) ResetStats() { s.hist.reset() }

// SpinMargin returns the current spin margin (see SchedulerConfig).
func (s *Scheduler) SpinMargin() time.Duration {
	return time.Duration(s.margin.Load())
}

// submit hands d, which has a queued chunk, to the loop. It reports false
// once the scheduler is closed.
func (s *Scheduler) submit(d *dir) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inbox = append(s.inbox, d)
	// Dekker-style pairing with the loop's sleeping/pending handshake: one
	// of the two sides sees the other's store, so no wake-up is lost. The
	// wake happens under mu so that it never races with closing the fd.
	s.pending.Store(true)
	if s.sleeping.Load() {
		s.w.wake()
	}
	return true
}

// record adds one chunk's lateness to the statistics.
func (s *Scheduler) record(lateness int64, stalled bool) { s.hist.record(lateness, stalled) }

func (s *Scheduler) loop() {
	defer close(s.done)
	spinning := false
	for {
		if s.pending.Load() && !s.takeInbox() {
			s.shutdown()
			return
		}
		now := mono()
		for len(s.heap) > 0 && s.heap[0].key <= now {
			s.service(heap.Pop(&s.heap).(*dir))
			now = mono()
		}
		if len(s.heap) == 0 {
			// Park at once: this P then polls the network and runs the
			// peers just written to, as if they shared a blocking read.
			spinning = false
			s.block(-1)
			continue
		}
		if wait := s.heap[0].key - now; wait > s.est.margin {
			spinning = false
			s.block(time.Duration(wait - s.est.margin))
			continue
		}
		if !spinning {
			spinning = true
			s.lastYield = now
			if s.est.refresh(now) {
				s.margin.Store(s.est.margin)
			}
		} else if s.yieldEvery > 0 && now-s.lastYield >= s.yieldEvery {
			s.lastYield = now
			runtime.Gosched()
		}
	}
}

// block sleeps for d (d < 0: until woken) unless work is pending, and feeds
// timed sleeps that were not cut short into the margin estimate.
func (s *Scheduler) block(d time.Duration) {
	s.sleeping.Store(true)
	// A wake-up left over from an earlier sleep (a timer that fired after
	// new work had already woken the loop) would end this sleep early. Drop
	// it: a submission's wake-up may go too, but then pending is set and
	// the check below sees it.
	s.w.discard()
	if s.pending.Load() {
		s.sleeping.Store(false)
		return
	}
	start := mono()
	s.w.sleep(d)
	s.sleeping.Store(false)
	if d < 0 {
		return
	}
	end := mono()
	if over := end - start - int64(d); over >= 0 {
		s.est.learn(end, over)
		s.margin.Store(s.est.margin)
	}
}

// takeInbox moves submitted directions onto the heap. It reports false when
// the scheduler has been closed.
func (s *Scheduler) takeInbox() bool {
	s.pending.Store(false)
	s.mu.Lock()
	in := s.inbox
	s.inbox = s.spare[:0]
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.inbox = append(s.inbox, in...)
		return false
	}
	for i, d := range in {
		in[i] = nil
		d.mu.Lock()
		switch {
		case d.dead:
			d.state = stateDone
			d.mu.Unlock()
			continue
		case d.empty(): // cannot happen: only the owner, now us, removes
			d.state = stateIdle
			d.mu.Unlock()
			continue
		}
		d.key = d.q[d.h].deadline
		d.mu.Unlock()
		heap.Push(&s.heap, d)
	}
	s.spare = in[:0]
	return true
}

// shutdown ends every connection that still waits on the scheduler.
func (s *Scheduler) shutdown() {
	for _, d := range s.heap {
		d.p.abort(ErrSchedulerClosed)
	}
	s.heap = nil
	s.mu.Lock()
	for _, d := range s.inbox {
		d.p.abort(ErrSchedulerClosed)
	}
	s.inbox = nil
	s.w.close()
	s.mu.Unlock()
}

// service writes d's due chunks, without ever blocking: what the socket does
// not take at once is left to a helper goroutine (d.drain).
func (s *Scheduler) service(d *dir) {
	for {
		now := mono()
		d.mu.Lock()
		switch {
		case d.dead:
			d.state = stateDone
			d.mu.Unlock()
			return
		case d.empty():
			d.state = stateIdle
			d.mu.Unlock()
			return
		case d.q[d.h].deadline > now:
			d.key = d.q[d.h].deadline
			d.mu.Unlock()
			heap.Push(&s.heap, d)
			return
		case d.dstRaw == nil || (d.q[d.h].eof && d.closeWrite == nil):
			d.startDrain()
			d.mu.Unlock()
			return
		case d.q[d.h].eof:
			dl := d.q[d.h].deadline
			d.pop()
			d.state = stateDone
			d.mu.Unlock()
			s.record(mono()-dl, false)
			d.deliverEOF()
			return
		}
		s.iov, s.marks = s.iov[:0], s.marks[:0]
		total := 0
		for i := d.h; i < len(d.q) && len(s.iov) < maxIOV; i++ {
			c := &d.q[i]
			if c.eof || c.deadline > now {
				break
			}
			s.iov = append(s.iov, c.buf[c.off:])
			total += len(c.buf) - c.off
			if !c.recorded {
				c.recorded = true
				s.marks = append(s.marks, c.deadline)
			}
		}
		d.mu.Unlock()

		start := mono()
		n, err := writeNow(d.dstRaw, s.iov)
		for _, dl := range s.marks {
			s.record(start-dl, false)
		}
		clear(s.iov) // drop references to buffers that may go back to the pool
		if err != nil {
			d.p.abort(fmt.Errorf("writing to %s: %w", d.dstName, err))
			return
		}
		d.mu.Lock()
		d.consume(n)
		if n < total && !d.dead {
			d.startDrain()
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
}

// dirHeap orders directions by the deadline of their first chunk.
type dirHeap []*dir

func (h dirHeap) Len() int           { return len(h) }
func (h dirHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h dirHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dirHeap) Push(x any)        { *h = append(*h, x.(*dir)) }
func (h *dirHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// epoch anchors mono, which reads Go's monotonic clock as int64 ns.
var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }
