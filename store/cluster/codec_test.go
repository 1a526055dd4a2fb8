package cluster

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/store"
)

func TestChunkRoundTrip(t *testing.T) {
	evs := []store.Event{
		{Time: -5, Received: 7, Index: "main", Sourcetype: "ollama:server", Source: "s", Host: "h", Raw: "ünïcode ✓\nline 2",
			Fields: []store.Field{{Name: "a", Values: []string{"1", "", "3"}}, {Name: "empty"}}},
		{Time: 1 << 62, Raw: ""},
		{Raw: strings.Repeat("x", 600)},
		{Raw: strings.Repeat("y", 600)},
	}
	for _, tc := range []struct {
		limit, parts int
	}{{1 << 20, 1}, {900, 2}, {700, 3}} {
		parts, err := chunkEvents(evs, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != tc.parts {
			t.Fatalf("limit %d: %d parts, want %d", tc.limit, len(parts), tc.parts)
		}
		var got []store.Event
		for _, p := range parts {
			if len(p) > tc.limit {
				t.Fatalf("part of %d bytes over the limit %d", len(p), tc.limit)
			}
			if got, err = decodeEvents(got, p); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(got, evs) {
			t.Fatalf("limit %d: round trip\n got %+v\nwant %+v", tc.limit, got, evs)
		}
	}
	if _, err := chunkEvents(evs, 300); err == nil {
		t.Fatal("an event larger than a message must be refused")
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	parts, _ := chunkEvents([]store.Event{{Raw: "abc", Fields: []store.Field{{Name: "f", Values: []string{"v"}}}}}, 1<<20)
	good := parts[0]
	for name, b := range map[string][]byte{
		"empty":          nil,
		"version":        append([]byte{0x09}, good[1:]...),
		"truncated":      good[:len(good)-2],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"huge count":     {batchV1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := decodeEvents(nil, b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// Log messages are bounded input: no length in them may make the decoder allocate more than
// the message holds, or panic.
func FuzzDecodeEvents(f *testing.F) {
	parts, _ := chunkEvents([]store.Event{{Raw: "abc", Index: "main", Fields: []store.Field{{Name: "f", Values: []string{"v", "w"}}}}}, 1<<20)
	f.Add(parts[0])
	f.Add([]byte{batchV1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := decodeEvents(nil, b)
		if err != nil {
			return
		}
		again, err := chunkEvents(evs, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		var back []store.Event
		for _, p := range again {
			if back, err = decodeEvents(back, p); err != nil {
				t.Fatal(err)
			}
		}
		if len(back) != len(evs) {
			t.Fatalf("re-encoded %d events, decoded %d", len(evs), len(back))
		}
	})
}
