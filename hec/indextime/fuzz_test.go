package indextime

import (
	"bytes"
	"testing"
	"time"
)

// FuzzRaw checks that line breaking and timestamp extraction never panic and never invent
// text: every event is a piece of the body, and together they are no longer than the body.
// Seeds live in testdata/fuzz/FuzzRaw.
func FuzzRaw(f *testing.F) {
	f.Add([]byte("[GIN] 2025/09/30 - 20:07:26 | 200 | 1.2ms | ::1 | POST \"/api/chat\"\nllama_model_loader: x\n"), uint16(0), uint8(0))
	props := `[ollama:server]
LINE_BREAKER = ([\r\n]+)
TIME_PREFIX = ^(?:\[GIN\]\s+|time=)
MAX_TIMESTAMP_LOOKAHEAD = 50
TRUNCATE = 0
[multi]
LINE_BREAKER = ([\r\n]+)(?:\[GIN\]|time=|\d{4})
TRUNCATE = 0
[zero]
LINE_BREAKER = ()
TIME_FORMAT = %Y-%m-%dT%H:%M:%S.%3Q%z
TRUNCATE = 0
`
	p := newPipeline(f, props, "", 0)
	sourcetypes := []string{"ollama:server", "multi", "zero", "none"}
	now := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, truncate uint16, which uint8) {
		st := sourcetypes[int(which)%len(sourcetypes)]
		evs, err := p.Raw(body, Meta{Sourcetype: st}, now)
		if err != nil {
			t.Fatalf("Raw: %v", err)
		}
		total := 0
		for i, ev := range evs {
			total += len(ev.Raw)
			if ev.Raw == "" {
				t.Fatalf("event %d is empty", i)
			}
			if !bytes.Contains(body, []byte(ev.Raw)) {
				t.Fatalf("event %d %q is not part of the body", i, ev.Raw)
			}
			if ev.Time == 0 {
				t.Fatalf("event %d has no time", i)
			}
		}
		if total > len(body) {
			t.Fatalf("events hold %d bytes, body has %d", total, len(body))
		}
		// TRUNCATE bounds every event.
		if truncate > 0 {
			tp := newPipeline(t, "[st]\nTRUNCATE = "+itoa(int(truncate))+"\n", "", 0)
			evs, err := tp.Raw(body, Meta{Sourcetype: "st"}, now)
			if err != nil {
				t.Fatal(err)
			}
			for i, ev := range evs {
				if len(ev.Raw) > int(truncate) {
					t.Fatalf("event %d is %d bytes, TRUNCATE %d", i, len(ev.Raw), truncate)
				}
			}
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
