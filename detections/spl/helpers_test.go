package spl

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"
)

// row builds a Row from alternating name, value pairs; a value of type
// []string becomes a multivalue, float64 a number, string a string.
func row(kv ...any) Row {
	var r Row
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			r.Set(name, Str(v))
		case float64:
			r.Set(name, Num(v))
		case int:
			r.Set(name, Num(float64(v)))
		case []string:
			r.Set(name, Multi(v))
		case Value:
			r.Set(name, v)
		}
	}
	return r
}

func rawRows(lines ...string) []Row {
	out := make([]Row, len(lines))
	for i, l := range lines {
		out[i] = row("_raw", l, "_time", float64(1700000000+i))
	}
	return out
}

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testEnv() Env { return Env{Now: testNow, Loc: time.UTC} }

// runOn parses q (no macros) and feeds rows through it.
func runOn(t *testing.T, q string, rows []Row) *Result {
	t.Helper()
	pq, err := Parse(q, nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	var res *Result
	if pq.gen != nil {
		res, err = pq.Run(context.Background(), testEnv())
	} else {
		res, err = pq.runRows(context.Background(), testEnv(), rows)
	}
	if err != nil {
		t.Fatalf("run %q: %v", q, err)
	}
	return res
}

// render prints rows as `a=1 b=x|y` lines, fields sorted, for compact expectations.
func render(rows []Row) string {
	var lines []string
	for _, r := range rows {
		names := r.Names()
		sort.Strings(names)
		var parts []string
		for _, n := range names {
			parts = append(parts, n+"="+strings.Join(r.Get(n).Values(), "|"))
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	return strings.Join(lines, "\n")
}

// column returns one field of every row, values joined by "|".
func column(rows []Row, name string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r.Get(name).Values(), "|")
	}
	return out
}
