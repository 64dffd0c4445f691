package relay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// roundTrip writes data in random-size pieces while reading the echo, and
// checks that every byte comes back in order.
func roundTrip(t *testing.T, c *net.TCPConn, data []byte, seed uint64) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(seed, 2))
		rest := data
		for len(rest) > 0 {
			n := min(len(rest), 1+r.IntN(64<<10))
			if _, err := c.Write(rest[:n]); err != nil {
				werr <- err
				return
			}
			rest = rest[n:]
		}
		werr <- c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading echo: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echo differs: got %d bytes, want %d (first difference at %d)", len(got), len(data), firstDiff(got, data))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestLargeTransferIntegrity(t *testing.T) {
	s := newScheduler(t)
	echoSrv := startServer(t, echo)
	// Jitter far larger than the gaps between reads exercises the ordering
	// rule: without it chunks would overtake each other.
	_, addr := startRelay(t, Config{
		Target: echoSrv.Addr(),
		Up:     Uniform(200*time.Microsecond, 2*time.Millisecond, 1),
		Down:   Exponential(100*time.Microsecond, time.Millisecond, 2),
	}, s)
	roundTrip(t, dial(t, addr), randomBytes(7, 32<<20), 3)
	if st := s.Stats(); st.Count == 0 {
		t.Errorf("Stats().Count = 0 after a transfer")
	}
}

func TestManyConnections(t *testing.T) {
	s := newScheduler(t)
	echoSrv := startServer(t, echo)
	_, addr := startRelay(t, Config{
		Target: echoSrv.Addr(),
		Up:     LogNormal(time.Millisecond, 500*time.Microsecond, time.Millisecond, 4),
		Down:   Fixed(time.Millisecond),
	}, s)
	const conns = 64
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dialing: %v", err)
				return
			}
			defer c.Close()
			data := randomBytes(uint64(100+i), 256<<10+i)
			// roundTrip calls t.Fatalf, which must not run off the test
			// goroutine; check here instead.
			done := make(chan []byte)
			go func() {
				got, _ := io.ReadAll(c)
				done <- got
			}()
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1000+i*37)
				if _, err := c.Write(rest[:n]); err != nil {
					t.Errorf("conn %d: writing: %v", i, err)
					break
				}
				rest = rest[n:]
			}
			c.(*net.TCPConn).CloseWrite()
			if got := <-done; !bytes.Equal(got, data) {
				t.Errorf("conn %d: echo differs at byte %d (got %d, want %d bytes)", i, firstDiff(got, data), len(got), len(data))
			}
		}()
	}
	wg.Wait()
}

// Every small write becomes its own chunk with its own random delay; the
// numbers must still come back in order.
func TestOrderingUnderJitter(t *testing.T) {
	s := newScheduler(t)
	echoSrv := startServer(t, echo)
	_, addr := startRelay(t, Config{
		Target: echoSrv.Addr(),
		Up:     Exponential(0, 2*time.Millisecond, 5),
		Down:   Uniform(0, 3*time.Millisecond, 6),
	}, s)
	c := dial(t, addr)
	const n = 3000
	go func() {
		var b [4]byte
		for i := range uint32(n) {
			binary.BigEndian.PutUint32(b[:], i)
			if _, err := c.Write(b[:]); err != nil {
				return
			}
			if i%64 == 0 {
				time.Sleep(50 * time.Microsecond) // let reads split
			}
		}
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if len(got) != 4*n {
		t.Fatalf("got %d bytes, want %d", len(got), 4*n)
	}
	for i := range uint32(n) {
		if v := binary.BigEndian.Uint32(got[4*i:]); v != i {
			t.Fatalf("position %d holds %d", i, v)
		}
	}
}

func TestHalfClose(t *testing.T) {
	s := newScheduler(t)
	// The server reads to EOF, then answers with a digest of what it got
	// and closes: this needs the client's FIN to arrive after its data
	// while the other direction stays open.
	srv := startServer(t, func(c *net.TCPConn) {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		c.Write(h.Sum(nil))
	})
	_, addr := startRelay(t, Config{Target: srv.Addr(), Up: Fixed(2 * time.Millisecond), Down: Fixed(3 * time.Millisecond)}, s)
	c := dial(t, addr)
	data := randomBytes(9, 3<<20)
	if _, err := c.Write(data); err != nil {
		t.Fatalf("writing: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the digest: %v", err)
	}
	want := sha256.Sum256(data)
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("digest %x, want %x", got, want)
	}
}

