package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/klauspost/compress/s2"
)

// Event blocks (codec v2, docs/store-layout.md): the events of one stream, sorted by (_time,
// seq), in columns. One Badger value per block replaces the v1 key per event.

const codecV2 = 0x02

// Limits of one block. A block covers at most blockMaxSpan of _time so that a scan can seek to
// its earliest time minus that span and find every block that overlaps it; the other two keep a
// block around a couple of megabytes before compression, the size VictoriaLogs also settles on.
const (
	blockMaxRows  = 8192
	blockMaxBytes = 2 << 20
	blockMaxSpan  = int64(60 * 60 * 1e9)
)

const (
	compressNone = 0
	compressS2   = 1
)

// blockKeyLen is 0x04 · streamID(4) · tmin'(8) · bid(8) · tmax'(8).
const blockKeyLen = 29

// blockMeta is what a block key says about its block.
type blockMeta struct {
	sid        uint32
	tmin, tmax int64
	bid        uint64
}

func (m blockMeta) key() []byte {
	k := make([]byte, 0, blockKeyLen)
	k = append(k, prefixBlock)
	k = binary.BigEndian.AppendUint32(k, m.sid)
	k = binary.BigEndian.AppendUint64(k, sortableTime(m.tmin))
	k = binary.BigEndian.AppendUint64(k, m.bid)
	return binary.BigEndian.AppendUint64(k, sortableTime(m.tmax))
}

func parseBlockKey(k []byte) (blockMeta, bool) {
	if len(k) != blockKeyLen || k[0] != prefixBlock {
		return blockMeta{}, false
	}
	return blockMeta{
		sid:  be32(k[1:5]),
		tmin: unsortableTime(be64(k[5:13])),
		bid:  be64(k[13:21]),
		tmax: unsortableTime(be64(k[21:29])),
	}, true
}

// blockRow is one event on its way into a block.
type blockRow struct {
	ev  *Event
	seq uint64
}

// sortRows puts rows in (_time, seq) order; they usually arrive in order already.
func sortRows(rows []blockRow) {
	if slices.IsSortedFunc(rows, cmpRow) {
		return
	}
	slices.SortFunc(rows, cmpRow)
}

