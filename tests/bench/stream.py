# SPDX-License-Identifier: MIT
"""The event streams every benchmark reads (a module, not a benchmark).

Two shapes, both deterministic (fixed seeds) so that figures compare across
runs and commits:

  mixed    LiteLLM, OpenAI, OpenRouter and Anthropic bodies in turn, about
           750 bytes each with plain ASCII padding (the first stream `make
           bench` measured; kept so that its history stays comparable);
  litellm  LiteLLM-heavy gateway traffic: six bodies in ten are LiteLLM
           callbacks of 4-8 KB (messages, a response with choices, metadata
           with the key's aliases and hidden params), the rest OpenAI,
           Anthropic and OpenRouter bodies of the same size. The text has
           newlines, quotes and non-ASCII words, written the way Python's
           json.dumps writes them (escaped), as LiteLLM's own logger does.

lines(shape, n) yields the NDJSON lines (bytes, without the newline);
write(path, shape, n) writes them to a file. build(tmp, name, pkgs) compiles
the helper tests/bench/<name>.c into tmp and returns its path.
"""
import json
import os
import random
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def build(tmp, name, pkgs=()):
    exe = os.path.join(tmp, name)
    flags = []
    if pkgs:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + list(pkgs),
                               capture_output=True, text=True, check=True).stdout.split()
    subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-D_DEFAULT_SOURCE",
                    "-D_POSIX_C_SOURCE=200809L", "-O2", "-o", exe,
                    os.path.join(HERE, name + ".c")] + flags, check=True)
    return exe

WORDS = ("the model returned a summary of the quarterly report with tables and "
         "citations for each claim a user asked about pricing tiers in Europe "
         "naïve café résumé Zürich 東京 données façade 😀 — \"quoted\" text, "
         "code: def f(x):\n    return x * 2\n").split(" ")


def _text(rnd, size):
    out, n = [], 0
    while n < size:
        w = rnd.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def _mixed(i, rnd, pad):
    k = i % 4
    inp, out, cached = rnd.randint(100, 9000), rnd.randint(10, 900), rnd.randint(0, 90)
    if k == 0:
        return {"id": "c%d" % i, "call_type": "acompletion", "status": "success",
                "custom_llm_provider": "openai", "model": "gpt-4o-mini",
                "prompt_tokens": inp, "completion_tokens": out, "response_cost": 0.001,
                "startTime": 1787666591.5 + i, "endTime": 1787666592.5 + i,
                "messages": [{"role": "user", "content": pad}],
                "metadata": {"user_api_key_org_id": "org_%d" % (i % 50),
                             "user_api_key_alias": "key", "usage_object": {
                                 "prompt_tokens_details": {"cached_tokens": cached}}}}
    if k == 1:
        return {"id": "chatcmpl-%d" % i, "object": "chat.completion",
                "created": 1787666591 + i, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": pad},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": inp, "completion_tokens": out,
                          "prompt_tokens_details": {"cached_tokens": cached}}}
    if k == 2:
        return {"data": {"id": "gen-%d" % i, "total_cost": 0.002, "model": "anthropic/c",
                         "created_at": "2026-08-25T14:03:11.482Z", "provider_name": "Anthropic",
                         "workspace_id": "ws-%d" % (i % 50), "native_tokens_prompt": inp,
                         "native_tokens_completion": out, "native_tokens_cached": cached,
                         "origin": pad}}
    return {"id": "msg_%d" % i, "type": "message", "model": "claude-x",
            "content": [{"type": "text", "text": pad}],
            "usage": {"input_tokens": inp, "cache_read_input_tokens": cached,
                      "output_tokens": out}}


