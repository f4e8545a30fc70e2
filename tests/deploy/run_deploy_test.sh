#!/usr/bin/env bash
# Runs one Python test of deploy/ (the first argument, relative to the workspace) with
# Debian's python3 (and python3-yaml) against our binaries.
set -euo pipefail
export TEST_ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE}"
export PYTHONPATH="${TEST_ROOT}/tests/deploy:${TEST_ROOT}/tests/lib"
exec /usr/bin/python3 "${TEST_ROOT}/$1"
