#!/usr/bin/env bash
# Sets up the machine, builds and runs a local cluster in the foreground with embedded
# defaults, on 127.0.0.1: one discovery service (nsqlookupd: TCP 4160, HTTP 4161,
# gRPC 4162), one broker registered with it (nsqd: TCP 4150, HTTP 4151, gRPC 4153,
# data under ./data) and the admin (nsqadmin: web UI and API on http://127.0.0.1:4171).
# Ctrl-C stops all three cleanly. Extra arguments go to nsqd
# (e.g. --mem-queue-size=1000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bazel build --jobs=2 //services/broker:nsqd //services/discovery:nsqlookupd //services/admin:nsqadmin \
  //tools/nsq
mkdir -p data/nsqd

pids=()
stopping=0
stop() {
  [ "$stopping" -eq 1 ] && return
  stopping=1
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop INT TERM

bazel-bin/services/discovery/nsqlookupd --broadcast-address=127.0.0.1 &
pids+=($!)
bazel-bin/services/broker/nsqd --data-path="$PWD/data/nsqd" --broadcast-address=127.0.0.1 \
  --discovery-address=127.0.0.1:4162 "$@" &
pids+=($!)
bazel-bin/services/admin/nsqadmin --discovery-address=127.0.0.1:4162 &
pids+=($!)

# Until Ctrl-C, or until any process exits (then the others are stopped too).
wait -n || true
stop
