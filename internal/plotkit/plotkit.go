// Package plotkit is the look the project's figures share (calibration
// reports, the evaluation): fonts compiled into the binary, a palette that
// people with colour-vision deficiencies tell apart, and plots and legends
// styled alike.
package plotkit

import (
	"image/color"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Fonts is the figures' own font cache: the Liberation fonts compiled into
// the binary, and nothing else, whatever other code does to gonum/plot's
// process-wide default.
var Fonts = sync.OnceValue(func() *font.Cache { return font.NewCache(liberation.Collection()) })

// Sans is the typeface of every text.
var Sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// Palette is Okabe and Ito's colours, darkest first: one per series.
var Palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 0, 0, 255},       // black
	color.RGBA{240, 228, 66, 255},  // yellow
}

// Dash patterns.
var (
	Dotted = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	Dashed = []vg.Length{vg.Points(6), vg.Points(3)}
)

// TextStyle sets s to the figures' typeface at size points, in black.
func TextStyle(s *text.Style, size float64) {
	s.Font = Sans
	s.Font.Size = vg.Points(size)
	s.Handler = text.Plain{Fonts: Fonts()}
	s.Color = color.Black
}

// NewPlot returns a plot with a light grid whose every text uses the
// figures' fonts.
func NewPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.TextHandler = text.Plain{Fonts: Fonts()}
	TextStyle(&p.Title.TextStyle, 11)
	TextStyle(&p.X.Label.TextStyle, 10)
	TextStyle(&p.Y.Label.TextStyle, 10)
	TextStyle(&p.X.Tick.Label, 9)
	TextStyle(&p.Y.Tick.Label, 9)
	TextStyle(&p.Legend.TextStyle, 9)
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	p.Title.Padding = vg.Points(6)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = color.Gray{Y: 225}, color.Gray{Y: 225}
	p.Add(g)
	return p
}

// NewLegend returns a legend to be drawn in its own column, top-left
// aligned.
func NewLegend() plot.Legend {
	l := plot.NewLegend()
	TextStyle(&l.TextStyle, 9)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(3)
	l.ThumbnailWidth = vg.Points(24)
	return l
}
