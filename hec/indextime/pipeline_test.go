package indextime

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
)

var testNow = time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)

func mustConf(t testing.TB, name, text string) *conf.Config {
	t.Helper()
	f, err := conf.ParseString(name, text)
	if err != nil {
		t.Fatal(err)
	}
	return conf.Merge(f)
}

func newPipeline(t testing.TB, props, transforms string, maxSize int) *Pipeline {
	t.Helper()
	p, err := New(Options{
		Props:        mustConf(t, "props.conf", props),
		Transforms:   mustConf(t, "transforms.conf", transforms),
		DefaultTZ:    time.UTC,
		MaxEventSize: maxSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func raws(evs []store.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Raw)
	}
	return out
}

func TestRawBreakingAndEdits(t *testing.T) {
	tests := []struct {
		name       string
		props      string
		transforms string
		meta       Meta
		body       string
		want       []string
	}{
		{name: "default breaker, blank lines and CRLF dropped",
			body: "a\r\n\r\nb\n\n\nc  \n   \n", want: []string{"a", "b", "c  "}},
		{name: "no trailing newline", body: "one\ntwo", want: []string{"one", "two"}},
		{name: "empty body", body: "", want: []string{}},
		{name: "custom breaker keeps text outside the group",
			props: "[st]\nLINE_BREAKER = ([\\r\\n]+)\\d{4}-\n",
			meta:  Meta{Sourcetype: "st"},
			body:  "2025-01-01 a\n  cont\n2025-01-02 b\n", want: []string{"2025-01-01 a\n  cont", "2025-01-02 b"}},
		{name: "breaker group delimiter is discarded",
			props: "[st]\nLINE_BREAKER = (;;)\n", meta: Meta{Sourcetype: "st"},
			body: "a;;b;;;;c", want: []string{"a", "b", "c"}},
		{name: "zero-width breaker group",
			props: "[st]\nLINE_BREAKER = ()x\n", meta: Meta{Sourcetype: "st"},
			body: "x1x2x3", want: []string{"x1", "x2", "x3"}},
		{name: "truncate",
			props: "[st]\nTRUNCATE = 5\n", meta: Meta{Sourcetype: "st"},
			body: "0123456789\nabc\n", want: []string{"01234", "abc"}},
		{name: "truncate never splits a rune",
			props: "[st]\nTRUNCATE = 4\n", meta: Meta{Sourcetype: "st"},
			body: "abcµd\n", want: []string{"abc"}},
		{name: "truncate 0 is unlimited",
			props: "[st]\nTRUNCATE = 0\n", meta: Meta{Sourcetype: "st"},
			body: strings.Repeat("x", 20000), want: []string{strings.Repeat("x", 20000)}},
		{name: "default truncate 10000",
			body: strings.Repeat("y", 10001), want: []string{strings.Repeat("y", 10000)}},
		{name: "sedcmd g and i flags with group in replacement (TA-ollama)",
			props: "[st]\nSEDCMD-redact_key   = s/(api[_-]?key|authorization|bearer)[=: ]+[^&\\s]+/\\1=[REDACTED]/gi\n" +
				"SEDCMD-redact_email = s/([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,})/[REDACTED_EMAIL]/g\n",
			meta: Meta{Sourcetype: "st"},
			body: "GET /x?API_KEY=abc&Bearer: tok by joe@example.com and ann@example.org\n",
			want: []string{"GET /x?API_KEY=[REDACTED]&Bearer=[REDACTED] by [REDACTED_EMAIL] and [REDACTED_EMAIL]"}},
		{name: "README example: mask IPs, drop debug",
			props:      "[ollama:server]\nSEDCMD-mask_ip = s/\\b(\\d{1,3}\\.\\d{1,3})\\.\\d{1,3}\\.\\d{1,3}\\b/\\1.x.x/g\nTRANSFORMS-drop_debug = ollama_drop_debug\n",
			transforms: "[ollama_drop_debug]\nREGEX = (level=DEBUG)\nDEST_KEY = queue\nFORMAT = nullQueue\n",
			meta:       Meta{Sourcetype: "ollama:server"},
			body:       "level=INFO from 192.168.1.20 and 10.0.0.7\nlevel=DEBUG x\n",
			want:       []string{"level=INFO from 192.168.x.x and 10.0.x.x"}},
		{name: "sedcmd without g replaces the first match",
			props: "[st]\nSEDCMD-a = s/o/0/\n", meta: Meta{Sourcetype: "st"},
			body: "foo boo\n", want: []string{"f0o boo"}},
		{name: "sedcmd nth occurrence",
			props: "[st]\nSEDCMD-a = s/o/0/3\n", meta: Meta{Sourcetype: "st"},
			body: "foo boo\n", want: []string{"foo b0o"}},
		{name: "sedcmd nth and later",
			props: "[st]\nSEDCMD-a = s/o/0/2g\n", meta: Meta{Sourcetype: "st"},
			body: "foo boo\n", want: []string{"fo0 b00"}},
		{name: "sedcmd other delimiter and escaped delimiter",
			props: "[st]\nSEDCMD-a = s#/a\\#b#X\\#Y#g\n", meta: Meta{Sourcetype: "st"},
			body: "p/a#bq\n", want: []string{"pX#Yq"}},
		{name: "sedcmd escaped slash",
			props: "[st]\nSEDCMD-a = s/\\/tmp\\//\\/var\\//\n", meta: Meta{Sourcetype: "st"},
			body: "/tmp/x\n", want: []string{"/var/x"}},
		{name: "sedcmd y transliteration",
			props: "[st]\nSEDCMD-a = y/abc/xyz/\n", meta: Meta{Sourcetype: "st"},
			body: "aabbcc-d\n", want: []string{"xxyyzz-d"}},
		{name: "sedcmd classes run in key order",
			props: "[st]\nSEDCMD-b = s/1/2/\nSEDCMD-a = s/0/1/\n", meta: Meta{Sourcetype: "st"},
			body: "0\n", want: []string{"2"}},
		{name: "transform rewrites _raw (TA-ollama redact_prompts shape)",
			props:      "[st]\nTRANSFORMS-redact_prompts = ollama_redact_prompts\n",
			transforms: "[ollama_redact_prompts]\nREGEX = (\"(prompt|response|content)\"\\s*:\\s*\")(.*?)(\")\nFORMAT = \"$1[REDACTED]$3\"\nDEST_KEY = _raw\n",
			meta:       Meta{Sourcetype: "st"},
			body:       "{\"model\":\"m\",\"prompt\":\"What is AI?\"}\n",
			want:       []string{"\"\"prompt\":\"[REDACTED]What is AI?\""}},
		{name: "format $ without an existing group is literal",
			props:      "[st]\nTRANSFORMS-a = t\n",
			transforms: "[t]\nREGEX = (a)\nFORMAT = $1$2$ $x $10\nDEST_KEY = _raw\n",
			meta:       Meta{Sourcetype: "st"},
			body:       "a\n", want: []string{"a$2$ $x $10"}},
		{name: "nullQueue drops matching events",
			props:      "[st]\nTRANSFORMS-drop = dropdebug\n",
			transforms: "[dropdebug]\nREGEX = (level=DEBUG)\nDEST_KEY = queue\nFORMAT = nullQueue\n",
			meta:       Meta{Sourcetype: "st"},
			body:       "level=INFO a\nlevel=DEBUG b\nlevel=WARN c\n", want: []string{"level=INFO a", "level=WARN c"}},
		{name: "nullQueue everything then indexQueue keeps some",
			props:      "[st]\nTRANSFORMS-set = setnull, setparsing\n",
			transforms: "[setnull]\nREGEX = (.)\nDEST_KEY = queue\nFORMAT = nullQueue\n[setparsing]\nREGEX = (\\[GIN\\])\nDEST_KEY = queue\nFORMAT = indexQueue\n",
			meta:       Meta{Sourcetype: "st"},
			body:       "[GIN] x\nother\n[GIN] y\n", want: []string{"[GIN] x", "[GIN] y"}},
		{name: "sedcmd runs before transforms",
			props:      "[st]\nSEDCMD-a = s/secret/public/\nTRANSFORMS-a = keep\n",
			transforms: "[keep]\nREGEX = (secret)\nDEST_KEY = queue\nFORMAT = nullQueue\n",
			meta:       Meta{Sourcetype: "st"},
			body:       "secret\n", want: []string{"public"}},
		{name: "transform lookahead limits the searched text",
			props:      "[st]\nTRANSFORMS-a = t\n",
			transforms: "[t]\nREGEX = (needle)\nDEST_KEY = queue\nFORMAT = nullQueue\nLOOKAHEAD = 6\n",
			meta:       Meta{Sourcetype: "st"},
			body:       "xxxxxxneedle\nneedle\n", want: []string{"xxxxxxneedle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeline(t, tt.props, tt.transforms, 0)
			evs, err := p.Raw([]byte(tt.body), tt.meta, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got := raws(evs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTransformsMetadataAndFields(t *testing.T) {
	props := "[st]\nTRANSFORMS-a = sethost, setst, setsrc, setidx, meta, metarepeat, fromhost\n"
	transforms := `[sethost]
REGEX = host=(\S+)
FORMAT = host::$1
DEST_KEY = MetaData:Host
[setst]
REGEX = ^(\w+):
FORMAT = sourcetype::ollama:$1
DEST_KEY = MetaData:Sourcetype
[setsrc]
REGEX = file=(\S+)
FORMAT = source::$1
DEST_KEY = MetaData:Source
[setidx]
REGEX = (secure)
FORMAT = security
DEST_KEY = _MetaData:Index
[meta]
REGEX = user=(\w+) msg="([^"]*)"
FORMAT = user::$1 msg::"$2"
WRITE_META = true
[metarepeat]
REGEX = tag=(\w+)
FORMAT = tag::$1
WRITE_META = true
REPEAT_MATCH = true
[fromhost]
SOURCE_KEY = MetaData:Host
REGEX = ^host::(\w+)-
FORMAT = site::$1
WRITE_META = true
`
	p := newPipeline(t, props, transforms, 0)
	evs, err := p.Raw([]byte(`server: host=nyc-7 file=/var/log/x.log secure user=ann msg="hello world" tag=a tag=b`+"\n"), Meta{Index: "main", Host: "h0", Source: "s0", Sourcetype: "st"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("events = %d", len(evs))
	}
	ev := evs[0]
	if ev.Host != "nyc-7" || ev.Sourcetype != "ollama:server" || ev.Source != "/var/log/x.log" || ev.Index != "security" {
		t.Errorf("metadata = host %q sourcetype %q source %q index %q", ev.Host, ev.Sourcetype, ev.Source, ev.Index)
	}
	want := []store.Field{
		{Name: "user", Values: []string{"ann"}},
		{Name: "msg", Values: []string{"hello world"}},
		{Name: "tag", Values: []string{"a"}},
		{Name: "tag", Values: []string{"b"}},
		{Name: "site", Values: []string{"nyc"}},
	}
	if !reflect.DeepEqual(ev.Fields, want) {
		t.Errorf("fields = %+v\nwant %+v", ev.Fields, want)
	}
}

func TestPropsStanzaPrecedence(t *testing.T) {
	props := `[default]
SEDCMD-z = s/$/ [default]/
[st]
SEDCMD-a = s/$/ sourcetype/
SEDCMD-b = s/$/ st-b/
[host::web*]
SEDCMD-a = s/$/ host/
[source::.../app/*.log]
SEDCMD-a = s/$/ source-pattern-app/
[source::.../*.log]
SEDCMD-a = s/$/ source-pattern-any/
[source::/opt/app/x.log]
SEDCMD-c = s/$/ source-literal/
[source::(?i)/OPT/APP/Y.LOG]
SEDCMD-c = s/$/ source-ci/
[source::/srv/(a|b)/z.log]
SEDCMD-c = s/$/ source-alt/
[source::/srv/...]
SEDCMD-d = s/$/ srv-prio/
priority = 200
`
	p := newPipeline(t, props, "", 0)
	tests := []struct {
		meta Meta
		want string
	}{
		{Meta{Sourcetype: "st"}, "e sourcetype st-b [default]"},
		{Meta{Sourcetype: "st", Host: "web01"}, "e host st-b [default]"},
		{Meta{Sourcetype: "st", Host: "db01"}, "e sourcetype st-b [default]"},
		// Both patterns match; ".../*.log" sorts lower in ASCII and wins.
		{Meta{Sourcetype: "st", Host: "web01", Source: "/opt/app/x.log"}, "e source-pattern-any st-b source-literal [default]"},
		{Meta{Sourcetype: "other", Source: "/opt/app/y.log"}, "e source-pattern-any source-ci [default]"},
		{Meta{Sourcetype: "other", Source: "/opt/app/sub/y.txt"}, "e [default]"},
		{Meta{Sourcetype: "other", Source: "/srv/b/z.log"}, "e source-pattern-any source-alt srv-prio [default]"},
		{Meta{Sourcetype: "other", Source: "/srv/c/z.log"}, "e source-pattern-any srv-prio [default]"},
	}
	for _, tt := range tests {
		evs, err := p.Raw([]byte("e"), tt.meta, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Raw != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.meta, raws(evs), tt.want)
		}
	}
}

func TestTimestamps(t *testing.T) {
	if _, err := time.LoadLocation("America/New_York"); err != nil {
		t.Fatalf("no tzdata: %v", err)
	}
	tests := []struct {
		name  string
		props string
		body  string
		want  []string
	}{
		{name: "auto recognition, inherit, first line without stamp gets now",
			body: "no stamp\n2025-09-30 20:07:26 a\nnext\n", want: []string{"2025-10-01T12:00:00Z", "2025-09-30T20:07:26Z", "2025-09-30T20:07:26Z"}},
		{name: "TIME_PREFIX required: no match, no extraction",
			props: "[st]\nTIME_PREFIX = ^ts=\n",
			body:  "ts=2025-09-30T01:02:03Z\nx 2025-09-29T01:02:03Z\n", want: []string{"2025-09-30T01:02:03Z", "2025-09-30T01:02:03Z"}},
		{name: "MAX_TIMESTAMP_LOOKAHEAD counts from the prefix",
			props: "[st]\nTIME_PREFIX = at\\s\nMAX_TIMESTAMP_LOOKAHEAD = 19\n",
			body:  "xxxxxxxxxxxxx at 2025-09-30 01:02:03\nat abcdefghijklmnopqrstuvwxyz 2025-09-29 01:02:03\n",
			want:  []string{"2025-09-30T01:02:03Z", "2025-09-30T01:02:03Z"}},
		{name: "MAX_TIMESTAMP_LOOKAHEAD counts characters, not bytes",
			props: "[st]\nTIME_PREFIX = ^\nMAX_TIMESTAMP_LOOKAHEAD = 21\n",
			body:  "µ 2025-09-30 01:02:03\n", want: []string{"2025-09-30T01:02:03Z"}},
		{name: "TIME_FORMAT and TZ",
			props: "[st]\nTIME_FORMAT = %d.%m.%Y %H:%M\nTZ = America/New_York\n",
			body:  "30.09.2025 20:07 x\n", want: []string{"2025-10-01T00:07:00Z"}},
		{name: "TIME_FORMAT that does not match falls back to recognition",
			props: "[st]\nTIME_FORMAT = %s\n",
			body:  "2025-09-30T20:07:26.5+02:00 x\n", want: []string{"2025-09-30T18:07:26.5Z"}},
		{name: "zone in text wins over TZ",
			props: "[st]\nTZ = America/New_York\n",
			body:  "time=2025-09-30T20:01:00.367-04:00 x\n", want: []string{"2025-10-01T00:01:00.367Z"}},
		{name: "MAX_DAYS_AGO and MAX_DAYS_HENCE reject stamps",
			props: "[st]\nMAX_DAYS_AGO = 10\n",
			body:  "2025-09-30 00:00:00 ok\n2025-01-01 00:00:00 old\n2025-12-01 00:00:00 future\n",
			want:  []string{"2025-09-30T00:00:00Z", "2025-09-30T00:00:00Z", "2025-09-30T00:00:00Z"}},
		{name: "DATETIME_CONFIG CURRENT",
			props: "[st]\nDATETIME_CONFIG = CURRENT\n",
			body:  "2025-09-30 00:00:00 x\n", want: []string{"2025-10-01T12:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeline(t, tt.props, "", 0)
			evs, err := p.Raw([]byte(tt.body), Meta{Sourcetype: "st"}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestEvent(t *testing.T) {
	p := newPipeline(t, "[st]\nTIME_PREFIX = ^\\[GIN\\]\\s+\nSEDCMD-a = s/secret/xxx/\nTRANSFORMS-a = drop\n",
		"[drop]\nREGEX = (DROPME)\nDEST_KEY = queue\nFORMAT = nullQueue\n", 0)
	envelope := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	line := "[GIN] 2025/09/30 - 20:07:26 | 200 | secret"
	tests := []struct {
		name     string
		ev       store.Event
		extract  bool
		wantTime int64
		wantRaw  string
		keep     bool
	}{
		{"envelope time kept", store.Event{Sourcetype: "st", Raw: line, Time: envelope}, false, envelope, "[GIN] 2025/09/30 - 20:07:26 | 200 | xxx", true},
		{"auto_extract_timestamp", store.Event{Sourcetype: "st", Raw: line, Time: envelope}, true, time.Date(2025, 9, 30, 20, 7, 26, 0, time.UTC).UnixNano(), "[GIN] 2025/09/30 - 20:07:26 | 200 | xxx", true},
		{"no time at all gets now", store.Event{Sourcetype: "st", Raw: "plain"}, true, testNow.UnixNano(), "plain", true},
		{"nullQueue", store.Event{Sourcetype: "st", Raw: "DROPME"}, false, testNow.UnixNano(), "DROPME", false},
		{"multi-line event is not broken", store.Event{Sourcetype: "st", Raw: "a\nb"}, false, testNow.UnixNano(), "a\nb", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			keep := p.Event(&ev, tt.extract, testNow)
			if keep != tt.keep || ev.Time != tt.wantTime || ev.Raw != tt.wantRaw {
				t.Errorf("got keep=%v time=%s raw=%q; want keep=%v time=%s raw=%q", keep, time.Unix(0, ev.Time).UTC(), ev.Raw,
					tt.keep, time.Unix(0, tt.wantTime).UTC(), tt.wantRaw)
			}
		})
	}
}

func TestMaxEventSize(t *testing.T) {
	p := newPipeline(t, "[st]\nTRUNCATE = 0\n[short]\nTRUNCATE = 8\n", "", 10)
	_, err := p.Raw([]byte("ok\n0123456789A\n"), Meta{Sourcetype: "st"}, testNow)
	var tooLarge *EventTooLargeError
	if !errors.Is(err, ErrEventTooLarge) || !errors.As(err, &tooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
	if tooLarge.Event != 1 || tooLarge.Size != 11 || tooLarge.Limit != 10 {
		t.Errorf("error = %+v", tooLarge)
	}
	// TRUNCATE applies first, so a truncated event fits.
	evs, err := p.Raw([]byte("0123456789A\n"), Meta{Sourcetype: "short"}, testNow)
	if err != nil || len(evs) != 1 || evs[0].Raw != "01234567" {
		t.Errorf("got %q, %v", raws(evs), err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name, props, transforms string
		want                    []string
		unsupported             bool
	}{
		{"lookahead in LINE_BREAKER", "[st]\nLINE_BREAKER = ([\\r\\n]+)(?=\\d)\n", "",
			[]string{"props.conf [st] LINE_BREAKER", "lookahead (?="}, true},
		{"negative lookbehind in TIME_PREFIX", "[st]\nTIME_PREFIX = (?<!x)time=\n", "",
			[]string{"[st] TIME_PREFIX", "negative lookbehind (?<!"}, true},
		{"backreference in SEDCMD pattern", "[st]\nSEDCMD-x = s/(a)\\1/b/\n", "",
			[]string{"[st] SEDCMD-x", "backreference \\1"}, true},
		{"possessive quantifier", "[st]\nSEDCMD-x = s/a++/b/\n", "",
			[]string{"[st] SEDCMD-x", "possessive quantifier"}, true},
		{"atomic group in transform", "[st]\nTRANSFORMS-x = t\n", "[t]\nREGEX = (?>ab)(c)\nDEST_KEY = _raw\n",
			[]string{"transforms.conf [t] REGEX", "atomic group"}, true},
		{"invalid regex", "[st]\nTIME_PREFIX = (unclosed\n", "",
			[]string{"props.conf [st] TIME_PREFIX: invalid regex"}, false},
		{"LINE_BREAKER without group", "[st]\nLINE_BREAKER = \\n+\n", "",
			[]string{"[st] LINE_BREAKER: needs a capturing group"}, false},
		{"transform without group", "[st]\nTRANSFORMS-x = t\n", "[t]\nREGEX = abc\nDEST_KEY = _raw\n",
			[]string{"[t] REGEX: needs at least one capturing group"}, false},
		{"missing transform", "[st]\nTRANSFORMS-x = nope\n", "",
			[]string{"[st] TRANSFORMS-x", "no stanza [nope]"}, false},
		{"bad sed", "[st]\nSEDCMD-x = s/a/b\n", "", []string{"[st] SEDCMD-x: missing closing delimiter"}, false},
		{"bad sed flag", "[st]\nSEDCMD-x = s/a/b/q\n", "", []string{"unknown flag 'q'"}, false},
		{"bad y", "[st]\nSEDCMD-x = y/ab/c/\n", "", []string{"equal length"}, false},
		{"bad TZ", "[st]\nTZ = Mars/Olympus\n", "", []string{"[st] TZ: unknown time zone"}, false},
		{"bad TRUNCATE", "[st]\nTRUNCATE = lots\n", "", []string{"[st] TRUNCATE", "not an integer"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Props: mustConf(t, "props.conf", tt.props), Transforms: mustConf(t, "transforms.conf", tt.transforms)})
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := errors.Is(err, ErrUnsupportedRegex); got != tt.unsupported {
				t.Errorf("errors.Is(ErrUnsupportedRegex) = %v", got)
			}
		})
	}
}

func TestAcceptedRegexSyntax(t *testing.T) {
	// Named groups in PCRE spellings, escaped punctuation, classes with brackets and \1 in a
	// SEDCMD replacement are all fine.
	props := "[st]\nTIME_PREFIX = (?<k>ts)(?'eq'=)\nSEDCMD-a = s/([\\]\\[])(?<x>\\d+)/\\1\\2!/g\nLINE_BREAKER = ([\\r\\n]+)\n"
	p := newPipeline(t, props, "", 0)
	evs, err := p.Raw([]byte("ts=2025-09-30 01:02:03 [12]\n"), Meta{Sourcetype: "st"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Raw != "ts=2025-09-30 01:02:03 [12!]" {
		t.Errorf("got %q", raws(evs))
	}
	if got := time.Unix(0, evs[0].Time).UTC().Format(time.RFC3339); got != "2025-09-30T01:02:03Z" {
		t.Errorf("time = %s", got)
	}
}

func TestUnsupportedSettingsReportedOnce(t *testing.T) {
	p, err := New(Options{
		Props:      mustConf(t, "props.conf", "[a]\nSHOULD_LINEMERGE = true\nTRANSFORMS-x = ev, route\n[b]\nTRANSFORMS-y = ev\n"),
		Transforms: mustConf(t, "transforms.conf", "[ev]\nINGEST_EVAL = x=1\n[route]\nREGEX = (.)\nDEST_KEY = _TCP_ROUTING\nFORMAT = grp\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range p.Findings() {
		got = append(got, f.Severity.String()+" "+f.String())
	}
	want := []string{
		`error props.conf:2: [a] SHOULD_LINEMERGE: SHOULD_LINEMERGE = true is not supported; events are broken by LINE_BREAKER only`,
		`error transforms.conf:2: [ev] INGEST_EVAL: INGEST_EVAL is not supported; transform skipped`,
		`error transforms.conf:5: [route] DEST_KEY: DEST_KEY "_TCP_ROUTING" is not supported; transform skipped`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	p := newPipeline(t, "[st]\nSEDCMD-a = s/a/b/g\n[source::/logs/*.log]\nSEDCMD-a = s/a/c/g\n", "", 0)
	done := make(chan []string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var got []string
			for i := 0; i < 50; i++ {
				src := "/logs/x.log"
				if (g+i)%2 == 0 {
					src = "/other/y"
				}
				evs, err := p.Raw([]byte("aaa\n"), Meta{Sourcetype: "st", Source: src}, testNow)
				if err != nil || len(evs) != 1 {
					got = append(got, "error")
					continue
				}
				if want := map[bool]string{true: "ccc", false: "bbb"}[src == "/logs/x.log"]; evs[0].Raw != want {
					got = append(got, evs[0].Raw+" for "+src)
				}
			}
			done <- got
		}()
	}
	for g := 0; g < 8; g++ {
		if bad := <-done; len(bad) > 0 {
			t.Errorf("wrong results: %v", bad)
		}
	}
}
