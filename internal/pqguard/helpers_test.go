package pqguard

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// testLimits are ParquetLimits' shape with figures small enough to test.
var testLimits = Limits{
	MaxFileBytes:       1 << 30,
	MaxFooterBytes:     1 << 20,
	MaxMetadataAlloc:   16 << 20,
	MaxPageHeaderBytes: 64 << 10,
	MaxPageBytes:       1 << 20,
	MaxRowGroupRows:    4096,
}

// row has a column of each kind the dataset writes: dictionary strings,
// optional values, delta integers, plain numbers, delta-length strings.
type row struct {
	Name   string   `parquet:"name,dict"`
	Seq    int64    `parquet:"seq,delta"`
	Value  *float64 `parquet:"value,optional"`
	Region *string  `parquet:"region,optional,dict"`
	Note   *string  `parquet:"note,optional"`
	Port   int32    `parquet:"port"`
}

func rows(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{Name: fmt.Sprintf("endpoint-%d", i%3), Seq: int64(i), Port: 443}
		if i%4 != 0 {
			v := float64(i) * 1.5
			out[i].Value = &v
			r := "westeurope"
			out[i].Region = &r
		}
		if i%5 == 0 {
			note := fmt.Sprintf("error %d", i)
			out[i].Note = &note
		}
	}
	return out
}

// write returns a Parquet file of n rows written by parquet-go.
func write(t testing.TB, n int, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf, opts...)
	if _, err := w.Write(rows(n)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layout is a file taken apart: its metadata and, per column chunk in
// file order, its pages.
type layout struct {
	meta   format.FileMetaData
	chunks [][]page // [row group * columns + column]
}

type page struct {
	header format.PageHeader
	data   []byte
}

func parse(t testing.TB, file []byte) *layout {
	t.Helper()
	meta, err := Check(bytes.NewReader(file), int64(len(file)), testLimits)
	if err != nil {
		t.Fatalf("the unmodified file: %v", err)
	}
	l := &layout{meta: *meta}
	for _, g := range meta.RowGroups {
		for _, c := range g.Columns {
			md := c.MetaData
			start := md.DataPageOffset
			if md.DictionaryPageOffset != 0 {
				start = md.DictionaryPageOffset
			}
			b := file[start : start+md.TotalCompressedSize]
			var pages []page
			for len(b) > 0 {
				n, err := scanStruct(b, 1<<30)
				if err != nil {
					t.Fatal(err)
				}
				var p page
				if err := thrift.Unmarshal(new(thrift.CompactProtocol), b[:n], &p.header); err != nil {
					t.Fatal(err)
				}
				p.data = bytes.Clone(b[n : n+int(p.header.CompressedPageSize)])
				b = b[n+int(p.header.CompressedPageSize):]
				pages = append(pages, p)
			}
			l.chunks = append(l.chunks, pages)
		}
	}
	return l
}

// encode lays the file out again, page headers as given (raw overrides a
// page's encoded header), offsets and sizes recomputed.
func (l *layout) encode(t testing.TB, raw map[[2]int][]byte) []byte {
	t.Helper()
	out := []byte("PAR1")
	meta := l.meta
	meta.RowGroups = append([]format.RowGroup(nil), l.meta.RowGroups...)
	k := 0
	for gi := range meta.RowGroups {
		g := &meta.RowGroups[gi]
		g.Columns = append([]format.ColumnChunk(nil), g.Columns...)
		for ci := range g.Columns {
			md := &g.Columns[ci].MetaData
			start := int64(len(out))
			hasDict := false
			for pi, p := range l.chunks[k] {
				if pi == 0 && p.header.Type == format.DictionaryPage {
					hasDict = true
				}
				if pi == 1 && hasDict || pi == 0 && !hasDict {
					md.DataPageOffset = int64(len(out))
				}
				h, ok := raw[[2]int{k, pi}]
				if !ok {
					var err error
					if h, err = thrift.Marshal(new(thrift.CompactProtocol), &p.header); err != nil {
						t.Fatal(err)
					}
				}
				out = append(out, h...)
				out = append(out, p.data...)
			}
			md.DictionaryPageOffset = 0
			if hasDict {
				md.DictionaryPageOffset = start
			}
			md.TotalCompressedSize = int64(len(out)) - start
			k++
		}
	}
	return appendFooter(t, out, &meta)
}

func appendFooter(t testing.TB, out []byte, meta *format.FileMetaData) []byte {
	t.Helper()
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), meta)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// column returns the index in l.chunks of the named column's chunk in
// row group 0.
func (l *layout) column(t testing.TB, name string) int {
	for i, c := range l.meta.RowGroups[0].Columns {
		if c.MetaData.PathInSchema[0] == name {
			return i
		}
	}
	t.Fatalf("no column %q", name)
	return 0
}

// firstData returns the index of the chunk's first data page.
func (l *layout) firstData(k int) int {
	if l.chunks[k][0].header.Type == format.DictionaryPage {
		return 1
	}
	return 0
}
