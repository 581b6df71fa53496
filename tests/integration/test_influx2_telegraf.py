#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End to end with the real Telegraf and a real InfluxDB 2.x:
telegraf/tokenmeter-http-influxdb-v2.conf as shipped (paths and ports
substituted, nothing else; the org and bucket it names are the ones the
server is set up with), writing through outputs.influxdb_v2 with a token that
may only write that bucket, given the way the file says (an environment
variable), as an operator would give it to Telegraf.

Run 1: every golden-case body, OpenAI events with tenancy headers, re-sends
of all of them, garbage, and a burst. The bucket must then hold exactly the
distinct events with the tags and fields `tokenmeter execd` gives the same
bodies (read back through InfluxQL on /query, with the DBRP mapping an
operator creates for it), and the garbage must be in the dead-letter file.

Run 2: SIGTERM to Telegraf mid-burst: every event the listener acknowledged
with 2xx must be in the bucket.
"""
import os
import re
import sys
import time

import telegraf
import tmlib

R = tmlib.Results("test_influx2_telegraf")
CONF = "tokenmeter-http-influxdb-v2.conf"


def output_settings(name):
    """The organization, bucket and token variable of the shipped config's
    [[outputs.influxdb_v2]]: the test sets the server up to match them."""
    with open(os.path.join(tmlib.ROOT, "telegraf", name)) as f:
        text = f.read()
    section = text[text.index("[[outputs.influxdb_v2]]"):]

    def get(key):
        return re.search(r'^\s*%s\s*=\s*"([^"]*)"' % key, section, re.M).group(1)
    return get("organization"), get("bucket"), re.fullmatch(r"\$\{(\w+)\}", get("token")).group(1)


def main():
    port = tmlib.free_port()
    org, bucket, token_var = output_settings(CONF)
    env = telegraf.Setup("tm-e2e-v2-")
    # Kept forever: the test's events carry fixed 2026 timestamps.
    ix = tmlib.Influx2(org=org, bucket=bucket, retention_days=0)
    try:
        ix.start()
        print("server: InfluxDB %s, org %s, bucket %s" % (ix.version, org, bucket), flush=True)
        ix.create_dbrp(ix.bucket_id, bucket)
        # The token Telegraf gets: write on its bucket, nothing else.
        os.environ[token_var] = ix.create_token("telegraf", [ix.bucket_id], read=False)
        env.start(CONF, {"127.0.0.1:8080": "127.0.0.1:%d" % port}, influx=ix)
        tg = env.telegraf
        tg.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
        run1(ix, bucket, tg, port, env.conf, env.dead_letter)
        run2(ix, bucket, tg, port)
    finally:
        env.close()
        ix.close()
    return R.finish()


def run1(ix, db, tg, port, conf, dl):
    gold = telegraf.Golden(conf)
    one = telegraf.Poster(port, threads=1)
    one.post([("g%d" % i, b, {}) for i, b in enumerate(gold.bodies)])
    R.equal(len(one.acked), len(gold.bodies), "every golden body acknowledged")

    items, expect = telegraf.tenancy_events(200)
    burst, expect["e2e-burst"] = telegraf.burst_events("e2e-b", "e2e-burst", 3000, 1787500000)
    garbage = [b"not json at all", b'{"unknown": "shape"}']
    poster = telegraf.Poster(port)
    poster.post(items)
    poster.post(items)  # re-sends
    one.post([("g%d" % i, b, {}) for i, b in enumerate(gold.bodies)])
    poster.post([("x%d" % i, b, {}) for i, b in enumerate(garbage)])
    poster.post(burst)
    R.equal(poster.codes, {204: 2 * len(items) + len(garbage) + len(burst)},
            "the listener answered 204 to every request")

    want = sum(e[2] for e in expect.values())
    n = telegraf.wait_count(ix, "WHERE org =~ /^e2e-/", want, db=db)
    R.equal(n, want, "exactly the distinct events reached the 2.x bucket (re-sends collapsed)")
    R.equal(telegraf.sums_by_org(ix, "WHERE org =~ /^e2e-/", db=db),
            {k: tuple(v) for k, v in expect.items()},
            "per-org sums of input/output tokens and counts")
    gold.check(R, telegraf.influx_points(ix, db, "WHERE org !~ /^e2e-/"))

    time.sleep(0.5)
    want_dl = [telegraf.record_body(r) for r in gold.dead_letters] * 2 + garbage
    R.equal(sorted(telegraf.dead_letter_bodies(dl)), sorted(want_dl),
            "the dead-letter file holds exactly the rejected bodies")

    R.equal(tg.stop(), 0, "Telegraf stops cleanly on SIGTERM")
    log = tg.text()
    R.check("Loaded outputs: influxdb_v2" in log, "Telegraf wrote through outputs.influxdb_v2")
    R.check("I! [processors.execd] done:" in log, "tokenmeter's closing summary arrived")
    R.equal(telegraf.other_errors(log), [], "no other errors in Telegraf's log")


def run2(ix, db, tg, port):
    """SIGTERM mid-burst: what the listener acknowledged reaches the bucket."""
    telegraf.sigterm_mid_burst(R, ix, tg, port, 5000, 1500, db)
    R.check(tg.text().count("I! [processors.execd] done:") == 2,
            "tokenmeter flushed and reported at each stop")


if __name__ == "__main__":
    sys.exit(main())
