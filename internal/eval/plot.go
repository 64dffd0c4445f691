package eval

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/latencyproof/poc/internal/plotkit"
)

// ErrPlot is wrapped by every plotting failure.
var ErrPlot = errors.New("drawing a figure")

// Figure geometry.
const (
	figWidth    = 13 * vg.Inch
	figHeight   = 5 * vg.Inch
	resWidth    = 12 * vg.Inch
	resLegend   = 4.4 * vg.Inch
	resHeight   = 5 * vg.Inch
	legendCol   = 2.9 * vg.Inch
	figDPI      = 110
	probFloor   = 1e-7 // the lowest probability drawn
	markerSize  = 2.6
	xJitterStep = 0.045 // horizontal spread of the K's markers, in log1p(km)
)

// colours: one per K.
var colours = plotkit.Palette[:6]

func colour(i int) color.Color { return colours[i%len(colours)] }

var (
	dotted  = plotkit.Dotted
	dashed  = plotkit.Dashed
	dashDot = []vg.Length{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}
	short   = []vg.Length{vg.Points(3), vg.Points(2)}
)

var (
	styleText = plotkit.TextStyle
	newPlot   = plotkit.NewPlot
	newLegend = plotkit.NewLegend
)

// log1pScale maps x to log(1 + x): a logarithmic distance axis that still
// shows 0 (the honest prover).
type log1pScale struct{}

func (log1pScale) Normalize(lo, hi, x float64) float64 {
	a, b := math.Log1p(math.Max(lo, 0)), math.Log1p(math.Max(hi, 0))
	if b <= a {
		return 0
	}
	return (math.Log1p(math.Max(x, 0)) - a) / (b - a)
}

// kmTicks labels a log1p distance axis.
func kmTicks(hi float64) plot.ConstantTicks {
	var ts []plot.Tick
	for _, v := range []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000} {
		if v <= hi {
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return ts
}

// powTicks labels every power of ten from lo to hi.
func powTicks(lo, hi float64) plot.ConstantTicks {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
			continue
		}
		l := strconv.FormatFloat(v, 'g', -1, 64)
		if e < -2 || e > 3 {
			l = fmt.Sprintf("1e%d", int(e))
		}
		ts = append(ts, plot.Tick{Value: v, Label: l})
		for i := 2; i <= 9 && e < math.Ceil(math.Log10(hi)); i++ {
			if m := float64(i) * v; m <= hi {
				ts = append(ts, plot.Tick{Value: m})
			}
		}
	}
	return ts
}

// downTriangle is an open triangle pointing down: "at most this".
type downTriangle struct{}

func (downTriangle) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(0.8)})
	r := sty.Radius * 1.25
	cos, sin := vg.Length(math.Cos(math.Pi/6)), vg.Length(math.Sin(math.Pi/6))
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r*cos, Y: pt.Y + r*sin})
	p.Line(vg.Point{X: pt.X + r*cos, Y: pt.Y + r*sin})
	p.Close()
	c.Stroke(p)
}

func line(xs, ys []float64, c color.Color, width float64, dashes []vg.Length) (*plotter.Line, error) {
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

func glyphs(xs, ys []float64, c color.Color, shape draw.GlyphDrawer) (*plotter.Scatter, error) {
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(markerSize), Shape: shape}
	return s, nil
}

// errBars are vertical intervals, drawn from lo to hi (clamped to the
// axis' floor).
type errBars struct {
	plotter.XYs
	plotter.YErrors
}

func bars(xs, ys, lo, hi []float64, c color.Color) (*plotter.YErrorBars, error) {
	e := errBars{}
	for i := range xs {
		e.XYs = append(e.XYs, plotter.XY{X: xs[i], Y: ys[i]})
		e.YErrors = append(e.YErrors, struct{ Low, High float64 }{ys[i] - lo[i], hi[i] - ys[i]})
	}
	b, err := plotter.NewYErrorBars(e)
	if err != nil {
		return nil, err
	}
	b.Color, b.Width, b.CapWidth = c, vg.Points(0.9), vg.Points(4)
	return b, nil
}

