package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/internal/lab"
)

// Methods: what a row's verdict times and how it models it.
const (
	// MethodProbeLevel is the project's verdict as it decides proofs: the
	// minimum of K echoes on K/4 connections, decided with the full fitted
	// profile, which has a probe level of exactly that shape (the
	// distribution of a whole calibration probe's fastest echo), so the
	// verdict's unit is the probe and it assumes nothing about the
	// dependence between connections.
	MethodProbeLevel = "echoes-probe-level"
	// MethodConnModel decides the same probes with the profile's
	// connection levels only (its probe levels removed): connections
	// taken as independent, each described by its calibrated level.
	MethodConnModel = "echoes-connection-model"
	// MethodPerEcho decides the same probes with the per-echo model (the
	// profile without its connection and probe levels): every echo an
	// independent draw.
	MethodPerEcho = "echoes-per-echo-model"
	// MethodOneConn decides the same probes taking all K echoes as one
	// connection: the false-reject side then rests on the first
	// connection's calibrated level alone (the fastest of K echoes is never
	// slower than the fastest of the first 4), so the stated FRR holds
	// whatever the dependence between connections, without a probe level,
	// at the price of resolution (and false-accept rates bounded with a
	// union bound).
	MethodOneConn = "echoes-dependence-free"
	// MethodHandshakesRTTs times K handshakes, as many round trips as the
	// echoes (from consecutive probes of the same vantage), handshakes
	// taken as independent (the handshake profile has no levels).
	MethodHandshakesRTTs = "handshakes-same-rtts"
	// MethodHandshakesOneConn decides K handshakes by their minimum as if
	// it were one handshake (so the stated FRR holds whatever their
	// dependence), with the relay's K tries counted by the union bound:
	// the handshakes' counterpart of MethodOneConn.
	MethodHandshakesOneConn = "handshakes-dependence-free"
	// MethodHandshakesConns times only the probe's own handshakes, one per
	// connection: C = K/4 of them, taken as independent.
	MethodHandshakesConns = "handshakes-same-conns"
)

// Methods lists the methods in report order.
var Methods = []string{MethodProbeLevel, MethodConnModel, MethodPerEcho, MethodOneConn, MethodHandshakesRTTs, MethodHandshakesOneConn, MethodHandshakesConns}

// methodUnit is the verdict unit each method must decide with; the
// evaluation fails when a decision used another (a missing probe level,
// above all, must not pass for one).
var methodUnit = map[string]string{
	MethodProbeLevel:        verdict.UnitProbe,
	MethodConnModel:         verdict.UnitConnection,
	MethodPerEcho:           verdict.UnitEcho,
	MethodOneConn:           verdict.UnitConnection,
	MethodHandshakesRTTs:    verdict.UnitEcho,
	MethodHandshakesOneConn: UnitUnion,
	MethodHandshakesConns:   verdict.UnitEcho,
}

// ErrUnit is wrapped when a decision used another unit than its method's:
// above all, when the verdict found no probe level for a K.
var ErrUnit = errors.New("the verdict decided with another unit than the method's")

