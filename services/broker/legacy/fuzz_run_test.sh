#!/usr/bin/env bash
# Builds the gateway's libFuzzer harnesses with clang (-fsanitize=fuzzer,address,undefined,
# outside Bazel's gcc toolchain) and fuzzes each for a few seconds from its seed corpus.
# New crashing inputs are written to the test's undeclared outputs: copy them into
# testdata/<name>_corpus/ so the corpus tests keep them.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
seconds="${FUZZ_SECONDS:-5}"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR}}"
work="${TEST_TMPDIR}/fuzz"
mkdir -p "$work"
CLANG=$(command -v clang++ || true)
if [ -z "$CLANG" ]; then echo "clang++ not found (scripts/setup.sh installs clang)" >&2; exit 1; fi
ABSL="-labsl_status -labsl_statusor -labsl_strings -labsl_strings_internal -labsl_cord \
  -labsl_cord_internal -labsl_cordz_info -labsl_cordz_functions -labsl_cordz_handle \
  -labsl_str_format_internal -labsl_int128 -labsl_raw_logging_internal -labsl_throw_delegate \
  -labsl_base -labsl_spinlock_wait -labsl_synchronization -labsl_time -labsl_time_zone \
  -labsl_stacktrace -labsl_symbolize -labsl_malloc_internal -labsl_debugging_internal \
  -labsl_demangle_internal -labsl_graphcycles_internal -labsl_exponential_biased \
  -labsl_bad_optional_access -labsl_bad_variant_access -labsl_strerror"
L="${root}/services/broker/legacy"
build() {  # name, sources...
  local name=$1; shift
  "$CLANG" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I"$root" "$@" \
    $ABSL -lsnappy -lz -o "$work/$name"
}
J="$root/common/json/go_json.cc"
build v2_command_fuzz "$L/v2_command_fuzz.cc" "$L/v2_protocol.cc" "$J" "$root/common/names/names.cc" &
build identify_fuzz "$L/identify_fuzz.cc" "$L/v2_protocol.cc" "$J" "$root/common/names/names.cc" &
build stream_codec_fuzz "$L/stream_codec_fuzz.cc" "$L/stream_codec.cc" "$root/common/crc32c/crc32c.cc" &
wait
status=0
for name in v2_command identify stream_codec; do
  corpus="$work/${name}_corpus"
  mkdir -p "$corpus"
  cp "$L/testdata/${name}_corpus/"* "$corpus/"
  if ! "$work/${name}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$out/${name}_" "$corpus" >"$work/${name}.log" 2>&1; then
    echo "FAIL: ${name}_fuzz found a crash (input saved under $out):" >&2
    tail -40 "$work/${name}.log" >&2
    status=1
  else
    echo "${name}_fuzz: $(grep -c . "$work/${name}.log") log lines, $(ls "$corpus" | wc -l) corpus inputs"
  fi
done
exit $status
