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
# InfluxDB 1.13.2 and 2.8.0 are built from their Go modules once per machine
# (about 15 minutes on a fresh one): in the background, while the stages that
# need no server run; the integration stage waits for it.
tests/integration/influxd-build.sh --background
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
step pricing-oracle;   make -s check-pricing-oracle
step packages;         make -s check-packages
step integration;      tests/integration/influxd-build.sh --wait && make -s check-integration
# The sanitizer binary against the one server every machine has.
step integration-asan; TM_INFLUX_VERSIONS=1.6.7 make -s check-integration-asan
echo
# Each stage stops the run (set -e) when it fails; reaching here means all passed.
echo "test stages: $stages passed, 0 failed"
