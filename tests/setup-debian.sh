#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what building and testing tokenmeter needs on Debian 12 (as root).
# Idempotent: packages already present are not fetched again.
set -eu
pkgs="build-essential pkg-config libjansson-dev libinih-dev libcurl4-openssl-dev
      libsqlite3-dev sqlite3 check clang-format valgrind influxdb python3 curl ca-certificates"
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
