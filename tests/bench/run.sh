#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: runs every tests/bench/bench_*.py with the binary given as $1.
# Benchmarks report figures and ratios against peers run side by side in the
# same run; they never pass or fail on time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TOKENMETER="${1:?usage: run.sh /path/to/tokenmeter}"
rc=0
for b in "$here"/bench_*.py; do
    [ -e "$b" ] || continue
    echo "=== $(basename "$b" .py)"
    python3 "$b" || rc=1
done
exit $rc
