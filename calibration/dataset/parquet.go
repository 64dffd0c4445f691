package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/latencyproof/poc/internal/pqguard"
	"github.com/parquet-go/parquet-go"
)

// ParquetHeaderKey is the key of the file metadata entry that holds the
// dataset's header (its JSON line) in an exported Parquet file.
const ParquetHeaderKey = "poc.header"

// Limits of the Parquet reader: what a samples file can need, far below what
// would let a corrupt footer exhaust memory.
const (
	MaxParquetBytes  = 16 << 30
	maxParquetFooter = 64 << 20
	parquetBatch     = 1024
	parquetGroupRows = 64 << 10
)

// parquetRow is one sample as a flat Parquet row. A field that the JSON form
// omits or leaves zero because it does not apply is NULL here, never 0, so
// that min(rtt_ns) over a table with failures is not 0: rtt_ns, rtt_cycles
// and handshake_ns of an error sample, rtt_kernel_ns without kernel
// timestamps, error and error_kind of a measured echo.
type parquetRow struct {
	Campaign        string    `parquet:"campaign,dict"`
	Seq             uint64    `parquet:"seq,delta"`
	Round           int32     `parquet:"round"`
	Vantage         string    `parquet:"vantage,dict"`
	VantageProvider *string   `parquet:"vantage_provider,optional,dict"`
	VantageRegion   *string   `parquet:"vantage_region,optional,dict"`
	VantageLat      float64   `parquet:"vantage_lat"`
	VantageLon      float64   `parquet:"vantage_lon"`
	Origin          string    `parquet:"origin,dict"`
	Endpoint        string    `parquet:"endpoint,dict"`
	Provider        string    `parquet:"provider,dict"`
	Region          string    `parquet:"region,dict"`
	Hostname        string    `parquet:"hostname,dict"`
	Port            int32     `parquet:"port"`
	Address         *string   `parquet:"address,optional,dict"`
	Method          string    `parquet:"method,dict"`
	Conn            int32     `parquet:"conn"`
	Echo            int32     `parquet:"echo"`
	RTTNs           *float64  `parquet:"rtt_ns,optional"`
	RTTCycles       *uint64   `parquet:"rtt_cycles,optional"`
	RTTKernelNs     *int64    `parquet:"rtt_kernel_ns,optional"`
	HandshakeNs     *float64  `parquet:"handshake_ns,optional"`
	FrequencyHz     *uint64   `parquet:"frequency_hz,optional"`
	FrequencySource *string   `parquet:"frequency_source,optional,dict"`
	Time            time.Time `parquet:"time,timestamp(nanosecond:utc)"`
	Error           *string   `parquet:"error,optional"`
	ErrorKind       *string   `parquet:"error_kind,optional,dict"`
}

func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func orZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func toRow(s *Sample) parquetRow {
	return parquetRow{
		Campaign: s.Campaign, Seq: s.Seq, Round: int32(s.Round),
		Vantage: s.Vantage, VantageProvider: nonZero(s.VantageProvider), VantageRegion: nonZero(s.VantageRegion),
		VantageLat: s.VantageLat, VantageLon: s.VantageLon, Origin: s.Origin,
		Endpoint: s.Endpoint, Provider: s.Provider, Region: s.Region, Hostname: s.Hostname, Port: int32(s.Port),
		Address: nonZero(s.Address), Method: s.Method, Conn: int32(s.Conn), Echo: int32(s.Echo),
		RTTNs: nonZero(s.RTTNs), RTTCycles: nonZero(s.RTTCycles), RTTKernelNs: nonZero(s.RTTKernelNs),
		HandshakeNs: nonZero(s.HandshakeNs), FrequencyHz: nonZero(s.FrequencyHz), FrequencySource: nonZero(s.FrequencySource),
		Time: s.Time.UTC(), Error: nonZero(s.Error), ErrorKind: nonZero(s.ErrorKind),
	}
}

