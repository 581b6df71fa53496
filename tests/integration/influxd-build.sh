#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the InfluxDB servers the integration tests run against, besides
# Debian's influxd (1.6.7): the newest 1.x and a 2.x, from their Go modules,
# once per machine, into ~/.cache/tokenmeter/influxd-v<version>/influxd.
#
#   influxd-build.sh [VERSION...]     build what is missing (default: all), wait
#   influxd-build.sh --background     start that in the background, return at once
#   influxd-build.sh --wait           wait for a background build, then report
#   influxd-build.sh --status         report only (cached / skipped and why)
#   influxd-build.sh --retry [VERSION...]  build even if it failed in the last 12 h
#
# Idempotent: a cached binary that runs is used as is. A version that cannot
# be built is reported as skipped with the reason (also written to
# influxd-v<version>.skipped next to the cache, which the test runner prints),
# never silently. Exit status is 0 unless the arguments are wrong: a missing
# server is the runner's to report, not a reason to stop the other stages.
#
# Both versions embed Flux, whose Rust library InfluxData's pkg-config wrapper
# builds with cargo. Flux pins a Rust release that may not be installed, so
# the build uses rustup's stable toolchain; InfluxDB 2.x's Flux denies
# warnings that newer Rust added, and RUSTFLAGS does not reach the build
# dependencies when cargo is given --target, hence a RUSTC_WRAPPER appending
# --cap-lints=warn. InfluxDB 2.x has a `replace` directive in its go.mod, so
# `go install mod@version` refuses it: it is built from a writable copy of its
# module directory instead.
set -u
VERSIONS_DEFAULT="1.13.2 2.8.0"
cache="${TOKENMETER_CACHE:-$HOME/.cache/tokenmeter}"
# The pkg-config wrapper's release; @latest would make the build change under us.
PKG_CONFIG_VERSION=v0.2.7

say() { echo "influxd-build: $*"; }

bin_of() { echo "$cache/influxd-v$1/influxd"; }

# The binary runs and says it is the version asked for. Built here with the
# version stamped in (as InfluxData's packages are): `influxd version` and the
# X-Influxdb-Version header say "v<version>", not "unknown" or "dev".
usable() {
    [ -x "$(bin_of "$1")" ] && "$(bin_of "$1")" version 2>/dev/null | grep -qF "InfluxDB v$1 "
}

skip() { # version reason
    say "v$1 skipped: $2"
    printf '%s\n' "$2" >"$cache/influxd-v$1.skipped"
}

status_of() {
    if usable "$1"; then
        say "v$1 available: $(bin_of "$1")"
    elif [ -f "$cache/influxd-v$1.skipped" ]; then
        say "v$1 skipped: $(cat "$cache/influxd-v$1.skipped")"
    else
        say "v$1 not built (run tests/integration/influxd-build.sh)"
    fi
}

# Everything both builds need; prints the reason on stdout when one is missing.
missing_tool() {
    command -v go >/dev/null 2>&1 || { echo "no go on PATH"; return; }
    command -v cargo >/dev/null 2>&1 ||
        { echo "no cargo on PATH (Flux's Rust library needs rustup's stable toolchain)"; return; }
    if command -v rustup >/dev/null 2>&1 &&
        ! rustup run stable rustc --version >/dev/null 2>&1; then
        echo "rustup has no stable toolchain (rustup toolchain install stable)"
        return
    fi
    command -v cc >/dev/null 2>&1 || { echo "no C compiler (cgo)"; return; }
}

tools_env() {
    export GOBIN="$cache/go-tools"
    if ! [ -x "$GOBIN/pkg-config" ]; then
        go install "github.com/influxdata/pkg-config@$PKG_CONFIG_VERSION" || return 1
    fi
    export PKG_CONFIG="$GOBIN/pkg-config"
    unset GOBIN
    export RUSTUP_TOOLCHAIN=stable GOFLAGS=-buildvcs=false
    wrapper="$cache/go-tools/rustc-cap-lints"
    printf '#!/bin/sh\nexec "$@" --cap-lints=warn\n' >"$wrapper.tmp" &&
        chmod +x "$wrapper.tmp" && mv "$wrapper.tmp" "$wrapper" || return 1
    export RUSTC_WRAPPER="$wrapper"
}

