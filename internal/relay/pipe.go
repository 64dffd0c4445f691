package relay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latencyproof/poc/internal/sockstamp"
)

// readBufSize is the largest chunk one read produces.
const readBufSize = 64 << 10

// maxStampAge bounds how far back a kernel arrival stamp may move a chunk's
// start, so that a step of the wall clock (the stamps are CLOCK_REALTIME)
// cannot shorten a delay by more than this.
const maxStampAge = int64(time.Second)

var bufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

func getBuf() []byte { return *bufPool.Get().(*[]byte) }

func putBuf(b []byte) {
	if cap(b) == readBufSize {
		b = b[:readBufSize]
		bufPool.Put(&b)
	}
}

// chunk is the data of one read, or the EOF that ended the reads.
type chunk struct {
	buf      []byte
	off      int   // bytes of buf already written
	deadline int64 // mono ns
	charge   int   // bytes counted against the queue cap
	eof      bool
	pooled   bool // buf came from bufPool
	recorded bool // lateness recorded
}

type dirState uint8

const (
	stateIdle      dirState = iota // queue empty, owned by nobody
	stateScheduled                 // owned by the scheduler (inbox, heap or service)
	stateDraining                  // owned by a drain goroutine
	stateDone                      // EOF delivered or connection aborted
)

// dir is one direction of one relayed connection: a FIFO of chunks read from
// src and due to be written to dst. The reader appends; whoever owns the
// direction (see dirState) writes and removes.
type dir struct {
	p          *pipe
	s          *Scheduler
	sampler    Sampler
	src, dst   net.Conn
	srcName    string
	dstName    string
	stamped    *sockstamp.Reader // non-nil: read with kernel arrival stamps
	dstRaw     syscall.RawConn   // non-nil: the scheduler writes without blocking
	closeWrite func() error      // nil: dst cannot half-close
	capBytes   int

	mu     sync.Mutex
	space  sync.Cond // signalled when queued drops
	q      []chunk
	h      int // index of the head of q
	queued int // sum of charge over q[h:]
	peak   int // largest queued seen (for tests)
	last   int64
	state  dirState
	dead   bool

	key int64 // deadline of the head when pushed on the heap; scheduler-owned
}

func (d *dir) empty() bool { return d.h == len(d.q) }

// pop removes the head chunk; the caller holds mu.
func (d *dir) pop() {
	c := &d.q[d.h]
	d.queued -= c.charge
	if c.pooled {
		putBuf(c.buf)
	}
	*c = chunk{}
	d.h++
	switch {
	case d.h == len(d.q):
		d.q, d.h = d.q[:0], 0
	case d.h >= 64 && d.h*2 >= len(d.q):
		n := copy(d.q, d.q[d.h:])
		clear(d.q[n:])
		d.q, d.h = d.q[:n], 0
	}
	d.space.Signal()
}

// consume removes n written bytes from the front of the queue; the caller
// holds mu and owns the direction.
func (d *dir) consume(n int) {
	for n > 0 && !d.empty() {
		c := &d.q[d.h]
		if rest := len(c.buf) - c.off; n < rest {
			c.off += n
			return
		} else {
			n -= rest
		}
		d.pop()
	}
}

// startDrain hands the direction to a helper goroutine that may block in
// Write; the caller holds mu.
func (d *dir) startDrain() {
	d.state = stateDraining
	d.p.wg.Add(1)
	go d.drain()
}

// drain writes due chunks with blocking writes until none is due, then
// returns the direction to the scheduler (or leaves it idle).
func (d *dir) drain() {
	defer d.p.wg.Done()
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
			d.state = stateScheduled
			d.mu.Unlock()
			if !d.s.submit(d) {
				d.p.abort(ErrSchedulerClosed)
			}
			return
		}
		c := &d.q[d.h]
		first := !c.recorded
		c.recorded = true
		dl, eof, data := c.deadline, c.eof, c.buf[c.off:]
		if eof {
			d.pop()
			d.state = stateDone
		}
		d.mu.Unlock()
		if first {
			d.s.record(mono()-dl, true)
		}
		if eof {
			d.deliverEOF()
			return
		}
		n, err := d.dst.Write(data)
		d.mu.Lock()
		if !d.dead {
			d.consume(n)
		}
		d.mu.Unlock()
		if err != nil {
			d.p.abort(fmt.Errorf("writing to %s: %w", d.dstName, err))
			return
		}
	}
}

// deliverEOF passes the end of the stream on to dst, after all its data.
func (d *dir) deliverEOF() {
	if d.closeWrite == nil {
		d.p.abort(nil) // dst cannot half-close: end the whole connection
		return
	}
	if err := d.closeWrite(); err != nil {
		d.p.abort(fmt.Errorf("closing the write side of %s: %w", d.dstName, err))
		return
	}
	d.p.dirDone()
}

// push queues c with the ordering rule deadline = max(deadline, previous
// deadline) and hands an idle direction to the scheduler. It reports false
// when the connection is over.
func (d *dir) push(c chunk, deadline int64) bool {
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		return false
	}
	c.deadline = max(deadline, d.last)
	d.last = c.deadline
	d.q = append(d.q, c)
	d.queued += c.charge
	d.peak = max(d.peak, d.queued)
	wake := d.state == stateIdle
	if wake {
		d.state = stateScheduled
	}
	d.mu.Unlock()
	if wake && !d.s.submit(d) {
		d.p.abort(ErrSchedulerClosed)
		return false
	}
	return true
}