def _litellm(i, rnd):
    k = i % 10
    inp, out = rnd.randint(100, 9000), rnd.randint(10, 900)
    cached = rnd.randint(0, min(inp, 900))
    size = rnd.randint(2000, 5000)  # of text; the rest of a body is 1-2 KB
    if k < 6:
        turns = rnd.randint(1, 4)
        part = size // (2 * turns + 2)
        msgs = [{"role": "system", "content": _text(rnd, part)}]
        for _ in range(turns):
            msgs.append({"role": "user", "content": _text(rnd, part)})
            msgs.append({"role": "assistant", "content": _text(rnd, part)})
        model = ("gpt-4o-mini", "claude-3-5-sonnet", "gemini-1.5-pro")[i % 3]
        return {
            "id": "chatcmpl-%08x-%d" % (rnd.getrandbits(32), i), "call_type": "acompletion",
            "cache_hit": None, "status": "success", "custom_llm_provider":
            ("openai", "anthropic", "vertex_ai")[i % 3], "model": model, "model_id": "m-%d" % (i % 7),
            "model_group": model, "api_base": "https://api.example.com/v1",
            "prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
            "response_cost": round(inp * 1.5e-7 + out * 6e-7, 9),
            "startTime": 1787666591.5 + i * 0.25, "endTime": 1787666592.75 + i * 0.25,
            "completionStartTime": 1787666592.1 + i * 0.25,
            "messages": msgs,
            "response": {"id": "resp-%d" % i, "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "finish_reason": "stop", "message": {
                             "role": "assistant", "content": _text(rnd, part)}}],
                         "usage": {"prompt_tokens": inp, "completion_tokens": out,
                                   "total_tokens": inp + out}},
            "metadata": {
                "user_api_key_hash": "%064x" % rnd.getrandbits(256),
                "user_api_key_alias": "team-%d-key" % (i % 20),
                "user_api_key_org_id": "org_%d" % (i % 50),
                "user_api_key_team_id": "team_%d" % (i % 20),
                "user_api_key_user_id": "user_%d" % (i % 400),
                "user_api_key_team_alias": "Team %d" % (i % 20),
                "spend_logs_metadata": None, "requester_ip_address": "10.0.%d.%d" % (i % 250, i % 7),
                "requester_metadata": {"trace": "t-%d" % i, "tags": ["prod", "eu"]},
                "hidden_params": {"model_id": "m-%d" % (i % 7), "cache_key": None,
                                  "api_base": "https://api.example.com/v1",
                                  "response_cost": 0.0001, "additional_headers": {
                                      "x-ratelimit-remaining-requests": 4999,
                                      "x-ratelimit-remaining-tokens": 1999000}},
                "usage_object": {"prompt_tokens": inp, "completion_tokens": out,
                                 "prompt_tokens_details": {"cached_tokens": cached},
                                 "completion_tokens_details": {"reasoning_tokens": 0}}},
            "request_tags": ["prod", "eu-west"], "end_user": "",
        }
    if k < 8:
        return {"id": "chatcmpl-%d" % i, "object": "chat.completion",
                "created": 1787666591 + i, "model": "gpt-4o-mini", "system_fingerprint": "fp_1",
                "choices": [{"index": 0, "message": {"role": "assistant",
                                                     "content": _text(rnd, size)},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": inp, "completion_tokens": out,
                          "total_tokens": inp + out,
                          "prompt_tokens_details": {"cached_tokens": cached}}}
    if k == 8:
        return {"id": "msg_%d" % i, "type": "message", "role": "assistant", "model": "claude-x",
                "content": [{"type": "text", "text": _text(rnd, size)}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": inp, "cache_read_input_tokens": cached,
                          "cache_creation_input_tokens": 0, "output_tokens": out}}
    return {"data": {"id": "gen-%d" % i, "total_cost": 0.002, "model": "anthropic/c",
                     "created_at": "2026-08-25T14:03:11.482Z", "provider_name": "Anthropic",
                     "workspace_id": "ws-%d" % (i % 50), "native_tokens_prompt": inp,
                     "native_tokens_completion": out, "native_tokens_cached": cached,
                     "origin": _text(rnd, size)}}


def lines(shape, n):
    rnd = random.Random(7)
    pad = "lorem ipsum " * 40
    for i in range(n):
        d = _mixed(i, rnd, pad) if shape == "mixed" else _litellm(i, rnd)
        yield json.dumps(d, separators=(",", ":")).encode()


def write(path, shape, n):
    with open(path, "wb") as f:
        for line in lines(shape, n):
            f.write(line + b"\n")
