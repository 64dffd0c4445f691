// Package eval runs poc's adversarial evaluation on the loopback lab: how
// often the latency verdict accepts a relay at a given distance (the
// false-accept rate, FAR) and rejects an honest prover (the false-reject
// rate, FRR), for K = 8, 16 and 32 echoes, with intra-region jitter drawn
// from realistic distributions, measured beside what the verdict predicts,
// and compared with timing TLS handshakes alone on the same paths.
//
// # The world
//
// For each jitter regime a lab world of one region (westeurope's
// coordinates) with one HTTP/2 endpoint whose budget is EchoesPerConn (4)
// echoes per connection, an honest vantage in the region, and one relay
// vantage per distance d. Every vantage has the regime's fixed one-way
// delay (Regime.Base) and jitter (drawn per chunk and direction); a relay
// vantage sits d/1.467 km away along bearing 135° on a world whose route
// factor is 1, so that the lab's glass-fibre delay over it is exactly the
// vacuum round trip 2d/c the verdict's false-accept rate assumes (the
// attacker's best case: microwave links and hollow-core fibre come close
// to c). Distances in this package are therefore vacuum-equivalent: the
// delay a relay adds, in km of light in vacuum.
//
// # The probes
//
// Every probe is a real tlsprobe.Probe of KMax (32) echoes over
// connections of 4, through the lab's delay relays, whose transcripts the
// probe re-checks before it reports. A probe of K < KMax echoes is the
// prefix of K/4 connections of such a probe, which is exactly what a probe
// of K echoes measures (connections are opened one after the other); the
// figures for different K therefore come from the same probes, which makes
// their comparison paired.
//
// Calibration probes (from the honest vantage), honest probes and relay
// probes are drawn in one shuffled order (seeded), so that the load of the
// shared machine, which moves the lab's distributions, falls alike on all
// of them: the evaluation measures the verdict's model, not the drift
// between a calibration and a later proof (real deployments must calibrate
// under the load and over the time span proofs will see).
//
// # The decisions
//
// Calibration samples are fitted with calibration/fit into a lab profile
// with connection levels and probe levels. Every calibration probe has
// KMax echoes, so the fitter sees one probe shape (KMax/4 connections of
// 4); the probe levels of smaller K are fitted apart from the same
// probes' first K/4 connections (what a probe of K echoes measures, and
// what the evaluation decides for K) and added to the profile. Every K
// must have its probe level: the analysis fails with ErrUnit otherwise,
// and whenever a decision's unit is not its method's.
//
// Every evaluation probe is then decided at the stated FRR (10⁻³) with
// verdict.DecideConns, as the verifier decides a proof, by three echo
// models on the same probes: the probe level (the full profile: the
// probe's minimum is one draw of the calibrated distribution of a whole
// probe's minimum, unit probe; the verdict), the connection model (the
// profile without its probe levels: connections independent, unit
// connection) and the per-echo model (without connection levels either:
// echoes independent, unit echo). Beside them, a dependence-free row (all
// K echoes taken as one connection: the FRR then rests on the first
// connection alone, so it holds whatever the dependence, without a probe
// level), and handshake-only verdicts from a profile fitted on the
// calibration probes' handshake times (ClientHello written to server
// Finished, one value per connection, so a per-echo model): K handshakes
// (taken from consecutive probes of the same vantage) taken as independent,
// the same decided by their minimum as one handshake with the relay's K
// tries counted by the union bound (dependence-free), and the C = K/4
// handshakes of the probe's own connections.
//
// IndependenceRow compares, at the connection model's threshold, what
// independence predicts for all C connections being slow with what the
// honest probes show, and Dependence gives the rank correlations of
// connection minima within and across probes: together they say why the
// connection model's stated FRR fails where it does. ModelRow sets the
// three echo models side by side at stated FRRs of 10⁻³ and 10⁻².
//
// Measured rates come with exact (Clopper–Pearson) 95% intervals. Rates
// of 10⁻⁶ cannot be measured with hundreds of probes: the predicted
// resolution (the smallest distance with FAR ≤ 10⁻⁶ at FRR 10⁻³) is the
// verdict's closed form, and what was measured is the smallest tested
// distance at and beyond which no relay probe passed, with the upper
// bound on FAR that 0 of N allows.
package eval
