#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what building and checking the .deb and .rpm needs on Debian 12
# (as root), on top of tests/setup-debian.sh. Idempotent.
#   debhelper dpkg-dev fakeroot: dpkg-buildpackage with compat 13
#   lintian: the .deb checks; rpm rpmlint: rpmbuild, rpm --root and the .rpm checks
#   groff-base man-db: man pages render; systemd: systemd-analyze verify
set -eu
pkgs="debhelper dpkg-dev fakeroot lintian rpm rpmlint groff-base man-db systemd
      build-essential pkg-config libinih-dev libcurl4-openssl-dev libsqlite3-dev
      libjansson-dev check python3 influxdb"
# dpkg-query prints one "ii" line per installed package: fewer lines than
# packages means something is missing.
want=$(echo $pkgs | wc -w)
have=$(dpkg-query -W -f='${db:Status-Abbrev}\n' $pkgs 2>/dev/null | grep -c '^ii' || true)
[ "$have" -eq "$want" ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "tokenmeter: packaging needs: $pkgs (run as root)" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs; }
