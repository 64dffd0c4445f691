package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
)

func init() {
	calibrateSubcommands = append(calibrateSubcommands, calibrateFitCommand)
}

func calibrateFitCommand() *cli.Command {
	return &cli.Command{
		Name:      "fit",
		Usage:     "fit datacenter profiles from datasets (JSON Lines, CSV, Parquet)",
		ArgsUsage: "DATASET...",
		Description: "Streams every sample of the datasets given — campaign datasets (JSON Lines),\n" +
			"Parquet exports, or CSV files from other tools (a header with at least endpoint,\n" +
			"method and rtt_ns; see 'go doc ./calibration/fit CSVReader') — and fits one\n" +
			"profile per endpoint, method, origin and vantage: quantiles, shifted log-normal\n" +
			"and gamma models with their goodness of fit, and the \"too fast\" floor (see\n" +
			"docs/profiles.md). Endpoint coordinates come from --catalog or --lab, and\n" +
			"otherwise from the built-in catalog a dataset's header names, when there is one.\n" +
			"Inputs are only read; the profiles file is written whole or not at all.\n" +
			"Flags may come before or after the datasets.",
		// Flags after the datasets, as in 'fit a.jsonl b.csv --out p.json',
		// are parsed by interspersed: urfave/cli stops at the first argument.
		SkipFlagParsing: true,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "profiles `FILE` to write (required)"},
			&cli.StringFlag{Name: "catalog", Usage: "endpoint catalog `FILE` giving the endpoints' coordinates (a lab state file works too)"},
			&cli.StringFlag{Name: "lab", Usage: "lab state `FILE`: take the coordinates from the lab's catalog"},
			&cli.StringFlag{Name: "clock", Value: string(profile.ClockCounter), Usage: "round trips to fit: `counter` (cycle counter, what proofs carry) or kernel (receive timestamps)"},
			&cli.BoolFlag{Name: "drop-small", Usage: fmt.Sprintf("leave out profiles with fewer than %d samples instead of failing", profile.MinSamples)},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing profiles file"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON document on stdout"},
		},
		Action: runCalibrateFit,
	}
}

// fitSummary is what 'calibrate fit' reports on stdout.
type fitSummary struct {
	Out      string          `json:"out"`
	Inputs   []inputSummary  `json:"inputs"`
	Profiles []profileDigest `json:"profiles"`
	Notes    string          `json:"notes,omitempty"`
}

// inputSummary counts what one input held.
type inputSummary struct {
	File     string `json:"file"`
	Format   string `json:"format"`
	Campaign string `json:"campaign,omitempty"`
	Catalog  string `json:"catalog,omitempty"`
	Samples  uint64 `json:"samples"`
	Measured uint64 `json:"measured"`
	Failed   uint64 `json:"failed"`
}

// profileDigest is a profile in a few numbers.
type profileDigest struct {
	Provider string  `json:"provider"`
	Region   string  `json:"region"`
	Endpoint string  `json:"endpoint"`
	Method   string  `json:"method"`
	Clock    string  `json:"clock"`
	Origin   string  `json:"origin"`
	Vantage  string  `json:"vantage"`
	Count    uint64  `json:"count"`
	Failures uint64  `json:"failures"`
	MinNs    float64 `json:"min_ns"`
	P01Ns    float64 `json:"p01_ns"`
	P50Ns    float64 `json:"p50_ns"`
	P99Ns    float64 `json:"p99_ns"`
	FloorNs  float64 `json:"floor_ns"`
	// Model is the best model's family and fit ("" when none fitted).
	Model     string  `json:"model,omitempty"`
	Objective float64 `json:"objective,omitempty"`
	KS        float64 `json:"ks,omitempty"`
	AD        float64 `json:"ad,omitempty"`
}

