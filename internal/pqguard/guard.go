// Package pqguard checks the structure of an untrusted Parquet file before
// parquet-go reads it, so that a corrupt or hostile file is refused with an
// error instead of exhausting memory.
//
// parquet-go (v0.32.0) allocates what a file claims before reading it: a
// Thrift length or list count of up to 2^31 in the footer or a page
// header, a page of compressed_page_size bytes, the length a Snappy block
// declares, a run of up to 2^31 values in a run-length encoded page, the
// value count of a delta-encoded page. Allocations of gigabytes end in the
// runtime's fatal out-of-memory error, which no recover catches. Check
// walks the footer and every page of every column chunk and verifies each
// such figure against the bytes actually present and against Limits, with
// memory bounded by one page.
//
// It accepts the subset of Parquet that a flat schema written by
// parquet-go uses: no nested or repeated columns, no encryption, no
// external column files, SNAPPY or no compression, data pages v1 and v2,
// PLAIN, dictionary (RLE_DICTIONARY, PLAIN_DICTIONARY), DELTA_BINARY_PACKED
// and DELTA_LENGTH_BYTE_ARRAY value encodings, and RLE definition levels. Anything
// else is refused with ErrUnsupported.
package pqguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

var (
	// ErrMalformed marks a file whose structure is inconsistent: a length
	// beyond the bytes present, a count that disagrees with another, an
	// unknown Thrift type.
	ErrMalformed = errors.New("malformed Parquet file")
	// ErrLimit marks a file beyond one of the Limits.
	ErrLimit = errors.New("Parquet file beyond the reader's limits")
	// ErrUnsupported marks a Parquet feature outside the subset checked.
	ErrUnsupported = errors.New("unsupported Parquet feature")
)

// Limits bound what a file may make its reader allocate.
type Limits struct {
	// MaxFileBytes bounds the file's size.
	MaxFileBytes int64
	// MaxFooterBytes bounds the encoded file metadata.
	MaxFooterBytes int64
	// MaxMetadataAlloc bounds what decoding the file metadata may
	// allocate, as estimated by the Thrift check.
	MaxMetadataAlloc int64
	// MaxPageHeaderBytes bounds one encoded page header.
	MaxPageHeaderBytes int
	// MaxPageBytes bounds a page's uncompressed size.
	MaxPageBytes int32
	// MaxRowGroupRows bounds the rows of one row group, and so the values
	// of any page.
	MaxRowGroupRows int64
}

// Check verifies the Parquet file r of size bytes against lim and returns
// its decoded metadata. An error wraps ErrMalformed, ErrLimit or
// ErrUnsupported, or is the reader's.
func Check(r io.ReaderAt, size int64, lim Limits) (*format.FileMetaData, error) {
	footer, err := readFooter(r, size, lim)
	if err != nil {
		return nil, err
	}
	n, err := scanStruct(footer, lim.MaxMetadataAlloc)
	if errors.Is(err, errTruncated) {
		return nil, fmt.Errorf("%w: file metadata: %w", ErrMalformed, err)
	}
	if err != nil {
		return nil, fmt.Errorf("file metadata: %w", err)
	}
	if n != len(footer) {
		return nil, fmt.Errorf("%w: %d bytes after the file metadata", ErrMalformed, len(footer)-n)
	}
	meta := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, meta); err != nil {
		return nil, fmt.Errorf("%w: file metadata: %w", ErrMalformed, err)
	}
	leaves, err := flatLeaves(meta.Schema)
	if err != nil {
		return nil, err
	}
	c := checker{r: r, lim: lim}
	if err := c.rowGroups(meta, leaves, size-8-int64(len(footer))); err != nil {
		return nil, err
	}
	return meta, nil
}

