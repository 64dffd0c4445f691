package pqguard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/format"
)

func TestStructCostCoversFormatStructs(t *testing.T) {
	for _, v := range []any{
		format.FileMetaData{}, format.SchemaElement{}, format.RowGroup{}, format.ColumnChunk{},
		format.ColumnMetaData{}, format.Statistics{}, format.PageHeader{}, format.DataPageHeader{},
		format.DataPageHeaderV2{}, format.DictionaryPageHeader{}, format.KeyValue{}, format.SortingColumn{},
		format.PageEncodingStats{}, format.ColumnOrder{}, format.LogicalType{}, format.SizeStatistics{},
		format.GeospatialStatistics{}, format.ColumnCryptoMetaData{}, format.EncryptionAlgorithm{},
	} {
		if n := reflect.TypeOf(v).Size(); n > structCost {
			t.Errorf("%T is %d bytes, structCost %d", v, n, structCost)
		}
	}
	if n := unsafe.Sizeof([]byte(nil)); n > binaryCost {
		t.Errorf("a slice is %d bytes, binaryCost %d", n, binaryCost)
	}
}

func TestCheckAcceptsParquetGoFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"defaults", nil},
		{"snappy, v1 pages", []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(1)}},
		{"snappy, v2 pages", []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(2)}},
		{"uncompressed, v1", []parquet.WriterOption{parquet.Compression(&uncompressed.Codec{}), parquet.DataPageVersion(1)}},
		{"many pages and row groups", []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(700)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := write(t, 3000, tc.opts...)
			meta, err := Check(bytes.NewReader(file), int64(len(file)), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if meta.NumRows != 3000 {
				t.Fatalf("%d rows", meta.NumRows)
			}
			// And parquet-go reads what Check passed.
			got, err := parquet.Read[row](bytes.NewReader(file), int64(len(file)))
			if err != nil || len(got) != 3000 {
				t.Fatalf("parquet-go read %d rows: %v", len(got), err)
			}
		})
	}
}

// hugeBinary is a page header whose statistics claim a max value of
// 2^31-1 bytes: what the fuzzer found parquet-go allocating gigabytes for.
func hugeBinary() []byte {
	return []byte{
		0x15, 0x00, // type: DATA_PAGE
		0x15, 0x02, // uncompressed_page_size 1
		0x15, 0x02, // compressed_page_size 1
		0x2c,       // data_page_header (field 5)
		0x15, 0x02, // num_values 1
		0x15, 0x00, 0x15, 0x06, 0x15, 0x06, // encodings
		0x1c,                               // statistics (field 5)
		0x18, 0xff, 0xff, 0xff, 0xff, 0x07, // max: 2^31-1 bytes
	}
}

