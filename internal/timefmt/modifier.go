package timefmt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseModifier resolves a Splunk time modifier (earliest=/latest= values) relative to now.
//
//   - "" means no bound: it returns the zero Time and no error (callers test IsZero).
//   - "now" is now; "0" is the epoch; digits with an optional fraction are epoch seconds.
//   - Absolute times: ISO 8601 (2025-09-30T20:07:26[.123][Z|±hh:mm], 2025-09-30 20:07:26,
//     2025-09-30) and Splunk's default "%m/%d/%Y:%H:%M:%S" (also "%m/%d/%Y").
//   - Relative: a chain of [+|-]<n><unit> offsets and @<unit> snaps, applied left to right,
//     e.g. "-70m@m", "@h", "-1d@d+8h", "@w1", "-1q@q". A missing <n> means 1.
//
// Units: s sec secs second seconds, m min mins minute minutes, h hr hrs hour hours, d day days,
// w week weeks, mon month months, q qtr qtrs quarter quarters, y yr yrs year years; snaps also
// take w0..w7 (w0 and w7 are Sunday). Days, weeks, months, quarters and years move the wall
// clock in loc (so -1d across a DST change keeps the local hour) and snapping happens on the
// wall clock in loc (@d is local midnight). Real-time forms ("rt-5m") are rejected.
func ParseModifier(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, nil
	case strings.EqualFold(s, "now"), s == "now()":
		return now, nil
	case strings.HasPrefix(strings.ToLower(s), "rt"):
		return time.Time{}, fmt.Errorf("time modifier %q: real-time searches are not supported", s)
	}
	if t, ok := parseEpoch(s); ok {
		return t.In(loc), nil
	}
	if s[0] == '+' || s[0] == '-' || s[0] == '@' {
		return relative(s, now, loc)
	}
	if t, ok := parseAbsolute(s, loc); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time modifier %q: not a relative time, epoch or date", s)
}

// RelativeTime implements SPL relative_time(t, spec): it applies the relative modifier spec
// ("-1d@d", "@w0", "+5m") to t. "now" and "" return t unchanged.
func RelativeTime(t time.Time, spec string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	spec = strings.TrimSpace(spec)
	if spec == "" || strings.EqualFold(spec, "now") {
		return t, nil
	}
	if spec[0] != '+' && spec[0] != '-' && spec[0] != '@' {
		return time.Time{}, fmt.Errorf("relative time %q: must start with +, - or @", spec)
	}
	return relative(spec, t, loc)
}

func parseEpoch(s string) (time.Time, bool) {
	dot := strings.IndexByte(s, '.')
	intPart, frac := s, ""
	if dot >= 0 {
		intPart, frac = s[:dot], s[dot+1:]
	}
	if intPart == "" || len(intPart) > 18 {
		return time.Time{}, false
	}
	for i := 0; i < len(intPart); i++ {
		if !isDigit(intPart[i]) {
			return time.Time{}, false
		}
	}
	for i := 0; i < len(frac); i++ {
		if !isDigit(frac[i]) {
			return time.Time{}, false
		}
	}
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	nsec := 0
	if frac != "" {
		nsec, _, _ = fraction(frac, 0, 9)
	}
	return time.Unix(sec, int64(nsec)), true
}

var absoluteLayouts = []string{
	"%m/%d/%Y:%H:%M:%S",
	"%m/%d/%Y",
	"%Y-%m-%dT%H:%M:%S.%N%z",
	"%Y-%m-%dT%H:%M:%S%z",
	"%Y-%m-%dT%H:%M:%S.%N",
	"%Y-%m-%dT%H:%M:%S",
	"%Y-%m-%dT%H:%M%z",
	"%Y-%m-%dT%H:%M",
	"%Y-%m-%d %H:%M:%S.%N%z",
	"%Y-%m-%d %H:%M:%S%z",
	"%Y-%m-%d %H:%M:%S.%N",
	"%Y-%m-%d %H:%M:%S,%N",
	"%Y-%m-%d %H:%M:%S",
	"%Y-%m-%d %H:%M",
	"%Y-%m-%d",
}

// parseAbsolute accepts a date only if some layout consumes all of s.
func parseAbsolute(s string, loc *time.Location) (time.Time, bool) {
	for _, l := range absoluteLayouts {
		t, n, err := Strptime(l, s, loc)
		if err == nil && n == len(s) {
			return t, true
		}
	}
	return time.Time{}, false
}

type unit int

const (
	unitSec unit = iota
	unitMin
	unitHour
	unitDay
	unitWeek
	unitMonth
	unitQuarter
	unitYear
)

