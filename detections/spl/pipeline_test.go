package spl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPipelineSemantics(t *testing.T) {
	statsRows := []Row{
		row("_time", 300.0, "host", "h1", "src", "1.1.1.1", "v", "10"),
		row("_time", 100.0, "host", "h1", "src", "9.9.9.9", "v", "9"),
		row("_time", 200.0, "host", "h2", "v", "100"),
		row("_time", 150.0, "src", "2.2.2.2", "v", "70"),
		row("_time", 250.0, "host", []string{"h2", "h3"}, "src", "3.3.3.3", "v", "abc"),
	}
	tests := []struct {
		name, q string
		rows    []Row
		want    string
	}{
		{"stats by drops rows with a null by-field and splits multivalues",
			`search * | stats count by host`, statsRows,
			"count=2 host=h1\ncount=2 host=h2\ncount=1 host=h3"},
		{"stats by several fields drops a row if any is null",
			`search * | stats count by host, src`, statsRows,
			"count=1 host=h1 src=1.1.1.1\ncount=1 host=h1 src=9.9.9.9\ncount=1 host=h2 src=3.3.3.3\ncount=1 host=h3 src=3.3.3.3"},
		{"a repeated multivalue by-value counts the row per value by default",
			`search * | stats count by m`, []Row{row("m", []string{"a", "a", "b"})},
			"count=2 m=a\ncount=1 m=b"},
		{"dedup_splitvals=true counts it once",
			`search * | stats dedup_splitvals=true count by m`, []Row{row("m", []string{"a", "a", "b"})},
			"count=1 m=a\ncount=1 m=b"},
		{"eval() inside stats functions",
			`search * | stats count(eval(v>50)) as big, sum(eval(if(v>50, 1, 0) * 2)) as s2, dc(eval(lower(host))) as hosts`,
			[]Row{row("v", "10", "host", "A"), row("v", "100", "host", "a"), row("v", "70", "host", "B")},
			"big=2 hosts=2 s2=4"},
		{"values are distinct and lexicographic (byte order)",
			`search * | stats values(v) as vs`, append(statsRows, row("v", "10")),
			"vs=10|100|70|9|abc"},
		{"list keeps input order and duplicates",
			`search * | stats list(v) as l`, statsRows[:3],
			"l=10|9|100"},
		{"earliest/latest follow _time, first/last input order",
			`search * | stats earliest(src) as e, latest(src) as l, first(src) as f, last(src) as z`, statsRows,
			"e=9.9.9.9 f=1.1.1.1 l=1.1.1.1 z=3.3.3.3"},
		{"max turns lexicographic when any value is non-numeric; min keeps numbers first",
			`search * | stats max(v) as mx, min(v) as mn`, statsRows,
			"mn=9 mx=abc"},
		{"max/min numeric when all values are numbers",
			`search * | stats max(v) as mx, min(v) as mn by host`, statsRows[:3],
			"host=h1 mn=9 mx=10\nhost=h2 mn=100 mx=100"},
		{"avg and sum ignore non-numeric values",
			`search * | stats avg(v) as a, sum(v) as s, count(v) as c`, statsRows,
			"a=47.25 c=5 s=189"},
		{"dc median perc stdev",
			`search * | stats dc(host) as d, median(v) as m, perc90(v) as p, stdev(v) as sd`, statsRows[:4],
			"d=2 m=10 p=70 sd=" + FormatNum(stdev([]float64{10, 9, 100, 70}))},
		{"stats over no rows gives one row with count 0",
			`search nothing | stats count`, statsRows,
			"count=0"},
		{"stats by over no rows gives no rows",
			`search nothing | stats count by host`, statsRows,
			""},
		{"default names",
			`search * | stats count, dc(src), avg(v) by host | fields - host`, statsRows[:2],
			"avg(v)=9.5 count=2 dc(src)=2"},
		{"eventstats adds aggregates to every row",
			`search * | eventstats count as n by host | table host n`, statsRows[:3],
			"host=h1 n=2\nhost=h1 n=2\nhost=h2 n=1"},
		{"bin aligns sub-day spans to the epoch",
			`search * | bin _time span=5m | table _time`, []Row{row("_time", 1700000123.5), row("_time", 1700000399.0), row("_time", 1700000400.0)},
			"_time=1700000100\n_time=1700000100\n_time=1700000400"},
		{"bucket alias, 1h span, as",
			`search * | bucket _time span=1h as hour | table hour`, []Row{row("_time", 7199.0)},
			"hour=3600"},
		{"bin on a number gives a range",
			`search * | bin v span=10 | table v`, []Row{row("v", "42")},
			"v=40-50"},
		{"rex keeps existing values when it does not match",
			`search * | rex field=_raw "rt=(?<response_time>\d+)s" | table response_time`,
			[]Row{row("_raw", "rt=12s", "response_time", "12s"), row("_raw", "nothing here", "response_time", "350ms")},
			"response_time=12\nresponse_time=350ms"},
		{"rex optional group that does not participate stays null",
			`search * | rex field=rt "^(?:(?<minutes>\d+)m)?(?<seconds>[\d\.]+)s$" | eval x=if(isnotnull(minutes), minutes*60+seconds, seconds) | table x`,
			[]Row{row("rt", "1m30s"), row("rt", "56.2s")},
			"x=90\nx=56.2"},
		{"rex max_match makes multivalues",
			`search * | rex max_match=0 "(?<d>\d)" | table d`, []Row{row("_raw", "a1b2c3")},
			"d=1|2|3"},
		{"rex mode=sed",
			`search * | rex field=x mode=sed "s/(\d+)/<\1>/g" | table x`, []Row{row("x", "a1b22")},
			"x=a<1>b<22>"},
		{"table drops unlisted fields, wildcards allowed, listed order",
			`search * | table b*, a`, []Row{row("a", "1", "b1", "2", "c", "3", "b2", "4")},
			"a=1 b1=2 b2=4"},
		{"fields - removes",
			`search * | fields - c`, []Row{row("a", "1", "c", "3")},
			"a=1"},
		{"fields keeps listed plus _time/_raw",
			`search * | fields a`, []Row{row("_raw", "r", "_time", 1.0, "a", "1", "c", "3")},
			"_raw=r _time=1 a=1"},
		{"rename with wildcard",
			`search * | rename a as x, b* as B*`, []Row{row("a", "1", "b1", "2")},
			"B1=2 x=1"},
		{"sort descending numeric then head",
			`search * | sort -v | head 2 | table v`, []Row{row("v", "9"), row("v", "10"), row("v", "100"), row("v", "2")},
			"v=100\nv=10"},
		{"sort str()",
			`search * | sort str(v) | table v`, []Row{row("v", "9"), row("v", "10"), row("v", "B"), row("v", "a")},
			"v=10\nv=9\nv=a\nv=B"},
		{"sort two keys, + and -",
			`search * | sort +a, -b | table a b`, []Row{row("a", "1", "b", "1"), row("a", "2", "b", "5"), row("a", "1", "b", "3")},
			"a=1 b=3\na=1 b=1\na=2 b=5"},
		{"sort with count",
			`search * | sort 1 v | table v`, []Row{row("v", "3"), row("v", "1")},
			"v=1"},
		{"tail returns the last rows, newest last first",
			`search * | tail 2 | table v`, []Row{row("v", "1"), row("v", "2"), row("v", "3")},
			"v=3\nv=2"},
		{"dedup keeps the first and drops rows missing the field",
			`search * | dedup a | table a b`, []Row{row("a", "x", "b", "1"), row("b", "2"), row("a", "x", "b", "3"), row("a", "y", "b", "4")},
			"a=x b=1\na=y b=4"},
		{"fillnull listed fields",
			`search * | fillnull value=N/A a | table a b`, []Row{row("b", "1")},
			"a=N/A b=1"},
		{"fillnull all fields seen",
			`search * | fillnull`, []Row{row("a", "1"), row("b", "2")},
			"a=1 b=0\na=0 b=2"},
		{"convert ctime",
			`search * | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(t) as ts`, []Row{row("t", 1700000000.0)},
			"t=1700000000 ts=2023-11-14T22:13:20"},
		{"mvexpand",
			`search * | mvexpand m | table m`, []Row{row("m", []string{"a", "b"})},
			"m=a\nm=b"},
		{"top",
			`search * | top limit=2 h`, []Row{row("h", "a"), row("h", "b"), row("h", "a"), row("h", "c"), row("h", "a"), row("h", "b")},
			"count=3 h=a percent=50\ncount=2 h=b percent=33.333333"},
		{"rare",
			`search * | rare showperc=f h`, []Row{row("h", "a"), row("h", "b"), row("h", "a")},
			"count=1 h=b\ncount=2 h=a"},
		{"timechart span count by field fills empty buckets",
			`search * | timechart span=1m count by h`, []Row{row("_time", 60.0, "h", "x"), row("_time", 61.0, "h", "y"), row("_time", 185.0, "h", "x")},
			"_time=60 x=1 y=1\n_time=120 x=0 y=0\n_time=180 x=1 y=0"},
		{"timechart without by",
			`search * | timechart span=1h count`, []Row{row("_time", 10.0), row("_time", 20.0)},
			"_time=0 count=2"},
		{"later search on stats rows is a pass-through with *",
			`search * | stats count by a | search *`, []Row{row("a", "1")},
			"a=1 count=1"},
		{"later search compares fields",
			`search * | stats count by a | search count>1`, []Row{row("a", "1"), row("a", "2"), row("a", "2")},
			"a=2 count=2"},
		{"where on a multivalue field matches any value",
			`search * | where m="b"`, []Row{row("m", []string{"a", "b"}), row("m", "c")},
			"m=a|b"},
		{"where compares text lexicographically when a side is not numeric",
			`search * | where rt > 55`, []Row{row("rt", "56.2s"), row("rt", "100"), row("rt", "350ms")},
			"rt=56.2s\nrt=100"},
		{"makeresults",
			`| makeresults count=2 | eval x=1 | table x`, nil,
			"x=1\nx=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runOn(t, tc.q, tc.rows)
			if got := render(res.Rows); got != tc.want {
				t.Errorf("%s\ngot:\n%s\nwant:\n%s", tc.q, got, tc.want)
			}
		})
	}
}

