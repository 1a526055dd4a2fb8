package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/segmentio/encoding/json"
)

// rowWriter prints result rows as JSON lines, CSV or an aligned table. Rows arrive as a column
// order plus values; a multivalue field is a list.
type rowWriter interface {
	Row(fields []string, values map[string][]string) error
	Close() error
}

func newRowWriter(w io.Writer, format string) (rowWriter, error) {
	switch format {
	case "json":
		return &jsonRows{w: bufio.NewWriter(w)}, nil
	case "csv":
		return &csvRows{w: csv.NewWriter(w)}, nil
	case "table", "":
		return &tableRows{w: w}, nil
	}
	return nil, fmt.Errorf("%w: --output must be json, csv or table, not %q", errUsage, format)
}

type jsonRows struct{ w *bufio.Writer }

func (j *jsonRows) Row(fields []string, values map[string][]string) error {
	obj := make(map[string]any, len(fields))
	for _, f := range fields {
		if v, ok := values[f]; ok {
			obj[f] = jsonValue(v)
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	j.w.Write(b)
	return j.w.WriteByte('\n')
}

func (j *jsonRows) Close() error { return j.w.Flush() }

// jsonValue renders one value as Splunk's export does: a string, or a list for multivalue.
func jsonValue(v []string) any {
	if len(v) == 1 {
		return v[0]
	}
	return v
}

type csvRows struct {
	w      *csv.Writer
	header []string
}

func (c *csvRows) Row(fields []string, values map[string][]string) error {
	if c.header == nil {
		c.header = append([]string(nil), fields...)
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	rec := make([]string, len(c.header))
	for i, f := range c.header {
		rec[i] = strings.Join(values[f], "\n")
	}
	return c.w.Write(rec)
}

func (c *csvRows) Close() error { c.w.Flush(); return c.w.Error() }

// tableRows buffers rows because column widths depend on every row; CLI results are small.
type tableRows struct {
	w      io.Writer
	fields []string
	seen   map[string]bool
	rows   []map[string]string
}

func (t *tableRows) Row(fields []string, values map[string][]string) error {
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	for _, f := range fields {
		if !t.seen[f] {
			t.seen[f] = true
			t.fields = append(t.fields, f)
		}
	}
	r := make(map[string]string, len(values))
	for k, v := range values {
		r[k] = strings.Join(v, ",")
	}
	t.rows = append(t.rows, r)
	return nil
}

func (t *tableRows) Close() error {
	if len(t.rows) == 0 {
		_, err := fmt.Fprintln(t.w, "(no results)")
		return err
	}
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.fields, "\t"))
	for _, r := range t.rows {
		cells := make([]string, len(t.fields))
		for i, f := range t.fields {
			cells[i] = strings.ReplaceAll(r[f], "\n", " ")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
