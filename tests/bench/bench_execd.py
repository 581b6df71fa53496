#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Throughput of `tokenmeter execd` against a peer run side by side.

The peer is what tokenmeter replaces: a small Python ingester (stdlib json)
that does the same per-event work for the same shapes — parse, pick the
usage fields, apply the cache rules, escape, format a line. It is written to
be fair (no validation, no dead letters, no dedup cache), so the ratio is a
floor on tokenmeter's advantage, not a flattering number.

Both read the same generated NDJSON file (mixed LiteLLM, OpenAI, OpenRouter
and Anthropic bodies with realistic padding) and write to /dev/null; each is
run three times and the best run counts. Reported: events/s, MB/s, peak RSS,
and the ratio. Nothing here passes or fails on time.
"""
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("BENCH_EVENTS", "200000"))

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


def gen(path):
    rnd = random.Random(7)
    pad = "lorem ipsum " * 40
    with open(path, "w") as f:
        for i in range(N):
            k = i % 4
            inp, out, cached = rnd.randint(100, 9000), rnd.randint(10, 900), rnd.randint(0, 90)
            if k == 0:
                d = {"id": "c%d" % i, "call_type": "acompletion", "status": "success",
                     "custom_llm_provider": "openai", "model": "gpt-4o-mini",
                     "prompt_tokens": inp, "completion_tokens": out, "response_cost": 0.001,
                     "startTime": 1787666591.5 + i, "endTime": 1787666592.5 + i,
                     "messages": [{"role": "user", "content": pad}],
                     "metadata": {"user_api_key_org_id": "org_%d" % (i % 50),
                                  "user_api_key_alias": "key", "usage_object": {
                                      "prompt_tokens_details": {"cached_tokens": cached}}}}
            elif k == 1:
                d = {"id": "chatcmpl-%d" % i, "object": "chat.completion",
                     "created": 1787666591 + i, "model": "gpt-4o-mini",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": pad},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": inp, "completion_tokens": out,
                               "prompt_tokens_details": {"cached_tokens": cached}}}
            elif k == 2:
                d = {"data": {"id": "gen-%d" % i, "total_cost": 0.002, "model": "anthropic/c",
                              "created_at": "2026-08-25T14:03:11.482Z", "provider_name": "Anthropic",
                              "workspace_id": "ws-%d" % (i % 50), "native_tokens_prompt": inp,
                              "native_tokens_completion": out, "native_tokens_cached": cached,
                              "origin": pad}}
            else:
                d = {"id": "msg_%d" % i, "type": "message", "model": "claude-x",
                     "content": [{"type": "text", "text": pad}],
                     "usage": {"input_tokens": inp, "cache_read_input_tokens": cached,
                               "output_tokens": out}}
            f.write(json.dumps(d, separators=(",", ":")) + "\n")


def run(cmd, inp):
    """Best wall time of three runs and the peak RSS (KiB) of the children."""
    best = None
    for _ in range(3):
        with open(inp, "rb") as fi, open(os.devnull, "wb") as fo:
            t = time.perf_counter()
            p = subprocess.run(cmd, stdin=fi, stdout=fo, stderr=subprocess.DEVNULL)
            dt = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit("%s exited %d" % (cmd[0], p.returncode))
        best = dt if best is None else min(best, dt)
    return best, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main():
    binary = os.environ.get("TOKENMETER") or sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "events.ndjson")
        gen(inp)
        size = os.path.getsize(inp) / 1e6
        peer = os.path.join(tmp, "peer.py")
        with open(peer, "w") as f:
            f.write(PEER)
        t_tm, rss_tm = run([binary, "execd", "--dead-letter", os.path.join(tmp, "dl"),
                            "--receive-time", "2026-08-25T00:00:00Z"], inp)
        t_py, rss_all = run([sys.executable, peer], inp)
    print("input: %d events, %.1f MB of NDJSON" % (N, size))
    print("tokenmeter execd : %8.0f events/s  %6.1f MB/s  (best of 3: %.2f s, peak RSS %d KiB)"
          % (N / t_tm, size / t_tm, t_tm, rss_tm))
    print("python peer      : %8.0f events/s  %6.1f MB/s  (best of 3: %.2f s)"
          % (N / t_py, size / t_py, t_py))
    print("ratio            : tokenmeter is %.1fx the peer's throughput" % (t_py / t_tm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
