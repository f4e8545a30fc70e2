#!/usr/bin/env bash
# compare.sh: stock nsqd 1.3 and our nsqd, alternately, with the same flags and the same
# bench programs, several rounds; prints every figure, every ratio (ours / stock) and the
# median of each ratio over the rounds. Issue 10's figures come from here.
#
#   tools/bench/compare.sh [--rounds=3] [--duration=10s] [--stock-dir=/tmp/nsq-stock]
#                          [--cases=throughput,latency,scale,backlog] [--no-build]
#                          [--backlog-messages=10000000] [--results=FILE]
#
# Cases (each round runs stock and ours back to back, the order alternating per round):
#   throughput  stock bench_writer for --duration, then bench_reader for half of it (so it
#               never drains), MPUB 200 / RDY 2500: V2 200 B and 1 KiB with defaults; ours
#               fsynced (--mem-queue-size=0 --sync-every=1) over V2 and gRPC (grpc_bench,
#               2 connections, batch 200) against stock's defaults; ours over gRPC with
#               defaults against stock's V2.
#   latency     v2_bench --rate=R --pub (pipelined PUBs, time-stamped bodies) at 10k, 50k
#               and 200k msgs/s: publish-to-delivery p50/p99/p999.
#   scale       v2_bench pubsub over 1/4/10/100 topics x 1/5/20 channels: msgs/s in and out
#               and the broker's peak RSS.
#   backlog     --backlog-messages of 200 B published with no consumer (defaults, the
#               backlog past --mem-queue-size on disk): the broker's RSS afterwards.
#
# Stock binaries: `../shared/peers/unpack DIR` (see that folder's README) extracts them.
# Machines are noisy: read the medians of the ratios, never one absolute figure.
set -euo pipefail