func digest(p *profile.Profile) profileDigest {
	q := func(prob float64) float64 { x, _ := p.Quantile(prob); return x }
	d := profileDigest{
		Provider: p.Provider, Region: p.Region, Endpoint: p.Endpoint, Method: p.Method,
		Clock: string(p.Clock), Origin: string(p.Origin), Vantage: p.Vantage.Name,
		Count: p.Count, Failures: p.Failures, MinNs: p.MinNs,
		P01Ns: q(0.01), P50Ns: q(0.5), P99Ns: q(0.99), FloorNs: p.FloorNs,
	}
	if m := p.Model(); m != nil {
		d.Model, d.Objective, d.KS, d.AD = string(m.Family), m.GoF.Objective, m.GoF.KS, m.GoF.AD
	}
	return d
}

func runCalibrateFit(cc *cli.Context) error {
	c, paths, err := interspersed(cc)
	if err != nil || c == nil {
		return err
	}
	if len(paths) == 0 {
		return usage("calibrate fit needs at least one DATASET")
	}
	out := c.String("out")
	if out == "" {
		return usage("--out FILE is required: where to write the profiles")
	}
	clock := profile.Clock(c.String("clock"))
	if clock != profile.ClockCounter && clock != profile.ClockKernel {
		return usage("--clock %q: want counter or kernel", clock)
	}
	if c.IsSet("catalog") && c.IsSet("lab") {
		return usage("give --catalog or --lab, not both")
	}
	// Never write over something this command reads.
	readOnly := append([]string{c.String("catalog"), c.String("lab")}, paths...)
	for _, in := range readOnly {
		if in != "" && sameFile(in, out) {
			return usage("--out %s is also an input: choose another file", out)
		}
	}
	if _, err := os.Lstat(out); err == nil && !c.Bool("force") {
		return usage("%s exists; add --force to replace it", out)
	}

	var cats catalogs
	if err := cats.loadFlags(c); err != nil {
		return err
	}
	f, err := fit.NewFitter(fit.Options{
		Locate:    cats.locate,
		Clock:     clock,
		DropSmall: c.Bool("drop-small"),
		Provenance: profile.Provenance{
			Generator: fitGenerator(c),
			Created:   time.Now().UTC().Truncate(time.Second),
		},
	})
	if err != nil {
		return exit(exitUsage, err)
	}
	sum := fitSummary{Out: out}
	var sources []string
	for _, path := range paths {
		in, err := openSamples(path)
		if err != nil {
			return err
		}
		cats.fromHeader(c.App.ErrWriter, in)
		is := inputSummary{File: path, Format: in.format}
		if in.header != nil {
			is.Campaign, is.Catalog = in.header.Campaign, in.header.CatalogName
		}
		err = in.each(cats.fill, func(s dataset.Sample) error {
			is.Samples++
			if s.Error != "" {
				is.Failed++
			} else {
				is.Measured++
			}
			return f.Add(s)
		})
		in.close()
		if err != nil {
			return err
		}
		sum.Inputs = append(sum.Inputs, is)
		src := path
		if is.Campaign != "" {
			src += " (campaign " + is.Campaign + ")"
		}
		sources = append(sources, src)
	}
	pf, err := f.File()
	if err != nil {
		return fitError(err, clock)
	}
	pf.Provenance.Sources = sources // known only now that every header was read
	if err := writeProfiles(out, pf); err != nil {
		return exit(exitCouldNot, err)
	}
	sum.Notes = pf.Provenance.Notes
	for i := range pf.Profiles {
		sum.Profiles = append(sum.Profiles, digest(&pf.Profiles[i]))
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, sum)
	}
	printFit(c.App.Writer, sum)
	return nil
}

// interspersed parses a command's flags wherever they stand among its
// arguments, for commands with SkipFlagParsing: the flag package stops at
// the first argument, and 'poc calibrate fit a.jsonl b.csv --out p.json'
// must work as the usage line says. It returns a context whose flags are
// parsed, and the arguments; a nil context and error when it showed the
// help asked for. "--" ends the flags.
func interspersed(c *cli.Context) (*cli.Context, []string, error) {
	fs := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(fs); err != nil {
			return nil, nil, exit(exitUsage, err)
		}
	}
	var args []string
	rest := c.Args().Slice()
	help := false
	for len(rest) > 0 {
		err := fs.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			help = true
			break
		}
		if err != nil {
			return nil, nil, usage("%v", err)
		}
		left := fs.Args()
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			args = append(args, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		args, rest = append(args, left[0]), left[1:]
	}
	if h := fs.Lookup("help"); help || h != nil && h.Value.String() == "true" {
		parent := c
		if l := c.Lineage(); len(l) > 1 {
			parent = l[1]
		}
		return nil, nil, cli.ShowCommandHelp(parent, c.Command.Name)
	}
	nc := cli.NewContext(c.App, fs, c)
	nc.Command = c.Command
	return nc, args, nil
}

