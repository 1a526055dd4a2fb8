package conf

import (
	"reflect"
	"regexp"
	"testing"
)

func TestFormatExpand(t *testing.T) {
	tests := []struct {
		name, format, regex, text, want string
	}{
		{"literal", "nullQueue", `(x)`, "x", "nullQueue"},
		{"groups and literals", `"$1[REDACTED]$3"`, `(a)(b)(c)`, "abc", `"a[REDACTED]c"`},
		{"unknown groups and bare dollars stay literal", "$1$2$ $x $10", `(a)`, "a", "a$2$ $x $10"},
		{"group that did not take part", "[$1|$2]", `(a)|(b)`, "b", "[|b]"},
		{"$0 is the whole match", "<$0>", `b(c)`, "abcd", "<bc>"},
		{"empty", "", `(a)`, "a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := regexp.MustCompile(tt.regex)
			f := ParseFormat(tt.format, re.NumSubexp())
			if len(f) == 0 {
				t.Fatal("ParseFormat returned no parts")
			}
			if got := f.Expand(tt.text, re.FindStringSubmatchIndex(tt.text)); got != tt.want {
				t.Errorf("Expand = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseFieldFormat(t *testing.T) {
	re := regexp.MustCompile(`(\w+)=(\w+) (.*)`)
	text := "user=bob said hello there"
	m := re.FindStringSubmatchIndex(text)
	tests := []struct {
		format string
		want   [][2]string
	}{
		{`user::$2 msg::"$3"`, [][2]string{{"user", "bob"}, {"msg", "said hello there"}}},
		{"$1::$2\tsite::static", [][2]string{{"user", "bob"}, {"site", "static"}}},
		{`"who"::"$2 x"`, [][2]string{{"who", "bob x"}}},
	}
	for _, tt := range tests {
		fields, err := ParseFieldFormat(tt.format, re.NumSubexp())
		if err != nil {
			t.Fatalf("ParseFieldFormat(%q): %v", tt.format, err)
		}
		var got [][2]string
		for _, f := range fields {
			got = append(got, [2]string{f.Name.Expand(text, m), f.Value.Expand(text, m)})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFieldFormat(%q) expands to %q, want %q", tt.format, got, tt.want)
		}
	}
	for _, bad := range []string{"", "  ", "novalue", "::x", "a::b c"} {
		if _, err := ParseFieldFormat(bad, 3); err == nil {
			t.Errorf("ParseFieldFormat(%q) succeeded, want an error", bad)
		}
	}
}

func TestSplitQuoted(t *testing.T) {
	got := SplitQuoted(" a  \"b c\"\td::\"e f\" \n")
	want := []string{"a", `"b c"`, `d::"e f"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SplitQuoted = %q, want %q", got, want)
	}
}
