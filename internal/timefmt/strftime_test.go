package timefmt

import (
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	edt := time.Date(2025, 9, 30, 20, 1, 0, 367891234, ny) // Tuesday
	est := time.Date(2025, 1, 5, 7, 3, 9, 5_000_000, ny)   // Sunday
	kol := time.Date(2025, 9, 30, 8, 1, 0, 0, mustLoc(t, "Asia/Kolkata"))
	tests := []struct {
		name   string
		t      time.Time
		layout string
		want   string
	}{
		{"escu detections", edt, "%Y-%m-%d %H:%M:%S", "2025-09-30 20:01:00"},
		{"ta json layout", edt, "%Y-%m-%dT%H:%M:%S.%3Q%z", "2025-09-30T20:01:00.367-0400"},
		{"%:z", edt, "%FT%T%:z", "2025-09-30T20:01:00-04:00"},
		{"%::z", kol, "%::z", "+05:30:00"},
		{"%:::z", edt, "%:::z", "-04"},
		{"%Ez minutes", kol, "%Ez", "330"},
		{"%z half hour", kol, "%z", "+0530"},
		{"%Z", edt, "%Z", "EDT"},
		{"%Z winter", est, "%Z", "EST"},
		{"%Z UTC", edt.UTC(), "%Z", "UTC"},
		{"%s", edt, "%s", "1759276860"},
		{"%Q default 3", edt, "%Q", "367"},
		{"%6Q", edt, "%6Q", "367891"},
		{"%N default 9", edt, "%N", "367891234"},
		{"%3N", edt, "%3N", "367"},
		{"%6N", edt, "%6N", "367891"},
		{"%f micros", edt, "%f", "367891"},
		{"%3N leading zeros", est, "%3N", "005"},
		{"%e pads with blank", est, "%b %e", "Jan  5"},
		{"%d pads with zero", est, "%d", "05"},
		{"%k", est, "%k", " 7"},
		{"%I %p morning", est, "%I %p", "07 AM"},
		{"%I %p evening", edt, "%I:%M %p", "08:01 PM"},
		{"%l", edt, "%l", " 8"},
		{"names", edt, "%a %A %b %B", "Tue Tuesday Sep September"},
		{"%j", est, "%j", "005"},
		{"%y %C", edt, "%y %C", "25 20"},
		{"%u %w sunday", est, "%u %w", "7 0"},
		{"%U %V", edt, "%U %V", "39 40"},
		{"%D %R", edt, "%D %R", "09/30/25 20:01"},
		{"%c", edt, "%c", "Tue Sep 30 20:01:00 2025"},
		{"%x %X", edt, "%x %X", "09/30/2025 20:01:00"},
		{"%+", edt, "%+", "Tue Sep 30 20:01:00 EDT 2025"},
		{"%% and literal", edt, "100%% at %H", "100% at 20"},
		{"%n %t", edt, "%n%t", "\n\t"},
		{"unknown code copied", edt, "%q%Y", "%q2025"},
		{"trailing percent", edt, "%Y%", "2025%"},
		{"year padding", time.Date(33, 1, 1, 0, 0, 0, 0, time.UTC), "%Y", "0033"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Strftime(tc.t, tc.layout); got != tc.want {
				t.Errorf("Strftime(%v, %q) = %q, want %q", tc.t, tc.layout, got, tc.want)
			}
		})
	}
}

// Strftime output must parse back to the same instant for every layout both sides support.
func TestStrftimeStrptimeRoundTrip(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	times := []time.Time{
		time.Date(2025, 9, 30, 20, 1, 0, 367_000_000, ny),
		time.Date(2025, 1, 5, 0, 3, 9, 0, ny),
		time.Date(2024, 2, 29, 12, 59, 59, 999_000_000, time.UTC),
	}
	layouts := []string{
		"%Y-%m-%dT%H:%M:%S.%3Q%z", "%Y-%m-%dT%H:%M:%S.%3N%:z",
		"%a %b %e %H:%M:%S.%3N %Z %Y", "%d/%b/%Y:%H:%M:%S.%3N %z", "%F %I:%M:%S.%3Q %p %z", "%s.%3N", "%s%3N", "%Y %j %T.%Q %z",
	}
	for _, tm := range times {
		for _, l := range layouts {
			s := Strftime(tm, l)
			got, n, err := Strptime(l, s, time.UTC)
			if err != nil {
				t.Errorf("Strptime(%q, %q): %v", l, s, err)
				continue
			}
			if !got.Equal(tm) || n != len(s) {
				t.Errorf("round trip %q via %q = %v (n=%d), want %v", s, l, got, n, tm)
			}
		}
	}
}
