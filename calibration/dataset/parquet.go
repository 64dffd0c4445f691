package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

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

// ReadParquet reads a Parquet file written by ExportParquet, with the same
// checks as the JSON Lines reader (errors name the row, counted from 0). A
// corrupt or foreign file gives an error wrapping ErrParquet, never a panic.
// The samples are returned in memory.
func ReadParquet(path string) (*Header, []Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	return ReadParquetFrom(f, fi.Size(), path)
}

// ReadParquetFrom is ReadParquet on any ReaderAt of the given size; name is
// used in errors.
func ReadParquetFrom(r io.ReaderAt, size int64, name string) (h *Header, samples []Sample, err error) {
	bad := func(format string, a ...any) error {
		return fileError(name, fmt.Errorf("%w: %s", ErrParquet, fmt.Sprintf(format, a...)))
	}
	defer func() {
		if p := recover(); p != nil {
			h, samples, err = nil, nil, bad("corrupt file (%v)", p)
		}
	}()
	if err := checkParquetFrame(r, size); err != nil {
		return nil, nil, bad("%v", err)
	}
	pf, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, nil, bad("%v", err)
	}
	hv, ok := pf.Lookup(ParquetHeaderKey)
	if !ok {
		return nil, nil, bad("no %q metadata: not a poc samples file", ParquetHeaderKey)
	}
	h = new(Header)
	if err := decodeStrict([]byte(hv), h); err != nil {
		return nil, nil, fileError(name, fmt.Errorf("%w: %w: %w", ErrParquet, ErrHeader, err))
	}
	if err := h.Validate(); err != nil {
		return nil, nil, fileError(name, fmt.Errorf("%w: %w", ErrParquet, err))
	}
	if !parquet.EqualNodes(pf.Schema(), parquetSchema) {
		return nil, nil, bad("its columns are not those of a poc samples file (format version %d)", Version)
	}
	if n := pf.NumRows(); n < 0 {
		return nil, nil, bad("%d rows", n)
	}
	var declared int64
	for _, g := range pf.RowGroups() {
		declared += g.NumRows()
	}
	if declared != pf.NumRows() {
		return nil, nil, bad("row groups hold %d rows, the footer says %d", declared, pf.NumRows())
	}
	rd := parquet.NewGenericReader[parquetRow](pf)
	defer rd.Close()
	chk := newChecker(h)
	batch := make([]parquetRow, parquetBatch)
	var row, unitRow int64
	for {
		n, rerr := rd.Read(batch)
		for i := 0; i < n; i++ {
			s := fromRow(&batch[i])
			if err := chk.check(&s); err != nil {
				return nil, nil, rowError(name, row, err)
			}
			if chk.inUnit == 1 {
				unitRow = row
			}
			samples = append(samples, s)
			row++
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, nil, rowError(name, row, fmt.Errorf("%w: %w", ErrParquet, rerr))
		}
		if n == 0 {
			return nil, nil, rowError(name, row, fmt.Errorf("%w: reader made no progress", ErrParquet))
		}
	}
	if row != pf.NumRows() {
		return nil, nil, bad("%d rows read, the footer says %d", row, pf.NumRows())
	}
	if err := chk.finish(); err != nil {
		return nil, nil, rowError(name, unitRow, err)
	}
	return h, samples, nil
}

// checkParquetFrame checks the magic numbers and the footer length before
// parquet-go sees the file: it allocates whatever length the footer claims.
func checkParquetFrame(r io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short for a Parquet file", size)
	}
	if size > MaxParquetBytes {
		return fmt.Errorf("larger than %d bytes", int64(MaxParquetBytes))
	}
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return err
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return errors.New("no Parquet magic number (PAR1) at its start and end")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 || n > maxParquetFooter {
		return fmt.Errorf("footer of %d bytes in a file of %d", n, size)
	}
	return nil
}
