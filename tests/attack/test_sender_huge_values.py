#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a sender reports a cost of 1e308 (two of them make InfluxDB's
sum() +Inf and break every daily summary), or token counts near 2^63 (a
day's sum wraps). Such events are dead-lettered with the reason, ordinary
ones pass, and no output (line protocol, report json/csv/table) ever holds a
number that is not finite."""
import json
import math
import os
import re
import sys

from sender_util import NO_CONFIG, Results, execd, points, run, scratch


def litellm(ident, **kw):
    body = {"id": ident, "call_type": "acompletion", "status": "success", "model": "gpt-4o",
            "prompt_tokens": 3, "completion_tokens": 1, "response_cost": 0.5,
            "startTime": 1787666591.5, "metadata": {"user_api_key_org_id": "org_a"}}
    body.update(kw)
    return body


BAD = [
    ("cost 1e308", litellm("c1", response_cost=1e308), "cost_usd"),
    ("cost 1.7e308", litellm("c2", response_cost=1.7e308), "cost_usd"),
    ("cost above the per-request maximum", litellm("c3", response_cost=100001), "cost_usd"),
    ("negative cost", litellm("c4", response_cost=-5), "cost_usd"),
    ("cost as a huge string", litellm("c5", response_cost="1e308"), "cost_usd"),
    ("prompt tokens 2^62", litellm("t1", prompt_tokens=2 ** 62), "input_tokens"),
    ("completion tokens above the maximum", litellm("t2", completion_tokens=100000001),
     "output_tokens"),
]
GOOD = [
    ("ordinary", litellm("g1")),
    ("at the limits", litellm("g2", prompt_tokens=100000000, completion_tokens=100000000,
                              response_cost=100000)),
]


def finite_numbers(text):
    bad = re.findall(r"(?i)(?<![a-z_])(inf(inity)?|nan)(?![a-z_])", text)
    return not bad


def main():
    r = Results("test_sender_huge_values")
    with scratch() as tmp:
        lines = [json.dumps(b) for _, b, _ in BAD] + [json.dumps(b) for _, b in GOOD]
        # twice the 1e308 event under another id: the sum of the two is +Inf
        lines.append(json.dumps(litellm("c1b", response_cost=1e308)))
        p, _, _ = execd(tmp, ("\n".join(lines) + "\n").encode())
        pts = points(p.stdout)
        r.check("only the good events are written", len(pts) == len(GOOD), pts)
        for l in pts:
            for f in re.findall(r"[a-z_]+=(-?[0-9.e+]+)i?", l):
                r.check("written value %s is finite and bounded" % f,
                        math.isfinite(float(f)) and abs(float(f)) <= 2e8)
        with open(os.path.join(tmp, "dead-letter.ndjson")) as f:
            recs = [json.loads(l) for l in f]
        r.check("every bad event is dead-lettered", len(recs) == len(BAD) + 1, len(recs))
        for (what, body, field), rec in zip(BAD, recs):
            r.check("%s: rejected naming %s" % (what, field), field in rec["reason"],
                    rec["reason"])
            r.check("%s: body kept for replay" % what, json.loads(rec["raw"])["id"] == body["id"])

        # A line-protocol file can carry anything (a store written before
        # the limits): two finite costs whose sum is not finite.
        lp = os.path.join(tmp, "points.lp")
        with open(lp, "wb") as f:
            f.write(b"llm_usage,model=m,org=evil,provider=p,source=s,status=success "
                    b"input_tokens=1i,output_tokens=1i,total_tokens=2i,cost_usd=1.7e308,"
                    b"cost_source=\"reported\",event_id=\"e1\" 1787666591000000000\n")
            f.write(b"llm_usage,model=m,org=evil,provider=p,source=s,status=success "
                    b"input_tokens=1i,output_tokens=1i,total_tokens=2i,cost_usd=1.7e308,"
                    b"cost_source=\"reported\",event_id=\"e2\" 1787666592000000000\n")
        store = os.path.join(tmp, "store.sqlite")
        run(["aggregate"] + NO_CONFIG + ["--input", lp, "--sqlite", store, "--tz", "UTC",
                                         "--day", "2026-08-25", "--no-write-influx"])
        for fmt in ("json", "csv", "table"):
            p, _, _ = run(["report"] + NO_CONFIG + ["--sqlite", store, "--tz", "UTC",
                                                    "--format", fmt])
            out = p.stdout.decode()
            r.check("report --format %s has only finite numbers" % fmt,
                    finite_numbers(out), out[-400:])
            if fmt == "json":
                try:
                    json.loads(out, parse_constant=lambda c: 1 / 0)
                    r.check("report json is valid JSON", True)
                except Exception as e:  # noqa: BLE001
                    r.check("report json is valid JSON", False, str(e))
    return r.done()


if __name__ == "__main__":
    sys.exit(main())
