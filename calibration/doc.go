// Package calibration runs calibration campaigns: from one vantage point (a
// VM in a cloud region, or a vantage of the loopback lab) it probes a catalog
// of TLS endpoints for hours and appends every timed echo to a dataset file
// (package calibration/dataset), from which datacenter profiles are fitted
// (calibration/fit, calibration/profile). This comment is the design of a
// campaign.
//
// # The plan
//
// A campaign is fixed before its first probe, and the plan is written into
// the dataset's header: Rounds rounds; in each, every endpoint probed once
// with K echoes; the endpoints' order in each round drawn from a seed
// (dataset.Plan.Order: a keyed SHA-256 sort, so any tool can recompute it).
// Shuffling per round spreads slow periods (a busy neighbour, a route
// change) over all endpoints instead of always hitting the same one, and
// recording the seed makes the order part of the data. Probes run one at a
// time: on two vCPUs a concurrent probe would be measured as latency.
//
// # The unit of work
//
// One probe of one endpoint in one round is the unit. A unit's samples — K
// echoes, or a single sample with Error when the probe failed — are written
// together with one write and one fsync (dataset.Writer.Commit) after the
// probe returns, so on disk a unit is all there, or (after a crash inside
// that write) a prefix of it. Units follow the plan order, so the completed
// work is always a prefix of the plan and needs no index: resuming means
// skipping the file's complete units.
//
// Crash safety: kill -9 at any moment, then run again with Resume. The
// dataset package cuts a crash's leftovers — a torn last line and the
// complete lines of an unfinished unit — back to the end of the last
// complete unit; the unfinished unit is rolled back, never completed,
// because its echoes came from a connection and a nonce that are gone and
// cannot be continued. The runner then probes that unit again from scratch,
// with a fresh nonce. So no committed sample is lost, none is duplicated,
// and Seq stays gapless. A run that is interrupted (context cancelled) stops
// between units, or abandons the probe in flight without writing it.
//
// # Probing
//
// The campaign probes every entry of the catalog but edge entries (they prove
// nothing about a region; Campaign.IncludeEdge takes them in) and template
// entries whose placeholders are not filled yet, or the entries named in
// Campaign.Endpoints. Each probe is a tlsprobe.Probe with a fresh random nonce, the endpoint's
// echo method and HTTP/1.1 request, and its echo budget. The budget holds per
// server (hostname:port, whichever catalog entries share it, the strictest
// applies) and across rounds: before a probe the runner waits until the
// server's minimum spacing has passed since the end of its previous probe,
// and a resumed run first waits one spacing for every server, since the
// crashed run may have just probed it.
//
// Failures never stop a campaign: a failed probe becomes one sample with
// Error and ErrorKind. An endpoint that keeps failing backs off: after
// Backoff.After consecutive failures its next attempt waits Base, then twice
// as long after each further failure, up to Max; a unit whose turn comes
// while its endpoint backs off is recorded as a sample with ErrorKind
// "backoff" (it is not an attempt), so that the file still holds every unit
// of the plan exactly once. A resumed run rebuilds the failure counts from
// the file.
//
// # Samples
//
// Every sample carries the vantage (name, provider, region, coordinates,
// and Origin "lab" or "real"), the endpoint's catalog facts, the address
// actually reached, the echo method the server allowed, the connection and
// echo index, the round trip in counter cycles and in nanoseconds, the
// kernel's round trip when it has receive timestamps, the connection's
// handshake time, the counter frequency and its source, and the time the
// echo was sent. That time is estimated from the connection's start plus its
// handshake and the preceding echoes (each at least the budget's spacing):
// good to a few round trips, for time-of-day analysis, not for timing.
//
// Everything outside the process is injectable for tests: the clock
// (Clock), the dialer (Campaign.Dial), the probe itself (ProbeFunc), the
// nonce source, and the progress report.
package calibration
