#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check, retention and aggregate against a real InfluxDB 2.x, set up the way
an operator does (tmlib.Influx2: influxd on throwaway bolt/engine paths,
POST /api/v2/setup with a bucket of 30 days), plus what an operator then
adds: a "daily" bucket for the summaries, a DBRP mapping for each bucket, and
a token for tokenmeter that may read and write those two buckets only.

Events are generated here as webhooks, turned into line protocol by
`tokenmeter execd` and written with /api/v2/write (what Telegraf's
outputs.influxdb_v2 does). Then:

- check: a 1.x-style config is told the server is 2.x; the 2.x config passes
  every probe, and the version is the server's own.
- retention through INFLUXDB_BUCKET / INFLUXDB_ORG: check differs, apply
  refuses to shorten the bucket, apply --force, the server's bucket keeps 14
  days, check is satisfied; a missing bucket, a rejected token.
- aggregate through the v1-compatible /query: the day totals per zone equal
  sums computed here from the generator's numbers, the rows equal those of
  `aggregate --input` over the same line protocol, in UTC and Los Angeles;
  --write-influx writes llm_usage_daily to the daily bucket, a re-run
  overwrites and never duplicates; a bucket without an explicit mapping goes
  through its virtual one.
- a v1 authorization (username/password) instead of a token: /api/v2
  refuses it, so aggregate and retention exit 77.
- faults the real server produces: a token without write access to the
  daily bucket, a field type conflict there (not retried, the SQLite rows
  stay), a wrong token, a missing bucket, the server stopped.

The faults a real server cannot be made to produce on demand (429 with
Retry-After, 503 on every attempt) are in test_influx_v2_stub.py.
"""
import base64
import datetime
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from zoneinfo import ZoneInfo

import tmlib

R = tmlib.Results("test_influx2_commands")
BIN = tmlib.binary()
WORK = tempfile.mkdtemp(prefix="tm-v2real-")
UTC = datetime.timezone.utc
LA = ZoneInfo("America/Los_Angeles")
# The three days up to today: recent enough for the bucket's retention (a 2.x
# server refuses older points with 422), and inside check's look-back.
DAY0 = datetime.datetime.now(UTC).date() - datetime.timedelta(days=2)
DAYS = [(DAY0 + datetime.timedelta(days=d)).isoformat() for d in range(3)]
SPAN = ["--from", DAYS[0], "--to", DAYS[2]]
ORG = "acme"
COLS = ["requests", "successful", "failed", "input_tokens", "cached_input_tokens",
        "output_tokens", "total_tokens", "unpriced_requests", "cost_usd"]


def run(args, cfg=None, env=None, stdin=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    e.update(env or {})
    return subprocess.run([BIN] + (["-c", cfg] if cfg else []) + args, input=stdin,
                          capture_output=True, text=True, env=e, timeout=120)


def write_config(name, url, token, influx="", aggregate=""):
    """A config with the token in a token_file, its SQLite store in WORK."""
    tok = os.path.join(WORK, name + ".token")
    with open(tok, "w") as f:
        f.write(token + "\n")
    path = os.path.join(WORK, name + ".conf")
    with open(path, "w") as f:
        f.write("[influxdb]\nurl = %s\ntoken_file = %s\ntimeout = 5\nretention_days = 14\n%s\n"
                "[ingest]\ndead_letter = %s/dead.ndjson\n"
                "[aggregate]\nsqlite = %s/%s.sqlite\n%s\n"
                % (url, tok, influx, WORK, WORK, name, aggregate))
    return path


def gen_events(rnd, n):
    """Webhook lines (OpenAI, unpriced; LiteLLM with a cost, some failed)
    across orgs, models and three days, clustered around UTC and Los Angeles
    midnight, and for each what it must count as."""
    lines, facts = [], []
    base = int(datetime.datetime.combine(DAY0, datetime.time(), UTC).timestamp())
    for i in range(n):
        org = rnd.choice(["org_acme", "org_globex"])
        model = rnd.choice(["gpt-4o-mini", "o4-mini"])
        d = rnd.randrange(3)
        t = base + d * 86400 + rnd.choice([0, 7 * 3600]) + rnd.randint(-1800, 1800)
        t = max(t, base)
        inp, out = rnd.randint(1, 4000), rnd.randint(0, 1500)
        eid = "v2-%d" % i
        if i % 2 == 0:
            body = {"tokenmeter": 1, "org": org, "source": "openai", "body": {
                "id": eid, "object": "chat.completion", "created": t, "model": model,
                "usage": {"prompt_tokens": inp, "completion_tokens": out,
                          "total_tokens": inp + out}}}
            fact = dict(org=org, t=t, ok=True, input=inp, output=out, cost=None)
        else:
            ok = rnd.random() > 0.2
            cost = round(rnd.uniform(0, 0.02), 7)
            body = {"id": eid, "litellm_call_id": eid, "call_type": "acompletion",
                    "status": "success" if ok else "failure", "response_cost": cost,
                    "custom_llm_provider": "openai", "model": model, "prompt_tokens": inp,
                    "completion_tokens": out, "total_tokens": inp + out, "startTime": t + 0.5,
                    "metadata": {"user_api_key_org_id": org}}
            fact = dict(org=org, t=t, ok=ok, input=inp, output=out, cost=cost)
        lines.append(json.dumps(body))
        facts.append(fact)
    return lines, facts


def day_totals(facts, zone, first=DAYS[0], last=DAYS[2]):
    """(day, org) -> [requests, failed, input, output, unpriced, cost]."""
    out = {}
    for f in facts:
        day = datetime.datetime.fromtimestamp(f["t"], zone).date().isoformat()
        if first <= day <= last:
            r = out.setdefault((day, f["org"]), [0, 0, 0, 0, 0, 0.0])
            r[0] += 1
            r[1] += 0 if f["ok"] else 1
            r[2] += f["input"]
            r[3] += f["output"]
            r[4] += 1 if f["cost"] is None else 0
            r[5] += f["cost"] or 0.0
    return out


def stored(db, zone):
    """The SQLite rows of a zone: (day, org, model, provider) -> COLS."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT day, org, model, provider, %s FROM daily_usage WHERE timezone = ?"
                       % ", ".join(COLS), (zone,)).fetchall()
    con.close()
    return {tuple(r[:4]): r[4:] for r in rows}