var units = map[string]unit{
	"s": unitSec, "sec": unitSec, "secs": unitSec, "second": unitSec, "seconds": unitSec,
	"m": unitMin, "min": unitMin, "mins": unitMin, "minute": unitMin, "minutes": unitMin,
	"h": unitHour, "hr": unitHour, "hrs": unitHour, "hour": unitHour, "hours": unitHour,
	"d": unitDay, "day": unitDay, "days": unitDay,
	"w": unitWeek, "week": unitWeek, "weeks": unitWeek,
	"mon": unitMonth, "month": unitMonth, "months": unitMonth,
	"q": unitQuarter, "qtr": unitQuarter, "qtrs": unitQuarter, "quarter": unitQuarter, "quarters": unitQuarter,
	"y": unitYear, "yr": unitYear, "yrs": unitYear, "year": unitYear, "years": unitYear,
}

func relative(s string, now time.Time, loc *time.Location) (time.Time, error) {
	t := now.In(loc)
	i := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '+', '-':
			i++
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n := 1
			if j > i {
				v, err := strconv.Atoi(s[i:j])
				if err != nil {
					return time.Time{}, fmt.Errorf("time modifier %q: amount %q: %w", s, s[i:j], err)
				}
				n = v
			}
			k := j
			for k < len(s) && isAlpha(s[k]) {
				k++
			}
			u, ok := units[strings.ToLower(s[j:k])]
			if !ok {
				return time.Time{}, fmt.Errorf("time modifier %q: unknown unit %q", s, s[j:k])
			}
			if c == '-' {
				n = -n
			}
			t = offset(t, n, u, loc)
			i = k
		case '@':
			j := i + 1
			for j < len(s) && isAlpha(s[j]) {
				j++
			}
			name := strings.ToLower(s[i+1 : j])
			if name == "w" && j < len(s) && isDigit(s[j]) {
				wd := int(s[j] - '0')
				j++
				if wd > 7 || (j < len(s) && isDigit(s[j])) {
					return time.Time{}, fmt.Errorf("time modifier %q: snap @w takes 0..7", s)
				}
				t = snapWeekday(t, wd%7, loc)
				i = j
				continue
			}
			u, ok := units[name]
			if !ok {
				return time.Time{}, fmt.Errorf("time modifier %q: unknown snap unit %q", s, name)
			}
			t = snap(t, u, loc)
			i = j
		default:
			return time.Time{}, fmt.Errorf("time modifier %q: unexpected %q at offset %d", s, c, i)
		}
	}
	return t, nil
}

func offset(t time.Time, n int, u unit, loc *time.Location) time.Time {
	switch u {
	case unitSec:
		return t.Add(time.Duration(n) * time.Second)
	case unitMin:
		return t.Add(time.Duration(n) * time.Minute)
	case unitHour:
		return t.Add(time.Duration(n) * time.Hour)
	case unitDay:
		return addDays(t.In(loc), n)
	case unitWeek:
		return addDays(t.In(loc), 7*n)
	case unitMonth:
		return addMonths(t.In(loc), n)
	case unitQuarter:
		return addMonths(t.In(loc), 3*n)
	default:
		return addMonths(t.In(loc), 12*n)
	}
}

func addDays(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return wallTime(y, m, d+n, h, mi, s, t.Nanosecond(), t.Location())
}

// addMonths moves by whole months and clamps the day to the target month's length, so
// "-1mon" from March 31 lands on the last day of February instead of spilling into March.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	total := int(m) - 1 + n
	ty := y + floorDiv(total, 12)
	tm := time.Month(total - 12*floorDiv(total, 12) + 1)
	if last := daysIn(ty, tm); d > last {
		d = last
	}
	h, mi, s := t.Clock()
	return wallTime(ty, tm, d, h, mi, s, t.Nanosecond(), t.Location())
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func snap(t time.Time, u unit, loc *time.Location) time.Time {
	t = t.In(loc)
	switch u {
	case unitSec, unitMin, unitHour:
		// Floor on the local wall clock: shift by the current offset, truncate, shift back.
		// Offsets are whole minutes (hours for @h in every zone that matters), so this is
		// exact even inside a repeated DST hour, where time.Date would have to guess.
		step := map[unit]int64{unitSec: 1, unitMin: 60, unitHour: 3600}[u]
		_, off := t.Zone()
		local := t.Unix() + int64(off)
		floored := local - ((local%step)+step)%step
		return time.Unix(floored-int64(off), 0).In(loc)
	case unitDay:
		y, m, d := t.Date()
		return wallTime(y, m, d, 0, 0, 0, 0, loc)
	case unitWeek:
		return snapWeekday(t, 0, loc)
	case unitMonth:
		y, m, _ := t.Date()
		return wallTime(y, m, 1, 0, 0, 0, 0, loc)
	case unitQuarter:
		y, m, _ := t.Date()
		return wallTime(y, m-(m-1)%3, 1, 0, 0, 0, 0, loc)
	default:
		return wallTime(t.Year(), 1, 1, 0, 0, 0, 0, loc)
	}
}

// snapWeekday goes back to local midnight of the latest weekday wd (0 = Sunday) not after t.
func snapWeekday(t time.Time, wd int, loc *time.Location) time.Time {
	t = t.In(loc)
	back := (int(t.Weekday()) - wd + 7) % 7
	y, m, d := t.Date()
	return wallTime(y, m, d-back, 0, 0, 0, 0, loc)
}