// render draws a figure into a PNG. A panic in the plotting library
// becomes an error.
func render(w, h vg.Length, fn func(draw.Canvas) error) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %v", ErrPlot, r)
		}
	}()
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(figDPI))
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	if err := fn(dc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlot, err)
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
		return nil, fmt.Errorf("%w: encoding PNG: %w", ErrPlot, err)
	}
	return b.Bytes(), nil
}

// clampP keeps a probability on the drawn range.
func clampP(p float64) float64 { return math.Min(1, math.Max(p, probFloor)) }

// spread moves the i-th K's marker sideways on the log1p axis.
func spread(d float64, i, n int) float64 {
	off := (float64(i) - float64(n-1)/2) * xJitterStep
	return math.Max(0, math.Expm1(math.Log1p(d)+off))
}

// PlotRegime draws a regime's error rates against relay distance: for the
// echoes (the project's verdict, the probe level) and for K handshakes on
// the same paths, the predicted FAR per K as a line, the relay probes
// accepted and the honest probes rejected (at distance 0) as measured,
// with their 95% intervals; a count of 0 is drawn at its interval's upper
// end as ▽. A thin line beside each K is the comparison's prediction: the
// connection model for the echoes, the dependence-free threshold for the
// handshakes.
func PlotRegime(res *Result, rr *RegimeResult) ([]byte, error) {
	return render(figWidth, figHeight, func(c draw.Canvas) error {
		xmax := res.DistancesKm[len(res.DistancesKm)-1] * 1.5
		tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4)}
		panels := draw.Crop(c, 0, -legendCol, 0, 0)
		leg := newLegend()
		for pi, method := range []string{MethodProbeLevel, MethodHandshakesRTTs} {
			title := fmt.Sprintf("%s: K echoes on K/%d connections (probe level: the verdict)", rr.Regime.Name, res.EchoesPerConn)
			if method == MethodHandshakesRTTs {
				title = fmt.Sprintf("%s: K TLS handshakes only (per-handshake model)", rr.Regime.Name)
			}
			// The x label is drawn below the panel by hand: gonum/plot
			// places a label's glyph box at the linear middle of the
			// range, which on this axis is far right, and shrinks the
			// panel to fit it.
			p := newPlot(title, "", "probability (log scale)")
			p.X.Scale, p.X.Tick.Marker = log1pScale{}, kmTicks(xmax)
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, powTicks(probFloor, 1)
			p.X.Min, p.X.Max = 0, xmax
			p.Y.Min, p.Y.Max = probFloor, 1
			for _, y := range []struct {
				v      float64
				dashes []vg.Length
				col    color.Color
				name   string
			}{{res.FRR, dotted, color.Black, fmt.Sprintf("stated FRR %g", res.FRR)}, {res.FARTarget, dotted, color.Gray{Y: 120}, fmt.Sprintf("FAR target %g", res.FARTarget)}} {
				l, err := line([]float64{0, xmax}, []float64{y.v, y.v}, y.col, 1, y.dashes)
				if err != nil {
					return err
				}
				p.Add(l)
				if pi == 0 {
					leg.Add(y.name, l)
				}
			}
			free := map[string]string{MethodProbeLevel: MethodConnModel, MethodHandshakesRTTs: MethodHandshakesOneConn}[method]
			for ki, k := range res.Ks {
				row := rr.Row(method, k)
				if row == nil {
					continue
				}
				col := colour(ki)
				// The comparison's predicted FAR, thin.
				if fr := rr.Row(free, k); fr != nil {
					fx, fy := curveXY(fr.Curve, xmax)
					if len(fx) >= 2 {
						l, err := line(fx, fy, col, 0.9, dashDot)
						if err != nil {
							return err
						}
						p.Add(l)
					}
				}
				cx, cy := curveXY(row.Curve, xmax)
				if len(cx) >= 2 {
					l, err := line(cx, cy, col, 1.7, nil)
					if err != nil {
						return err
					}
					p.Add(l)
					if pi == 0 {
						leg.Add(fmt.Sprintf("K = %d: predicted FAR(d)", k), l)
					}
				}
				// Measured: relays accepted, honest rejected at d = 0.
				var mx, my, lo, hi, zx, zy []float64
				add := func(d float64, r Rate) {
					x := spread(d, ki, len(res.Ks))
					if r.X == 0 {
						zx, zy = append(zx, x), append(zy, clampP(r.Hi))
						return
					}
					mx, my = append(mx, x), append(my, clampP(r.Rate))
					lo, hi = append(lo, clampP(r.Lo)), append(hi, clampP(r.Hi))
				}
				add(0, row.Rejected)
				for _, pt := range row.Points {
					add(pt.DistanceKm, pt.Accepted)
				}
				if len(mx) > 0 {
					b, err := bars(mx, my, lo, hi, col)
					if err != nil {
						return err
					}
					s, err := glyphs(mx, my, col, draw.CircleGlyph{})
					if err != nil {
						return err
					}
					p.Add(b, s)
				}
				if len(zx) > 0 {
					s, err := glyphs(zx, zy, col, downTriangle{})
					if err != nil {
						return err
					}
					p.Add(s)
				}
				// The predicted resolution.
				if r := row.ResolutionKm; r > 0 && r <= xmax {
					l, err := line([]float64{r, r}, []float64{probFloor, res.FARTarget}, col, 1, dashed)
					if err != nil {
						return err
					}
					p.Add(l)
				}
			}
			tile := tiles.At(panels, pi, 0)
			var ts draw.TextStyle
			styleText(&ts, 10)
			h := ts.Height("d") + vg.Points(4)
			p.Draw(draw.Crop(tile, 0, 0, h, 0))
			ts.XAlign, ts.YAlign = draw.XCenter, draw.YBottom
			tile.FillText(ts, vg.Point{X: (tile.Min.X + tile.Max.X) / 2, Y: tile.Min.Y}, "relay distance d (km, vacuum-equivalent; log(1 + d) axis)")
		}
		// Style keys, in black.
		dot, _ := glyphs([]float64{0}, []float64{1}, color.Black, draw.CircleGlyph{})
		tri, _ := glyphs([]float64{0}, []float64{1}, color.Black, downTriangle{})
		dl, _ := line([]float64{0, 1}, []float64{1, 1}, color.Black, 1, dashed)
		leg.Add("measured, 95% interval: at d = 0", dot)
		leg.Add("  honest rejected (FRR),")
		leg.Add("  at d > 0 relays accepted (FAR)")
		leg.Add("0 of N: upper end of interval", tri)
		leg.Add("predicted resolution (FAR 1e-6)", dl)
		dd, _ := line([]float64{0, 1}, []float64{1, 1}, color.Black, 0.9, dashDot)
		leg.Add("thin: predicted FAR of the", dd)
		leg.Add("  left: connection model (its")
		leg.Add("  connections independent)")
		leg.Add("  right: dependence-free threshold")
		leg.Add("  (one handshake, union bound)")
		leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-legendCol+vg.Points(14), 0, 0, -vg.Points(24)))
		return nil
	})
}

