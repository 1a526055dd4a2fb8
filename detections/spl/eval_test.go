package spl

import (
	"strings"
	"testing"
	"time"
)

func TestEvalFunctions(t *testing.T) {
	base := row("s", "  Hello World ", "n", "42", "f", 4.5, "neg", -4.5, "mv", []string{"b", "a", "c"},
		"ip", "10.1.2.3", "rt", "1m30s", "_time", 1700000000.25, "empty", "")
	tests := []struct{ expr, want string }{
		{`coalesce(missing, n, "x")`, "42"},
		{`coalesce(missing)`, "<null>"},
		{`case(n>100, "big", n>10, "mid", 1=1, "small")`, "mid"},
		{`case(n>100, "big")`, "<null>"},
		{`if(isnotnull(missing), 1, 2)`, "2"},
		{`if(match(s, "W\w+"), "yes", "no")`, "yes"},
		{`if(match(mv, "^c$"), "any", "none")`, "any"},
		{`if(like(n, "4%"), 1, 0)`, "1"},
		{`replace(s, "(\w+) (\w+)", "\2 \1")`, "  World Hello "},
		{`tonumber("0x1F", 16)`, "31"},
		{`tonumber("12abc")`, "<null>"},
		{`tonumber(n) * 2`, "84"},
		{`tostring(1234567, "commas")`, "1,234,567"},
		{`tostring(3725, "duration")`, "01:02:05"},
		{`tostring(255, "hex")`, "0xFF"},
		{`trim(s)`, "Hello World"},
		{`ltrim(s)`, "Hello World "},
		{`rtrim("xxhixx", "x")`, "xxhi"},
		{`lower(s) . upper("a")`, "  hello world A"},
		{`len(trim(s))`, "11"},
		{`substr("abcdef", 2, 3)`, "bcd"},
		{`substr("abcdef", -2)`, "ef"},
		{`mvjoin(split("a,b,c", ","), "|")`, "a|b|c"},
		{`mvcount(mv)`, "3"},
		{`mvindex(mv, 1)`, "a"},
		{`mvindex(mv, -1)`, "c"},
		{`mvjoin(mvindex(mv, 0, 1), "+")`, "b+a"},
		{`mvjoin(mvappend(mv, "d", missing), "")`, "bacd"},
		{`mvjoin(mvfilter(match(mv, "[ab]")), ",")`, "b,a"},
		{`isnull(missing)`, "true"},
		{`isnum(n)`, "true"},
		{`isstr(n)`, "false"},
		{`isstr(s)`, "true"},
		{`null()`, "<null>"},
		{`now()`, "1795435200"},
		{`strftime(_time, "%Y-%m-%d %H:%M:%S")`, "2023-11-14 22:13:20"},
		{`strptime("2025-10-05 10:00:00", "%Y-%m-%d %H:%M:%S")`, "1759658400"},
		{`relative_time(now(), "-1d@d")`, "1795305600"},
		{`round(f)`, "5"},
		{`round(neg)`, "-4"},
		{`round(2.675, 2)`, "2.68"},
		{`round(10/3, 2)`, "3.33"},
		{`floor(f) . ":" . ceil(f)`, "4:5"},
		{`abs(neg)`, "4.5"},
		{`min(3, 10, "abc")`, "3"},
		{`max(3, 10, "abc")`, "abc"},
		{`max(3, 10)`, "10"},
		{`if(cidrmatch("10.0.0.0/8", ip), "in", "out")`, "in"},
		{`urldecode("a%20b%2Fc")`, "a b/c"},
		{`if(in(n, "1", "42"), "y", "n")`, "y"},
		{`if(n IN ("1", "42"), "y", "n")`, "y"},
		{`1/0`, "<null>"},
		{`7 % 3`, "1"},
		{`"a" + "b"`, "ab"},
		{`1 + "b"`, "<null>"},
		{`missing . "x"`, "<null>"},
		{`-n + 2`, "-40"},
		{`2 + 3 * 4`, "14"},
		{`(2 + 3) * 4`, "20"},
		{`if(n > 9, "num", "str")`, "num"},
		{`if("10" < "9", "lex", "num")`, "num"},
		{`if("abc" < "abd", "y", "n")`, "y"},
		{`if(true() XOR false(), 1, 0)`, "1"},
		{`if(NOT isnull(n) AND n=42 OR 1=0, 1, 0)`, "1"},
		{`if(searchmatch("level=error"), 1, 0)`, "0"},
		{`if(s="  Hello World ", 1, 0)`, "1"},
		{`if(s="  hello world ", 1, 0)`, "0"},
		{`'n' + 1`, "43"},
		{`mvjoin(mvdedup(mvappend("a","b","a")), ",")`, "a,b"},
		{`mvjoin(mvsort(mv), ",")`, "a,b,c"},
		{`typeof(n) . typeof(s) . typeof(missing)`, "NumberStringInvalid"},
		{`if(isnotnull(empty), "set", "null")`, "set"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := CompileEval(tc.expr)
			if err != nil {
				t.Fatalf("CompileEval: %v", err)
			}
			r := base.Clone()
			v := e.EvalAt(&r, time.Unix(1795435200, 0), time.UTC)
			got := "<null>"
			if !v.IsNull() {
				got = strings.Join(v.Values(), "|")
			}
			if got != tc.want {
				t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

func TestEvalFieldsAndErrors(t *testing.T) {
	e, err := CompileEval(`if(isnull(a), b . c, trim(a))`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Fields(), ","); got != "a,b,c" {
		t.Errorf("Fields() = %s, want a,b,c", got)
	}
	bad := []struct{ expr, want string }{
		{`nosuchfn(a)`, "unknown function nosuchfn()"},
		{`if(a, b)`, "if() takes 3 arguments"},
		{`case(a, 1, b)`, "condition/value pairs"},
		{`a +`, "expected a value"},
		{`match(a, "(?=x)")`, "lookahead"},
		{`(a`, `expected ")"`},
	}
	for _, tc := range bad {
		_, err := CompileEval(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileEval(%q) error = %v, want it to contain %q", tc.expr, err, tc.want)
		}
	}
}

func TestEvalCommandSequentialAndNull(t *testing.T) {
	res := runOn(t, `search * | eval a=1, b=a+1, c=missing, d=if(b=2, "two", "other")`, []Row{row("x", "1")})
	if got := render(res.Rows); got != "a=1 b=2 d=two x=1" {
		t.Errorf("got %s", got)
	}
}

func TestExprEvalConcurrent(t *testing.T) {
	e, err := CompileEval(`if(match(a, b), "y", "n") . now()`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			r := row("a", "abc", "b", "^a")
			var v Value
			for j := 0; j < 200; j++ {
				v = e.Eval(&r)
			}
			done <- v.String()
		}()
	}
	for i := 0; i < 8; i++ {
		got := <-done
		if _, ok := ParseNum(strings.TrimPrefix(got, "y")); !strings.HasPrefix(got, "y") || !ok {
			t.Errorf("Eval = %q, want y<epoch seconds>", got)
		}
	}
}

func TestStrftimeSubsecondsSurviveFloatSeconds(t *testing.T) {
	// 1795431900.530 is not exact in float64; Splunk prints the stored milliseconds.
	e, err := CompileEval(`strftime(1795431900.530, "%S.%3N")`)
	if err != nil {
		t.Fatal(err)
	}
	var r Row
	if got := e.EvalAt(&r, time.Unix(1795435200, 0), time.UTC).String(); got != "00.530" {
		t.Errorf("strftime %%3N = %q, want 00.530", got)
	}
}

func TestEpochSecondsPrintsLikeSplunk(t *testing.T) {
	for _, c := range []struct {
		ns   int64
		want string
	}{
		{1767225600_002_000_000, "1767225600.002"},
		{1767225600_530_000_000, "1767225600.53"},
		{1767225600_000_000_000, "1767225600"},
		{1759431300_123_456_000, "1759431300.123456"},
	} {
		if got := FormatNum(EpochSeconds(c.ns)); got != c.want {
			t.Errorf("EpochSeconds(%d) prints %s, want %s", c.ns, got, c.want)
		}
		if back := EpochNanos(EpochSeconds(c.ns)); back != c.ns {
			t.Errorf("EpochNanos(EpochSeconds(%d)) = %d", c.ns, back)
		}
	}
}
