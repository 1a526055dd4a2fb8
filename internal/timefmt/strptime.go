// Package timefmt implements Splunk's time handling: strptime/strftime with Splunk's format
// variables (%3Q, %N, %z, %b, …), automatic timestamp recognition in raw text (the job
// datetime.xml does in Splunk), and Splunk time modifiers such as "-70m@m", "@w1" or "now".
//
// Every function takes the time zone explicitly; nothing reads the process' local zone.
package timefmt

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNoMatch is wrapped by Strptime errors when the value does not fit the layout.
var ErrNoMatch = errors.New("value does not match layout")

// parsed collects the fields strptime has seen; unset fields keep -1 so defaults can be
// applied once at the end (a layout may set the day before the month, or only the year).
type parsed struct {
	year, month, day, yday  int
	hour, min, sec, nsec    int
	pm                      int // -1 unset, 0 AM, 1 PM
	hour12                  bool
	epoch                   int64
	hasEpoch                bool
	zone                    *time.Location
	zoneOff                 int
	hasOff                  bool
	centuryFromTwoDigitYear bool
}

// Strptime parses value with a Splunk/strptime layout. It supports %Y %y %m %d %e %H %k %I
// %l %M %S %p %b %B %h %a %A %j %Z %z (also %:z, and ±hh:mm, ±hh, Z where %z stands) %Ez %s
// %f %N %<n>N %Q %<n>Q %T %D %F %R %n %t %% , literal text and whitespace. A blank in the
// layout matches any run of blanks (also none) in value, as C strptime does.
//
// It returns the time and the number of bytes of value consumed; trailing text after the
// layout is not an error (TIME_FORMAT matching reads a prefix). Missing date parts default
// to the current year in loc and January 1; missing time parts default to zero. Without a
// zone in the value the wall clock is read in loc.
func Strptime(layout, value string, loc *time.Location) (time.Time, int, error) {
	return strptimeAt(layout, value, loc, time.Now())
}