func fitGenerator(c *cli.Context) string {
	g := "poc calibrate fit (clock " + c.String("clock")
	if c.Bool("drop-small") {
		g += ", drop-small"
	}
	return g + "; calibration/fit defaults)"
}

// fitError maps the fitter's errors to exit codes and hints.
func fitError(err error, clock profile.Clock) error {
	switch {
	case errors.Is(err, profile.ErrTooFewSamples) && clock == profile.ClockKernel:
		return exit(exitCouldNot, withHint(err, "with --clock kernel only samples with a kernel receive timestamp (rtt_kernel_ns) count; fit the counter clock, or add --drop-small"))
	case errors.Is(err, profile.ErrTooFewSamples):
		return exit(exitCouldNot, withHint(err, fmt.Sprintf("a profile needs %d measured samples: run more rounds, or add --drop-small to leave such profiles out", profile.MinSamples)))
	case errors.Is(err, fit.ErrNoLocation):
		return exit(exitCouldNot, withHint(err, "give --catalog FILE (or --lab STATE) with an entry for that endpoint, provider and region"))
	case errors.Is(err, fit.ErrNoSamples):
		return exit(exitCouldNot, withHint(err, "the inputs hold no endpoint with enough measured samples (failed attempts do not count)"))
	}
	return exit(exitCouldNot, err)
}

// writeProfiles writes the file to a temporary sibling and renames it into
// place: the profiles file is whole or absent, never half written.
func writeProfiles(path string, pf *profile.File) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // nothing left to remove after the rename
	w := bufio.NewWriter(tmp)
	if err := profile.Write(w, pf); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
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

func printFit(w io.Writer, sum fitSummary) {
	var n, failed uint64
	for _, in := range sum.Inputs {
		n += in.Samples
		failed += in.Failed
	}
	fmt.Fprintf(w, "fitted %s from %s (%d samples, %d of them failed attempts) into %s\n\n",
		plural(len(sum.Profiles), "profile"), plural(len(sum.Inputs), "input"), n, failed, sum.Out)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "endpoint\tmethod\torigin\tvantage\tclock\tcount\tmin\tp01\tp50\tp99\tbest model\tobjective\tKS")
	lab := 0
	for _, p := range sum.Profiles {
		model, obj, ks := "none", "-", "-"
		if p.Model != "" {
			model, obj, ks = p.Model, fmt.Sprintf("%.3g", p.Objective), fmt.Sprintf("%.4f", p.KS)
		}
		origin := p.Origin
		if origin == string(profile.OriginLab) {
			origin = "LAB"
			lab++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			p.Endpoint, p.Method, origin, p.Vantage, p.Clock, p.Count, us(p.MinNs), us(p.P01Ns), us(p.P50Ns), us(p.P99Ns), model, obj, ks)
	}
	tw.Flush()
	if lab > 0 {
		fmt.Fprintf(w, "\n%d LAB profiles: their delays are emulated by the loopback lab, not measured in a cloud region;\n"+
			"a verifier uses them only when asked for origin lab.\n", lab)
	}
	if sum.Notes != "" {
		fmt.Fprintf(w, "\nnotes: %s\n", sum.Notes)
	}
}

// plural says "1 profile", "2 profiles".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// us formats ns as µs.
func us(ns float64) string { return fmt.Sprintf("%.1f µs", ns/1e3) }

