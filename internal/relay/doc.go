// Package relay emulates distance on loopback: a userspace TCP relay that
// holds every chunk of data for a configured one-way delay in each direction,
// precise to tens of microseconds, and that measures its own accuracy.
//
// The lab has no netem, so the delay between prover and endpoint is made
// here. Usage:
//
//	s, _ := relay.NewScheduler(relay.SchedulerConfig{}) // one per process
//	defer s.Close()
//	d := relay.FibreDelay(1000, 1.4) // 1000 km great circle over a typical route
//	r, _ := relay.New(relay.Config{Target: "127.0.0.1:8443", Up: relay.Fixed(d), Down: relay.Fixed(d)}, s)
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")
//	go r.Serve(ln) // clients dial ln.Addr() instead of the target
//	defer r.Close()
//
// # Ordering
//
// A reader goroutine per direction reads whatever the socket holds and stamps
// the chunk with a deadline: arrival time plus a delay drawn from the
// direction's Sampler. With jitter a later chunk may draw a smaller delay,
// but TCP is a byte stream and the relay must not reorder it, so the deadline
// is max(arrival + sample, deadline of the previous chunk of that direction).
// Each direction is therefore a FIFO with non-decreasing deadlines, and the
// scheduler only ever looks at the head of each. The end of the stream (a
// FIN) is queued like data and passed on with CloseWrite once everything
// before it has been written, so half-closed connections work.
//
// Arrival time is the kernel's receive timestamp (SO_TIMESTAMPNS) where the
// socket offers one: the reader's own wake-up delay (median ~15 µs here)
// then falls inside the emulated delay instead of adding to it. The stamps
// come from the wall clock, so they may move a chunk's start back by at most
// one second, and never before the previous short read began.
//
// # Timing: sleep far, spin near, one scheduler
//
// The VMs' timers are coarse: Go timers wake on millisecond epoll timeouts
// (a 100 µs sleep takes ~1.1 ms) and even a nanosecond-slack hrtimer returns
// 40-120 µs late, with a long tail under load. Watching the clock is accurate
// to a fraction of a microsecond. So the Scheduler sleeps only until a margin
// before the next deadline and spins through the rest. The margin adapts to
// the sleep overshoot the scheduler itself observes (see SchedulerConfig).
//
// Spinning costs a core, and the lab's two cores are shared by prover,
// relays and TLS servers, so exactly one goroutine spins: a single
// Scheduler keeps a heap of every direction of every connection of every
// relay that uses it, keyed by the deadline of the direction's first chunk.
// With nothing queued it blocks without using CPU.
//
// How it waits was chosen by measurement on the 2-vCPU VMs, where what costs
// most is waking a thread on an idle vCPU (20-40 µs, paid inside whichever
// write syscall makes a blocked reader runnable):
//
//   - Sleeping is a read on a timerfd that the Go netpoller watches, so the
//     sleeping scheduler holds no thread or P, and an hrtimer, not the
//     runtime's millisecond timers, ends the sleep. New data that must go
//     out sooner re-arms it to expire at once. A blocking ppoll would be as
//     precise but keeps its P, and a channel wake-up makes the runtime wake
//     a second thread; in our measurements either made every delivery tens
//     of µs later.
//   - The spin does not call runtime.Gosched: every Gosched wakes another
//     thread, which then sits in epoll_wait on the other vCPU, and the
//     relay's next write pays for waking it. A spinning goroutine does stop
//     the runtime from polling the network on its P, so a long spin yields
//     every SchedulerConfig.YieldEvery.
//   - Once the due chunks are written and nothing else is close, the
//     scheduler parks at once: its P then polls the network and runs the
//     peer it just wrote to, like the same-P hand-off of a direct
//     connection.
//
// When a deadline passes the scheduler writes every due chunk of that
// direction in one writev straight to the socket, never blocking: a full
// socket buffer (a peer that reads slowly) hands the direction to a helper
// goroutine that does the blocking writes and hands it back, so one slow peer
// never delays the others. Conns that are not kernel sockets always take
// that path.
//
// # Bounds
//
// Each direction holds at most Config.QueueBytes (+ one 64 KiB read) in
// flight; beyond that the relay stops reading and TCP flow control pushes
// back on the sender. The accuracy record is a fixed-size histogram.
//
// # Accuracy
//
// Scheduler.Stats reports lateness, the time from a chunk's deadline to the
// start of its write. The end-to-end error, which also counts the extra
// loopback hop and waking the peers, is measured by BenchmarkRelayAccuracy;
// the project's target is 20 µs median and 100 µs p99. Neither can be
// guaranteed on a loaded machine (a descheduled vCPU is late by
// milliseconds), but a delay is never shorter than configured: a chunk is
// never written before its deadline. On these VMs any delivery that follows
// an idle stretch of milliseconds costs tens of µs more than one in a busy
// exchange, with or without the relay; the benchmark reports that cost
// (idle-rtt) next to the error.
//
// # Platforms
//
// The timerfd, the kernel arrival stamps and the non-blocking raw writes are
// Linux-only. Elsewhere the relay still works, with Go timers (so a larger
// spin margin), arrival taken when the read returns, and every write made by
// a helper goroutine.
package relay