func strptimeAt(layout, value string, loc *time.Location, now time.Time) (time.Time, int, error) {
	if loc == nil {
		loc = time.UTC
	}
	p := parsed{year: -1, month: -1, day: -1, yday: -1, hour: -1, min: -1, sec: -1, nsec: -1, pm: -1}
	n, err := p.run(layout, value, 0)
	if err != nil {
		return time.Time{}, 0, err
	}
	t, err := p.time(loc, now)
	if err != nil {
		return time.Time{}, 0, err
	}
	return t, n, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// run matches layout against value starting at byte pos and returns the new position.
func (p *parsed) run(layout, value string, pos int) (int, error) {
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if isSpace(c) {
			for pos < len(value) && isSpace(value[pos]) {
				pos++
			}
			continue
		}
		if c != '%' {
			if pos >= len(value) || value[pos] != c {
				return 0, fmt.Errorf("%w: expected %q at offset %d", ErrNoMatch, c, pos)
			}
			pos++
			continue
		}
		i++
		if i >= len(layout) {
			return 0, fmt.Errorf("layout %q ends with a lone %%", layout)
		}
		// Optional width for the subsecond codes (%3N, %6Q), the colon forms of %z, and %Ez
		// (Splunk's zone as signed minutes east of UTC, e.g. -240).
		var mod modifiers
		mod, i = readModifiers(layout, i)
		width, colons, minutesZone := mod.width, mod.colons, mod.ez
		if i >= len(layout) {
			return 0, fmt.Errorf("layout %q ends inside a conversion", layout)
		}
		var err error
		switch code := layout[i]; code {
		case 'Y':
			p.year, pos, err = num(value, pos, 1, 4, 0, 9999)
		case 'y':
			var y int
			y, pos, err = num(value, pos, 1, 2, 0, 99)
			// POSIX pivot: 69-99 are 1969-1999, 00-68 are 2000-2068.
			if y < 69 {
				y += 2000
			} else {
				y += 1900
			}
			p.year = y
		case 'm':
			p.month, pos, err = num(value, pos, 1, 2, 1, 12)
		case 'd', 'e':
			pos = skipBlanks(value, pos)
			p.day, pos, err = num(value, pos, 1, 2, 1, 31)
		case 'j':
			p.yday, pos, err = num(value, pos, 1, 3, 1, 366)
		case 'H', 'k':
			pos = skipBlanks(value, pos)
			p.hour, pos, err = num(value, pos, 1, 2, 0, 23)
		case 'I', 'l':
			pos = skipBlanks(value, pos)
			p.hour, pos, err = num(value, pos, 1, 2, 1, 12)
			p.hour12 = true
		case 'M':
			p.min, pos, err = num(value, pos, 1, 2, 0, 59)
		case 'S':
			p.sec, pos, err = num(value, pos, 1, 2, 0, 60)
		case 'p', 'P':
			switch {
			case hasPrefixFold(value[pos:], "AM"):
				p.pm = 0
			case hasPrefixFold(value[pos:], "PM"):
				p.pm = 1
			default:
				err = fmt.Errorf("%w: expected AM/PM at offset %d", ErrNoMatch, pos)
			}
			pos += 2
		case 'b', 'B', 'h':
			var ok bool
			if p.month, pos, ok = monthName(value, pos); !ok {
				err = fmt.Errorf("%w: expected a month name at offset %d", ErrNoMatch, pos)
			}
		case 'a', 'A':
			var ok bool
			if _, pos, ok = weekdayName(value, pos); !ok {
				err = fmt.Errorf("%w: expected a weekday name at offset %d", ErrNoMatch, pos)
			}
		case 'f', 'N', 'Q':
			if width == 0 {
				width = map[byte]int{'f': 6, 'N': 9, 'Q': 3}[code]
			}
			p.nsec, pos, err = fraction(value, pos, width)
		case 's':
			// "%s%3N" (epoch millis) needs %s to stop after the ten seconds digits.
			maxD := 18
			if i+1 < len(layout) && layout[i+1] == '%' {
				maxD = 10
			}
			p.epoch, pos, err = epochNum(value, pos, maxD)
			p.hasEpoch = true
		case 'z':
			if minutesZone {
				var m int64
				m, pos, err = epochNum(value, pos, 4)
				if err == nil && (m > 14*60 || m < -14*60) {
					err = fmt.Errorf("%w: zone of %d minutes out of range", ErrNoMatch, m)
				}
				p.zoneOff = int(m) * 60
			} else {
				p.zoneOff, pos, err = zoneOffset(value, pos)
			}
			p.hasOff = true
		case 'Z':
			pos, err = p.zoneName(value, pos)
		case 'T':
			pos, err = p.run("%H:%M:%S", value, pos)
		case 'D':
			pos, err = p.run("%m/%d/%y", value, pos)
		case 'F':
			pos, err = p.run("%Y-%m-%d", value, pos)
		case 'R':
			pos, err = p.run("%H:%M", value, pos)
		case 'n', 't':
			pos = skipBlanks(value, pos)
		case '%':
			if pos >= len(value) || value[pos] != '%' {
				err = fmt.Errorf("%w: expected %% at offset %d", ErrNoMatch, pos)
			}
			pos++
		default:
			return 0, fmt.Errorf("layout %q: unsupported conversion %%%c", layout, code)
		}
		if err != nil {
			return 0, err
		}
		_ = colons // the colon forms parse the same way; zoneOffset accepts both.
	}
	return pos, nil
}

func skipBlanks(s string, pos int) int {
	for pos < len(s) && isSpace(s[pos]) {
		pos++
	}
	return pos
}

// num reads between minD and maxD decimal digits and checks the range.
func num(s string, pos, minD, maxD, lo, hi int) (int, int, error) {
	v, d := 0, 0
	for pos+d < len(s) && d < maxD && isDigit(s[pos+d]) {
		v = v*10 + int(s[pos+d]-'0')
		d++
	}
	if d < minD {
		return 0, pos, fmt.Errorf("%w: expected a number at offset %d", ErrNoMatch, pos)
	}
	if v < lo || v > hi {
		return 0, pos, fmt.Errorf("%w: %d out of range %d..%d at offset %d", ErrNoMatch, v, lo, hi, pos)
	}
	return v, pos + d, nil
}

