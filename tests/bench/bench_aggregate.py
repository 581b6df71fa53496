#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`tokenmeter aggregate` over one day of 1 000 000 events in a real InfluxDB.

Loading a million points through execd would measure execd; so the line
protocol is generated directly here, in the shape execd writes (llm_usage,
tags model/org/provider/source/status, integer token fields, cost_usd,
cost_source, event_id; unique timestamps), and written to a real influxd in
5 000-line batches. Then, side by side in the same run:

  aggregate  `tokenmeter aggregate --day D` (InfluxDB groups: GROUP BY
             time(1d), tags, tz()); wall time, peak RSS of the child, and the
             response bytes it received (from its own log line);
  input      `tokenmeter aggregate --input FILE.lp --day D` over the same
             points (no InfluxDB): the local peer;
  naive      the approach tokenmeter avoids: pull every raw point with a plain
             /query (epoch=ns, chunked) and sum in Python; its wall time,
             peak RSS and bytes received.

Ratios are against the naive peer. Nothing passes or fails on time; the only
check is that the three give the same total request count. BENCH_EVENTS
changes the number of events.
"""
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import tmlib  # noqa: E402

N = int(os.environ.get("BENCH_EVENTS", "1000000"))
DAY = datetime.date(2026, 8, 25)
T0 = int(datetime.datetime(2026, 8, 25, tzinfo=datetime.timezone.utc).timestamp()) * 10**9


def gen_lines(n):
    rnd = random.Random(1)
    orgs = ["org_%02d" % i for i in range(20)]
    models = [("gpt-4o-mini", "openai"), ("claude-sonnet-4", "anthropic"),
              ("gemini-2.5-flash", "google"), ("o4-mini", "openai"), ("llama-3-70b", "groq")]
    step = 86400 * 10**9 // n
    for i in range(n):
        m, p = models[i % 5]
        inp = rnd.randint(1, 5000)
        out = rnd.randint(0, 2000)
        status = "success" if i % 17 else "error"
        if i % 3:
            cost = 'cost_usd=%.7f,cost_source="reported"' % (inp * 1.5e-7 + out * 6e-7)
        else:
            cost = 'cost_source="unpriced"'
        yield ('llm_usage,model=%s,org=%s,provider=%s,source=litellm,status=%s '
               'input_tokens=%di,cached_input_tokens=%di,output_tokens=%di,total_tokens=%di,'
               '%s,event_id="ev-%d" %d' % (m, orgs[i % 20], p, status, inp, inp // 3, out,
                                           inp + out, cost, i, T0 + i * step))


def child_run(cmd, env=None):
    """Runs cmd; returns (stdout, stderr, returncode, wall s, peak RSS KiB of
    that child alone, from wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), p.returncode, wall, ru.ru_maxrss


NAIVE = r'''
import json, sys, urllib.parse, urllib.request
url, db, a, b = sys.argv[1:5]
q = "SELECT * FROM llm_usage WHERE time >= %s AND time < %s" % (a, b)
req = url + "/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "ns", "chunked": "true", "chunk_size": "10000"})
rows, got = {}, 0
with urllib.request.urlopen(req, timeout=3600) as r:
    for line in r:
        got += len(line)
        doc = json.loads(line)
        for res in doc["results"]:
            for s in res.get("series", []):
                cols = s["columns"]
                ix = {c: i for i, c in enumerate(cols)}
                for v in s["values"]:
                    k = (v[ix["org"]], v[ix["model"]], v[ix["provider"]])
                    agg = rows.setdefault(k, [0, 0, 0, 0.0])
                    agg[0] += 1
                    agg[1] += v[ix["input_tokens"]] or 0
                    agg[2] += v[ix["output_tokens"]] or 0
                    agg[3] += v[ix["cost_usd"]] or 0.0
print(json.dumps({"requests": sum(x[0] for x in rows.values()), "bytes": got, "rows": len(rows)}))
'''


def main():
    binp = tmlib.binary()
    work = tempfile.mkdtemp(prefix="tm-bench-agg-")
    lp_path = os.path.join(work, "day.lp")
    t = time.monotonic()
    with open(lp_path, "w") as f:
        for line in gen_lines(N):
            f.write(line + "\n")
    print("generated %d events of %s in %.1f s (%.0f MB of line protocol)"
          % (N, DAY, time.monotonic() - t, os.path.getsize(lp_path) / 1e6), flush=True)
    with tmlib.Influx() as ix:
        ix.create_db("telegraf")
        t = time.monotonic()
        batch = []
        with open(lp_path) as f:
            for line in f:
                batch.append(line.rstrip("\n"))
                if len(batch) == 5000:
                    ix.write("telegraf", batch)
                    batch = []
        if batch:
            ix.write("telegraf", batch)
        print("loaded into influxd in %.1f s" % (time.monotonic() - t), flush=True)
        conf = os.path.join(work, "tm.conf")
        with open(conf, "w") as f:
            f.write("[influxdb]\nurl = %s\ndatabase = telegraf\ntimeout = 600\n"
                    "[aggregate]\nsqlite = %s/s.sqlite\n" % (ix.url, work))
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        results = {}
        so, se, rc, wall, rss = child_run([binp, "-c", conf, "aggregate", "--day",
                                           DAY.isoformat()], env)
        assert rc == 0, se
        # "...: N rows from influx; B response bytes from InfluxDB in K requests"
        bytes_in = int(se.split(" response bytes")[0].split()[-1])
        results["aggregate"] = (wall, rss, bytes_in)
        so, se, rc, wall, rss = child_run([binp, "-c", conf, "aggregate", "--sqlite",
                                           os.path.join(work, "in.sqlite"), "--input", lp_path,
                                           "--day", DAY.isoformat()], env)
        assert rc == 0, se
        results["input"] = (wall, rss, 0)
        a, b = T0, T0 + 86400 * 10**9
        so, se, rc, wall, rss = child_run([sys.executable, "-c", NAIVE, ix.url, "telegraf",
                                           str(a), str(b)])
        assert rc == 0, se
        naive = json.loads(so)
        results["naive"] = (wall, rss, naive["bytes"])

        import sqlite3
        tot = [sqlite3.connect(os.path.join(work, n)).execute(
            "SELECT sum(requests) FROM daily_usage").fetchone()[0] for n in ("s.sqlite", "in.sqlite")]
        print("total requests: aggregate %d, --input %d, naive %d (expected %d)"
              % (tot[0], tot[1], naive["requests"], N))
        nw, nr, nb = results["naive"]
        print("%-10s %10s %12s %16s %10s" % ("run", "wall s", "peak RSS MB", "bytes received",
                                              "vs naive"))
        for name in ("aggregate", "input", "naive"):
            w, r, bts = results[name]
            print("%-10s %10.2f %12s %16s %9.1fx" % (
                name, w, "%.1f" % (r / 1024), bts if name != "input" else "-",
                nw / w))
        print("aggregate received %.0fx fewer bytes than the naive pull" % (nb / max(results["aggregate"][2], 1)))
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