func cmpRow(a, b blockRow) int {
	switch {
	case a.ev.Time < b.ev.Time:
		return -1
	case a.ev.Time > b.ev.Time:
		return 1
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// cutBlocks splits rows (sorted) into runs that respect the block limits.
func cutBlocks(rows []blockRow, fn func([]blockRow)) {
	for len(rows) > 0 {
		n, bytes := 0, 0
		for n < len(rows) && n < blockMaxRows {
			if rows[n].ev.Time-rows[0].ev.Time >= blockMaxSpan {
				break
			}
			bytes += len(rows[n].ev.Raw)
			if bytes > blockMaxBytes && n > 0 {
				break
			}
			n++
		}
		fn(rows[:n])
		rows = rows[n:]
	}
}

// blockEncoder keeps scratch space from block to block (the writer and the merger own one each).
type blockEncoder struct {
	payload []byte
	hosts   dict
	sources dict
	names   dict
	tokens  tokenSet
	bloom   []uint64
}

// dict assigns small ids to the distinct values of a column.
type dict struct {
	ids  map[string]uint32
	vals []string
	// last remembers the previous lookup: consecutive rows usually repeat a value.
	last   string
	lastID uint32
	any    bool
}

func (d *dict) reset() {
	if d.ids == nil {
		d.ids = map[string]uint32{}
	}
	clear(d.ids)
	d.vals = d.vals[:0]
	d.any = false
}

func (d *dict) id(s string) uint32 {
	if d.any && s == d.last {
		return d.lastID
	}
	id, ok := d.ids[s]
	if !ok {
		id = uint32(len(d.vals))
		d.ids[s] = id
		d.vals = append(d.vals, s)
	}
	d.last, d.lastID, d.any = s, id, true
	return id
}

// encode appends the v2 encoding of rows (sorted by _time then seq, at most blockMaxRows) to dst
// and returns it with the block's time bounds.
func (e *blockEncoder) encode(dst []byte, rows []blockRow) (out []byte, tmin, tmax int64) {
	tmin, tmax = rows[0].ev.Time, rows[len(rows)-1].ev.Time
	seqMin := rows[0].seq
	for _, r := range rows {
		seqMin = min(seqMin, r.seq)
	}
	e.hosts.reset()
	e.sources.reset()
	e.names.reset()
	hostIdx := make([]uint32, len(rows))
	srcIdx := make([]uint32, len(rows))
	rawBytes := 0
	hasFields := false
	for i, r := range rows {
		hostIdx[i] = e.hosts.id(r.ev.Host)
		srcIdx[i] = e.sources.id(r.ev.Source)
		rawBytes += len(r.ev.Raw)
		for _, f := range r.ev.Fields {
			e.names.id(f.Name)
			hasFields = true
		}
	}
	p := e.payload[:0]
	p = slices.Grow(p, rawBytes+len(rows)*16)
	p = appendDict(p, e.hosts.vals)
	p = appendDict(p, e.sources.vals)
	prev := tmin
	for _, r := range rows {
		p = binary.AppendUvarint(p, uint64(r.ev.Time-prev))
		prev = r.ev.Time
	}
	for _, r := range rows {
		p = binary.AppendUvarint(p, r.seq-seqMin)
	}
	prev = tmin
	for _, r := range rows {
		p = binary.AppendVarint(p, r.ev.Received-prev)
		prev = r.ev.Received
	}
	for i := range rows {
		p = binary.AppendUvarint(p, uint64(hostIdx[i]))
	}
	for i := range rows {
		p = binary.AppendUvarint(p, uint64(srcIdx[i]))
	}
	if hasFields {
		p = appendDict(p, e.names.vals)
		for _, r := range rows {
			p = binary.AppendUvarint(p, uint64(len(r.ev.Fields)))
			for _, f := range r.ev.Fields {
				p = binary.AppendUvarint(p, uint64(e.names.id(f.Name)))
				p = binary.AppendUvarint(p, uint64(len(f.Values)))
				for _, v := range f.Values {
					p = appendStr(p, v)
				}
			}
		}
	} else {
		p = binary.AppendUvarint(p, 0)
	}
	for _, r := range rows {
		p = binary.AppendUvarint(p, uint64(len(r.ev.Raw)))
	}
	for _, r := range rows {
		p = append(p, r.ev.Raw...)
	}
	e.payload = p

	e.tokens.reset(len(rows) * 16)
	for _, r := range rows {
		e.tokens.addText(r.ev.Raw)
	}
	e.bloom = buildBloom(e.bloom[:0], e.tokens.hashes())

	dst = append(dst, codecV2)
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	dst = binary.AppendVarint(dst, tmin)
	dst = binary.AppendUvarint(dst, seqMin)
	dst = binary.AppendUvarint(dst, uint64(len(e.bloom)))
	for _, w := range e.bloom {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	dst = append(dst, compressS2)
	start := len(dst)
	dst = slices.Grow(dst, binary.MaxVarintLen64+s2.MaxEncodedLen(len(p)))
	// Leave room for the length, compress behind it, then move the length in front.
	comp := s2.Encode(dst[start+binary.MaxVarintLen64:cap(dst)], p)
	var lenBuf [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(lenBuf[:], uint64(len(comp)))
	dst = dst[:start+ln+len(comp)]
	copy(dst[start+ln:], comp)
	copy(dst[start:], lenBuf[:ln])
	return dst, tmin, tmax
}

func appendDict(dst []byte, vals []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	for _, v := range vals {
		dst = appendStr(dst, v)
	}
	return dst
}

// Block is one decoded block: the events of one stream, rows sorted by (Time, Seq). Strings
// share the block's decoded buffer; they are immutable, so callers may keep them.
type Block struct {
	// ID identifies the block until the merger rewrites it; field caches are keyed by it.
	ID     uint64
	Stream Stream
	Time   []int64
	// Seq is each event's arrival number: it orders events of equal _time, and with Stream and
	// Time it identifies the event (EventID).
	Seq      []uint64
	Received []int64
	Host     []string
	Source   []string
	Raw      []string
	// Fields holds each row's indexed fields; nil when no row has any.
	Fields [][]Field
	// Lo and Hi bound the rows a scan selected (time range, retention): rows outside [Lo, Hi)
	// are not part of the answer. Deleted marks rows removed by DeleteEvents; nil means none.
	Lo, Hi  int
	Deleted []uint64
	sid     uint32
}

// EventID identifies row i for DeleteEvents.
func (b *Block) EventID(i int) EventID { return EventID{stream: b.sid, time: b.Time[i], seq: b.Seq[i]} }

// Len is the number of rows in the block, selected or not.
func (b *Block) Len() int { return len(b.Time) }

// Live reports whether row i is selected and not deleted.
func (b *Block) Live(i int) bool {
	return i >= b.Lo && i < b.Hi && (b.Deleted == nil || b.Deleted[i>>6]&(1<<(i&63)) == 0)
}

// Event fills ev with row i.
func (b *Block) Event(i int, ev *Event) {
	*ev = Event{Time: b.Time[i], Index: b.Stream.Index, Sourcetype: b.Stream.Sourcetype,
		Source: b.Source[i], Host: b.Host[i], Raw: b.Raw[i], Received: b.Received[i], ID: b.EventID(i)}
	if b.Fields != nil {
		ev.Fields = b.Fields[i]
	}
}

// blockHeader is the uncompressed front of a block value.
type blockHeader struct {
	rows    int
	tmin    int64
	seqMin  uint64
	bloom   []byte // little-endian uint64 words; empty = no filter
	rawLen  int
	codec   byte
	payload []byte
}

var errBlockCorrupt = errors.New("corrupt event block")

func parseBlockHeader(v []byte) (blockHeader, error) {
	var h blockHeader
	if len(v) == 0 || v[0] != codecV2 {
		return h, errBlockCorrupt
	}
	d := decoder{b: v[1:]}
	rows := d.uvarint()
	h.tmin = d.varint()
	h.seqMin = d.uvarint()
	words := d.uvarint()
	if d.err || rows == 0 || rows > blockMaxRows*4 || words > uint64(len(d.b))/8 {
		return h, errBlockCorrupt
	}
	h.rows = int(rows)
	h.bloom = d.b[:words*8]
	d.b = d.b[words*8:]
	rawLen := d.uvarint()
	if d.err || len(d.b) < 1 || rawLen > 1<<31 {
		return h, errBlockCorrupt
	}
	h.rawLen = int(rawLen)
	h.codec = d.b[0]
	d.b = d.b[1:]
	n := d.uvarint()
	if d.err || n != uint64(len(d.b)) {
		return h, errBlockCorrupt
	}
	h.payload = d.b
	return h, nil
}

// decodeBlock decodes a block value. The result shares no memory with v.
func decodeBlock(v []byte, m blockMeta, st Stream) (*Block, error) {
	h, err := parseBlockHeader(v)
	if err != nil {
		return nil, err
	}
	var p []byte
	switch h.codec {
	case compressNone:
		p = slices.Clone(h.payload)
	case compressS2:
		if n, err := s2.DecodedLen(h.payload); err != nil || n != h.rawLen {
			return nil, errBlockCorrupt
		}
		p, err = s2.Decode(make([]byte, h.rawLen), h.payload)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBlockCorrupt, err)
		}
	default:
		return nil, errBlockCorrupt
	}
	n := h.rows
	b := &Block{ID: m.bid, Stream: st, sid: m.sid, Lo: 0, Hi: n,
		Time: make([]int64, n), Seq: make([]uint64, n), Received: make([]int64, n),
		Host: make([]string, n), Source: make([]string, n), Raw: make([]string, n)}
	// The payload is never written again, so strings may point into it.
	whole := unsafe.String(unsafe.SliceData(p), len(p))
	d := strDecoder{s: whole}
	hosts := d.dict()
	sources := d.dict()
	t := h.tmin
	for i := range n {
		t += int64(d.uvarint())
		b.Time[i] = t
	}
	for i := range n {
		b.Seq[i] = h.seqMin + d.uvarint()
	}
	r := h.tmin
	for i := range n {
		r += d.varint()
		b.Received[i] = r
	}
	for i := range n {
		if id := d.uvarint(); id < uint64(len(hosts)) {
			b.Host[i] = hosts[id]
		} else {
			d.err = true
		}
	}
	for i := range n {
		if id := d.uvarint(); id < uint64(len(sources)) {
			b.Source[i] = sources[id]
		} else {
			d.err = true
		}
	}
	if names := d.dict(); len(names) > 0 {
		b.Fields = make([][]Field, n)
		for i := range n {
			nf := d.uvarint()
			if d.err || nf > uint64(len(d.s)) {
				return nil, errBlockCorrupt
			}
			if nf == 0 {
				continue
			}
			fs := make([]Field, nf)
			for j := range fs {
				id := d.uvarint()
				nv := d.uvarint()
				if d.err || id >= uint64(len(names)) || nv > uint64(len(d.s)) {
					return nil, errBlockCorrupt
				}
				fs[j].Name = names[id]
				if nv > 0 {
					fs[j].Values = make([]string, nv)
					for k := range fs[j].Values {
						fs[j].Values[k] = strings.Clone(d.str())
					}
				}
			}
			b.Fields[i] = fs
		}
	}
	lens := make([]int, n)
	total := 0
	for i := range n {
		l := d.uvarint()
		if l > uint64(len(d.s)) {
			d.err = true
		}
		lens[i] = int(l)
		total += int(l)
	}
	if d.err || total != len(d.s) || t != m.tmax || b.Time[0] != m.tmin {
		return nil, errBlockCorrupt
	}
	off := 0
	for i := range n {
		b.Raw[i] = d.s[off : off+lens[i]]
		off += lens[i]
	}
	return b, nil
}

// strDecoder is decoder over a string, so that decoded strings are substrings, not copies.
type strDecoder struct {
	s   string
	err bool
}

func (d *strDecoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	var v uint64
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v | uint64(c)<<(7*i)
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	d.err = true
	return 0
}

func (d *strDecoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *strDecoder) str() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.s)) {
		d.err = true
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *strDecoder) dict() []string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.s)) {
		d.err = true
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		// Copied: a dictionary value (a host, a field name) often outlives the block in a
		// search's groups, and a substring would keep the whole decoded block alive.
		out[i] = strings.Clone(d.str())
	}
	return out
}