// sameFile reports whether two paths name one existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// catalogs give endpoint coordinates (and, for CSV rows without them,
// providers and regions): the catalog of the command line first, then the
// built-in catalogs that datasets' headers name.
type catalogs struct {
	list  []*datasets.Catalog
	named map[string]bool // header catalog names already looked at
}

// builtinCatalogs are the catalogs compiled into poc, by the name a
// dataset's header records.
var builtinCatalogs = map[string]func() (*datasets.Catalog, error){
	"cloud":       datasets.CloudCatalog,
	"lab:default": datasets.LabCatalog,
}

func (cs *catalogs) loadFlags(c *cli.Context) error {
	switch {
	case c.String("lab") != "":
		path := c.String("lab")
		st, err := lab.ReadStateFile(path)
		if err != nil {
			return exit(exitCouldNot, withHint(fmt.Errorf("reading lab state %s: %w", path, err), "'poc lab serve --state-out FILE' writes it"))
		}
		cs.list = append(cs.list, &st.Catalog)
	case c.String("catalog") != "":
		cat, _, err := readCatalogOrState(c.String("catalog"))
		if err != nil {
			return err
		}
		cs.list = append(cs.list, cat)
	}
	return nil
}

// fromHeader adds the built-in catalog a dataset's header names, if there
// is one and it is not the catalog given already.
func (cs *catalogs) fromHeader(note io.Writer, in *sampleInput) {
	if in.header == nil || in.header.CatalogName == "" {
		return
	}
	name := in.header.CatalogName
	for _, c := range cs.list {
		if c.Name == name {
			return
		}
	}
	if cs.named[name] {
		return
	}
	if cs.named == nil {
		cs.named = map[string]bool{}
	}
	cs.named[name] = true
	load, ok := builtinCatalogs[name]
	if !ok {
		return
	}
	cat, err := load()
	if err != nil {
		return // a built-in catalog always reads; the locator reports what is missing
	}
	cs.list = append(cs.list, cat)
	fmt.Fprintf(note, "%s was measured against catalog %q: taking coordinates missing elsewhere from the built-in one\n", in.path, name)
}

// entry returns the catalog entry of an endpoint name.
func (cs *catalogs) entry(name string) (datasets.Endpoint, bool) {
	for _, c := range cs.list {
		if e, ok := c.Lookup(name); ok {
			return e, true
		}
	}
	return datasets.Endpoint{}, false
}

// locate is the fitter's Locator: the first catalog entry of the
// endpoint's name in that provider and region.
func (cs *catalogs) locate(provider, region, endpoint string) (profile.Location, bool) {
	for _, c := range cs.list {
		if e, ok := c.Lookup(endpoint); ok && e.Provider == provider && e.Region == region {
			return profile.Location{Lat: e.Lat, Lon: e.Lon}, true
		}
	}
	return profile.Location{}, false
}

// fill gives a CSV row without provider or region its catalog entry's.
func (cs *catalogs) fill(endpoint string) (provider, region string, ok bool) {
	e, ok := cs.entry(endpoint)
	return e.Provider, e.Region, ok
}

// Input formats.
const (
	formatJSONL   = "jsonl"
	formatCSV     = "csv"
	formatParquet = "parquet"
)

// sampleInput is one input file of samples, read one sample at a time.
type sampleInput struct {
	path   string
	format string
	// header is the dataset's (nil for CSV).
	header  *dataset.Header
	jsonl   *dataset.Reader
	csv     *fit.CSVReader
	file    *os.File
	parquet *dataset.ParquetReader
}

// openSamples opens an input, telling its format by its extension or,
// failing that, its first bytes.
func openSamples(path string) (*sampleInput, error) {
	format, err := sniffFormat(path)
	if err != nil {
		return nil, exit(exitCouldNot, err)
	}
	in := &sampleInput{path: path, format: format}
	switch format {
	case formatJSONL:
		r, err := dataset.Open(path)
		if err != nil {
			return nil, datasetError(err)
		}
		h := r.Header()
		in.jsonl, in.header = r, &h
	case formatParquet:
		r, err := dataset.OpenParquet(path)
		if err != nil {
			return nil, datasetError(err)
		}
		h := r.Header()
		in.parquet, in.header = r, &h
	case formatCSV:
		f, err := os.Open(path)
		if err != nil {
			return nil, exit(exitCouldNot, err)
		}
		r, err := fit.NewCSVReader(bufio.NewReader(f), fit.CSVOptions{Name: path})
		if err != nil {
			f.Close()
			return nil, exit(exitCouldNot, err)
		}
		in.csv, in.file = r, f
	}
	return in, nil
}