def stored_totals(rows):
    out = {}
    for (day, org, _, _), v in rows.items():
        r = out.setdefault((day, org), [0, 0, 0, 0, 0, 0.0])
        c = dict(zip(COLS, v))
        for i, k in enumerate(["requests", "failed", "input_tokens", "output_tokens",
                               "unpriced_requests", "cost_usd"]):
            r[i] += c[k]
    return out


def same_totals(got, want, what):
    ok = set(got) == set(want) and all(
        got[k][:5] == want[k][:5] and abs(got[k][5] - want[k][5]) < 1e-9 for k in want)
    R.check(ok and len(want) > 0, "%s (%d day/org totals)%s"
            % (what, len(want), "" if ok else ": got %r want %r" % (got, want)))


def main():
    lines, facts = gen_events(random.Random(16), 400)
    p = run(["execd", "--dead-letter", os.path.join(WORK, "dead.ndjson")],
            stdin="\n".join(lines) + "\n")
    lp = p.stdout
    R.equal(lp.count("\n"), len(lines), "execd wrote one point per generated event")
    lp_path = os.path.join(WORK, "events.lp")
    with open(lp_path, "w") as f:
        f.write(lp)

    with tmlib.Influx2(org=ORG, bucket="telegraf", retention_days=30) as ix:
        print("server: InfluxDB %s" % ix.version, flush=True)
        R.check(bool(ix.version) and ix.version.startswith("v2."),
                "the server says it is 2.x (%s)" % ix.version)
        daily_id = ix.create_bucket("daily")
        ix.create_dbrp(ix.bucket_id, "telegraf")
        ix.create_dbrp(daily_id, "daily")
        token = ix.create_token("tokenmeter", [ix.bucket_id, daily_id])
        ix.write("telegraf", lp)

        commands(ix, token, daily_id, lp_path, facts)
        faults(ix, token, lp_path)


