#!/bin/sh
# Builds testdata/store-v1: a data directory written by the v1 store (one Badger key per event)
# and what that release answered about it. Run from the repository root with the binary of the
# release to capture:
#
#   git worktree add /tmp/v1 e341fd568fe4e4fc0ff09d7c34c639f7392f198f
#   (cd /tmp/v1 && go build -o /tmp/hecrisk-v1 ./cmd/hecrisk)
#   testdata/store-v1/make.sh /tmp/hecrisk-v1
#
# test/e2e TestOpenV1DataDir starts the current binary on a copy of data.tar.gz and compares its
# answers with the *.golden.json files written here.
set -eu
BIN=$1
OUT=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$OUT/../.." && pwd)
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/conf"
cp "$OUT/conf/"*.conf "$WORK/conf/"
HEC=127.0.0.1:18188
API=127.0.0.1:18189
"$BIN" serve --data "$WORK/data" --conf-dir "$WORK/conf" --hec-addr $HEC --api-addr $API \
	--tz UTC --no-scheduler --log-level warn &
PID=$!
for i in $(seq 100); do curl -sf http://$HEC/services/collector/health >/dev/null && break; sleep 0.1; done
TOKEN=6f1c5e1a-0b8e-4d8e-9a53-111111111111
# The ESCU Ollama attack data, newest event at 09:45 so that the 10:00 slot's -70m@m..-10m@m
# window holds it.
"$BIN" replay --dataset "$ROOT/testdata/samples/escu-attack-data/ollama_server_data.yml" \
	--url http://$HEC --token $TOKEN --rebase-time 2026-11-02T09:45:00Z --tz UTC --host ollama-lab
# JSON events with indexed fields in another index and sourcetype, two with the same _time.
curl -sf -H "Authorization: Splunk $TOKEN" http://$HEC/services/collector/event -d '
{"time":1793612400.125,"index":"ollama","sourcetype":"ollama:api","host":"gpu-01","source":"api","event":{"model":"llama3.2","prompt_eval_count":26},"fields":{"env":"lab","tags":["a","b"]}}
{"time":1793612400.125,"index":"ollama","sourcetype":"ollama:api","host":"gpu-02","source":"api","event":{"model":"qwen3","prompt_eval_count":7},"fields":{"env":"prod"}}
{"time":1793612401,"index":"ollama","sourcetype":"ollama:api","host":"gpu-01","source":"api","event":"plain text ünïcode"}'
echo
"$BIN" detect --server http://$API --token e2e-api-token --at 2026-11-02T10:00:00Z >/dev/null
search() {
	"$BIN" search --server http://$API --token e2e-api-token --output json --earliest 0 "$1"
}
{
	echo '['
	search 'index=* | table _time index sourcetype host source _raw env tags' | sed '$!s/$/,/'
	echo ']'
} | gzip -n >"$OUT/events.golden.json.gz"
{
	echo '['
	search 'index=* | stats count by index, sourcetype, host' | sed '$!s/$/,/'
	echo ']'
} >"$OUT/stats.golden.json"
{
	echo '['
	search 'sourcetype="ollama:server" "[GIN]" | bin _time span=5m | stats count, values(status) as status by _time, src, host' | sed '$!s/$/,/'
	echo ']'
} >"$OUT/gin.golden.json"
curl -sf -H "Authorization: Bearer e2e-api-token" "http://$API/api/v1/risk/events?earliest=0&limit=10000" >"$OUT/risk.golden.json"
kill -TERM $PID
wait $PID || true
rm -f "$WORK/data/badger/LOCK"
tar -C "$WORK" -czf "$OUT/data.tar.gz" data