func stdev(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	n := float64(len(xs))
	mean := sum / n
	v := (sq - n*mean*mean) / (n - 1)
	return sqrt(v)
}

func sqrt(v float64) float64 {
	e, _ := CompileEval(fmt.Sprintf("sqrt(%v)", v))
	f, _ := e.Eval(&Row{}).Number()
	return f
}

func TestSortDefaultLimit(t *testing.T) {
	rows := make([]Row, 10050)
	for i := range rows {
		rows[i] = row("v", i)
	}
	res := runOn(t, `search * | sort -v`, rows)
	if len(res.Rows) != 10000 {
		t.Fatalf("sort returned %d rows, want the default limit 10000", len(res.Rows))
	}
	if got := res.Rows[0].Get("v").String(); got != "10049" {
		t.Errorf("first row v=%s, want 10049", got)
	}
	res = runOn(t, `search * | sort 0 v`, rows)
	if len(res.Rows) != 10050 {
		t.Errorf("sort 0 returned %d rows, want all 10050", len(res.Rows))
	}
	res = runOn(t, `search * | sort limit=5 v`, rows)
	if len(res.Rows) != 5 {
		t.Errorf("sort limit=5 returned %d rows", len(res.Rows))
	}
}

func TestBinDaySpanUsesZone(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	q, err := Parse(`search * | bin _time span=1d | table _time`, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2025-10-05 23:30 UTC is 2025-10-06 01:30 at UTC+2: the day bucket is local midnight.
	ts := float64(time.Date(2025, 10, 5, 23, 30, 0, 0, time.UTC).Unix())
	env := testEnv()
	env.Loc = loc
	res, err := q.runRows(context.Background(), env, []Row{row("_time", ts)})
	if err != nil {
		t.Fatal(err)
	}
	want := float64(time.Date(2025, 10, 6, 0, 0, 0, 0, loc).Unix())
	if got, _ := res.Rows[0].Get("_time").Number(); got != want {
		t.Errorf("bin 1d = %v, want %v (local midnight)", got, want)
	}
}

func TestLimits(t *testing.T) {
	rows := make([]Row, 500)
	for i := range rows {
		rows[i] = row("v", i, "_raw", strings.Repeat("x", 100))
	}
	q, err := Parse(`search * | sort v`, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv()
	env.Limits.MaxRows = 100
	if _, err := q.runRows(context.Background(), env, rows); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "MaxRows") {
		t.Errorf("MaxRows: err = %v, want ErrLimit naming MaxRows", err)
	}
	env.Limits = Limits{MaxMemoryBytes: 10_000}
	if _, err := q.runRows(context.Background(), env, rows); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "MaxMemoryBytes") {
		t.Errorf("MaxMemoryBytes: err = %v, want ErrLimit naming MaxMemoryBytes", err)
	}
	env.Limits = Limits{MaxDuration: time.Nanosecond}
	time.Sleep(time.Millisecond)
	bigRows := make([]Row, 5000)
	for i := range bigRows {
		bigRows[i] = row("v", i)
	}
	if _, err := q.runRows(context.Background(), env, bigRows); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "MaxDuration") {
		t.Errorf("MaxDuration: err = %v, want ErrLimit naming MaxDuration", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := make([]Row, 1000)
	for i := range big {
		big[i] = row("v", i)
	}
	if _, err := q.runRows(ctx, testEnv(), big); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v, want context.Canceled", err)
	}
}

func TestResultFieldsFollowTable(t *testing.T) {
	res := runOn(t, `search * | table b, a, missing | sort a`, []Row{row("a", "1", "b", "2", "c", "3")})
	if want := []string{"b", "a", "missing"}; !reflect.DeepEqual(res.Fields, want) {
		t.Errorf("Fields = %v, want %v", res.Fields, want)
	}
	res = runOn(t, `search * | eval z=1`, []Row{row("a", "1")})
	if want := []string{"a", "z"}; !reflect.DeepEqual(res.Fields, want) {
		t.Errorf("Fields = %v, want %v", res.Fields, want)
	}
}
