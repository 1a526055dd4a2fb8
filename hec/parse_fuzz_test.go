package hec

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// FuzzParseBatch checks invariants of the batch parser on arbitrary bodies: no panic, errors
// always carry a HEC code from the table, events returned before an error are exactly the
// prefix before invalid-event-number, and every event has a non-empty _raw.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{
		`{"event":"hello"}`,
		`{"event":"a"}{"event":"b"}`,
		"{\"event\":\"a\"}\n{\"time\":\"1700000000.5\",\"event\":{\"k\":[1,2]}}",
		`[{"event":"a"},{"event":"b","fields":{"x":["1","2"]}}]`,
		`{"event":"x","fields":{"a":{"b":1}}}`,
		`{"event":""}`,
		`{"host":"h"}`,
		`{"event":"a"},{"event":"b"}`,
		`{"time":1e400,"event":"x"}`,
		`[`,
		``,
		// Deeper than the fuzz options' depth limit (8), and far deeper than the default.
		`{"event":"ok"}{"event":{"a":[[[[[[[[[[1]]]]]]]]]]}}`,
		`[{"event":"ok"},[[[[[[[[[[[[`,
		`{"event":"x","fields":{"f":[[[[[[[[[["v"]]]]]]]]]]}}`,
		`{"event":` + strings.Repeat(`{"a":`, 30) + `1` + strings.Repeat(`}`, 30) + `}`,
		`{"event":"` + strings.Repeat(`[`, 30) + `"}`,
		strings.Repeat("[", 10_000),
	} {
		f.Add([]byte(s))
	}
	opts := testBatchOptions()
	opts.MaxEventSize = 1 << 10
	opts.MaxDepth = 8
	opts.AllowIndex = func(ix string) bool { return ix != "forbidden" }
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		b, err := ParseBatch(body, opts)
		if !bytes.Equal(orig, body) {
			t.Fatal("ParseBatch modified its input")
		}
		// Events must not alias the body: fiber reuses its buffers after the handler.
		before := fmt.Sprintf("%+v", b.Events)
		for i := range body {
			body[i] = '#'
		}
		if after := fmt.Sprintf("%+v", b.Events); after != before {
			t.Fatalf("events changed with the body buffer:\n%s\n%s", before, after)
		}
		if len(b.Events) != len(b.HasTime) {
			t.Fatalf("%d events but %d time flags", len(b.Events), len(b.HasTime))
		}
		for i, ev := range b.Events {
			if ev.Raw == "" {
				t.Fatalf("event %d has empty _raw", i)
			}
			if ev.Index == "forbidden" {
				t.Fatalf("event %d in a forbidden index", i)
			}
		}
		if err == nil {
			if len(b.Events) == 0 {
				t.Fatal("success without events")
			}
			return
		}
		if _, _, ok := codeInfo(err.Code); !ok {
			t.Fatalf("error code %d not in the HEC table", err.Code)
		}
		if err.tooDeep && len(b.Events) != 0 {
			t.Fatalf("a body refused for its depth returned %d events to store", len(b.Events))
		}
		if err.InvalidEvent != nil && !err.tooDeep && *err.InvalidEvent != len(b.Events) {
			t.Fatalf("invalid-event-number %d but %d events before it", *err.InvalidEvent, len(b.Events))
		}
	})
}

// batchBody builds n Ollama-like HEC events (about 300 bytes each, like §8 of the research).
func batchBody(n int) []byte {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, `{"time":%d.%03d,"host":"ollama-01","source":"/var/log/ollama/server.log","sourcetype":"ollama:server","index":"main","fields":{"env":"prod"},"event":"[GIN] 2025/11/15 - 20:24:%02d | 200 |   47.014µs |       127.0.0.1 | POST     \"/api/generate\" request %d"}`+"\n",
			1763238291+i, i%1000, i%60, i)
	}
	return []byte(sb.String())
}

func BenchmarkParseBatch100(b *testing.B) {
	body := batchBody(100)
	opts := BatchOptions{
		Defaults: Defaults{Index: "main", Host: "h", Source: "s", Sourcetype: "httpevent"},
		Now:      time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBatch(body, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}

// FuzzEventText checks the fast unquoting of event texts against the JSON decoder: whenever
// it takes a string, it must give what decoding gives.
func FuzzEventText(f *testing.F) {
	for _, s := range []string{`"plain"`, `"[GIN] | 200 | \"/api/generate\""`, `"tab\there\\\/"`, `"\u00e9"`, "\"ctl\x01\"", `"é"`, `"\"`, `"a\q"`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return
		}
		got, ok := unquoteASCII(nil, v[1:len(v)-1])
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatalf("%q: unquoted to %q but JSON refuses it: %v", v, got, err)
		}
		if string(got) != want {
			t.Fatalf("%q: unquoted to %q, JSON gives %q", v, got, want)
		}
	})
}
