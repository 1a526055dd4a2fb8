package spl

import (
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/timefmt"
)

type argRange struct{ min, max int } // max -1 = unbounded

var funcArity = map[string]argRange{
	"coalesce": {1, -1}, "case": {2, -1}, "if": {3, 3}, "match": {2, 2}, "like": {2, 2},
	"replace": {3, 3}, "tonumber": {1, 2}, "tostring": {1, 2}, "trim": {1, 2}, "ltrim": {1, 2},
	"rtrim": {1, 2}, "lower": {1, 1}, "upper": {1, 1}, "len": {1, 1}, "substr": {2, 3},
	"split": {2, 2}, "mvcount": {1, 1}, "mvindex": {2, 3}, "mvjoin": {2, 2}, "mvappend": {1, -1},
	"mvfilter": {1, 1}, "mvdedup": {1, 1}, "mvsort": {1, 1}, "mvzip": {2, 3},
	"isnull": {1, 1}, "isnotnull": {1, 1}, "isnum": {1, 1}, "isstr": {1, 1}, "null": {0, 0},
	"now": {0, 0}, "time": {0, 0}, "strftime": {2, 2}, "strptime": {2, 2}, "relative_time": {2, 2},
	"round": {1, 2}, "floor": {1, 1}, "ceil": {1, 1}, "ceiling": {1, 1}, "abs": {1, 1},
	"min": {1, -1}, "max": {1, -1}, "sqrt": {1, 1}, "pow": {2, 2}, "exp": {1, 1}, "ln": {1, 1},
	"log": {1, 2}, "cidrmatch": {2, 2}, "urldecode": {1, 1}, "searchmatch": {1, 1}, "in": {2, -1},
	"true": {0, 0}, "false": {0, 0}, "typeof": {1, 1}, "validate": {2, -1},
}

// coalesceNeed: coalesce(a, b, c) needs any one of its arguments, so the fields of arguments
// that are plain field references form one need with alternatives; an argument without field
// references (a literal) always has a value, and then nothing is needed.
func coalesceNeed(refs []string, argStarts []int) []FieldNeed {
	var alt []string
	for i, start := range argStarts {
		end := len(refs)
		if i+1 < len(argStarts) {
			end = argStarts[i+1]
		}
		if start == end {
			return nil // a literal argument
		}
		for _, f := range refs[start:end] {
			if !slices.Contains(alt, f) {
				alt = append(alt, f)
			}
		}
	}
	if len(alt) == 0 {
		return nil
	}
	return []FieldNeed{{Fields: alt}}
}

func (ec *evalCompiler) parseCall(name token) (evalFn, error) {
	fname := strings.ToLower(name.s)
	ar, ok := funcArity[fname]
	if !ok {
		return nil, errAt(name, "unknown function %s()", name.s)
	}
	// mvfilter evaluates its argument once per value of the field it names.
	refStart := len(ec.refs)
	// A missing field is an answer, not a failure, to these: what they read is no need.
	tolerant := fname == "coalesce" || fname == "isnull" || fname == "isnotnull" || fname == "typeof" ||
		fname == "isnum" || fname == "isstr" || fname == "null"
	if tolerant {
		ec.tolerant++
	}
	args, err := ec.parseArgs()
	if tolerant {
		ec.tolerant--
	}
	if err != nil {
		return nil, err
	}
	if fname == "coalesce" && ec.tolerant == 0 {
		ec.needs = append(ec.needs, coalesceNeed(ec.refs, ec.argRefs)...)
	}
	if len(args) < ar.min || (ar.max >= 0 && len(args) > ar.max) {
		return nil, errAt(name, "%s() takes %s arguments, got %d", fname, arityText(ar), len(args))
	}
	switch fname {
	case "case", "validate":
		if fname == "case" && len(args)%2 != 0 {
			return nil, errAt(name, "case() takes condition/value pairs")
		}
	case "match", "replace":
		if p, ok := constString(args[1]); ok {
			if _, err := conf.CompileRegex(p); err != nil {
				return nil, errAt(name, "%v", err)
			}
		}
	case "searchmatch":
		p, ok := constString(args[0])
		if !ok {
			return nil, errAt(name, "searchmatch() needs a quoted search string")
		}
		toks, err := lex(p, name.pos, modeArgs)
		if err != nil {
			return nil, err
		}
		sx, err := parseSearch(&tokStream{toks: toks})
		if err != nil {
			return nil, err
		}
		ec.opaque = true
		return func(c *execCtx, r *Row) Value { return boolVal(sx.match(r, c)) }, nil
	case "mvfilter":
		refs := uniq(ec.refs[refStart:])
		if len(refs) != 1 {
			return nil, errAt(name, "mvfilter() must reference exactly one field")
		}
		fld, pred := refs[0], args[0]
		return func(c *execCtx, r *Row) Value {
			var out []string
			for _, v := range r.Get(fld).Values() {
				tmp := Row{fields: []field{{fld, Str(v)}}}
				if pred(c, &tmp).truthy() {
					out = append(out, v)
				}
			}
			return Multi(out)
		}, nil
	}
	impl := builtin(fname, args)
	return impl, nil
}

