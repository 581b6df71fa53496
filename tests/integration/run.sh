#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs tests/integration/test_*.py against the binary given as $1, once for
# each InfluxDB server version operators run, and reports per version:
#
#   1.6.7   Debian 12's influxdb package (`influxd` on PATH)
#   1.13.2  the newest 1.x, built from its Go module by influxd-build.sh
#   2.8.0   a 2.x, built the same way
#
# TM_INFLUX_VERSIONS (space-separated) narrows the list, e.g. "1.6.7" for a
# quick run. A version that is not on PATH and cannot be built is reported as
# skipped with the reason; TM_INFLUX_REQUIRE_ALL=1 makes that a failure, and
# the run fails when no version at all could run.
#
# Which tests run where: test_influx2_*.py need a 2.x server and run against
# each 2.x version; a test whose file has the line "# integration: no InfluxDB"
# starts no server and runs once; every other test runs against each 1.x
# version. Each test starts (and stops) the real servers it needs on 127.0.0.1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TOKENMETER="${1:?usage: run.sh /path/to/tokenmeter}"
versions="${TM_INFLUX_VERSIONS:-1.6.7 1.13.2 2.8.0}"
cache="${TOKENMETER_CACHE:-$HOME/.cache/tokenmeter}"

passed=0
failed=0
skipped=0
servers=0
failed_names=""
summary=""

note() { summary="$summary
  $*"; }

# run_tests LABEL TEST... : runs each test, counts, adds LABEL's line.
run_tests() {
    label=$1
    shift
    p=0
    f=0
    for t in "$@"; do
        name=$(basename "$t" .py)
        echo "=== $name ($label)"
        if python3 "$t"; then
            p=$((p + 1))
        else
            f=$((f + 1))
            failed_names="$failed_names $name($label)"
        fi
    done
    passed=$((passed + p))
    failed=$((failed + f))
    note "$label: $p passed, $f failed"
}

is_serverless() { grep -qx "# integration: no InfluxDB" "$1"; }

tests_v1=""
tests_v2=""
tests_none=""
for t in "$here"/test_*.py; do
    [ -e "$t" ] || continue
    case $(basename "$t") in
    test_influx2_*) tests_v2="$tests_v2 $t" ;;
    *) if is_serverless "$t"; then tests_none="$tests_none $t"; else tests_v1="$tests_v1 $t"; fi ;;
    esac
done

if [ -n "$tests_none" ]; then
    echo
    echo "##### no InfluxDB"
    # shellcheck disable=SC2086
    run_tests "no server" $tests_none
fi

for v in $versions; do
    bin=""
    why=""
    if [ "$v" = 1.6.7 ]; then
        if influxd version 2>/dev/null | grep -q "InfluxDB v1\.6\.7"; then
            bin=$(command -v influxd)
        else
            why="influxd on PATH is not Debian's 1.6.7 (tests/setup-debian.sh installs it)"
        fi
    else
        # Build it if missing, or wait for the build already running
        # (influxd-build.sh --background, started early by CI): the
        # versions before it were tested meanwhile.
        sh "$here/influxd-build.sh" "$v"
        if "$cache/influxd-v$v/influxd" version 2>/dev/null | grep -qF "InfluxDB v$v "; then
            bin="$cache/influxd-v$v/influxd"
        elif [ -f "$cache/influxd-v$v.skipped" ]; then
            why=$(cat "$cache/influxd-v$v.skipped")
        else
            why="not built"
        fi
    fi
    if [ -z "$bin" ]; then
        echo
        echo "##### InfluxDB $v: skipped: $why"
        skipped=$((skipped + 1))
        note "InfluxDB $v: skipped: $why"
        continue
    fi
    echo
    echo "##### InfluxDB $v ($bin)"
    servers=$((servers + 1))
    case $v in
    1.*)
        export TM_INFLUXD="$bin"
        # shellcheck disable=SC2086
        run_tests "InfluxDB $v" $tests_v1
        unset TM_INFLUXD
        ;;
    *)
        export TM_INFLUXD2="$bin"
        # shellcheck disable=SC2086
        run_tests "InfluxDB $v" $tests_v2
        unset TM_INFLUXD2
        ;;
    esac
done

echo
echo "integration per server:$summary"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "integration: $passed passed, $failed failed, $skipped server versions skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || exit 1
if [ "$servers" -eq 0 ]; then
    echo "integration: no InfluxDB server version could run"
    exit 1
fi
if [ "$skipped" -gt 0 ] && [ "${TM_INFLUX_REQUIRE_ALL:-0}" = 1 ]; then
    echo "integration: TM_INFLUX_REQUIRE_ALL=1 and a server version was skipped"
    exit 1
fi
exit 0
