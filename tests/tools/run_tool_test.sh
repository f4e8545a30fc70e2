#!/usr/bin/env bash
# Runs one Python process test of the tools (the first argument, relative to the
# workspace) with Debian's python3 against our nsqd and nsqlookupd binaries.
set -euo pipefail
export TEST_ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE}"
export PYTHONPATH="${TEST_ROOT}/tests/tools:${TEST_ROOT}/tests/lib"
exec /usr/bin/python3 "${TEST_ROOT}/$1"
