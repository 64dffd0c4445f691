package tlsprobe

import (
	"net"
	"time"

	"github.com/latencyproof/poc/internal/sockstamp"
	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/transcript"
)

// recorder wraps the TCP connection under crypto/tls and keeps every byte
// each way with the counter reading of the system call that moved it: read
// just before a write is issued, just after a read returns. Where the kernel
// stamps received segments (Linux), it also keeps the kernel's time of each
// call: CLOCK_REALTIME before a write, the receive timestamp of the last
// segment of a read. It is used by one goroutine at a time (the probe never
// reads and writes concurrently).
type recorder struct {
	net.Conn
	clock    timing.Clock
	stamped  *sockstamp.Reader // nil without kernel receive timestamps
	c2s, s2c []byte
	c2sTimes []transcript.Stamp
	s2cTimes []transcript.Stamp
	// kernelGap is set when a read came without a kernel timestamp: the
	// session's kernel times are then dropped, since they must be all or
	// nothing.
	kernelGap bool
}

func newRecorder(c net.Conn, clock timing.Clock) *recorder {
	r := &recorder{Conn: c, clock: clock}
	if sr, err := sockstamp.New(c); err == nil {
		r.stamped = sr
	}
	return r
}

func (r *recorder) Write(p []byte) (int, error) {
	var k int64
	if r.stamped != nil {
		k = time.Now().UnixNano()
	}
	t := r.clock.Now()
	n, err := r.Conn.Write(p)
	if n > 0 {
		r.c2sTimes = append(r.c2sTimes, transcript.Stamp{Offset: int64(len(r.c2s)), Cycles: t, KernelNs: k})
		r.c2s = append(r.c2s, p[:n]...)
	}
	return n, err
}

func (r *recorder) Read(p []byte) (int, error) {
	if r.stamped == nil {
		n, err := r.Conn.Read(p)
		if n > 0 {
			r.s2cTimes = append(r.s2cTimes, transcript.Stamp{Offset: int64(len(r.s2c)), Cycles: r.clock.Now()})
			r.s2c = append(r.s2c, p[:n]...)
		}
		return n, err
	}
	n, k, err := r.stamped.Read(p)
	if n > 0 {
		t := r.clock.Now()
		if k == 0 {
			r.kernelGap = true
		}
		r.s2cTimes = append(r.s2cTimes, transcript.Stamp{Offset: int64(len(r.s2c)), Cycles: t, KernelNs: k})
		r.s2c = append(r.s2c, p[:n]...)
	}
	return n, err
}

// session returns what was recorded, cut to whole TLS records on the s2c
// side: a read may have taken the first bytes of a record the probe never
// needed, and a partial record is not evidence of anything.
func (r *recorder) session(keylog []byte) transcript.Session {
	s2c := r.s2c[:completeRecords(r.s2c)]
	times := r.s2cTimes
	for len(times) > 0 && times[len(times)-1].Offset >= int64(len(s2c)) {
		times = times[:len(times)-1]
	}
	c2sTimes := r.c2sTimes
	if r.kernelGap {
		c2sTimes, times = withoutKernel(c2sTimes), withoutKernel(times)
	}
	return transcript.Session{
		C2S:      r.c2s,
		S2C:      s2c,
		KeyLog:   keylog,
		C2STimes: c2sTimes,
		S2CTimes: times,
	}
}

// completeRecords returns the length of the longest prefix of b made of
// whole TLS records (by their 5-byte headers alone).
func completeRecords(b []byte) int {
	off := 0
	for len(b)-off >= 5 {
		n := int(b[off+3])<<8 | int(b[off+4])
		if len(b)-off < 5+n {
			break
		}
		off += 5 + n
	}
	return off
}

func withoutKernel(st []transcript.Stamp) []transcript.Stamp {
	out := make([]transcript.Stamp, len(st))
	for i, s := range st {
		out[i] = transcript.Stamp{Offset: s.Offset, Cycles: s.Cycles}
	}
	return out
}