// fraction reads up to width digits as a decimal fraction of a second. Extra digits beyond
// width are consumed and dropped, so %3Q still reads a microsecond stamp.
func fraction(s string, pos, width int) (int, int, error) {
	if width > 9 {
		width = 9
	}
	v, d := 0, 0
	for pos+d < len(s) && isDigit(s[pos+d]) {
		if d < width && d < 9 {
			v = v*10 + int(s[pos+d]-'0')
		}
		d++
	}
	if d == 0 {
		return 0, pos, fmt.Errorf("%w: expected subseconds at offset %d", ErrNoMatch, pos)
	}
	kept := min(d, width, 9)
	for k := kept; k < 9; k++ {
		v *= 10
	}
	return v, pos + d, nil
}

func epochNum(s string, pos, maxD int) (int64, int, error) {
	neg := false
	start := pos
	if pos < len(s) && s[pos] == '-' {
		neg = true
		pos++
	}
	var v int64
	d := 0
	for pos < len(s) && isDigit(s[pos]) && d < maxD {
		v = v*10 + int64(s[pos]-'0')
		pos++
		d++
	}
	if d == 0 {
		return 0, start, fmt.Errorf("%w: expected epoch seconds at offset %d", ErrNoMatch, start)
	}
	if neg {
		v = -v
	}
	return v, pos, nil
}

// zoneOffset reads Z, ±hh, ±hhmm, ±hh:mm (and an optional GMT/UTC prefix before the sign).
func zoneOffset(s string, pos int) (int, int, error) {
	if pos < len(s) && (s[pos] == 'Z' || s[pos] == 'z') {
		return 0, pos + 1, nil
	}
	if hasPrefixFold(s[pos:], "GMT") || hasPrefixFold(s[pos:], "UTC") {
		if pos+3 >= len(s) || (s[pos+3] != '+' && s[pos+3] != '-') {
			return 0, pos + 3, nil
		}
		pos += 3
	}
	off, n, ok := scanOffset(s, pos)
	if !ok {
		return 0, pos, fmt.Errorf("%w: expected a zone offset at offset %d", ErrNoMatch, pos)
	}
	return off, n, nil
}

// scanOffset reads ±hh, ±hhmm or ±hh:mm; the result is seconds east of UTC.
func scanOffset(s string, pos int) (off, end int, ok bool) {
	if pos >= len(s) || (s[pos] != '+' && s[pos] != '-') {
		return 0, pos, false
	}
	sign := 1
	if s[pos] == '-' {
		sign = -1
	}
	i := pos + 1
	if i+2 > len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
		return 0, pos, false
	}
	h := int(s[i]-'0')*10 + int(s[i+1]-'0')
	i += 2
	m := 0
	switch {
	case i+2 < len(s)+1 && i < len(s) && s[i] == ':' && i+3 <= len(s) && isDigit(s[i+1]) && isDigit(s[i+2]):
		m = int(s[i+1]-'0')*10 + int(s[i+2]-'0')
		i += 3
	case i+2 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]):
		m = int(s[i]-'0')*10 + int(s[i+1]-'0')
		i += 2
	}
	if i < len(s) && isDigit(s[i]) {
		return 0, pos, false // more digits: not an offset
	}
	if h > 14 || m > 59 {
		return 0, pos, false
	}
	return sign * (h*3600 + m*60), i, true
}

// zoneAbbrevs are the abbreviations accepted by %Z and by recognition. Abbreviations are
// ambiguous worldwide; these are the common North American and European ones.
var zoneAbbrevs = map[string]int{
	"UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 3600, "BST": 3600,
	"CET": 3600, "CEST": 7200, "MET": 3600, "MEST": 7200, "EET": 7200, "EEST": 10800,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
	"AKST": -9 * 3600, "AKDT": -8 * 3600, "HST": -10 * 3600, "JST": 9 * 3600,
}

func lookupAbbrev(name string) (int, bool) {
	off, ok := zoneAbbrevs[name]
	return off, ok
}

