#!/bin/sh
# SPDX-License-Identifier: MIT
# Every test tokenmeter has, as CI runs them: unit (Check), golden and
# hostile-input tests, the same under ASan+UBSan and under valgrind, style
# checks, and the integration tests against a real InfluxDB and a real
# Telegraf started on 127.0.0.1. Installs what it needs (Debian 12, as root).
set -eu
# Warnings are errors here (the Makefile leaves them off for packagers).
export WERROR=1
cd "$(dirname "$0")/.."
sh tests/setup-debian.sh
stages=0
step() { echo; echo "##### $*"; stages=$((stages + 1)); }
step build;            make -s
step lint;             make -s lint
step format-check;     make -s format-check
step unit+golden+hostile+operation; make -s check
step install;          make -s check-install
step asan+ubsan;       make -s check-asan
step valgrind;         make -s check-valgrind
step fuzz;             make -s check-fuzz
step attack;           make -s check-attack
step report;           make -s check-report
step integration;      make -s check-integration
step integration-asan; make -s check-integration-asan
echo
# Each stage stops the run (set -e) when it fails; reaching here means all passed.
echo "test stages: $stages passed, 0 failed"