func (d *dir) sample() int64 {
	if d.sampler == nil {
		return 0
	}
	return int64(clampDelay(d.sampler.Sample()))
}

// read copies src into the queue until EOF or an error. While the queue
// holds capBytes or more it stops reading, so the sender meets TCP flow
// control instead of the relay growing without bound.
func (d *dir) read() {
	buf := getBuf()
	defer func() { putBuf(buf) }()
	var prevStart int64 = -1 // start of the previous read, if it was short
	for {
		d.mu.Lock()
		for d.queued >= d.capBytes && !d.dead {
			d.space.Wait()
		}
		dead := d.dead
		d.mu.Unlock()
		if dead {
			return
		}
		start := mono()
		n, rx, err := d.recv(buf, prevStart)
		prevStart = -1
		if n < len(buf) {
			prevStart = start
		}
		if n > 0 {
			var c chunk
			if n <= readBufSize/4 {
				// Small reads get a buffer of their own so that a queue of
				// small chunks does not pin a 64 KiB buffer each.
				c = chunk{buf: append([]byte(nil), buf[:n]...), charge: n}
			} else {
				c = chunk{buf: buf[:n], charge: cap(buf), pooled: true}
				buf = getBuf()
			}
			if !d.push(c, rx+d.sample()) {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				d.push(chunk{eof: true}, mono()+d.sample())
			} else {
				d.p.abort(fmt.Errorf("reading from %s: %w", d.srcName, err))
			}
			return
		}
	}
}

// recv reads once and returns when the data arrived: the kernel's arrival
// stamp where there is one, so that the reader's own wake-up delay is part
// of the emulated delay rather than added to it; otherwise the time the read
// returned. prevStart (or -1) is when the previous read started if it was
// short: the socket was then drained, so nothing read now arrived before it.
func (d *dir) recv(b []byte, prevStart int64) (int, int64, error) {
	if d.stamped == nil {
		n, err := d.src.Read(b)
		return n, mono(), err
	}
	n, stamp, err := d.stamped.Read(b)
	t := time.Now()
	now := int64(t.Sub(epoch))
	if err != nil {
		return 0, now, err
	}
	if stamp == 0 {
		return n, now, nil
	}
	age := t.UnixNano() - stamp
	if age <= 0 {
		return n, now, nil
	}
	floor := now - maxStampAge
	if prevStart >= 0 {
		floor = max(floor, prevStart)
	}
	return n, max(now-age, floor), nil
}

// pipe is one relayed connection: client ⇄ target.
type pipe struct {
	client, target net.Conn
	up, down       dir
	wg             sync.WaitGroup // drain goroutines and the second reader
	finished       chan struct{}
	once           sync.Once
	ndone          atomic.Int32
	err            error // set once, before finished is closed
}

func newPipe(r *Relay, client, target net.Conn) *pipe {
	p := &pipe{client: client, target: target, finished: make(chan struct{})}
	p.up.init(p, r, client, target, "client", "target", r.cfg.Up)
	p.down.init(p, r, target, client, "target", "client", r.cfg.Down)
	return p
}

func (d *dir) init(p *pipe, r *Relay, src, dst net.Conn, srcName, dstName string, s Sampler) {
	d.p, d.s, d.sampler = p, r.sched, s
	d.src, d.dst, d.srcName, d.dstName = src, dst, srcName, dstName
	d.capBytes = r.queueBytes
	d.space.L = &d.mu
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		d.closeWrite = cw.CloseWrite
	}
	d.dstRaw = rawOf(dst)
	if !r.noRxStamps {
		if sr, err := sockstamp.New(src); err == nil {
			d.stamped = sr
		}
	}
}

// run relays until both directions have delivered EOF or the connection
// fails, then closes both sides and waits for its goroutines. It returns the
// error that ended the connection, nil for a clean end.
func (p *pipe) run() error {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.down.read()
	}()
	p.up.read()
	<-p.finished
	p.wg.Wait()
	return p.err
}

// abort ends the connection: both sides are closed, queued data is dropped
// and the readers are released. err (nil for a clean end) is kept for the
// report. Only the first call counts.
func (p *pipe) abort(err error) {
	p.once.Do(func() {
		p.err = err
		_ = p.client.Close()
		_ = p.target.Close()
		for _, d := range []*dir{&p.up, &p.down} {
			d.mu.Lock()
			d.dead = true
			// Buffers are left to the GC, not the pool: the scheduler or a
			// drain may still be writing from them.
			clear(d.q)
			d.q, d.h, d.queued = nil, 0, 0
			d.space.Broadcast()
			d.mu.Unlock()
		}
		close(p.finished)
	})
}

// dirDone counts a direction whose EOF was delivered; after both, the
// connection is over.
func (p *pipe) dirDone() {
	if p.ndone.Add(1) == 2 {
		p.abort(nil)
	}
}