// zoneName reads %Z: a known abbreviation, an IANA name such as America/New_York, or a
// numeric offset (some writers put one where %Z stands).
func (p *parsed) zoneName(s string, pos int) (int, error) {
	if pos < len(s) && (s[pos] == '+' || s[pos] == '-') {
		off, end, ok := scanOffset(s, pos)
		if !ok {
			return pos, fmt.Errorf("%w: bad zone at offset %d", ErrNoMatch, pos)
		}
		p.zoneOff, p.hasOff = off, true
		return end, nil
	}
	end := pos
	for end < len(s) {
		c := s[end]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '/' || c == '_' || (end > pos && (isDigit(c) || c == '-' || c == '+')) {
			end++
			continue
		}
		break
	}
	name := s[pos:end]
	if name == "" {
		return pos, fmt.Errorf("%w: expected a zone name at offset %d", ErrNoMatch, pos)
	}
	if off, ok := lookupAbbrev(strings.ToUpper(name)); ok {
		p.zone = time.FixedZone(strings.ToUpper(name), off)
		return end, nil
	}
	if strings.Contains(name, "/") {
		l, err := time.LoadLocation(name)
		if err == nil {
			p.zone = l
			return end, nil
		}
	}
	return pos, fmt.Errorf("%w: unknown time zone %q", ErrNoMatch, name)
}

var monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}
var dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// monthName reads a full or three-letter month name, case-insensitively. It reports no
// error value because recognition probes every word and must not allocate on a miss.
func monthName(s string, pos int) (int, int, bool) {
	rest := s[pos:]
	for i, name := range monthNames {
		if hasPrefixFold(rest, name) {
			return i + 1, pos + len(name), true
		}
	}
	for i, name := range monthNames {
		if hasPrefixFold(rest, name[:3]) {
			// "Sept" is common enough in logs to accept.
			if i == 8 && len(rest) > 3 && (rest[3] == 't' || rest[3] == 'T') {
				return 9, pos + 4, true
			}
			return i + 1, pos + 3, true
		}
	}
	return 0, pos, false
}

func weekdayName(s string, pos int) (int, int, bool) {
	rest := s[pos:]
	for i, name := range dayNames {
		if hasPrefixFold(rest, name) {
			return i, pos + len(name), true
		}
	}
	for i, name := range dayNames {
		if hasPrefixFold(rest, name[:3]) {
			return i, pos + 3, true
		}
	}
	return 0, pos, false
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// time turns the collected fields into an instant.
func (p *parsed) time(loc *time.Location, now time.Time) (time.Time, error) {
	if p.hasEpoch {
		nsec := max(p.nsec, 0)
		return time.Unix(p.epoch, int64(nsec)).In(loc), nil
	}
	zl := loc
	switch {
	case p.hasOff:
		zl = fixedZone(p.zoneOff)
	case p.zone != nil:
		zl = p.zone
	}
	year := p.year
	if year < 0 {
		year = now.In(zl).Year()
	}
	month, day := p.month, p.day
	if p.yday > 0 && month < 0 && day < 0 {
		d := time.Date(year, 1, p.yday, 0, 0, 0, 0, time.UTC)
		if d.Year() != year {
			return time.Time{}, fmt.Errorf("%w: day of year %d out of range for %d", ErrNoMatch, p.yday, year)
		}
		month, day = int(d.Month()), d.Day()
	}
	if month < 0 {
		month = 1
	}
	if day < 0 {
		day = 1
	}
	if day > daysIn(year, time.Month(month)) {
		return time.Time{}, fmt.Errorf("%w: day %d out of range for %04d-%02d", ErrNoMatch, day, year, month)
	}
	hour := max(p.hour, 0)
	if p.hour12 || p.pm >= 0 {
		if p.pm == 1 && hour < 12 {
			hour += 12
		} else if p.pm == 0 && hour == 12 {
			hour = 0
		}
	}
	return wallTime(year, time.Month(month), day, hour, max(p.min, 0), max(p.sec, 0), max(p.nsec, 0), zl), nil
}

// fixedZone names the zone after its offset so that %Z renders something sensible.
func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}

// wallTime builds a time from a wall clock in loc. A wall clock that falls into a DST gap
// (02:30 on a spring-forward night) is read with the offset in force before the change, so
// it lands after the gap (03:30 daylight time), as C mktime does; time.Date alone would move
// it backwards.
func wallTime(year int, month time.Month, day, hour, min, sec, nsec int, loc *time.Location) time.Time {
	t := time.Date(year, month, day, hour, min, sec, nsec, loc)
	if t.Hour() == hour && t.Minute() == min {
		return t
	}
	naive := time.Date(year, month, day, hour, min, sec, nsec, time.UTC).Unix()
	_, before := time.Unix(naive-12*3600, 0).In(loc).Zone()
	return time.Unix(naive-int64(before), int64(nsec)).In(loc)
}
