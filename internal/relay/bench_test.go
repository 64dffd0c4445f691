package relay

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkRelayAccuracy measures how closely the relay keeps a fixed
// one-way delay: a client sends 32-byte messages one at a time to an echo
// server behind the relay (b.N round trips). Reported per configured delay:
//
//   - lateness-*-µs: the scheduler's own record, write start − deadline;
//   - e2e-err-*-µs: measured RTT − 2 × delay − median RTT without the
//     relay; this adds what the relay cannot see: the extra loopback hop
//     and waking the peers it writes to;
//   - baseline-rtt-µs: that median RTT without the relay, pings back to
//     back;
//   - idle-rtt-µs: the median RTT without the relay when each ping follows
//     an idle gap at least as long as the delay. On these VMs a delivery
//     after an idle stretch costs more (halted vCPUs, cold caches, most
//     likely): idle-rtt − baseline-rtt is that cost for one delivery, and a
//     relayed round trip has two deliveries after idle stretches, which
//     e2e-err includes;
//   - spin-margin-µs: the adaptive margin at the end;
//   - cpu-µs/op: CPU time of the whole process (client, server and relay)
//     per round trip.
//
// ns/op is the round trip through the relay. Run with a fixed count, e.g.
//
//	go test -run x -bench RelayAccuracy -benchtime 2000x ./internal/relay/
func BenchmarkRelayAccuracy(b *testing.B) {
	for _, d := range []time.Duration{100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond} {
		b.Run(fmt.Sprint(d), func(b *testing.B) { benchAccuracy(b, d, 1, false) })
	}
}

// BenchmarkRelayAccuracyConcurrent runs three such clients at once through
// three relays (1 ms, 1.33 ms, 1.67 ms) sharing one scheduler; b.N round
// trips each.
func BenchmarkRelayAccuracyConcurrent(b *testing.B) {
	benchAccuracy(b, time.Millisecond, 3, false)
}

// BenchmarkRelayAccuracyReadTime stamps chunks when the read returns instead
// of with the kernel's arrival time, to show what the stamps are worth.
func BenchmarkRelayAccuracyReadTime(b *testing.B) {
	for _, d := range []time.Duration{100 * time.Microsecond, time.Millisecond} {
		b.Run(fmt.Sprint(d), func(b *testing.B) { benchAccuracy(b, d, 1, true) })
	}
}

func pingPong(b *testing.B, c net.Conn, n int) []time.Duration {
	msg := make([]byte, 32)
	rtts := make([]time.Duration, n)
	for i := range rtts {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			b.Errorf("writing: %v", err)
			return nil
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			b.Errorf("reading: %v", err)
			return nil
		}
		rtts[i] = time.Since(start)
	}
	return rtts
}

func benchAccuracy(b *testing.B, delay time.Duration, conns int, noRxStamps bool) {
	s := newScheduler(b)
	echoSrv := startServer(b, echo)

	direct := dial(b, echoSrv.Addr())
	pingPong(b, direct, 50)
	base := pingPong(b, direct, max(b.N, 1000))
	slices.Sort(base)
	baseline := base[len(base)/2]
	var idle []time.Duration
	for range min(max(b.N, 50), 200) {
		idleFor(delay)
		idle = append(idle, pingPong(b, direct, 1)...)
	}
	slices.Sort(idle)
	direct.Close()

	type client struct {
		c     net.Conn
		delay time.Duration
	}
	var clients []client
	for i := range conns {
		d := delay + time.Duration(i)*delay/3
		_, addr := startRelay(b, Config{Target: echoSrv.Addr(), Up: Fixed(d), Down: Fixed(d)}, s,
			func(r *Relay) { r.noRxStamps = noRxStamps })
		c := dial(b, addr)
		pingPong(b, c, 20) // warm up; lets the spin margin settle
		clients = append(clients, client{c, d})
	}
	s.ResetStats()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	var mu sync.Mutex
	var errs []time.Duration
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rtts := pingPong(b, cl.c, b.N)
			mu.Lock()
			for _, rtt := range rtts {
				errs = append(errs, rtt-2*cl.delay-baseline)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	if len(errs) == 0 {
		return
	}

	slices.Sort(errs)
	q := func(p float64) time.Duration { return errs[min(int(p*float64(len(errs))), len(errs)-1)] }
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	st := s.Stats()
	b.ReportMetric(us(st.Median), "lateness-p50-µs")
	b.ReportMetric(us(st.P99), "lateness-p99-µs")
	b.ReportMetric(us(st.Max), "lateness-max-µs")
	b.ReportMetric(us(q(0.5)), "e2e-err-p50-µs")
	b.ReportMetric(us(q(0.99)), "e2e-err-p99-µs")
	b.ReportMetric(us(errs[len(errs)-1]), "e2e-err-max-µs")
	b.ReportMetric(us(baseline), "baseline-rtt-µs")
	if len(idle) > 0 {
		b.ReportMetric(us(idle[len(idle)/2]), "idle-rtt-µs")
	}
	b.ReportMetric(us(s.SpinMargin()), "spin-margin-µs")
	b.ReportMetric(us(cpu)/float64(b.N), "cpu-µs/op")
}

// idleFor waits at least d the way the scheduler does: asleep (for longer
// than asked, Go timers being coarse), then spinning for the last 250 µs.
func idleFor(d time.Duration) {
	until := time.Now().Add(d)
	if d > 250*time.Microsecond {
		time.Sleep(d - 250*time.Microsecond)
	}
	for time.Now().Before(until) {
	}
}
