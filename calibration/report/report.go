package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
)

// DefaultEchoes are the K values a report shows when Options.Echoes is
// empty.
var DefaultEchoes = []int{8, 16, 32}

// Format is an image format.
type Format string

// Formats.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// DefaultDPI is the resolution of PNG figures.
const DefaultDPI = 96

// MarkdownName is the name of the summary in a report.
const MarkdownName = "report.md"

// Errors; test them with errors.Is.
var (
	// ErrOptions: an option is out of range.
	ErrOptions = errors.New("invalid report options")
	// ErrRender: a figure could not be drawn or encoded.
	ErrRender = errors.New("rendering a figure")
)

// Options configure a report. The zero value is the default throughout.
type Options struct {
	// Echoes are the K values shown (DefaultEchoes when empty); sorted
	// and without repeats in the output.
	Echoes []int
	// EchoesPerConn is the connection size the K echoes are spread over
	// (tlsprobe.DefaultEchoesPerConn when zero), as proofs spread them.
	EchoesPerConn int
	// FRR and FARTarget are the verdict's (verdict.DefaultFRR and
	// verdict.DefaultFARTarget when zero).
	FRR, FARTarget float64
	// Formats are the image formats written (PNG and SVG when empty).
	// report.md links the SVG figure when there is one, else the PNG.
	Formats []Format
	// EmbedFonts embeds the Liberation font in each SVG file, which then
	// looks the same in every viewer (about 550 KB more per file).
	// Without it SVG text names Liberation Sans and its metric-compatible
	// fallbacks (Arial, Helvetica, sans-serif).
	EmbedFonts bool
	// DPI is the resolution of PNG figures (DefaultDPI when zero).
	DPI int
	// Source names the profile file in report.md (omitted when empty).
	Source string
	// Datasets name the sample files of the empirical CDFs in report.md.
	Datasets []string
}

func (o Options) normalise() (Options, error) {
	if len(o.Echoes) == 0 {
		o.Echoes = DefaultEchoes
	}
	o.Echoes = slices.Clone(o.Echoes)
	slices.Sort(o.Echoes)
	o.Echoes = slices.Compact(o.Echoes)
	for _, k := range o.Echoes {
		if k < 1 || k > verdict.MaxK {
			return o, fmt.Errorf("%w: K = %d (want 1 to %d)", ErrOptions, k, verdict.MaxK)
		}
	}
	if o.EchoesPerConn < 0 {
		return o, fmt.Errorf("%w: %d echoes per connection", ErrOptions, o.EchoesPerConn)
	}
	if len(o.Echoes) > len(palette) {
		return o, fmt.Errorf("%w: %d values of K (at most %d)", ErrOptions, len(o.Echoes), len(palette))
	}
	if o.FRR == 0 {
		o.FRR = verdict.DefaultFRR
	}
	if o.FARTarget == 0 {
		o.FARTarget = verdict.DefaultFARTarget
	}
	if !(o.FRR > 0 && o.FRR < 1) || !(o.FARTarget > 0 && o.FARTarget < 1) {
		return o, fmt.Errorf("%w: FRR %v and FAR target %v must lie in (0, 1)", ErrOptions, o.FRR, o.FARTarget)
	}
	if len(o.Formats) == 0 {
		o.Formats = []Format{PNG, SVG}
	}
	for _, f := range o.Formats {
		if f != PNG && f != SVG {
			return o, fmt.Errorf("%w: image format %q (want png or svg)", ErrOptions, f)
		}
	}
	if o.DPI == 0 {
		o.DPI = DefaultDPI
	}
	if o.DPI < 24 || o.DPI > 600 {
		return o, fmt.Errorf("%w: %d dpi (want 24 to 600)", ErrOptions, o.DPI)
	}
	return o, nil
}

func (o Options) has(f Format) bool { return slices.Contains(o.Formats, f) }

// File is one file of a report.
type File struct {
	// Name is a plain file name (no directory), safe on every file
	// system.
	Name string
	Data []byte
}

// ProfileReport is what a report shows of one profile.
type ProfileReport struct {
	// Profile is the profile shown (it points into the File given to
	// Build).
	Profile *profile.Profile
	// Name is the base of its figures' file names (Sanitize).
	Name string
	// CDF and Power are the figures' file names, one per format.
	CDF, Power []string
	// Samples is how many given samples match the profile (its
	// empirical CDF); 0 when none were given.
	Samples uint64
	// Figures are the verdict's figures for each K.
	Figures []PowerFigures
}

// Report is a rendered report: the figures of every profile, then
// report.md, in memory.
type Report struct {
	Files    []File
	Profiles []ProfileReport
}

// Build renders the report of a profile file. emp may be nil (no
// empirical CDFs). The output depends on nothing but the arguments.
func Build(f *profile.File, emp *Empirical, opts Options) (*Report, error) {
	o, err := opts.normalise()
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("%w: nil profile file", profile.ErrInvalid)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	names := fileNames(f.Profiles)
	r := &Report{}
	for i := range f.Profiles {
		p := &f.Profiles[i]
		pr := ProfileReport{Profile: p, Name: names[i], Samples: emp.Count(p)}
		for _, k := range o.Echoes {
			fig, err := Power(p, k, o.EchoesPerConn, verdict.Options{FRR: o.FRR, FARTarget: o.FARTarget})
			if err != nil {
				return nil, fmt.Errorf("profile %s, K = %d: %w", p.Name(), k, err)
			}
			pr.Figures = append(pr.Figures, fig)
		}
		cdf, err := renderFigure(cdfWidth, cdfHeight, o, func(c drawCanvas) error { return drawCDF(c, p, emp, pr.Figures) })
		if err != nil {
			return nil, fmt.Errorf("CDF of profile %s: %w", p.Name(), err)
		}
		pow, err := renderFigure(powerWidth, powerHeight, o, func(c drawCanvas) error { return drawPower(c, p, pr.Figures, o) })
		if err != nil {
			return nil, fmt.Errorf("power of profile %s: %w", p.Name(), err)
		}
		for _, fm := range o.Formats {
			pr.CDF = append(pr.CDF, "cdf-"+pr.Name+"."+string(fm))
			pr.Power = append(pr.Power, "power-"+pr.Name+"."+string(fm))
			r.Files = append(r.Files,
				File{Name: "cdf-" + pr.Name + "." + string(fm), Data: cdf[fm]},
				File{Name: "power-" + pr.Name + "." + string(fm), Data: pow[fm]})
		}
		r.Profiles = append(r.Profiles, pr)
	}
	r.Files = append(r.Files, File{Name: MarkdownName, Data: markdown(f, r, o)})
	return r, nil
}

// WriteDir writes the report's files into dir, creating it if needed.
// Each file is written to a temporary name and renamed into place, so a
// reader never sees half a file; files of the same names are replaced,
// other files are left alone.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the report directory: %w", err)
	}
	for _, f := range r.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("%w: file name %q", ErrOptions, f.Name)
		}
		if err := writeAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
