// Package profile holds calibrated datacenter profiles: for one endpoint,
// echo method and vantage, the distribution of echo round trips (RTTs)
// measured from inside the endpoint's region, in the form the verifier needs
// to decide a latency claim.
//
// It is a leaf: it reads, writes, validates and evaluates profiles and
// imports nothing that probes or runs campaigns, so the verifier can carry it.
// Package calibration/fit produces profiles from samples; package
// calibration/verdict decides with them. The JSON schema is documented in
// docs/profiles.md.
//
// # What a profile says
//
// A Profile describes honest echoes: a prover that really runs where the
// calibration vantage ran would see round trips drawn from this
// distribution. It gives the distribution three ways, and the verifier may
// use any of them:
//
//   - Order statistics: Count, MinNs and MaxNs, and empirical quantiles
//     (p0.01% … p99.99%, as many as the sample count supports) read from a
//     quantile sketch whose relative error is SketchRelErr (every stated
//     quantile is within ±SketchRelErr of the exact sample quantile).
//   - Fitted models (Models, best first): a shifted log-normal
//     (ln(x − shift) ~ N(mu, sigma²)) and a shifted gamma (x − shift ~
//     Gamma(shape alpha, rate beta)). The shift is the model's physical floor:
//     no honest round trip is faster than the speed of light over the
//     vantage–endpoint path plus the server's least processing time, so
//     RTT distributions start at a positive floor and have a long right tail
//     (queueing, scheduling, retransmissions only ever add delay). Both
//     families have that shape, have closed-form or well-tabulated CDFs and
//     quantiles, and let the verifier extrapolate into the low tail, beyond
//     the lowest empirical quantile, where false-accept rates live. Each
//     model carries its goodness of fit against all kept samples.
//   - A floor (FloorNs) below which a measured round trip is "too fast":
//     faster than anything calibration saw or the model allows. An honest
//     prover does not get there; a prover whose cycle-counter frequency is
//     misstated does (every RTT shrinks by the same factor), so the verifier
//     rejects such a statistic with its own reason.
//
// Since schema version 2 a profile may also describe the connection, not
// the echo, as the independent unit (ConnMins). Echoes of one connection
// are not independent draws: a connection runs slow as a whole (its flow's
// ECMP path, the core that serves it) and its first echoes are slower than
// the rest. Each connection level K states, with quantiles and fitted
// models like the profile's own, the distribution of the fastest of a
// connection's first K echoes over the calibration connections that had at
// least K; levels nest (M_K only shrinks as K grows, connection by
// connection), so a verifier bounds a connection of any size by the levels
// on either side of it. Package calibration/verdict uses the levels when a
// profile has them and falls back to the per-echo description, saying so,
// when it has none (version-1 files, or samples that did not show their
// connections).
//
// A profile always states its origin ("lab" for the loopback lab, "real" for
// a cloud vantage), its vantage with coordinates, the endpoint's
// coordinates, the clock its RTTs were timed with, and how outliers were
// handled: high outliers (above a hard cap, or far above p99.9) are dropped
// before fitting; low ones never are, because a low outlier is either the
// floor or a lie, and the profile flags when the minimum sits far below p1.
//
// # Strictness
//
// Read refuses unknown fields, trailing data, files over MaxFileBytes,
// versions outside MinVersion…Version (and connection levels in a version-1
// file), and profiles that could mislead a verifier: too few samples
// (MinSamples) or connections (MinConnections), negative or non-finite
// values, quantiles out of order, a model whose floor lies above the
// observed minimum. Every error wraps
// ErrInvalid (and ErrVersion, ErrTooFewSamples or ErrTooLarge where they
// apply) and names the profile.
package profile
