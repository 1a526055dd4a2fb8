package timefmt

import (
	"time"
)

// Match is one timestamp found by recognition.
type Match struct {
	// Time is the instant. Its location renders the text back: the offset or abbreviation
	// found in the text, UTC for a trailing "Z", else the loc passed in.
	Time time.Time
	// Start and End delimit the timestamp text in the input (End exclusive).
	Start, End int
	// Layout is a Strftime/Strptime layout that reproduces the text from Time.
	Layout string
}

// Recognize finds the first timestamp it can recognize in s, the way Splunk's automatic
// timestamp recognition (datetime.xml) does when no TIME_FORMAT is set. Recognized shapes:
//
//	2025-09-30T20:01:00.367-04:00   ISO 8601 / RFC 3339, with or without fraction and zone
//	2025-09-30 20:07:26,123         space separated, comma or dot fraction
//	2025/09/30 - 20:07:26           Ollama GIN
//	Sep 30 20:07:26                 syslog (year from the current year in loc)
//	Tue Sep 30 20:07:26 EDT 2025    ctime / date(1)
//	Tue, 30 Sep 2025 20:07:26 GMT   RFC 1123
//	30/Sep/2025:20:07:26 -0400      Apache
//	09/30/2025 20:07:26             US month/day/year (also with ':' before the clock)
//	2025-09-30 08:07:26 PM          any of the clocks above as a 12-hour clock with AM/PM
//	1759276046 / 1759276046123      epoch seconds (optionally .fraction) or millis, only at the start of s
//
// Text without a zone is read in loc. start and end are byte offsets of the timestamp text.
func Recognize(s string, loc *time.Location) (t time.Time, start, end int, ok bool) {
	var sh shape
	if !scan(s, loc, time.Now(), &sh) {
		return time.Time{}, 0, 0, false
	}
	return sh.t, sh.start, sh.end, true
}

// RecognizeAt is Recognize with an explicit "now" (it decides the year of syslog stamps)
// that also reports the layout of the text, so callers can rewrite the timestamp in place.
func RecognizeAt(s string, loc *time.Location, now time.Time) (Match, bool) {
	var sh shape
	if !scan(s, loc, now, &sh) {
		return Match{}, false
	}
	return Match{Time: sh.t, Start: sh.start, End: sh.end, Layout: sh.layout(s)}, true
}

// shape records what was matched; layout text is built only on request so that the
// per-event path does not allocate.
type shape struct {
	t          time.Time
	start, end int

	date       string // layout of the part before the clock, e.g. "%Y-%m-%d"
	sepStart   int    // date/clock separator, a slice of the input
	sepEnd     int
	hasSec     bool
	fracSep    byte
	fracDigits int
	ampm       string
	zone       string // "", "Z", "%z", "%:z", "%:::z", "%Z", "GMT%z", "GMT%:z"
	zoneSpace  bool
	tailYear   bool // ctime's " 2025" after the clock/zone
	epoch      string
}

func (sh *shape) layout(s string) string {
	if sh.epoch != "" {
		return sh.epoch
	}
	b := make([]byte, 0, 32)
	b = append(b, sh.date...)
	b = append(b, s[sh.sepStart:sh.sepEnd]...)
	if sh.ampm != "" {
		b = append(b, "%I:%M"...)
	} else {
		b = append(b, "%H:%M"...)
	}
	if sh.hasSec {
		b = append(b, ":%S"...)
	}
	if sh.fracDigits > 0 {
		b = append(b, sh.fracSep, '%')
		b = append(b, byte('0'+sh.fracDigits), 'N')
	}
	b = append(b, sh.ampm...)
	if sh.zone != "" {
		if sh.zoneSpace {
			b = append(b, ' ')
		}
		b = append(b, sh.zone...)
	}
	if sh.tailYear {
		b = append(b, " %Y"...)
	}
	return string(b)
}

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

func scan(s string, loc *time.Location, now time.Time, sh *shape) bool {
	if loc == nil {
		loc = time.UTC
	}
	if len(s) > 0 && isDigit(s[0]) && matchEpoch(s, loc, sh) {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			if i > 0 && (isDigit(s[i-1]) || isAlpha(s[i-1])) {
				continue
			}
			if matchDigitStart(s, i, loc, now, sh) {
				return true
			}
			// Skip the rest of this number; no timestamp starts inside it.
			for i+1 < len(s) && isDigit(s[i+1]) {
				i++
			}
		case isAlpha(c):
			if i > 0 && isAlpha(s[i-1]) {
				continue
			}
			if matchLetterStart(s, i, loc, now, sh) {
				return true
			}
			for i+1 < len(s) && isAlpha(s[i+1]) {
				i++
			}
		}
	}
	return false
}

