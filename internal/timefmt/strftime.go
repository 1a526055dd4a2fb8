package timefmt

import (
	"strconv"
	"time"
)

// Strftime formats t like Splunk's strftime eval function, in t's location (callers pick the
// zone with t.In). Codes: %Y %y %C %m %d %e %H %k %I %l %M %S %p %b %h %B %a %A %j %u %w %U
// %V %G %Z %z %:z %::z %Ez %s %f %N %<n>N %Q %<n>Q %T %D %F %R %c %x %X %+ %n %t %%.
// Unknown codes are copied through unchanged, as Splunk does.
func Strftime(t time.Time, layout string) string {
	b := make([]byte, 0, len(layout)+16)
	return string(AppendStrftime(b, t, layout))
}

// AppendStrftime appends the formatted time to b; it lets hot paths reuse a buffer.
func AppendStrftime(b []byte, t time.Time, layout string) []byte {
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' || i+1 >= len(layout) {
			b = append(b, c)
			continue
		}
		start := i
		var mod modifiers
		mod, i = readModifiers(layout, i+1)
		width, colons, ez := mod.width, mod.colons, mod.ez
		if i >= len(layout) {
			b = append(b, layout[start:]...)
			break
		}
		switch code := layout[i]; code {
		case 'Y':
			b = pad(b, t.Year(), 4, '0')
		case 'y':
			b = pad(b, t.Year()%100, 2, '0')
		case 'C':
			b = pad(b, t.Year()/100, 2, '0')
		case 'm':
			b = pad(b, int(t.Month()), 2, '0')
		case 'd':
			b = pad(b, t.Day(), 2, '0')
		case 'e':
			b = pad(b, t.Day(), 2, ' ')
		case 'H':
			b = pad(b, t.Hour(), 2, '0')
		case 'k':
			b = pad(b, t.Hour(), 2, ' ')
		case 'I', 'l':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			if code == 'I' {
				b = pad(b, h, 2, '0')
			} else {
				b = pad(b, h, 2, ' ')
			}
		case 'M':
			b = pad(b, t.Minute(), 2, '0')
		case 'S':
			b = pad(b, t.Second(), 2, '0')
		case 'p':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'P':
			if t.Hour() < 12 {
				b = append(b, "am"...)
			} else {
				b = append(b, "pm"...)
			}
		case 'b', 'h':
			b = append(b, monthNames[t.Month()-1][:3]...)
		case 'B':
			b = append(b, monthNames[t.Month()-1]...)
		case 'a':
			b = append(b, dayNames[t.Weekday()][:3]...)
		case 'A':
			b = append(b, dayNames[t.Weekday()]...)
		case 'j':
			b = pad(b, t.YearDay(), 3, '0')
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b = strconv.AppendInt(b, int64(wd), 10)
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'U':
			b = pad(b, (t.YearDay()+6-int(t.Weekday()))/7, 2, '0')
		case 'V':
			_, w := t.ISOWeek()
			b = pad(b, w, 2, '0')
		case 'G':
			y, _ := t.ISOWeek()
			b = pad(b, y, 4, '0')
		case 'Z':
			b = append(b, t.Format("MST")...)
		case 'z':
			_, off := t.Zone()
			if ez {
				b = strconv.AppendInt(b, int64(off/60), 10)
				break
			}
			b = appendOffset(b, off, colons)
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'f', 'N', 'Q':
			if width == 0 {
				switch code {
				case 'f':
					width = 6
				case 'N':
					width = 9
				default:
					width = 3
				}
			}
			b = appendFraction(b, t.Nanosecond(), width)
		case 'T':
			b = AppendStrftime(b, t, "%H:%M:%S")
		case 'D':
			b = AppendStrftime(b, t, "%m/%d/%y")
		case 'F':
			b = AppendStrftime(b, t, "%Y-%m-%d")
		case 'R':
			b = AppendStrftime(b, t, "%H:%M")
		case 'c':
			b = AppendStrftime(b, t, "%a %b %e %H:%M:%S %Y")
		case 'x':
			b = AppendStrftime(b, t, "%m/%d/%Y")
		case 'X':
			b = AppendStrftime(b, t, "%H:%M:%S")
		case '+':
			b = AppendStrftime(b, t, "%a %b %e %H:%M:%S %Z %Y")
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '%':
			b = append(b, '%')
		default:
			b = append(b, layout[start:i+1]...)
		}
	}
	return b
}

func pad(b []byte, v, width int, fill byte) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
		width--
	}
	digits := 1
	for x := v; x >= 10; x /= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, fill)
	}
	return strconv.AppendInt(b, int64(v), 10)
}

// appendOffset writes ±hhmm (colons=0), ±hh:mm (1), ±hh:mm:ss (2) or ±hh (3).
func appendOffset(b []byte, off, colons int) []byte {
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	b = append(b, sign)
	b = pad(b, off/3600, 2, '0')
	switch colons {
	case 0:
		b = pad(b, off%3600/60, 2, '0')
	case 1:
		b = append(b, ':')
		b = pad(b, off%3600/60, 2, '0')
	case 2:
		b = append(b, ':')
		b = pad(b, off%3600/60, 2, '0')
		b = append(b, ':')
		b = pad(b, off%60, 2, '0')
	}
	return b
}

// appendFraction writes the first width digits of the nanoseconds (truncating, like Splunk).
func appendFraction(b []byte, nsec, width int) []byte {
	if width > 9 {
		width = 9
	}
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	return append(b, digits[:width]...)
}

// modifiers are what may stand between '%' and a conversion character: a width (%3N), colons
// (%:z, %::z) and E (%Ez). strftime and strptime read them the same way.
type modifiers struct {
	width, colons int
	ez            bool
}

// maxWidth bounds a width modifier; wider than any field strftime or strptime handles.
const maxWidth = 64

// readModifiers reads the modifiers from layout[i], just after a '%', and returns them with the
// index of the conversion character (len(layout) when the layout ends first).
func readModifiers(layout string, i int) (modifiers, int) {
	var m modifiers
	for i < len(layout) && isDigit(layout[i]) {
		// A layout comes from configuration (TIME_FORMAT) or a search; a width of many digits
		// would overflow int. No conversion reads more than a few digits, so stop growing.
		if m.width < maxWidth {
			m.width = min(m.width*10+int(layout[i]-'0'), maxWidth)
		}
		i++
	}
	for i < len(layout) && layout[i] == ':' {
		m.colons++
		i++
	}
	if i+1 < len(layout) && layout[i] == 'E' && layout[i+1] == 'z' {
		m.ez = true
		i++
	}
	return m, i
}
