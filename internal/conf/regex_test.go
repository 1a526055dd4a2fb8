package conf

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileRegexRefusesPCRE(t *testing.T) {
	tests := []struct {
		pattern   string
		construct string
		offset    int
	}{
		{`a(?=b)`, "lookahead (?=", 1},
		{`a(?!b)`, "negative lookahead (?!", 1},
		{`(?<=a)b`, "lookbehind (?<=", 0},
		{`(?<!a)b`, "negative lookbehind (?<!", 0},
		{`(?>ab)`, "atomic group (?>", 0},
		{`(?|a|b)`, "branch reset group (?|", 0},
		{`a(?#note)`, "comment group (?#", 1},
		{`(?(1)a|b)`, "conditional group (?(", 0},
		{`(a(?R))`, "recursion/subroutine call (?R", 2},
		{`(a)(?1)`, "recursion/subroutine call (?1", 3},
		{`(a)(?-1)`, "recursion/subroutine call (?-", 3},
		{`(?<n>a)(?&n)`, "recursion/subroutine call (?&", 7},
		{`(?<n>a)(?P>n)`, "recursion/subroutine call (?P>", 7},
		{`(?<n>a)(?P=n)`, "named backreference (?P=", 7},
		{`(a)\1`, `backreference \1`, 3},
		{`(?<n>a)\k<n>`, `backreference \k`, 7},
		{`(a)\g1`, `backreference \g`, 3},
		{`a\Kb`, `match reset \K`, 1},
		{`\Gab`, `anchor \G`, 0},
		{`ab\Z`, `anchor \Z (use \z or $)`, 2},
		{`a\hb`, `escape \h`, 1},
		{`a\Rb`, `escape \R`, 1},
		{`a++`, "possessive quantifier ++", 1},
		{`a*+`, "possessive quantifier *+", 1},
		{`a?+`, "possessive quantifier ?+", 1},
		{`a{2,3}+`, "possessive quantifier {2,3}+", 1},
		{`(*UTF)a`, "verb (*...)", 0},
		{`[[:alpha:]](?=x)`, "lookahead (?=", 11},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			re, err := CompileRegex(tt.pattern)
			if err == nil {
				t.Fatalf("CompileRegex(%q) = %v, want an error", tt.pattern, re)
			}
			var re2 *RegexError
			if !errors.As(err, &re2) {
				t.Fatalf("error %v (%T) is not a *RegexError", err, err)
			}
			if re2.Construct != tt.construct || re2.Offset != tt.offset || re2.Pattern != tt.pattern {
				t.Errorf("RegexError = %+v, want construct %q at %d", re2, tt.construct, tt.offset)
			}
			if !errors.Is(err, ErrUnsupportedRegex) {
				t.Errorf("errors.Is(%v, ErrUnsupportedRegex) = false", err)
			}
			for _, w := range []string{tt.construct, "not supported", "RE2"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCompileRegexAccepts(t *testing.T) {
	tests := []struct {
		pattern, input string
		groups         map[string]string
	}{
		{`(?<k>\w+)=(?'v'\d+)`, "x=12", map[string]string{"k": "x", "v": "12"}},
		{`(?P<k>\w+)`, "abc", map[string]string{"k": "abc"}},
		// Escaped and bracketed look-alikes of refused constructs are literals.
		{`\(\?=(?<a>[)(?=]+)`, "(?=(?=", map[string]string{"a": "(?="}},
		{`(?<a>[]\\1]+)`, `]\1`, map[string]string{"a": `]\1`}},
		{`(?<a>[^]x]+)`, "abc", map[string]string{"a": "abc"}},
		{`(?<a>[[:digit:]\]]+)`, "1]2", map[string]string{"a": "1]2"}},
		{`(?i)(?<a>a{2}?)`, "AA", map[string]string{"a": "AA"}},
		{`(?<a>\+\+)`, "++", map[string]string{"a": "++"}},
		{`(?<a>\d+?)x`, "12x", map[string]string{"a": "12"}},
		{`(?<a>a{,2}+)`, "a{,2}", map[string]string{"a": "a{,2}"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			re, err := CompileRegex(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			m := re.FindStringSubmatch(tt.input)
			if m == nil {
				t.Fatalf("%q does not match %q", tt.pattern, tt.input)
			}
			for name, want := range tt.groups {
				if got := m[re.SubexpIndex(name)]; got != want {
					t.Errorf("group %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestCompileRegexMalformed(t *testing.T) {
	for _, p := range []string{`(unclosed`, `a(?'n)b`, `x\`} {
		_, err := CompileRegex(p)
		var re2 *RegexError
		if !errors.As(err, &re2) || re2.Construct != "" || re2.Err == nil {
			t.Fatalf("CompileRegex(%q) = %v, want a *RegexError with Err", p, err)
		}
		if errors.Is(err, ErrUnsupportedRegex) {
			t.Errorf("malformed %q reported as an unsupported construct", p)
		}
		if !strings.Contains(err.Error(), `regex "`) {
			t.Errorf("error %q does not quote the pattern", err)
		}
	}
}