ROUNDS=3
DURATION=10s
STOCK_DIR=/tmp/nsq-stock
CASES=throughput,latency,scale,backlog
BUILD=1
BACKLOG=10000000
RESULTS=""
for arg in "$@"; do
  case "$arg" in
    --rounds=*) ROUNDS=${arg#*=} ;;
    --duration=*) DURATION=${arg#*=} ;;
    --stock-dir=*) STOCK_DIR=${arg#*=} ;;
    --cases=*) CASES=${arg#*=} ;;
    --no-build) BUILD=0 ;;
    --backlog-messages=*) BACKLOG=${arg#*=} ;;
    --results=*) RESULTS=${arg#*=} ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [ "$BUILD" = 1 ]; then
  bazel build --jobs=2 //services/broker:nsqd //tools/bench:v2_bench //tools/bench:grpc_bench >&2
fi
BIN=$(bazel info bazel-bin 2>/dev/null)
OURS=$BIN/services/broker/nsqd
V2B=$BIN/tools/bench/v2_bench
GRPCB=$BIN/tools/bench/grpc_bench
for f in "$STOCK_DIR/nsqd" "$STOCK_DIR/bench_writer" "$STOCK_DIR/bench_reader" "$OURS" "$V2B" "$GRPCB"; do
  [ -x "$f" ] || { echo "missing $f (stock: ../shared/peers/unpack $STOCK_DIR)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/nsq-compare.XXXXXX)
[ -n "$RESULTS" ] || RESULTS=$WORK/results.tsv
: >"$RESULTS"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK/data"; }
trap cleanup EXIT

TCP=127.0.0.1:24150
HTTP=127.0.0.1:24151
GRPC=127.0.0.1:24153
half() { python3 -c "import re,sys; s='$1'; m=re.fullmatch(r'(\d+)(ms|s|m)',s); print(str(int(m.group(1))/2).rstrip('0').rstrip('.')+m.group(2))"; }
RDUR=$(half "$DURATION")

# start BROKER [flags...]: BROKER is stock or ours; waits for /ping.
start() {
  local which=$1; shift
  rm -rf "$WORK/data"; mkdir -p "$WORK/data"
  if [ "$which" = ours ]; then
    "$OURS" --data-path="$WORK/data" --tcp-address=$TCP --http-address=$HTTP \
      --https-address=127.0.0.1:24152 --grpc-address=$GRPC --broadcast-address=127.0.0.1 "$@" \
      >"$WORK/broker.log" 2>&1 &
  else
    "$STOCK_DIR/nsqd" --data-path="$WORK/data" --tcp-address=$TCP --http-address=$HTTP \
      --https-address=127.0.0.1:24152 --broadcast-address=127.0.0.1 "$@" >"$WORK/broker.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 200); do curl -sf "http://$HTTP/ping" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "broker $which did not start:" >&2; cat "$WORK/broker.log" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
# Peak and current RSS of the broker, KiB.
hwm() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }

# record CASE METRIC BROKER ROUND VALUE
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; echo "  $1 $2 $3 round $4: $5" >&2; }
ops() { sed -n 's/.* - \([0-9.]*\)ops\/s.*/\1/p' | head -1; }   # bench_writer/bench_reader
rate() { sed -n "s/^$1: .* = \([0-9.]*\) msgs\/s.*/\1/p" | head -1; }  # v2_bench/grpc_bench
pct() { sed -n "s/^latency: .* $1 \([0-9.]*\) us.*/\1/p" | head -1; }

stock_bench() {  # CASE BROKER ROUND SIZE
  local out
  out=$("$STOCK_DIR/bench_writer" --nsqd-tcp-address=$TCP --size="$4" --runfor="$DURATION" 2>&1)
  record "$1" pub "$2" "$3" "$(ops <<<"$out")"
  out=$("$STOCK_DIR/bench_reader" --nsqd-tcp-address=$TCP --size="$4" --runfor="$RDUR" 2>&1)
  record "$1" sub "$2" "$3" "$(ops <<<"$out")"
}
grpc_bench() {  # CASE ROUND
  local topic out
  topic=grpc_bench$RANDOM
  out=$("$GRPCB" --address=$GRPC --mode=pub --topic=$topic --duration="$DURATION" --size=200 2>&1 |
        grep -v '^grpc_bench')
  record "$1" pub ours "$2" "$(rate pub <<<"$out")"
  out=$("$GRPCB" --address=$GRPC --mode=sub --topic=$topic --duration="$RDUR" 2>&1)
  record "$1" sub ours "$2" "$(rate sub <<<"$out")"
}

order() { if [ $(($1 % 2)) = 1 ]; then echo "stock ours"; else echo "ours stock"; fi; }

run_throughput() {
  local r=$1 b
  for b in $(order "$r"); do
    start "$b"; stock_bench v2_200 "$b" "$r" 200; stop
    start "$b"; stock_bench v2_1k "$b" "$r" 1024; stop
  done
  start ours --mem-queue-size=0 --sync-every=1; stock_bench v2_200_fsync ours "$r" 200; stop
  start ours --mem-queue-size=0 --sync-every=1; grpc_bench grpc_200_fsync "$r"; stop
  start ours; grpc_bench grpc_200 "$r"; stop
}

run_latency() {
  local r=$1 b rt out
  for rt in 10000 50000 200000; do
    for b in $(order "$r"); do
      start "$b"
      out=$("$V2B" --address=$TCP --mode=pubsub --rate=$rt --pub --duration="$DURATION" 2>&1)
      stop
      record "lat_$rt" p50 "$b" "$r" "$(pct p50 <<<"$out")"
      record "lat_$rt" p99 "$b" "$r" "$(pct p99 <<<"$out")"
      record "lat_$rt" p999 "$b" "$r" "$(pct p999 <<<"$out")"
      record "lat_$rt" delivered "$b" "$r" "$(rate sub <<<"$out")"
    done
  done
}

run_scale() {
  local r=$1 b t c out rdy
  for tc in 1x1 1x5 1x20 4x1 10x1 10x5 10x20 100x1 100x5 100x20; do
    t=${tc%x*}; c=${tc#*x}
    # RDY per connection: 2500 shared by a topic's channels (at least 100).
    rdy=$((2500 / c)); [ $rdy -lt 100 ] && rdy=100
    for b in $(order "$r"); do
      start "$b"
      out=$("$V2B" --address=$TCP --mode=pubsub --topics="$t" --channels="$c" --readers=1 \
            --rdy=$rdy --duration="$RDUR" 2>&1)
      record "scale_$tc" pub "$b" "$r" "$(rate pub <<<"$out")"
      record "scale_$tc" sub "$b" "$r" "$(rate sub <<<"$out")"
      record "scale_$tc" peak_rss_mib "$b" "$r" "$(($(hwm) / 1024))"
      stop
    done
  done
}

run_backlog() {
  local r=$1 b out
  for b in $(order "$r"); do
    start "$b"
    out=$("$V2B" --address=$TCP --mode=pub --messages="$BACKLOG" --size=200 2>&1)
    record backlog pub "$b" "$r" "$(rate pub <<<"$out")"
    sleep 2
    record backlog rss_mib "$b" "$r" "$(($(rss) / 1024))"
    record backlog peak_rss_mib "$b" "$r" "$(($(hwm) / 1024))"
    stop
  done
}

echo "compare.sh: $ROUNDS rounds of $CASES, --duration=$DURATION, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores" >&2
for r in $(seq 1 "$ROUNDS"); do
  for c in ${CASES//,/ }; do
    echo "round $r: $c" >&2
    "run_$c" "$r"
  done
done

# Summary: per case and metric, every round's figure and the median ratio ours / stock.
python3 - "$RESULTS" <<'EOF'
import collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(dict))
for line in open(sys.argv[1]):
    case, metric, broker, rnd, value = line.rstrip("\n").split("\t")
    if value:
        rows[(case, metric)][broker][int(rnd)] = float(value)
# Ours-only cases are compared with stock's figure of the same metric in the same round.
against = {"v2_200_fsync": "v2_200", "grpc_200_fsync": "v2_200", "grpc_200": "v2_200"}
def fmt(v):
    return f"{v/1000:.0f}k" if v >= 10000 else f"{v:.0f}"
print("| case | metric | ours (per round) | stock (per round) | ratio ours/stock (median) |")
print("|---|---|---|---|---|")
for (case, metric), by in rows.items():
    ours = by.get("ours", {})
    stock = by.get("stock") or rows.get((against.get(case, ""), metric), {}).get("stock", {})
    ratios = [ours[r] / stock[r] for r in sorted(ours) if r in stock and stock[r] > 0]
    med = f"{statistics.median(ratios):.2f}x" if ratios else "-"
    each = " ".join(f"{x:.2f}" for x in ratios)
    label = case if by.get("stock") else f"{case} (vs stock {against.get(case)})"
    print(f"| {label} | {metric} | {' '.join(fmt(ours[r]) for r in sorted(ours))} | "
          f"{' '.join(fmt(stock[r]) for r in sorted(stock))} | {med} ({each}) |")
EOF
echo "raw figures: $RESULTS" >&2
