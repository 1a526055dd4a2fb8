package spl

import (
	"reflect"
	"testing"
)

func TestFilterOrder(t *testing.T) {
	tests := []struct {
		q    string
		drop []string
		want []int
	}{
		// The where reads response_time, set by the rex: it runs right after it, before the evals.
		{`x | rex "(?<response_time>\d+)s" | eval src=src_ip | eval dest=uri_path | where response_time > 55`, nil, []int{0, 3, 1, 2}},
		// It reads what the last eval sets: it stays.
		{`x | eval a=1 | eval b=a | where b > 0`, nil, []int{0, 1, 2}},
		// Nothing sets its field: it runs first.
		{`x | eval a=1 | bin _time span=5m | where level="ERROR"`, nil, []int{2, 0, 1}},
		// searchmatch reads fields it does not name: it stays.
		{`x | eval a=1 | where searchmatch("level=ERROR")`, nil, []int{0, 1}},
		// A stats by src drops rows without src right after src is set.
		{`x | eval src=coalesce(src, ip) | eval dest=host | bin _time span=5m`, []string{"src"}, []int{0, -1, 1, 2}},
		{`x | eval src=coalesce(src, ip) | eval dest=host | bin _time span=5m`, []string{"src", "_time"}, []int{0, 1, 2, -1}},
	}
	for _, tc := range tests {
		q, err := Parse(tc.q, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if got := filterOrder(q.cmds, tc.drop); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s (drop %v): order %v, want %v", tc.q, tc.drop, got, tc.want)
		}
	}
}
