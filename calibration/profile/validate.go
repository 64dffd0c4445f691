package profile

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode"
)

// Validate checks the file and every profile in it and reports every
// problem found; the error wraps ErrInvalid, and ErrVersion, ErrTooLarge or
// ErrTooFewSamples where they apply. Problems with one profile are *Error
// values that name it.
func (f *File) Validate() error {
	var errs []error
	if f.Version < MinVersion || f.Version > Version {
		errs = append(errs, fmt.Errorf("%w: version %d, want %d to %d", ErrVersion, f.Version, MinVersion, Version))
	}
	if f.Provenance.Generator == "" {
		errs = append(errs, errors.New("provenance: generator is required"))
	}
	if err := checkString("provenance generator", f.Provenance.Generator, false); err != nil {
		errs = append(errs, err)
	}
	if len(f.Provenance.Sources) > MaxProfiles {
		errs = append(errs, fmt.Errorf("%w: %d provenance sources (at most %d)", ErrTooLarge, len(f.Provenance.Sources), MaxProfiles))
	}
	switch n := len(f.Profiles); {
	case n == 0:
		errs = append(errs, errors.New("no profiles"))
	case n > MaxProfiles:
		errs = append(errs, fmt.Errorf("%w: %d profiles (at most %d)", ErrTooLarge, n, MaxProfiles))
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	type ident struct {
		Key
		clock   Clock
		origin  Origin
		vantage string
	}
	seen := make(map[ident]int, len(f.Profiles))
	for i := range f.Profiles {
		p := &f.Profiles[i]
		if err := p.check(); err != nil {
			errs = append(errs, &Error{Index: i, Name: p.Name(), Err: err})
		}
		if f.Version < 2 && (len(p.ConnMins) > 0 || len(p.ProbeMins) > 0) {
			errs = append(errs, &Error{Index: i, Name: p.Name(), Err: fmt.Errorf("conn_min and probe_min need version 2 or later (the file says %d)", f.Version)})
		}
		id := ident{p.Key(), p.Clock, p.Origin, p.Vantage.Name}
		if j, dup := seen[id]; dup {
			errs = append(errs, &Error{Index: i, Name: p.Name(), Err: fmt.Errorf("duplicates profile %d (same key, clock, origin and vantage)", j)})
		}
		seen[id] = i
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// Validate checks one profile on its own, as File.Validate does.
func (p *Profile) Validate() error {
	if err := p.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, &Error{Index: -1, Name: p.Name(), Err: err})
	}
	return nil
}

// check returns every problem with the profile, joined.
func (p *Profile) check() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, s := range []struct{ name, v string }{
		{"provider", p.Provider}, {"region", p.Region}, {"endpoint", p.Endpoint},
		{"vantage name", p.Vantage.Name},
	} {
		if err := checkString(s.name, s.v, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range []struct{ name, v string }{
		{"vantage provider", p.Vantage.Provider}, {"vantage region", p.Vantage.Region},
	} {
		if err := checkString(s.name, s.v, true); err != nil {
			errs = append(errs, err)
		}
	}
	if p.Method != "h2-ping" && p.Method != "http1" {
		add("method %q (want h2-ping or http1)", p.Method)
	}
	if p.Clock != ClockCounter && p.Clock != ClockKernel {
		add("clock %q (want counter or kernel)", p.Clock)
	}
	if p.Origin != OriginLab && p.Origin != OriginReal {
		add("origin %q (want lab or real)", p.Origin)
	}
	if !ValidLocation(p.Vantage.Location()) {
		add("vantage coordinates %v,%v out of range", p.Vantage.Lat, p.Vantage.Lon)
	}
	if !ValidLocation(p.EndpointLocation) {
		add("endpoint coordinates %v,%v out of range", p.EndpointLocation.Lat, p.EndpointLocation.Lon)
	}
	if p.Count < MinSamples {
		errs = append(errs, fmt.Errorf("%w: %d kept samples (at least %d)", ErrTooFewSamples, p.Count, MinSamples))
	}
	if p.FirstSample.IsZero() != p.LastSample.IsZero() {
		add("first_sample and last_sample must both be set or both be absent")
	} else if p.LastSample.Before(p.FirstSample) {
		add("last_sample %v before first_sample %v", p.LastSample, p.FirstSample)
	}

	if !positive(p.MinNs) {
		add("min_ns %v (want a positive number)", p.MinNs)
	}
	if !finite(p.MaxNs) || p.MaxNs < p.MinNs {
		add("max_ns %v (want a number ≥ min_ns %v)", p.MaxNs, p.MinNs)
	}
	if !nonNegative(p.MeanNs) || !nonNegative(p.StddevNs) {
		add("mean_ns %v, stddev_ns %v (want non-negative numbers)", p.MeanNs, p.StddevNs)
	}
	if !nonNegative(p.SketchRelErr) || p.SketchRelErr > 0.05 {
		add("sketch_rel_err %v (want 0 to 0.05)", p.SketchRelErr)
	}
	errs = append(errs, p.checkQuantiles()...)

	if len(p.Models) > MaxModels {
		errs = append(errs, fmt.Errorf("%w: %d models (at most %d)", ErrTooLarge, len(p.Models), MaxModels))
	} else {
		for i := range p.Models {
			if err := p.Models[i].check(p.MinNs); err != nil {
				add("model %d (%s): %w", i, p.Models[i].Family, err)
			}
		}
	}

	if !nonNegative(p.FloorNs) || p.FloorNs > p.MinNs {
		add("floor_ns %v (want 0 to min_ns %v)", p.FloorNs, p.MinNs)
	}
	if p.FloorRule == "" {
		add("floor_rule is required")
	} else if err := checkString("floor_rule", p.FloorRule, false); err != nil {
		errs = append(errs, err)
	}

	errs = append(errs, p.checkConnMins()...)
	errs = append(errs, p.checkProbeMins()...)

	o := p.Outliers
	if !positive(o.HardCapNs) || o.HardCapNs < p.MaxNs {
		add("outliers.hard_cap_ns %v (want a positive number ≥ max_ns)", o.HardCapNs)
	}
	if !nonNegative(o.TrimFactor) || (o.TrimFactor != 0 && o.TrimFactor < 1) {
		add("outliers.trim_factor %v (want 0, or at least 1)", o.TrimFactor)
	}
	if !nonNegative(o.TrimNs) || (o.TrimFactor != 0 && o.TrimNs < p.MaxNs) {
		add("outliers.trim_ns %v (want a non-negative number ≥ max_ns when trimming)", o.TrimNs)
	}
	if !finite(o.LowNs) {
		add("outliers.low_ns %v (want a number)", o.LowNs)
	}
	if o.Low > p.Count {
		add("outliers.low %d exceeds count %d", o.Low, p.Count)
	}
	return errors.Join(errs...)
}

func (p *Profile) checkQuantiles() []error {
	return checkQuantiles(p.Quantiles, p.MinNs, p.MaxNs, Required)
}

// checkQuantiles checks a list of quantiles against its extremes and the
// probabilities it must state.
func checkQuantiles(qs []Quantile, minNs, maxNs float64, required []float64) []error {
	var errs []error
	if len(qs) > MaxQuantiles {
		return []error{fmt.Errorf("%w: %d quantiles (at most %d)", ErrTooLarge, len(qs), MaxQuantiles)}
	}
	prevP, prevNs := 0.0, 0.0
	for i, q := range qs {
		if !(q.P > prevP && q.P < 1) {
			errs = append(errs, fmt.Errorf("quantile %d: p %v (want increasing values in (0, 1))", i, q.P))
		}
		if !positive(q.Ns) || q.Ns < prevNs {
			errs = append(errs, fmt.Errorf("quantile %d (p %v): %v ns (want positive, non-decreasing values)", i, q.P, q.Ns))
		} else if q.Ns < minNs || q.Ns > maxNs {
			errs = append(errs, fmt.Errorf("quantile %d (p %v): %v ns outside [min_ns, max_ns]", i, q.P, q.Ns))
		}
		if q.P > prevP {
			prevP = q.P
		}
		if q.Ns > prevNs {
			prevNs = q.Ns
		}
	}
	for _, want := range required {
		found := false
		for _, q := range qs {
			found = found || q.P == want
		}
		if !found {
			errs = append(errs, fmt.Errorf("quantile p %v is required", want))
		}
	}
	return errs
}

// checkConnMins checks the connection levels: in increasing K, each on
// enough connections, with ordered quantiles and models whose floor lies
// at or below the level's minimum, which cannot lie below the profile's
// (a connection's minimum is one of the profile's round trips).
func (p *Profile) checkConnMins() []error {
	if len(p.ConnMins) > MaxConnLevels {
		return []error{fmt.Errorf("%w: %d connection levels (at most %d)", ErrTooLarge, len(p.ConnMins), MaxConnLevels)}
	}
	var errs []error
	prevK := 0
	// Every level's connections carried at least K echoes each, all of
	// them measured samples of this profile's group.
	echoes := float64(p.Count) + float64(p.Outliers.AboveCap) + float64(p.Outliers.AboveTrim)
	for i := range p.ConnMins {
		c := &p.ConnMins[i]
		add := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("conn_min %d (k %d): %w", i, c.K, fmt.Errorf(format, a...)))
		}
		if c.K <= prevK || c.K > MaxConnK {
			add("k %d (want increasing values from 1 to %d)", c.K, MaxConnK)
		}
		prevK = max(prevK, c.K)
		if len(c.Conns) > 0 {
			add("conns belong to probe levels")
		}
		p.checkLevel(c, echoes, add)
	}
	return errs
}

