#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tokenmeter aggregate / report / retention / check against a real InfluxDB 1.6.

Events are generated here as webhooks (OpenAI chat completions in tokenmeter
envelopes, which execd leaves unpriced, and LiteLLM payloads with a reported
cost, some failed), across orgs and models, over five days, with clusters
around UTC midnight and Los Angeles midnight. `tokenmeter execd` turns them
into line protocol (the real pipeline), which is written to a real influxd.
Every SQLite row is then compared with sums computed here independently from
the generator's own numbers, per calendar day in UTC and in
America/Los_Angeles (Python's zoneinfo), and `--input` over the same line
protocol must give identical rows.

Then: re-runs (identical rows, one audit entry each), late events picked up
by --last 3, --write-influx (overwrites, never duplicates), faults (InfluxDB
stopped, a listener that never answers, wrong credentials, a statement error
inside an HTTP 200, the run lock busy, a malformed --input line), retention
apply/check, and check's output for a healthy and a broken setup.
"""
import datetime
import fcntl
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

import tmlib

R = tmlib.Results("test_aggregate")
BIN = tmlib.binary()
WORK = tempfile.mkdtemp(prefix="tm-agg-")
UTC = datetime.timezone.utc
LA = ZoneInfo("America/Los_Angeles")
DAY0 = datetime.date(2026, 8, 20)  # five days: 08-20 .. 08-24
ORGS = ["org_acme", "org_globex", "org_initech"]
MODELS = [("gpt-4o-mini", "openai"), ("claude-sonnet-4", "anthropic"), ("o4-mini", "openai")]
COUNTS = ["requests", "successful", "failed", "input_tokens", "cached_input_tokens",
          "cache_write_tokens", "output_tokens", "reasoning_tokens", "total_tokens",
          "unpriced_requests"]


def run(args, config=None, env=None, stdin=None, timeout=120):
    cmd = [BIN] + (["-c", config] if config else []) + args
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("INFLUXDB_"):
            del e[k]
    e.update(env or {})
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=e, timeout=timeout)
    return p


def write_config(name, url, extra=""):
    path = os.path.join(WORK, name + ".conf")
    with open(path, "w") as f:
        f.write("[influxdb]\nurl = %s\ndatabase = telegraf\ntimeout = 5\n%s\n"
                "[ingest]\ndead_letter = %s/dead.ndjson\n"
                "[aggregate]\nsqlite = %s/%s.sqlite\n"
                % (url, extra, WORK, WORK, name))
    return path


def gen_events(rnd, n, first_day, ndays, tag):
    """Webhook lines and, for each, what it must count as."""
    lines, facts = [], []
    base = int(datetime.datetime.combine(first_day, datetime.time(), UTC).timestamp())
    for i in range(n):
        org = rnd.choice(ORGS)
        model, provider = rnd.choice(MODELS)
        d = rnd.randrange(ndays)
        r = rnd.random()
        if r < 0.25:    # around UTC midnight
            t = base + d * 86400 + rnd.randint(-1800, 1800)
        elif r < 0.5:   # around Los Angeles midnight (07:00Z in summer)
            t = base + d * 86400 + 7 * 3600 + rnd.randint(-1800, 1800)
        else:
            t = base + d * 86400 + rnd.randint(0, 86399)
        t = max(t, base)
        cached = rnd.randint(0, 300)
        inp = cached + rnd.randint(1, 4000)
        reasoning = rnd.randint(0, 40) if model == "o4-mini" else 0
        out = reasoning + rnd.randint(0, 1500)
        eid = "%s-%d" % (tag, i)
        if i % 2 == 0:
            body = {"tokenmeter": 1, "org": org, "source": "openai", "body": {
                "id": eid, "object": "chat.completion", "created": t, "model": model,
                "usage": {"prompt_tokens": inp, "completion_tokens": out,
                          "total_tokens": inp + out,
                          "prompt_tokens_details": {"cached_tokens": cached},
                          "completion_tokens_details": {"reasoning_tokens": reasoning}}}}
            # An OpenAI-shaped body's provider is the model family's
            # (docs/sources.md "OpenAI-compatible vendors"), not "openai".
            fact = dict(org=org, model=model, provider=provider, t=t, ok=True, input=inp,
                        cached=cached, output=out, reasoning=reasoning, cost=None)
        else:
            ok = rnd.random() > 0.2
            cost = round(rnd.uniform(0, 0.02), 7)
            body = {"id": eid, "litellm_call_id": eid, "call_type": "acompletion",
                    "status": "success" if ok else "failure", "response_cost": cost,
                    "custom_llm_provider": provider, "model": model, "prompt_tokens": inp,
                    "completion_tokens": out, "total_tokens": inp + out,
                    "startTime": t + 0.5, "metadata": {"user_api_key_org_id": org}}
            fact = dict(org=org, model=model, provider=provider, t=t, ok=ok, input=inp,
                        cached=0, output=out, reasoning=0, cost=cost)
        lines.append(json.dumps(body))
        facts.append(fact)
    return lines, facts


def expected(facts, zone, first=None, last=None):
    rows = {}
    for f in facts:
        day = datetime.datetime.fromtimestamp(f["t"], zone).date().isoformat()
        if (first and day < first) or (last and day > last):
            continue
        k = (day, f["org"], f["model"], f["provider"])
        r = rows.setdefault(k, dict.fromkeys(COUNTS, 0) | {"cost_usd": 0.0})
        r["requests"] += 1
        r["successful" if f["ok"] else "failed"] += 1
        r["input_tokens"] += f["input"]
        r["cached_input_tokens"] += f["cached"]
        r["output_tokens"] += f["output"]
        r["reasoning_tokens"] += f["reasoning"]
        r["total_tokens"] += f["input"] + f["output"]
        if f["cost"] is None:
            r["unpriced_requests"] += 1
        else:
            r["cost_usd"] += f["cost"]
    return rows


def stored(db, zone):
    con = sqlite3.connect(db)
    out = {}
    for row in con.execute("SELECT day, org, model, provider, team, %s, cost_usd FROM daily_usage"
                           " WHERE timezone = ?" % ", ".join(COUNTS), (zone,)):
        out[tuple(row[:4])] = dict(zip(COUNTS + ["cost_usd"], row[5:]))
        assert row[4] == ""
    con.close()
    return out


def audits(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT source, outcome, days, rows FROM aggregate_runs ORDER BY id").fetchall()
    con.close()
    return rows


def same_rows(got, want, what):
    ok = set(got) == set(want)
    bad = [] if ok else ["keys differ: missing %s, extra %s" %
                         (sorted(set(want) - set(got))[:3], sorted(set(got) - set(want))[:3])]
    for k in set(got) & set(want):
        for c in COUNTS:
            if got[k][c] != want[k][c]:
                bad.append("%s %s: got %s want %s" % (k, c, got[k][c], want[k][c]))
        if abs(got[k]["cost_usd"] - want[k]["cost_usd"]) > 1e-9:
            bad.append("%s cost: got %r want %r" % (k, got[k]["cost_usd"], want[k]["cost_usd"]))
    R.check(not bad and len(want) > 0,
            "%s (%d rows)%s" % (what, len(want), "" if not bad else ": " + "; ".join(bad[:3])))


def execd(lines):
    p = run(["execd", "--dead-letter", os.path.join(WORK, "dead.ndjson")],
            stdin="\n".join(lines) + "\n")
    assert p.returncode == 0, p.stderr
    return p.stdout


def never_answering_listener():
    """Accepts connections (the kernel completes the handshake from the
    backlog) and never sends a byte."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def main():
    rnd = random.Random(5)
    lines, facts = gen_events(rnd, 900, DAY0, 5, "ev")
    lp = execd(lines)
    R.equal(lp.count("\n"), 900, "execd wrote one point per generated event")
    lp_path = os.path.join(WORK, "events.lp")
    with open(lp_path, "w") as f:
        f.write(lp)
    span = ["--from", "2026-08-20", "--to", "2026-08-24"]

    with tmlib.Influx() as ix:
        ix.create_db("telegraf")
        ix.write("telegraf", lp)
        cfg = write_config("main", ix.url)
        db = os.path.join(WORK, "main.sqlite")

        # --- the InfluxDB path, UTC, against independent sums -------------
        p = run(["aggregate"] + span, cfg)
        R.equal(p.returncode, 0, "aggregate exits 0 (%s)" % p.stderr.strip()[-300:])
        R.check("response bytes" in p.stderr, "aggregate reports the bytes InfluxDB sent")
        want_utc = expected(facts, UTC)
        same_rows(stored(db, "UTC"), want_utc, "UTC rows equal the independent sums")

        # --- --input gives identical rows --------------------------------
        cfg_in = write_config("input", "http://127.0.0.1:9")  # never contacted
        p = run(["aggregate", "--input", lp_path] + span, cfg_in)
        R.equal(p.returncode, 0, "aggregate --input exits 0 (%s)" % p.stderr.strip()[-300:])
        got_in = stored(os.path.join(WORK, "input.sqlite"), "UTC")
        R.check(got_in == stored(db, "UTC"), "--input rows are identical to the InfluxDB rows")

        # --- Los Angeles days split the midnight clusters differently ----
        p = run(["aggregate", "--tz", "America/Los_Angeles"] + span, cfg)
        R.equal(p.returncode, 0, "aggregate --tz America/Los_Angeles exits 0")
        want_la = expected(facts, LA, "2026-08-20", "2026-08-24")
        same_rows(stored(db, "America/Los_Angeles"), want_la,
                  "Los Angeles rows equal the independent sums")
        moved = sum(1 for f in facts
                    if datetime.datetime.fromtimestamp(f["t"], UTC).date()
                    != datetime.datetime.fromtimestamp(f["t"], LA).date())
        R.check(moved > 100 and want_la != want_utc,
                "%d events fall on another day in Los Angeles than in UTC" % moved)
        p = run(["aggregate", "--tz", "America/Los_Angeles", "--input", lp_path] + span, cfg_in)
        R.check(p.returncode == 0 and stored(os.path.join(WORK, "input.sqlite"),
                                             "America/Los_Angeles")
                == stored(db, "America/Los_Angeles"),
                "--input rows are identical in Los Angeles too")
        R.check(stored(db, "UTC") == got_in, "the UTC rows were left alone by the LA run")

        # --- re-run: identical rows, one audit entry per run ---------------
        cfg2 = write_config("rerun", ix.url)
        db2 = os.path.join(WORK, "rerun.sqlite")
        run(["aggregate"] + span, cfg2)
        first = stored(db2, "UTC")
        run(["aggregate"] + span, cfg2)
        R.check(stored(db2, "UTC") == first and first == stored(db, "UTC"),
                "a second run leaves identical rows")
        a = audits(db2)
        R.equal([(x[0], x[1], x[2]) for x in a], [("influx", "ok", 5)] * 2,
                "two runs, two audit entries")

        # --- late events and --last 3 --------------------------------------
        today = datetime.datetime.now(UTC).date()
        cfg3 = write_config("late", ix.url)
        db3 = os.path.join(WORK, "late.sqlite")
        l1, f1 = gen_events(random.Random(6), 120, today - datetime.timedelta(days=1), 2, "late1")
        ix.write("telegraf", execd(l1))
        run(["aggregate", "--last", "3"], cfg3)
        l2, f2 = gen_events(random.Random(7), 60, today - datetime.timedelta(days=2), 1, "late2")
        ix.write("telegraf", execd(l2))
        p = run(["aggregate", "--last", "3"], cfg3)
        R.equal(p.returncode, 0, "aggregate --last 3 exits 0")
        first_day = (today - datetime.timedelta(days=2)).isoformat()
        want_late = expected(f1 + f2, UTC, first_day, today.isoformat())
        same_rows(stored(db3, "UTC"), want_late, "--last 3 picked up the late events")

        # --- --write-influx: llm_usage_daily points, overwritten on re-run -
        ix.create_db("summaries")
        wargs = ["aggregate", "--write-influx", "--set", "aggregate.write_database=summaries"] + span
        run(wargs, cfg)
        p = run(wargs, cfg)
        R.equal(p.returncode, 0, "aggregate --write-influx exits 0 (%s)" % p.stderr.strip()[-200:])
        pts = ix.rows("SELECT * FROM llm_usage_daily WHERE timezone = 'UTC'", "summaries")
        R.equal(len(pts), len(want_utc), "one llm_usage_daily point per row, even after two runs")
        by_key = {(datetime.datetime.fromtimestamp(x["time"] / 1e9, UTC).date().isoformat(),
                   x["org"], x["model"], x["provider"]): x for x in pts}
        R.check(all(by_key[k]["requests"] == v["requests"] and
                    by_key[k]["input_tokens"] == v["input_tokens"] and
                    abs(by_key[k]["cost_usd"] - v["cost_usd"]) < 1e-9
                    for k, v in want_utc.items()),
                "llm_usage_daily values and day-start timestamps match the rows")

        # --- team split ([ingest] extra_tags = team) -----------------------
        ix.create_db("teams")
        tl = ['llm_usage,model=m,org=o,provider=p,source=openai,status=success,team=%s '
              'input_tokens=%di,total_tokens=%di,cost_source="unpriced",event_id="t%d" %d'
              % (team, n, n, n, 1787616000000000000 + n * 10**9)
              for n, team in enumerate(["red", "red", "blue", "blue", "blue"], 1)]
        tl.append(tl[0])  # a re-send: the same identity counts once
        ix.write("teams", tl)
        tpath = os.path.join(WORK, "teams.lp")
        with open(tpath, "w") as f:
            f.write("\n".join(tl) + "\n")
        team_set = ["--set", "ingest.extra_tags=team", "--day", "2026-08-25"]
        cfg_t1 = write_config("team1", ix.url)
        cfg_t2 = write_config("team2", ix.url)
        p1 = run(["aggregate", "--set", "influxdb.database=teams"] + team_set, cfg_t1)
        p2 = run(["aggregate", "--input", tpath] + team_set, cfg_t2)
        q = "SELECT team, requests, input_tokens FROM daily_usage ORDER BY team"
        t1 = sqlite3.connect(os.path.join(WORK, "team1.sqlite")).execute(q).fetchall()
        t2 = sqlite3.connect(os.path.join(WORK, "team2.sqlite")).execute(q).fetchall()
        R.check(p1.returncode == 0 and p2.returncode == 0 and
                t1 == [("blue", 3, 12), ("red", 2, 3)] and t1 == t2,
                "extra_tags=team: one row per team, both paths (%s / %s)" % (t1, t2))

        # --- dedup = tag: event_id is a tag, requests are still counted ----
        p = run(["execd", "--dedup", "tag", "--dead-letter", os.path.join(WORK, "dead.ndjson")],
                stdin="\n".join(lines) + "\n")
        ix.create_db("tagmode")
        ix.write("tagmode", p.stdout)
        tag_path = os.path.join(WORK, "tagmode.lp")
        with open(tag_path, "w") as f:
            f.write(p.stdout)
        cfg_tag = write_config("tagmode", ix.url)
        p1 = run(["aggregate", "--set", "influxdb.database=tagmode"] + span, cfg_tag)
        R.equal(p1.returncode, 0, "dedup=tag: aggregate exits 0 (%s)" % p1.stderr.strip()[-300:])
        same_rows(stored(os.path.join(WORK, "tagmode.sqlite"), "UTC"), want_utc,
                  "dedup=tag: rows (requests included) equal the independent sums")
        cfg_tag_in = write_config("tagmode-input", "http://127.0.0.1:9")
        p2 = run(["aggregate", "--input", tag_path] + span, cfg_tag_in)
        R.check(p2.returncode == 0 and stored(os.path.join(WORK, "tagmode-input.sqlite"), "UTC")
                == stored(os.path.join(WORK, "tagmode.sqlite"), "UTC"),
                "dedup=tag: --input rows are identical to the InfluxDB rows")

        # --- a request with no token or cost field still counts, both paths -
        ix.create_db("sparse")
        sl = ['llm_usage,model=m,org=o,provider=p,source=litellm,status=error '
              'cost_source="unpriced",event_id="f1" 1787616001000000000',
              'llm_usage,model=m,org=o,provider=p,source=litellm,status=success '
              'input_tokens=3i,total_tokens=3i,cost_source="unpriced",event_id="s1" '
              '1787616002000000000']
        ix.write("sparse", sl)
        spath = os.path.join(WORK, "sparse.lp")
        with open(spath, "w") as f:
            f.write("\n".join(sl) + "\n")
        day = ["--day", "2026-08-25"]
        cfg_s1 = write_config("sparse1", ix.url)
        cfg_s2 = write_config("sparse2", "http://127.0.0.1:9")
        p1 = run(["aggregate", "--set", "influxdb.database=sparse"] + day, cfg_s1)
        p2 = run(["aggregate", "--input", spath] + day, cfg_s2)
        q = "SELECT requests, successful, failed, unpriced_requests, input_tokens FROM daily_usage"
        s1 = sqlite3.connect(os.path.join(WORK, "sparse1.sqlite")).execute(q).fetchall()
        s2 = sqlite3.connect(os.path.join(WORK, "sparse2.sqlite")).execute(q).fetchall()
        R.check(p1.returncode == 0 and p2.returncode == 0 and s1 == [(2, 1, 1, 2, 3)] and s1 == s2,
                "a failure without token fields counts as a request on both paths (%s / %s)"
                % (s1, s2))

        # --- a statement error inside HTTP 200 ----------------------------
        before = stored(db, "UTC")
        p = run(["aggregate", "--set", "influxdb.database=no_such_db"] + span, cfg)
        R.equal(p.returncode, 69, "a statement error (database not found) exits 69")
        R.check("database not found" in p.stderr, "and says what InfluxDB said (%s)" % p.stderr.strip())

        # --- the run lock ---------------------------------------------------
        with open(db + ".lock", "a+") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            p = run(["aggregate", "--lock-wait", "1"] + span, cfg)
            fcntl.flock(lf, fcntl.LOCK_UN)
        R.equal(p.returncode, 75, "a concurrent run waits, then exits 75")
        R.check("another aggregate run" in p.stderr, "with a clear message")

        # --- malformed --input line: 65, nothing stored --------------------
        bad = os.path.join(WORK, "bad.lp")
        with open(bad, "w") as f:
            f.write(lp.splitlines()[0] + "\nllm_usage,org=x input_tokens=\n")
        p = run(["aggregate", "--input", bad] + span, cfg)
        R.equal(p.returncode, 65, "a malformed --input line exits 65")
        R.check("bad.lp:2" in p.stderr, "naming file and line")
        R.check(stored(db, "UTC") == before, "and the stored rows are unchanged")

        # --- report ---------------------------------------------------------
        p = run(["report", "--org", "org_acme", "--format", "json"] + span, cfg)
        doc = json.loads(p.stdout)
        acme = [v for k, v in want_utc.items() if k[1] == "org_acme"]
        R.check(p.returncode == 0 and len(doc["rows"]) == len(acme) and
                doc["totals"]["requests"] == sum(v["requests"] for v in acme) and
                doc["totals"]["total_tokens"] == sum(v["total_tokens"] for v in acme),
                "report --org --format json: rows and totals")
        p = run(["report", "--format", "csv", "--day", "2026-08-21"], cfg)
        csv_lines = p.stdout.strip().split("\n")
        n21 = sum(1 for k in want_utc if k[0] == "2026-08-21")
        R.check(p.returncode == 0 and csv_lines[0].startswith("day,org,model,provider,requests")
                and len(csv_lines) == n21 + 2 and csv_lines[-1].startswith("total,"),
                "report --format csv: header, one line per row, totals")
        p = run(["report"] + span, cfg)
        R.check(p.returncode == 0 and p.stdout.splitlines()[-1].split()[1] ==
                str(sum(v["requests"] for v in want_utc.values())),
                "report table ends with the total requests")
        p = run(["report", "--sqlite", os.path.join(WORK, "none.sqlite")], cfg)
        R.equal(p.returncode, 66, "report without a store exits 66")
        R.check(not os.path.exists(os.path.join(WORK, "none.sqlite")), "and does not create one")

        # --- aggregate never erases history --------------------------------
        # A wrong database (or expired raw points) finds nothing: the stored
        # rows stay, the refusal is recorded; --force replaces them and
        # --restore puts each day back.
        ix.create_db("empty")
        before = stored(db, "UTC")
        p = run(["aggregate", "--set", "influxdb.database=empty"] + span, cfg)
        R.equal(p.returncode, 65, "aggregate that finds nothing for stored days exits 65")
        R.check("the store holds" in p.stderr and "--force" in p.stderr,
                "and says why (%s)" % p.stderr.strip()[-300:])
        R.check(stored(db, "UTC") == before, "the stored rows are kept")
        R.check("the store holds" in audits(db)[-1][1], "the refusal is in the audit table")
        p = run(["aggregate", "--force", "--set", "influxdb.database=empty"] + span, cfg)
        R.equal(p.returncode, 0, "--force replaces them (%s)" % p.stderr.strip()[-300:])
        R.equal(stored(db, "UTC"), {}, "with nothing")
        for day in ["2026-08-20", "2026-08-21", "2026-08-22", "2026-08-23", "2026-08-24"]:
            p = run(["aggregate", "--restore", day], cfg)
            R.equal(p.returncode, 0, "aggregate --restore %s exits 0 (%s)"
                    % (day, p.stderr.strip()[-200:]))
        R.check(stored(db, "UTC") == before, "--restore put every day back as it was")
        R.equal(audits(db)[-1][0], "restore", "restores are in the audit table")
        p = run(["aggregate", "--restore", "2026-01-01"], cfg)
        R.equal(p.returncode, 65, "--restore of a day without history exits 65")

        # --- retention apply / check on the real server --------------------
        p = run(["retention", "check", "--days", "7"], cfg)
        R.equal(p.returncode, 78, "retention check differs before apply (exit 78)")
        # The database's default policy keeps everything: cutting it to 7
        # days would delete the older points at once.
        p = run(["retention", "plan", "--days", "7"], cfg)
        R.check(p.returncode == 0 and "keeps forever" in p.stdout and "needs --force" in p.stdout
                and "ALTER RETENTION POLICY" in p.stdout, "retention plan shows current, "
                "intended, the statement and that it needs --force (%s)" % p.stdout)
        p = run(["retention", "apply", "--days", "7"], cfg)
        R.equal(p.returncode, 65, "retention apply refuses to shorten it without --force")
        rps = ix.rows('SHOW RETENTION POLICIES ON "telegraf"', None)
        R.check(any(r["name"] == "autogen" and r["duration"] == "0s" for r in rps),
                "the default policy is unchanged")
        p = run(["retention", "apply", "--dry-run", "--force", "--days", "7"], cfg)
        R.equal(p.returncode, 0, "retention apply --dry-run exits 0")
        rps = ix.rows('SHOW RETENTION POLICIES ON "telegraf"', None)
        R.check(any(r["name"] == "autogen" and r["duration"] == "0s" for r in rps),
                "and changes nothing")
        p = run(["retention", "apply", "--force", "--days", "7"], cfg)
        R.equal(p.returncode, 0, "retention apply --force exits 0 (%s)" % p.stderr.strip())
        rps = ix.rows('SHOW RETENTION POLICIES ON "telegraf"', None)
        R.check(any(r["name"] == "autogen" and r["duration"] == "168h0m0s" for r in rps),
                "the default policy now keeps 168h0m0s")
        # Days older than the policy keeps are refused: their points expire.
        p = run(["aggregate"] + span, cfg)
        R.equal(p.returncode, 65, "aggregate of days beyond the retention window exits 65")
        R.check("beyond the retention window" in p.stderr, "with a clear message (%s)"
                % p.stderr.strip()[-300:])
        R.check(stored(db, "UTC") == before, "and the stored rows are kept")
        p = run(["retention", "check", "--days", "7"], cfg)
        R.equal(p.returncode, 0, "retention check is satisfied after apply")
        # A named policy that does not exist yet, on a database with an
        # awkward name: created, every identifier quoted.
        odd = write_config("odd", ix.url, 'retention_policy = tm rp\n')
        with open(odd) as f:
            text = f.read().replace("database = telegraf", 'database = we"ird db')
        with open(odd, "w") as f:
            f.write(text)
        p = run(["retention", "apply", "--days", "1"], odd)
        R.equal(p.returncode, 0, "retention apply creates database and policy (%s)"
                % p.stderr.strip())
        rps = ix.rows('SHOW RETENTION POLICIES ON "we\\"ird db"', None)
        R.check(any(r["name"] == "tm rp" and r["duration"] == "24h0m0s" for r in rps),
                "policy \"tm rp\" on 'we\"ird db' keeps 24h")

        # --- check: healthy and broken -------------------------------------
        p = run(["check", "--set", "influxdb.retention_days=7"], cfg)
        out = p.stdout
        print(out, end="")
        R.equal(p.returncode, 0, "check on a healthy setup exits 0")
        for probe in ["config", "reachable", "version", "auth", "database", "retention",
                      "write", "query", "store"]:
            R.check(("ok   %s:" % probe) in out, "check: %s ok" % probe)
        R.check("info unpriced models: " in out and "gpt-4o-mini" in out,
                "check lists the unpriced models seen recently")
        R.check('ok   newest point: "llm_usage" at ' in out, "check shows the newest point's age")
        R.check("info last aggregated: 2026-08-24 (UTC)" in out,
                "check shows the store's last aggregated day")
        # Telegraf's routing against where tokenmeter reads
        frag = os.path.join(WORK, "tokenmeter-telegraf.conf")
        with open(frag, "w") as f:
            f.write('[[outputs.influxdb]]\n  urls = ["%s"]\n  database = "telegraf"\n'
                    '  namepass = ["llm_usage", "tokenmeter_stats"]\n' % ix.url)
        p = run(["check", "--telegraf-config", frag, "--set", "influxdb.retention_days=7"], cfg)
        R.check(p.returncode == 0 and 'ok   routing: Telegraf writes "llm_usage" to "telegraf"'
                in p.stdout, "check: routing ok when Telegraf writes where tokenmeter reads")
        p = run(["check", "--telegraf-config", frag, "--set", "influxdb.database=tokenmeter",
                 "--config-only"], cfg)
        R.check(p.returncode == 78 and "FAIL routing:" in p.stdout and "reachable" not in p.stdout,
                "check --config-only: Telegraf writing elsewhere is a failure (78), no server "
                "probed (%s)" % p.stdout)
        p = run(["check", "--set", "influxdb.database=missing"], cfg)
        print(p.stdout, end="")
        R.check(p.returncode != 0 and 'FAIL database: "missing" not found' in p.stdout,
                "check reports a missing database and exits non-zero")
        # the server goes away: 75 and the rows are untouched
        ix.stop()
        p = run(["aggregate"] + span, cfg)
        R.equal(p.returncode, 75, "InfluxDB stopped: aggregate exits 75")
        R.check(stored(db, "UTC") == before, "and the stored rows are untouched")
        R.check(audits(db)[-1][1] != "ok", "the failed run is in the audit table")
        p = run(["check"], cfg)
        print(p.stdout, end="")
        R.check(p.returncode == 75 and "FAIL reachable:" in p.stdout,
                "check on a stopped server: FAIL reachable, exit 75")

    # --- a listener that never answers: the timeout holds -----------------
    lst = never_answering_listener()
    try:
        url = "http://127.0.0.1:%d" % lst.getsockname()[1]
        cfg_t = write_config("timeout", url)
        p = run(["aggregate", "--set", "influxdb.timeout=2"] + span, cfg_t, timeout=60)
        R.equal(p.returncode, 75, "no answer within the timeout: exit 75")
        R.check("Timeout" in p.stderr or "timed out" in p.stderr,
                "the message says it timed out (%s)" % p.stderr.strip().splitlines()[-1:])
        R.equal(p.stderr.count("retrying"), 2, "two retries before giving up")
    finally:
        lst.close()

    # --- wrong credentials -----------------------------------------------
    with tmlib.Influx(auth=True) as ix:
        ix.create_db("telegraf")
        ix.write("telegraf", lp)
        cfg_a = write_config("auth", ix.url, "username = %s\npassword = wrong-pass\n" % ix.user)
        p = run(["aggregate"] + span, cfg_a)
        R.equal(p.returncode, 77, "wrong credentials exit 77")
        R.check("401" in p.stderr and "authorization failed" in p.stderr,
                "with InfluxDB's reason (%s)" % p.stderr.strip()[-200:])
        R.check("wrong-pass" not in p.stderr, "and the password is not in the message")
        cfg_a = write_config("auth", ix.url, "username = %s\npassword = %s\n"
                             % (ix.user, ix.password))
        p = run(["aggregate"] + span, cfg_a)
        R.equal(p.returncode, 0, "the right credentials work (Basic auth)")
        same_rows(stored(os.path.join(WORK, "auth.sqlite"), "UTC"), want_utc,
                  "rows through an authenticated server")
        p = run(["--log-level", "debug", "check"], cfg_a)
        R.check(ix.password not in p.stdout + p.stderr, "check never prints the password")


try:
    main()
finally:
    import shutil
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(R.finish())
