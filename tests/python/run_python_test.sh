#!/usr/bin/env bash
# Runs one Python test file (the first argument, relative to the workspace) with Debian's
# python3, which has python3-grpcio, against the nsqd binary.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
export NSQD_BIN="${root}/services/broker/nsqd"
export PYTHONPATH="${root}/proto:${root}/tests/python"
exec /usr/bin/python3 "${root}/$1"
