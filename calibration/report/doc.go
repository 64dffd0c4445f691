// Package report turns a profile file (package profile) into a calibration
// report a person can read: plots of each profile's round-trip distribution
// and of the verdict's error rates, and a Markdown summary that links them.
// 'poc calibrate report' is a thin wrapper around Build; 'poc demo' and any
// other program can call it the same way.
//
// # What is in a report
//
// For every profile of the file (one endpoint, echo method, clock, origin
// and vantage) Build draws two figures, each as PNG and SVG:
//
//   - cdf-NAME: the round-trip CDF. The left panel shows the whole
//     distribution — the profile's stated quantiles, its best fitted model
//     and, when samples are given (Empirical), their empirical CDF — on a
//     logarithmic RTT axis when the distribution spans more than a factor
//     of ten, linear otherwise. The right panel is the lower tail on a
//     logarithmic probability axis, where the verdict's thresholds and
//     false-accept rates live, with the "too fast" floor and the threshold
//     for each K marked.
//   - power-NAME: the verdict's error rates against distance for each K
//     (Options.Echoes, default 8, 16, 32), on a logarithmic probability
//     axis. Solid lines are the false-accept rate FAR(d) of a relay d km
//     away (it adds the vacuum round trip 2d/c to every echo), as
//     verdict.Decide states it. Dashed lines are the rejection rate of a
//     prover d km off the calibration spot (an honest VM in another zone,
//     say): (1 − F(t − 2d/c))^K with F the smaller of the model's and the
//     empirical CDF, so that at d = 0 it is the larger of the two
//     descriptions' false-reject rates, at most the stated FRR. Horizontal
//     lines mark the stated FRR and the FAR target.
//
// NAME is the endpoint's name made safe for every file system: lower case
// letters, digits, '.', '_' and '-' only (Sanitize); the "cdf-" and
// "power-" prefixes keep it clear of names that some systems reserve
// ("con", "nul"). When several profiles share an endpoint, the method,
// origin, clock and vantage are added until the names differ.
//
// report.md holds, per profile, a table of what the profile states (origin
// first: a lab profile says in bold that its delays are emulated), the
// figures, and the power table that Power computes for each K: threshold,
// stated and achieved FRR, FAR at 1, 10, 50, 100 and 500 km and in the same
// metro, the resolution at the FAR target and the vacuum distance bound at
// the threshold. It ends with what latency can and cannot show: the vacuum
// bound is the only hard statement, and a relay in the same metro cannot
// be told apart.
//
// # Determinism
//
// A report is a pure function of its inputs: no clock, no randomness, no
// map iteration order reaches the output, so the same profiles, samples and
// options give the same bytes. Text is set in the Liberation fonts that
// gonum/plot embeds in the binary, from a font cache of this package's own
// (never the process-wide default, which other code may change); nothing is
// read from the system or the network. SVG files name the font family with
// the metric-compatible fallbacks Arial, Helvetica and sans-serif, so a
// viewer without Liberation Sans lays the text out the same way;
// Options.EmbedFonts embeds the font instead (some 550 KB per file).
//
// # Cost
//
// Rendering is the cost: about 90 ms per profile for both figures in both
// formats on the development machines, 75 ms of it the PNGs
// (BenchmarkBuild); Options.Formats leaves a format out.
// Empirical holds one quantile sketch per profile (package fit's Sketch,
// relative error 10⁻³), so any number of samples fits in bounded memory.
package report