func readFooter(r io.ReaderAt, size int64, lim Limits) ([]byte, error) {
	if size < 12 {
		return nil, fmt.Errorf("%w: %d bytes is too short for a Parquet file", ErrMalformed, size)
	}
	if size > lim.MaxFileBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrLimit, size, lim.MaxFileBytes)
	}
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, err
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return nil, fmt.Errorf("%w: no magic number (PAR1) at its start and end", ErrMalformed)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return nil, fmt.Errorf("%w: file metadata of %d bytes in a file of %d", ErrMalformed, n, size)
	}
	if n > lim.MaxFooterBytes {
		return nil, fmt.Errorf("%w: file metadata of %d bytes, more than %d", ErrLimit, n, lim.MaxFooterBytes)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return footer, nil
}

// leaf is one column of a flat schema.
type leaf struct {
	name     string
	typ      format.Type
	optional bool
}

func flatLeaves(schema []format.SchemaElement) ([]leaf, error) {
	if len(schema) < 2 {
		return nil, fmt.Errorf("%w: a schema of %d elements", ErrMalformed, len(schema))
	}
	root := schema[0]
	if !root.NumChildren.Valid || int(root.NumChildren.V) != len(schema)-1 {
		return nil, fmt.Errorf("%w: a nested schema", ErrUnsupported)
	}
	leaves := make([]leaf, 0, len(schema)-1)
	for _, e := range schema[1:] {
		if e.NumChildren.Valid && e.NumChildren.V != 0 || !e.Type.Valid {
			return nil, fmt.Errorf("%w: a nested schema (column %q)", ErrUnsupported, e.Name)
		}
		l := leaf{name: e.Name, typ: e.Type.V}
		switch {
		case !e.RepetitionType.Valid || e.RepetitionType.V == format.Required:
		case e.RepetitionType.V == format.Optional:
			l.optional = true
		default:
			return nil, fmt.Errorf("%w: repeated column %q", ErrUnsupported, e.Name)
		}
		leaves = append(leaves, l)
	}
	return leaves, nil
}

type checker struct {
	r   io.ReaderAt
	lim Limits
	// buffers reused from page to page
	raw, data []byte
}

type span struct{ start, end int64 }

func (c *checker) rowGroups(meta *format.FileMetaData, leaves []leaf, dataEnd int64) error {
	if meta.NumRows < 0 {
		return fmt.Errorf("%w: %d rows", ErrMalformed, meta.NumRows)
	}
	var rows int64
	var spans []span
	for gi, g := range meta.RowGroups {
		if g.NumRows < 0 || g.NumRows > c.lim.MaxRowGroupRows {
			return fmt.Errorf("%w: row group %d has %d rows, the limit is %d", ErrLimit, gi, g.NumRows, c.lim.MaxRowGroupRows)
		}
		rows += g.NumRows
		if len(g.Columns) != len(leaves) {
			return fmt.Errorf("%w: row group %d has %d columns, the schema %d", ErrMalformed, gi, len(g.Columns), len(leaves))
		}
		for ci := range g.Columns {
			s, err := c.chunk(&g.Columns[ci], leaves[ci], g.NumRows, dataEnd)
			if err != nil {
				return fmt.Errorf("row group %d, column %q: %w", gi, leaves[ci].name, err)
			}
			spans = append(spans, s)
		}
	}
	if rows != meta.NumRows {
		return fmt.Errorf("%w: row groups hold %d rows, the file metadata says %d", ErrMalformed, rows, meta.NumRows)
	}
	// Column chunks may not share bytes: pages read twice would let a small
	// file stand for any number of rows.
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return fmt.Errorf("%w: column chunks overlap at byte %d", ErrMalformed, spans[i].start)
		}
	}
	return nil
}

