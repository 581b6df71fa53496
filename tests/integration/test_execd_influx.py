#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""execd output into a real InfluxDB: identity deduplicates, nothing is lost.

A generated stream of 20 000 distinct events from six source shapes, plus
10 % re-sent duplicates (some byte-identical, some re-serialized with other
key order and spacing), goes through `tokenmeter execd` twice:

  1. with the in-process cache disabled (--dedup-cache 0), so every re-send
     reaches InfluxDB and only the point identity (timestamp mode) can
     collapse it;
  2. with the default cache, which must drop the re-sends itself.

Each output is written to its own database on a real influxd (every batch
must get 204: no partial write), and /query must show exactly the distinct
events, with per-org counts and token and cost sums equal to those computed
here from the generated input.
"""
import datetime
import json
import random
import subprocess
import sys
import os
import tempfile

import tmlib

ORGS = ["org_acme", "org_globex", "org_initech", "org_umbrella", "org_hooli"]
MODELS = ["gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-flash", "o4-mini", "llama-3-70b"]
T0 = 1787616000  # 2026-08-25T00:00:00Z


def iso(t, fmt):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(fmt)


def make_event(i, rnd):
    """One webhook body and what it must count as: (body, org, in, out, cost)."""
    org = rnd.choice(ORGS)
    model = rnd.choice(MODELS)
    cached = rnd.randint(0, 500)
    inp = cached + rnd.randint(1, 5000)
    reasoning = rnd.randint(0, 50)
    out = reasoning + rnd.randint(1, 2000)
    t = T0 + rnd.randint(0, 3 * 86400)
    kind = i % 6
    cost = None
    if kind == 0:  # OpenAI chat, org through an envelope
        body = {"tokenmeter": 1, "org": org, "body": {
            "id": "chatcmpl-%d" % i, "object": "chat.completion", "created": t, "model": model,
            "choices": [{"finish_reason": "stop"}],
            "usage": {"prompt_tokens": inp, "completion_tokens": out,
                      "prompt_tokens_details": {"cached_tokens": cached},
                      "completion_tokens_details": {"reasoning_tokens": reasoning}}}}
    elif kind == 1:  # LiteLLM with a reported cost
        cost = round(rnd.uniform(0, 0.05), 7)
        body = {"id": "litellm-%d" % i, "call_type": "acompletion", "status": "success",
                "custom_llm_provider": "openai", "model": model, "prompt_tokens": inp,
                "completion_tokens": out, "response_cost": cost, "startTime": t + 0.25,
                "endTime": t + 1.5, "metadata": {"user_api_key_org_id": org, "usage_object": {
                    "prompt_tokens_details": {"cached_tokens": cached}}}}
    elif kind == 2:  # OpenRouter generation stats, org = workspace
        cost = round(rnd.uniform(0, 0.05), 7)
        body = {"data": {"id": "gen-%d" % i, "total_cost": cost, "model": model,
                         "created_at": iso(t, "%Y-%m-%dT%H:%M:%S.123+00:00"),
                         "provider_name": "OpenAI", "workspace_id": org,
                         "native_tokens_prompt": inp, "native_tokens_completion": out,
                         "native_tokens_cached": cached, "native_tokens_reasoning": reasoning}}
    elif kind == 3:  # OpenAI Responses, org from metadata
        body = {"id": "resp_%d" % i, "object": "response", "created_at": t,
                "status": "completed", "model": model, "metadata": {"org_id": org},
                "usage": {"input_tokens": inp, "output_tokens": out,
                          "input_tokens_details": {"cached_tokens": cached},
                          "output_tokens_details": {"reasoning_tokens": reasoning}}}
    elif kind == 4:  # Anthropic in an envelope: input excludes the cache
        body = {"tokenmeter": 1, "org": org, "body": {
            "id": "msg_%d" % i, "type": "message", "model": model,
            "usage": {"input_tokens": inp - cached, "cache_read_input_tokens": cached,
                      "output_tokens": out}}}
    else:  # Gemini (Vertex, with createTime): thoughts outside candidates
        body = {"tokenmeter": 1, "org": org, "body": {
            "responseId": "gem-%d" % i, "modelVersion": model,
            "createTime": iso(t, "%Y-%m-%dT%H:%M:%SZ"),
            "usageMetadata": {"promptTokenCount": inp, "cachedContentTokenCount": cached,
                              "candidatesTokenCount": out - reasoning,
                              "thoughtsTokenCount": reasoning}}}
    return body, org, inp, out, cost


def reserialize(body, rnd):
    """The same event with another key order and spacing."""
    def shuffle(o):
        if isinstance(o, dict):
            items = list(o.items())
            rnd.shuffle(items)
            return {k: shuffle(v) for k, v in items}
        if isinstance(o, list):
            return [shuffle(v) for v in o]
        return o
    return json.dumps(shuffle(body), indent=None, separators=(", ", " : "))


def main():
    res = tmlib.Results("test_execd_influx")
    rnd = random.Random(20261128)
    n = 20000
    events = [make_event(i, rnd) for i in range(n)]
    lines = [json.dumps(e[0], separators=(",", ":")) for e in events]
    resend = rnd.sample(range(n), n // 10)
    stream = list(lines)
    for k, i in enumerate(resend):
        stream.insert(rnd.randrange(len(stream) + 1),
                      lines[i] if k % 2 else reserialize(events[i][0], rnd))
    want = {}
    for _, org, inp, out, cost in events:
        w = want.setdefault(org, {"count": 0, "in": 0, "out": 0, "cost": 0.0})
        w["count"] += 1
        w["in"] += inp
        w["out"] += out
        w["cost"] += cost or 0.0

    with tempfile.TemporaryDirectory() as tmp, tmlib.Influx() as influx:
        inp_path = os.path.join(tmp, "stream.ndjson")
        with open(inp_path, "w") as f:
            f.write("\n".join(stream) + "\n")
        for db, extra in (("nocache", ["--dedup-cache", "0"]), ("cache", [])):
            dl = os.path.join(tmp, db + "-dl.ndjson")
            p = subprocess.run([tmlib.binary(), "-c", tmlib.no_config(), "execd",
                                "--dead-letter", dl,
                                "--receive-time", "2026-08-26T00:00:00Z"] + extra + [inp_path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            res.equal(p.returncode, 0, "%s: execd exits 0" % db)
            out_lines = p.stdout.decode().splitlines()
            dups = len(stream) - n
            res.equal(len(out_lines), n + dups if db == "nocache" else n,
                      "%s: points written by execd" % db)
            res.check(not os.path.exists(dl) or os.path.getsize(dl) == 0,
                      "%s: nothing dead-lettered" % db)
            influx.create_db(db)
            try:
                influx.write(db, out_lines)  # raises unless every batch gets 204
                res.check(True, "%s: InfluxDB accepted every line (204, no partial write)" % db)
            except RuntimeError as e:
                res.check(False, "%s: write failed: %s" % (db, e))
                continue
            rows = influx.rows('SELECT count("event_id") AS n, sum("input_tokens") AS i, '
                               'sum("output_tokens") AS o, sum("total_tokens") AS t, '
                               'sum("cost_usd") AS c FROM "llm_usage" GROUP BY "org"', db)
            got = {r["org"]: r for r in rows}
            res.equal(sum(r["n"] for r in rows), n,
                      "%s: points in InfluxDB = distinct events (%d)" % (db, n))
            res.equal(sorted(got), sorted(want), "%s: the same orgs" % db)
            for org in sorted(want):
                w, g = want[org], got.get(org, {})
                res.equal(g.get("n"), w["count"], "%s: %s event count" % (db, org))
                res.equal((g.get("i"), g.get("o"), g.get("t")),
                          (w["in"], w["out"], w["in"] + w["out"]),
                          "%s: %s input/output/total token sums" % (db, org))
                res.check(abs((g.get("c") or 0.0) - w["cost"]) <= 1e-9 * max(1.0, w["cost"]),
                          "%s: %s cost sum %.7f" % (db, org, w["cost"]))
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
