#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds everything and runs every test.
# Ends with a "N passed, N failed" line (N = Bazel test targets).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
bazel test --jobs=2 --local_ram_resources=HOST_RAM*.5 //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS|INCOMPLETE)|FAILED TO BUILD' "$log")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a build error fails too
echo "${passed} passed, ${failed} failed"
exit "$rc"
