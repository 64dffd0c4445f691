package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/internal/plotkit"
)

// Figure sizes.
const (
	cdfWidth    = 12 * vg.Inch
	cdfHeight   = 4.5 * vg.Inch
	powerWidth  = 9.5 * vg.Inch
	powerHeight = 5 * vg.Inch
	// legendWidth is the column beside the panels that holds the legend.
	legendWidth = 2.6 * vg.Inch
	// curvePoints is how many points a model curve is drawn with.
	curvePoints = 400
)

// drawCanvas is the canvas a figure is drawn on.
type drawCanvas = draw.Canvas

// palette holds one colour per K.
var palette = plotkit.Palette

var (
	grey      = color.Gray{Y: 110}
	lightGrey = color.Gray{Y: 170}
	black     = color.Black
	dotted    = plotkit.Dotted
	dashed    = plotkit.Dashed
)

var (
	textStyle = plotkit.TextStyle
	newPlot   = plotkit.NewPlot
	newLegend = plotkit.NewLegend
)

// line returns a line through the points, or nil when there are fewer
// than two.
func line(xs, ys []float64, c color.Color, width float64, dashes []vg.Length) (*plotter.Line, error) {
	if len(xs) < 2 {
		return nil, nil
	}
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(width), dashes
	return l, nil
}

// renderFigure draws a figure in every format asked for. A panic inside
// the plotting library becomes an error wrapping ErrRender.
func renderFigure(w, h vg.Length, o Options, fn func(drawCanvas) error) (out map[Format][]byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %v", ErrRender, r)
		}
	}()
	out = map[Format][]byte{}
	if o.has(PNG) {
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(o.DPI))
		if err := fn(draw.New(c)); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
			return nil, fmt.Errorf("%w: encoding PNG: %w", ErrRender, err)
		}
		out[PNG] = b.Bytes()
	}
	if o.has(SVG) {
		c := vgsvg.NewWith(vgsvg.UseWH(w, h), vgsvg.EmbedFonts(o.EmbedFonts))
		if err := fn(draw.New(c)); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if _, err := c.WriteTo(&b); err != nil {
			return nil, fmt.Errorf("%w: encoding SVG: %w", ErrRender, err)
		}
		svg := b.Bytes()
		if !o.EmbedFonts {
			svg = bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
				[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
		}
		out[SVG] = svg
	}
	return out, nil
}

// unit is the time unit of an axis.
type unit struct {
	name string
	ns   float64
}

func unitFor(maxNs float64) unit {
	if maxNs >= 20e6 {
		return unit{"ms", 1e6}
	}
	return unit{"µs", 1e3}
}

func (u unit) scale(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x / u.ns
	}
	return out
}

// grid returns n points from lo to hi, evenly spaced, or evenly in the
// logarithm when log is set (lo > 0).
func grid(lo, hi float64, n int, log bool) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		f := float64(i) / float64(n-1)
		if log {
			xs[i] = math.Exp(math.Log(lo) + f*(math.Log(hi)-math.Log(lo)))
		} else {
			xs[i] = lo + f*(hi-lo)
		}
	}
	return xs
}

