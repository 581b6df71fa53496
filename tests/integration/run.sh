#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every tests/integration/test_*.py against the binary given as $1.
# Each test starts (and stops) the real servers it needs on 127.0.0.1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TOKENMETER="${1:?usage: run.sh /path/to/tokenmeter}"
passed=0
failed=0
failed_names=""
for t in "$here"/test_*.py; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .py)
    echo "=== $name"
    if python3 "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
    fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