// Rate is a measured proportion: X of N, with its exact (Clopper–Pearson)
// two-sided interval at Confidence.
type Rate struct {
	N    int     `json:"n"`
	X    int     `json:"x"`
	Rate float64 `json:"rate"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
}

// NewRate returns x of n with its Clopper–Pearson interval at conf. With
// n = 0 the rate is NaN-free: 0, and the interval [0, 1].
func NewRate(x, n int, conf float64) Rate {
	r := Rate{N: n, X: x, Hi: 1}
	if n <= 0 || x < 0 || x > n {
		r.N, r.X = max(n, 0), 0
		return r
	}
	r.Rate = float64(x) / float64(n)
	r.Lo, r.Hi = ClopperPearson(x, n, conf)
	return r
}

// ClopperPearson returns the exact two-sided interval for a binomial
// proportion with x successes in n trials at confidence conf: the
// α/2 quantile of Beta(x, n−x+1) and the 1−α/2 quantile of
// Beta(x+1, n−x), with 0 and 1 at the edges. For x = 0 the upper end is
// 1 − (α/2)^(1/n), about 3.69/n at 95%.
func ClopperPearson(x, n int, conf float64) (lo, hi float64) {
	if n <= 0 || x < 0 || x > n || !(conf > 0 && conf < 1) {
		return 0, 1
	}
	a := (1 - conf) / 2
	lo, hi = 0, 1
	if x > 0 {
		lo = distuv.Beta{Alpha: float64(x), Beta: float64(n - x + 1)}.Quantile(a)
	}
	if x < n {
		hi = distuv.Beta{Alpha: float64(x + 1), Beta: float64(n - x)}.Quantile(1 - a)
	}
	return lo, hi
}

// Point is the false-accept rate at one tested relay distance.
type Point struct {
	DistanceKm   float64 `json:"distance_km"`
	PredictedFAR float64 `json:"predicted_far"`
	// Accepted is the relay probes the verdict accepted.
	Accepted Rate `json:"accepted"`
}

// CurvePoint is the predicted false-accept rate at one distance.
type CurvePoint struct {
	DistanceKm float64 `json:"distance_km"`
	FAR        float64 `json:"far"`
}

// Row is one method at one K: its threshold, what it predicts and what
// was measured.
type Row struct {
	Method string `json:"method"`
	// K is the echoes of the proof the row stands for; Timed the round
	// trips its statistic is the minimum of (K echoes, or K or K/4
	// handshakes), on Conns connections.
	K     int    `json:"k"`
	Timed int    `json:"timed"`
	Conns int    `json:"conns"`
	Unit  string `json:"unit"`

	ThresholdNs float64 `json:"threshold_ns"`
	// ThresholdModelNs and ThresholdEmpiricalNs are the thresholds the
	// fitted model and the empirical quantiles alone give (0 when not
	// computed); the conservative basis takes the larger.
	ThresholdModelNs     float64 `json:"threshold_model_ns,omitempty"`
	ThresholdEmpiricalNs float64 `json:"threshold_empirical_ns,omitempty"`
	FloorNs              float64 `json:"floor_ns"`
	StatedFRR            float64 `json:"stated_frr"`
	FRRModel             float64 `json:"frr_model,omitempty"`
	FRREmpirical         float64 `json:"frr_empirical,omitempty"`
	// Rejected is the honest probes the verdict rejected (the measured
	// FRR); TooFast how many of those were "too fast".
	Rejected Rate `json:"rejected"`
	TooFast  int  `json:"too_fast"`

	// ResolutionKm is the predicted smallest relay distance with FAR ≤
	// FARTarget at the stated FRR; MaxRelayKm the distance beyond which a
	// relay cannot pass at all if the server's processing is at least the
	// floor.
	ResolutionKm float64 `json:"resolution_km"`
	MaxRelayKm   float64 `json:"max_relay_km"`
	// RefusedKm is the smallest tested distance at and beyond which no
	// relay probe was accepted (0: some relay passed at the largest), and
	// RefusedFARUpper the upper end of the interval on FAR that 0 of N
	// accepted allows there.
	RefusedKm       float64 `json:"refused_km"`
	RefusedFARUpper float64 `json:"refused_far_upper"`

	Points []Point      `json:"points"`
	Curve  []CurvePoint `json:"curve"`
	// Limitations are the reference verdict's, in words.
	Limitations []string `json:"limitations,omitempty"`
}

// ModelRow compares the three echo models on the same honest probes at
// one stated FRR: the probe level (the verdict), the connection model and
// the per-echo model.
type ModelRow struct {
	K         int       `json:"k"`
	StatedFRR float64   `json:"stated_frr"`
	Probe     ModelCell `json:"probe_level"`
	Conn      ModelCell `json:"connection_model"`
	PerEcho   ModelCell `json:"per_echo_model"`
}

// ModelCell is one model's threshold, the honest probes it rejected and
// its predicted resolution at the row's stated FRR.
type ModelCell struct {
	Unit         string  `json:"unit"`
	ThresholdNs  float64 `json:"threshold_ns"`
	Rejected     Rate    `json:"rejected"`
	ResolutionKm float64 `json:"resolution_km"`
}

// Summary are a few quantiles of round trips, in ns.
type Summary struct {
	N   int     `json:"n"`
	Min float64 `json:"min_ns"`
	P01 float64 `json:"p01_ns"`
	P50 float64 `json:"p50_ns"`
	P99 float64 `json:"p99_ns"`
	Max float64 `json:"max_ns"`
}

func summarise(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(math.Floor(p*float64(len(s)-1)))] }
	return Summary{N: len(s), Min: s[0], P01: q(0.01), P50: q(0.5), P99: q(0.99), Max: s[len(s)-1]}
}

// Dependence measures how the connections of the honest vantage's probes
// (calibration and honest, in the order they ran) move together: Spearman
// rank correlations of connection minima (each connection's fastest
// echo). The connection model takes connections as independent (0).
type Dependence struct {
	Probes int `json:"probes"`
	// AdjacentConns pairs connection i with i+1 of the same probe, over
	// every i; FirstLastConns the first connection with the last.
	AdjacentConns  float64 `json:"adjacent_conns"`
	FirstLastConns float64 `json:"first_last_conns"`
	// AdjacentProbes pairs the first connection of a probe with that of
	// the next honest-vantage probe to run (tens to hundreds of ms later):
	// slow periods of the machine longer than a probe show here.
	AdjacentProbes float64 `json:"adjacent_probes"`
}

// IndependenceRow asks whether an excess of honest rejections comes from
// the connections' own distribution or from their dependence: at the
// verdict's threshold t for K echoes on C connections, the share of
// calibration connections slower than t (their fastest echo above t),
// what independence then predicts for all C (its C-th power), and the
// share of honest probes whose first C connections were all slower.
type IndependenceRow struct {
	K           int     `json:"k"`
	Conns       int     `json:"conns"`
	ThresholdNs float64 `json:"threshold_ns"`
	// CalibSlow is the calibration connections slower than t; HonestSlow
	// the honest probes' first C connections slower than t.
	CalibSlow  Rate `json:"calib_slow"`
	HonestSlow Rate `json:"honest_slow"`
	// Predicted is CalibSlow's rate to the power C; AllSlow the honest
	// probes whose C connections were all slower than t.
	Predicted float64 `json:"predicted"`
	AllSlow   Rate    `json:"all_slow"`
}

// independence fills an IndependenceRow.
func independence(k int, t float64, calib, honest []ProbeRecord) IndependenceRow {
	row := IndependenceRow{K: k, ThresholdNs: t}
	connMins := func(rec ProbeRecord, upto int) []float64 {
		var out []float64
		i, n := 0, 0
		for _, c := range rec.Conns {
			if n >= upto {
				break
			}
			out = append(out, slices.Min(rec.EchoNs[i:i+c]))
			i += c
			n += c
		}
		return out
	}
	var cs, cn int
	for _, rec := range calib {
		for _, m := range connMins(rec, len(rec.EchoNs)) {
			cn++
			if m > t {
				cs++
			}
		}
	}
	var hs, hn, all, probes int
	for _, rec := range honest {
		ms := connMins(rec, k)
		row.Conns = max(row.Conns, len(ms))
		slow := 0
		for _, m := range ms {
			hn++
			if m > t {
				slow++
			}
		}
		hs += slow
		probes++
		if slow == len(ms) && slow > 0 {
			all++
		}
	}
	row.CalibSlow, row.HonestSlow = NewRate(cs, cn, Confidence), NewRate(hs, hn, Confidence)
	row.Predicted = math.Pow(row.CalibSlow.Rate, float64(row.Conns))
	row.AllSlow = NewRate(all, probes, Confidence)
	return row
}

// dependence computes the rank correlations of connection minima.
func dependence(recs []ProbeRecord) Dependence {
	var probes [][]float64 // connection minima per probe, in run order
	for _, rec := range recs {
		if rec.Error != "" || rec.Vantage != HonestVantage || len(rec.Conns) < 2 {
			continue
		}
		var mins []float64
		i := 0
		for _, n := range rec.Conns {
			mins = append(mins, slices.Min(rec.EchoNs[i:i+n]))
			i += n
		}
		probes = append(probes, mins)
	}
	d := Dependence{Probes: len(probes)}
	var a, b, fa, fb, pa, pb []float64
	for i, m := range probes {
		for j := 0; j+1 < len(m); j++ {
			a, b = append(a, m[j]), append(b, m[j+1])
		}
		fa, fb = append(fa, m[0]), append(fb, m[len(m)-1])
		if i+1 < len(probes) {
			pa, pb = append(pa, m[0]), append(pb, probes[i+1][0])
		}
	}
	d.AdjacentConns, d.FirstLastConns, d.AdjacentProbes = spearman(a, b), spearman(fa, fb), spearman(pa, pb)
	return d
}

// spearman is the rank correlation of paired samples (0 when it cannot
// be computed).
func spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 3 {
		return 0
	}
	rx, ry := ranks(x), ranks(y)
	n := float64(len(x))
	mean := (n - 1) / 2
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mean, ry[i]-mean
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns the 0-based ranks of xs, ties getting their mean rank.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return cmpFloat(xs[i], xs[j]) })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j) / 2
		}
		i = j + 1
	}
	return r
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Calibration describes a regime's calibration probes and fits.
type Calibration struct {
	Probes      int `json:"probes"`
	Failures    int `json:"failures"`
	Connections int `json:"connections"`
	// Echo and Handshake summarise the calibration round trips; Levels
	// are the echo profile's connection levels (echoes per connection).
	Echo      Summary `json:"echo"`
	Handshake Summary `json:"handshake"`
	Levels    []int   `json:"levels"`
	// ProbeLevels are the echo profile's probe levels: one per K, the
	// shape of K/4 connections of 4.
	ProbeLevels []ProbeLevel `json:"probe_levels"`
	// EchoModel and HandshakeModel are the best fitted families.
	EchoModel      string `json:"echo_model,omitempty"`
	HandshakeModel string `json:"handshake_model,omitempty"`
}

// ProbeLevel describes one probe level of the echo profile.
type ProbeLevel struct {
	K      int    `json:"k"`
	Conns  []int  `json:"conns"`
	Probes uint64 `json:"probes"`
	// P999Ns is the level's stated 0.999 quantile when the calibration
	// states it (at least 1,000 probes), else 0; MaxNs the slowest
	// calibration probe's minimum.
	P999Ns float64 `json:"p999_ns,omitempty"`
	MaxNs  float64 `json:"max_ns"`
	Model  string  `json:"model,omitempty"`
}

// RegimeResult is one regime's evaluation.
type RegimeResult struct {
	Regime      Regime      `json:"regime"`
	Calibration Calibration `json:"calibration"`
	// Honest summarises the honest evaluation probes' echoes; the
	// failures are probes that did not complete (left out of every rate).
	Honest         Summary    `json:"honest_echo"`
	HonestFailures int        `json:"honest_failures"`
	RelayFailures  int        `json:"relay_failures"`
	Dependence     Dependence `json:"dependence"`
	// Independence checks, per K, the connection model's product against
	// the honest probes.
	Independence []IndependenceRow `json:"independence"`
	Rows         []Row             `json:"rows"`
	Models       []ModelRow        `json:"models"`
	// Profiles are the fitted echo profile (with connection levels) and
	// the handshake profile.
	EchoProfile      *profile.File `json:"-"`
	HandshakeProfile *profile.File `json:"-"`
}

// Row returns the row of a method and K, or nil.
func (r *RegimeResult) Row(method string, k int) *Row {
	for i := range r.Rows {
		if r.Rows[i].Method == method && r.Rows[i].K == k {
			return &r.Rows[i]
		}
	}
	return nil
}

// curveKm returns the distances at which predicted curves are drawn: a
// logarithmic grid from 0.1 km to a little past the largest tested
// distance, and the tested distances themselves.
func curveKm(tested []float64) []float64 {
	hi := tested[len(tested)-1] * 1.5
	var out []float64
	for x := 0.1; x < hi; x *= math.Pow(10, 1.0/40) {
		out = append(out, x)
	}
	out = append(out, tested...)
	out = append(out, 0)
	slices.Sort(out)
	return slices.Compact(out)
}

// analyse fits the regime's profiles from its calibration probes and
// decides every evaluation probe with every method.
func analyse(o Options, r Regime, recs []ProbeRecord) (*RegimeResult, error) {
	rr := &RegimeResult{Regime: r}
	var calib, honest []ProbeRecord
	relay := map[float64][]ProbeRecord{}
	for _, rec := range recs {
		failed := rec.Error != ""
		switch rec.Kind {
		case KindCalibration:
			rr.Calibration.Probes++
			if failed {
				rr.Calibration.Failures++
				continue
			}
			calib = append(calib, rec)
		case KindHonest:
			if failed {
				rr.HonestFailures++
				continue
			}
			honest = append(honest, rec)
		case KindRelay:
			if failed {
				rr.RelayFailures++
				continue
			}
			relay[rec.DistanceKm] = append(relay[rec.DistanceKm], rec)
		}
	}
	ep, hp, err := fitProfiles(o, r, calib, &rr.Calibration)
	if err != nil {
		return nil, err
	}
	rr.EchoProfile, rr.HandshakeProfile = ep, hp
	var hx []float64
	for _, rec := range honest {
		hx = append(hx, rec.EchoNs...)
	}
	rr.Honest = summarise(hx)
	rr.Dependence = dependence(recs)

	full := &ep.Profiles[0]
	conn := *full
	conn.ProbeMins = nil
	perEcho := conn
	perEcho.ConnMins = nil
	hsP := &hp.Profiles[0]
	for _, method := range Methods {
		for _, k := range o.Ks {
			var row *Row
			var err error
			switch method {
			case MethodProbeLevel:
				row, err = decideRow(o, method, full, k, honest, relay, echoObs, false)
			case MethodConnModel:
				row, err = decideRow(o, method, &conn, k, honest, relay, echoObs, false)
			case MethodPerEcho:
				row, err = decideRow(o, method, &perEcho, k, honest, relay, echoObs, false)
			case MethodOneConn:
				row, err = decideRow(o, method, &conn, k, honest, relay, oneConnObs, false)
			case MethodHandshakesRTTs:
				row, err = decideRow(o, method, hsP, k, honest, relay, handshakeRTTObs, false)
			case MethodHandshakesOneConn:
				row, err = decideRow(o, method, hsP, k, honest, relay, handshakeRTTObs, true)
			case MethodHandshakesConns:
				row, err = decideRow(o, method, hsP, k, honest, relay, handshakeConnObs, false)
			}
			if err != nil {
				return nil, fmt.Errorf("%s, K = %d: %w", method, k, err)
			}
			rr.Rows = append(rr.Rows, *row)
		}
	}
	for _, k := range o.Ks {
		if row := rr.Row(MethodConnModel, k); row != nil {
			rr.Independence = append(rr.Independence, independence(k, row.ThresholdNs, calib, honest))
		}
	}
	for _, k := range o.Ks {
		for _, frr := range []float64{FRR, AltFRR} {
			m, err := compareModels(full, &conn, &perEcho, k, frr, honest)
			if err != nil {
				return nil, fmt.Errorf("probe level, connection and per-echo models, K = %d: %w", k, err)
			}
			rr.Models = append(rr.Models, *m)
		}
	}
	return rr, nil
}

// fitProfiles fits the echo profile (with connection and probe levels)
// and the handshake profile (one handshake per connection: no levels) from
// the calibration probes.
//
// Every calibration probe has KMax echoes, so the echo fitter sees one
// probe shape, KMax/4 connections of 4. The probe levels of a smaller K
// come from the same probes' first K/4 connections (exactly what a probe
// of K echoes measures, and what the evaluation decides for K), fitted
// apart so that no echo counts twice in the echo profile, and are added to
// it. The analysis fails unless every K has its probe level.
func fitProfiles(o Options, r Regime, calib []ProbeRecord, c *Calibration) (echo, hs *profile.File, err error) {
	host := Service + "." + Region + "." + lab.Domain
	locate := func(_, _, _ string) (profile.Location, bool) {
		return profile.Location{Lat: RegionLat, Lon: RegionLon}, true
	}
	prov := func(what string) profile.Provenance {
		return profile.Provenance{
			Generator: "poc eval (internal/eval)",
			Sources:   []string{"eval-" + r.Name},
			Notes:     fmt.Sprintf("%s of %d calibration probes of %d echoes on connections of %d, lab regime %s", what, len(calib), o.kMax(), EchoesPerConn, r.Name),
		}
	}
	fe, err := fit.NewFitter(fit.Options{Locate: locate, Seed: o.Seed, Provenance: prov("echoes")})
	if err != nil {
		return nil, nil, err
	}
	fh, err := fit.NewFitter(fit.Options{Locate: locate, Seed: o.Seed, Provenance: prov("handshakes (one per connection)")})
	if err != nil {
		return nil, nil, err
	}
	// The probe levels of K < KMax: each calibration probe's first K
	// echoes, a probe of their own (campaign per K).
	var prefixKs []int
	for _, k := range o.Ks {
		if k < o.kMax() {
			prefixKs = append(prefixKs, k)
		}
	}
	var fp *fit.Fitter
	if len(prefixKs) > 0 {
		if fp, err = fit.NewFitter(fit.Options{Locate: locate, Seed: o.Seed, Provenance: prov(fmt.Sprintf("probe levels of K = %v (each probe's first K echoes)", prefixKs))}); err != nil {
			return nil, nil, err
		}
	}
	base := dataset.Sample{
		Vantage: HonestVantage, VantageProvider: "lab", VantageRegion: Region, VantageLat: RegionLat, VantageLon: RegionLon,
		Origin: string(profile.OriginLab), Endpoint: host, Provider: "lab", Region: Region, Hostname: host, Port: 443,
		Method: dataset.MethodH2Ping,
	}
	var echoes, handshakes []float64
	seq, hseq, pseq := uint64(0), uint64(0), uint64(0)
	for round, rec := range calib {
		echo := 0
		for ci, n := range rec.Conns {
			for range n {
				s := base
				s.Campaign, s.Seq, s.Round, s.Conn, s.Echo = "eval-"+r.Name, seq, round, ci, echo
				s.RTTNs, s.Time = rec.EchoNs[echo], rec.Time
				if err := fe.Add(s); err != nil {
					return nil, nil, fmt.Errorf("fitting echoes: %w", err)
				}
				echoes = append(echoes, s.RTTNs)
				seq++
				echo++
			}
			// Each handshake is a connection of one: its own round, so
			// that no two are taken for one connection.
			s := base
			s.Campaign, s.Seq, s.Round, s.Conn, s.Echo = "eval-hs-"+r.Name, hseq, int(hseq), 0, 0
			s.RTTNs, s.Time = rec.HandshakeNs[ci], rec.Time
			if err := fh.Add(s); err != nil {
				return nil, nil, fmt.Errorf("fitting handshakes: %w", err)
			}
			handshakes = append(handshakes, s.RTTNs)
			hseq++
		}
		for _, k := range prefixKs {
			echo := 0
			for ci, n := range rec.Conns {
				for range min(n, k-echo) {
					s := base
					s.Campaign, s.Seq, s.Round, s.Conn, s.Echo = fmt.Sprintf("eval-%s-k%d", r.Name, k), pseq, round, ci, echo
					s.RTTNs, s.Time = rec.EchoNs[echo], rec.Time
					if err := fp.Add(s); err != nil {
						return nil, nil, fmt.Errorf("fitting probe levels: %w", err)
					}
					pseq++
					echo++
				}
			}
		}
	}
	c.Connections = len(handshakes)
	c.Echo, c.Handshake = summarise(echoes), summarise(handshakes)
	if echo, err = fe.File(); err != nil {
		return nil, nil, fmt.Errorf("fitting echoes: %w", err)
	}
	if hs, err = fh.File(); err != nil {
		return nil, nil, fmt.Errorf("fitting handshakes: %w", err)
	}
	if len(echo.Profiles) != 1 || len(hs.Profiles) != 1 {
		return nil, nil, fmt.Errorf("fitted %d echo and %d handshake profiles, want one each", len(echo.Profiles), len(hs.Profiles))
	}
	ep := &echo.Profiles[0]
	if fp != nil {
		pf, err := fp.File()
		if err != nil {
			return nil, nil, fmt.Errorf("fitting probe levels: %w", err)
		}
		if len(pf.Profiles) != 1 {
			return nil, nil, fmt.Errorf("fitted %d probe-level profiles, want one", len(pf.Profiles))
		}
		for _, pl := range pf.Profiles[0].ProbeMins {
			if ep.ProbeLevel(pl.Conns) == nil {
				ep.ProbeMins = append(ep.ProbeMins, pl)
			}
		}
		slices.SortFunc(ep.ProbeMins, func(a, b profile.ConnMin) int { return a.K - b.K })
		if err := echo.Validate(); err != nil {
			return nil, nil, fmt.Errorf("the echo profile with the probe levels of K = %v: %w", prefixKs, err)
		}
	}
	for _, l := range ep.ConnMins {
		c.Levels = append(c.Levels, l.K)
	}
	// A probe level per K, or the evaluation cannot say what the verdict
	// does with proofs of that shape.
	for _, k := range o.Ks {
		shape := probeShape(k)
		pl := ep.ProbeLevel(shape)
		if pl == nil {
			return nil, nil, fmt.Errorf("%w: the echo profile has no probe level for connections of %v (K = %d) from %d calibration probes (a level needs %d probes of its shape)",
				ErrUnit, shape, k, len(calib), profile.MinConnections)
		}
		lv := ProbeLevel{K: pl.K, Conns: slices.Clone(pl.Conns), Probes: pl.Connections, MaxNs: pl.MaxNs}
		if q, ok := pl.Quantile(0.999); ok {
			lv.P999Ns = q
		}
		if m := pl.Model(); m != nil {
			lv.Model = string(m.Family)
		}
		c.ProbeLevels = append(c.ProbeLevels, lv)
	}
	if m := ep.Model(); m != nil {
		c.EchoModel = string(m.Family)
	}
	if m := hs.Profiles[0].Model(); m != nil {
		c.HandshakeModel = string(m.Family)
	}
	return echo, hs, nil
}

// probeShape is the shape of a probe of K echoes: K/4 connections of 4.
func probeShape(k int) []int {
	out := make([]int, k/EchoesPerConn)
	for i := range out {
		out[i] = EchoesPerConn
	}
	return out
}

// obs is one observation to decide: round trips and their connections
// (n: how many round trips a union-bound observation's minimum stands
// for).
type obs struct {
	rtts  []float64
	conns []int
	n     int
}

// UnitUnion is the Row.Unit of a union-bound decision: one draw's
// threshold, FAR bounded over the K draws.
const UnitUnion = "union-bound"

// observer turns the probes of one vantage into observations of K.
type observer func(recs []ProbeRecord, k int) []obs

// echoObs: each probe's first K echoes (its first K/4 connections).
func echoObs(recs []ProbeRecord, k int) []obs {
	var out []obs
	for _, rec := range recs {
		var o obs
		n := 0
		for _, c := range rec.Conns {
			take := min(c, k-n)
			if take <= 0 {
				break
			}
			o.conns = append(o.conns, take)
			n += take
		}
		if n != k {
			continue
		}
		o.rtts = rec.EchoNs[:k]
		out = append(out, o)
	}
	return out
}

// oneConnObs: each probe's first K echoes taken as one connection.
func oneConnObs(recs []ProbeRecord, k int) []obs {
	out := echoObs(recs, k)
	for i := range out {
		out[i].conns = []int{k}
	}
	return out
}

// handshakeConnObs: the handshakes of each probe's first K echoes'
// connections, each its own connection.
func handshakeConnObs(recs []ProbeRecord, k int) []obs {
	var out []obs
	for _, rec := range recs {
		n, c := 0, 0
		for _, m := range rec.Conns {
			if n >= k {
				break
			}
			n += m
			c++
		}
		if n < k || c > len(rec.HandshakeNs) {
			continue
		}
		out = append(out, obs{rtts: rec.HandshakeNs[:c], conns: ones(c)})
	}
	return out
}

// handshakeRTTObs: K handshakes, from as many consecutive probes as that
// takes; a remainder too short for K is left out.
func handshakeRTTObs(recs []ProbeRecord, k int) []obs {
	var out []obs
	var cur []float64
	for _, rec := range recs {
		for _, h := range rec.HandshakeNs {
			cur = append(cur, h)
			if len(cur) == k {
				out = append(out, obs{rtts: cur, conns: ones(k)})
				cur = nil
			}
		}
	}
	return out
}

func ones(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// decideRow decides every honest and relay observation of one method and
// K, and states the predictions beside.
//
// With union set, the observation's round trips are decided by their
// minimum alone, as one draw of the profile (whose FRR then holds
// whatever their dependence, since the minimum is never slower than the
// first of them), and the K draws a relay gets are counted by the union
// bound: FAR_K(d) ≤ K·FAR_1(d), and the resolution is where FAR_1 ≤
// FARTarget/K.
func decideRow(o Options, method string, p *profile.Profile, k int, honest []ProbeRecord, relay map[float64][]ProbeRecord, see observer, union bool) (*Row, error) {
	hobs := see(honest, k)
	if len(hobs) == 0 {
		return nil, fmt.Errorf("no honest observation")
	}
	if union {
		inner := see
		see = func(recs []ProbeRecord, k int) []obs {
			out := inner(recs, k)
			for i := range out {
				out[i] = obs{rtts: []float64{slices.Min(out[i].rtts)}, conns: []int{1}, n: len(out[i].rtts)}
			}
			return out
		}
		hobs = see(honest, k)
	}
	shape := hobs[0]
	opts := verdict.Options{FRR: FRR, FARTarget: FARTarget, Origin: profile.OriginLab, DistancesKm: curveKm(o.DistancesKm)}
	if union {
		opts.FARTarget = FARTarget / float64(shape.n)
	}
	ref, err := verdict.DecideConns(p, shape.rtts, shape.conns, opts)
	if err != nil {
		return nil, err
	}
	// FAR falls from near 1 to the target within a few km of the
	// resolution: draw that stretch finely.
	if r := ref.ResolutionKm; r > 0 && !math.IsInf(r, 0) && r < math.Pi*verdict.EarthRadiusKm/2 {
		for i := range 41 {
			opts.DistancesKm = append(opts.DistancesKm, r*(0.5+0.6*float64(i)/40))
		}
		slices.Sort(opts.DistancesKm)
		if ref, err = verdict.DecideConns(p, shape.rtts, shape.conns, opts); err != nil {
			return nil, err
		}
	}
	unit := ref.Unit
	if want := methodUnit[method]; !union && want != "" && unit != want {
		return nil, fmt.Errorf("%w: %s decided per %s, want %s; limitations: %q", ErrUnit, method, unit, want, ref.Limitations)
	}
	if union {
		for i := range ref.FAR {
			ref.FAR[i].FAR = math.Min(1, float64(shape.n)*ref.FAR[i].FAR)
		}
		ref.Unit = UnitUnion
		shape.rtts, shape.conns = make([]float64, shape.n), ones(shape.n)
	}
	row := &Row{
		Method: method, K: k, Timed: len(shape.rtts), Conns: len(shape.conns), Unit: ref.Unit,
		ThresholdNs: ref.Threshold, ThresholdModelNs: ref.ThresholdModel, ThresholdEmpiricalNs: ref.ThresholdEmpirical, FloorNs: ref.FloorNs, StatedFRR: ref.FRR, FRRModel: ref.FRRModel, FRREmpirical: ref.FRREmpirical,
		ResolutionKm: finite(ref.ResolutionKm), MaxRelayKm: finite(ref.MaxRelayKm), Limitations: ref.Limitations,
	}
	for _, f := range ref.FAR {
		row.Curve = append(row.Curve, CurvePoint{DistanceKm: f.DistanceKm, FAR: finite(f.FAR)})
	}
	quiet := opts
	quiet.DistancesKm = []float64{}
	decide := func(ob obs) (verdict.Verdict, error) {
		v, err := verdict.DecideConns(p, ob.rtts, ob.conns, quiet)
		if err == nil && v.Unit != unit {
			err = fmt.Errorf("%w: %s decided a probe of connections %v per %s, the reference per %s", ErrUnit, method, ob.conns, v.Unit, unit)
		}
		return v, err
	}
	rejected := 0
	for _, ob := range hobs {
		v, err := decide(ob)
		if err != nil {
			return nil, err
		}
		if v.Decision == verdict.Reject {
			rejected++
			if v.Reason == verdict.ReasonTooFast {
				row.TooFast++
			}
		}
	}
	row.Rejected = NewRate(rejected, len(hobs), Confidence)
	for _, d := range o.DistancesKm {
		robs := see(relay[d], k)
		accepted := 0
		for _, ob := range robs {
			v, err := decide(ob)
			if err != nil {
				return nil, err
			}
			if v.Decision == verdict.Accept {
				accepted++
			}
		}
		pt := Point{DistanceKm: d, Accepted: NewRate(accepted, len(robs), Confidence)}
		for _, f := range ref.FAR {
			if f.DistanceKm == d {
				pt.PredictedFAR = finite(f.FAR)
			}
		}
		row.Points = append(row.Points, pt)
	}
	// The smallest tested distance from which on no relay passed.
	for i := len(row.Points) - 1; i >= 0; i-- {
		pt := row.Points[i]
		if pt.Accepted.N == 0 || pt.Accepted.X > 0 {
			break
		}
		row.RefusedKm, row.RefusedFARUpper = pt.DistanceKm, pt.Accepted.Hi
	}
	return row, nil
}

// compareModels decides the honest probes with the probe level (the full
// profile), the connection model and the per-echo model at one stated FRR.
func compareModels(full, conn, perEcho *profile.Profile, k int, frr float64, honest []ProbeRecord) (*ModelRow, error) {
	hobs := echoObs(honest, k)
	if len(hobs) == 0 {
		return nil, fmt.Errorf("no honest observation")
	}
	opts := verdict.Options{FRR: frr, FARTarget: FARTarget, Origin: profile.OriginLab, DistancesKm: []float64{}}
	m := &ModelRow{K: k, StatedFRR: frr}
	models := []struct {
		p    *profile.Profile
		unit string
		cell *ModelCell
	}{{full, verdict.UnitProbe, &m.Probe}, {conn, verdict.UnitConnection, &m.Conn}, {perEcho, verdict.UnitEcho, &m.PerEcho}}
	for _, md := range models {
		rejected := 0
		for i, ob := range hobs {
			v, err := verdict.DecideConns(md.p, ob.rtts, ob.conns, opts)
			if err != nil {
				return nil, err
			}
			if v.Unit != md.unit {
				return nil, fmt.Errorf("%w: decided per %s, want %s; limitations: %q", ErrUnit, v.Unit, md.unit, v.Limitations)
			}
			if i == 0 {
				md.cell.Unit, md.cell.ThresholdNs, md.cell.ResolutionKm = v.Unit, v.Threshold, finite(v.ResolutionKm)
			}
			if v.Decision == verdict.Reject {
				rejected++
			}
		}
		md.cell.Rejected = NewRate(rejected, len(hobs), Confidence)
	}
	return m, nil
}

// finite returns x, or -1 when x is NaN or infinite (which JSON cannot
// carry): a resolution of -1 means no distance reaches the FAR target.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	return x
}
