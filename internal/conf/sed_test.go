package conf

import (
	"errors"
	"strings"
	"testing"
)

func TestSedApply(t *testing.T) {
	tests := []struct {
		expr, in, want string
	}{
		{`s/o/0/`, "foo boo", "f0o boo"},
		{`s/o/0/3`, "foo boo", "foo b0o"},
		{`s/o/0/2g`, "foo boo", "fo0 b00"},
		{`s/(\d+)/<\1>/g`, "a1b22", "a<1>b<22>"},
		{`s/(a)/\1\1/2`, "aaa", "aaaa"},
		{`s/KEY=\w+/key=x/gi`, "key=1 KEY=2", "key=x key=x"},
		{`s#/a\#b#X\#Y#g`, "/a#b/a#b", "X#YX#Y"},
		{`s/\/tmp\//\/var\//`, "/tmp/x", "/var/x"},
		{`s/x/a\tb\n\\&/`, "x", "a\tb\n\\&"},
		{`s/(a)/[\2]/`, "a", "[]"},
		{`y/abc/xyz/`, "aabbcc-d", "xxyyzz-d"},
		{` s/$/ end/ `, "line", "line end"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			sed, err := ParseSed(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := sed.Apply(tt.in); got != tt.want {
				t.Errorf("Apply(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSedErrors(t *testing.T) {
	tests := []struct {
		expr, want string
		regex      bool
	}{
		{`x/a/b/`, "want s/regex/replacement/flags or y/from/to/", false},
		{`s/a/b`, "missing closing delimiter", false},
		{`sxaxbx`, "invalid delimiter", false},
		{`s/a/b/q`, "unknown flag 'q'", false},
		{`s/a/b/0`, "invalid occurrence number", false},
		{`y/ab/c/`, "equal length", false},
		{`y/ab/cd/g`, "y takes no flags", false},
		{`s/(a)\1/b/`, `backreference \1`, true},
		{`s/(unclosed/b/`, "missing closing )", true},
	}
	for _, tt := range tests {
		_, err := ParseSed(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSed(%q) = %v, want an error containing %q", tt.expr, err, tt.want)
			continue
		}
		var rerr *RegexError
		if errors.As(err, &rerr) != tt.regex {
			t.Errorf("ParseSed(%q): *RegexError = %v, want %v", tt.expr, !tt.regex, tt.regex)
		}
	}
}
