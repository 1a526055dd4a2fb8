package hec

import (
	"encoding/base64"
	"testing"
)

func TestExtractToken(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name      string
		header    string
		query     string
		hasQuery  bool
		want      string
		fromQuery bool
		code      int
	}{
		{name: "splunk scheme", header: "Splunk abc", want: "abc"},
		{name: "splunk scheme any case", header: "splunk abc", want: "abc"},
		{name: "basic", header: basic("x:abc"), want: "abc"},
		{name: "basic any user", header: basic("someone:abc"), want: "abc"},
		{name: "query wins over header", header: "Splunk abc", query: "qqq", hasQuery: true, want: "qqq", fromQuery: true},
		{name: "no credentials", code: CodeTokenRequired},
		{name: "empty query token", query: "", hasQuery: true, code: CodeTokenRequired},
		{name: "bare token", header: "abc", code: CodeInvalidAuth},
		{name: "bearer", header: "Bearer abc", code: CodeInvalidAuth},
		{name: "splunk without token", header: "Splunk", code: CodeInvalidAuth},
		{name: "basic not base64", header: "Basic !!!", code: CodeInvalidAuth},
		{name: "basic without colon", header: basic("abc"), code: CodeInvalidAuth},
		{name: "basic empty password", header: basic("x:"), code: CodeInvalidAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := extractToken(tt.header, tt.query, tt.hasQuery)
			if tt.code != 0 {
				if err == nil || err.Code != tt.code {
					t.Fatalf("got %v, want code %d", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.token != tt.want || c.fromQuery != tt.fromQuery {
				t.Fatalf("got %+v, want token %q fromQuery %v", c, tt.want, tt.fromQuery)
			}
		})
	}
}

func TestValidChannel(t *testing.T) {
	for c, want := range map[string]bool{
		"0aa2b3a2-6e4c-4d8b-9f7f-2f1b2c3d4e5f": true,
		"0AA2B3A2-6E4C-4D8B-9F7F-2F1B2C3D4E5F": true,
		"0aa2b3a26e4c4d8b9f7f2f1b2c3d4e5f":     false,
		"nope":                                 false,
		"":                                     false,
		"0aa2b3a2-6e4c-4d8b-9f7f-2f1b2c3d4e5g": false,
		"0aa2b3a2+6e4c-4d8b-9f7f-2f1b2c3d4e5f": false,
	} {
		if got := validChannel(c); got != want {
			t.Errorf("validChannel(%q) = %v, want %v", c, got, want)
		}
	}
}
