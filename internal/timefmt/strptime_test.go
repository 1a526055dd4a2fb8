package timefmt

import (
	"errors"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s not available: %v", name, err)
	}
	return l
}

func TestStrptime(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, layout, value string
		loc                 *time.Location
		want                string // RFC3339Nano in the parsed location
		wantN               int    // -1: whole value
		wantErr             bool
	}{
		{"ta-ollama json time", "%Y-%m-%dT%H:%M:%S.%3Q%z", "2025-10-02T15:27:04.627-0400", time.UTC, "2025-10-02T15:27:04.627-04:00", -1, false},
		{"%z with colon", "%Y-%m-%dT%H:%M:%S.%3Q%z", "2025-10-02T15:27:04.627-04:00", time.UTC, "2025-10-02T15:27:04.627-04:00", -1, false},
		{"%:z", "%Y-%m-%dT%H:%M:%S%:z", "2025-10-02T15:27:04+05:30", time.UTC, "2025-10-02T15:27:04+05:30", -1, false},
		{"%z Z", "%Y-%m-%dT%H:%M:%S%z", "2025-10-02T15:27:04Z", ny, "2025-10-02T15:27:04Z", -1, false},
		{"%z hours only", "%Y-%m-%d %H:%M:%S %z", "2025-10-02 15:27:04 +02", time.UTC, "2025-10-02T15:27:04+02:00", -1, false},
		{"%Ez minutes", "%F %T %Ez", "2025-10-02 15:27:04 -240", time.UTC, "2025-10-02T15:27:04-04:00", -1, false},
		{"%Ez positive", "%F %T %Ez", "2025-10-02 15:27:04 330", time.UTC, "2025-10-02T15:27:04+05:30", -1, false},
		{"%3Q truncates extra digits", "%H:%M:%S.%3Q", "15:27:04.627999", time.UTC, "2026-01-01T15:27:04.627Z", -1, false},
		{"%Q default millis", "%F %T.%Q", "2025-10-02 15:27:04.5", time.UTC, "2025-10-02T15:27:04.5Z", -1, false},
		{"%6N", "%F %T.%6N", "2025-10-02 15:27:04.123456", ny, "2025-10-02T15:27:04.123456-04:00", -1, false},
		{"%9N", "%F %T.%9N", "2025-10-02 15:27:04.123456789", ny, "2025-10-02T15:27:04.123456789-04:00", -1, false},
		{"%N default nanos", "%F %T.%N", "2025-10-02 15:27:04.000000001", time.UTC, "2025-10-02T15:27:04.000000001Z", -1, false},
		{"%f micros", "%F %T.%f", "2025-10-02 15:27:04.000123", time.UTC, "2025-10-02T15:27:04.000123Z", -1, false},
		{"no zone uses loc (EDT)", "%Y-%m-%d %H:%M:%S", "2025-09-30 20:07:26", ny, "2025-09-30T20:07:26-04:00", -1, false},
		{"no zone uses loc (EST)", "%Y-%m-%d %H:%M:%S", "2025-12-30 20:07:26", ny, "2025-12-30T20:07:26-05:00", -1, false},
		{"DST gap normalizes forward", "%Y-%m-%d %H:%M:%S", "2025-03-09 02:30:00", ny, "2025-03-09T03:30:00-04:00", -1, false},
		{"gin", "%Y/%m/%d - %H:%M:%S", "2025/09/30 - 20:07:26 | 200", ny, "2025-09-30T20:07:26-04:00", 21, false},
		{"apache", "%d/%b/%Y:%H:%M:%S %z", "30/Sep/2025:20:07:26 -0400", time.UTC, "2025-09-30T20:07:26-04:00", -1, false},
		{"%e and blank runs", "%b %e %H:%M:%S %Y", "Sep  3 20:07:26 2025", time.UTC, "2025-09-03T20:07:26Z", -1, false},
		{"full names", "%A, %B %d, %Y", "Tuesday, September 30, 2025", time.UTC, "2025-09-30T00:00:00Z", -1, false},
		{"case-insensitive month", "%d-%b-%Y", "30-SEP-2025", time.UTC, "2025-09-30T00:00:00Z", -1, false},
		{"12 AM", "%F %I:%M:%S %p", "2025-09-30 12:05:00 AM", time.UTC, "2025-09-30T00:05:00Z", -1, false},
		{"12 PM", "%F %I:%M:%S %p", "2025-09-30 12:05:00 PM", time.UTC, "2025-09-30T12:05:00Z", -1, false},
		{"1 pm", "%F %I:%M:%S %p", "2025-09-30 1:05:00 pm", time.UTC, "2025-09-30T13:05:00Z", -1, false},
		{"epoch", "%s", "1759276046", ny, "2025-09-30T19:47:26-04:00", -1, false},
		{"epoch with fraction", "%s.%3N", "1759276046.250", time.UTC, "2025-09-30T23:47:26.25Z", -1, false},
		{"epoch millis glued", "%s%3N", "1759276046123", time.UTC, "2025-09-30T23:47:26.123Z", -1, false},
		{"day of year leap", "%Y %j", "2024 366", time.UTC, "2024-12-31T00:00:00Z", -1, false},
		{"two-digit year 69", "%y-%m-%d", "69-01-01", time.UTC, "1969-01-01T00:00:00Z", -1, false},
		{"two-digit year 68", "%y-%m-%d", "68-01-01", time.UTC, "2068-01-01T00:00:00Z", -1, false},
		{"%D", "%D %T", "09/30/25 20:07:26", time.UTC, "2025-09-30T20:07:26Z", -1, false},
		{"%Z abbreviation", "%F %T %Z", "2025-09-30 20:07:26 EDT", time.UTC, "2025-09-30T20:07:26-04:00", -1, false},
		{"%Z UTC", "%F %T %Z", "2025-09-30 20:07:26 UTC", ny, "2025-09-30T20:07:26Z", -1, false},
		{"%Z IANA", "%F %T %Z", "2025-09-30 20:07:26 America/New_York", time.UTC, "2025-09-30T20:07:26-04:00", -1, false},
		{"%% literal", "%Y%%%m", "2025%09", time.UTC, "2025-09-01T00:00:00Z", -1, false},
		{"leading zeros optional", "%Y-%m-%d %H:%M:%S", "2025-9-3 7:05:09", time.UTC, "2025-09-03T07:05:09Z", -1, false},
		{"time only defaults year from now", "%H:%M", "07:05", time.UTC, "2026-01-01T07:05:00Z", -1, false},
		{"prefix consumed only", "%Y-%m-%d", "2025-09-30T20:07:26", time.UTC, "2025-09-30T00:00:00Z", 10, false},

		{"month 13", "%Y-%m-%d", "2025-13-01", time.UTC, "", 0, true},
		{"feb 30", "%Y-%m-%d", "2025-02-30", time.UTC, "", 0, true},
		{"day 366 non-leap", "%Y %j", "2025 366", time.UTC, "", 0, true},
		{"literal mismatch", "%Y-%m-%d", "2025/09/30", time.UTC, "", 0, true},
		{"short value", "%Y-%m-%d %H", "2025-09-30", time.UTC, "", 0, true},
		{"bad zone", "%F %T %z", "2025-09-30 20:07:26 +9999", time.UTC, "", 0, true},
		{"unknown zone name", "%F %T %Z", "2025-09-30 20:07:26 XYZ", time.UTC, "", 0, true},
		{"unsupported code", "%Y %q", "2025 x", time.UTC, "", 0, true},
		{"trailing percent", "%Y %", "2025 ", time.UTC, "", 0, true},
		{"%Ez out of range", "%F %T %Ez", "2025-10-02 15:27:04 9999", time.UTC, "", 0, true},
		{"bad ampm", "%I %p", "1 XM", time.UTC, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := strptimeAt(tc.layout, tc.value, tc.loc, now)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Strptime(%q, %q) = %v, want error", tc.layout, tc.value, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Strptime(%q, %q): %v", tc.layout, tc.value, err)
			}
			if s := got.Format(time.RFC3339Nano); s != tc.want {
				t.Errorf("Strptime(%q, %q) = %s, want %s", tc.layout, tc.value, s, tc.want)
			}
			wantN := tc.wantN
			if wantN < 0 {
				wantN = len(tc.value)
			}
			if n != wantN {
				t.Errorf("Strptime(%q, %q) consumed %d bytes, want %d", tc.layout, tc.value, n, wantN)
			}
		})
	}
}

func TestStrptimeErrNoMatch(t *testing.T) {
	_, _, err := Strptime("%Y-%m-%d", "nope", time.UTC)
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("err = %v, want ErrNoMatch", err)
	}
}

func TestStrptimeNilLocIsUTC(t *testing.T) {
	got, _, err := Strptime("%F %T", "2025-09-30 20:07:26", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Location() != time.UTC {
		t.Fatalf("location = %v, want UTC", got.Location())
	}
}
