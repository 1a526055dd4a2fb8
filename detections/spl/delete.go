package spl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hecrisk/hecrisk/store"
)

// EventDeleter removes stored events; *store.Store is one. Env.Deleter is set only for callers
// allowed to delete (Splunk's can_delete role): without it | delete fails before the scan.
type EventDeleter interface {
	DeleteEvents(ctx context.Context, ids []store.EventID) (int, error)
}

// ErrDeleteNotAllowed is the error of a search with | delete run without Env.Deleter.
var ErrDeleteNotAllowed = errors.New("delete: permission denied: | delete needs the API token (the can_delete role)")

// deleteBatch is how many events | delete removes per store call, bounding what it holds.
const deleteBatch = 10_000

// deleteCmd is Splunk's | delete: it removes the events that reach it from the store and
// answers one row per index with the number deleted, after an __ALL__ row with the total.
type deleteCmd struct{}

func (*deleteCmd) name() string { return "delete" }

func parseDelete(ts *tokStream, head token) (command, error) {
	if err := expectEOF(ts); err != nil {
		return nil, err
	}
	return &deleteCmd{}, nil
}

// deletable lists the commands | delete may follow: Splunk runs it on the events of a search
// and the distributable streaming commands after it, never on results a command made.
func deletable(c command) bool {
	switch c.(type) {
	case *searchCmd, *whereCmd, *evalCmd, *rexCmd, *binCmd, *fieldsCmd, *renameCmd, *convertCmd:
		return true
	}
	return false
}

// checkDelete refuses | delete where Splunk does: in a search that does not start with an
// event search, or after a command that is not streaming.
func checkDelete(q *Query, segs []segment) error {
	for i, c := range q.cmds {
		if _, ok := c.(*deleteCmd); !ok {
			continue
		}
		pos := segs[len(segs)-len(q.cmds)+i].pos
		if q.gen != nil {
			return &ParseError{Pos: pos, Tok: `"delete"`, Msg: fmt.Sprintf("delete works on the events of a search, not on the results of %s", q.gen.name())}
		}
		for _, prev := range q.cmds[:i] {
			if !deletable(prev) {
				return &ParseError{Pos: pos, Tok: `"delete"`, Msg: fmt.Sprintf("delete cannot be invoked after the command %s, which is not streaming: only search, where, eval, rex, bin, fields, rename and convert may come before it", prev.name())}
			}
		}
		q.deletes = true
	}
	return nil
}

func (d *deleteCmd) start(c *execCtx, next proc) proc {
	return &deleteProc{c: c, next: next, counts: map[string]int{}}
}

type deleteProc struct {
	c       *execCtx
	next    proc
	pending map[string][]store.EventID // by index
	n       int
	counts  map[string]int
}

func (p *deleteProc) push(r *Row) error {
	if r.ev == nil || r.ev.ID.IsZero() {
		return errors.New("delete: a result is not a stored event")
	}
	if p.pending == nil {
		p.pending = map[string][]store.EventID{}
	}
	p.pending[r.ev.Index] = append(p.pending[r.ev.Index], r.ev.ID)
	p.n++
	if p.n >= deleteBatch {
		return p.commit()
	}
	return nil
}

// commit deletes what is pending, per index so that the counts are per index.
func (p *deleteProc) commit() error {
	for idx, ids := range p.pending {
		n, err := p.c.deleter.DeleteEvents(p.c.ctx, ids)
		p.counts[idx] += n
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	clear(p.pending)
	p.n = 0
	return nil
}

func (p *deleteProc) flush() error {
	if err := p.commit(); err != nil {
		return err
	}
	indexes := make([]string, 0, len(p.counts))
	total := 0
	for idx, n := range p.counts {
		indexes = append(indexes, idx)
		total += n
	}
	sort.Strings(indexes)
	emit := func(idx string, n int) error {
		r := Row{fields: []field{{"index", Str(idx)}, {"deleted", Num(float64(n))}, {"errors", Num(0)}}}
		return p.next.push(&r)
	}
	if err := emit("__ALL__", total); err != nil {
		return err
	}
	for _, idx := range indexes {
		if err := emit(strings.Clone(idx), p.counts[idx]); err != nil {
			return err
		}
	}
	return p.next.flush()
}
