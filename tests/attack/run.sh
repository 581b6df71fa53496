#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every attack test (tests/attack/test_*.py) against the binary given as
# $1 (or $TOKENMETER, default build/tokenmeter). Last line:
# "attack: N passed, N failed" (one per test file).
set -u
here=$(cd "$(dirname "$0")" && pwd)
TOKENMETER=$(cd "$(dirname "${1:-${TOKENMETER:-build/tokenmeter}}")" && pwd)/$(basename "${1:-${TOKENMETER:-build/tokenmeter}}")
export TOKENMETER
passed=0
failed=0
for t in "$here"/test_*.py; do
    [ -e "$t" ] || continue
    if python3 "$t"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $(basename "$t")"
        failed=$((failed + 1))
    fi
done
echo "attack: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