// checkProbeMins checks the probe levels: each a shape of 2 to
// MaxProbeConns connections whose sizes add up to K, each shape once, and
// otherwise as a connection level.
func (p *Profile) checkProbeMins() []error {
	if len(p.ProbeMins) > MaxProbeLevels {
		return []error{fmt.Errorf("%w: %d probe levels (at most %d)", ErrTooLarge, len(p.ProbeMins), MaxProbeLevels)}
	}
	var errs []error
	echoes := float64(p.Count) + float64(p.Outliers.AboveCap) + float64(p.Outliers.AboveTrim)
	for i := range p.ProbeMins {
		c := &p.ProbeMins[i]
		add := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("probe_min %d (k %d): %w", i, c.K, fmt.Errorf(format, a...)))
		}
		if len(c.Conns) < 2 || len(c.Conns) > MaxProbeConns {
			add("%d connections (want 2 to %d; a probe of one connection is a connection level)", len(c.Conns), MaxProbeConns)
			continue
		}
		sum := 0
		for _, n := range c.Conns {
			if n < 1 || n > MaxConnK {
				add("a connection of %d echoes (want 1 to %d)", n, MaxConnK)
				sum = -1
				break
			}
			sum += n
		}
		if sum >= 0 && sum != c.K {
			add("connections of %v echoes add up to %d, not k", c.Conns, sum)
		}
		for j := range i {
			if slices.Equal(p.ProbeMins[j].Conns, c.Conns) {
				add("the shape %v of probe level %d again", c.Conns, j)
			}
		}
		p.checkLevel(c, echoes, add)
	}
	return errs
}

