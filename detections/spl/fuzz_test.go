package spl

import (
	"context"
	"strings"
	"testing"
)

// FuzzParse checks that no query text makes Parse or a run over a few rows panic.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`sourcetype="ollama:server" level=WARN (msg="*failed*" OR msg="*dial tcp*") | eval src=coalesce(src, src_ip, "N/A") | stats count as incidents, values(src) as src by host`,
		`"GIN" ("*/api/generate*" OR "*/v1/chat/completions*") | rex field=_raw "\|\s+(?<status_code>\d+)\s+\|" | rex field=response_time "^(?:(?<minutes>\d+)m)?(?<seconds>[\d\.]+)s$"`,
		`x | eval y=substr("abc", 2, 1e30), z=mvindex(split("a,b", ","), -5, 99) | where y="b"`,
		`x | bin _time span=1mon | timechart span=1s count by host | sort 0 -count | head 2`,
		`| makeresults count=3 | eval a=round(-4.5), b=tostring(1e20, "commas") | top a | rare b`,
		`a NOT b OR (c d) e=* f!=* g IN (1, "2*") earliest=-1d@d | dedup 2 a keepempty=t | fillnull | mvexpand a | rename a as b | fields - c | table b*`,
		`x | rex mode=sed field=_raw "s/(a)/\1\1/2" | convert ctime(_time) mktime(t) dur2sec(d) | eventstats avg(x) by y`,
	}
	// Nesting at 10x MaxNesting: each must be refused, never overflow the stack.
	deep := 10 * MaxNesting
	seeds = append(seeds,
		"search "+strings.Repeat("(", deep)+"x"+strings.Repeat(")", deep),
		"search "+strings.Repeat("NOT ", deep)+"x",
		"x | eval y="+strings.Repeat("(", deep)+"1"+strings.Repeat(")", deep),
		"x | eval y="+strings.Repeat("not ", deep)+"1",
		"x | eval y="+strings.Repeat("-", deep)+"1",
		"x | eval y="+strings.Repeat("abs(", deep)+"1"+strings.Repeat(")", deep),
		"x | where 1"+strings.Repeat("<1", deep),
		"x | stats count(eval("+strings.Repeat("(", deep)+"a=1"+strings.Repeat(")", deep)+")) as n",
	)
	for _, s := range seeds {
		f.Add(s)
	}
	rows := []Row{
		row("_raw", "level=WARN msg=x [GIN] | 200 | 1m5s | 1.2.3.4 | GET \"/\"", "_time", 1700000000.5, "host", "h", "a", []string{"1", "x"}),
		row("_raw", "other", "_time", 1700000360.0, "response_time", "56.2s", "y", "2"),
	}
	f.Fuzz(func(t *testing.T, q string) {
		pq, err := Parse(q, nil)
		if err != nil {
			return
		}
		if pq.gen != nil {
			_, _ = pq.Run(context.Background(), Env{Now: testNow, Limits: Limits{MaxRows: 1000}})
			return
		}
		_, _ = pq.runRows(context.Background(), Env{Now: testNow, Limits: Limits{MaxRows: 1000}}, rows)
	})
}
