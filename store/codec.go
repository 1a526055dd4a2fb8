package store

import (
	"encoding/binary"
	"errors"
	"math"
)

const codecV1 = 0x01

var errCorrupt = errors.New("corrupt value")

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendFields(dst []byte, fs []Field) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(fs)))
	for _, f := range fs {
		dst = appendStr(dst, f.Name)
		dst = binary.AppendUvarint(dst, uint64(len(f.Values)))
		for _, v := range f.Values {
			dst = appendStr(dst, v)
		}
	}
	return dst
}

// encodedEventSize is a close upper bound of the encoded value, used to size buffers and the queue.
func encodedEventSize(ev *Event) int {
	n := 1 + 10 + 3*binary.MaxVarintLen32 + len(ev.Source) + len(ev.Host) + len(ev.Raw) + binary.MaxVarintLen32
	for _, f := range ev.Fields {
		n += binary.MaxVarintLen32*2 + len(f.Name)
		for _, v := range f.Values {
			n += binary.MaxVarintLen32 + len(v)
		}
	}
	return n
}

func encodeEvent(dst []byte, ev *Event) []byte {
	dst = append(dst, codecV1)
	dst = binary.AppendVarint(dst, ev.Received)
	dst = appendStr(dst, ev.Source)
	dst = appendStr(dst, ev.Host)
	dst = appendStr(dst, ev.Raw)
	return appendFields(dst, ev.Fields)
}

// decoder reads the codec; the first error sticks and every later read returns zero values.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) float() float64 {
	if d.err || len(d.b) < 8 {
		d.err = true
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) fields() []Field {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	if n == 0 {
		return nil
	}
	fs := make([]Field, n)
	for i := range fs {
		fs[i].Name = d.str()
		nv := d.uvarint()
		if d.err || nv > uint64(len(d.b)) {
			d.err = true
			return nil
		}
		if nv > 0 {
			fs[i].Values = make([]string, nv)
			for j := range fs[i].Values {
				fs[i].Values[j] = d.str()
			}
		}
	}
	return fs
}

func (d *decoder) version() {
	if len(d.b) == 0 || d.b[0] != codecV1 {
		d.err = true
		return
	}
	d.b = d.b[1:]
}

func decodeEvent(b []byte, ev *Event) error {
	d := decoder{b: b}
	d.version()
	ev.Received = d.varint()
	ev.Source = d.str()
	ev.Host = d.str()
	ev.Raw = d.str()
	ev.Fields = d.fields()
	if d.err {
		return errCorrupt
	}
	return nil
}

func encodeRisk(dst []byte, r *RiskEvent) []byte {
	dst = append(dst, codecV1)
	dst = binary.AppendVarint(dst, r.Time)
	dst = binary.AppendVarint(dst, r.Slot)
	dst = appendStr(dst, r.SearchName)
	dst = appendStr(dst, r.RiskObject)
	dst = appendStr(dst, r.RiskObjectType)
	dst = appendStr(dst, r.NormalizedRiskObject)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(r.RiskScore))
	return appendFields(dst, r.Fields)
}

func decodeRisk(b []byte, r *RiskEvent) error {
	d := decoder{b: b}
	d.version()
	r.Time = d.varint()
	r.Slot = d.varint()
	r.SearchName = d.str()
	r.RiskObject = d.str()
	r.RiskObjectType = d.str()
	r.NormalizedRiskObject = d.str()
	r.RiskScore = d.float()
	r.Fields = d.fields()
	if d.err {
		return errCorrupt
	}
	return nil
}

func encodeNotable(dst []byte, n *Notable) []byte {
	dst = append(dst, codecV1)
	dst = binary.AppendVarint(dst, n.Time)
	dst = binary.AppendVarint(dst, n.Slot)
	dst = appendStr(dst, n.Rule)
	dst = appendStr(dst, n.Object)
	dst = appendStr(dst, n.ObjectType)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(n.Score))
	return appendFields(dst, n.Fields)
}

func decodeNotable(b []byte, n *Notable) error {
	d := decoder{b: b}
	d.version()
	n.Time = d.varint()
	n.Slot = d.varint()
	n.Rule = d.str()
	n.Object = d.str()
	n.ObjectType = d.str()
	n.Score = d.float()
	n.Fields = d.fields()
	if d.err {
		return errCorrupt
	}
	return nil
}