// checkLevel checks what connection and probe levels share: enough
// connections (probes), no more echoes than the profile measured, extremes
// within the profile's, ordered quantiles and models whose floor lies at or
// below the level's minimum.
func (p *Profile) checkLevel(c *ConnMin, echoes float64, add func(format string, a ...any)) {
	if c.Connections < MinConnections {
		add("%w: %d connections (at least %d)", ErrTooFewSamples, c.Connections, MinConnections)
	} else if c.K > 0 && float64(c.K)*float64(c.Connections) > echoes {
		add("%d connections of %d echoes exceed the profile's %.0f measured samples", c.Connections, c.K, echoes)
	}
	if !positive(c.MinNs) || c.MinNs < p.MinNs {
		add("min_ns %v (want a positive number ≥ the profile's min_ns %v)", c.MinNs, p.MinNs)
	}
	if !finite(c.MaxNs) || c.MaxNs < c.MinNs {
		add("max_ns %v (want a number ≥ min_ns %v)", c.MaxNs, c.MinNs)
	}
	if !nonNegative(c.MeanNs) || !nonNegative(c.StddevNs) {
		add("mean_ns %v, stddev_ns %v (want non-negative numbers)", c.MeanNs, c.StddevNs)
	}
	for _, err := range checkQuantiles(c.Quantiles, c.MinNs, c.MaxNs, RequiredConn) {
		add("%w", err)
	}
	if len(c.Models) > MaxModels {
		add("%w: %d models (at most %d)", ErrTooLarge, len(c.Models), MaxModels)
		return
	}
	for j := range c.Models {
		if err := c.Models[j].check(c.MinNs); err != nil {
			add("model %d (%s): %w", j, c.Models[j].Family, err)
		}
	}
}