def commands(ix, token, daily_id, lp_path, facts):
    v2 = "bucket = telegraf\norg = %s\n" % ORG
    cfg = write_config("main", ix.url, token, v2, "write_bucket = daily\n")
    db = os.path.join(WORK, "main.sqlite")

    # --- check: a 1.x config is told what to set; the 2.x one passes -------
    v1cfg = write_config("v1style", ix.url, token)
    p = run(["check"], v1cfg)
    print(p.stdout, end="")
    R.check(p.returncode != 0 and "FAIL version: InfluxDB %s is 2.x: set [influxdb] bucket and "
            "org to use its API" % ix.version in p.stdout,
            "check with a 1.x config says the server is 2.x and what to set")
    p = run(["check", "--set", "aggregate.write_influx=true"], cfg)
    print(p.stdout, end="")
    R.equal(p.returncode, 78, "check before retention apply: the retention differs (78)")
    for probe in ["config", "reachable", "auth", "write", "write summaries", "query", "store"]:
        R.check(("ok   %s:" % probe) in p.stdout, "check: %s ok" % probe)
    R.check("ok   version: InfluxDB %s, using the 2.x API" % ix.version in p.stdout,
            "check: the server's version, the 2.x API")
    R.check('FAIL retention: bucket "telegraf" keeps 30 days, configured 14' in p.stdout,
            "check: the bucket keeps 30 days, 14 configured")

    # --- retention through INFLUXDB_BUCKET / INFLUXDB_ORG ------------------
    env_cfg = write_config("env", ix.url, token)
    env = {"INFLUXDB_BUCKET": "telegraf", "INFLUXDB_ORG": ORG}
    p = run(["retention", "check"], env_cfg, env)
    R.equal(p.returncode, 78, "retention check differs before apply (78)")
    p = run(["retention", "apply"], env_cfg, env)
    R.equal(p.returncode, 65, "retention apply refuses to shorten the bucket without --force")
    R.check("needs --force" in p.stdout and ix.bucket_retention("telegraf") == 30 * 86400,
            "says why, and the server's bucket still keeps 30 days")
    p = run(["retention", "apply", "--force"], env_cfg, env)
    R.equal(p.returncode, 0, "retention apply --force exits 0 (%s)" % p.stderr.strip())
    R.check('bucket "telegraf" keeps 14 days' in p.stdout, "and says so: %s" % p.stdout.strip())
    R.equal(ix.bucket_retention("telegraf"), 14 * 86400, "the server's bucket now keeps 14 days")
    p = run(["retention", "check"], env_cfg, env)
    R.equal(p.returncode, 0, "retention check is satisfied after apply")
    p = run(["retention", "apply", "--days", "0"], env_cfg, env)
    R.check(p.returncode == 0 and ix.bucket_retention("telegraf") == 0,
            "retention apply --days 0 (longer: no --force) keeps the bucket forever (%s)"
            % p.stderr.strip())
    p = run(["retention", "apply", "--force"], env_cfg, env)
    R.equal(ix.bucket_retention("telegraf"), 14 * 86400, "and back to 14 days with --force")
    p = run(["retention", "apply"], env_cfg, dict(env, INFLUXDB_BUCKET="nope"))
    R.equal(p.returncode, 69, "retention apply on a missing bucket exits 69")
    # 2.8 answers a lookup by name with 404 and its own message.
    R.check('bucket "nope" not found' in p.stderr,
            "saying it was not found (%s)" % p.stderr.strip())
    p = run(["retention", "check"], write_config("badtok", ix.url, "not-a-token"), env)
    R.equal(p.returncode, 77, "a rejected token exits 77")
    R.check("not-a-token" not in p.stdout + p.stderr, "and the token is never printed")

    # --- aggregate through /query, UTC and Los Angeles ---------------------
    p = run(["aggregate"] + SPAN, cfg)
    R.equal(p.returncode, 0, "aggregate exits 0 (%s)" % p.stderr.strip()[-300:])
    utc = stored(db, "UTC")
    same_totals(stored_totals(utc), day_totals(facts, UTC),
                "UTC day totals equal the generator's sums")
    cfg_in = write_config("input", "http://127.0.0.1:9", token)  # never contacted
    p = run(["aggregate", "--input", lp_path] + SPAN, cfg_in)
    R.check(p.returncode == 0 and stored(os.path.join(WORK, "input.sqlite"), "UTC") == utc,
            "--input over the same line protocol gives identical rows")
    p = run(["aggregate", "--tz", "America/Los_Angeles"] + SPAN, cfg)
    R.equal(p.returncode, 0, "aggregate --tz America/Los_Angeles exits 0")
    la = stored(db, "America/Los_Angeles")
    same_totals(stored_totals(la), day_totals(facts, LA),
                "Los Angeles day totals equal the generator's sums")
    R.check(stored_totals(la) != stored_totals(utc), "and they differ from the UTC ones")
    p = run(["aggregate", "--tz", "America/Los_Angeles", "--input", lp_path] + SPAN, cfg_in)
    R.check(p.returncode == 0 and
            stored(os.path.join(WORK, "input.sqlite"), "America/Los_Angeles") == la,
            "--input gives identical rows in Los Angeles too")

    # --- --write-influx into the daily bucket, twice ------------------------
    for _ in range(2):
        p = run(["aggregate", "--write-influx"] + SPAN, cfg)
    R.equal(p.returncode, 0, "aggregate --write-influx exits 0 (%s)" % p.stderr.strip()[-300:])
    pts = ix.rows("SELECT * FROM llm_usage_daily WHERE timezone = 'UTC'", "daily")
    R.equal(len(pts), len(utc), "one llm_usage_daily point per row, even after two runs")
    got = {(datetime.datetime.fromtimestamp(x["time"] / 1e9, UTC).date().isoformat(), x["org"],
            x["model"], x["provider"]): x for x in pts}
    R.check(set(got) == set(utc) and all(
        got[k]["requests"] == v[0] and got[k]["input_tokens"] == v[3] and
        abs(got[k]["cost_usd"] - v[8]) < 1e-9 for k, v in utc.items()),
        "the points hold the rows' values, stamped with each day's start")

    # --- a bucket with no explicit DBRP mapping: its virtual one ------------
    ix.create_bucket("virt")
    ix.write("virt", open(lp_path).read())
    p = run(["aggregate", "--set", "influxdb.bucket=virt", "--sqlite",
             os.path.join(WORK, "virt.sqlite")] + SPAN,
            write_config("virt", ix.url, ix.token, v2))
    R.check(p.returncode == 0 and stored(os.path.join(WORK, "virt.sqlite"), "UTC") == utc,
            "a bucket without a DBRP mapping of its own is read through its virtual one (%s)"
            % p.stderr.strip()[-200:])

    # --- a v1 authorization (username/password) instead of a token --------
    # /query accepts it, but aggregate reads the bucket's retention window
    # through /api/v2 first, which refuses it: on 2.x, tokenmeter needs a token.
    ix.create_v1_auth("v1reader", "v1-password-0123", [ix.bucket_id, daily_id])
    basic = "bucket = telegraf\norg = %s\nusername = v1reader\npassword = v1-password-0123\n" % ORG
    bcfg = os.path.join(WORK, "basic.conf")
    with open(bcfg, "w") as f:
        f.write("[influxdb]\nurl = %s\ntimeout = 5\nretention_days = 14\n%s"
                "[aggregate]\nsqlite = %s/basic.sqlite\n" % (ix.url, basic, WORK))
    req = urllib.request.Request(ix.url + "/query?" + urllib.parse.urlencode(
        {"db": "telegraf", "q": "SELECT count(event_id) FROM llm_usage"}))
    req.add_header("Authorization", "Basic " + base64.b64encode(
        b"v1reader:v1-password-0123").decode())
    with urllib.request.urlopen(req, timeout=60) as r:
        n = json.loads(r.read())["results"][0]["series"][0]["values"][0][1]
    R.equal(n, 400, "/query answers a v1 authorization (HTTP Basic)")
    p = run(["aggregate"] + SPAN, bcfg)
    R.check(p.returncode == 77 and "/api/v2/buckets: HTTP 401" in p.stderr and
            "v1-password-0123" not in p.stderr,
            "aggregate with a v1 authorization: 401 from /api/v2, exit 77 (%s)"
            % p.stderr.strip()[-200:])
    p = run(["retention", "check"], bcfg)
    R.check(p.returncode == 77 and "HTTP 401" in p.stderr, "retention too (%s)" % p.stderr.strip())

    # --- check, now healthy --------------------------------------------------
    p = run(["check", "--set", "aggregate.write_influx=true"], cfg)
    print(p.stdout, end="")
    R.equal(p.returncode, 0, "check on the set-up server exits 0")
    R.check('ok   retention: bucket "telegraf" keeps 14 days' in p.stdout, "check: retention ok")
    R.check("info unpriced models: " in p.stdout and "gpt-4o-mini" in p.stdout,
            "check lists the unpriced models of the bucket")
    R.check('ok   newest point: "llm_usage" at ' in p.stdout, "check: the bucket's newest point")


