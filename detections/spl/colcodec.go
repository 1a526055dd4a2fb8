package spl

import (
	"encoding/binary"
	"errors"
	"math"
	"unsafe"
)

// Encoding of a derived column (one Value per block row) as the store keeps it: a dictionary of
// the distinct strings, then one tag per row (null, number, string, multivalue) with dictionary
// ids. Columns of extracted fields repeat a few values, so they stay small.

const (
	colNull  = 0
	colNum   = 1
	colStr   = 2
	colMulti = 3
)

var errColumn = errors.New("spl: corrupt derived column")

func appendColumn(dst []byte, vals []Value) []byte {
	ids := map[string]uint32{}
	var dict []string
	id := func(s string) uint32 {
		if i, ok := ids[s]; ok {
			return i
		}
		i := uint32(len(dict))
		ids[s] = i
		dict = append(dict, s)
		return i
	}
	rows := make([]byte, 0, len(vals)*2)
	for _, v := range vals {
		switch v.k {
		case kStr:
			rows = append(rows, colStr)
			rows = binary.AppendUvarint(rows, uint64(id(v.s)))
		case kNum:
			rows = append(rows, colNum)
			rows = binary.LittleEndian.AppendUint64(rows, math.Float64bits(v.n))
		case kMulti:
			rows = append(rows, colMulti)
			rows = binary.AppendUvarint(rows, uint64(len(v.mv)))
			for _, s := range v.mv {
				rows = binary.AppendUvarint(rows, uint64(id(s)))
			}
		default:
			rows = append(rows, colNull)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	dst = binary.AppendUvarint(dst, uint64(len(dict)))
	for _, s := range dict {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return append(dst, rows...)
}

// columnReader decodes columns; decoded strings share one copy of the input.
type columnReader struct {
	s   string
	err bool
}

func newColumnReader(b []byte) *columnReader {
	c := string(b)
	return &columnReader{s: c}
}

func (r *columnReader) uvarint() uint64 {
	if r.err {
		return 0
	}
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		if c < 0x80 {
			r.s = r.s[i+1:]
			return v | uint64(c)<<(7*i)
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	r.err = true
	return 0
}

func (r *columnReader) str() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.s)) {
		r.err = true
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// column reads the next column; it must have want rows.
func (r *columnReader) column(want int) (dcol, error) {
	n := r.uvarint()
	nd := r.uvarint()
	if r.err || n != uint64(want) || nd > uint64(len(r.s)) {
		return dcol{}, errColumn
	}
	// dict[0] is null, dict[1+k] the k-th string; numbers and multivalues get entries as met.
	c := dcol{kind: colDict, ids: make([]uint32, n), dict: make([]Value, 1+nd, 1+nd+4)}
	strs := make([]string, nd)
	for i := range strs {
		strs[i] = r.str()
		c.dict[1+i] = Str(strs[i])
	}
	var nums map[uint64]uint32
	for i := range c.ids {
		if len(r.s) == 0 {
			return dcol{}, errColumn
		}
		tag := r.s[0]
		r.s = r.s[1:]
		switch tag {
		case colNull:
		case colNum:
			if len(r.s) < 8 {
				return dcol{}, errColumn
			}
			bits := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(r.s), 8))
			r.s = r.s[8:]
			if nums == nil {
				nums = map[uint64]uint32{}
			}
			id, ok := nums[bits]
			if !ok {
				id = uint32(len(c.dict))
				nums[bits] = id
				c.dict = append(c.dict, Num(math.Float64frombits(bits)))
			}
			c.ids[i] = id
		case colStr:
			id := r.uvarint()
			if id >= nd {
				return dcol{}, errColumn
			}
			c.ids[i] = uint32(1 + id)
		case colMulti:
			k := r.uvarint()
			if k < 2 || k > uint64(len(r.s)) {
				return dcol{}, errColumn
			}
			mv := make([]string, k)
			for j := range mv {
				id := r.uvarint()
				if id >= nd {
					return dcol{}, errColumn
				}
				mv[j] = strs[id]
			}
			c.ids[i] = uint32(len(c.dict))
			c.dict = append(c.dict, Value{k: kMulti, mv: mv})
		default:
			return dcol{}, errColumn
		}
	}
	if r.err {
		return dcol{}, errColumn
	}
	return c, nil
}

// decodeColumns reads k columns of n rows that were appended one after another.
func decodeColumns(b []byte, k, n int) ([]dcol, error) {
	r := newColumnReader(b)
	out := make([]dcol, k)
	for i := range out {
		var err error
		if out[i], err = r.column(n); err != nil {
			return nil, err
		}
	}
	if len(r.s) != 0 {
		return nil, errColumn
	}
	return out, nil
}

// appendBitmap / decodeBitmap store a per-row yes/no (keyword matches).
func appendBitmap(dst []byte, bits []uint64) []byte {
	for _, w := range bits {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	return dst
}

func decodeBitmap(b []byte, n int) ([]uint64, error) {
	words := (n + 63) / 64
	if len(b) != 8*words {
		return nil, errColumn
	}
	out := make([]uint64, words)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out, nil
}

// appendNames / decodeNames store a list of field names.
func appendNames(dst []byte, names []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, s := range names {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

func (r *columnReader) names() ([]string, error) {
	n := r.uvarint()
	if r.err || n > uint64(len(r.s)) {
		return nil, errColumn
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	if r.err {
		return nil, errColumn
	}
	return out, nil
}
