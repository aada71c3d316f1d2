#!/usr/bin/env bash
# `make collector`: the Collector gateway (collector-config/otelcol.yaml) on localhost:4317 / 4318 in front
# of Jaeger (collector-config/jaeger.yaml, OTLP moved to localhost:14317 / 14318, UI on :16686), without
# Docker. Span metrics and the app's metrics: http://localhost:8889/metrics. Ctrl-C stops both.
# Every AGENTOPS_* variable of the two configs can be set from the environment, e.g.
#   AGENTOPS_TAIL_SAMPLING_PERCENT=100 make collector        (keep every trace while trying it out)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAEGER="$(bash "$ROOT/scripts/otel-binaries.sh" path jaeger)"
OTELCOL="$(bash "$ROOT/scripts/otel-binaries.sh" path otelcol)"
for binary in "$JAEGER" "$OTELCOL"; do
  [[ -x "$binary" ]] || { echo "missing $binary: run make binaries" >&2; exit 1; }
done

export AGENTOPS_JAEGER_OTLP_GRPC="${AGENTOPS_JAEGER_OTLP_GRPC:-localhost:14317}"
export AGENTOPS_JAEGER_OTLP_HTTP="${AGENTOPS_JAEGER_OTLP_HTTP:-localhost:14318}"
export AGENTOPS_COLLECTOR_TRACES_ENDPOINT="${AGENTOPS_COLLECTOR_TRACES_ENDPOINT:-$AGENTOPS_JAEGER_OTLP_GRPC}"

"$OTELCOL" validate --config "$ROOT/collector-config/otelcol.yaml"
log="${TMPDIR:-/tmp}/otel-agentops-jaeger.log"
pids=()
stop() {
  trap - EXIT INT TERM
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 130' INT TERM
"$JAEGER" --config "$ROOT/collector-config/jaeger.yaml" >"$log" 2>&1 &
pids+=($!)
"$OTELCOL" --config "$ROOT/collector-config/otelcol.yaml" &
pids+=($!)
echo "Jaeger: UI and API http://localhost:16686 (log $log)" >&2
echo "Collector: OTLP localhost:4317 (gRPC) / localhost:4318 (HTTP), metrics http://localhost:8889/metrics" >&2
# Until either stops (or Ctrl-C): then both.
wait -n
