package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"
)

// Key prefixes; docs/store-layout.md is the reference.
const (
	prefixEvent         byte = 0x01 // v1, read only to migrate
	prefixStream        byte = 0x02
	prefixStreamRev     byte = 0x03
	prefixBlock         byte = 0x04
	prefixBlockCol      byte = 0x05
	prefixTombstone     byte = 0x06
	prefixRisk          byte = 0x10
	prefixRiskByObject  byte = 0x11
	prefixRiskBySearch  byte = 0x12
	prefixRiskBySlot    byte = 0x13
	prefixNotable       byte = 0x20
	prefixNotableBySlot byte = 0x21
	prefixRun           byte = 0x30
	prefixRunBySlot     byte = 0x31
	prefixMeta          byte = 0x40
	prefixCounter       byte = 0x7F
)

const (
	counterSeq = "seq"
	counterBid = "bid"
	// counterMergeBid numbers the blocks the merger writes, apart from the writer's, so that the
	// two never race on one high-water mark.
	counterMergeBid = "mbid"
	counterRid      = "rid"
	counterNid      = "nid"
	// counterApplied is the last replicated-log sequence applied (AppendApplied).
	counterApplied = "applied"
)

// sortableTime maps a signed timestamp to an unsigned one with the same order.
func sortableTime(ts int64) uint64 { return uint64(ts) ^ (1 << 63) }

func unsortableTime(u uint64) int64 { return int64(u ^ (1 << 63)) }

func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func appendLen16(dst []byte, s string) []byte {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func readLen16(b []byte) (val, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

func eventKey(dst []byte, stream uint32, ts int64, seq uint64) []byte {
	dst = append(dst, prefixEvent)
	dst = binary.BigEndian.AppendUint32(dst, stream)
	dst = binary.BigEndian.AppendUint64(dst, sortableTime(ts))
	return binary.BigEndian.AppendUint64(dst, seq)
}

func streamKey(st Stream) []byte {
	k := []byte{prefixStream}
	k = appendLen16(k, st.Index)
	return appendLen16(k, st.Sourcetype)
}

func streamRevKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixStreamRev}, id)
}

func streamRevValue(st Stream) []byte {
	return appendLen16(appendLen16(nil, st.Index), st.Sourcetype)
}

// suffixKey builds prefix · [len16 · name] · ts' · id; name is omitted when withName is false.
func suffixKey(prefix byte, withName bool, name string, ts int64, id uint64) []byte {
	k := make([]byte, 0, 1+2+len(name)+16)
	k = append(k, prefix)
	if withName {
		k = appendLen16(k, name)
	}
	k = binary.BigEndian.AppendUint64(k, sortableTime(ts))
	return binary.BigEndian.AppendUint64(k, id)
}

func namePrefix(prefix byte, name string) []byte {
	return appendLen16([]byte{prefix}, name)
}

func counterKey(name string) []byte { return append([]byte{prefixCounter}, name...) }

func getCounter(txn *badger.Txn, name string) (uint64, error) {
	item, err := txn.Get(counterKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read counter %s: %w", name, err)
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("corrupt counter %s", name)
		}
		v = be64(b)
		return nil
	})
	return v, err
}

func counterEntry(name string, v uint64) *badger.Entry {
	return badger.NewEntry(counterKey(name), binary.BigEndian.AppendUint64(nil, v))
}

// cursor encodes the 16-byte ts'·id suffix of the last returned entry.
func encodeCursor(suffix []byte) string {
	return base64.RawURLEncoding.EncodeToString(suffix)
}

func decodeCursor(c string) ([]byte, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("store: invalid cursor %q", c)
	}
	return b, nil
}
