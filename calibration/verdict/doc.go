// Package verdict decides latency claims: given the round trips (RTTs) a
// prover timed to endpoints and the calibrated profiles of those
// endpoints, it accepts or rejects the claim "this machine runs in region
// R", states how often that answer is wrong, bounds the prover's distance
// from each endpoint, and intersects those bounds into a feasible region.
// It depends only on package profile.
//
// # One endpoint: Decide
//
// The statistic is the minimum of the K round trips (optionally the r-th
// smallest, Options.Order). Noise only ever adds delay — queueing,
// scheduling, retransmission, a paused VM — and never removes any, so the
// fastest echo is the one closest to the physical path, and its
// distribution concentrates against the floor as K grows. A relay shifts
// every round trip right by its extra path; the minimum sees that shift
// undiluted by the tail, which is why it, rather than a mean or median, is
// the statistic (and a low order statistic the fallback if single echoes
// can be spuriously fast).
//
// The threshold t is chosen from the profile for a stated false-reject rate
// (FRR, default 10⁻³): the probability that an honest prover — one whose
// round trips are drawn from the profile — is rejected.
//
// # The independent unit is the connection
//
// The K echoes of a probe are not independent draws. A whole connection
// runs slow: on a shared machine the core serving it is busy for a while
// (in the lab, tens of µs on every echo of a connection), and in real
// networks ECMP hashes each TCP flow onto its own path with its own base
// round trip. And a connection's first echoes are slower than the later
// ones (warm-up). Treating the echoes as independent makes the minimum of K
// look far more concentrated than it is, and the stated FRR a lie: on a
// synthetic world with such shifts the per-echo model rejected 21% of
// honest single-connection probes at a stated 1%; in the lab, 3.6% at 1%
// and 1.9% at 0.1%.
//
// So the verdict takes the connection as the independent unit when the
// profile has connection levels (profile.ConnMin: the distribution of M_k,
// the fastest of a connection's first k echoes, calibrated for several k).
// An observation of C connections with k_1 … k_C echoes keeps the minimum
// of all its echoes as its statistic; under honesty
//
//	P(min > t) = Π_i S_{k_i}(t),    S_k(x) = P(M_k > x),
//
// and t solves Π_i S_{k_i}(t) = FRR: in closed form t = Q(1 − FRR^(1/C))
// when every connection uses the same level, by bisection otherwise.
// DecideConns takes the connection sizes (the verifier reads them from the
// proof); Decide takes its round trips as one connection, which for
// connections that share a random slowdown is the worst case (more
// independent connections only make a slow minimum less likely).
//
// Connections opened back to back by one probe are not quite independent
// either: they share slow periods of the prover's machine and path. When
// the profile has a probe level of exactly the observation's shape
// (profile.Profile.ProbeMins: the distribution of a whole probe's fastest
// echo, calibrated with that shape), the observation's minimum is one draw
// of it, t is its quantile at 1 − FRR and FAR(d) = F(t − 2d/c): the
// dependence is measured, not assumed (Verdict.Unit is UnitProbe). On a
// synthetic world with slow periods shared by a probe's four connections,
// the product of connection levels rejected 14.8% of honest probes at a
// stated 1%, the probe level 0.95%; in the lab, the product rejected up
// to 19 times its stated 10⁻³ (about 7 times over all rows) and the probe
// level 0 of 4,800 honest probes (docs/EVALUATION.md).
//
// A connection of k echoes that is not a calibrated level is bounded, not
// modelled: levels nest (on each connection M_k only shrinks as k grows),
// so the largest level K ≤ k has S_K ≥ S_k and is used for the FRR (the
// connection's further echoes get no credit), and the smallest level K ≥ k
// has F_K ≥ F_k and is used for false-accept rates. A connection longer than
// every level L gets no credit beyond L in the FRR, and in false-accept
// rates its extra echoes are bounded one by one with the per-echo CDF
// (a union bound, which assumes later echoes are no faster than the
// calibration's average echo). A connection shorter than every level gets
// no credit in the FRR. Verdict.Limitations say when any of this applied,
// and Verdict.Unit, Conns and ConnLevels say what the decision used.
//
// Each level has, like the profile, a fitted model and empirical quantiles.
// By default (BasisConservative) each connection's survival is the larger
// of the two, so the stated FRR holds under either description; the
// verdict reports what each gives at t (FRRModel, FRREmpirical). Where the
// FRR needs a level's tail beyond what its calibration connections show
// (S below 1/N for N connections), the threshold rests on the model's tail
// and on interpolation towards the slowest calibrated connection, and the
// limitations say so with the number of connections that would let the
// data speak: to state an FRR of α on one connection from data, calibrate
// well over 1/α connections.
//
// The per-echo model remains where the connection model cannot apply: for
// profiles without levels (version-1 files, samples that did not show
// their connections), for an order statistic above the minimum
// (Options.Order > 1, which the levels do not describe), and when every
// connection is shorter than the smallest level. With F the CDF of one
// honest round trip and the K echoes taken as independent,
//
//	P(min > t) = (1 − F(t))^K = FRR   ⇒   t = F⁻¹(1 − FRR^(1/K)),
//
// and for the r-th smallest P(X_(r) > t) = P(Binomial(K, F(t)) < r), solved
// with the inverse regularised incomplete beta function; the threshold is
// the larger of the model's and the empirical one under the conservative
// basis. Its limitations say that it understates the FRR when connections
// run slow.
//
// What the connection model still assumes: that separate connections are
// independent and that the distribution at proof time is the calibrated
// one. In the lab neither holds exactly. Connections opened back to back by
// one probe share slow periods of the machine (adjacent connections'
// minima have a rank correlation of about 0.17; for 4 connections of 4
// echoes the product understated P(all slow) about threefold at 1%), and
// the load of other processes on the two shared cores moves the whole
// distribution between calibration and proof. Calibrate under the load
// proofs will see, and over the hours and days they will be made.
//
// # Too fast, too far, and the distance bound
//
// A round trip below the profile's floor (profile.Profile.FloorNs, at or
// below the calibration minimum and the model's shift) is rejected as
// "too fast": no honest prover gets there, because light and the server's
// work take that long, but a prover that misstates its cycle counter's
// frequency does (every RTT shrinks by the same factor). It has its own
// reason, ReasonTooFast, because it says "the clock lies", not "too far".
//
// The false-accept rate (FAR) is stated for a relay at distance d: a
// prover running d km from where it claims must add at least the round
// trip of light in vacuum over d, 2d/c, to every echo of every connection —
// vacuum because it is the worst case for the verifier (microwave links and
// hollow-core fibre come close to it; glass fibre would be ~1.5× slower and
// overstate the protection). Its connections are honest connections
// shifted by 2d/c, so the same product applies:
//
//	FAR(d) = 1 − Π_i (1 − F_{k_i}(t − 2d/c)),
//
// F_k the CDF of M_k (in the per-echo model 1 − (1 − F(t − 2d/c))^K), with
// each F the larger of the two descriptions' under the conservative basis.
// The verdict states FAR at Options.DistancesKm, the resolution — the
// smallest d with FAR(d) ≤ Options.FARTarget (default 10⁻⁶), solved in
// closed form where one level or the per-echo model applies, by bisection
// otherwise — and MaxRelayKm, beyond which a relay cannot pass at all if
// the server's processing is at least the floor. Simulate and SimulateConns
// estimate the same rates by Monte Carlo (seeded PCG; under connection
// levels each connection's minimum is drawn from its level) and serve where
// the closed form does not apply, such as relays whose added delay is
// random.
//
// The hard bound on the prover's distance from the endpoint is
//
//	distance ≤ (min RTT − processing floor) × c / 2,   c = 299,792.458 km/s,
//
// the only statement here that does not rest on the profile's
// distribution. It must never be too small, so the processing floor is
// chosen low: the profile's floor (at most min_ns and the model's shift)
// minus the vacuum round trip over the calibration vantage–endpoint
// distance, which the floor may contain (never below zero). It still
// assumes that the endpoint's processing at proof time is at least what
// calibration saw; BoundNoFloorKm (min RTT × c/2) assumes nothing. The
// bound always uses the minimum, whatever the statistic: every echo bounds
// the distance, and the fastest bounds it most.
//
// What latency cannot show: a relay in the same metro. A colocation site a
// few km from the data centre adds tens of µs in vacuum and in practice
// well under 0.5 ms, less than the spread of intra-region round trips
// (0.1-0.4 ms within a zone, up to 2 ms across zones). Every verdict states
// the FAR of a relay MetroKm away and says so in Limitations whenever that
// FAR exceeds the target, which for real profiles is always.
//
// # Several endpoints: DecideProof
//
// Every observed endpoint of the claimed region must accept, each decided
// (on its Observation.Conns connections) at FRR/m for m such endpoints: by the union bound (Bonferroni) the proof
// rejects an honest prover with probability at most FRR, whatever the
// dependence between endpoints. For a relay at distance d from the region
// the combined FAR is at most the smallest per-endpoint FAR (the relay must
// pass all), and equals their product if the endpoints are independent;
// both are stated.
//
// Each observation's bound is a disc (a spherical cap) around its
// endpoint's coordinates; the prover lies in their intersection, the
// feasible region (constraint-based geolocation). FeasibleRegion computes
// it exactly on the sphere: whether it is empty, its corners, and which of
// the given regions lie inside; see its documentation for the argument. An
// empty intersection or a claimed region outside it rejects the proof.
//
// # Errors
//
// A rejection is a Verdict, not an error. Errors (ErrProfile, ErrNoEchoes,
// ErrRTT, ErrConns, ErrUnknownEndpoint, ErrOptions, …) mean the input could not be
// judged; test them with errors.Is. No input makes the package panic.
package verdict
