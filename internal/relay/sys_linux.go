//go:build linux

package relay

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waker parks the scheduler goroutine until a deadline or an early wake-up,
// with hrtimer precision and without holding a thread or a P.
//
// A plain time.Timer is no use: the runtime waits for timers in epoll_wait,
// whose timeout is in whole milliseconds, so a 100 µs timer fires after about
// 1.1 ms. A blocking ppoll with a nanosecond timeout is precise to 40-90 µs
// here, but a goroutine in a syscall keeps its P, and the runtime stops
// polling the network on it: the peers the relay just wrote to wake late.
// A timerfd registered with the runtime's netpoller has neither problem: the
// scheduler goroutine blocks reading it like a socket, and the hrtimer's
// expiry wakes whichever thread sits in epoll_wait. An early wake-up re-arms
// it to expire at once, so the scheduler is readied by the netpoller like any
// socket reader rather than by a channel send (which makes the runtime wake a
// second thread, and the next write to a peer then pays for waking it again).
//
// When every P stays busy the runtime polls the network only from sysmon,
// every 10 ms, and the timerfd is then noticed late like every socket in the
// process; the adaptive margin absorbs what it can. A backup Go timer would
// be checked sooner, but arming one from a running goroutine makes the
// runtime wake an idle thread (wakeNetPoller), the cost avoided above.
type waker struct {
	f  *os.File // the timerfd, in the netpoller
	rc syscall.RawConn

	mu    sync.Mutex
	woken bool // wake was called since the last sleep began
}

func newWaker() (*waker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating timerfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "relay-timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("registering timerfd: %w", err)
	}
	return &waker{f: f, rc: rc}, nil
}

// arm sets the timerfd to expire after ns (0 disarms); the caller holds mu.
func (w *waker) arm(ns int64) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(ns)}
	_ = w.rc.Control(func(fd uintptr) { _ = unix.TimerfdSettime(int(fd), 0, &spec, nil) })
}

// wake makes the current or next sleep return at once.
func (w *waker) wake() {
	w.mu.Lock()
	w.woken = true
	w.arm(1)
	w.mu.Unlock()
}

// discard is a no-op: sleep re-arms the timerfd, and a stale expiry at worst
// ends one sleep early.
func (w *waker) discard() {}

// sleep blocks until d has passed (d < 0: forever) or wake is called.
func (w *waker) sleep(d time.Duration) {
	w.mu.Lock()
	if w.woken {
		w.woken = false
		w.mu.Unlock()
		return
	}
	if d >= 0 {
		w.arm(max(int64(d), 1))
	} else {
		w.arm(0)
	}
	w.mu.Unlock()
	var b [8]byte
	_, _ = w.f.Read(b[:]) // an error means closed; the loop then sees closed
	w.mu.Lock()
	w.woken = false
	w.mu.Unlock()
}

func (w *waker) close() { _ = w.f.Close() }

// rawOf returns the raw socket under c, or nil if c is not a kernel socket
// (then every write goes through a blocking Write on a helper goroutine).
func rawOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// writeNow writes as much of iov as the socket buffer takes without
// blocking. A full buffer is a short (possibly zero) count with a nil error.
func writeNow(rc syscall.RawConn, iov [][]byte) (int, error) {
	var n int
	var werr error
	cerr := rc.Write(func(fd uintptr) bool {
		for {
			if len(iov) == 1 {
				n, werr = unix.Write(int(fd), iov[0])
			} else {
				n, werr = unix.Writev(int(fd), iov)
			}
			if werr != unix.EINTR {
				return true // never wait: the caller falls back to a helper
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr
	case werr == unix.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return max(n, 0), nil
}
