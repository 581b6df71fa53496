#!/bin/sh
# SPDX-License-Identifier: MIT
# `make fuzz`: builds each tests/fuzz/fuzz_*.c with clang's libFuzzer plus
# ASan/UBSan and runs it for FUZZ_SECONDS (default 60) from a seed corpus
# made of every golden input line. Crashes are left in build/fuzz/.
set -eu
cd "$(dirname "$0")/../.."
cc=${FUZZ_CC:-clang-14}
secs=${FUZZ_SECONDS:-60}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p build/fuzz
seeds=build/fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds"
i=0
for f in tests/data/*/input.ndjson; do
    while IFS= read -r line; do
        i=$((i + 1))
        printf '%s' "$line" > "$seeds/$i"
    done < "$f"
done
libs=$(pkg-config --libs inih libcurl sqlite3)
cflags=$(pkg-config --cflags inih libcurl sqlite3)
srcs=$(ls plugin/*.c plugin/sources/*.c | grep -v plugin/main.c)
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    # shellcheck disable=SC2086
    "$cc" -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Iinclude $cflags -g -O1 \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -o "build/fuzz/$name" "$t" $srcs $libs -lm
    mkdir -p "build/fuzz/corpus-$name"
    echo "=== $name: $secs s"
    (cd build/fuzz && "./$name" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
        "corpus-$name" seeds 2>&1 | tail -n 12)
done