func fromRow(r *parquetRow) Sample {
	return Sample{
		Campaign: r.Campaign, Seq: r.Seq, Round: int(r.Round),
		Vantage: r.Vantage, VantageProvider: orZero(r.VantageProvider), VantageRegion: orZero(r.VantageRegion),
		VantageLat: r.VantageLat, VantageLon: r.VantageLon, Origin: r.Origin,
		Endpoint: r.Endpoint, Provider: r.Provider, Region: r.Region, Hostname: r.Hostname, Port: int(r.Port),
		Address: orZero(r.Address), Method: r.Method, Conn: int(r.Conn), Echo: int(r.Echo),
		RTTNs: orZero(r.RTTNs), RTTCycles: orZero(r.RTTCycles), RTTKernelNs: orZero(r.RTTKernelNs),
		HandshakeNs: orZero(r.HandshakeNs), FrequencyHz: orZero(r.FrequencyHz), FrequencySource: orZero(r.FrequencySource),
		Time: r.Time.UTC(), Error: orZero(r.Error), ErrorKind: orZero(r.ErrorKind),
	}
}

var parquetSchema = parquet.SchemaOf(parquetRow{})

// ExportParquet converts the JSON Lines dataset in to a Parquet file out and
// returns the number of samples written. The input is read with the
// Reader's checks and must be whole (no torn line, no incomplete unit:
// resume a crashed campaign first). out is written to a temporary sibling,
// fsynced and renamed into place, replacing any file there.
func ExportParquet(in, out string) (rows uint64, err error) {
	r, err := Open(in)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	h := r.Header()
	var hdr bytes.Buffer
	if err := encodeLine(&hdr, &h); err != nil {
		return 0, err
	}
	dir, base := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o644); err != nil {
		return 0, err
	}
	defer func() {
		// parquet-go panics on misuse; none is expected here, but a
		// panic must not escape a library call.
		if p := recover(); p != nil {
			err = fileError(out, fmt.Errorf("%w: writing: %v", ErrParquet, p))
		}
	}()
	w := parquet.NewGenericWriter[parquetRow](f,
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(parquetGroupRows),
		parquet.KeyValueMetadata(ParquetHeaderKey, string(bytes.TrimSuffix(hdr.Bytes(), []byte("\n")))),
		parquet.CreatedBy("poc", "dataset-v1", ""),
	)
	batch := make([]parquetRow, 0, parquetBatch)
	flush := func() error {
		if _, err := w.Write(batch); err != nil {
			return fileError(out, fmt.Errorf("%w: %w", ErrParquet, err))
		}
		batch = batch[:0]
		return nil
	}
	for {
		s, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		batch = append(batch, toRow(&s))
		rows++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, fileError(out, fmt.Errorf("%w: %w", ErrParquet, err))
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, err
	}
	return rows, syncDir(dir)
}

// ParquetLimits bound what reading a Parquet samples file may allocate
// (internal/pqguard checks a file against them before parquet-go reads
// it): ExportParquet writes row groups of at most 65,536 rows, pages far
// below 64 MiB and page headers of a few hundred bytes.
var ParquetLimits = pqguard.Limits{
	MaxFileBytes:       MaxParquetBytes,
	MaxFooterBytes:     maxParquetFooter,
	MaxMetadataAlloc:   256 << 20,
	MaxPageHeaderBytes: 1 << 20,
	MaxPageBytes:       64 << 20,
	MaxRowGroupRows:    parquetGroupRows,
}

// ParquetReader reads a Parquet file written by ExportParquet one sample
// at a time, in memory bounded by a row group's pages, with the same
// checks as the JSON Lines Reader (errors name the row, counted from 0).
// A corrupt or foreign file gives an error wrapping ErrParquet, never a
// panic: before parquet-go reads anything, the whole file's structure is
// checked against ParquetLimits (a pass over the file that decompresses
// every page once).
type ParquetReader struct {
	name    string
	h       Header
	f       *os.File
	pf      *parquet.File
	rd      *parquet.GenericReader[parquetRow]
	chk     *checker
	batch   []parquetRow
	n, i    int
	row     int64
	unitRow int64
	err     error
}

