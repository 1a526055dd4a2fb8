package cluster

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hecrisk/hecrisk/store"
)

// Event batches travel in the log in a compact binary form (JSON would cost more CPU than the
// Badger commit on the hot path): version byte, uvarint count, then per event
// varint(Time) · varint(Received) · str(Index) · str(Sourcetype) · str(Source) · str(Host) ·
// str(Raw) · uvarint(nFields) · {str(Name) · uvarint(nValues) · str(value)…}…, where str is
// uvarint(len) · bytes.
const batchV1 = 0x01

var errCorrupt = errors.New("corrupt event batch")

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// encodedSize is an upper bound of one event's encoded size.
func encodedSize(ev *store.Event) int {
	n := 2*binary.MaxVarintLen64 + 6*binary.MaxVarintLen32 + len(ev.Index) + len(ev.Sourcetype) + len(ev.Source) + len(ev.Host) + len(ev.Raw)
	for _, f := range ev.Fields {
		n += 2*binary.MaxVarintLen32 + len(f.Name)
		for _, v := range f.Values {
			n += binary.MaxVarintLen32 + len(v)
		}
	}
	return n
}

func appendEvent(dst []byte, ev *store.Event) []byte {
	dst = binary.AppendVarint(dst, ev.Time)
	dst = binary.AppendVarint(dst, ev.Received)
	dst = appendStr(dst, ev.Index)
	dst = appendStr(dst, ev.Sourcetype)
	dst = appendStr(dst, ev.Source)
	dst = appendStr(dst, ev.Host)
	dst = appendStr(dst, ev.Raw)
	dst = binary.AppendUvarint(dst, uint64(len(ev.Fields)))
	for _, f := range ev.Fields {
		dst = appendStr(dst, f.Name)
		dst = binary.AppendUvarint(dst, uint64(len(f.Values)))
		for _, v := range f.Values {
			dst = appendStr(dst, v)
		}
	}
	return dst
}

// chunkEvents encodes evs into batches of at most limit bytes each, in order. An event that
// alone exceeds limit is an error: it could never be published.
func chunkEvents(evs []store.Event, limit int) ([][]byte, error) {
	var out [][]byte
	var body []byte
	count := 0
	flush := func() {
		if count == 0 {
			return
		}
		b := make([]byte, 0, 1+binary.MaxVarintLen32+len(body))
		b = append(b, batchV1)
		b = binary.AppendUvarint(b, uint64(count))
		out = append(out, append(b, body...))
		body, count = body[:0], 0
	}
	for i := range evs {
		ev := &evs[i]
		size := encodedSize(ev)
		if size+1+binary.MaxVarintLen32 > limit {
			return nil, fmt.Errorf("event %d of the request is %d bytes encoded, more than one log message may hold (%d, the NATS server's max_payload)", i, size, limit)
		}
		if count > 0 && len(body)+size+1+binary.MaxVarintLen32 > limit {
			flush()
		}
		body = appendEvent(body, ev)
		count++
	}
	flush()
	return out, nil
}

// decoder reads the batch codec; every length is checked against the bytes left, so a
// damaged message cannot make it allocate more than the message holds.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items that take at least one byte each.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.bad {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// decodeEvents appends the events of one batch to dst.
func decodeEvents(dst []store.Event, b []byte) ([]store.Event, error) {
	if len(b) == 0 || b[0] != batchV1 {
		return dst, errCorrupt
	}
	d := decoder{b: b[1:]}
	n := d.count()
	for i := 0; i < n && !d.bad; i++ {
		ev := store.Event{Time: d.varint(), Received: d.varint()}
		ev.Index, ev.Sourcetype, ev.Source, ev.Host, ev.Raw = d.str(), d.str(), d.str(), d.str(), d.str()
		if nf := d.count(); nf > 0 {
			ev.Fields = make([]store.Field, nf)
			for j := range ev.Fields {
				f := &ev.Fields[j]
				f.Name = d.str()
				if nv := d.count(); nv > 0 {
					f.Values = make([]string, nv)
					for k := range f.Values {
						f.Values[k] = d.str()
					}
				}
			}
		}
		dst = append(dst, ev)
	}
	if d.bad || len(d.b) != 0 {
		return dst, errCorrupt
	}
	return dst, nil
}

// gzipThreshold is the JSON size above which a record message is compressed: risk events of a
// busy slot repeat field names thousands of times and shrink several-fold.
const gzipThreshold = 64 << 10

// maxRecordBytes bounds a decompressed record message.
const maxRecordBytes = 256 << 20

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func gunzipBytes(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxRecordBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxRecordBytes {
		return nil, fmt.Errorf("record message larger than %d bytes", maxRecordBytes)
	}
	return out, nil
}
