#!/usr/bin/env bash
# Runs the Python gRPC client test with Debian's python3 (which has python3-grpcio).
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
export NSQD_BIN="${root}/services/broker/nsqd"
export PYTHONPATH="${root}/proto"
exec /usr/bin/python3 "${root}/tests/python/broker_client_test.py"
