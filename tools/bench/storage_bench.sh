#!/usr/bin/env bash
# Publish-then-drain figures of the broker's storage modes through the gRPC API, 200 B
# messages: (a) default --mem-queue-size with a backlog far beyond it, (b)
# --mem-queue-size=0, (c) --mem-queue-size=0 --sync-every=1; plus bytes written to disk
# per message (WAL + flushes + compactions, from nsq_storage_written_bytes_total).
#
#   tools/bench/storage_bench.sh [duration=10s] [size=200]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
size=${2:-200}
bazel build //services/broker:nsqd //tools/bench:grpc_bench  # -O2 (see .bazelrc)
nsqd=bazel-bin/services/broker/nsqd
bench=bazel-bin/tools/bench/grpc_bench

metric() {  # sum of a metric's samples
  curl -s "127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m"({|$)" {s += $2} END {printf "%.0f", s}'
}

run() {
  local name=$1; shift
  local data; data=$(mktemp -d)
  local base=$((20000 + RANDOM % 20000))
  "$nsqd" --data-path="$data" --grpc-address=127.0.0.1:$base --http-address=127.0.0.1:$((base + 1)) \
    --tcp-address=127.0.0.1:$((base + 2)) --log-level=warn "$@" &
  local pid=$!
  for _ in $(seq 100); do curl -sf "127.0.0.1:$((base + 1))/ping" >/dev/null && break; sleep 0.1; done
  echo "== ($name) $*"
  "$bench" --address=127.0.0.1:$base --mode=pub-then-sub --duration="$duration" \
    --connections=2 --batch-size=200 --size="$size"
  local msgs bytes
  msgs=$(metric $((base + 1)) nsq_topic_messages_total)
  bytes=$(metric $((base + 1)) nsq_storage_written_bytes_total)
  echo "disk: ${bytes} bytes written for ${msgs} messages = $((bytes / (msgs > 0 ? msgs : 1))) bytes/msg"
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$data"
}

run a
run b --mem-queue-size=0
run c --mem-queue-size=0 --sync-every=1