// drawCDF draws the round-trip CDF of a profile: the whole distribution,
// its lower tail on a logarithmic probability axis, and a legend.
func drawCDF(c drawCanvas, p *profile.Profile, emp *Empirical, figs []PowerFigures) error {
	u := unitFor(p.MaxNs)
	m := p.Model()
	ex, ep := emp.ecdf(p)
	legend := newLegend()
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(18), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4)}
	panels := draw.Crop(c, 0, -legendWidth, 0, 0)
	legendC := draw.Crop(c, c.Max.X-c.Min.X-legendWidth+vg.Points(12), 0, 0, -vg.Points(28))

	// The whole distribution. A logarithmic RTT axis when it spans more
	// than a factor of ten (a long tail), linear otherwise.
	logX := p.MaxNs > 10*p.MinNs
	var lo, hi float64
	if logX {
		lo, hi = 0.9*p.MinNs, 1.1*p.MaxNs
	} else {
		span := math.Max(p.MaxNs-p.MinNs, 0.01*p.MaxNs) // never empty
		lo, hi = math.Max(0, p.MinNs-0.05*span), p.MaxNs+0.02*span
	}
	title := fmt.Sprintf("%s (%s, %s profile)", p.Endpoint, p.Method, p.Origin)
	whole := newPlot(title, "round trip ("+u.name+")", "P(RTT ≤ x)")
	if logX {
		whole.X.Scale, whole.X.Tick.Marker = plot.LogScale{}, logTicks{onesTwosFives: true}
		whole.X.Label.Text = "round trip (" + u.name + ", log scale)"
	}
	whole.Y.Min, whole.Y.Max = 0, 1

	// The lower tail, down to a probability ten times below the profile's
	// lowest stated one or 10⁻⁶, whichever is lower.
	ymin := math.Pow(10, math.Floor(math.Log10(math.Min(1e-6, 0.1/float64(p.Count)))))
	p50, _ := p.Quantile(0.5)
	tHi := p50
	for _, f := range figs {
		tHi = math.Max(tHi, f.Threshold)
	}
	bottom := p.FloorNs
	if m != nil {
		bottom = math.Min(bottom, m.ShiftNs)
	}
	spread := math.Max(tHi-bottom, 0.01*tHi) // never empty
	tLo := bottom - 0.05*spread
	tHi += 0.08 * spread
	tail := newPlot("lower tail (log scale): where thresholds lie", "round trip ("+u.name+")", "P(RTT ≤ x)")
	tail.Y.Scale, tail.Y.Tick.Marker = plot.LogScale{}, logTicks{}

	// Fitted model.
	if m != nil {
		xs := grid(lo, hi, curvePoints, logX)
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = m.CDF(x)
		}
		l, err := line(u.scale(xs), ys, palette[0], 1.6, nil)
		if err != nil {
			return err
		}
		whole.Add(l)
		start := math.Max(tLo, m.Quantile(ymin))
		var txs, tys []float64
		for _, x := range grid(start, tHi, curvePoints, false) {
			if y := m.CDF(x); y >= ymin {
				txs, tys = append(txs, x), append(tys, y)
			}
		}
		lt, err := line(u.scale(txs), tys, palette[0], 1.6, nil)
		if err != nil {
			return err
		}
		if lt != nil {
			tail.Add(lt)
		}
		legend.Add(fmt.Sprintf("model: %s (KS %.3f)", m.Family, m.GoF.KS), l)
	}
	// Samples' empirical CDF.
	if len(ex) > 0 {
		l, err := line(u.scale(ex), ep, palette[1], 1, nil)
		if err != nil {
			return err
		}
		whole.Add(l)
		var txs, tys []float64
		for i := range ex {
			if ep[i] >= ymin && ex[i] <= tHi*1.2 {
				txs, tys = append(txs, ex[i]), append(tys, ep[i])
			}
		}
		if lt, err := line(u.scale(txs), tys, palette[1], 1, nil); err != nil {
			return err
		} else if lt != nil {
			tail.Add(lt)
		}
		legend.Add(fmt.Sprintf("samples (n = %d)", emp.Count(p)), l)
	}
	// The profile's quantiles.
	var qx, qy, tqx, tqy []float64
	for _, q := range p.Quantiles {
		qx, qy = append(qx, q.Ns), append(qy, q.P)
		if q.Ns <= tHi && q.P >= ymin {
			tqx, tqy = append(tqx, q.Ns), append(tqy, q.P)
		}
	}
	sc, err := scatter(u.scale(qx), qy, black)
	if err != nil {
		return err
	}
	whole.Add(sc)
	if len(tqx) > 0 {
		tsc, err := scatter(u.scale(tqx), tqy, black)
		if err != nil {
			return err
		}
		tail.Add(tsc)
	}
	legend.Add("profile quantiles", sc)

	// The floor and the thresholds, in the tail panel.
	fl, err := line([]float64{p.FloorNs / u.ns, p.FloorNs / u.ns}, []float64{ymin, 1}, grey, 1, dotted)
	if err != nil {
		return err
	}
	tail.Add(fl)
	legend.Add(fmt.Sprintf("floor %s (faster: too fast)", fmtNs(p.FloorNs)), fl)
	for i, f := range figs {
		l, err := line([]float64{f.Threshold / u.ns, f.Threshold / u.ns}, []float64{ymin, 1}, palette[(i+2)%len(palette)], 1.2, dashed)
		if err != nil {
			return err
		}
		tail.Add(l)
		legend.Add(fmt.Sprintf("threshold K = %d: %s", f.K, fmtNs(f.Threshold)), l)
	}

	whole.X.Min, whole.X.Max = lo/u.ns, hi/u.ns
	tail.X.Min, tail.X.Max = tLo/u.ns, tHi/u.ns
	tail.Y.Min, tail.Y.Max = ymin, 1
	whole.Draw(tiles.At(panels, 0, 0))
	tail.Draw(tiles.At(panels, 1, 0))
	legend.Draw(legendC)
	return nil
}

func scatter(xs, ys []float64, c color.Color) (*plotter.Scatter, error) {
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}
	return s, nil
}