// digits reads up to maxD digits at pos; n is how many were read.
func digits(s string, pos, maxD int) (v, n int) {
	for pos+n < len(s) && n < maxD && isDigit(s[pos+n]) {
		v = v*10 + int(s[pos+n]-'0')
		n++
	}
	return v, n
}

func matchEpoch(s string, loc *time.Location, sh *shape) bool {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	// Only 10 digits (seconds, 2001-2286) or 13 digits (millis) that start with 1 count;
	// anything else is too likely a counter or an id.
	if s[0] != '1' || (n != 10 && n != 13) {
		return false
	}
	var v int64
	for i := 0; i < n; i++ {
		v = v*10 + int64(s[i]-'0')
	}
	if n == 13 {
		if n < len(s) && (s[n] == '.' || isAlpha(s[n])) {
			return false
		}
		*sh = shape{t: time.UnixMilli(v).In(loc), start: 0, end: n, epoch: "%s%3N"}
		return true
	}
	end, nsec, fd := n, 0, 0
	if n+1 < len(s) && s[n] == '.' && isDigit(s[n+1]) {
		var err error
		nsec, end, err = fraction(s, n+1, 9)
		if err != nil {
			return false
		}
		fd = end - n - 1
		if fd > 9 {
			return false
		}
	}
	if end < len(s) && isAlpha(s[end]) {
		return false
	}
	*sh = shape{t: time.Unix(v, int64(nsec)).In(loc), start: 0, end: end, epoch: "%s"}
	if fd > 0 {
		sh.epoch = "%s." + "%" + string(rune('0'+fd)) + "N"
	}
	return true
}

// clock reads H[H]:MM[:SS[(.|,)frac]] at pos.
type clockVal struct {
	hour, min, sec, nsec int
	hasSec               bool
	fracSep              byte
	fracDigits           int
	ampm                 string // "", " %p" or " %P"
	end                  int
}

func readClock(s string, pos int, needSec bool) (clockVal, bool) {
	var c clockVal
	h, n := digits(s, pos, 2)
	if n == 0 || h > 23 {
		return c, false
	}
	pos += n
	if pos >= len(s) || s[pos] != ':' {
		return c, false
	}
	m, n := digits(s, pos+1, 2)
	if n != 2 || m > 59 {
		return c, false
	}
	pos += 3
	c.hour, c.min = h, m
	if pos < len(s) && s[pos] == ':' {
		sec, n := digits(s, pos+1, 2)
		if n != 2 || sec > 60 {
			return c, false
		}
		c.sec, c.hasSec = sec, true
		pos += 3
		if pos+1 < len(s) && (s[pos] == '.' || s[pos] == ',') && isDigit(s[pos+1]) {
			start := pos + 1
			nsec, end, _ := fraction(s, start, 9)
			if end-start > 9 {
				return c, false
			}
			c.nsec, c.fracSep, c.fracDigits = nsec, s[pos], end-start
			pos = end
		}
	}
	if !c.hasSec && needSec {
		return c, false
	}
	if pos < len(s) && isDigit(s[pos]) {
		return c, false
	}
	// A 12-hour clock: " AM" / " pm" right after the time.
	if pos+3 <= len(s) && s[pos] == ' ' && c.hour >= 1 && c.hour <= 12 && (pos+3 == len(s) || !isAlpha(s[pos+3])) {
		ap := s[pos+1 : pos+3]
		pm := hasPrefixFold(ap, "PM")
		if pm || hasPrefixFold(ap, "AM") {
			c.ampm = " %p"
			if ap[0] >= 'a' {
				c.ampm = " %P"
			}
			switch {
			case pm && c.hour < 12:
				c.hour += 12
			case !pm && c.hour == 12:
				c.hour = 0
			}
			pos += 3
		}
	}
	c.end = pos
	return c, true
}

