package spl_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// plainKnowledge hides Narrow, so RunShared computes every search-time field.
type plainKnowledge struct{ k spl.Knowledge }

func (p plainKnowledge) Extract(ev *store.Event, row *spl.Row) { p.k.Extract(ev, row) }

// recordingNarrower records the need test RunShared passes to Narrow.
type recordingNarrower struct {
	*knowledge.Knowledge
	need func(string) bool
}

func (r *recordingNarrower) Narrow(need func(string) bool) spl.Knowledge {
	r.need = need
	return r.Knowledge.Narrow(need)
}

func renderNarrowResult(r *spl.Result) string {
	var b strings.Builder
	fmt.Fprintln(&b, strings.Join(r.Fields, ","))
	for _, row := range r.Rows {
		names := row.Names()
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "%s=%q ", n, row.Get(n).Values())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestRunSharedNarrowing runs the eight ESCU searches over one shared scan with knowledge
// that can skip calculated fields and with knowledge that cannot: the results must be equal,
// and the skipping must only happen when every search names the fields it reads.
func TestRunSharedNarrowing(t *testing.T) {
	k, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	evs := syntheticOllama(5_000, start)
	// A scanner burst, so that the reconnaissance and request-rate searches have rows.
	for i := 0; i < 400; i++ {
		ts := start.Add(time.Duration(i) * 500 * time.Millisecond)
		evs = append(evs, store.Event{Time: ts.UnixNano(), Index: "main", Sourcetype: "ollama:server", Host: "bench-host", Source: "server.log",
			Raw: fmt.Sprintf(`[GIN] %s | 404 |      1.2ms |  203.0.113.7 | GET      "/api/x%d"`, ts.Format("2006/01/02 - 15:04:05"), i%30)})
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	_, escu := escuQueries(t)
	env := spl.Env{Now: start.Add(70 * time.Minute), Loc: time.UTC, Events: st, Earliest: "-70m@m", Latest: "now"}

	tests := []struct {
		name    string
		queries []string // nil = the eight ESCU searches
		narrow  bool
		// needed and unneeded are fields the need test must accept and reject.
		needed, unneeded []string
	}{
		{"escu", nil, true, []string{"src", "dest", "url", "status", "level", "msg", "code_source"}, []string{"app", "vendor_product", "src_port", "http_content_type"}},
		{"no transforming command", []string{`sourcetype="ollama:server" | eval x=1`}, false, nil, nil},
		{"wildcard stats", []string{`sourcetype="ollama:server" | stats values(*) as * by host`}, false, nil, nil},
		{"table star", []string{`sourcetype="ollama:server" "GIN" | table *`}, false, nil, nil},
		// Whole words: src_ip does not make src needed.
		{"star in search and eval is fine", []string{`sourcetype="ollama:server" "*GIN*" | eval y=2*3, src_ip=http_method | eval z=uri_path . src_ip | stats count by src_ip, y, z`}, true, []string{"src_ip", "uri_path", "http_method"}, []string{"src", "src_i", "ip", "method"}},
		{"one open query spoils the scan", []string{`sourcetype="ollama:server" | stats count by host`, `sourcetype="ollama:server" | head 5`}, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs := escu
			if tt.queries != nil {
				qs = nil
				for _, s := range tt.queries {
					q, err := spl.Parse(s, spl.NewMacroSet())
					if err != nil {
						t.Fatal(err)
					}
					qs = append(qs, q)
				}
			}
			rec := &recordingNarrower{Knowledge: k}
			env.Knowledge = rec
			got, errs := spl.RunShared(context.Background(), qs, env)
			env.Knowledge = plainKnowledge{k}
			want, werrs := spl.RunShared(context.Background(), qs, env)
			if (rec.need != nil) != tt.narrow {
				t.Fatalf("narrowed = %v, want %v", rec.need != nil, tt.narrow)
			}
			for _, f := range tt.needed {
				if !rec.need(f) {
					t.Errorf("need(%s) = false", f)
				}
			}
			for _, f := range tt.unneeded {
				if rec.need(f) {
					t.Errorf("need(%s) = true", f)
				}
			}
			rows := 0
			for i := range qs {
				if errs[i] != nil || werrs[i] != nil {
					t.Fatalf("query %d: %v / %v", i, errs[i], werrs[i])
				}
				if g, w := renderNarrowResult(got[i]), renderNarrowResult(want[i]); g != w {
					t.Errorf("query %d differs with narrowing:\n%s\nwant:\n%s", i, g, w)
				}
				rows += len(want[i].Rows)
			}
			if rows == 0 {
				t.Error("no rows at all: the comparison proves nothing")
			}
		})
	}
}
