// Package store keeps HEC events, risk events, notables and scheduler state in one Badger
// database. Keys are time-ordered inside streams of (index, sourcetype); see docs/store-layout.md.
package store

// Event is one indexed event as Splunk would hold it after index-time processing.
type Event struct {
	// Time is _time in nanoseconds since the Unix epoch.
	Time       int64
	Index      string
	Sourcetype string
	Source     string
	Host       string
	// Raw is _raw after SEDCMD and index-time transforms.
	Raw string
	// Fields are indexed fields (HEC "fields", INDEXED_EXTRACTIONS), in arrival order.
	Fields []Field
	// Received is the receipt time in nanoseconds since the Unix epoch.
	Received int64
	// ID is where Scan found the event; DeleteEvents takes it. Zero on events not read from
	// the store.
	ID EventID
}

// EventID names one stored event for DeleteEvents: its stream, _time and arrival number. It is
// opaque to callers (the storage layout decides what identifies an event) and comparable; the
// zero value names no event.
type EventID struct {
	stream uint32
	time   int64
	seq    uint64
}

// IsZero reports whether id names no event.
func (id EventID) IsZero() bool { return id == EventID{} }

// Field is one indexed field; a multivalue field has several values.
type Field struct {
	Name   string
	Values []string
}

// Stream names one (index, sourcetype) pair. An empty member matches any value.
type Stream struct {
	Index      string
	Sourcetype string
}
