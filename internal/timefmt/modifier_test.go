package timefmt

import (
	"testing"
	"time"
)

func TestParseModifier(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// Wednesday 2025-10-01 14:37:12.5 EDT.
	now := time.Date(2025, 10, 1, 14, 37, 12, 500_000_000, ny)
	// Sunday 2025-03-09 12:00 EDT, the day clocks sprang forward at 02:00.
	springDay := time.Date(2025, 3, 9, 12, 0, 0, 0, ny)
	// 01:30 EST on 2025-11-02, the second pass through 01:xx after falling back.
	fallSecond := time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC).In(ny)
	fallFirst := time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC).In(ny)
	sunday := time.Date(2025, 9, 28, 9, 0, 0, 0, ny)
	tests := []struct {
		name, mod string
		now       time.Time
		loc       *time.Location
		want      string // RFC3339Nano in loc; "" means the zero Time
		wantErr   bool
	}{
		{"empty is no bound", "", now, ny, "", false},
		{"now", "now", now, ny, "2025-10-01T14:37:12.5-04:00", false},
		{"epoch zero", "0", now, ny, "1969-12-31T19:00:00-05:00", false},
		{"epoch seconds", "1759276046", now, time.UTC, "2025-09-30T23:47:26Z", false},
		{"epoch fraction", "1759276046.25", now, time.UTC, "2025-09-30T23:47:26.25Z", false},
		{"splunk default format", "09/30/2025:20:07:26", now, ny, "2025-09-30T20:07:26-04:00", false},
		{"splunk date only", "09/30/2025", now, ny, "2025-09-30T00:00:00-04:00", false},
		{"iso with zone", "2025-09-30T20:07:26.123-04:00", now, time.UTC, "2025-09-30T20:07:26.123-04:00", false},
		{"iso Z", "2025-09-30T20:07:26Z", now, ny, "2025-09-30T20:07:26Z", false},
		{"iso local", "2025-09-30T20:07:26", now, ny, "2025-09-30T20:07:26-04:00", false},
		{"iso date", "2025-09-30", now, ny, "2025-09-30T00:00:00-04:00", false},
		{"-70m@m", "-70m@m", now, ny, "2025-10-01T13:27:00-04:00", false},
		{"@h", "@h", now, ny, "2025-10-01T14:00:00-04:00", false},
		{"@s drops fraction", "@s", now, ny, "2025-10-01T14:37:12-04:00", false},
		{"-1h@h+5m chained", "-1h@h+5m", now, ny, "2025-10-01T13:05:00-04:00", false},
		{"-1d@d+8h", "-1d@d+8h", now, ny, "2025-09-30T08:00:00-04:00", false},
		{"@d", "@d", now, ny, "2025-10-01T00:00:00-04:00", false},
		{"+5m", "+5m", now, ny, "2025-10-01T14:42:12.5-04:00", false},
		{"missing amount is 1", "-h", now, ny, "2025-10-01T13:37:12.5-04:00", false},
		{"long unit names", "-2hours@minute", now, ny, "2025-10-01T12:37:00-04:00", false},
		{"secs", "-30secs", now, ny, "2025-10-01T14:36:42.5-04:00", false},
		{"weeks", "-1week", now, ny, "2025-09-24T14:37:12.5-04:00", false},
		{"@w0 sunday", "@w0", now, ny, "2025-09-28T00:00:00-04:00", false},
		{"@w same as @w0", "@w", now, ny, "2025-09-28T00:00:00-04:00", false},
		{"@w7 is sunday", "@w7", now, ny, "2025-09-28T00:00:00-04:00", false},
		{"@w1 monday", "@w1", now, ny, "2025-09-29T00:00:00-04:00", false},
		{"@w3 today", "@w3", now, ny, "2025-10-01T00:00:00-04:00", false},
		{"@w4 last week", "@w4", now, ny, "2025-09-25T00:00:00-04:00", false},
		{"@w0 on a sunday", "@w0", sunday, ny, "2025-09-28T00:00:00-04:00", false},
		{"@w1 on a sunday", "@w1", sunday, ny, "2025-09-22T00:00:00-04:00", false},
		{"@mon", "@mon", now, ny, "2025-10-01T00:00:00-04:00", false},
		{"-1mon@mon", "-1mon@mon", now, ny, "2025-09-01T00:00:00-04:00", false},
		{"@q", "@q", time.Date(2025, 8, 15, 10, 0, 0, 0, ny), ny, "2025-07-01T00:00:00-04:00", false},
		{"-1q@q", "-1qtr@q", now, ny, "2025-07-01T00:00:00-04:00", false},
		{"@y", "@y", now, ny, "2025-01-01T00:00:00-05:00", false},
		{"-1y@y", "-1yr@y", now, ny, "2024-01-01T00:00:00-05:00", false},
		{"-1mon clamps month end", "-1mon", time.Date(2025, 3, 31, 10, 0, 0, 0, ny), ny, "2025-02-28T10:00:00-05:00", false},
		{"-1y from leap day", "-1y", time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC), time.UTC, "2023-02-28T10:00:00Z", false},
		// DST: -1d keeps the local hour (23 real hours); -24h is exact.
		{"dst -1d keeps wall clock", "-1d", springDay, ny, "2025-03-08T12:00:00-05:00", false},
		{"dst -24h is exact", "-24h", springDay, ny, "2025-03-08T11:00:00-05:00", false},
		{"dst @d", "@d", springDay, ny, "2025-03-09T00:00:00-05:00", false},
		{"dst -10h@h across gap", "-10h@h", springDay, ny, "2025-03-09T01:00:00-05:00", false},
		{"fall back @h second pass", "@h", fallSecond, ny, "2025-11-02T01:00:00-05:00", false},
		{"fall back @h first pass", "@h", fallFirst, ny, "2025-11-02T01:00:00-04:00", false},
		{"fall back +1d", "+1d", fallFirst, ny, "2025-11-03T01:30:00-05:00", false},
		{"snap in utc differs", "@d", now, time.UTC, "2025-10-01T00:00:00Z", false},
		{"half-hour zone @h", "@h", time.Date(2025, 10, 1, 9, 10, 0, 0, time.UTC), mustLoc(t, "Asia/Kolkata"), "2025-10-01T14:00:00+05:30", false},

		{"rt is rejected", "rt-5m", now, ny, "", true},
		{"rtnow is rejected", "rtnow", now, ny, "", true},
		{"unknown unit", "-5x", now, ny, "", true},
		{"unknown snap", "@fortnight", now, ny, "", true},
		{"@w8", "@w8", now, ny, "", true},
		{"unsigned relative", "5m", now, ny, "", true},
		{"garbage", "yesterday", now, ny, "", true},
		{"bad date", "2025-02-30", now, ny, "", true},
		{"trailing junk", "-5m junk", now, ny, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseModifier(tc.mod, tc.now, tc.loc)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseModifier(%q) = %v, want error", tc.mod, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseModifier(%q): %v", tc.mod, err)
			}
			if tc.want == "" {
				if !got.IsZero() {
					t.Fatalf("ParseModifier(%q) = %v, want zero time", tc.mod, got)
				}
				return
			}
			if s := got.Format(time.RFC3339Nano); s != tc.want {
				t.Errorf("ParseModifier(%q, now=%v) = %s, want %s", tc.mod, tc.now, s, tc.want)
			}
		})
	}
}

func TestRelativeTime(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	base := time.Date(2025, 10, 1, 14, 37, 12, 0, ny)
	tests := []struct {
		spec, want string
		wantErr    bool
	}{
		{"-1d@d", "2025-09-30T00:00:00-04:00", false},
		{"@w0", "2025-09-28T00:00:00-04:00", false},
		{"+5m", "2025-10-01T14:42:12-04:00", false},
		{"now", "2025-10-01T14:37:12-04:00", false},
		{"", "2025-10-01T14:37:12-04:00", false},
		{"1759276046", "", true},
		{"-1x", "", true},
	}
	for _, tc := range tests {
		got, err := RelativeTime(base, tc.spec, ny)
		if tc.wantErr {
			if err == nil {
				t.Errorf("RelativeTime(%q) = %v, want error", tc.spec, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("RelativeTime(%q): %v", tc.spec, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("RelativeTime(%q) = %s, want %s", tc.spec, s, tc.want)
		}
	}
}
