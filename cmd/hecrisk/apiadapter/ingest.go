package apiadapter

import (
	"github.com/hecrisk/hecrisk/hec"
	"github.com/hecrisk/hecrisk/web/api"
)

// Ingest adapts *hec.Server to api.Ingest: web/api keeps its own types so it never imports hec.
type Ingest struct {
	S *hec.Server
}

var _ api.Ingest = Ingest{}

// Tokens lists the configured tokens without their values.
func (i Ingest) Tokens() []api.IngestToken {
	toks := i.S.Tokens()
	if toks == nil {
		return nil
	}
	out := make([]api.IngestToken, len(toks))
	for j, t := range toks {
		out[j] = api.IngestToken(t)
	}
	return out
}

// Stats returns the receiver's counters since start.
func (i Ingest) Stats() api.IngestStats {
	st := i.S.Stats()
	return api.IngestStats{
		Requests: st.Requests, Events: st.Events, Bytes: st.Bytes,
		Sourcetypes: convert(st.Sourcetypes, func(c hec.Count) api.IngestCount { return api.IngestCount(c) }),
		Hosts:       convert(st.Hosts, func(c hec.Count) api.IngestCount { return api.IngestCount(c) }),
		Refusals:    st.Refusals,
		Recent:      convert(st.Recent, func(r hec.Refusal) api.IngestRefusal { return api.IngestRefusal(r) }),
		AckChannels: st.AckChannels, AckPending: st.AckPending,
	}
}

func convert[S, D any](in []S, f func(S) D) []D {
	if in == nil {
		return nil
	}
	out := make([]D, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