// OpenParquet opens the Parquet samples file at path and checks its
// structure and header. Close it when done.
func OpenParquet(path string) (*ParquetReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p, err := NewParquetReader(f, fi.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.f = f
	return p, nil
}

// NewParquetReader is OpenParquet on any ReaderAt of the given size; name
// is used in errors.
func NewParquetReader(r io.ReaderAt, size int64, name string) (p *ParquetReader, err error) {
	p = &ParquetReader{name: name}
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, p.bad("corrupt file (%v)", v)
		}
	}()
	if _, err := pqguard.Check(r, size, ParquetLimits); err != nil {
		return nil, p.bad("%w", err)
	}
	pf, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, p.bad("%v", err)
	}
	hv, ok := pf.Lookup(ParquetHeaderKey)
	if !ok {
		return nil, p.bad("no %q metadata: not a poc samples file", ParquetHeaderKey)
	}
	if err := decodeStrict([]byte(hv), &p.h); err != nil {
		return nil, fileError(name, fmt.Errorf("%w: %w: %w", ErrParquet, ErrHeader, err))
	}
	if err := p.h.Validate(); err != nil {
		return nil, fileError(name, fmt.Errorf("%w: %w", ErrParquet, err))
	}
	if !parquet.EqualNodes(pf.Schema(), parquetSchema) {
		return nil, p.bad("its columns are not those of a poc samples file (format version %d)", Version)
	}
	p.pf = pf
	p.rd = parquet.NewGenericReader[parquetRow](pf)
	p.chk = newChecker(&p.h)
	p.batch = make([]parquetRow, parquetBatch)
	return p, nil
}

func (p *ParquetReader) bad(format string, a ...any) error {
	return fileError(p.name, fmt.Errorf("%w: %w", ErrParquet, fmt.Errorf(format, a...)))
}

// Header returns the dataset's header.
func (p *ParquetReader) Header() Header { return p.h }

// Row returns the number of samples read so far.
func (p *ParquetReader) Row() int64 { return p.row }

// Read returns the next sample, or io.EOF after the last one once the file
// has been found whole. After an error, Read returns it again.
func (p *ParquetReader) Read() (Sample, error) {
	if p.err != nil {
		return Sample{}, p.err
	}
	s, err := p.read()
	if err != nil {
		p.err = err
	}
	return s, err
}

func (p *ParquetReader) read() (s Sample, err error) {
	defer func() {
		if v := recover(); v != nil {
			s, err = Sample{}, rowError(p.name, p.row, fmt.Errorf("%w: corrupt file (%v)", ErrParquet, v))
		}
	}()
	for p.i == p.n {
		n, rerr := p.rd.Read(p.batch)
		p.i, p.n = 0, n
		if n > 0 {
			break
		}
		if errors.Is(rerr, io.EOF) {
			if p.row != p.pf.NumRows() {
				return Sample{}, p.bad("%d rows read, the footer says %d", p.row, p.pf.NumRows())
			}
			if err := p.chk.finish(); err != nil {
				return Sample{}, rowError(p.name, p.unitRow, err)
			}
			return Sample{}, io.EOF
		}
		if rerr != nil {
			return Sample{}, rowError(p.name, p.row, fmt.Errorf("%w: %w", ErrParquet, rerr))
		}
		return Sample{}, rowError(p.name, p.row, fmt.Errorf("%w: reader made no progress", ErrParquet))
	}
	s = fromRow(&p.batch[p.i])
	p.i++
	if err := p.chk.check(&s); err != nil {
		return Sample{}, rowError(p.name, p.row, err)
	}
	if p.chk.inUnit == 1 {
		p.unitRow = p.row
	}
	p.row++
	return s, nil
}

// Close releases the reader and closes the file OpenParquet opened.
func (p *ParquetReader) Close() error {
	var err error
	if p.rd != nil {
		err = p.rd.Close()
	}
	if p.f != nil {
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// ReadParquet reads a whole Parquet samples file into memory with
// ParquetReader's checks. For large files, read with OpenParquet.
func ReadParquet(path string) (*Header, []Sample, error) {
	p, err := OpenParquet(path)
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	return readAllParquet(p)
}

// ReadParquetFrom is ReadParquet on any ReaderAt of the given size; name is
// used in errors.
func ReadParquetFrom(r io.ReaderAt, size int64, name string) (*Header, []Sample, error) {
	p, err := NewParquetReader(r, size, name)
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	return readAllParquet(p)
}

func readAllParquet(p *ParquetReader) (*Header, []Sample, error) {
	var samples []Sample
	for {
		s, err := p.Read()
		if errors.Is(err, io.EOF) {
			h := p.Header()
			return &h, samples, nil
		}
		if err != nil {
			return nil, nil, err
		}
		samples = append(samples, s)
	}
}