// readZone reads an optional zone right after a clock. It reports the offset, whether the
// zone is a named abbreviation (name is then s[pos:end]), the layout piece and the end.
func readZone(s string, pos int, sh *shape) (loc *time.Location, end int) {
	if pos >= len(s) {
		return nil, pos
	}
	if s[pos] == 'Z' && (pos+1 >= len(s) || !isAlpha(s[pos+1])) {
		sh.zone = "Z"
		return time.UTC, pos + 1
	}
	if s[pos] == '+' || s[pos] == '-' {
		if off, e, ok := scanOffset(s, pos); ok {
			sh.zone = offsetLayout(s[pos:e])
			return fixedZone(off), e
		}
		return nil, pos
	}
	if s[pos] != ' ' || pos+1 >= len(s) {
		return nil, pos
	}
	p := pos + 1
	if s[p] == '+' || s[p] == '-' {
		if off, e, ok := scanOffset(s, p); ok {
			sh.zone, sh.zoneSpace = offsetLayout(s[p:e]), true
			return fixedZone(off), e
		}
		return nil, pos
	}
	if s[p] < 'A' || s[p] > 'Z' {
		return nil, pos
	}
	e := p
	for e < len(s) && e-p < 5 && s[e] >= 'A' && s[e] <= 'Z' {
		e++
	}
	if e < len(s) && isAlpha(s[e]) {
		return nil, pos
	}
	name := s[p:e]
	if (name == "GMT" || name == "UTC") && e < len(s) && (s[e] == '+' || s[e] == '-') {
		if off, e2, ok := scanOffset(s, e); ok {
			sh.zone, sh.zoneSpace = name+offsetLayout(s[e:e2]), true
			return fixedZone(off), e2
		}
	}
	off, ok := lookupAbbrev(name)
	if !ok {
		return nil, pos
	}
	sh.zone, sh.zoneSpace = "%Z", true
	if off == 0 && (name == "UTC" || name == "GMT") {
		// Keep the name so %Z renders it back.
		return time.FixedZone(name, 0), e
	}
	return time.FixedZone(name, off), e
}

func offsetLayout(text string) string {
	switch len(text) {
	case 3:
		return "%:::z"
	case 6:
		return "%:z"
	}
	return "%z"
}

// finish validates the date, applies the zone and fills sh.
func finish(s string, start int, year, month, day int, c clockVal, loc *time.Location, sh *shape) bool {
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) || year < 1 {
		return false
	}
	zl, end := readZone(s, c.end, sh)
	if zl == nil {
		zl = loc
		sh.zone = ""
	}
	sh.t = wallTime(year, time.Month(month), day, c.hour, c.min, c.sec, c.nsec, zl)
	sh.start, sh.end = start, end
	sh.hasSec, sh.fracSep, sh.fracDigits, sh.ampm = c.hasSec, c.fracSep, c.fracDigits, c.ampm
	return true
}

var isoDates = map[byte]string{'-': "%Y-%m-%d", '/': "%Y/%m/%d", '.': "%Y.%m.%d"}

func matchDigitStart(s string, i int, loc *time.Location, now time.Time, sh *shape) bool {
	v, n := digits(s, i, 5)
	switch {
	case n == 4 && i+4 < len(s) && (s[i+4] == '-' || s[i+4] == '/'):
		// 2025-09-30T20:07:26, 2025/09/30 - 20:07:26, 2025-09-30 20:07:26,123
		sep := s[i+4]
		mon, mn := digits(s, i+5, 2)
		if mn != 2 || i+7 >= len(s) || s[i+7] != sep {
			return false
		}
		day, dn := digits(s, i+8, 2)
		if dn != 2 {
			return false
		}
		p := i + 10
		sepStart := p
		needSec := true
		switch {
		case p < len(s) && s[p] == 'T':
			p++
			needSec = false
		case p+2 < len(s) && s[p] == ' ' && s[p+1] == '-' && s[p+2] == ' ':
			p += 3
		case p < len(s) && (s[p] == ' ' || s[p] == '_' || s[p] == ':'):
			p++
		default:
			return false
		}
		c, ok := readClock(s, p, needSec)
		if !ok {
			return false
		}
		*sh = shape{date: isoDates[sep], sepStart: sepStart, sepEnd: p}
		return finish(s, i, v, mon, day, c, loc, sh)
	case (n == 1 || n == 2) && i+n < len(s) && s[i+n] == '/':
		p := i + n + 1
		if p < len(s) && isAlpha(s[p]) {
			// Apache: 30/Sep/2025:20:07:26 -0400
			mon, e, found := monthName(s, p)
			if !found || e != p+3 || e >= len(s) || s[e] != '/' {
				return false
			}
			year, yn := digits(s, e+1, 4)
			if yn != 4 || e+5 >= len(s) || s[e+5] != ':' {
				return false
			}
			c, ok := readClock(s, e+6, true)
			if !ok {
				return false
			}
			*sh = shape{date: "%d/%b/%Y", sepStart: e + 5, sepEnd: e + 6}
			return finish(s, i, year, mon, v, c, loc, sh)
		}
		// US: 09/30/2025 20:07:26 or 09/30/2025:20:07:26
		day, dn := digits(s, p, 2)
		if dn != 2 || n != 2 || p+2 >= len(s) || s[p+2] != '/' {
			return false
		}
		year, yn := digits(s, p+3, 4)
		q := p + 7
		if yn != 4 || q >= len(s) || (s[q] != ' ' && s[q] != ':') {
			return false
		}
		c, ok := readClock(s, q+1, true)
		if !ok {
			return false
		}
		*sh = shape{date: "%m/%d/%Y", sepStart: q, sepEnd: q + 1}
		return finish(s, i, year, v, day, c, loc, sh)
	case (n == 1 || n == 2) && i+n+1 < len(s) && (s[i+n] == ' ' || s[i+n] == '-') && isAlpha(s[i+n+1]):
		// 30 Sep 2025 20:07:26 and 30-Sep-2025 20:07:26
		sep := s[i+n]
		p := i + n + 1
		mon, e, found := monthName(s, p)
		if !found || e != p+3 || e >= len(s) || s[e] != sep {
			return false
		}
		year, yn := digits(s, e+1, 4)
		q := e + 5
		if yn != 4 || q >= len(s) || s[q] != ' ' {
			return false
		}
		c, ok := readClock(s, q+1, true)
		if !ok {
			return false
		}
		date := "%d %b %Y"
		if sep == '-' {
			date = "%d-%b-%Y"
		}
		if n == 1 {
			date = "%e" + date[2:]
		}
		*sh = shape{date: date, sepStart: q, sepEnd: q + 1}
		return finish(s, i, year, mon, v, c, loc, sh)
	}
	_ = now
	return false
}

