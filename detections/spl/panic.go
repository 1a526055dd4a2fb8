package spl

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// PanicError is a panic recovered inside a search: the search (in a shared scan, the one query
// whose pipeline panicked, or every query when building an event's row did) fails with it, and
// the process, the scan's other queries and later searches go on. A stored event that makes
// the search code panic is thereby reported with its location, so an operator can find it and
// remove it with | delete.
type PanicError struct {
	Value any
	Stack string
	// Event locates the event being processed as a search (index, sourcetype, host, source,
	// _time); empty when the panic was not tied to an event.
	Event string
}

func (e *PanicError) Error() string {
	if e.Event != "" {
		return fmt.Sprintf("spl: internal error while processing the event at %s: panic: %v", e.Event, e.Value)
	}
	return fmt.Sprintf("spl: internal error: panic: %v", e.Value)
}

func recovered(v any, event string) *PanicError {
	return &PanicError{Value: v, Stack: string(debug.Stack()), Event: event}
}

// rowLocation is eventLocation for a row built from an event; "" for rows a command made.
func rowLocation(r *Row) string {
	if r.ev == nil {
		return ""
	}
	return eventLocation(r.ev)
}

// eventLocation names a stored event the way a search finds it again.
func eventLocation(ev *store.Event) string {
	var b strings.Builder
	for _, kv := range [...][2]string{{"index", ev.Index}, {"sourcetype", ev.Sourcetype}, {"host", ev.Host}, {"source", ev.Source}} {
		if kv[1] != "" {
			b.WriteString(kv[0] + "=" + strconv.Quote(kv[1]) + " ")
		}
	}
	b.WriteString("_time=" + time.Unix(0, ev.Time).UTC().Format(time.RFC3339Nano))
	return b.String()
}

// buildRow is eventRow with a panic in the knowledge turned into an error.
func buildRow(ev *store.Event, k Knowledge, capHint int) (row Row, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v, eventLocation(ev))
		}
	}()
	return eventRow(ev, k, capHint), nil
}
