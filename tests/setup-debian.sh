#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what tokenmeter needs on Debian 12 (as root), in two parts:
#   setup-debian.sh build   what building and running it needs (the main job,
#                           tests/run-example.sh): compiler and libraries only
#   setup-debian.sh [all]   that, and what the tests need: Check, clang-format,
#                           valgrind, InfluxDB, Python, and Go to build Telegraf
# Idempotent: packages already present are not fetched again.
# SETUP_DEBIAN_PRINT=1 only prints what the part consists of (tests check it).
set -eu
part=${1:-all}
case $part in
build | all) ;;
*)
    echo "usage: setup-debian.sh [build|all]" >&2
    exit 64
    ;;
esac
pkgs="build-essential pkg-config libjansson-dev libinih-dev libcurl4-openssl-dev libsqlite3-dev"
if [ "$part" = all ]; then
    pkgs="$pkgs sqlite3 check clang-format valgrind influxdb python3 curl ca-certificates"
fi
if [ "${SETUP_DEBIAN_PRINT:-}" = 1 ]; then
    echo $pkgs
    [ "$part" = all ] && echo "go (to build Telegraf)"
    exit 0
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tokenmeter: missing Debian packages:$missing (run as root to install)" >&2
        exit 1
    fi
    echo "tokenmeter: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
# Debian's influxdb package starts a server where systemd runs; the tests
# start their own on free ports and never use it.
[ "$part" = build ] && exit 0

# Go, only to build Telegraf (the end-to-end tests run the real one; the
# product is C). Telegraf v1.39.3 needs Go >= 1.26, newer than Debian 12's
# golang (1.19). When no such Go is on PATH, Debian's Go fetches the official
# toolchain from the Go module proxy (module golang.org/toolchain), which is
# installed under /usr/local/lib/tokenmeter-go and linked as /usr/local/bin/go.
GO_TOOLCHAIN=go1.26.8
go_minor() { go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'; }
if [ "$(go_minor || true)" = "" ] || [ "$(go_minor)" -lt 26 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tokenmeter: Go >= 1.26 is needed to build Telegraf for the tests (run as root)" >&2
        exit 1
    fi
    echo "tokenmeter: installing Go $GO_TOOLCHAIN from the Go module proxy"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-1.19-go
    tmp=$(mktemp -d)
    (cd "$tmp" && export GOPATH="$tmp/gopath" GOMODCACHE="$tmp/mod" GOFLAGS=-mod=mod &&
        /usr/lib/go-1.19/bin/go mod init bootstrap >/dev/null 2>&1 &&
        /usr/lib/go-1.19/bin/go mod download "golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.linux-amd64")
    rm -rf /usr/local/lib/tokenmeter-go
    cp -r "$tmp/mod/golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.linux-amd64" /usr/local/lib/tokenmeter-go
    chmod -R u+w "$tmp" /usr/local/lib/tokenmeter-go && rm -rf "$tmp"
    # module zips carry no execute bits
    chmod +x /usr/local/lib/tokenmeter-go/bin/* /usr/local/lib/tokenmeter-go/pkg/tool/*/*
    ln -sf /usr/local/lib/tokenmeter-go/bin/go /usr/local/bin/go
    /usr/local/bin/go version
fi
