#!/bin/sh
# SPDX-License-Identifier: MIT
# Coverage-guided fuzzing with clang's libFuzzer plus ASan/UBSan, one run of
# FUZZ_SECONDS (default 30) per tests/fuzz/fuzz_*.c target:
#   fuzz_body      body_parse against jansson (same verdict, same values)
#   fuzz_pipeline  a whole body through the pipeline
#   fuzz_lineproto the line-protocol reader
# Each run starts from the corpus kept in the repository
# (tests/fuzz/corpus/<target>/: every past finding and interesting input,
# so they are regression cases on every run) plus every golden input line.
# New inputs go to build/fuzz/corpus-<target>/, never into the repository;
# copy the ones worth keeping (and every crash, once fixed) into
# tests/fuzz/corpus/<target>/. Exits non-zero when a target finds a crash,
# a leak or a differential mismatch; the input is left in build/fuzz/.
# `make check-fuzz` (CI) and `make fuzz` (longer, FUZZ_SECONDS=300) run it.
set -eu
cd "$(dirname "$0")/../.."
cc=${FUZZ_CC:-clang-14}
secs=${FUZZ_SECONDS:-30}
if ! command -v "$cc" >/dev/null || [ ! -d /usr/lib/llvm-14/lib/clang ] ||
    ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "fuzz: $cc with libFuzzer is missing (apt-get install clang-14 libclang-rt-14-dev)" >&2
        exit 1
    fi
    echo "fuzz: installing clang-14 and libclang-rt-14-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        clang-14 libclang-rt-14-dev >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends clang-14 libclang-rt-14-dev >&2; }
fi
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
libs=$(pkg-config --libs inih libcurl sqlite3 jansson)
cflags=$(pkg-config --cflags inih libcurl sqlite3 jansson)
srcs=$(ls plugin/*.c plugin/sources/*.c | grep -v plugin/main.c)
failed=0
passed=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    # shellcheck disable=SC2086
    "$cc" -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L '-DTOKENMETER_VERSION="fuzz"' -Iinclude -Itests $cflags -g -O1 \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -o "build/fuzz/$name" "$t" $srcs $libs -lm
    kept="tests/fuzz/corpus/$name"
    mkdir -p "build/fuzz/corpus-$name" "$kept"
    echo "=== $name: $secs s"
    log="build/fuzz/$name.log"
    if (cd build/fuzz && "./$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="./$name-" \
        "corpus-$name" "../../$kept" seeds) > "$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|cov:' "$log" | tail -n 3
        passed=$((passed + 1))
    else
        tail -n 40 "$log"
        echo "fuzz: $name FAILED; the input is in build/fuzz/$name-*" >&2
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