func (in *sampleInput) close() {
	if in.jsonl != nil {
		in.jsonl.Close()
	}
	if in.file != nil {
		in.file.Close()
	}
	if in.parquet != nil {
		in.parquet.Close()
	}
}

// each calls fn for every sample, in file order, giving CSV rows without
// a provider or region those of their endpoint's catalog entry (fill). An
// error names the file and the line (JSON Lines, and CSV syntax), the
// data row counted from 1 (CSV) or the row counted from 0 (Parquet, as
// dataset errors do).
func (in *sampleInput) each(fill func(string) (string, string, bool), fn func(dataset.Sample) error) error {
	switch {
	case in.jsonl != nil:
		for {
			s, err := in.jsonl.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return datasetError(err)
			}
			if err := fn(s); err != nil {
				return exit(exitCouldNot, fmt.Errorf("%s:%d: %w", in.path, in.jsonl.Line(), err))
			}
		}
	case in.csv != nil:
		for row := 1; ; row++ {
			s, err := in.csv.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return exit(exitCouldNot, err)
			}
			if s.Provider == "" || s.Region == "" {
				p, r, ok := fill(s.Endpoint)
				if !ok {
					return exit(exitCouldNot, withHint(fmt.Errorf("%s: data row %d: endpoint %q has no provider and region, and no catalog lists it", in.path, row, s.Endpoint),
						"add provider and region columns, or give --catalog FILE naming the endpoint"))
				}
				if s.Provider == "" {
					s.Provider = p
				}
				if s.Region == "" {
					s.Region = r
				}
			}
			if err := fn(s); err != nil {
				return exit(exitCouldNot, fmt.Errorf("%s: data row %d: %w", in.path, row, err))
			}
		}
	default:
		for {
			row := in.parquet.Row()
			s, err := in.parquet.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return datasetError(err)
			}
			if err := fn(s); err != nil {
				return exit(exitCouldNot, fmt.Errorf("%s: row %d: %w", in.path, row, err))
			}
		}
	}
}

// datasetError maps a dataset reader's error to an exit code and a hint.
func datasetError(err error) error {
	if errors.Is(err, dataset.ErrTorn) || errors.Is(err, dataset.ErrIncomplete) {
		return exit(exitCouldNot, withHint(err, "the campaign crashed or is still running: resume it ('poc calibrate run ... --resume') or wait for it to finish"))
	}
	return exit(exitCouldNot, err)
}

// sniffFormat tells an input's format: by its extension (.jsonl, .ndjson,
// .json; .csv; .parquet, .pq), else by content: Parquet's magic "PAR1", a
// JSON object, or a CSV header naming at least endpoint, method and
// rtt_ns.
func sniffFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return formatJSONL, nil
	case ".csv":
		return formatCSV, nil
	case ".parquet", ".pq":
		return formatParquet, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	head = head[:n]
	if bytes.HasPrefix(head, []byte("PAR1")) {
		return formatParquet, nil
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\ufeff")), " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("{")) {
		return formatJSONL, nil
	}
	first, _, _ := bytes.Cut(trimmed, []byte("\n"))
	cols := map[string]bool{}
	for _, c := range strings.Split(string(first), ",") {
		cols[strings.ToLower(strings.Trim(strings.TrimSpace(c), `"`))] = true
	}
	if cols["endpoint"] && cols["method"] && cols["rtt_ns"] {
		return formatCSV, nil
	}
	return "", withHint(fmt.Errorf("%s: not a dataset this command reads", path),
		"give a campaign dataset (JSON Lines), a Parquet export, or a CSV file whose header names at least endpoint, method and rtt_ns")
}
