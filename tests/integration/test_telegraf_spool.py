# SPDX-License-Identifier: MIT
"""End to end with the real Telegraf: telegraf/tokenmeter-spool.conf as shipped
(paths and ports substituted, nothing else), a real InfluxDB 1.x, bodies
delivered as files into the spool the way senders must (tmp/, then rename
into new/).

Run 1: every golden-case body and some garbage, one file each; InfluxDB must
hold exactly the events `tokenmeter execd` gives for the same bodies, the
garbage must be in the dead-letter file byte for byte, the spool must be
empty, and a tokenmeter_stats point must arrive on Telegraf's gather signal.
While Telegraf is down, 10 000 event files are spooled. Run 2 starts
draining them and is stopped (SIGTERM) in the middle; run 3 drains the rest.
InfluxDB must then hold exactly the 10 000 events with the right sums.
"""
import os
import re
import signal
import sys
import time

import telegraf
import tmlib

R = tmlib.Results("test_telegraf_spool")
DB = "tokenmeter"


class Spool:
    def __init__(self, path):
        self.path = path
        self.n = 0
        for sub in ("tmp", "new"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)

    def deliver(self, body):
        """One body, one file: written in tmp/, renamed into new/."""
        self.n += 1
        name = "%012d.%d.e2e" % (self.n, os.getpid())
        tmp = os.path.join(self.path, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(self.path, "new", name))

    def pending(self):
        return len(os.listdir(os.path.join(self.path, "new")))


def wait_until(cond, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def count(infl, where):
    rows = infl.rows("SELECT count(event_id) FROM llm_usage " + where, DB)
    return rows[0]["count"] if rows else 0


def main():
    env = telegraf.Setup("tm-e2e-spool-")
    try:
        spool = Spool(os.path.join(env.dir, "lib", "spool"))
        env.start("tokenmeter-spool.conf", {"/var/lib/tokenmeter/spool": spool.path})
        env.telegraf.wait_log(r"Starting process: .*--spool")
        run1(env.influx, env.telegraf, spool, env.conf, env.dead_letter)
        run23(env.influx, env.telegraf, spool)
    finally:
        env.close()
    return R.finish()


def run1(infl, tg, spool, conf, dl):
    gold = telegraf.Golden(conf)
    garbage = [b"not json at all", b'{"unknown": "shape"}', b"\xff\xfe\x00binary", b""]
    for b in gold.bodies + garbage:
        spool.deliver(b)
    R.check(wait_until(lambda: spool.pending() == 0), "the spool is drained")
    R.check(wait_until(lambda: count(infl, "") >= len(gold.want)), "the events arrive")
    time.sleep(1.5)  # one more flush interval: nothing beyond them may come
    gold.check(R, telegraf.influx_points(infl, DB))
    got_dl = telegraf.dead_letter_bodies(dl)
    want_dl = [telegraf.record_body(r) for r in gold.dead_letters] + garbage
    R.equal(sorted(got_dl), sorted(want_dl), "the dead-letter file holds every rejected body")
    # The gather signal (a blank line every `interval`) brings the stats point.
    R.check(wait_until(lambda: infl.rows("SELECT count(lines) FROM tokenmeter_stats", DB),
                       timeout=25), "a tokenmeter_stats point arrives on the gather signal")
    # A gather during the drain wrote a point with the counts so far; the
    # next one must cover every file.
    def last_stats():
        return infl.rows("SELECT last(lines) AS lines, last(rejected) AS rejected "
                         "FROM tokenmeter_stats", DB)
    wait_until(lambda: last_stats()[0]["lines"] >= len(gold.bodies) + len(garbage), timeout=25)
    st = last_stats()
    R.check(st[0]["lines"] == len(gold.bodies) + len(garbage),
            "its counters cover every spool file (%s)" % st)
    R.equal(tg.stop(), 0, "Telegraf stops cleanly")
    log = tg.text()
    R.check(re.search(r"E! \[inputs\.execd\] rejected .*/new/", log) is not None,
            "tokenmeter's rejections appear as Telegraf E! lines of inputs.execd")
    R.check("I! [inputs.execd] done:" in log, "and its summary as an I! line")
    R.check('stderr: "' not in log, "no tokenmeter line without a level prefix")


def run23(infl, tg, spool):
    """10 000 files spooled while Telegraf is down; a stop mid-drain; a
    restart that finishes. Exactly the 10 000 events arrive."""
    n = 10000
    for i in range(n):
        spool.deliver(telegraf.openai_body("e2e-spool-%d" % i, 10 + i % 9, 2, 1787300000 + i))
    R.equal(spool.pending(), n, "the spool holds the files while Telegraf is down")
    tg.start()
    R.check(wait_until(lambda: spool.pending() < n - 1000, timeout=60), "run 2 drains")
    status = tg.stop(signal.SIGTERM)
    left = spool.pending()
    arrived = count(infl, "WHERE model = 'e2e-model'")
    print("stopped mid-drain: %d files left, %d events in InfluxDB" % (left, arrived), flush=True)
    R.equal(status, 0, "Telegraf stopped mid-drain exits 0")
    R.check(0 < left < n, "the stop came in the middle of the drain")
    R.equal(arrived, n - left, "every file removed from the spool is in InfluxDB, no more")
    tg.start()
    R.check(wait_until(lambda: spool.pending() == 0, timeout=60), "run 3 drains the rest")
    R.check(wait_until(lambda: count(infl, "WHERE model = 'e2e-model'") >= n),
            "the events arrive")
    time.sleep(1.5)
    rows = infl.rows("SELECT count(event_id), sum(input_tokens), sum(output_tokens) "
                     "FROM llm_usage WHERE model = 'e2e-model'", DB)
    R.equal((rows[0]["count"], rows[0]["sum"], rows[0]["sum_1"]),
            (n, sum(10 + i % 9 for i in range(n)), 2 * n),
            "exactly the 10 000 events, with the right sums, across the restart")
    R.equal(tg.stop(), 0, "Telegraf stops cleanly again")
    R.equal(tg.text().count("I! [inputs.execd] done:"), 3, "tokenmeter reported at each stop")


if __name__ == "__main__":
    sys.exit(main())