build_one() { # version; output goes to the per-version log
    v=$1
    dest="$cache/influxd-v$v"
    work="$cache/influxd-v$v.work"
    rm -rf "$work" "$dest.tmp"
    mkdir -p "$work" "$dest.tmp" || return 1
    case "$v" in
    1.*)
        GOBIN="$dest.tmp" go install -ldflags "-X main.version=v$v" \
            "github.com/influxdata/influxdb/cmd/influxd@v$v" || return 1
        ;;
    2.*)
        mod="github.com/influxdata/influxdb/v2@v$v"
        dir=$(cd "$work" && go mod download -json "$mod" |
            sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || return 1
        [ -n "$dir" ] && [ -d "$dir" ] || { echo "go mod download gave no Dir for $mod"; return 1; }
        cp -R "$dir" "$work/src" && chmod -R u+w "$work/src" || return 1
        (cd "$work/src" &&
            go build -ldflags "-X main.version=v$v" -o "$dest.tmp/influxd" ./cmd/influxd) || return 1
        ;;
    *)
        echo "unknown major version"
        return 1
        ;;
    esac
    rm -rf "$dest" && mv "$dest.tmp" "$dest" && rm -rf "$work"
}

build() { # versions...
    mkdir -p "$cache"
    for v in "$@"; do
        log="$cache/influxd-v$v.log"
        # One build per version at a time, whoever started it.
        exec 9>"$cache/influxd-v$v.lock"
        if ! flock -n 9; then
            say "v$v: waiting for the build already running (log: $log)"
            flock 9
        fi
        if usable "$v"; then
            rm -f "$cache/influxd-v$v.skipped"
            say "v$v cached: $(bin_of "$v")"
            exec 9>&-
            continue
        fi
        why=$(missing_tool)
        if [ -n "$why" ]; then
            skip "$v" "$why"
            exec 9>&-
            continue
        fi
        # A build that failed is not tried again for 12 hours (or until
        # --retry): the test runner calls this script too, and a failing
        # 10-minute build must not run twice in one CI run.
        if [ "$retry" = 0 ] && [ -n "$(find "$cache" -maxdepth 1 -name "influxd-v$v.failed" \
            -mmin -720 2>/dev/null)" ]; then
            skip "$v" "$(cat "$cache/influxd-v$v.failed")(not retried for 12 h: --retry $v)"
            exec 9>&-
            continue
        fi
        say "building v$v into $cache/influxd-v$v (once per machine; log: $log)"
        start=$(date +%s)
        if (tools_env && build_one "$v") >"$log" 2>&1 && usable "$v"; then
            rm -f "$cache/influxd-v$v.skipped" "$cache/influxd-v$v.failed"
            say "v$v built in $(($(date +%s) - start)) s: $(bin_of "$v")"
        else
            printf 'build failed after %s s, see %s: %s\n' "$(($(date +%s) - start))" "$log" \
                "$(tail -n 3 "$log" | tr '\n' ' ')" >"$cache/influxd-v$v.failed"
            skip "$v" "$(cat "$cache/influxd-v$v.failed")"
            rm -rf "$cache/influxd-v$v.tmp" "$cache/influxd-v$v.work"
        fi
        exec 9>&-
    done
}

mode=build
retry=0
case "${1:-}" in
--background | --wait | --status)
    mode=${1#--}
    shift
    ;;
--retry)
    retry=1
    shift
    ;;
-*)
    echo "usage: $0 [--background|--wait|--status|--retry] [VERSION...]" >&2
    exit 2
    ;;
esac
[ $# -gt 0 ] || set -- $VERSIONS_DEFAULT
mkdir -p "$cache"
pidfile="$cache/influxd-build.pid"

case "$mode" in
build)
    build "$@"
    ;;
background)
    # Niced: the other CI stages run meanwhile and must not be starved.
    nohup nice -n 10 sh "$0" "$@" >"$cache/influxd-build.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    say "building $* in the background (pid $!, log $cache/influxd-build.log)"
    ;;
wait)
    if [ -f "$pidfile" ]; then
        pid=$(cat "$pidfile")
        while kill -0 "$pid" 2>/dev/null; do sleep 5; done
        rm -f "$pidfile"
        cat "$cache/influxd-build.log"
    fi
    for v in "$@"; do status_of "$v"; done
    ;;
status)
    for v in "$@"; do status_of "$v"; done
    ;;
esac
exit 0
