#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: runs every tests/bench/bench_*.py with the binary given as $1
# (BENCH_ONLY="callgrind latency" runs only bench_callgrind.py and
# bench_latency.py). Benchmarks report figures and ratios against peers run
# side by side in the same run; they never pass or fail on time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TOKENMETER="${1:?usage: run.sh /path/to/tokenmeter}"
rc=0
for b in "$here"/bench_*.py; do
    [ -e "$b" ] || continue
    if [ -n "${BENCH_ONLY:-}" ]; then
        case " $BENCH_ONLY " in
        *" $(basename "$b" .py | sed 's/^bench_//') "*) ;;
        *) continue ;;
        esac
    fi
    echo "=== $(basename "$b" .py)"
    python3 "$b" || rc=1
done
exit $rc