// A relay must never deliver early; lateness is allowed, so the lower bound
// holds however loaded the machine is.
func TestDelayNeverShorter(t *testing.T) {
	s := newScheduler(t)
	echoSrv := startServer(t, echo)
	for _, tc := range []struct {
		name     string
		up, down time.Duration
	}{
		{"symmetric 5ms", 5 * time.Millisecond, 5 * time.Millisecond},
		{"asymmetric 2+8ms", 2 * time.Millisecond, 8 * time.Millisecond},
		{"sub-ms 300µs", 300 * time.Microsecond, 300 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startRelay(t, Config{Target: echoSrv.Addr(), Up: Fixed(tc.up), Down: Fixed(tc.down)}, s)
			c := dial(t, addr)
			buf := make([]byte, 16)
			for i := range 20 {
				start := time.Now()
				if _, err := c.Write(buf); err != nil {
					t.Fatalf("writing: %v", err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatalf("reading: %v", err)
				}
				if rtt := time.Since(start); rtt < tc.up+tc.down {
					t.Fatalf("round trip %d took %v, less than %v", i, rtt, tc.up+tc.down)
				}
			}
		})
	}
}

func TestBackpressure(t *testing.T) {
	s := newScheduler(t)
	release := make(chan struct{})
	got := make(chan []byte, 1)
	srv := startServer(t, func(c *net.TCPConn) {
		c.SetReadBuffer(64 << 10)
		<-release
		b, _ := io.ReadAll(c)
		got <- b
	})
	const capBytes = 128 << 10
	r, addr := startRelay(t, Config{Target: srv.Addr(), QueueBytes: capBytes, Up: Fixed(100 * time.Microsecond)}, s)
	c := dial(t, addr)
	data := randomBytes(11, 48<<20)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()

	// The target does not read: the relay's queue must fill to the cap and
	// stop there.
	var p *pipe
	for deadline := time.Now().Add(20 * time.Second); ; {
		r.mu.Lock()
		for q := range r.pipes {
			p = q
		}
		r.mu.Unlock()
		if p != nil {
			p.up.mu.Lock()
			peak := p.up.peak
			p.up.mu.Unlock()
			if peak >= capBytes {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue never reached the cap")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give an unbounded queue time to show itself
	close(release)
	if err := <-werr; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("target got %d bytes, want %d (first difference at %d)", len(b), len(data), firstDiff(b, data))
	}
	p.up.mu.Lock()
	peak := p.up.peak
	p.up.mu.Unlock()
	if peak > capBytes+readBufSize {
		t.Errorf("queue peaked at %d bytes, cap %d + one read %d", peak, capBytes, readBufSize)
	}
}

func TestDialFailureClosesClient(t *testing.T) {
	// A port nobody listens on: grab one and release it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()

	errs := make(chan error, 1)
	_, addr := startRelay(t, Config{Target: target, OnError: func(err error) { errs <- err }}, newScheduler(t))
	c := dial(t, addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read succeeded on a connection whose target is down")
	}
	if err := <-errs; !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("OnError got %v, want ECONNREFUSED", err)
	}
}

func TestTargetResetClosesClient(t *testing.T) {
	srv := startServer(t, func(c *net.TCPConn) {
		c.Read(make([]byte, 1))
		c.SetLinger(0) // close with RST
	})
	errs := make(chan error, 1)
	_, addr := startRelay(t, Config{Target: srv.Addr(), Up: Fixed(time.Millisecond), OnError: func(err error) { errs <- err }}, newScheduler(t))
	c := dial(t, addr)
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client connection stayed open after the target reset: %v", err)
	}
	if err := <-errs; !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("OnError got %v, want ECONNRESET", err)
	}
}

