#!/usr/bin/env bash
# Runs the node:test files named in "$@" (under tests/compat) against the nsqd binary.
# nsqjs comes from tests/compat/node_modules, installed by scripts/test.sh (npm ci).
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
# The source folder (runfiles are symlinks into it): node_modules lives there.
src="$(dirname "$(readlink -f "${root}/tests/compat/package.json")")"
if [ ! -d "${src}/node_modules/nsqjs" ]; then
  echo "tests/compat/node_modules is missing: run ./scripts/test.sh (it runs npm ci)" >&2
  exit 1
fi
export NSQD_BIN="${root}/services/broker/nsqd"
export NSQ_PROTO_PYTHONPATH="${root}/proto"
export GATEWAY_TESTDATA="${root}/services/broker/legacy/testdata"
files=()
for f in "$@"; do files+=("${src}/${f}"); done
exec node --test --test-reporter=spec "${files[@]}"
