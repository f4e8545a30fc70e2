#!/usr/bin/env bash
# Rewrites the test list of //:all_tests in BUILD.bazel from `bazel query 'tests(//...)'`.
# Run after adding or removing a test target (scripts/check_layering.sh fails until then).
set -euo pipefail
cd "$(dirname "$0")/.."
list=$(bazel query --noshow_progress 'tests(//... except //:all_tests)' 2>/dev/null | sort |
       sed 's/^/        "/; s/$/",/')
python3 - "$list" <<'PY'
import re, sys
s = open("BUILD.bazel").read()
s = re.sub(r'(name = "all_tests",\n    tests = \[\n).*?(    \],)', lambda m: m.group(1) + sys.argv[1] + "\n" + m.group(2), s, flags=re.S)
open("BUILD.bazel", "w").write(s)
PY
echo "//:all_tests: $(echo "$list" | wc -l) tests"
