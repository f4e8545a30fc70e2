#!/usr/bin/env bash
# Runs the node:test files named in "$@" (under tests/browser) against our binaries, in
# Debian's chromium through playwright-core (tests/browser/node_modules, installed by
# scripts/test.sh with npm ci).
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
# The source folder (runfiles are symlinks into it): node_modules lives there.
src="$(dirname "$(readlink -f "${root}/tests/browser/package.json")")"
if [ ! -d "${src}/node_modules/playwright-core" ]; then
  echo "tests/browser/node_modules is missing: run ./scripts/test.sh (it runs npm ci)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "/usr/bin/chromium is missing: run ./scripts/setup.sh (it installs chromium)" >&2
  exit 1
fi
export NSQD_BIN="${root}/services/broker/nsqd"
export NSQLOOKUPD_BIN="${root}/services/discovery/nsqlookupd"
export NSQADMIN_BIN="${root}/services/admin/nsqadmin"
# Chromium wants a writable home for its profile.
export HOME="${TEST_TMPDIR:-/tmp}"
files=()
for f in "$@"; do files+=("${src}/${f}"); done
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
