package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("relay: closed")

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("relay: invalid config")

const (
	defaultQueueBytes  = 4 << 20
	defaultDialTimeout = 10 * time.Second
)

// Config describes one relay: where it forwards to and how much delay each
// direction gets. The zero value of every optional field is a sensible
// default.
type Config struct {
	// Target is the host:port every accepted connection is forwarded to.
	Target string
	// Up draws the one-way delay from client to target, Down from target
	// to client; nil means no added delay. A Sampler may be shared between
	// relays and directions; see Sampler for the concurrency contract.
	Up, Down Sampler
	// Dial opens the connection to Target; nil means a net.Dialer. It is
	// given a context that ends after DialTimeout or when the relay closes.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTimeout bounds each Dial; zero means 10 s.
	DialTimeout time.Duration
	// QueueBytes caps the data a direction holds in flight (read, not yet
	// written). When the queue reaches it the relay stops reading that
	// side, the kernel's receive buffer fills and TCP flow control slows
	// the sender: backpressure, as on a real path whose bandwidth-delay
	// product is full. One read may still land above the cap, so a
	// direction holds at most QueueBytes + 64 KiB. The cap should exceed
	// bandwidth × delay of the traffic emulated (1 Gbit/s over 10 ms is
	// 1.25 MB) or it throttles throughput. Zero means 4 MiB.
	QueueBytes int
	// OnError, if set, receives the error that ended a connection
	// abnormally (dial failure, reset, write error). Clean ends and ends
	// caused by Close are not reported. It is called from the connection's
	// own goroutine, possibly concurrently for several connections, never
	// from the scheduler.
	OnError func(error)
}

// Relay accepts TCP connections and forwards each to Config.Target, holding
// every chunk of data for its sampled delay in each direction. The TCP
// handshake with the relay is not delayed; data and the FIN (half-close)
// are. A connection reset or error on either side closes both at once and
// drops queued data.
type Relay struct {
	cfg         Config
	sched       *Scheduler
	ownSched    bool
	queueBytes  int
	dialTimeout time.Duration
	noRxStamps  bool // for measurements: stamp chunks when the read returns
	ctx         context.Context
	cancel      context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	pipes     map[*pipe]struct{}
	wg        sync.WaitGroup // Serve loops and connection handlers
}

// New returns a relay for cfg whose chunks are timed by s. Share one
// Scheduler between all the relays of a process; with s nil the relay starts
// its own and stops it on Close.
func New(cfg Config, s *Scheduler) (*Relay, error) {
	if _, _, err := net.SplitHostPort(cfg.Target); err != nil {
		return nil, fmt.Errorf("%w: target %q: %w", ErrConfig, cfg.Target, err)
	}
	if cfg.QueueBytes < 0 || cfg.DialTimeout < 0 {
		return nil, fmt.Errorf("%w: negative QueueBytes or DialTimeout", ErrConfig)
	}
	r := &Relay{
		cfg:         cfg,
		sched:       s,
		queueBytes:  cfg.QueueBytes,
		dialTimeout: cfg.DialTimeout,
		listeners:   make(map[net.Listener]struct{}),
		pipes:       make(map[*pipe]struct{}),
	}
	if r.queueBytes == 0 {
		r.queueBytes = defaultQueueBytes
	}
	if r.dialTimeout == 0 {
		r.dialTimeout = defaultDialTimeout
	}
	if r.sched == nil {
		own, err := NewScheduler(SchedulerConfig{})
		if err != nil {
			return nil, err
		}
		r.sched, r.ownSched = own, true
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Serve accepts connections on ln and relays each until Close. It returns
// ErrClosed after Close, or the Accept error (matching net.ErrClosed if the
// caller closed ln) otherwise; connections already accepted keep running
// until they end or the relay closes. Serve may run on several listeners at
// once.
func (r *Relay) Serve(ln net.Listener) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.listeners[ln] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.listeners, ln)
		r.mu.Unlock()
		r.wg.Done()
	}()

	backoff := time.Duration(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			if r.isClosed() {
				return ErrClosed
			}
			if !retryable(err) {
				return fmt.Errorf("accepting relay connections: %w", err)
			}
			// Out of descriptors or an aborted handshake: wait and retry
			// rather than spin or give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
			}
			continue
		}
		backoff = 0
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			_ = c.Close()
			return ErrClosed
		}
		r.wg.Add(1)
		r.mu.Unlock()
		go r.handle(c)
	}
}

func retryable(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM) || (errors.As(err, &ne) && ne.Timeout())
}

func (r *Relay) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// handle dials the target and relays one connection.
func (r *Relay) handle(c net.Conn) {
	defer r.wg.Done()
	noDelay(c)
	ctx, cancel := context.WithTimeout(r.ctx, r.dialTimeout)
	dial := r.cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t, err := dial(ctx, "tcp", r.cfg.Target)
	cancel()
	if err != nil {
		_ = c.Close()
		if !r.isClosed() {
			r.report(fmt.Errorf("dialing relay target %s: %w", r.cfg.Target, err))
		}
		return
	}
	noDelay(t)

	p := newPipe(r, c, t)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = c.Close()
		_ = t.Close()
		return
	}
	r.pipes[p] = struct{}{}
	r.mu.Unlock()

	err = p.run()

	r.mu.Lock()
	delete(r.pipes, p)
	closed := r.closed
	r.mu.Unlock()
	if err != nil && !closed {
		r.report(fmt.Errorf("relaying %s ⇄ %s: %w", c.RemoteAddr(), r.cfg.Target, err))
	}
}

func (r *Relay) report(err error) {
	if r.cfg.OnError != nil {
		r.cfg.OnError(err)
	}
}

// noDelay keeps Nagle's algorithm off, as Go's net package already does for
// TCP, in case a custom Dial or listener returned a connection without it:
// a relay that batched small writes would add delay of its own.
func noDelay(c net.Conn) {
	if nd, ok := c.(interface{ SetNoDelay(bool) error }); ok {
		_ = nd.SetNoDelay(true)
	}
}

// Close stops accepting on every listener given to Serve, ends every
// connection (dropping queued data) and waits for all the relay's
// goroutines. A Scheduler passed to New stays open. Close is idempotent and
// returns nil.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	lns := make([]net.Listener, 0, len(r.listeners))
	for ln := range r.listeners {
		lns = append(lns, ln)
	}
	pipes := make([]*pipe, 0, len(r.pipes))
	for p := range r.pipes {
		pipes = append(pipes, p)
	}
	r.mu.Unlock()

	r.cancel()
	for _, ln := range lns {
		_ = ln.Close()
	}
	for _, p := range pipes {
		p.abort(nil)
	}
	r.wg.Wait()
	if r.ownSched {
		_ = r.sched.Close()
	}
	return nil
}