def faults(ix, token, lp_path):
    v2 = "bucket = telegraf\norg = %s\n" % ORG
    wargs = ["aggregate", "--input", lp_path, "--write-influx"] + SPAN

    # a token that may read the raw bucket but not write the summaries
    ro = ix.create_token("read-only", [ix.bucket_id], write=False)
    cfg = write_config("readonly", ix.url, ro, v2, "write_bucket = daily\n")
    p = run(wargs, cfg)
    R.equal(p.returncode, 77, "no write access to the daily bucket exits 77 (%s)"
            % p.stderr.strip()[-300:])
    R.check(len(stored(os.path.join(WORK, "readonly.sqlite"), "UTC")) > 0,
            "and the SQLite rows were stored before the write")

    # a field type conflict in the target bucket: final, not retried
    ix.create_bucket("conflict")
    day0 = int(datetime.datetime.combine(DAY0, datetime.time(), UTC).timestamp())
    ix.write("conflict", "llm_usage_daily,org=x requests=1.5 %d" % (day0 * 10**9))
    cfg = write_config("conflict", ix.url, ix.token, v2, "write_bucket = conflict\n")
    p = run(wargs, cfg)
    print(p.stderr.strip()[-400:])
    R.equal(p.returncode, 69, "a field type conflict exits 69")
    R.check("field type conflict" in p.stderr and "retrying" not in p.stderr,
            "with the server's reason, and it is not retried")
    R.check("the SQLite rows were stored" in p.stderr, "saying the SQLite rows are stored")

    # a wrong token on the query path; a bucket that does not exist
    cfg = write_config("wrong", ix.url, "wrong-token-0123", v2)
    p = run(["aggregate"] + SPAN, cfg)
    R.equal(p.returncode, 77, "a wrong token exits 77 (%s)" % p.stderr.strip()[-200:])
    R.check("wrong-token-0123" not in p.stderr, "without printing it")
    p = run(["aggregate", "--set", "influxdb.bucket=nope"] + SPAN,
            write_config("nobucket", ix.url, ix.token, v2))
    R.check(p.returncode not in (0, 75), "a missing bucket is an error, not a retry (exit %d: %s)"
            % (p.returncode, p.stderr.strip()[-200:]))

    # the server goes away
    cfg = write_config("stopped", ix.url, token, v2)
    ix.stop()
    p = run(["aggregate"] + SPAN, cfg)
    R.equal(p.returncode, 75, "the server stopped: aggregate exits 75")
    p = run(["check"], cfg)
    R.check(p.returncode == 75 and "FAIL reachable:" in p.stdout,
            "check on a stopped server: FAIL reachable, exit 75")


try:
    main()
finally:
    import shutil
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(R.finish())
