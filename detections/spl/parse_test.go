package spl

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		q       string
		pos     int
		contain string
	}{
		{`error | nosuch x`, 8, `unknown search command "nosuch"`},
		{`error | eval x=nosuchfn(a)`, 15, "unknown function nosuchfn()"},
		{`error | eval x=if(a`, 19, `expected ","`},
		{`error | where`, 8, "where needs an expression"},
		{`error | stats bogus(x)`, 14, "unknown stats function bogus"},
		{`error | stats count by`, 22, "by needs at least one field"},
		{`error "unterminated`, 6, "unterminated quoted string"},
		{`error | rex "(?<a>x)(?=y)"`, 12, "lookahead (?="},
		{`error | rex "(?<a>x)\1"`, 12, `backreference \1`},
		{`error | rex "(?<a>x++)"`, 12, "possessive quantifier"},
		{`error | rex "(?>(?<a>x))"`, 12, "atomic group"},
		{`error | rex "a\K(?<a>x)"`, 12, `match reset \K`},
		{`error | rex "(?<=a)(?<b>x)"`, 12, "lookbehind (?<="},
		{`error | rex "nogroup"`, 12, "no named capture group"},
		{`error | bin _time`, 8, "bin needs span="},
		{`error | sort`, 8, "sort needs a field"},
		{`error | head x`, 13, "head takes a row count"},
		{`error | | head`, 7, "empty command between pipes"},
		{`a OR`, 4, "expected"},
		{`(a b`, 4, `expected ")"`},
		{`error | from datamodel Risk.All_Risk`, 8, "from must be the first command"},
		{`| from datamodel Web.Web`, 7, "not supported"},
		{"`nosuchmacro`", 0, "unknown macro nosuchmacro"},
		{`error | eval a b`, 15, `expected "="`},
		{`error | stats count(eval(x>1))`, 30, "needs AS <name>"},
		{`error | stats count(eval(x>))`, 27, "expected a value"},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			_, err := Parse(tc.q, nil)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error", tc.q)
			}
			if !strings.Contains(err.Error(), tc.contain) {
				t.Errorf("error %q does not contain %q", err, tc.contain)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Pos != tc.pos {
				t.Errorf("error position = %d, want %d (%v)", pe.Pos, tc.pos, err)
			}
			if !strings.Contains(err.Error(), "position") {
				t.Errorf("error %q does not name the position", err)
			}
		})
	}
}

func TestParseTokenNamed(t *testing.T) {
	_, err := Parse(`x | eval y=1 +* 2`, nil)
	if err == nil || !strings.Contains(err.Error(), `near "*"`) {
		t.Errorf("error %v should name the offending token", err)
	}
}

func TestParseAccepts(t *testing.T) {
	ok := []string{
		`search index=main sourcetype="ollama:server" earliest=-70m@m latest=-10m@m`,
		`* | stats count`,
		`"GIN" ("*/api/generate*" OR "*/v1/chat/completions*")`,
		`a NOT b | where x>1 AND (y<2 OR z="q") | table a, b`,
		`x | rex field=_raw "\|\s+(?<client_ip>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\s+\|"`,
		`x | rex "(?P<a>x)" | rex "(?'b'y)"`,
		`x | sort - _time, num(count) | head limit=5`,
		`x | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime) | fields - _raw`,
		`| from datamodel Risk.All_Risk | search normalized_risk_object IN ("1.2.3.4") starthoursago=168 | stats count by normalized_risk_object`,
		`| from datamodel:Risk.All_Risk | stats sum(risk_score) as score by risk_object`,
		`x | eval 'a b'=1, c=a.b, d='a b'."x"`,
		`x | timechart span=5m count by host`,
		`x | top limit=3 src by host | rare uri_path`,
		`x | eventstats dc(src) as n by host | dedup 2 host keepempty=true | fillnull value=0 | mvexpand src`,
		`x | where like(a, "%b_") AND NOT isnull(c) XOR d!=1`,
		`x | rex field=a mode=sed "s/\d/N/g" | rex mode=sed field=b "y/ab/AB/"`,
		`x | bucket span=1d _time | rename _time as day`,
	}
	for _, q := range ok {
		if _, err := Parse(q, nil); err != nil {
			t.Errorf("Parse(%q): %v", q, err)
		}
	}
}

func TestPushdown(t *testing.T) {
	tests := []struct {
		q    string
		want string // "" = all streams
	}{
		{`sourcetype="ollama:server" level=WARN`, "{ ollama:server}"},
		{`index=main sourcetype=x`, "{main x}"},
		{`(index=* sourcetype="ollama:server") GIN`, "{ ollama:server}"},
		{`index=main`, "{main }"},
		{`sourcetype=a OR sourcetype=b`, ""},
		{`sourcetype=oll*`, ""},
		{`NOT sourcetype=x`, ""},
		{`GIN`, ""},
		{`sourcetype=a sourcetype=b`, ""},
		{`sourcetype=Ollama:Server`, ""},
	}
	for _, tc := range tests {
		q, err := Parse(tc.q, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, s := range q.Streams() {
			got += "{" + s.Index + " " + s.Sourcetype + "}"
		}
		if got != tc.want {
			t.Errorf("pushdown(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
}