// drawPower draws the error rates against distance for each K.
func drawPower(c drawCanvas, p *profile.Profile, figs []PowerFigures, o Options) error {
	// Beyond the distance where the threshold minus the relay's round
	// trip falls below the lowest point of either description, a relay
	// never passes: show up to a little past that for the largest K.
	bottom := p.MinNs
	if m := p.Model(); m != nil {
		bottom = math.Min(bottom, m.ShiftNs)
	}
	xmax := 0.0
	for _, f := range figs {
		xmax = math.Max(xmax, (f.Threshold-bottom)/verdict.NsPerKm)
	}
	xmax = math.Min(math.Max(1.15*xmax, 0.5), math.Pi*verdict.EarthRadiusKm)
	ymin := math.Min(o.FRR, o.FARTarget) / 1e3
	ds := grid(0, xmax, curvePoints, false)

	title := fmt.Sprintf("%s (%s, %s profile): verdict error rates", p.Endpoint, p.Method, p.Origin)
	pl := newPlot(title, "distance d from the calibration spot (km; vacuum round trip 2d/c added to each echo)", "probability (log scale)")
	pl.Y.Scale, pl.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	legend := newLegend()
	for i, f := range figs {
		col := palette[(i+2)%len(palette)]
		g, err := Power(p, f.K, f.EchoesPerConn, verdict.Options{FRR: o.FRR, FARTarget: o.FARTarget, DistancesKm: ds})
		if err != nil {
			return err
		}
		// FAR falls with distance: keep it down to ymin, and the next point
		// clamped to ymin so that the curve meets the axis.
		var fx, fy []float64
		for _, pt := range g.FAR {
			if pt.DistanceKm > xmax {
				break
			}
			fx, fy = append(fx, pt.DistanceKm), append(fy, math.Max(pt.FAR, ymin))
			if pt.FAR < ymin {
				break
			}
		}
		lf, err := line(fx, fy, col, 1.8, nil)
		if err != nil {
			return err
		}
		var rx, ry []float64
		for _, d := range ds {
			if r := rejectAt(p, &f, f.Threshold, d*verdict.NsPerKm, verdict.Options{FRR: o.FRR, FARTarget: o.FARTarget}); r >= ymin {
				rx, ry = append(rx, d), append(ry, r)
			}
		}
		lr, err := line(rx, ry, col, 1.2, dashed)
		if err != nil {
			return err
		}
		if lf != nil {
			pl.Add(lf)
			legend.Add(fmt.Sprintf("K = %d FAR, relay d km away", f.K), lf)
		}
		if lr != nil {
			pl.Add(lr)
			legend.Add(fmt.Sprintf("K = %d P(reject), prover d km off", f.K), lr)
		}
	}
	hl := func(y float64, col color.Color, dashes []vg.Length, name string) error {
		l, err := line([]float64{0, xmax}, []float64{y, y}, col, 1, dashes)
		if err != nil {
			return err
		}
		pl.Add(l)
		legend.Add(name, l)
		return nil
	}
	if err := hl(o.FRR, black, dotted, fmt.Sprintf("stated FRR %s", fmtRate(o.FRR))); err != nil {
		return err
	}
	if err := hl(o.FARTarget, grey, dotted, fmt.Sprintf("FAR target %s", fmtRate(o.FARTarget))); err != nil {
		return err
	}
	if xmax > verdict.MetroKm {
		l, err := line([]float64{verdict.MetroKm, verdict.MetroKm}, []float64{ymin, 1}, lightGrey, 1, dashed)
		if err != nil {
			return err
		}
		pl.Add(l)
		legend.Add(fmt.Sprintf("same metro (%g km)", verdict.MetroKm), l)
	}
	for _, f := range figs {
		legend.Add(fmt.Sprintf("K = %d: resolution %s", f.K, fmtKm(f.ResolutionKm)))
	}
	pl.X.Min, pl.X.Max = 0, xmax
	pl.Y.Min, pl.Y.Max = ymin, 1
	pl.Draw(draw.Crop(c, vg.Points(4), -legendWidth, vg.Points(4), -vg.Points(4)))
	legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-legendWidth+vg.Points(12), 0, 0, -vg.Points(28)))
	return nil
}

// logTicks marks a logarithmic axis: every power of ten labelled (every
// other one when they are many), the other integers between them as minor
// ticks; with onesTwosFives, 2 and 5 times each power are labelled too
// (and 3 times, when the axis spans less than two decades).
// It never panics: a range that is not positive gets no ticks.
type logTicks struct{ onesTwosFives bool }

func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi > lo) || math.IsInf(hi, 0) {
		return nil
	}
	e0, e1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	// Many decades: label every other one (counted from the top, so that
	// 1 is labelled on a probability axis) and leave out minor ticks.
	step, minor := 1, e1-e0 <= 6
	if e1-e0 > 8 {
		step = 2
	}
	var ticks []plot.Tick
	for e := e0; e <= e1; e++ {
		base := math.Pow(10, float64(e))
		for i := 1; i <= 9; i++ {
			v := float64(i) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			tk := plot.Tick{Value: v}
			switch {
			case i == 1 && (e1-e)%step == 0:
				tk.Label = powLabel(e, t.onesTwosFives)
			case t.onesTwosFives && (i == 2 || i == 5 || i == 3 && hi < 100*lo):
				tk.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			if tk.Label != "" || minor || i == 1 {
				ticks = append(ticks, tk)
			}
		}
	}
	return ticks
}

func powLabel(e int, plain bool) string {
	if plain || (e >= -2 && e <= 3) {
		return strconv.FormatFloat(math.Pow(10, float64(e)), 'g', -1, 64)
	}
	return fmt.Sprintf("1e%d", e)
}
