#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the browser test of the HTML report needs: Debian's chromium
# (headless, driven over the DevTools protocol by tests/browser/cdp.py, which
# needs nothing beyond the Python standard library). Run as root; a no-op when
# chromium is already there.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
