#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds everything and runs every test.
# Ends with a "N passed, N failed" line (N = Bazel test targets, plus the layering check;
# with --asan-too every target counts twice, once per run).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1

# The npm clients of the compatibility tests (tests/compat), installed again only when
# package-lock.json changed.
if [ ! -d tests/compat/node_modules/nsqjs ] ||
   ! cmp -s tests/compat/package-lock.json tests/compat/node_modules/.installed-lock.json; then
  (cd tests/compat && npm ci --no-audit --no-fund --loglevel=error) || exit 1
  cp tests/compat/package-lock.json tests/compat/node_modules/.installed-lock.json
fi
# playwright-core for the admin's browser tests (tests/browser; they drive Debian's
# chromium, so no browser is downloaded), the same way.
if [ ! -d tests/browser/node_modules/playwright-core ] ||
   ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.installed-lock.json; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || exit 1
  cp tests/browser/package-lock.json tests/browser/node_modules/.installed-lock.json
fi

# The layering of DESIGN.md, enforced by visibility and checked over the real graph.
layering_rc=0
bash scripts/check_layering.sh || layering_rc=1

# --asan-too: after the plain run, the whole suite again under ASan+UBSan
# (--config=asan, .bazelrc). CI passes it. Other arguments go to `bazel test`.
asan=0
args=()
for a in "$@"; do
  if [ "$a" = "--asan-too" ]; then asan=1; else args+=("$a"); fi
done

passed=0
failed=0
rc=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_suite() {  # LABEL BAZEL_ARGS...
  local label=$1; shift
  echo "=== ${label}"
  bazel test --jobs=2 --local_ram_resources=HOST_RAM*.5 "$@" //... 2>&1 | tee "$log"
  local r=${PIPESTATUS[0]}
  local p f
  p=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
  f=$(grep -cE '^//[^ ]+ +(FAILED|FLAKY|TIMEOUT|NO STATUS|INCOMPLETE)|FAILED TO BUILD' "$log")
  if [ "$r" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # a build error fails too
  echo "${label}: ${p} passed, ${f} failed"
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$r" -ne 0 ]; then rc=$r; fi
}
run_suite "tests" ${args[@]+"${args[@]}"}
if [ "$asan" -eq 1 ]; then run_suite "tests under ASan+UBSan" --config=asan ${args[@]+"${args[@]}"}; fi
# The layering check counts as one more test.
if [ "$layering_rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); rc=1; fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