func matchLetterStart(s string, i int, loc *time.Location, now time.Time, sh *shape) bool {
	switch s[i] | 0x20 {
	case 'j', 'f', 'm', 'a', 's', 'o', 'n', 'd', 't', 'w':
	default:
		return false
	}
	p := i
	weekday := ""
	if _, e, found := weekdayName(s, p); found && e == p+3 {
		// Tue Sep 30 20:07:26 2025 / Tue, 30 Sep 2025 20:07:26 GMT
		q := e
		comma := false
		if q < len(s) && s[q] == ',' {
			comma = true
			q++
		}
		if q >= len(s) || s[q] != ' ' {
			return false
		}
		q++
		if q < len(s) && isDigit(s[q]) {
			if !matchDigitStart(s, q, loc, now, sh) || sh.date[1] == 'Y' || sh.date[1] == 'm' {
				return false
			}
			prefix := "%a "
			if comma {
				prefix = "%a, "
			}
			sh.date = prefix + sh.date
			sh.start = i
			return true
		}
		weekday = "%a "
		p = q
	}
	mon, e, found := monthName(s, p)
	if !found || e != p+3 || e >= len(s) || s[e] != ' ' {
		return false
	}
	q := e
	for q < len(s) && s[q] == ' ' {
		q++
	}
	day, dn := digits(s, q, 2)
	if dn == 0 || q+dn >= len(s) || s[q+dn] != ' ' {
		return false
	}
	date := weekday + "%b %d"
	if dn == 1 {
		date = weekday + "%b %e"
	} else if q-e > 1 {
		return false // "Sep  30" is not a layout we can render back
	}
	sep := q + dn
	c, ok := readClock(s, sep+1, true)
	if !ok {
		return false
	}
	*sh = shape{date: date, sepStart: sep, sepEnd: sep + 1}
	year := now.In(loc).Year()
	// A year may follow the clock (ctime), possibly after a zone name (date(1)).
	var probe shape
	_, ze := readZone(s, c.end, &probe)
	if ze+5 <= len(s) && s[ze] == ' ' {
		if y, yn := digits(s, ze+1, 4); yn == 4 && (ze+5 == len(s) || !isDigit(s[ze+5])) {
			if !finish(s, i, y, mon, day, c, loc, sh) {
				return false
			}
			sh.tailYear, sh.end = true, ze+5
			return true
		}
	}
	if !finish(s, i, year, mon, day, c, loc, sh) {
		return false
	}
	// syslog carries no year: a stamp more than two days ahead of now belongs to last year.
	if sh.t.After(now.Add(48 * time.Hour)) {
		return finish(s, i, year-1, mon, day, c, loc, sh)
	}
	return true
}
