package spl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestParseBounds: nesting and size beyond the limits are a clear parse error (no stack
// overflow, which would kill the server); at the limits the search parses. Each nested form is
// tried at 10× MaxNesting, and parentheses also at 1,000,000.
func TestParseBounds(t *testing.T) {
	deep := 10 * MaxNesting
	nest := func(open, close string, n int, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	tests := []struct {
		name string
		q    string
		want string // "" = parses
	}{
		{"search parentheses at the limit", "search " + nest("(", ")", MaxNesting, "x"), ""},
		{"search parentheses at 10x", "search " + nest("(", ")", deep, "x"), "nested more than 100 levels"},
		{"search NOT at 10x", "search " + strings.Repeat("NOT ", deep) + "x", "nested more than 100 levels"},
		{"search 1,000,000 parentheses", "search " + nest("(", ")", 1_000_000, "x"), "the limit is 262144"},
		{"eval parentheses at the limit", "search x | eval y=" + nest("(", ")", MaxNesting-1, "1"), ""},
		{"eval parentheses at 10x", "search x | eval y=" + nest("(", ")", deep, "1"), "nested more than 100 levels"},
		{"eval not at 10x", "search x | eval y=" + strings.Repeat("not ", deep) + "1", "nested more than 100 levels"},
		{"eval unary minus at 10x", "search x | eval y=" + strings.Repeat("- ", deep) + "1", "nested more than 100 levels"},
		{"eval nested calls at 10x", "search x | eval y=" + nest("abs(", ")", deep, "1"), "nested more than 100 levels"},
		{"eval comparison chain at 10x", "search x | eval y=1" + strings.Repeat("<1", deep), "nested more than 100 levels"},
		{"where parentheses at 10x", "search x | where " + nest("(", ")", deep, "a=1"), "nested more than 100 levels"},
		{"stats eval() at 10x", "search x | stats count(eval(" + nest("(", ")", deep, "a=1") + ")) as n", "nested more than 100 levels"},
		{"searchmatch at 10x", `search x | where searchmatch("` + nest("(", ")", deep, "a") + `")`, "nested more than 100 levels"},
		{"query over the size limit", "search " + strings.Repeat("a ", MaxQueryBytes/2+1), "the limit is 262144"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.q, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error %v, want a ParseError containing %q", err, tc.want)
			}
		})
	}
	for _, expr := range []string{nest("(", ")", deep, "1"), strings.Repeat("NOT ", deep) + "1", strings.Repeat("x", MaxQueryBytes+1)} {
		if _, err := CompileEval(expr); err == nil {
			t.Errorf("CompileEval(%.20q…) accepted", expr)
		}
	}
}

// TestLongChainsRunFlat: a chain of one operator is a loop, not nesting, so 20,000 terms
// parse and run without deep recursion.
func TestLongChainsRunFlat(t *testing.T) {
	const n = 20_000
	join := func(sep string, term func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = term(i)
		}
		return strings.Join(parts, sep)
	}
	one := func(int) string { return "1" }
	for _, tc := range []struct{ q, field, want string }{
		{"search x | eval v=" + join("+", one), "v", fmt.Sprint(n)},
		{"search x | eval v=len(" + join(".", func(int) string { return `"a"` }) + ")", "v", fmt.Sprint(n)},
		{"search x | eval v=" + join("*", one) + "-" + join("-", one), "v", fmt.Sprint(1 - n)},
		{"search x | where " + join(" OR ", func(i int) string { return fmt.Sprintf("a=%d", i) }) + " | eval v=1", "v", "1"},
		{"search x | where " + join(" AND ", func(int) string { return "a>0" }) + " | eval v=1", "v", "1"},
		{"search x | where " + join(" XOR ", func(int) string { return "a>0" }) + " | eval v=1", "v", ""},
	} {
		q, err := Parse(tc.q, nil)
		if err != nil {
			t.Fatalf("%.40q…: %v", tc.q, err)
		}
		res, err := q.runRows(context.Background(), testEnv(), []Row{row("_raw", "x", "a", fmt.Sprint(n-1))})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(res.Rows) == 1 {
			got = res.Rows[0].Get(tc.field).String()
		}
		if got != tc.want {
			t.Errorf("%.40q…: %s = %q, want %q", tc.q, tc.field, got, tc.want)
		}
	}
}

// TestMacroExpansionBound: macros that double at each level stop at MaxQueryBytes instead of
// growing to gigabytes.
func TestMacroExpansionBound(t *testing.T) {
	ms := NewMacroSet()
	ms.Add("m0", "abcdefgh", nil)
	for i := 1; i <= 30; i++ {
		ms.Add(fmt.Sprintf("m%d", i), fmt.Sprintf("`m%d` `m%d`", i-1, i-1), nil)
	}
	_, err := Parse("search `m30`", ms)
	if err == nil || !strings.Contains(err.Error(), "after macro expansion") {
		t.Fatalf("Parse: %v", err)
	}
}
