package timefmt

import (
	"testing"
	"time"
)

// FuzzStrptime checks that any layout and value pair neither panics nor reports more bytes
// consumed than the value has, and that Strftime accepts any layout.
func FuzzStrptime(f *testing.F) {
	f.Add("%Y-%m-%dT%H:%M:%S.%3Q%z", "2025-10-02T15:27:04.627-0400")
	f.Add("%b %e %H:%M:%S %Z %Y", "Sep  3 20:07:26 EDT 2025")
	f.Add("%s%3N", "1759276046123")
	f.Add("%:::z%%%9N%j%p", "+05%123456789366PM")
	f.Fuzz(func(t *testing.T, layout, value string) {
		_, n, err := Strptime(layout, value, time.UTC)
		if err == nil && (n < 0 || n > len(value)) {
			t.Fatalf("Strptime(%q, %q) consumed %d of %d bytes", layout, value, n, len(value))
		}
		_ = Strftime(time.Unix(1759276046, 123456789), layout)
	})
}

// FuzzParseModifier checks that no modifier text panics.
func FuzzParseModifier(f *testing.F) {
	for _, s := range []string{"-70m@m", "@w1", "-1d@d+8h", "09/30/2025:20:07:26", "1759276046.5", "rt-5m", "@q-1mon"} {
		f.Add(s)
	}
	now := time.Date(2025, 10, 1, 14, 37, 12, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseModifier(s, now, time.UTC)
		_, _ = RelativeTime(now, s, time.UTC)
	})
}
