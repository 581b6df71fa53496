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
import http.client
import json
import os
import re
import signal
import sys
import threading
import time

import telegraf
import tmlib

R = tmlib.Results("test_telegraf_http")
DB = "tokenmeter"


class Poster:
    """POSTs bodies over keep-alive connections from several threads and
    records which were acknowledged with 2xx."""

    def __init__(self, port, threads=4):
        self.port = port
        self.threads = threads
        self.acked = set()
        self.failed = 0
        self.codes = {}
        self.lock = threading.Lock()

    def _worker(self, items):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for key, body, headers in items:
            try:
                conn.request("POST", "/tokenmeter", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.failed += 1
                return  # the listener is gone: stop this sender
            with self.lock:
                self.codes[resp.status] = self.codes.get(resp.status, 0) + 1
                if 200 <= resp.status < 300:
                    self.acked.add(key)
        conn.close()

    def post(self, items):
        """items: (key, body, headers); returns once all were sent."""
        parts = [items[k::self.threads] for k in range(self.threads)]
        ths = [threading.Thread(target=self._worker, args=(p,)) for p in parts]
        for t in ths:
            t.start()
        for t in ths:
            t.join()


def wait_count(infl, where, want, timeout=90):
    """Waits until SELECT count(event_id) ... reaches want; returns it."""
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        rows = infl.rows("SELECT count(event_id) FROM llm_usage " + where, DB)
        n = rows[0]["count"] if rows else 0
        if n >= want:
            break
        time.sleep(0.25)
    return n


def sums_by_org(infl, where):
    rows = infl.rows("SELECT sum(input_tokens), sum(output_tokens), count(event_id) "
                     "FROM llm_usage %s GROUP BY org" % where, DB)
    return {r["org"]: (r["sum"], r["sum_1"], r["count"]) for r in rows}


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
    run_v2()
    return R.finish()


def run_v2():
    """The outputs.influxdb_v2 variant. Debian's InfluxDB 1.6 has no
    /api/v2/write, so this shows the config loads and the whole chain runs up
    to the v2 write request (answered 404), not that a 2.x server stores it."""
    port = tmlib.free_port()
    os.environ["INFLUXDB_TOKEN"] = "e2e-token"
    env = telegraf.Setup("tm-e2e-v2-")
    try:
        env.start("tokenmeter-http-influxdb-v2.conf", {"127.0.0.1:8080": "127.0.0.1:%d" % port})
        tg = env.telegraf
        tg.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
        Poster(port, threads=1).post([("v2", telegraf.openai_body("e2e-v2", 1, 1, 1787600000), {})])
        tg.wait_log(r"When writing to \[http://127\.0\.0\.1:%d/api/v2/write\]" % env.influx.port)
        R.equal(tg.stop(), 0, "the influxdb_v2 variant loads, runs tokenmeter, writes via /api/v2")
        R.check("Loaded outputs: influxdb_v2" in tg.text() and
                "[processors.execd] done: 1 lines, 1 events, 1 written" in tg.text(),
                "its tokenmeter normalized the webhook")
    finally:
        env.close()


def run1(infl, tg, port, conf, dl):
    poster = Poster(port)
    # Every source: the golden bodies, one request each, in order (single
    # sender, so in-process duplicate dropping sees what execd sees).
    gold = telegraf.Golden(conf)
    golden = gold.bodies
    print("golden bodies: %d, sources: %s" % (len(golden), " ".join(gold.sources)), flush=True)
    one = Poster(port, threads=1)
    one.post([("g%d" % i, b, {}) for i, b in enumerate(golden)])
    R.equal(len(one.acked), len(golden), "every golden body acknowledged")

    # Synthetic events with known sums: OpenAI with tenancy headers, and a
    # LiteLLM array batch whose elements name their own org.
    expect = {}
    items = []
    for i in range(300):
        org = "e2e-acme" if i % 3 else "e2e-globex"
        prompt, completion = 100 + i, 1 + i % 17
        items.append(("s%d" % i, telegraf.openai_body("e2e-s-%d" % i, prompt, completion,
                                                      1787600000 + i),
                      {"X-Tokenmeter-Org": org, "X-Tokenmeter-Team": "t%d" % (i % 2)}))
        e = expect.setdefault(org, [0, 0, 0])
        e[0] += prompt
        e[1] += completion
        e[2] += 1
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
    burst = [("b%d" % i, telegraf.openai_body("e2e-b-%d" % i, 10 + i % 7, 3, 1787500000 + i),
              {"X-Tokenmeter-Org": "e2e-burst"}) for i in range(10000)]
    expect["e2e-burst"] = [sum(10 + i % 7 for i in range(10000)), 30000, 10000]
    t0 = time.time()
    poster.post(burst)
    print("burst of 10000 POSTs took %.1f s" % (time.time() - t0), flush=True)
    R.equal(poster.codes, {204: len(items) * 2 + len(garbage) + len(burst)},
            "the listener answered 204 to every request")

    want = sum(e[2] for e in expect.values())
    n = wait_count(infl, "WHERE org =~ /^e2e-/", want)
    R.equal(n, want, "exactly the distinct synthetic events arrived (re-sends collapsed)")
    got = sums_by_org(infl, "WHERE org =~ /^e2e-/")
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
    R.equal(other_errors(log), [], "no other errors in Telegraf's log")


def other_errors(log):
    """Telegraf's E! lines that are not tokenmeter's rejections. Telegraf
    closes the child's stdout when the child exits, before its reader sees
    EOF, and may log that as "file already closed": tokenmeter waits until
    the pipe is drained before exiting, so nothing is lost with it."""
    return [l for l in log.splitlines()
            if " E! " in l and " E! [processors.execd] rejected stdin:" not in l
            and not l.endswith("Error in plugin: read |0: file already closed")]


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
    tg.start()
    tg.wait_log(r"Listening on 127\.0\.0\.1:%d" % port, count=2)
    poster = Poster(port)
    burst = [("e2e-stop-%d" % i, telegraf.openai_body("e2e-stop-%d" % i, 1, 1, 1787400000 + i),
              {"X-Tokenmeter-Org": "e2e-stop"}) for i in range(10000)]
    sender = threading.Thread(target=poster.post, args=(burst,))
    sender.start()
    while len(poster.acked) < 3000 and sender.is_alive():
        time.sleep(0.01)
    acked_at_stop = len(poster.acked)
    status = tg.stop(signal.SIGTERM)
    sender.join()
    R.equal(status, 0, "Telegraf stopped mid-burst exits 0")
    rows = infl.rows("SELECT event_id FROM llm_usage WHERE org = 'e2e-stop'", DB)
    stored = {r["event_id"] for r in rows}
    missing = poster.acked - stored
    print("mid-burst stop: %d acknowledged when SIGTERM was sent, %d acknowledged in all, "
          "%d refused or cut, %d stored" % (acked_at_stop, len(poster.acked), poster.failed,
                                           len(stored)), flush=True)
    R.check(0 < len(poster.acked) < len(burst), "the stop happened mid-burst")
    R.equal(sorted(missing), [], "every acknowledged event is in InfluxDB")
    if missing:
        print(tg.text()[-6000:])
    R.check(stored <= {k for k, _, _ in burst}, "nothing else arrived")
    R.check(tg.text().count("I! [processors.execd] done:") == 2,
            "tokenmeter flushed and reported at each stop")


if __name__ == "__main__":
    sys.exit(main())