func arityText(a argRange) string {
	switch {
	case a.max < 0:
		return "at least " + strconv.Itoa(a.min)
	case a.min == a.max:
		return strconv.Itoa(a.min)
	}
	return strconv.Itoa(a.min) + " to " + strconv.Itoa(a.max)
}

func uniq(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func builtin(name string, a []evalFn) evalFn {
	arg := func(i int, c *execCtx, r *Row) Value { return a[i](c, r) }
	num1 := func(f func(float64) float64) evalFn {
		return func(c *execCtx, r *Row) Value {
			x, ok := arg(0, c, r).Number()
			if !ok {
				return Value{}
			}
			y := f(x)
			if math.IsNaN(y) {
				return Value{}
			}
			return Num(y)
		}
	}
	str1 := func(f func(string) string) evalFn {
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			if v.k == kMulti {
				out := make([]string, len(v.mv))
				for i, s := range v.mv {
					out[i] = f(s)
				}
				return Multi(out)
			}
			return Str(f(v.String()))
		}
	}
	switch name {
	case "coalesce":
		return func(c *execCtx, r *Row) Value {
			for _, f := range a {
				if v := f(c, r); !v.IsNull() {
					return v
				}
			}
			return Value{}
		}
	case "case":
		return func(c *execCtx, r *Row) Value {
			for i := 0; i+1 < len(a); i += 2 {
				if a[i](c, r).truthy() {
					return a[i+1](c, r)
				}
			}
			return Value{}
		}
	case "validate":
		return func(c *execCtx, r *Row) Value {
			for i := 0; i+1 < len(a); i += 2 {
				if !a[i](c, r).truthy() {
					return a[i+1](c, r)
				}
			}
			return Value{}
		}
	case "if":
		return func(c *execCtx, r *Row) Value {
			if arg(0, c, r).truthy() {
				return arg(1, c, r)
			}
			return arg(2, c, r)
		}
	case "match":
		fixed := constRegex(a[1])
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return Value{}
			}
			re, ok := patternArg(c, r, fixed, a[1])
			if !ok {
				return Value{}
			}
			for _, s := range v.Values() {
				if re.MatchString(s) {
					return boolVal(true)
				}
			}
			return boolVal(false)
		}
	case "like":
		return func(c *execCtx, r *Row) Value { return likeVal(arg(0, c, r), arg(1, c, r)) }
	case "replace":
		fixed := constRegex(a[1])
		return func(c *execCtx, r *Row) Value {
			v, rep := arg(0, c, r), arg(2, c, r)
			if v.IsNull() || rep.IsNull() {
				return Value{}
			}
			re, ok := patternArg(c, r, fixed, a[1])
			if !ok {
				return Value{}
			}
			repl := sedReplacement(rep.String())
			out := make([]string, 0, v.Len())
			for _, s := range v.Values() {
				out = append(out, re.ReplaceAllString(s, repl))
			}
			return Multi(out)
		}
	case "tonumber":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			base := 10
			if len(a) > 1 {
				b, ok := arg(1, c, r).Number()
				if !ok {
					return Value{}
				}
				base = int(b)
			}
			s := strings.TrimSpace(v.String())
			if base == 10 {
				if f, ok := ParseNum(s); ok {
					return Num(f)
				}
				return Value{}
			}
			s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
			n, err := strconv.ParseInt(s, base, 64)
			if err != nil {
				return Value{}
			}
			return Num(float64(n))
		}
	case "tostring":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			if len(a) == 1 {
				if v.k == kMulti {
					return v
				}
				return Str(v.String())
			}
			f, ok := v.Number()
			if !ok {
				return Str(v.String())
			}
			switch strings.ToLower(arg(1, c, r).String()) {
			case "hex":
				return Str("0x" + strings.ToUpper(strconv.FormatInt(int64(f), 16)))
			case "commas":
				return Str(commas(f))
			case "duration":
				return Str(duration(f))
			}
			return Str(v.String())
		}
	case "trim", "ltrim", "rtrim":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			cut := " \t"
			if len(a) > 1 {
				cut = arg(1, c, r).String()
			}
			s := v.String()
			switch name {
			case "trim":
				s = strings.Trim(s, cut)
			case "ltrim":
				s = strings.TrimLeft(s, cut)
			default:
				s = strings.TrimRight(s, cut)
			}
			return Str(s)
		}
	case "lower":
		return str1(strings.ToLower)
	case "upper":
		return str1(strings.ToUpper)
	case "urldecode":
		return str1(func(s string) string {
			if d, err := url.QueryUnescape(s); err == nil {
				return d
			}
			return s
		})
	case "len":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			return Num(float64(len([]rune(v.String()))))
		}
	case "substr":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			st, ok := arg(1, c, r).Number()
			if v.IsNull() || !ok {
				return Value{}
			}
			rs := []rune(v.String())
			start := int(st)
			if start < 0 {
				start = len(rs) + start + 1
			}
			if start < 1 {
				start = 1
			}
			if start > len(rs) {
				return Str("")
			}
			end := len(rs)
			if len(a) > 2 {
				n, ok := arg(2, c, r).Number()
				if !ok {
					return Value{}
				}
				if n < 0 {
					n = 0
				}
				end = start - 1 + int(math.Min(n, float64(len(rs))))
				end = min(len(rs), end)
			}
			return Str(string(rs[start-1 : end]))
		}
	case "split":
		return func(c *execCtx, r *Row) Value {
			v, d := arg(0, c, r), arg(1, c, r)
			if v.IsNull() || d.IsNull() {
				return Value{}
			}
			if d.String() == "" {
				var out []string
				for _, ch := range v.String() {
					out = append(out, string(ch))
				}
				return Multi(out)
			}
			return Multi(strings.Split(v.String(), d.String()))
		}
	case "mvcount":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			return Num(float64(v.Len()))
		}
	case "mvindex":
		return func(c *execCtx, r *Row) Value {
			vs := arg(0, c, r).Values()
			s, ok := arg(1, c, r).Number()
			if len(vs) == 0 || !ok {
				return Value{}
			}
			st := int(s)
			if st < 0 {
				st += len(vs)
			}
			en := st
			if len(a) > 2 {
				e, ok := arg(2, c, r).Number()
				if !ok {
					return Value{}
				}
				en = int(e)
				if en < 0 {
					en += len(vs)
				}
			}
			if st < 0 || st >= len(vs) || en < st {
				return Value{}
			}
			en = min(en, len(vs)-1)
			return Multi(append([]string(nil), vs[st:en+1]...))
		}
	case "mvjoin":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			if v.IsNull() {
				return v
			}
			return Str(strings.Join(v.Values(), arg(1, c, r).String()))
		}
	case "mvappend":
		return func(c *execCtx, r *Row) Value {
			var out []string
			for _, f := range a {
				out = append(out, f(c, r).Values()...)
			}
			return Multi(out)
		}
	case "mvdedup":
		return func(c *execCtx, r *Row) Value { return Multi(uniq(arg(0, c, r).Values())) }
	case "mvsort":
		return func(c *execCtx, r *Row) Value {
			vs := append([]string(nil), arg(0, c, r).Values()...)
			sort.Strings(vs)
			return Multi(vs)
		}
	case "mvzip":
		return func(c *execCtx, r *Row) Value {
			x, y := arg(0, c, r).Values(), arg(1, c, r).Values()
			d := ","
			if len(a) > 2 {
				d = arg(2, c, r).String()
			}
			n := min(len(x), len(y))
			out := make([]string, n)
			for i := 0; i < n; i++ {
				out[i] = x[i] + d + y[i]
			}
			return Multi(out)
		}
	case "isnull":
		return func(c *execCtx, r *Row) Value { return boolVal(arg(0, c, r).IsNull()) }
	case "isnotnull":
		return func(c *execCtx, r *Row) Value { return boolVal(!arg(0, c, r).IsNull()) }
	case "isnum":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			_, ok := v.Number()
			return boolVal(!v.IsNull() && ok)
		}
	case "isstr":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			_, ok := v.Number()
			return boolVal(!v.IsNull() && v.k != kBool && !ok)
		}
	case "typeof":
		return func(c *execCtx, r *Row) Value {
			v := arg(0, c, r)
			switch v.k {
			case kNull:
				return Str("Invalid")
			case kBool:
				return Str("Boolean")
			case kMulti:
				return Str("Multivalue")
			}
			if _, ok := v.Number(); ok {
				return Str("Number")
			}
			return Str("String")
		}
	case "null":
		return func(*execCtx, *Row) Value { return Value{} }
	case "true":
		return func(*execCtx, *Row) Value { return boolVal(true) }
	case "false":
		return func(*execCtx, *Row) Value { return boolVal(false) }
	case "now":
		return func(c *execCtx, _ *Row) Value {
			if c.now.IsZero() {
				return Num(float64(time.Now().Unix()))
			}
			return Num(float64(c.now.Unix()))
		}
	case "time":
		return func(*execCtx, *Row) Value { return Num(float64(time.Now().UnixMicro()) / 1e6) }
	case "strftime":
		return func(c *execCtx, r *Row) Value {
			f, ok := arg(0, c, r).Number()
			lay := arg(1, c, r)
			if !ok || lay.IsNull() {
				return Value{}
			}
			return Str(timefmt.Strftime(epochTime(f).In(c.loc), lay.String()))
		}
	case "strptime":
		return func(c *execCtx, r *Row) Value {
			v, lay := arg(0, c, r), arg(1, c, r)
			if v.IsNull() || lay.IsNull() {
				return Value{}
			}
			t, _, err := timefmt.Strptime(lay.String(), v.String(), c.loc)
			if err != nil {
				return Value{}
			}
			return Num(EpochSeconds(t.UnixNano()))
		}
	case "relative_time":
		return func(c *execCtx, r *Row) Value {
			f, ok := arg(0, c, r).Number()
			spec := arg(1, c, r)
			if !ok || spec.IsNull() {
				return Value{}
			}
			t, err := timefmt.RelativeTime(epochTime(f).In(c.loc), spec.String(), c.loc)
			if err != nil {
				return Value{}
			}
			return Num(EpochSeconds(t.UnixNano()))
		}
	case "round":
		return func(c *execCtx, r *Row) Value {
			x, ok := arg(0, c, r).Number()
			if !ok {
				return Value{}
			}
			n := 0.0
			if len(a) > 1 {
				if n, ok = arg(1, c, r).Number(); !ok {
					return Value{}
				}
			}
			return Num(roundHalfUp(x, int(n)))
		}
	case "floor":
		return num1(math.Floor)
	case "ceil", "ceiling":
		return num1(math.Ceil)
	case "abs":
		return num1(math.Abs)
	case "sqrt":
		return num1(math.Sqrt)
	case "exp":
		return num1(math.Exp)
	case "ln":
		return num1(math.Log)
	case "log":
		return func(c *execCtx, r *Row) Value {
			x, ok := arg(0, c, r).Number()
			if !ok || x <= 0 {
				return Value{}
			}
			base := 10.0
			if len(a) > 1 {
				if base, ok = arg(1, c, r).Number(); !ok {
					return Value{}
				}
			}
			return Num(math.Log(x) / math.Log(base))
		}
	case "pow":
		pow := arith(func(x, y float64) (float64, bool) { return math.Pow(x, y), true })
		x, y := a[0], a[1]
		return func(c *execCtx, r *Row) Value { return pow(x(c, r), y(c, r)) }
	case "min", "max":
		return func(c *execCtx, r *Row) Value {
			// Eval min/max: numbers compare numerically, and strings are
			// greater than numbers (so max prefers strings, min numbers).
			var best Value
			for _, f := range a {
				for _, v := range scalars(f(c, r)) {
					if v.IsNull() {
						continue
					}
					if best.IsNull() {
						best = v
						continue
					}
					x := cmpText(v.String(), best.String())
					if (name == "max" && x > 0) || (name == "min" && x < 0) {
						best = v
					}
				}
			}
			if f, ok := best.Number(); ok {
				return Num(f)
			}
			return best
		}
	case "cidrmatch":
		return func(c *execCtx, r *Row) Value {
			cidr, ipv := arg(0, c, r), arg(1, c, r)
			_, n, err := net.ParseCIDR(cidr.String())
			if err != nil || ipv.IsNull() {
				return boolVal(false)
			}
			for _, s := range ipv.Values() {
				if ip := net.ParseIP(strings.TrimSpace(s)); ip != nil && n.Contains(ip) {
					return boolVal(true)
				}
			}
			return boolVal(false)
		}
	case "in":
		return inFn(a[0], a[1:])
	}
	panic("spl: builtin without implementation: " + name)
}