func (c *checker) chunk(cc *format.ColumnChunk, l leaf, rows, dataEnd int64) (span, error) {
	md := &cc.MetaData
	switch {
	case cc.FilePath != "":
		return span{}, fmt.Errorf("%w: column data in another file", ErrUnsupported)
	case len(cc.EncryptedColumnMetadata) > 0:
		return span{}, fmt.Errorf("%w: encrypted column", ErrUnsupported)
	case md.Codec != format.Uncompressed && md.Codec != format.Snappy:
		return span{}, fmt.Errorf("%w: compression %s", ErrUnsupported, md.Codec)
	case len(md.PathInSchema) != 1 || md.PathInSchema[0] != l.name:
		return span{}, fmt.Errorf("%w: column path %q", ErrMalformed, md.PathInSchema)
	case md.Type != l.typ:
		return span{}, fmt.Errorf("%w: column of type %s, the schema says %s", ErrMalformed, md.Type, l.typ)
	case md.NumValues != rows:
		return span{}, fmt.Errorf("%w: %d values in a row group of %d rows", ErrMalformed, md.NumValues, rows)
	}
	// Where parquet-go starts reading the chunk.
	start := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		start = md.DictionaryPageOffset
	}
	if start < 4 || md.TotalCompressedSize <= 0 || md.TotalCompressedSize > dataEnd-start {
		return span{}, fmt.Errorf("%w: column chunk of %d bytes at byte %d, the pages end at byte %d",
			ErrMalformed, md.TotalCompressedSize, start, dataEnd)
	}
	s := span{start, start + md.TotalCompressedSize}
	if md.DataPageOffset < s.start || md.DataPageOffset >= s.end {
		return span{}, fmt.Errorf("%w: data pages at byte %d, outside the column chunk", ErrMalformed, md.DataPageOffset)
	}
	return s, c.pages(s, l, md.Codec, rows)
}

// pages walks the pages of one column chunk, as parquet-go will read them.
func (c *checker) pages(s span, l leaf, codec format.CompressionCodec, rows int64) error {
	var values int64
	dictionary := false
	for off, i := s.start, 0; off < s.end; i++ {
		h, hlen, err := c.header(off, s.end)
		if err != nil {
			return fmt.Errorf("page %d: %w", i, err)
		}
		if err := c.page(h, off+int64(hlen), s.end, l, codec, rows-values, i, &dictionary); err != nil {
			return fmt.Errorf("page %d: %w", i, err)
		}
		switch h.Type {
		case format.DataPage:
			values += int64(h.DataPageHeader.V.NumValues)
		case format.DataPageV2:
			values += int64(h.DataPageHeaderV2.V.NumValues)
		}
		off += int64(hlen) + int64(h.CompressedPageSize)
	}
	if values != rows {
		return fmt.Errorf("%w: pages hold %d values, the row group %d rows", ErrMalformed, values, rows)
	}
	return nil
}

// header reads and checks the page header at off, reading a window that
// grows until the header fits, up to MaxPageHeaderBytes.
func (c *checker) header(off, end int64) (*format.PageHeader, int, error) {
	max := min(int64(c.lim.MaxPageHeaderBytes), end-off)
	for w := min(int64(256), max); ; w = min(4*w, max) {
		if int64(cap(c.raw)) < w {
			c.raw = make([]byte, w)
		}
		b := c.raw[:w]
		if _, err := c.r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		// A page header holds a few structs and its statistics' values.
		n, err := scanStruct(b, 2*int64(c.lim.MaxPageHeaderBytes)+64*structCost)
		if errors.Is(err, errTruncated) {
			if w < max {
				continue
			}
			if max < end-off {
				return nil, 0, fmt.Errorf("%w: header longer than %d bytes", ErrLimit, max)
			}
			return nil, 0, fmt.Errorf("%w: header: %w", ErrMalformed, err)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("header: %w", err)
		}
		h := new(format.PageHeader)
		if err := thrift.Unmarshal(new(thrift.CompactProtocol), b[:n], h); err != nil {
			return nil, 0, fmt.Errorf("%w: header: %w", ErrMalformed, err)
		}
		return h, n, nil
	}
}

