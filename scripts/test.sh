#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds everything and runs every test.
# Ends with a "N passed, N failed" line (N = Bazel test targets, plus the layering check).
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

log=$(mktemp)
trap 'rm -f "$log"' EXIT
bazel test --jobs=2 --local_ram_resources=HOST_RAM*.5 //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(PASSED|FLAKY)' "$log")
# With --flaky_test_attempts (CI), a test that failed once and then passed is FLAKY: it
# counts as passed, and is named here so that it gets looked at.
grep -E '^//[^ ]+ +FLAKY' "$log" | sed 's/^/flaky (failed once, then passed): /'
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS|INCOMPLETE)|FAILED TO BUILD' "$log")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a build error fails too
# The layering check counts as one more test.
if [ "$layering_rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); rc=1; fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
