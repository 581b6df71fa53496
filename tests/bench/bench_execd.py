#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Throughput of `tokenmeter execd` against peers run side by side.

The peers, on the same input in the same run:

  python   what tokenmeter replaces: a small Python ingester (stdlib json)
           that does the same per-event work for the same shapes: parse,
           pick the usage fields, apply the cache rules, escape, format a
           line. It is written to be fair (no validation, no dead letters, no
           dedup cache), so the ratio is a floor on tokenmeter's advantage;
  jansson  a C loop that only parses each line with jansson and frees it
           (jansson_parse.c): the cost of a mainstream parser alone.

Two inputs (stream.py): LiteLLM-heavy gateway traffic of 4-8 KB bodies
(BENCH_EVENTS / 10 events) and the short mixed stream (BENCH_EVENTS). Each
program reads the NDJSON file and writes to /dev/null, five times (RUNS); each
program's best run counts. Five, not three, and the programs take turns
(round after round, each runs once) rather than running their five in a row:
on a small shared machine (two cores, other jobs) a busy stretch would
otherwise fall on one program's runs and set the ratios. Reported: events/s,
MB/s and the ratios (peer's time over tokenmeter's; peak RSS is
bench_rss.py's). Nothing here passes or fails on time.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stream  # noqa: E402

N = int(os.environ.get("BENCH_EVENTS", "200000"))
RUNS = 5  # per tool and input; the best counts (see above)

PEER = r'''
import json, sys
def esc_tag(s):
    s = str(s or "unknown")
    for a, b in (("\\", ""), ("\n", "\\n"), (",", "\\,"), ("=", "\\="), (" ", "\\ ")):
        s = s.replace(a, b)
    return s or "unknown"
def esc_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\\\n") + '"'
out = sys.stdout
for line in sys.stdin:
    if not line.strip():
        continue
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if "call_type" in d:
        src, u = "litellm", d["metadata"].get("usage_object") or {}
        inp, outp = d["prompt_tokens"], d["completion_tokens"]
        cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
        org, model, prov, eid = d["metadata"].get("user_api_key_org_id"), d["model"], d.get("custom_llm_provider"), d["id"]
        ts = int(d["startTime"] * 1e9)
    elif d.get("object") == "chat.completion":
        src, u = "openai", d["usage"]
        inp, outp = u["prompt_tokens"], u["completion_tokens"]
        cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
        org, model, prov, eid, ts = None, d["model"], "openai", d["id"], d["created"] * 10**9
    elif "data" in d:
        g = d["data"]; src = "openrouter"
        inp, outp, cached = g["native_tokens_prompt"], g["native_tokens_completion"], g.get("native_tokens_cached")
        org, model, prov, eid, ts = g.get("workspace_id"), g["model"], g.get("provider_name"), g["id"], 0
    else:
        src, u = "anthropic", d["usage"]
        cached = u.get("cache_read_input_tokens") or 0
        inp, outp = u["input_tokens"] + cached + (u.get("cache_creation_input_tokens") or 0), u["output_tokens"]
        org, model, prov, eid, ts = None, d["model"], "anthropic", d["id"], 0
    f = ["input_tokens=%di" % inp]
    if cached is not None:
        f.append("cached_input_tokens=%di" % cached)
    f += ["output_tokens=%di" % outp, "total_tokens=%di" % (inp + outp), "event_id=" + esc_str(eid)]
    out.write("llm_usage,model=%s,org=%s,provider=%s,source=%s,status=success %s %d\n"
              % (esc_tag(model), esc_tag(org), esc_tag((prov or "").lower()), src, ",".join(f), ts))
'''


def run_once(cmd, inp):
    """Wall time of one run."""
    with open(inp, "rb") as fi, open(os.devnull, "wb") as fo:
        t = time.perf_counter()
        p = subprocess.run(cmd, stdin=fi, stdout=fo, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit("%s exited %d" % (cmd[0], p.returncode))
    return dt


def run(cmds, inp):
    """Best wall time of each command over RUNS rounds, each round running
    every command once in turn."""
    best = [None] * len(cmds)
    for _ in range(RUNS):
        for i, cmd in enumerate(cmds):
            dt = run_once(cmd, inp)
            best[i] = dt if best[i] is None else min(best[i], dt)
    return best


def main():
    binary = os.environ.get("TOKENMETER") or sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        peer = os.path.join(tmp, "peer.py")
        with open(peer, "w") as f:
            f.write(PEER)
        jansson = stream.build(tmp, "jansson_parse", ["jansson"])
        for shape, n in (("litellm", max(N // 10, 1)), ("mixed", N)):
            inp = os.path.join(tmp, shape + ".ndjson")
            stream.write(inp, shape, n)
            size = os.path.getsize(inp) / 1e6
            t_tm, t_py, t_js = run([[binary, "execd", "--dead-letter", os.path.join(tmp, "dl"),
                                     "--receive-time", "2026-08-25T00:00:00Z"],
                                    [sys.executable, peer], [jansson]], inp)
            print("%s: %d events, %.1f MB of NDJSON" % (shape, n, size))
            for name, t in (("tokenmeter execd", t_tm), ("python peer", t_py),
                            ("jansson parse-only", t_js)):
                print("  %-18s: %8.0f events/s  %6.1f MB/s  (best of %d: %.2f s)"
                      % (name, n / t, size / t, RUNS, t))
            print("  ratio: tokenmeter is %.1fx the python peer, %.1fx jansson parse-only"
                  % (t_py / t_tm, t_js / t_tm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
