#!/usr/bin/env bash
# Sets up the machine, builds and runs a local broker in the foreground with embedded
# defaults: 127.0.0.1, TCP 4150, HTTP 4151, gRPC 4153, data under ./data. Ctrl-C stops it.
# Extra arguments go to nsqd (e.g. --mem-queue-size=1000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bazel build --jobs=2 //services/broker:nsqd
mkdir -p data/nsqd
exec bazel-bin/services/broker/nsqd --data-path="$PWD/data/nsqd" "$@"
