#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`replay --write-influx` against a real InfluxDB: replayed events land in
[influxdb] database with the identity a first write gives them, so a
replay run twice (or a replay after some of its points were written) stores
nothing twice; and without a server the run says so and exits 75."""
import json
import os
import subprocess
import tempfile

import tmlib

CHAT = ('{"id":"chatcmpl-r%d","object":"chat.completion","created":%d,"model":"m",'
        '"usage":{"prompt_tokens":%d,"completion_tokens":2}}')


def main():
    res = tmlib.Results("replay-write-influx")
    binary = tmlib.binary()
    with tempfile.TemporaryDirectory() as tmp, tmlib.Influx() as infl:
        infl.create_db("usage")
        retry = os.path.join(tmp, "retry.ndjson")
        with open(retry, "w") as f:
            for i in range(200):
                f.write(json.dumps({"time": "2026-12-01T00:00:00Z", "reason": "a bad config",
                                    "raw": CHAT % (i, 1787666591 + i, 10 + i)}) + "\n")
        args = [binary, "-c", "/dev/null", "replay", "--set", "influxdb.url=" + infl.url,
                "--set", "influxdb.database=usage", "--dead-letter",
                os.path.join(tmp, "again.ndjson")]
        for run in (1, 2):
            p = subprocess.run(args + ["--write-influx", retry], capture_output=True, timeout=120)
            res.equal(p.returncode, 0, "run %d: exit 0 (%s)" % (run, p.stderr[-300:]))
            res.equal(p.stdout, b"", "run %d: nothing on stdout" % run)
            rows = infl.rows("SELECT count(input_tokens), sum(input_tokens) FROM llm_usage",
                             "usage")
            res.equal((rows[0]["count"], rows[0]["sum"]) if rows else None,
                      (200, sum(10 + i for i in range(200))),
                      "run %d: 200 events stored once" % run)
        # the same events written the other way (stdout, then /write) land on
        # the same points
        p = subprocess.run(args + [retry], capture_output=True, timeout=120)
        infl.write("usage", p.stdout.decode())
        rows = infl.rows("SELECT count(input_tokens) FROM llm_usage", "usage")
        res.equal(rows[0]["count"] if rows else None, 200,
                  "replay to stdout written by hand: the same 200 points")
        infl.stop()
        p = subprocess.run(args + ["--write-influx", retry], capture_output=True, timeout=300)
        res.equal(p.returncode, 75, "InfluxDB down: exit 75 (replay again later)")
        res.check(b"writing to InfluxDB" in p.stderr, "InfluxDB down: says so")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