// A Dial that returns something other than a kernel socket (no RawConn, no
// CloseWrite) takes the blocking-write path and ends the whole connection
// at the first EOF.
func TestNonSocketTarget(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	dialPipe := func(ctx context.Context, network, addr string) (net.Conn, error) {
		a, b := net.Pipe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer b.Close()
			io.Copy(b, b)
		}()
		return a, nil
	}
	_, addr := startRelay(t, Config{Target: "pipe:0", Dial: dialPipe, Up: Fixed(time.Millisecond), Down: Fixed(time.Millisecond)}, newScheduler(t))
	c := dial(t, addr)
	data := randomBytes(13, 1<<20)
	go c.Write(data)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echo differs at byte %d", firstDiff(got, data))
	}
	c.CloseWrite()
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("after CloseWrite: %d bytes, %v; want EOF", len(b), err)
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		quit := make(chan struct{})
		stuck := startServer(t, func(c *net.TCPConn) { <-quit }) // never reads
		echoSrv := startServer(t, echo)
		s, err := NewScheduler(SchedulerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		r1, err := New(Config{Target: echoSrv.Addr(), Up: Fixed(time.Hour)}, s) // data never due
		if err != nil {
			t.Fatal(err)
		}
		r2, err := New(Config{Target: stuck.Addr(), QueueBytes: 1 << 10}, s)
		if err != nil {
			t.Fatal(err)
		}
		var serves sync.WaitGroup
		var addrs []string
		for _, r := range []*Relay{r1, r1, r2} { // r1 serves two listeners
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addrs = append(addrs, ln.Addr().String())
			serves.Add(1)
			go func() {
				defer serves.Done()
				if err := r.Serve(ln); !errors.Is(err, ErrClosed) {
					t.Errorf("Serve returned %v, want ErrClosed", err)
				}
			}()
		}
		var clients []net.Conn
		for _, a := range addrs {
			for range 5 {
				c, err := net.Dial("tcp", a)
				if err != nil {
					t.Fatal(err)
				}
				clients = append(clients, c)
				go c.Write(randomBytes(1, 8<<20)) // fills queues and buffers
			}
		}
		time.Sleep(100 * time.Millisecond)
		r1.Close()
		r2.Close()
		serves.Wait()
		for _, c := range clients {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("client connection still open after Close")
			}
			c.Close()
		}
		s.Close()
		close(quit)
		stuck.Close()
		echoSrv.Close()
		if err := r1.Serve(nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Serve after Close: %v, want ErrClosed", err)
		}
	}()
	waitGoroutines(t, base)
}

func TestSchedulerClosedFirst(t *testing.T) {
	echoSrv := startServer(t, echo)
	s, err := NewScheduler(SchedulerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startRelay(t, Config{Target: echoSrv.Addr(), Up: Fixed(time.Hour)}, s)
	c := dial(t, addr)
	c.Write([]byte("queued for an hour"))
	time.Sleep(20 * time.Millisecond)
	s.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection survived its scheduler")
	}
	// New connections end at once too.
	c2 := dial(t, addr)
	c2.Write([]byte("x"))
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c2); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection after the scheduler closed stayed open")
	}
}

func TestOwnScheduler(t *testing.T) {
	base := runtime.NumGoroutine()
	echoSrv := startServer(t, echo)
	r, err := New(Config{Target: echoSrv.Addr(), Up: Fixed(time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go r.Serve(ln)
	c := dial(t, ln.Addr().String())
	roundTrip(t, c, []byte("hello"), 1)
	r.Close()
	echoSrv.Close()
	waitGoroutines(t, base)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Target: "no-port"},
		{Target: "127.0.0.1:1", QueueBytes: -1},
		{Target: "127.0.0.1:1", DialTimeout: -time.Second},
	} {
		if _, err := New(cfg, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestStatsShape(t *testing.T) {
	s := newScheduler(t)
	echoSrv := startServer(t, echo)
	_, addr := startRelay(t, Config{Target: echoSrv.Addr(), Up: Fixed(500 * time.Microsecond), Down: Fixed(500 * time.Microsecond)}, s)
	c := dial(t, addr)
	buf := make([]byte, 8)
	for range 50 {
		c.Write(buf)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	// The last chunk's lateness may be recorded just after the client has
	// read it: wait for it.
	st := s.Stats()
	for deadline := time.Now().Add(10 * time.Second); st.Count < 100 && time.Now().Before(deadline); st = s.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.Count < 100 {
		t.Errorf("Count = %d, want ≥ 100 (50 chunks each way)", st.Count)
	}
	if !(0 <= st.Median && st.Median <= st.P90 && st.P90 <= st.P99 && st.P99 <= st.Max) {
		t.Errorf("quantiles out of order: %+v", st)
	}
	s.ResetStats()
	if st := s.Stats(); st.Count != 0 || st.Max != 0 {
		t.Errorf("after ResetStats: %+v", st)
	}
}

// An open but quiet connection must not keep the scheduler spinning. CPU
// time, unlike wall time, does not depend on what else the machine runs.
func TestIdleUsesNoCPU(t *testing.T) {
	s := newScheduler(t)
	echoSrv := startServer(t, echo)
	_, addr := startRelay(t, Config{Target: echoSrv.Addr(), Up: Fixed(200 * time.Microsecond), Down: Fixed(200 * time.Microsecond)}, s)
	c := dial(t, addr)
	roundTripOnce := func() {
		buf := make([]byte, 8)
		c.Write(buf)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("reading: %v", err)
		}
	}
	for range 20 {
		roundTripOnce()
	}
	before := cpuTime(t)
	time.Sleep(500 * time.Millisecond)
	if used := cpuTime(t) - before; used > 50*time.Millisecond {
		t.Errorf("idle relay used %v of CPU in 500 ms", used)
	}
	roundTripOnce() // and it still works
}