// page checks one page whose payload starts at off; left is the number of
// values the row group still needs.
func (c *checker) page(h *format.PageHeader, off, end int64, l leaf, codec format.CompressionCodec, left int64, index int, dictionary *bool) error {
	size, usize := int64(h.CompressedPageSize), h.UncompressedPageSize
	switch {
	case size < 0 || size > end-off:
		return fmt.Errorf("%w: %d bytes with %d left in the column chunk", ErrMalformed, size, end-off)
	case usize < 0:
		return fmt.Errorf("%w: uncompressed size %d", ErrMalformed, usize)
	case usize > c.lim.MaxPageBytes:
		return fmt.Errorf("%w: uncompressed size %d, the limit is %d", ErrLimit, usize, c.lim.MaxPageBytes)
	case codec == format.Snappy && size > int64(snappy.MaxEncodedLen(int(usize))):
		return fmt.Errorf("%w: %d compressed bytes for %d", ErrMalformed, size, usize)
	}
	if int64(cap(c.raw)) < size {
		c.raw = make([]byte, size)
	}
	raw := c.raw[:size]
	if _, err := c.r.ReadAt(raw, off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	switch h.Type {
	case format.DictionaryPage:
		d := h.DictionaryPageHeader
		switch {
		case index != 0 || *dictionary:
			return fmt.Errorf("%w: a dictionary page after the first page", ErrMalformed)
		case !d.Valid:
			return fmt.Errorf("%w: dictionary page without its header", ErrMalformed)
		case d.V.Encoding != format.Plain && d.V.Encoding != format.PlainDictionary:
			return fmt.Errorf("%w: dictionary encoding %s", ErrUnsupported, d.V.Encoding)
		case d.V.NumValues < 0 || d.V.NumValues > usize:
			// A PLAIN value takes at least one byte.
			return fmt.Errorf("%w: dictionary of %d values in %d bytes", ErrMalformed, d.V.NumValues, usize)
		}
		*dictionary = true
		_, err := c.decompress(codec, raw, int(usize))
		return err
	case format.DataPage:
		d := h.DataPageHeader
		if !d.Valid {
			return fmt.Errorf("%w: data page without its header", ErrMalformed)
		}
		nv := int64(d.V.NumValues)
		if nv < 0 || nv > left {
			return fmt.Errorf("%w: %d values with %d rows left in the row group", ErrMalformed, nv, left)
		}
		if l.optional && d.V.DefinitionLevelEncoding != format.RLE {
			return fmt.Errorf("%w: definition levels encoded %s", ErrUnsupported, d.V.DefinitionLevelEncoding)
		}
		data, err := c.decompress(codec, raw, int(usize))
		if err != nil {
			return err
		}
		if l.optional {
			if len(data) < 4 {
				return fmt.Errorf("%w: no definition levels", ErrMalformed)
			}
			n := int64(binary.LittleEndian.Uint32(data))
			if n > int64(len(data)-4) {
				return fmt.Errorf("%w: definition levels of %d bytes in %d", ErrMalformed, n, len(data)-4)
			}
			if err := checkRLE(data[4:4+n], 1, nv); err != nil {
				return fmt.Errorf("definition levels: %w", err)
			}
			data = data[4+n:]
		}
		return checkValues(d.V.Encoding, l.typ, data, nv, *dictionary)
	case format.DataPageV2:
		d := h.DataPageHeaderV2
		if !d.Valid {
			return fmt.Errorf("%w: data page v2 without its header", ErrMalformed)
		}
		nv, levels := int64(d.V.NumValues), int64(d.V.DefinitionLevelsByteLength)
		switch {
		case nv < 0 || nv > left:
			return fmt.Errorf("%w: %d values with %d rows left in the row group", ErrMalformed, nv, left)
		case d.V.NumRows != d.V.NumValues || d.V.NumNulls < 0 || d.V.NumNulls > d.V.NumValues:
			return fmt.Errorf("%w: %d rows, %d values, %d nulls", ErrMalformed, d.V.NumRows, nv, d.V.NumNulls)
		case d.V.RepetitionLevelsByteLength != 0:
			return fmt.Errorf("%w: repetition levels in a flat column", ErrMalformed)
		case levels < 0 || levels > size || levels > int64(usize) || !l.optional && levels != 0:
			return fmt.Errorf("%w: definition levels of %d bytes", ErrMalformed, levels)
		}
		if l.optional {
			if err := checkRLE(raw[:levels], 1, nv); err != nil {
				return fmt.Errorf("definition levels: %w", err)
			}
		}
		if d.V.IsCompressed.Valid && !d.V.IsCompressed.V {
			codec = format.Uncompressed
		}
		data, err := c.decompress(codec, raw[levels:], int(int64(usize)-levels))
		if err != nil {
			return err
		}
		return checkValues(d.V.Encoding, l.typ, data, nv, *dictionary)
	}
	return fmt.Errorf("%w: page type %s", ErrUnsupported, h.Type)
}

// decompress returns the page's bytes, checking that they are as long as
// the header says before anything is allocated for them.
func (c *checker) decompress(codec format.CompressionCodec, raw []byte, usize int) ([]byte, error) {
	if codec == format.Uncompressed {
		if len(raw) != usize {
			return nil, fmt.Errorf("%w: %d bytes stored uncompressed, the header says %d", ErrMalformed, len(raw), usize)
		}
		return raw, nil
	}
	n, err := snappy.DecodedLen(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", ErrMalformed, err)
	}
	if n != usize {
		return nil, fmt.Errorf("%w: snappy block of %d bytes, the header says %d", ErrMalformed, n, usize)
	}
	if cap(c.data) < n {
		c.data = make([]byte, n)
	}
	out, err := snappy.Decode(c.data[:n], raw)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", ErrMalformed, err)
	}
	return out, nil
}