// PlotResolution draws, per regime, the predicted resolution (the
// smallest relay distance with FAR ≤ 10⁻⁶ at FRR 10⁻³) against K for the
// echoes and for handshakes, with what was measured for the echoes: the
// smallest tested distance from which on no relay passed.
func PlotResolution(res *Result) ([]byte, error) {
	return render(resWidth, resHeight, func(c draw.Canvas) error {
		p := newPlot("smallest relay distance refused at FAR 1e-6, FRR 1e-3 (predicted)", "echoes K per proof (log scale)", "distance (km, vacuum-equivalent; log scale)")
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		var xt []plot.Tick
		for _, k := range res.Ks {
			xt = append(xt, plot.Tick{Value: float64(k), Label: strconv.Itoa(k)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(xt)
		p.X.Min, p.X.Max = float64(res.Ks[0])/1.3, float64(res.Ks[len(res.Ks)-1])*1.3
		ylo, yhi := math.Inf(1), 0.0
		leg := newLegend()
		styles := []struct {
			method string
			dashes []vg.Length
			glyph  draw.GlyphDrawer
			name   string
		}{
			{MethodProbeLevel, nil, draw.CircleGlyph{}, "K echoes, probe level (the verdict)"},
			{MethodConnModel, short, draw.TriangleGlyph{}, "K echoes, connection model"},
			{MethodOneConn, dashed, draw.RingGlyph{}, "K echoes, dependence-free"},
			{MethodPerEcho, dotted, draw.PlusGlyph{}, "K echoes, per-echo model"},
			{MethodHandshakesRTTs, nil, draw.BoxGlyph{}, "K handshakes"},
			{MethodHandshakesOneConn, dashed, draw.SquareGlyph{}, "K handshakes, dependence-free"},
			{MethodHandshakesConns, dashDot, draw.PyramidGlyph{}, "K/4 handshakes (the proof's own)"},
		}
		for ri := range res.Regimes {
			rr := &res.Regimes[ri]
			col := colour(ri)
			for _, st := range styles {
				var xs, ys []float64
				for _, k := range res.Ks {
					if row := rr.Row(st.method, k); row != nil && row.ResolutionKm > 0 {
						xs, ys = append(xs, float64(k)), append(ys, row.ResolutionKm)
						ylo, yhi = math.Min(ylo, row.ResolutionKm), math.Max(yhi, row.ResolutionKm)
					}
				}
				if len(xs) < 2 {
					continue
				}
				l, err := line(xs, ys, col, 1.4, st.dashes)
				if err != nil {
					return err
				}
				s, err := glyphs(xs, ys, col, st.glyph)
				if err != nil {
					return err
				}
				s.GlyphStyle.Radius = vg.Points(3)
				p.Add(l, s)
				leg.Add(fmt.Sprintf("%s: %s", rr.Regime.Name, st.name), l, s)
			}
			var mx, my []float64
			for _, k := range res.Ks {
				if row := rr.Row(MethodProbeLevel, k); row != nil && row.RefusedKm > 0 {
					mx, my = append(mx, float64(k)*1.04), append(my, row.RefusedKm)
					ylo, yhi = math.Min(ylo, row.RefusedKm), math.Max(yhi, row.RefusedKm)
				}
			}
			if len(mx) > 0 {
				s, err := glyphs(mx, my, col, draw.CrossGlyph{})
				if err != nil {
					return err
				}
				s.GlyphStyle.Radius = vg.Points(4)
				p.Add(s)
				leg.Add(fmt.Sprintf("%s: probe level, measured: no relay passed from", rr.Regime.Name), s)
			}
		}
		if math.IsInf(ylo, 1) {
			ylo, yhi = 1, 10
		}
		p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(ylo))), math.Pow(10, math.Ceil(math.Log10(yhi)))
		p.Y.Tick.Marker = powTicksLabelled(p.Y.Min, p.Y.Max)
		p.Draw(draw.Crop(c, vg.Points(4), -resLegend, vg.Points(4), -vg.Points(4)))
		leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-resLegend+vg.Points(14), 0, 0, -vg.Points(24)))
		return nil
	})
}

// powTicksLabelled labels 1, 2 and 5 times every power of ten.
func powTicksLabelled(lo, hi float64) plot.ConstantTicks {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ts
}

// curveXY is a predicted FAR curve's points up to xmax km, stopping at the
// first below probFloor (clamped for the log axis).
func curveXY(curve []CurvePoint, xmax float64) (x, y []float64) {
	for _, pt := range curve {
		if pt.DistanceKm > xmax || pt.FAR < 0 {
			continue
		}
		x, y = append(x, pt.DistanceKm), append(y, clampP(pt.FAR))
		if pt.FAR < probFloor {
			break
		}
	}
	return x, y
}
