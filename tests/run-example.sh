#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job on the bundled example webhooks: no server needed.
# Installs the build dependencies only (Debian 12, as root; not the test
# tools, InfluxDB or Go), builds, and runs
# `tokenmeter execd` over examples/webhooks.ndjson; line protocol on stdout,
# logs on stderr, rejected bodies in build/example-dead-letter.ndjson.
set -eu
cd "$(dirname "$0")/.."
sh tests/setup-debian.sh build >&2
make -s >&2
rm -f build/example-dead-letter.ndjson
# An empty config: a tokenmeter.conf installed on this machine (whose
# max_event_age would dead-letter the 2026-08 examples) changes nothing here.
TOKENMETER_CONFIG=/dev/null ./build/tokenmeter execd \
    --dead-letter build/example-dead-letter.ndjson \
    --prices examples/prices.json --receive-time 2026-08-25T14:03:11Z examples/webhooks.ndjson
echo "--- dead-letter records (build/example-dead-letter.ndjson):" >&2
cat build/example-dead-letter.ndjson >&2
