#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""packaging/grafana/tokenmeter.json without Grafana.

1. The JSON has what Grafana's import needs: schemaVersion, uid, panels with
   an id, a type, a gridPos, an InfluxDB datasource taken from the
   `datasource` variable, and raw InfluxQL targets; the variables (datasource,
   org, model, provider, timezone).
2. Generated events (hostile org names included) are written as llm_usage
   points to a real InfluxDB 1.x; `tokenmeter aggregate --write-influx` turns
   them into llm_usage_daily; tokenmeter_stats points of two instances, one
   restarted, are written too.
3. Every panel's every query, with its variables, $timeFilter and $__interval
   substituted as Grafana does (multi-value variables as regex alternations of
   regex-escaped values; "All" as every value of the variable's own query),
   runs against that InfluxDB, for "All" and for a selection, and its series
   must hold the sums this test computes from the generator's facts. A panel
   without a check here fails the test.
"""
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

import tmlib

sys.path.insert(0, os.path.join(tmlib.ROOT, "tests", "browser"))
import usagegen  # noqa: E402

R = tmlib.Results("test_grafana_dashboard")
DASHBOARD = os.path.join(tmlib.ROOT, "packaging", "grafana", "tokenmeter.json")
ZONE = "America/New_York"
TZ = ZoneInfo(ZONE)
UTC = datetime.timezone.utc
START = datetime.datetime(2026, 11, 1, tzinfo=UTC)
RANGE = (datetime.datetime(2026, 11, 2, tzinfo=UTC), datetime.datetime(2026, 11, 7, 12, tzinfo=UTC))
DAYS = ("2026-11-02", "2026-11-07")  # the New York days whose first instant is in RANGE
INTERVAL = "1h"
HOSTS = {"h1": 3 * 86400 + 7 * 3600 + 1500, "h2": None}  # h1 restarts at that offset


def ms(dt):
    return int(dt.timestamp() * 1000)


# ---- Grafana's substitution (public/app/plugins/datasource/influxdb) --------

def escape_regex(v):
    return re.sub(r"[\\^$*+?.()|[\]{}/]", lambda m: "\\" + m.group(0), v)


def interpolate(query, var_defs, values, interval):
    q = query.replace("$timeFilter", "time >= %dms and time <= %dms" % (ms(RANGE[0]), ms(RANGE[1])))
    q = q.replace("$__interval", interval)

    def one(m):
        name = m.group(1)
        if name not in values:
            return m.group(0)
        v, d = values[name], var_defs[name]
        if not d.get("multi") and not d.get("includeAll"):
            return escape_regex(v)
        vals = [escape_regex(x) for x in v]
        return vals[0] if len(vals) == 1 else "(" + "|".join(vals) + ")"
    return re.sub(r"\$(\w+)", one, q)


# ---- structure ------------------------------------------------------------

def check_structure(dash):
    R.check(isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 27,
            "schemaVersion present (%r)" % dash.get("schemaVersion"))
    R.check(dash.get("uid") and dash.get("title"), "uid and title present")
    tvars = {v["name"]: v for v in dash["templating"]["list"]}
    ds = tvars.get("datasource", {})
    R.check(ds.get("type") == "datasource" and ds.get("query") == "influxdb",
            "the data source is a variable of type datasource, InfluxDB plugin")
    for name in ("org", "model", "provider"):
        v = tvars.get(name, {})
        R.check(v.get("type") == "query" and v.get("multi") and v.get("includeAll")
                and v.get("datasource", {}).get("uid") == "${datasource}"
                and "SHOW TAG VALUES" in v.get("query", ""),
                "variable %s: multi-value query of the chosen data source" % name)
    ids, bad = set(), []
    for p in dash["panels"]:
        g = p.get("gridPos", {})
        if p.get("id") in ids or not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24:
            bad.append(p.get("title"))
        ids.add(p.get("id"))
        if p["type"] == "row":
            continue
        if p.get("datasource") != {"type": "influxdb", "uid": "${datasource}"} or not p.get("targets"):
            bad.append(p.get("title"))
        for t in p.get("targets", []):
            if not (t.get("rawQuery") and t.get("query") and t.get("refId")
                    and t.get("datasource", {}).get("uid") == "${datasource}"):
                bad.append(p.get("title"))
    R.check(not bad, "every panel: unique id, gridPos, data source variable, raw InfluxQL %s" % bad)
    return tvars


# ---- data -----------------------------------------------------------------

def stats_points():
    """Cumulative counters every 10 min per host, and each point's increments."""
    lines, incs = [], []
    base = int(START.timestamp())
    for host, restart in HOSTS.items():
        cum = dict(written=0, rejected=0, duplicates=0, unpriced=0)
        for k in range(8 * 144):
            off = k * 600 + 37
            if restart is not None and off >= restart and off - 600 < restart:
                cum = {f: 0 for f in cum}  # the process restarted: counters from zero
            inc = dict(written=(k * 7) % 23 + 1, rejected=k % 3, duplicates=(k * 5) % 4,
                       unpriced=k % 2)
            for f in cum:
                cum[f] += inc[f]
            t = base + off
            lines.append("tokenmeter_stats,host=%s %s %d" % (
                host, ",".join("%s=%di" % (f, cum[f]) for f in sorted(cum)), t * 10**9))
            incs.append((host, t, inc, restart is not None and off - 600 < restart <= off))
    return lines, incs


def run_aggregate(influx, work):
    conf = os.path.join(work, "t.conf")
    with open(conf, "w") as f:
        f.write("[influxdb]\nurl = %s\ndatabase = telegraf\n[aggregate]\nsqlite = %s/s.sqlite\n"
                "timezone = %s\nwrite_influx = true\n" % (influx.url, work, ZONE))
    p = subprocess.run([tmlib.binary(), "-c", conf, "aggregate", "--from", "2026-10-31",
                        "--to", "2026-11-09"], capture_output=True, text=True, timeout=300)
    R.equal(p.returncode, 0, "aggregate --write-influx wrote llm_usage_daily (%s)"
            % p.stderr.strip()[-300:])


# ---- expectations ---------------------------------------------------------

class Expect:
    def __init__(self, facts, stats, sel):
        lo, hi = RANGE[0].timestamp(), RANGE[1].timestamp()
        keep = [f for f in facts if f["org"] in sel["org"] and f["model"] in sel["model"]
                and f["provider"] in sel["provider"]]
        self.raw = [f for f in keep if lo <= f["t"] + f["ns"] / 1e9 <= hi]
        self.daily = [f for f in keep if DAYS[0] <= usagegen.day_of(f, TZ) <= DAYS[1]]
        self.stats = stats

    @staticmethod
    def sums(facts, key, what):
        out = collections.defaultdict(float)
        for f in facts:
            if what == "cost" and f["cost"] is None:
                continue
            out[key(f)] += {"cost": lambda: f["cost"], "n": lambda: 1,
                            "failed": lambda: 0 if f["ok"] else 1,
                            "input": lambda: f["input"], "cached input": lambda: f["cached"],
                            "output": lambda: f["output"]}[what]()
        return dict(out)

    def health(self, fields):
        """Per (host, field): the increments of each hour bucket of the range
        without a restart. InfluxDB reads one interval before the range for
        a difference, so the first bucket has its value too (the data start
        a day before the range)."""
        lo, hi = RANGE[0].timestamp(), RANGE[1].timestamp()
        per = collections.defaultdict(lambda: collections.defaultdict(int))
        restarted = set()
        for host, t, inc, restart in self.stats:
            if lo <= t <= hi:
                b = int(t // 3600 * 3600)
                for f in fields:
                    per[(host, fields[f])][b] += inc[f]
                if restart:
                    restarted.add((host, b))
        return {(host, col): {b: v for b, v in buckets.items() if (host, b) not in restarted}
                for (host, col), buckets in per.items()}


def series(doc):
    """(tags, columns, rows) of each series of the first statement."""
    res = doc["results"][0]
    return [(s.get("tags") or {}, s["columns"], s["values"]) for s in res.get("series", [])]


def col_sum(ss, tag, col):
    out = collections.defaultdict(float)
    for tags, cols, rows in ss:
        i = cols.index(col)
        for r in rows:
            if r[i] is not None:
                out[tags.get(tag) if tag else None] += r[i]
    return dict(out)


def close(got, want, rel=1e-9):
    keys = set(k for k, v in got.items() if abs(v) > 1e-12) | set(
        k for k, v in want.items() if abs(v) > 1e-12)
    return all(abs(got.get(k, 0) - want.get(k, 0)) <= rel * max(1, abs(want.get(k, 0)))
               for k in keys)


def day_key(tags_key, ss, col):
    """Per (UTC date of the bucket, tag): sums. A New York day's first instant
    (04:00Z or 05:00Z) lies on the same UTC date, so 1d buckets hold one day each."""
    out = collections.defaultdict(float)
    for tags, cols, rows in ss:
        i = cols.index(col)
        for r in rows:
            if r[i] is not None:
                d = datetime.datetime.fromtimestamp(r[0] / 1e9, UTC).date().isoformat()
                out[(d, tags.get(tags_key)) if tags_key else d] += r[i]
    return dict(out)


def check_panel(title, ss, e):
    """The expectation of each panel by title; False when the panel is unknown."""
    raw, daily = e.raw, e.daily
    org, model = (lambda f: f["org"]), (lambda f: f["model"])
    nyday = (lambda f: usagegen.day_of(f, TZ))
    if title == "Cost":
        return close(col_sum(ss, None, "sum"), {None: sum(f["cost"] or 0 for f in raw)})
    if title == "Requests":
        return col_sum(ss, None, "count") == {None: len(raw)}
    if title == "Unpriced requests":
        n = sum(f["cost"] is None for f in raw)
        return col_sum(ss, None, "count") == ({None: n} if n else {})
    if title == "Error rate (daily summaries)":
        failed, n = sum(not f["ok"] for f in daily), len(daily)
        return close(col_sum(ss, None, "sum_sum"), {None: failed / n})
    if title in ("Cost per organization", "Cost per model"):
        tag, key = ("org", org) if "organization" in title else ("model", model)
        return close(col_sum(ss, tag, "sum"), Expect.sums(raw, key, "cost"))
    if title in ("Tokens per organization", "Tokens per model"):
        tag, key = ("org", org) if "organization" in title else ("model", model)
        return all(close(col_sum(ss, tag, c), Expect.sums(raw, key, c))
                   for c in ("input", "cached input", "output"))
    if title == "Requests by status":
        return col_sum(ss, "status", "count") == Expect.sums(
            raw, lambda f: "success" if f["ok"] else "error", "n")
    if title == "Top models by cost":
        got = {}
        for _tags, cols, rows in ss:
            for r in rows:
                got[r[cols.index("model")]] = r[cols.index("cost")]
        want = Expect.sums(raw, model, "cost")
        top = dict(sorted(want.items(), key=lambda kv: -kv[1])[:10])
        return close(got, top) and len(got) == len(top)
    if title == "Unpriced models":
        got = {(t["model"], t["provider"]): rows[0][cols.index("unpriced requests")]
               for t, cols, rows in ss}
        want = Expect.sums([f for f in raw if f["cost"] is None],
                           lambda f: (f["model"], f["provider"]), "n")
        return got == want
    if title in ("Daily cost per organization", "Daily cost per model"):
        tag, key = ("org", org) if "organization" in title else ("model", model)
        return close(day_key(tag, ss, "sum"),
                     Expect.sums(daily, lambda f: (nyday(f), key(f)), "cost"))
    if title == "Daily error rate":
        n = Expect.sums(daily, nyday, "n")
        failed = Expect.sums(daily, nyday, "failed")
        return close(day_key(None, ss, "sum_sum"), {d: failed.get(d, 0) / n[d] for d in n})
    if title == "Daily tokens":
        return all(close(day_key(None, ss, c), Expect.sums(daily, nyday, c))
                   for c in ("input", "cached input", "output"))
    if title.startswith("tokenmeter: "):
        fields = {"written": "written"} if title.endswith("written") else {
            "rejected": "dead-lettered", "duplicates": "duplicates", "unpriced": "unpriced"}
        want = e.health(fields)
        got = {}
        for tags, cols, rows in ss:
            for f, col in fields.items():
                i = cols.index(col)
                got[(tags.get("host"), col)] = {r[0] // 10**9: r[i] for r in rows
                                                if r[i] is not None}
        return got == want and all(want.values())
    return None


def main():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    tvars = check_structure(dash)
    work = tempfile.mkdtemp(prefix="tm-grafana-")
    facts = usagegen.facts(7, START, 8, 3000)
    stat_lines, stats = stats_points()
    with tmlib.Influx() as influx:
        influx.create_db("telegraf")
        influx.write("telegraf", [usagegen.line(f) for f in facts] + stat_lines)
        run_aggregate(influx, work)

        # the variables' own queries give their values ("All")
        every = {}
        for name, v in tvars.items():
            if v["type"] == "query":
                rows = influx.rows(v["query"], db="telegraf")
                every[name] = sorted(r["value"] for r in rows)
        R.equal(set(every["org"]), set(usagegen.ORGS),
                "variable org lists every org, hostile names intact")
        R.equal(every["timezone"], [ZONE], "variable timezone lists the zone of the summaries")
        sel_all = {"org": every["org"], "model": every["model"], "provider": every["provider"]}
        sel_some = {"org": ["</svg><b>\"x'&"], "model": ["gpt-4o-mini", "o4-mini", "house-model"],
                    "provider": every["provider"]}
        for label, sel in (("All", sel_all), ("one org, three models", sel_some)):
            values = dict(sel, timezone=every["timezone"][0])
            e = Expect(facts, stats, {k: set(v) for k, v in sel.items()})
            for p in dash["panels"]:
                if p["type"] == "row":
                    continue
                interval = p.get("interval", INTERVAL)
                for t in p["targets"]:
                    q = interpolate(t["query"], tvars, values, interval)
                    try:
                        ss = series(influx.query(q, db="telegraf"))
                    except RuntimeError as err:
                        R.check(False, "%s / %s: %s" % (label, p["title"], err))
                        continue
                    ok = check_panel(p["title"], ss, e)
                    R.check(ok is not None, "%s: the test knows this panel" % p["title"])
                    R.check(ok is not False and ss,
                            "%s / %s: the query's sums match the facts" % (label, p["title"]))
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
