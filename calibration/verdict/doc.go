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
// round trips are drawn from the profile — is rejected. With F the CDF of
// one honest round trip and the K echoes independent,
//
//	P(min > t) = (1 − F(t))^K = FRR   ⇒   t = F⁻¹(1 − FRR^(1/K)),
//
// and for the r-th smallest P(X_(r) > t) = P(Binomial(K, F(t)) < r), solved
// with the inverse regularised incomplete beta function. F comes from the
// profile in one of two ways, the fitted model (a shifted log-normal or
// gamma) or the empirical quantiles; by default (BasisConservative) t is
// the larger of the two thresholds, so the stated FRR holds under either
// description, and the verdict reports what each gives at t. The claim is
// accepted if and only if the statistic is at most t.
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
// trip of light in vacuum over d, 2d/c, to every echo — vacuum because it
// is the worst case for the verifier (microwave links and hollow-core
// fibre come close to it; glass fibre would be ~1.5× slower and overstate
// the protection). Its round trips are honest draws plus 2d/c, so
//
//	FAR(d) = P(min_K(X + 2d/c) ≤ t) = 1 − (1 − F(t − 2d/c))^K,
//
// with F the larger of the two CDFs under the conservative basis. The
// verdict states FAR at Options.DistancesKm, the resolution — the smallest
// d with FAR(d) ≤ Options.FARTarget (default 10⁻⁶), solved in closed form —
// and MaxRelayKm, beyond which a relay cannot pass at all if the server's
// processing is at least the floor. Simulate estimates the same rates by
// Monte Carlo (seeded PCG) and serves where the closed form does not apply,
// such as relays whose added delay is random.
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
// at FRR/m for m such endpoints: by the union bound (Bonferroni) the proof
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
// ErrRTT, ErrUnknownEndpoint, ErrOptions, …) mean the input could not be
// judged; test them with errors.Is. No input makes the package panic.
package verdict
