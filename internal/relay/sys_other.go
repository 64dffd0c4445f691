//go:build !linux

package relay

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// waker falls back to a Go timer off Linux: correct, but only as precise as
// the runtime's timers (about 1 ms), which the adaptive spin margin absorbs.
type waker struct {
	c chan struct{}
	t *time.Timer
}

func newWaker() (*waker, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waker{c: make(chan struct{}, 1), t: t}, nil
}

func (w *waker) wake() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

func (w *waker) discard() {
	select {
	case <-w.c:
	default:
	}
}

func (w *waker) sleep(d time.Duration) {
	if d < 0 {
		<-w.c
		return
	}
	w.t.Reset(d)
	select {
	case <-w.c:
	case <-w.t.C:
	}
	w.t.Stop()
}

func (w *waker) close() {}

func rawOf(net.Conn) syscall.RawConn { return nil }

var errUnsupported = errors.New("raw socket I/O not supported on this platform")

func writeNow(syscall.RawConn, [][]byte) (int, error) { return 0, errUnsupported }