// patternArg is the regex of match() and replace(): fixed when the pattern is a literal
// (compiled once by constRegex), otherwise the row's pattern compiled through the run's cache.
// ok is false for a null or invalid pattern.
func patternArg(c *execCtx, r *Row, fixed *regexp.Regexp, pattern evalFn) (*regexp.Regexp, bool) {
	if fixed != nil {
		return fixed, true
	}
	p := pattern(c, r)
	if p.IsNull() {
		return nil, false
	}
	re, err := c.regex(p.String())
	return re, err == nil
}

// constRegex precompiles a literal pattern argument; nil when the pattern is
// computed per row.
func constRegex(fn evalFn) *regexp.Regexp {
	p, ok := constString(fn)
	if !ok {
		return nil
	}
	re, err := conf.CompileRegex(p)
	if err != nil {
		return nil
	}
	return re
}

// EpochSeconds turns nanoseconds into _time's epoch seconds. float64(ns)/1e9 rounds twice and
// makes .002 print as .0019999; whole seconds plus microseconds is the nearest float64 to the
// microsecond value, which prints as Splunk shows it.
func EpochSeconds(ns int64) float64 {
	sec, rem := ns/1e9, ns%1e9
	if rem < 0 {
		sec, rem = sec-1, rem+1e9
	}
	return float64(sec) + float64((rem+500)/1000)/1e6
}

