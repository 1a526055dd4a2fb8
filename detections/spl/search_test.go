package spl

import (
	"reflect"
	"testing"
)

func TestSearchKeywordMatching(t *testing.T) {
	lines := []string{
		`[GIN] 2025/10/05 - 10:00:00 | 200 | 1.2s | 127.0.0.1 | POST "/api/generate"`,                                         // 0
		`[GIN-debug] Listening and serving HTTP on 127.0.0.1:11434`,                                                           // 1
		`user login failed for engine`,                                                                                        // 2
		`time=2025-10-05T10:00:00Z level=ERROR source=server.go:544 msg="llama runner process has terminated: exit status 2"`, // 3
		`goroutine 1 runtime.goexit crashed`,                                                                                  // 4
		`llama_kv_cache_init: CPU KV buffer size = 512.00 MiB`,                                                                // 5
	}
	tests := []struct {
		name, q string
		want    []string // _time offsets as row indexes
	}{
		{"bare term matches bracketed token, not substrings", `GIN`, []string{"0", "1"}},
		{"quoted phrase with breakers", `"[GIN]"`, []string{"0"}},
		{"case-insensitive", `gin`, []string{"0", "1"}},
		{"term is not a substring", `exit`, []string{"3"}},
		{"minor breaker underscore splits", `kv`, []string{"5"}},
		{"leading and trailing wildcard is contains", `"*goexit*"`, []string{"4"}},
		{"trailing wildcard is prefix", `crash*`, []string{"4"}},
		{"leading wildcard is suffix", `*ngine`, []string{"2"}},
		{"phrase across breakers", `"exit status 2"`, []string{"3"}},
		{"phrase must align on tokens", `"xit status"`, nil},
		{"dotted term", `server.go`, []string{"3"}},
		{"star matches all", `*`, []string{"0", "1", "2", "3", "4", "5"}},
		{"implicit AND", `llama terminated`, []string{"3"}},
		{"TERM()", `TERM(127.0.0.1)`, []string{"0", "1"}},
		{"CASE() is case-sensitive", `CASE(gin)`, nil},
	}
	rows := rawRows(lines...)
	for i := range rows {
		rows[i].Set("i", Num(float64(i)))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runOn(t, tc.q, rows)
			got := column(res.Rows, "i")
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("search %s matched rows %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestSearchPrecedenceORBindsTighterThanAND(t *testing.T) {
	rows := []Row{
		row("_raw", "a b", "i", 0),
		row("_raw", "c", "i", 1),
		row("_raw", "a c", "i", 2),
		row("_raw", "b", "i", 3),
	}
	tests := []struct{ q, eval string }{
		// search: a b OR c == a AND (b OR c)
		{`a b OR c`, `(searchmatch("a") AND searchmatch("b")) OR searchmatch("c")`},
	}
	for _, tc := range tests {
		got := column(runOn(t, tc.q, rows).Rows, "i")
		if want := []string{"0", "2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("search %q = %v, want %v (OR before AND)", tc.q, got, want)
		}
		// where/eval: AND before OR, so the same words group the other way.
		got = column(runOn(t, `search * | where `+tc.eval, rows).Rows, "i")
		if want := []string{"0", "1", "2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("where %q = %v, want %v (AND before OR)", tc.eval, got, want)
		}
	}
	// where without parentheses: a AND b OR c groups as (a AND b) OR c.
	got := column(runOn(t, `search * | where searchmatch("a") AND searchmatch("b") OR searchmatch("c")`, rows).Rows, "i")
	if want := []string{"0", "1", "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("where precedence = %v, want %v", got, want)
	}
	// NOT binds tighter than OR in search: NOT a OR c == (NOT a) OR c.
	got = column(runOn(t, `NOT a OR c`, rows).Rows, "i")
	if want := []string{"1", "2", "3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NOT a OR c = %v, want %v", got, want)
	}
}

func TestSearchFieldValue(t *testing.T) {
	rows := []Row{
		row("i", 0, "level", "WARN", "msg", "dial tcp: lookup registry failed", "n", "10"),
		row("i", 1, "level", "warn", "msg", "client connection closed", "n", "9"),
		row("i", 2, "level", "ERROR", "n", "1.0", "ip", "10.1.2.3"),
		row("i", 3, "level", "INFO", "mv", []string{"x", "y"}, "n", "abc", "ip", "192.168.0.1"),
	}
	tests := []struct {
		name, q string
		want    []string
	}{
		{"whole value, case-insensitive", `level=WARN`, []string{"0", "1"}},
		{"not a substring", `level=WAR`, nil},
		{"glob contains", `msg="*dial tcp*"`, []string{"0"}},
		{"glob prefix", `level=E*`, []string{"2"}},
		{"string equality: 1 does not match 1.0", `n=1`, nil},
		{"numeric compare when both numbers; abc > 9 as text", `n>9`, []string{"0", "3"}},
		{"numeric compare 9 < 10", `n<10`, []string{"1", "2"}},
		{"lexicographic when not numbers", `n>a`, []string{"3"}},
		{"multivalue: any value", `mv=y`, []string{"3"}},
		{"NOT f=* finds missing fields", `NOT msg=*`, []string{"2", "3"}},
		{"f!=* never matches", `msg!=*`, nil},
		{"f!=v needs the field", `msg!="client connection closed"`, []string{"0"}},
		{"IN list with wildcard", `level IN (error, "inf*")`, []string{"2", "3"}},
		{"CIDR value", `ip="10.0.0.0/8"`, []string{"2"}},
		{"OR of field values", `level=INFO OR level=ERROR`, []string{"2", "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := column(runOn(t, tc.q, rows).Rows, "i")
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("search %s = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestKwMatcher(t *testing.T) {
	tests := []struct {
		pat, text string
		want      bool
	}{
		{"gin", "[gin]", true},
		{"gin", "login", false},
		{"gin", "gin-debug", true},
		{"*llama runner*", "a llama runner started", true},
		{"llama runner", "xllama runner", false},
		{"a*c", "a b c", true},
		{"a*c", "a bc", true}, // inner wildcard spans anything; only the ends align
		{"a*c", "a bcd", false},
		{"/api/generate", `post "/api/generate"`, true},
	}
	for _, tc := range tests {
		m := newKwMatcher(tc.pat, false)
		if got := m.matchText(tc.text); got != tc.want {
			t.Errorf("kw %q on %q = %v, want %v", tc.pat, tc.text, got, tc.want)
		}
	}
}