func (m *Model) check(minNs float64) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nonNegative(m.ShiftNs) || m.ShiftNs > minNs {
		add("shift_ns %v (want 0 to min_ns %v: the model's floor cannot lie above an observed round trip)", m.ShiftNs, minNs)
	}
	switch m.Family {
	case FamilyLogNormal:
		if !finite(m.Mu) || !positive(m.Sigma) || m.Sigma > 20 || math.Abs(m.Mu) > 100 {
			add("mu %v, sigma %v (want |mu| ≤ 100, 0 < sigma ≤ 20)", m.Mu, m.Sigma)
		}
		if m.Alpha != 0 || m.Beta != 0 {
			add("alpha and beta belong to %s", FamilyGamma)
		}
	case FamilyGamma:
		if !positive(m.Alpha) || !positive(m.Beta) || m.Alpha > 1e6 || m.Alpha < 1e-3 {
			add("alpha %v, beta %v (want 1e-3 ≤ alpha ≤ 1e6, beta > 0)", m.Alpha, m.Beta)
		}
		if m.Mu != 0 || m.Sigma != 0 {
			add("mu and sigma belong to %s", FamilyLogNormal)
		}
	default:
		add("family %q (want %s or %s)", m.Family, FamilyLogNormal, FamilyGamma)
	}
	g := m.GoF
	if err := checkString("gof method", g.Method, false); err != nil {
		errs = append(errs, err)
	}
	if !nonNegative(g.Objective) || !nonNegative(g.AD) || g.GridPoints < 0 || g.ADSamples < 0 {
		add("gof objective %v, ad %v, grid_points %d, ad_samples %d (want non-negative numbers)", g.Objective, g.AD, g.GridPoints, g.ADSamples)
	}
	if !nonNegative(g.KS) || g.KS > 1 || !nonNegative(g.KSLow) || g.KSLow > 1 || !nonNegative(g.KSBucketMass) || g.KSBucketMass > 1 {
		add("gof ks %v, ks_low %v, ks_bucket_mass %v (want 0 to 1)", g.KS, g.KSLow, g.KSBucketMass)
	}
	return errors.Join(errs...)
}

// ValidLocation reports whether l is a point: latitude in [-90, 90],
// longitude in [-180, 180].
func ValidLocation(l Location) bool {
	return l.Lat >= -90 && l.Lat <= 90 && l.Lon >= -180 && l.Lon <= 180
}

func checkString(name, s string, optional bool) error {
	if s == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s is required", name)
	}
	if len(s) > MaxString {
		return fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrTooLarge, name, len(s), MaxString)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%s %q holds a control or invalid character", name, s)
		}
	}
	return nil
}

func positive(x float64) bool    { return finite(x) && x > 0 }
func nonNegative(x float64) bool { return finite(x) && x >= 0 }