// EpochNanos is the inverse of EpochSeconds, rounded to the microsecond like epochTime.
func EpochNanos(t float64) int64 {
	sec := math.Floor(t)
	return int64(sec)*1e9 + int64(math.Round((t-sec)*1e6))*1e3
}

// epochTime converts _time-style epoch seconds. A float64 near 1.8e9 holds only about a quarter of
// a microsecond, so .530 arrives as .52999997: round to the microsecond, or %3N would print .529.
func epochTime(f float64) time.Time {
	sec := math.Floor(f)
	usec := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(usec)*1e3)
}

// roundHalfUp rounds to n decimals with ties going up (4.5 -> 5, -4.5 -> -4),
// as observed on Splunk.
func roundHalfUp(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	y := math.Floor(x*p + 0.5)
	// x*p can land just below .5 through binary error (2.675*100); use the
	// decimal text to decide ties.
	if s := strconv.FormatFloat(x*p, 'f', 6, 64); strings.HasSuffix(s, ".500000") {
		y = math.Floor(x*p) + 1
		if x*p < 0 {
			y = math.Ceil(x * p)
		}
	}
	return y / p
}

func likeVal(v, p Value) Value {
	if v.IsNull() || p.IsNull() {
		return Value{}
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	for _, ch := range p.String() {
		switch ch {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Value{}
	}
	for _, s := range v.Values() {
		if re.MatchString(s) {
			return boolVal(true)
		}
	}
	return boolVal(false)
}

func commas(f float64) string {
	s := strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, ch := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

func duration(f float64) string {
	s := int64(f)
	d := s / 86400
	s %= 86400
	out := ""
	if d > 0 {
		out = strconv.FormatInt(d, 10) + "+"
	}
	return out + pad2(s/3600) + ":" + pad2(s%3600/60) + ":" + pad2(s%60)
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// sedReplacement turns PCRE/sed backreferences (\1) into Go's ${1}.
func sedReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			n := s[i+1]
			if isDigit(n) {
				b.WriteString("${")
				b.WriteByte(n)
				b.WriteString("}")
				i++
				continue
			}
			b.WriteByte(n)
			i++
			continue
		}
		if c == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
