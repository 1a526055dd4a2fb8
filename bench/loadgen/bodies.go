// Package loadgen drives a Splunk HEC endpoint with real-shaped Ollama server logs: GIN access
// lines, Go slog lines and llama.cpp loader lines, batched as Splunk clients batch them.
package loadgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Line kinds as Ollama writes them to server.log.
const (
	KindGIN   = "gin"
	KindSlog  = "slog"
	KindLlama = "llama"
)

var (
	ginPaths   = []string{"/api/generate", "/api/chat", "/api/tags", "/api/show", "/api/pull", "/api/embed", "/v1/chat/completions", "/api/ps", "/api/version"}
	ginMethods = []string{"POST", "POST", "GET", "POST", "POST", "POST", "POST", "GET", "GET"}
	ginStatus  = []int{200, 200, 200, 200, 200, 404, 500, 200, 400}
	slogMsgs   = []string{
		`msg="server config" env="map[OLLAMA_HOST:http://0.0.0.0:11434 OLLAMA_KEEP_ALIVE:5m0s OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_NUM_PARALLEL:1]"`,
		`msg="Listening on [::]:11434 (version 0.12.3)"`,
		`msg="loading model" "model layers"=29 requested=-1`,
		`msg="llama runner started in 2.51 seconds"`,
		`msg="new model will fit in available VRAM in single GPU, loading" model=/root/.ollama/models/blobs/sha256-6a0746a1ec1a gpu=GPU-1 parallel=1 available=23988862976 required="5.6 GiB"`,
		`msg="failed to check for update: Get \"https://ollama.com/api/update\": dial tcp: lookup ollama.com: no such host"`,
		`msg="model request too large for system" requested="48.2 GiB" available=33554432000 "total memory"=34359738368`,
	}
	slogLevels  = []string{"INFO", "INFO", "INFO", "INFO", "INFO", "WARN", "ERROR"}
	slogSources = []string{"routes.go:1475", "routes.go:1528", "server.go:398", "server.go:1289", "sched.go:786", "updater.go:91", "server.go:205"}
	llamaLines  = []string{
		"llama_model_loader: loaded meta data with 30 key-value pairs and 255 tensors from /root/.ollama/models/blobs/sha256-74701a8c35f6 (version GGUF V3 (latest))",
		"llama_model_loader: - kv   0:                       general.architecture str              = llama",
		"llama_model_loader: - type  f32:   66 tensors",
		"print_info: file format = GGUF V3 (latest)",
		"load_tensors: offloaded 29/29 layers to GPU",
		"llama_context: n_ctx_per_seq (4096) < n_ctx_train (131072) -- the full capacity of the model will not be utilized",
		"llama_kv_cache_unified: size =  448.00 MiB (  4096 cells,  28 layers,  1 seqs), K (f16):  224.00 MiB, V (f16):  224.00 MiB",
	}
)

// Line returns one Ollama log line of the given kind at time ts, varied by r. GIN lines carry no
// zone (Ollama prints local time); slog lines carry an offset; llama.cpp lines carry no time.
func Line(kind string, ts time.Time, r *rand.Rand) string {
	switch kind {
	case KindGIN:
		i := r.IntN(len(ginPaths))
		lat := time.Duration(r.Int64N(int64(40 * time.Second)))
		ip := fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), 1+r.IntN(254))
		return fmt.Sprintf("[GIN] %s | %3d | %13s | %15s | %-7s %q",
			ts.Format("2006/01/02 - 15:04:05"), ginStatus[i], lat.String(), ip, ginMethods[i], ginPaths[i])
	case KindSlog:
		i := r.IntN(len(slogMsgs))
		return fmt.Sprintf("time=%s level=%s source=%s %s", ts.Format("2006-01-02T15:04:05.000Z07:00"), slogLevels[i], slogSources[i], slogMsgs[i])
	default:
		return llamaLines[r.IntN(len(llamaLines))]
	}
}

// Batch is one request body with the number of events in it.
type Batch struct {
	Body   []byte
	Events int
}

// BodyOptions shape generated request bodies.
type BodyOptions struct {
	Events     int    // events per request (default 100)
	Host       string // default gpu-01
	Source     string // default server.log
	Sourcetype string // default ollama:server
	Seed       uint64
}

func (o *BodyOptions) defaults() {
	if o.Events <= 0 {
		o.Events = 100
	}
	if o.Host == "" {
		o.Host = "gpu-01"
	}
	if o.Source == "" {
		o.Source = "server.log"
	}
	if o.Sourcetype == "" {
		o.Sourcetype = "ollama:server"
	}
}

// kinds mixes the line kinds roughly as a busy Ollama server.log does: mostly GIN access lines,
// bursts of llama.cpp lines when a model loads, some slog lines.
func kind(r *rand.Rand) string {
	switch n := r.IntN(10); {
	case n < 6:
		return KindGIN
	case n < 8:
		return KindSlog
	default:
		return KindLlama
	}
}

// EventBodies returns n bodies for /services/collector/event: concatenated JSON envelopes, the
// time as epoch seconds with milliseconds.
func EventBodies(n int, now time.Time, o BodyOptions) []Batch {
	o.defaults()
	r := rand.New(rand.NewPCG(o.Seed, 1))
	out := make([]Batch, n)
	var buf bytes.Buffer
	for b := range out {
		buf.Reset()
		for i := 0; i < o.Events; i++ {
			ts := now.Add(-time.Duration(r.Int64N(int64(time.Minute))))
			line := Line(kind(r), ts, r)
			buf.WriteString(`{"time":`)
			buf.WriteString(strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64))
			buf.WriteString(`,"host":`)
			buf.WriteString(strconv.Quote(o.Host))
			buf.WriteString(`,"source":`)
			buf.WriteString(strconv.Quote(o.Source))
			buf.WriteString(`,"sourcetype":`)
			buf.WriteString(strconv.Quote(o.Sourcetype))
			buf.WriteString(`,"event":`)
			buf.WriteString(jsonString(line))
			buf.WriteString("}\n")
		}
		out[b] = Batch{Body: bytes.Clone(buf.Bytes()), Events: o.Events}
	}
	return out
}

// RawBodies returns n bodies for /services/collector/raw: newline-separated lines. Each body
// starts with a timestamped line so every llama.cpp line inherits a time from the same request.
func RawBodies(n int, now time.Time, o BodyOptions) []Batch {
	o.defaults()
	r := rand.New(rand.NewPCG(o.Seed, 2))
	out := make([]Batch, n)
	var buf bytes.Buffer
	for b := range out {
		buf.Reset()
		for i := 0; i < o.Events; i++ {
			k := kind(r)
			if i == 0 && k == KindLlama {
				k = KindSlog
			}
			buf.WriteString(Line(k, now.Add(-time.Duration(r.Int64N(int64(time.Minute)))), r))
			buf.WriteByte('\n')
		}
		out[b] = Batch{Body: bytes.Clone(buf.Bytes()), Events: o.Events}
	}
	return out
}

// jsonString quotes s as a JSON string (strconv.Quote escapes differ from JSON for some runes).
func jsonString(s string) string {
	var b bytes.Buffer
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