func TestCheckRefuses(t *testing.T) {
	plain := []parquet.WriterOption{parquet.Compression(&uncompressed.Codec{}), parquet.DataPageVersion(1)}
	snappyV1 := []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(1)}
	for _, tc := range []struct {
		name   string
		opts   []parquet.WriterOption
		mutate func(t *testing.T, l *layout) []byte
		want   error
	}{
		{"page header claiming a 2 GiB statistic", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "port")
			return l.encode(t, map[[2]int][]byte{{k, 0}: hugeBinary()})
		}, ErrMalformed},
		{"page header with a list of 30,000 numbers", plain, func(t *testing.T, l *layout) []byte {
			h := []byte{0x15, 0x00, 0x15, 0x02, 0x15, 0x02, 0xc9, 0xf5} // field 15: a list of i32
			h = binary.AppendUvarint(h, 30000)
			h = append(h, make([]byte, 30000+1)...) // the numbers, then stop
			k := l.column(t, "port")
			return l.encode(t, map[[2]int][]byte{{k, 0}: h})
		}, ErrLimit},
		{"page larger than its column chunk", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "port")
			l.chunks[k][0].header.CompressedPageSize = 1 << 30
			l.chunks[k][0].header.UncompressedPageSize = 1 << 30
			return l.encode(t, nil)
		}, ErrMalformed},
		{"page beyond the size limit", snappyV1, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "port")
			l.chunks[k][0].header.UncompressedPageSize = testLimits.MaxPageBytes + 1
			return l.encode(t, nil)
		}, ErrLimit},
		{"snappy block longer than its page", snappyV1, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "port")
			p := &l.chunks[k][0]
			n, _ := snappy.DecodedLen(p.data)
			_, m := binary.Uvarint(p.data)
			p.data = append(binary.AppendUvarint(nil, uint64(n+1)), p.data[m:]...)
			p.header.CompressedPageSize = int32(len(p.data))
			return l.encode(t, nil)
		}, ErrMalformed},
		{"definition levels claiming 2^30 values", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "value")
			p := &l.chunks[k][l.firstData(k)]
			levels := binary.AppendUvarint(nil, 1<<31) // an RLE run of 2^30
			levels = append(levels, 1)
			data := binary.LittleEndian.AppendUint32(nil, uint32(len(levels)))
			data = append(data, levels...)
			n := binary.LittleEndian.Uint32(p.data)
			p.data = append(data, p.data[4+n:]...)
			p.header.CompressedPageSize = int32(len(p.data))
			p.header.UncompressedPageSize = int32(len(p.data))
			return l.encode(t, nil)
		}, ErrMalformed},
		{"dictionary indexes claiming 2^30 values", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "name")
			p := &l.chunks[k][l.firstData(k)]
			p.data = append([]byte{2}, binary.AppendUvarint(nil, 1<<31)...)
			p.data = append(p.data, 1)
			p.header.CompressedPageSize = int32(len(p.data))
			p.header.UncompressedPageSize = int32(len(p.data))
			return l.encode(t, nil)
		}, ErrMalformed},
		{"delta block of more values than the page", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "seq")
			p := &l.chunks[k][l.firstData(k)]
			var hdr []byte
			hdr = binary.AppendUvarint(hdr, 128)
			hdr = binary.AppendUvarint(hdr, 4)
			hdr = binary.AppendUvarint(hdr, 1<<31-1)
			p.data = append(hdr, p.data[len(hdr):]...)
			return l.encode(t, nil)
		}, ErrMalformed},
		{"dictionary of more values than bytes", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "name")
			l.chunks[k][0].header.DictionaryPageHeader.V.NumValues = 1 << 30
			return l.encode(t, nil)
		}, ErrMalformed},
		{"pages holding fewer values than rows", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "port")
			l.chunks[k][0].header.DataPageHeader.V.NumValues--
			return l.encode(t, nil)
		}, ErrMalformed},
		{"unsupported value encoding", plain, func(t *testing.T, l *layout) []byte {
			k := l.column(t, "port")
			l.chunks[k][0].header.DataPageHeader.V.Encoding = format.ByteStreamSplit
			return l.encode(t, nil)
		}, ErrUnsupported},
		{"row group beyond the row limit", plain, func(t *testing.T, l *layout) []byte {
			l.meta.RowGroups[0].NumRows = testLimits.MaxRowGroupRows + 1
			return l.encode(t, nil)
		}, ErrLimit},
		{"row groups disagreeing with the file's rows", plain, func(t *testing.T, l *layout) []byte {
			l.meta.NumRows++
			return l.encode(t, nil)
		}, ErrMalformed},
		{"column chunks sharing bytes", plain, func(t *testing.T, l *layout) []byte {
			file := l.encode(t, nil)
			body := file[:len(file)-8-int(binary.LittleEndian.Uint32(file[len(file)-8:]))]
			meta := parse(t, file).meta
			// The same row group twice: twice the rows from the same pages.
			meta.RowGroups = append(meta.RowGroups, meta.RowGroups[0])
			meta.NumRows *= 2
			return appendFooter(t, bytes.Clone(body), &meta)
		}, ErrMalformed},
		{"gzip compression", plain, func(t *testing.T, l *layout) []byte {
			l.meta.RowGroups[0].Columns[0].MetaData.Codec = format.Gzip
			return l.encode(t, nil)
		}, ErrUnsupported},
		{"column data in another file", plain, func(t *testing.T, l *layout) []byte {
			l.meta.RowGroups[0].Columns[0].FilePath = "other.parquet"
			return l.encode(t, nil)
		}, ErrUnsupported},
		{"repeated column", plain, func(t *testing.T, l *layout) []byte {
			l.meta.Schema[1].RepetitionType.V = format.Repeated
			return l.encode(t, nil)
		}, ErrUnsupported},
		{"footer claiming a 2 GiB key", plain, func(t *testing.T, l *layout) []byte {
			file := l.encode(t, nil)
			n := int(binary.LittleEndian.Uint32(file[len(file)-8:]))
			body := file[:len(file)-8-n]
			footer := []byte{0x15, 0x02, 0x19, 0x0c, 0x00, 0x15, 0x00, 0x19, 0x0c, 0x00,
				0x19, 0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00}
			out := append(bytes.Clone(body), footer...)
			out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
			return append(out, "PAR1"...)
		}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := parse(t, write(t, 1000, tc.opts...))
			file := tc.mutate(t, l)
			_, err := Check(bytes.NewReader(file), int64(len(file)), testLimits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckRefusesFrames(t *testing.T) {
	good := write(t, 10)
	tail := len(good) - 8
	for _, tc := range []struct {
		name string
		file []byte
		lim  Limits
		want error
	}{
		{"too short", []byte("PAR1PAR1"), testLimits, ErrMalformed},
		{"no magic at the end", append(bytes.Clone(good[:tail+4]), "PAR2"...), testLimits, ErrMalformed},
		{"footer longer than the file", append(append(bytes.Clone(good[:tail]), 0xff, 0xff, 0xff, 0x0f), "PAR1"...), testLimits, ErrMalformed},
		{"footer beyond the limit", good, Limits{MaxFileBytes: 1 << 30, MaxFooterBytes: 16}, ErrLimit},
		{"file beyond the limit", good, Limits{MaxFileBytes: 100}, ErrLimit},
		{"footer beyond the allocation budget", good, func() Limits { l := testLimits; l.MaxMetadataAlloc = 1000; return l }(), ErrLimit},
		{"page header beyond its limit", good, func() Limits { l := testLimits; l.MaxPageHeaderBytes = 8; return l }(), ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(bytes.NewReader(tc.file), int64(len(tc.file)), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestScanStruct(t *testing.T) {
	deep := bytes.Repeat([]byte{0x1c}, maxDepth+1) // struct in struct ...
	for _, tc := range []struct {
		name   string
		b      []byte
		budget int64
		want   error // nil: accepted
		n      int
	}{
		{"empty struct", []byte{0x00}, 1 << 20, nil, 1},
		{"i32, binary, bool, byte", []byte{0x15, 0x02, 0x18, 0x02, 'h', 'i', 0x11, 0x13, 0x7f, 0x00}, 1 << 20, nil, 10},
		{"list of three i32", []byte{0x19, 0x35, 0x02, 0x04, 0x06, 0x00}, 1 << 20, nil, 6},
		{"list of bools", []byte{0x19, 0x21, 0x01, 0x02, 0x00}, 1 << 20, nil, 5},
		{"map", []byte{0x1b, 0x01, 0x88, 0x01, 'k', 0x01, 'v', 0x00}, 1 << 20, nil, 8},
		{"long field id", []byte{0x05, 0x80, 0x02, 0x02, 0x00}, 1 << 20, nil, 5},
		{"binary of 2^31-1 bytes", []byte{0x18, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}, 1 << 20, errTruncated, 0},
		{"binary of 2^40 bytes", []byte{0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00}, 1 << 20, ErrMalformed, 0},
		{"list of 2^31-1 elements", []byte{0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}, 1 << 20, errTruncated, 0},
		{"map of 2^31-1 entries", []byte{0x1b, 0xff, 0xff, 0xff, 0xff, 0x07, 0x88, 0x00}, 1 << 20, errTruncated, 0},
		{"nesting too deep", append(deep, bytes.Repeat([]byte{0}, maxDepth+2)...), 1 << 20, ErrMalformed, 0},
		{"unknown type", []byte{0x1d, 0x00}, 1 << 20, ErrMalformed, 0},
		{"varint of 11 bytes", append([]byte{0x15}, bytes.Repeat([]byte{0xff}, 11)...), 1 << 20, ErrMalformed, 0},
		{"no stop", []byte{0x15, 0x02}, 1 << 20, errTruncated, 0},
		{"over budget", append([]byte{0x19, 0xfc, 0x80, 0x01}, bytes.Repeat([]byte{0x00}, 128)...), 100 * structCost, ErrLimit, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := scanStruct(tc.b, tc.budget)
			if tc.want == nil {
				if err != nil || n != tc.n {
					t.Fatalf("got %d, %v; want %d bytes", n, err, tc.n)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckRLE(t *testing.T) {
	run := func(count uint64, bitpacked bool) []byte {
		h := count << 1
		if bitpacked {
			h |= 1
		}
		return binary.AppendUvarint(nil, h)
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		width int
		max   int64
		ok    bool
	}{
		{"one run of 10", append(run(10, false), 1), 1, 10, true},
		{"bit-packed groups up to the next 8", append(run(2, true), 0, 0), 1, 10, true},
		{"runs beyond the values", append(run(17, false), 1), 1, 10, false},
		{"bit-packed beyond the values", append(run(3, true), 0, 0, 0), 1, 10, false},
		{"bit-packed bytes missing", run(2, true), 1, 16, false},
		{"run value missing", run(5, false), 8, 16, false},
		{"width 0, many runs", bytes.Repeat(run(4, false), 5), 0, 16, false},
		{"2^62 values", append(run(1<<62, false), 1), 1, 10, false},
		{"bad varint", bytes.Repeat([]byte{0xff}, 11), 1, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRLE(tc.b, tc.width, tc.max)
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
