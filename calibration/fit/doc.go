// Package fit turns calibration samples into datacenter profiles
// (package profile): it streams any number of samples in bounded memory,
// groups them by (provider, region, endpoint, method, origin, vantage),
// and for each group states quantiles, fits shifted log-normal and gamma
// models, measures their fit, and sets the "too fast" floor.
//
// Input is a Source — *dataset.Reader for the project's datasets, or
// CSVReader for round trips measured by other tools — or samples handed to
// a Fitter one at a time (Fitter.Add, then Fitter.File). Fit does both.
//
// # Streaming in bounded memory
//
// Each group holds, whatever its number of samples:
//
//   - a DDSketch (Sketch) of the round trips: logarithmic buckets with
//     relative error α (Options.RelErr, default 10⁻³). Every quantile it
//     returns is within ±α·x of the exact sample quantile x, for every p
//     and n, deterministically; counts at bucket edges are exact; sketches
//     merge by adding counts. Memory is one counter per bucket between the
//     smallest and largest value: about 1,150·ln(max/min) counters at α =
//     10⁻³, some 8,000 (64 KB) for round trips from 10 µs to 10 s;
//   - the Options.Lowest (default 4,096) smallest round trips, exactly:
//     quantiles of lower rank are exact order statistics. The sketch's error
//     is relative to the value, and round trips sit on a large floor (200 µs
//     of path under 20 µs of spread, say), so at α = 10⁻³ its rounding is
//     ±200 ns — a large error in probability near the floor, where the
//     verdict's thresholds live. Exact low order statistics remove it;
//   - Welford's running mean and sum of squared deviations, and the exact
//     minimum and maximum;
//   - a uniform reservoir of Options.Reservoir (default 20,000) round trips
//     (Vitter's algorithm R, PCG seeded from Options.Seed and the group's
//     key, so fits are reproducible), used for the Anderson–Darling
//     statistic.
//
// About 250 KB per group at the defaults, plus about 30 KB per connection
// level (below); Options.MaxGroups bounds the groups. BenchmarkFit10M streams 10⁷ samples through Fit and reports the
// throughput and the peak live heap.
//
// # Connections
//
// Echoes of one connection are not independent draws: a connection runs
// slow as a whole (scheduling on a shared machine; in real networks the
// ECMP path of its flow), and its first echoes are slower than the rest.
// So each group also follows the connections its samples came on and
// states, as profile.ConnMin levels, the distribution of M_k, the fastest
// of a connection's first k echoes, over every connection with at least k
// (package calibration/verdict takes the connection as its independent
// unit with them; docs/profiles.md has the schema).
//
// A sample continues the previous sample's connection (in its group) when
// campaign, round and connection index are the same and its echo index is
// the next; anything else starts a new connection. Datasets number a
// probe's echoes across its connections and its connections within it, and
// write a probe's samples together, so this finds every connection of a
// dataset exactly. Samples without indexes (CSV imports) are each a
// connection of one echo, which shows nothing about connections: a group
// none of whose connections has two echoes gets no levels, and the verdict
// says it falls back to independent echoes.
//
// Levels are the powers of two and every connection length seen (up to
// MaxConnSizes of those besides powers of two); a prefix minimum is
// recorded the moment its k-th echo arrives, so nothing waits for the end
// of a connection except a length seen for the first time. Each level keeps
// its own sketch, the 1,024 smallest minima exactly, moments, extremes and
// a reservoir of 2,000 (about 30 KB), and is described like the group's
// round trips: quantiles on the grid its connection count supports, both
// families fitted to them, the same goodness-of-fit figures. Levels on
// fewer than profile.MinConnections connections are left out (the
// provenance notes groups that had connections but no level). Every echo
// counts, above the hard cap too, and nothing is trimmed: a slow connection
// is what a false-reject rate must count. With the kernel clock, an echo
// without a stamp ends what its connection contributes (prefixes that
// would include it are not recorded).
//
// The warm-up of a connection's first echoes needs nothing more: it is
// inside every level, as it is inside every proof's connections. The
// per-echo description, which mixes first and later echoes, has a wider
// upper tail for it.
//
// # Samples that do not count
//
// A sample with Error set is a failed attempt: counted in its profile's
// Failures and excluded (a "backoff" sample is no attempt at all; a failure
// of method "auto" counts for every method of its endpoint). A measured
// sample with a NaN, infinite, zero or negative round trip is an error
// (ErrSample), as are missing names, an unknown origin or method, and a
// vantage whose coordinates change.
//
// # Outliers
//
// High outliers — a retransmission, a paused VM — say nothing about the
// place and would drag a fitted tail: samples above Options.HardCapNs
// (default 10 s) are dropped as they arrive, and after streaming, samples
// above Options.TrimFactor × p99.9 (default 10×) are dropped from the
// quantiles and the fit (at the sketch's bucket resolution; the effective
// edge is recorded). Both counts are in the profile. Low outliers are never
// dropped: a round trip faster than the rest is either the true floor or a
// lie (a misstated counter frequency), and dropping it would hide either.
// A profile flags (Outliers.MinFarBelowP01) when its minimum lies below
// p1 − (p50 − p1), i.e. further below p1 than the median lies above it.
//
// # Fitting the models
//
// Each family — shifted log-normal, ln(x − s) ~ N(μ, σ²), and shifted
// gamma, x − s ~ Gamma(α, β) — is fitted by minimum distance to the
// empirical quantiles: over the grid of quantiles the sample count
// supports (n·min(p, 1−p) ≥ 10), minimise the mean of
// (F(q_i) − p_i)² / Var_i, where Var_i = p_i(1−p_i)/n + (f_i·α·q_i)²/3 is
// the variance of that residual from binomial sampling plus the sketch's
// rounding (f_i the density estimated from neighbouring quantiles). The
// binomial part is the Anderson–Darling weighting, so the low tail counts as
// much as the bulk; the objective is about 1 for the true model. The
// minimisation is Nelder–Mead over (log(min − s), two log-shape
// parameters), from several starting shifts (including the closed-form
// three-quantile log-normal shift), constrained to 0 ≤ s < min: a model
// that gives an observed round trip zero probability is refuted by it.
//
// Why not maximum likelihood: the three-parameter log-normal's and the
// gamma's (for shape < 1) likelihoods are unbounded as the shift approaches
// the minimum, so the MLE needs ad-hoc guards; the quantile grid summarises
// every sample, where an MLE in bounded memory sees only a subsample; and
// the objective weights the part of the distribution the verdict uses. The
// estimator is consistent, and the tests recover known parameters: within
// 2% of the scale for the shift, 0.03 for μ, 3% for σ, 5% for α and β from
// 200,000 samples.
//
// Models are sorted by objective, best first. Each carries the
// Kolmogorov–Smirnov statistic over the sketch's bucket edges (where the
// empirical CDF is exact, with the largest in-bucket mass bounding the
// rest), the same over the lower half, and Anderson–Darling's A² on the
// reservoir. With millions of samples no model passes a formal test; the
// figures say how far off it is, and the verifier's conservative basis
// uses the model only where it is at least as cautious as the data.
//
// # The floor
//
// FloorNs = min(best model's shift, min × (1 − Options.FloorMargin)),
// default margin 5%: below everything calibration observed and below where
// the model puts any probability, so that rejecting round trips under it as
// "too fast" adds nothing to the false-reject rate under the model. The
// margin is relative because a misstated frequency scales every round trip.
package fit
