#!/usr/bin/env bash
# Checks the layering of ../shared/DESIGN.md ("who may depend on whom") two ways:
#  1. A forbidden dependency is a build error: for each rule, a throwaway package placed
#     where the rule forbids the dependency (e.g. inside the engine, depending on the gRPC
#     front door) must fail analysis with "is not visible"; a control in tests/ that takes
#     the same dependency must pass, so the failures are visibility's and nothing else.
#  2. `bazel query` over the real graph: no library or binary of a layer reaches a layer
#     it must not (this also covers what visibility cannot say, e.g. that only a test of
#     the registrar may link the discovery server).
# Prints one line per rule; exits non-zero on the first broken one. Run by scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

probes=()
cleanup() {
  for d in "${probes[@]}"; do
    rm -rf "$d"
    rmdir -p --ignore-fail-on-non-empty "$(dirname "$d")" 2>/dev/null || true
  done
}
trap cleanup EXIT

# probe PACKAGE DEP: a cc_library in PACKAGE/layering_probe depending on DEP; sets $target.
target=""
probe() {
  local dir="$1/layering_probe"
  probes+=("$dir")
  mkdir -p "$dir"
  printf 'cc_library(name = "probe", deps = ["%s"])\n' "$2" >"$dir/BUILD.bazel"
  target="//$dir:probe"
}

failed=0
forbid() {  # PACKAGE DEP WHY
  local out
  probe "$1" "$2"
  out=$(bazel build --nobuild "$target" 2>&1)
  if [ $? -ne 0 ] && grep -q "is not visible from target" <<<"$out"; then
    echo "layering ok: $3 ($1 -> $2 is a build error)"
  else
    echo "layering BROKEN: $3: $1 -> $2 builds" >&2
    failed=1
  fi
}
allow() {  # PACKAGE DEP WHY
  probe "$1" "$2"
  if bazel build --nobuild "$target" >/dev/null 2>&1; then
    echo "layering ok: $3 ($1 -> $2 builds)"
  else
    echo "layering check is broken: control $1 -> $2 does not build" >&2
    failed=1
  fi
}

allow tests/layering_control //services/broker/core:engine "tests may use the engine"
allow tests/layering_control2 //services/broker/grpc "tests may use the gRPC front door"
forbid services/broker/core //services/broker/grpc "the engine knows no transport"
forbid services/broker/core //services/broker/legacy "the engine knows no transport"
forbid services/broker/core //storage:rocksdb_storage "the engine knows no storage implementation"
forbid services/broker/core //proto/nsq/v1:broker "the engine knows no protobuf"
forbid services/broker/grpc //services/broker/legacy "the gRPC front door never uses the legacy one"
forbid services/broker/legacy //services/broker/grpc "the legacy front door never uses the gRPC one"
forbid services/broker/legacy //proto/nsq/v1:broker "the legacy front door speaks NSQ, not protobuf"
forbid common //services/broker/core:engine "common/ depends on no service"
forbid common //services/discovery:discovery_server "common/ depends on no service"
forbid services/discovery //services/broker/core:engine "discovery never uses the broker"
forbid services/admin //services/broker/core:engine "admin uses no broker internals"
forbid services/admin //storage:rocksdb_storage "admin uses no storage internals"
forbid client //services/broker/core:message "the client library uses no broker internals"
forbid tools //services/broker/grpc "tools use no broker internals"
forbid tools //storage:rocksdb_storage "tools use no storage internals"
forbid storage //services/broker/grpc "storage uses no front door"

cleanup
probes=()

# The real graph, non-test targets only.
query_empty() {  # EXPR WHY
  local out
  out=$(bazel query --noshow_progress "$1" 2>/dev/null)
  if [ $? -ne 0 ]; then
    echo "layering check is broken: query failed: $1" >&2
    failed=1
  elif [ -n "$out" ]; then
    echo "layering BROKEN: $2:" >&2
    echo "$out" | sed 's/^/  /' >&2
    failed=1
  else
    echo "layering ok: $2"
  fi
}
libs() { echo "kind('cc_library|cc_binary', $1) except attr(testonly, 1, $1)"; }
query_empty "deps($(libs //services/broker/core/...)) intersect (//services/broker/grpc/... + //services/broker/legacy/... + //storage/... + //proto/... + //services/discovery/...)" \
  "engine -> common only"
query_empty "deps($(libs //storage/...)) intersect (//services/broker/grpc/... + //services/broker/legacy/... + //services/broker/discovery_client/... + //proto/...)" \
  "storage -> the engine's storage seam and common only"
query_empty "deps($(libs //common/...)) intersect (//services/... + //storage/... + //client/... + //tools/...)" \
  "common -> third-party libraries only"
query_empty "deps($(libs //services/discovery/...)) intersect (//services/broker/... + //storage/...)" \
  "discovery -> proto, common (never the broker)"
query_empty "deps($(libs //services/broker/discovery_client/...)) intersect //services/discovery/..." \
  "the broker's discovery client links no discovery server"
for d in client services/admin; do
  [ -d "$d" ] || continue
  query_empty "deps($(libs //$d/...)) intersect (//services/broker/... + //storage/...)" \
    "$d -> proto, common (never broker or storage internals)"
done
for d in tools/*/; do
  d=${d%/}
  [ "$d" = tools/bench ] && continue
  [ -f "$d/BUILD.bazel" ] || continue
  query_empty "deps($(libs //$d/...)) intersect (//services/broker/... + //storage/...)" \
    "$d -> client, proto, common (never broker or storage internals)"
done

# //:all_tests names every test of the tree.
missing=$(comm -23 <(bazel query --noshow_progress 'tests(//...)' 2>/dev/null | sort) \
                   <(bazel query --noshow_progress 'tests(//:all_tests)' 2>/dev/null | sort))
if [ -n "$missing" ]; then
  echo "BUILD.bazel: //:all_tests misses:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  failed=1
else
  echo "layering ok: //:all_tests names every test"
fi

if [ "$failed" -ne 0 ]; then exit 1; fi
echo "layering: every rule holds"
