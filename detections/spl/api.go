// Package spl parses and runs the subset of Splunk's Search Processing
// Language that the ESCU detections use: a lexer, a per-command parser, an AST
// and a pipeline of streaming and blocking operators over rows of values.
package spl

import (
	"context"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// EventSource yields stored events; *store.Store satisfies it.
type EventSource interface {
	Scan(ctx context.Context, q store.ScanQuery, fn func(*store.Event) error) error
}

// Knowledge turns one stored event into its search-time row (field
// extractions, aliases, calculated fields). The row already holds _raw,
// _time, host, source, sourcetype, index and the indexed fields.
type Knowledge interface {
	Extract(ev *store.Event, row *Row)
}

// Limits bound one search. Zero values mean "no limit".
type Limits struct {
	// MaxDuration stops the search with ErrLimit after this long.
	MaxDuration time.Duration
	// MaxRows caps the rows blocking commands (stats groups, sort,
	// eventstats, ...) may hold, and the rows Run and RunShared collect.
	// Stream does not hold its output, so only the first part applies.
	MaxRows int
	// MaxMemoryBytes caps the estimated bytes blocking commands hold.
	MaxMemoryBytes int64
}

// Env is what a run needs from the outside world.
type Env struct {
	// Now is the search time: now(), relative time modifiers. Zero = time.Now().
	Now time.Time
	// Earliest and Latest are time modifiers ("-70m@m", "@h", epoch, ISO);
	// "" means the query's own earliest=/latest= or all time. Inline
	// earliest=/latest= in the query win over these, as in Splunk.
	Earliest, Latest string
	// Loc is the zone for strftime, @d snaps and day-sized bins. Nil = UTC.
	Loc       *time.Location
	Events    EventSource
	Risk      RiskSource
	Knowledge Knowledge
	Limits    Limits
	// ScanWorkers is how many goroutines RunShared uses to build rows and run the
	// row-by-row head of each search (search, where, eval, rex, bin); 0 means
	// GOMAXPROCS, 1 keeps the whole scan on the caller's goroutine. Results do not
	// depend on it: blocking commands still see every row in scan order.
	ScanWorkers int
	// Deleter removes the events a search pipes to | delete; nil (the default) makes such a
	// search fail before it reads anything. Set it only for callers allowed to delete.
	Deleter EventDeleter
	// Warn, when set, receives the warnings of a Stream or Run once it has finished: one line
	// per kind of event the knowledge could not fully read (e.g. JSON over the search-time
	// limits), with the number of such events. RunShared puts them in each Result instead.
	Warn func(text string)
}

// Result is a finished search.
type Result struct {
	// Fields are the column names: the table/fields list when the last such
	// command fixed one, otherwise every field in first-seen order.
	Fields []string
	Rows   []Row
	// Warnings say what the search could not read fully (see Env.Warn); nil when nothing.
	Warnings []string
	// Coverage is set by RunShared: how many events the base search matched and how many of
	// them had each field the search reads from events.
	Coverage *Coverage
}

// Columns are the output columns a final table/fields command fixes, in order, for callers that
// stream rows (CSV export needs its header before the first row, and a listed field stays a column
// even when no row has it). Wildcard entries are left out; nil means the columns are not fixed.
func (q *Query) Columns() []string {
	var out []string
	for _, p := range q.tableFields {
		if !strings.Contains(p, "*") {
			out = append(out, p)
		}
	}
	return out
}

// StreamValues is Stream for callers outside the engine (the REST export, `hecrisk search`):
// each row arrives as its field names in order (the Columns when a final table/fields fixes
// them) and its non-null values by name. The slice and the map are reused from row to row, so
// emit must copy what it keeps.
func (q *Query) StreamValues(ctx context.Context, env Env, emit func(fields []string, values map[string][]string) error) error {
	values := map[string][]string{}
	cols := q.Columns()
	var names []string
	return q.Stream(ctx, env, func(row Row) error {
		clear(values)
		if cols != nil {
			for _, n := range cols {
				if v := row.Get(n); !v.IsNull() {
					values[n] = v.Values()
				}
			}
			return emit(cols, values)
		}
		// One pass over the row: Get per name would be quadratic in a wide event.
		names = names[:0]
		row.Each(func(n string, v Value) {
			names = append(names, n)
			if !v.IsNull() {
				values[n] = v.Values()
			}
		})
		return emit(names, values)
	})
}
