package hec

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

func testBatchOptions() BatchOptions {
	return BatchOptions{
		Defaults: Defaults{Index: "main", Host: "10.0.0.9", Source: "http:test", Sourcetype: "httpevent"},
		Now:      time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	}
}

func TestParseBatch(t *testing.T) {
	now := testBatchOptions().Now.UnixNano()
	ev := func(raw string, ts int64, mods ...func(*store.Event)) store.Event {
		e := store.Event{Time: ts, Index: "main", Host: "10.0.0.9", Source: "http:test", Sourcetype: "httpevent", Raw: raw, Received: now}
		for _, m := range mods {
			m(&e)
		}
		return e
	}
	tests := []struct {
		name     string
		body     string
		allow    []string
		maxSize  int
		want     []store.Event
		hasTime  []bool
		wantCode int
		wantAt   int // -1: no invalid-event-number
	}{
		{name: "single string", body: `{"event":"hello"}`, want: []store.Event{ev("hello", now)}, hasTime: []bool{false}, wantAt: -1},
		{name: "concatenated with whitespace", body: " {\"event\":\"a\"}\n\t{\"event\":\"b\"}{\"event\":\"c\"}\r\n",
			want: []store.Event{ev("a", now), ev("b", now), ev("c", now)}, hasTime: []bool{false, false, false}, wantAt: -1},
		{name: "top-level array", body: `[{"event":"a"}, {"event":"b"}]`,
			want: []store.Event{ev("a", now), ev("b", now)}, hasTime: []bool{false, false}, wantAt: -1},
		{name: "array then object", body: `[{"event":"a"}]{"event":"b"}[]`,
			want: []store.Event{ev("a", now), ev("b", now)}, hasTime: []bool{false, false}, wantAt: -1},
		{name: "metadata", body: `{"time":1700000000.5,"host":"h","source":"s","sourcetype":"st","index":"ollama","event":"x"}`,
			want: []store.Event{ev("x", 1700000000500000000, func(e *store.Event) {
				e.Host, e.Source, e.Sourcetype, e.Index = "h", "s", "st", "ollama"
			})}, hasTime: []bool{true}, wantAt: -1},
		{name: "time as string with millis", body: `{"time":"1700000000.123","event":"x"}`,
			want: []store.Event{ev("x", 1700000000123000000)}, hasTime: []bool{true}, wantAt: -1},
		{name: "time integer", body: `{"time":1700000000,"event":"x"}`,
			want: []store.Event{ev("x", 1700000000000000000)}, hasTime: []bool{true}, wantAt: -1},
		{name: "time exponent", body: `{"time":1.7e9,"event":"x"}`,
			want: []store.Event{ev("x", 1700000000000000000)}, hasTime: []bool{true}, wantAt: -1},
		{name: "time null means now", body: `{"time":null,"event":"x"}`, want: []store.Event{ev("x", now)}, hasTime: []bool{false}, wantAt: -1},
		{name: "event object kept as JSON text", body: `{"event":{"a":1,"b":[true,null]}}`,
			want: []store.Event{ev(`{"a":1,"b":[true,null]}`, now)}, hasTime: []bool{false}, wantAt: -1},
		{name: "event number", body: `{"event":123}`, want: []store.Event{ev("123", now)}, hasTime: []bool{false}, wantAt: -1},
		{name: "event array", body: `{"event":[1,"a"]}`, want: []store.Event{ev(`[1,"a"]`, now)}, hasTime: []bool{false}, wantAt: -1},
		{name: "event escaped string", body: `{"event":"line \"q\"\n\u00e9"}`, want: []store.Event{ev("line \"q\"\né", now)}, hasTime: []bool{false}, wantAt: -1},
		{name: "fields flat and arrays", body: `{"event":"x","fields":{"a":"1","b":2.50,"c":["x","y"],"d":true,"a":"again","n":null}}`,
			want: []store.Event{ev("x", now, func(e *store.Event) {
				e.Fields = []store.Field{{Name: "a", Values: []string{"1", "again"}}, {Name: "b", Values: []string{"2.50"}},
					{Name: "c", Values: []string{"x", "y"}}, {Name: "d", Values: []string{"true"}}}
			})}, hasTime: []bool{false}, wantAt: -1},
		{name: "keys are case sensitive", body: `{"Event":"x"}`, wantCode: CodeEventRequired, wantAt: 0},
		{name: "index allowed", body: `{"event":"x","index":"ollama"}`, allow: []string{"ollama"},
			want: []store.Event{ev("x", now, func(e *store.Event) { e.Index = "ollama" })}, hasTime: []bool{false}, wantAt: -1},

		{name: "empty body", body: ``, wantCode: CodeNoData, wantAt: -1},
		{name: "whitespace body", body: " \n\t", wantCode: CodeNoData, wantAt: -1},
		{name: "empty array", body: `[]`, wantCode: CodeNoData, wantAt: -1},
		{name: "bad event in the middle", body: `{"event":"a"}{"event":"b"}{"event":}{"event":"d"}`,
			want: []store.Event{ev("a", now), ev("b", now)}, hasTime: []bool{false, false}, wantCode: CodeInvalidDataFormat, wantAt: 2},
		{name: "missing event", body: `{"event":"a"}{"host":"x"}`, want: []store.Event{ev("a", now)}, hasTime: []bool{false}, wantCode: CodeEventRequired, wantAt: 1},
		{name: "null event", body: `{"event":null}`, wantCode: CodeEventRequired, wantAt: 0},
		{name: "blank event", body: `{"event":""}`, wantCode: CodeEventBlank, wantAt: 0},
		{name: "nested fields", body: `{"event":"x","fields":{"a":{"b":1}}}`, wantCode: CodeIndexedFields, wantAt: 0},
		{name: "nested array in fields", body: `{"event":"x","fields":{"a":[[1]]}}`, wantCode: CodeIndexedFields, wantAt: 0},
		{name: "fields not an object", body: `{"event":"x","fields":["a"]}`, wantCode: CodeIndexedFields, wantAt: 0},
		{name: "index not allowed", body: `{"event":"a","index":"ollama"}{"event":"b","index":"secret"}`, allow: []string{"ollama"},
			want: []store.Event{ev("a", now, func(e *store.Event) { e.Index = "ollama" })}, hasTime: []bool{false}, wantCode: CodeIncorrectIndex, wantAt: 1},
		{name: "default index not allowed", body: `{"event":"a"}`, allow: []string{"ollama"}, wantCode: CodeIncorrectIndex, wantAt: 0},
		{name: "bad time string", body: `{"time":"yesterday","event":"x"}`, wantCode: CodeInvalidDataFormat, wantAt: 0},
		{name: "bad time type", body: `{"time":{},"event":"x"}`, wantCode: CodeInvalidDataFormat, wantAt: 0},
		{name: "time out of range", body: `{"time":99999999999999,"event":"x"}`, wantCode: CodeInvalidDataFormat, wantAt: 0},
		{name: "host not a string", body: `{"host":1,"event":"x"}`, wantCode: CodeInvalidDataFormat, wantAt: 0},
		{name: "not an object", body: `"x"`, wantCode: CodeInvalidDataFormat, wantAt: 0},
		{name: "trailing garbage", body: `{"event":"a"} xyz`, want: []store.Event{ev("a", now)}, hasTime: []bool{false}, wantCode: CodeInvalidDataFormat, wantAt: 1},
		{name: "comma between objects", body: `{"event":"a"},{"event":"b"}`, want: []store.Event{ev("a", now)}, hasTime: []bool{false}, wantCode: CodeInvalidDataFormat, wantAt: 1},
		{name: "unterminated array", body: `[{"event":"a"}`, want: []store.Event{ev("a", now)}, hasTime: []bool{false}, wantCode: CodeInvalidDataFormat, wantAt: 1},
		{name: "event over max size", body: `{"event":"small"}{"event":"` + strings.Repeat("x", 100) + `"}`, maxSize: 64,
			want: []store.Event{ev("small", now)}, hasTime: []bool{false}, wantCode: CodeInvalidDataFormat, wantAt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testBatchOptions()
			opts.MaxEventSize = tt.maxSize
			if tt.allow != nil {
				opts.AllowIndex = func(ix string) bool {
					for _, a := range tt.allow {
						if a == ix {
							return true
						}
					}
					return false
				}
			}
			b, err := ParseBatch([]byte(tt.body), opts)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("want code %d, got success", tt.wantCode)
				}
				if err.Code != tt.wantCode {
					t.Fatalf("code = %d (%s), want %d", err.Code, err.Text, tt.wantCode)
				}
				switch {
				case tt.wantAt < 0 && err.InvalidEvent != nil:
					t.Fatalf("invalid-event-number = %d, want none", *err.InvalidEvent)
				case tt.wantAt >= 0 && (err.InvalidEvent == nil || *err.InvalidEvent != tt.wantAt):
					t.Fatalf("invalid-event-number = %v, want %d", err.InvalidEvent, tt.wantAt)
				}
			}
			if len(b.Events) != len(tt.want) || (len(tt.want) > 0 && !reflect.DeepEqual(b.Events, tt.want)) {
				t.Fatalf("events:\n got %+v\nwant %+v", b.Events, tt.want)
			}
			if len(tt.want) > 0 && !reflect.DeepEqual(b.HasTime, tt.hasTime) {
				t.Fatalf("hasTime = %v, want %v", b.HasTime, tt.hasTime)
			}
		})
	}
}

func TestParseBatchDoesNotAliasBody(t *testing.T) {
	body := []byte(`{"event":{"k":"v"},"host":"h","fields":{"f":"x"}}`)
	b, err := ParseBatch(body, testBatchOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'Z'
	}
	e := b.Events[0]
	if e.Raw != `{"k":"v"}` || e.Host != "h" || e.Fields[0].Name != "f" || e.Fields[0].Values[0] != "x" {
		t.Fatalf("event changed with the body buffer: %+v", e)
	}
}

func TestParseEpochSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1433188255.500", 1433188255500000000, true},
		{"1433188255.123456789123", 1433188255123456789, true},
		{".5", 500000000, true},
		{"-1.5", -1500000000, true},
		{"1e3", 1000000000000, true},
		{"", 0, false},
		{".", 0, false},
		{"1.2.3", 0, false},
		{"12a", 0, false},
		{"9300000000", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseEpochSeconds(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseEpochSeconds(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