// checkValues checks the counts that parquet-go's decoders trust in the
// values of a data page of nv values.
func checkValues(enc format.Encoding, typ format.Type, data []byte, nv int64, dictionary bool) error {
	switch enc {
	case format.Plain:
		return nil // lengths are checked against the data as it is decoded
	case format.RLEDictionary, format.PlainDictionary:
		if !dictionary {
			return fmt.Errorf("%w: dictionary indexes without a dictionary page", ErrMalformed)
		}
		if len(data) == 0 {
			if nv == 0 {
				return nil
			}
			return fmt.Errorf("%w: no dictionary indexes", ErrMalformed)
		}
		if data[0] > 32 {
			return fmt.Errorf("%w: dictionary indexes of %d bits", ErrMalformed, data[0])
		}
		return checkRLE(data[1:], int(data[0]), nv)
	case format.DeltaBinaryPacked, format.DeltaLengthByteArray:
		// DELTA_LENGTH_BYTE_ARRAY: the lengths, delta-encoded, then the
		// bytes, whose total the decoder checks against the data.
		if (typ != format.Int32 && typ != format.Int64) != (enc == format.DeltaLengthByteArray) ||
			enc == format.DeltaLengthByteArray && typ != format.ByteArray {
			return fmt.Errorf("%w: %s on a %s column", ErrMalformed, enc, typ)
		}
		// The header: block size, mini blocks per block, total values.
		var total uint64
		for range 3 {
			v, n := binary.Uvarint(data)
			if n <= 0 {
				return fmt.Errorf("%w: delta header", ErrMalformed)
			}
			data, total = data[n:], v
		}
		if total > uint64(nv) {
			return fmt.Errorf("%w: delta block of %d values in a page of %d", ErrMalformed, total, nv)
		}
		return nil
	}
	return fmt.Errorf("%w: value encoding %s", ErrUnsupported, enc)
}

// checkRLE checks the run-length / bit-packed hybrid runs of b, of values
// width bits wide: their values may not exceed max (rounded up to whole
// groups of 8), nor their bytes those present.
func checkRLE(b []byte, width int, max int64) error {
	limit := (max + 7) &^ 7
	var total int64
	for len(b) > 0 {
		h, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: run header", ErrMalformed)
		}
		b = b[n:]
		count := h >> 1
		if count > math.MaxInt32 || int64(count) > limit-total {
			return fmt.Errorf("%w: runs of more than %d values in a page of %d", ErrMalformed, limit, max)
		}
		var bytes int
		if h&1 == 1 {
			total += 8 * int64(count)
			if total > limit {
				return fmt.Errorf("%w: runs of more than %d values in a page of %d", ErrMalformed, limit, max)
			}
			bytes = int(count) * width
		} else {
			total += int64(count)
			bytes = (width + 7) / 8
		}
		if bytes > len(b) {
			return fmt.Errorf("%w: run of %d bytes with %d left", ErrMalformed, bytes, len(b))
		}
		b = b[bytes:]
	}
	return nil
}
