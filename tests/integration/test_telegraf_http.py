# SPDX-License-Identifier: MIT
"""End to end with the real Telegraf: telegraf/tokenmeter-http.conf as shipped
(paths and ports substituted, nothing else), a real InfluxDB 1.x, webhooks
POSTed over HTTP.

Run 1: every golden-case body (every source the binary knows), a LiteLLM
array batch, OpenAI events with tenancy headers, re-sends of all of them,
garbage, and a burst of 10 000 events. InfluxDB must then hold exactly the
distinct events, with the tags and fields `tokenmeter execd` gives the same
bodies on a pipe; the garbage must be in the dead-letter file byte for byte;
Telegraf's log must show tokenmeter's lines at their levels.

Run 2: a second burst of 10 000 events, with SIGTERM to Telegraf in the
middle: every event the listener acknowledged with 2xx must be in InfluxDB.
"""
import copy
import json
import os
import re
import sys
import time

import telegraf
import tmlib

R = tmlib.Results("test_telegraf_http")
DB = "tokenmeter"


def main():
    port = tmlib.free_port()
    env = telegraf.Setup("tm-e2e-http-")
    try:
        env.start("tokenmeter-http.conf", {"127.0.0.1:8080": "127.0.0.1:%d" % port})
        env.telegraf.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
        run1(env.influx, env.telegraf, port, env.conf, env.dead_letter)
        run2(env.influx, env.telegraf, port)
    finally:
        env.close()
    return R.finish()


def run1(infl, tg, port, conf, dl):
    poster = telegraf.Poster(port)
    # Every source: the golden bodies, one request each, in order (single
    # sender, so in-process duplicate dropping sees what execd sees).
    gold = telegraf.Golden(conf)
    golden = gold.bodies
    print("golden bodies: %d, sources: %s" % (len(golden), " ".join(gold.sources)), flush=True)
    one = telegraf.Poster(port, threads=1)
    one.post([("g%d" % i, b, {}) for i, b in enumerate(golden)])
    R.equal(len(one.acked), len(golden), "every golden body acknowledged")

    # Synthetic events with known sums: OpenAI with tenancy headers, and a
    # LiteLLM array batch whose elements name their own org.
    items, expect = telegraf.tenancy_events(300)
    batch = litellm_batch(50)
    items.append(("litellm-batch", batch, {}))
    expect["e2e-litellm"] = [sum(2000 + i for i in range(50)), 7 * 50, 50]
    # A model name too long for a tag: written truncated, with a W! line.
    items.append(("long", telegraf.openai_body("e2e-long", 5, 5, 1787600999)
                  .replace(b'"e2e-model"', b'"' + b"m" * 700 + b'"'),
                  {"X-Tokenmeter-Org": "e2e-long"}))
    expect["e2e-long"] = [5, 5, 1]
    poster.post(items)
    # Re-sends: every synthetic and golden body again.
    poster.post(items)
    one.post([("g%d" % i, b, {}) for i, b in enumerate(golden)])
    # Garbage: none of it may reach InfluxDB, all of it the dead-letter file.
    garbage = [b"not json at all", b"{", b'{"unknown": "shape"}', b"\xff\xfe\x00binary",
               b'{"tokenmeter": 9, "body": {}}',
               b'[' + telegraf.openai_body("e2e-mixed-ok", 1, 1, 1787601000) + b', "scalar"]']
    expect["e2e-mixed"] = [1, 1, 1]
    poster.post([("x%d" % i, b, {"X-Tokenmeter-Org": "e2e-mixed"})
                 for i, b in enumerate(garbage)])
    # The burst: 10 000 distinct events.
    burst, expect["e2e-burst"] = telegraf.burst_events("e2e-b", "e2e-burst", 10000, 1787500000)
    t0 = time.time()
    poster.post(burst)
    print("burst of 10000 POSTs took %.1f s" % (time.time() - t0), flush=True)
    R.equal(poster.codes, {204: len(items) * 2 + len(garbage) + len(burst)},
            "the listener answered 204 to every request")

    want = sum(e[2] for e in expect.values())
    n = telegraf.wait_count(infl, "WHERE org =~ /^e2e-/", want)
    R.equal(n, want, "exactly the distinct synthetic events arrived (re-sends collapsed)")
    got = telegraf.sums_by_org(infl, "WHERE org =~ /^e2e-/")
    R.equal(got, {k: tuple(v) for k, v in expect.items()},
            "per-org sums of input/output tokens and counts")

    # Golden bodies: the same points as `tokenmeter execd` on a pipe.
    gold.check(R, telegraf.influx_points(infl, DB, "WHERE org !~ /^e2e-/"))

    doc = infl.query("SHOW MEASUREMENTS", db=DB)
    names = {v[0] for res in doc["results"] for s in res.get("series", []) for v in s["values"]}
    R.check("tokenmeter_webhook" not in names, "no raw webhook metric reached InfluxDB")
    long_rows = infl.rows("SELECT event_id, model FROM llm_usage WHERE org = 'e2e-long'", DB)
    R.check(len(long_rows) == 1 and 0 < len(long_rows[0]["model"]) < 700,
            "an over-long model name arrives truncated")

    # Dead letters: execd's rejects of the golden bodies (twice: they were
    # sent twice) plus each piece of garbage, byte for byte.
    time.sleep(0.5)
    got_dl = telegraf.dead_letter_bodies(dl)
    want_dl = [telegraf.record_body(r) for r in gold.dead_letters] * 2
    want_dl += [b for b in garbage if not b.startswith(b"[")] + [b'"scalar"']
    R.equal(sorted(got_dl), sorted(want_dl),
            "the dead-letter file holds exactly the rejected bodies, byte for byte")

    status = tg.stop()
    R.equal(status, 0, "Telegraf stops cleanly on SIGTERM")
    log = tg.text()
    R.check(re.search(r"E! \[processors\.execd\] rejected stdin:\d+: ", log) is not None,
            "tokenmeter's errors appear as Telegraf E! lines of processors.execd")
    R.check("W! [processors.execd]" in log and "truncated" in log,
            "tokenmeter's warnings appear as Telegraf W! lines")
    R.check("I! [processors.execd] done:" in log,
            "tokenmeter's closing summary appears as a Telegraf I! line")
    R.check('stderr: "' not in log, "no tokenmeter line without a level prefix")
    R.equal(telegraf.other_errors(log), [], "no other errors in Telegraf's log")


def litellm_batch(n):
    with open(os.path.join(telegraf.DATA, "litellm-success", "input.ndjson")) as f:
        base = json.loads(f.readline())
    out = []
    for i in range(n):
        e = copy.deepcopy(base)
        e["id"] = "e2e-ll-%d" % i
        e["litellm_call_id"] = "e2e-call-%d" % i
        e["prompt_tokens"] = 2000 + i
        e["completion_tokens"] = 7
        e["total_tokens"] = 2007 + i
        e["metadata"]["user_api_key_org_id"] = "e2e-litellm"
        out.append(e)
    return json.dumps(out, indent=2).encode()  # pretty: raw newlines in the body


def run2(infl, tg, port):
    """SIGTERM mid-burst: what the listener acknowledged reaches InfluxDB."""
    telegraf.sigterm_mid_burst(R, infl, tg, port, 10000, 3000, DB)
    R.check(tg.text().count("I! [processors.execd] done:") == 2,
            "tokenmeter flushed and reported at each stop")


if __name__ == "__main__":
    sys.exit(main())
