package store

import (
	"encoding/binary"
	"math/bits"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Token filter of a block: a Bloom filter over the lower-cased segments of every _raw, so that a
// search term whose segments a block does not hold skips the block without decompressing it
// (Splunk keeps one per bucket, VictoriaLogs one per block and column).

// Splunk's default segmenters.conf breakers: a segment is a maximal run of other bytes. Search
// terms match whole segments, so the filter and the search must split text the same way.
var breakers = func() (b [256]bool) {
	for _, c := range " \t\n\r[]<>(){}|!;,'\"*&?+/:=@.-$#%\\_" {
		b[c] = true
	}
	return
}()

// IsBreaker reports whether c separates segments (Splunk's default breakers).
func IsBreaker(c byte) bool { return breakers[c] }

const (
	bloomBitsPerToken = 10
	bloomHashes       = 5
)

// tokenSet collects the distinct segment hashes of a block.
type tokenSet struct {
	slots []uint64 // open addressing; 0 marks an empty slot
	n     int
	lower []byte
	out   []uint64
}

func (t *tokenSet) reset(hint int) {
	size := 1024
	for size < 2*hint {
		size <<= 1
	}
	if cap(t.slots) >= size {
		t.slots = t.slots[:size]
		clear(t.slots)
	} else {
		t.slots = make([]uint64, size)
	}
	t.n = 0
}

func (t *tokenSet) add(h uint64) {
	if h == 0 {
		h = 1
	}
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.slots = make([]uint64, 2*len(old))
		t.n = 0
		for _, x := range old {
			if x != 0 {
				t.add(x)
			}
		}
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.slots[i] {
		case h:
			return
		case 0:
			t.slots[i] = h
			t.n++
			return
		}
	}
}

// addText adds the segments of s, lower-cased.
func (t *tokenSet) addText(s string) {
	b := lowerASCII(t.lower[:0], s)
	t.lower = b
	start := -1
	for i := 0; i <= len(b); i++ {
		if i < len(b) && !breakers[b[i]] {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			t.add(xxhash.Sum64(b[start:i]))
			start = -1
		}
	}
}

// lowerASCII appends s lower-cased to dst; text with non-ASCII letters goes through
// strings.ToLower so that it lower-cases exactly as the search does.
func lowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(dst, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func (t *tokenSet) hashes() []uint64 {
	out := t.out[:0]
	for _, h := range t.slots {
		if h != 0 {
			out = append(out, h)
		}
	}
	t.out = out
	return out
}

// buildBloom appends the filter of hashes to dst (words).
func buildBloom(dst []uint64, hashes []uint64) []uint64 {
	if len(hashes) == 0 {
		return dst
	}
	// A power of two of words lets a mask replace the division per probe.
	words := 1
	for words*64 < len(hashes)*bloomBitsPerToken {
		words <<= 1
	}
	for range words {
		dst = append(dst, 0)
	}
	mask := uint64(words*64 - 1)
	for _, h := range hashes {
		h1, h2 := h, bits.RotateLeft64(h, 32)|1
		for i := uint64(0); i < bloomHashes; i++ {
			b := (h1 + i*h2) & mask
			dst[b>>6] |= 1 << (b & 63)
		}
	}
	return dst
}

// bloomHas reports whether the filter (little-endian words) may hold token (lower-cased
// segment). An empty filter answers yes.
func bloomHas(filter []byte, token string) bool {
	words := uint64(len(filter) / 8)
	if words == 0 {
		return true
	}
	h := xxhash.Sum64String(token)
	if h == 0 {
		h = 1
	}
	if words&(words-1) != 0 {
		return true // not a filter this code wrote
	}
	mask := words*64 - 1
	h1, h2 := h, bits.RotateLeft64(h, 32)|1
	for i := uint64(0); i < bloomHashes; i++ {
		b := (h1 + i*h2) & mask
		if binary.LittleEndian.Uint64(filter[(b>>6)*8:])&(1<<(b&63)) == 0 {
			return false
		}
	}
	return true
}

// TermFilter decides from a block's token filter whether the block may hold a matching event.
// has reports whether the block may contain a lower-cased segment; it answers yes for blocks
// without a filter. A nil TermFilter keeps every block.
type TermFilter interface {
	MayMatch(has func(token string) bool) bool
}
