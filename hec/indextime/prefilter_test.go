package indextime

import (
	"regexp"
	"testing"
)

func TestRequiredLiteral(t *testing.T) {
	tests := []struct{ re, want string }{
		{`([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})`, "@"},
		{`(?i)(api[_-]?key|authorization|bearer)[=: ]+[^&\s]+`, ""},
		{`(?i)secret=\w+`, ""},
		{`a|b`, ""},
		{`x*token=(\w+)`, "token="},
		{`(ab)?c`, "c"},
		{`(?:abc)+d`, "abc"},
		{`(?:abc){0,2}d`, "d"},
		{`(?:abc)*`, ""},
		{`\d+`, ""},
	}
	for _, tt := range tests {
		if got := requiredLiteral(regexp.MustCompile(tt.re)); got != tt.want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", tt.re, got, tt.want)
		}
	}
}
