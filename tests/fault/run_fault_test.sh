#!/usr/bin/env bash
# Runs one Python fault test (the first argument, relative to the workspace) with
# Debian's python3 against our nsqd binary.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
export NSQD_BIN="${root}/services/broker/nsqd"
export CORRUPT_BIN="${root}/tests/fault/corrupt_record"
export PYTHONPATH="${root}/tests/fault:${root}/tests/lib"
exec /usr/bin/python3 -u -W ignore::ResourceWarning "${root}/$1"
