// Package sockstamp reads a TCP socket together with the kernel's software
// receive timestamp of the data read.
//
// A reading goroutine wakes up some microseconds after the kernel queued the
// data it reads (on the lab's 2-vCPU machines: min 9, median 17, p90 28 µs).
// The kernel stamps every received segment when SO_TIMESTAMPNS is on, and
// recvmsg hands the stamp of the last segment it read back in a control
// message. That stamp is taken before the wake-up, so a round trip measured
// from it excludes the reader's scheduling delay. It comes from
// CLOCK_REALTIME, which can be stepped, so it is evidence only as far as the
// kernel is trusted and only after a cross-check against the cycle counter.
package sockstamp

import (
	"errors"
	"net"
	"syscall"
)

// ErrUnsupported is returned by New where the platform or the connection
// offers no kernel receive timestamps.
var ErrUnsupported = errors.New("sockstamp: kernel receive timestamps unsupported")

// Reader reads from a socket with kernel receive timestamps. It is used by
// one goroutine at a time.
type Reader struct {
	rc  syscall.RawConn
	oob []byte
}

// New turns on receive timestamps for c's socket.
func New(c net.Conn) (*Reader, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, ErrUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return newReader(rc)
}
