package report

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
)

// fmtNs formats a time given in ns for people: µs below 10 ms, ms above.
func fmtNs(ns float64) string {
	switch {
	case math.IsNaN(ns) || math.IsInf(ns, 0):
		return "–"
	case math.Abs(ns) >= 1e9:
		return fmt.Sprintf("%.3g s", ns/1e9)
	case math.Abs(ns) >= 10e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f µs", ns/1e3)
}

// fmtRate formats a probability: 0 exactly, else three significant
// digits.
func fmtRate(x float64) string {
	if x == 0 {
		return "0"
	}
	return strings.Replace(fmt.Sprintf("%.3g", x), "e-0", "e-", 1)
}

// fmtKm formats a distance.
func fmtKm(km float64) string {
	switch {
	case math.IsInf(km, 1):
		return "∞"
	case km < 10:
		return fmt.Sprintf("%.2f km", km)
	case km < 1000:
		return fmt.Sprintf("%.1f km", km)
	}
	return fmt.Sprintf("%.0f km", km)
}

// md escapes text for Markdown tables and prose.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdown writes report.md.
func markdown(f *profile.File, r *Report, o Options) []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Calibration report\n\n")
	if o.Source != "" {
		w("Profiles: %s (", md(o.Source))
	} else {
		w("Profiles: (")
	}
	w("%d, written by %s", len(f.Profiles), md(f.Provenance.Generator))
	if !f.Provenance.Created.IsZero() {
		w(" on %s", f.Provenance.Created.UTC().Format("2006-01-02 15:04 UTC"))
	}
	w(").\n")
	if len(f.Provenance.Sources) > 0 {
		w("Fitted from: %s.\n", md(strings.Join(f.Provenance.Sources, ", ")))
	}
	if f.Provenance.Notes != "" {
		w("Notes: %s.\n", md(f.Provenance.Notes))
	}
	if len(o.Datasets) > 0 {
		w("Empirical CDFs from: %s.\n", md(strings.Join(o.Datasets, ", ")))
	}
	lab := 0
	for i := range f.Profiles {
		if f.Profiles[i].Origin == profile.OriginLab {
			lab++
		}
	}
	if lab > 0 {
		w("\n> **LAB PROFILES: %d of the %d profiles below were made in the loopback lab (origin `lab`).** ", lab, len(f.Profiles))
		w("Their delays are emulated by userspace relays on one machine, not measured in a cloud region: ")
		w("they show how the method works and say nothing about any real data centre. ")
		w("A verifier uses them only when asked for origin `lab`.\n")
	}
	w("\nK is the number of echoes per endpoint; the verdict's statistic is their minimum. ")
	w("Thresholds hold the stated false-reject rate (FRR) %s under both the fitted model and the empirical quantiles; ", fmtRate(o.FRR))
	w("false-accept rates (FAR) are for a relay that adds the vacuum round trip 2d/c to every echo. ")
	w("See [what latency can and cannot show](#what-latency-can-and-cannot-show) at the end.\n")

	for _, pr := range r.Profiles {
		p := pr.Profile
		w("\n## %s — %s\n\n", md(p.Endpoint), md(p.Method))
		if p.Origin == profile.OriginLab {
			w("**Origin: lab** — emulated delays, not a cloud region.\n\n")
		} else {
			w("**Origin: %s** — measured from a vantage in a cloud region.\n\n", md(string(p.Origin)))
		}
		w("| | |\n|---|---|\n")
		w("| origin | **%s** |\n", md(string(p.Origin)))
		w("| provider / region | %s / %s |\n", md(p.Provider), md(p.Region))
		w("| endpoint location | %.4f, %.4f |\n", p.EndpointLocation.Lat, p.EndpointLocation.Lon)
		km := verdict.GreatCircleKm(p.Vantage.Location(), p.EndpointLocation)
		w("| vantage | %s (%.4f, %.4f; %s from the endpoint) |\n", md(p.Vantage.Name), p.Vantage.Lat, p.Vantage.Lon, fmtKm(km))
		w("| clock | %s |\n", md(string(p.Clock)))
		w("| samples | %d kept, %d failed attempts", p.Count, p.Failures)
		if !p.FirstSample.IsZero() {
			w(", %s to %s", p.FirstSample.UTC().Format("2006-01-02 15:04:05"), p.LastSample.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		w(" |\n")
		q := func(prob float64) string {
			if x, ok := p.Quantile(prob); ok {
				return fmtNs(x)
			}
			return "–"
		}
		w("| min · p0.1 · p1 · p50 · p99 · max | %s · %s · %s · %s · %s · %s |\n",
			fmtNs(p.MinNs), q(0.001), q(0.01), q(0.5), q(0.99), fmtNs(p.MaxNs))
		w("| mean ± stddev | %s ± %s |\n", fmtNs(p.MeanNs), fmtNs(p.StddevNs))
		if m := p.Model(); m != nil {
			params := fmt.Sprintf("μ %.4g, σ %.4g", m.Mu, m.Sigma)
			if m.Family == profile.FamilyGamma {
				params = fmt.Sprintf("α %.4g, β %.4g /ns", m.Alpha, m.Beta)
			}
			w("| best model | %s: shift %s, %s; objective %.3g, KS %.4f (lower half %.4f), A² %.3g on %d samples |\n",
				md(string(m.Family)), fmtNs(m.ShiftNs), params, m.GoF.Objective, m.GoF.KS, m.GoF.KSLow, m.GoF.AD, m.GoF.ADSamples)
		} else {
			w("| best model | none fitted: the verdict uses the empirical quantiles alone |\n")
		}
		w("| floor | %s (%s) |\n", fmtNs(p.FloorNs), md(p.FloorRule))
		ol := p.Outliers
		w("| outliers | %d above the %s cap, %d above the trim edge %s; %d low", ol.AboveCap, fmtNs(ol.HardCapNs), ol.AboveTrim, fmtNs(ol.TrimNs), ol.Low)
		if ol.MinFarBelowP01 {
			w(" (**the minimum lies far below p1**)")
		}
		w(" |\n")
		if pr.Samples > 0 {
			w("| samples plotted | %d from the datasets given |\n", pr.Samples)
		}
		w("\n%s\n", image("Round-trip CDF of "+p.Endpoint, pr.CDF))
		w("\nLeft: the whole distribution. Right: its lower tail, with the floor and each K's threshold.\n")

		w("\n### Verdict power\n\n")
		w("%s\n\n", image("Error rates against distance for "+p.Endpoint, pr.Power))
		dist := StandardDistancesKm
		w("| K | threshold | FRR stated · model · empirical | resolution at FAR %s | vacuum bound at threshold |", fmtRate(o.FARTarget))
		for _, d := range dist {
			w(" FAR %g km |", d)
		}
		w(" FAR same metro (%g km) |\n|---|---|---|---|---|", verdict.MetroKm)
		for range dist {
			w("---|")
		}
		w("---|\n")
		for _, fg := range pr.Figures {
			w("| %d | %s | %s · %s · %s | %s | %s |", fg.K, fmtNs(fg.Threshold),
				fmtRate(fg.FRR), fmtRate(fg.FRRModel), fmtRate(fg.FRREmpirical), fmtKm(fg.ResolutionKm), fmtKm(fg.BoundKm))
			for _, d := range dist {
				far, _ := fg.FARAt(d)
				w(" %s |", fmtRate(far))
			}
			w(" %s |\n", fmtRate(fg.MetroFAR))
		}
		if len(pr.Figures) > 0 {
			w("\nLimitations (K = %d):\n\n", pr.Figures[len(pr.Figures)-1].K)
			for _, l := range pr.Figures[len(pr.Figures)-1].Limitations {
				w("- %s\n", md(l))
			}
		}
	}

	w("\n## What latency can and cannot show\n\n")
	w("- **The vacuum bound is the only hard statement.** Nothing travels faster than light in vacuum, ")
	w("c = 299,792.458 km/s, so a round trip of t bounds the distance to a server holding the endpoint's key by ")
	w("(t − processing floor) × c/2: 150 km per millisecond. Glass fibre (about 2/3 c) may only be used for estimates, ")
	w("never for a bound: hollow-core fibre is 47%% faster than glass and already deployed.\n")
	w("- **Latency proves nearness, never farness**: noise only adds delay, so a prover can look farther than it is, never nearer.\n")
	w("- **A relay in the same metro cannot be told apart.** A colocation site a few km from the data centre adds tens of µs ")
	w("in vacuum and in practice well under 0.5 ms, less than the spread of round trips inside a region ")
	w("(0.1-0.4 ms within a zone, up to 2 ms across zones). The \"same metro\" column above states the FAR of a relay %g km away.\n", verdict.MetroKm)
	w("- **Against attestation-key extraction latency needs a second root of trust** (the cloud's attestation service or the vTPM chain).\n")
	w("- **The FAR figures assume the relay adds at least the vacuum round trip**; the distance bound assumes the endpoint's ")
	w("processing takes at least what calibration saw (each verdict also states the bound without that assumption).\n")
	if lab > 0 {
		w("- **Lab profiles** describe the loopback lab's emulated paths, not a cloud region.\n")
	}
	return b.Bytes()
}

// image links the first figure (SVG when there is one) and names the
// others.
func image(alt string, files []string) string {
	if len(files) == 0 {
		return ""
	}
	main := files[0]
	for _, f := range files {
		if strings.HasSuffix(f, ".svg") {
			main = f
		}
	}
	s := fmt.Sprintf("![%s](%s)", md(alt), main)
	for _, f := range files {
		if f != main {
			s += fmt.Sprintf(" ([%s](%s))", strings.ToUpper(f[strings.LastIndexByte(f, '.')+1:]), f)
		}
	}
	return s
}
