#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Differential test: tokenmeter's cost against LiteLLM's own cost calculator.

Runs under the venv that tests/oracle/setup-litellm.sh makes (a pinned
litellm from PyPI), offline (LITELLM_LOCAL_MODEL_COST_MAP=True). For every
token-priced model of the price map (data/model_prices.json unless --map),
it generates usages that exercise each rule the model's entry expresses —
long-context tiers crossed and not (the threshold itself, one above), cache
reads, cache writes (5-minute and 1-hour), reasoning, audio and image tokens
in and out, the service tiers the entry prices (flex, priority, batch), web
search, the region and speed the provider reports (provider_specific_entry
multipliers) — costs each with litellm.cost_per_token (batch_cost_calculator for
Batch API results, LiteLLM's web search calculators for searches) and with
`tokenmeter prices cost` from the same map and the same counts, and requires
equality within 1e-9 relative (1e-12 USD absolute: tokenmeter rounds to
picodollars).

It then feeds whole provider bodies (tests/oracle/bodies/, provider_bodies.py) to
`tokenmeter execd` and to LiteLLM's own readers of those bodies, and requires the same cost:
the counts a body yields are checked, not only their prices. Last, it prices each
`provider/name` entry as events name it, `name` under the provider LiteLLM routed the
call to (provider_names.py): the entry each side looks up is checked too.

Where tokenmeter deliberately differs, the case is counted under a named
difference instead of failing; docs/pricing.md says why for each:
  unpriced-base     LiteLLM bills a count whose base price the entry lacks
                    as $0; tokenmeter leaves the event unpriced.
  unpriced-search   LiteLLM adds $0 for web searches of a model without a
                    search price; tokenmeter leaves the event unpriced.
Models whose price LiteLLM derives from something a usage event does not
carry are skipped and counted by reason (SKIPPED below).

Usage: pricing_oracle.py BINARY [--map FILE] [--per-model N] [--seed S]
Prints "N passed, M failed" last; exits 1 on any failure.
"""
import argparse
import contextlib
import importlib.metadata
import io
import json
import math
import os
import random
import subprocess
import sys

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm  # noqa: E402
from litellm.litellm_core_utils.llm_cost_calc.tool_call_cost_tracking import (  # noqa: E402
    StandardBuiltInToolCostTracking,
)
from litellm.cost_calculator import batch_cost_calculator  # noqa: E402
from litellm.llms import get_cost_for_web_search_request  # noqa: E402
from datetime import datetime  # noqa: E402

from litellm._internal_context import pinned_billing_time  # noqa: E402

import provider_bodies  # noqa: E402
import provider_names  # noqa: E402
from litellm.types.utils import (  # noqa: E402
    CacheCreationTokenDetails,
    CompletionTokensDetailsWrapper,
    PromptTokensDetailsWrapper,
    ServerToolUse,
    Usage,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Entries priced by something other than the usage's token counts, or by
# a rule keyed to the serving provider that a usage event does not name.
SKIPPED = {}
# The call's start, for the entries whose rates depend on it (off_peak_pricing):
# LiteLLM pins its billing moment, tokenmeter reads the event's time. Each usage
# of such an entry is priced at every one of these: a weekday inside and outside
# DeepSeek's windows, a weekend day, and a window's edges.
MOMENTS = ["2026-08-26T08:00:00Z", "2026-08-26T12:00:00Z", "2026-08-29T08:00:00Z",
           "2026-08-26T10:00:00Z", "2026-08-26T09:59:59Z", "2026-08-26T00:30:00Z"]
# Providers whose calculators add rules a token count does not carry
# (inclusive thresholds, per-prompt grounding, regional uplifts...).
SKIPPED_PROVIDERS = {
    "perplexity": "Perplexity's own calculator (request and citation fees)",
    # LiteLLM signs in to these to resolve the model (a network call): never here.
    "github_copilot": "LiteLLM signs in to the provider first",
    "chatgpt": "LiteLLM signs in to the provider first",
    "gigachat": "LiteLLM signs in to the provider first",
}


# LiteLLM fills these with 0 for an entry without them (a tiered-only entry):
# tokenmeter calls such a count unpriced, counted as "unpriced-base".
BASE_KEYS = ("input_cost_per_token", "output_cost_per_token")


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def thresholds(entry):
    out = set()
    for tier in entry.get("tiered_pricing") or []:
        r = tier.get("range") if isinstance(tier, dict) else None
        if isinstance(r, list) and len(r) == 2 and all(num(x) for x in r):
            out.update(int(x) for x in r)
    for k, v in entry.items():
        if "_above_" in k and "_tokens" in k and num(v):
            s = k.rsplit("_above_", 1)[1].split("_tokens")[0]
            try:
                out.add(int(float(s.replace("k", "")) * (1000 if "k" in s else 1)))
            except ValueError:
                pass
    return sorted(out)


def tiers(entry):
    out = [None]
    for t in ("flex", "priority"):
        if any(k.endswith("_" + t) for k in entry):
            out.append(t)
    if any(k.endswith("_batches") for k in entry) or num(entry.get("input_cost_per_token")):
        out.append("batch")
    return out


def gen_usage(rng, entry):
    """One set of counts, exercising what this entry prices."""
    ths = thresholds(entry)
    pick = rng.random()
    if ths and pick < 0.5:
        th = rng.choice(ths)
        prompt = th + rng.choice([0, 1, 1, 2, 7919, -1])
    else:
        prompt = rng.choice([0, 1, 17, 1000, 12345, 99999, 250000, 1200000])
    prompt = max(prompt, 0)
    c = {"input_tokens": prompt}
    rest = prompt
    if rest and rng.random() < 0.5:
        c["cached_input_tokens"] = rng.randint(0, rest)
        rest -= c["cached_input_tokens"]
    if rest and rng.random() < 0.4:
        w = rng.randint(0, rest)
        c["cache_write_tokens"] = w
        rest -= w
        if w and rng.random() < 0.5:
            c["cache_write_1h_tokens"] = rng.randint(0, w)
    audio_priced = any(k.startswith(("input_cost_per_audio_token", "cache_read_input_audio"))
                       for k in entry)
    if rest and rng.random() < (0.6 if audio_priced else 0.15):
        c["input_audio_tokens"] = rng.randint(0, rest)
        rest -= c["input_audio_tokens"]
        # audio read from the cache: part of both the cache hits and the audio
        if c.get("cached_input_tokens") and rng.random() < 0.5:
            c["cached_input_audio_tokens"] = rng.randint(0, c["cached_input_tokens"])
            c["input_audio_tokens"] += c["cached_input_audio_tokens"]
    image_priced = any(k.startswith("input_cost_per_image_token") for k in entry)
    if rest and rng.random() < (0.6 if image_priced else 0.15):
        c["input_image_tokens"] = rng.randint(0, rest)
        rest -= c["input_image_tokens"]
    out = rng.choice([0, 1, 10, 500, 4096, 65536])
    c["output_tokens"] = out
    orest = out
    if orest and rng.random() < 0.5:
        c["reasoning_tokens"] = rng.randint(0, orest)
        orest -= c["reasoning_tokens"]
    if orest and rng.random() < (0.5 if "output_cost_per_audio_token" in entry else 0.1):
        c["output_audio_tokens"] = rng.randint(0, orest)
        orest -= c["output_audio_tokens"]
    if orest and rng.random() < (0.5 if "output_cost_per_image_token" in entry else 0.1):
        c["output_image_tokens"] = rng.randint(0, orest)
    if rng.random() < (0.3 if "search_context_cost_per_query" in entry else 0.05):
        c["web_search_requests"] = rng.randint(1, 5)
    # Where and how fast the provider served it (Anthropic's usage.inference_geo
    # and usage.speed): provider_specific_entry multipliers, where the entry has
    # them; elsewhere they must change nothing.
    routed = isinstance(entry.get("provider_specific_entry"), dict)
    if rng.random() < (0.7 if routed else 0.05):
        c["inference_geo"] = rng.choice(["us", "US", "global", "eu", "not_available"])
    if rng.random() < (0.7 if routed else 0.05):
        c["speed"] = rng.choice(["fast", "standard", "Fast"])
    return c


def litellm_cost(key, entry, c, tier):
    g = c.get
    writes, writes_1h = g("cache_write_tokens", 0), g("cache_write_1h_tokens", 0)
    details = PromptTokensDetailsWrapper(
        cached_tokens=g("cached_input_tokens", 0),
        cache_creation_tokens=writes,
        audio_tokens=g("input_audio_tokens", 0),
        cached_tokens_details={"audio_tokens": g("cached_input_audio_tokens")}
        if g("cached_input_audio_tokens") is not None else None,
        image_tokens=g("input_image_tokens", 0),
        cache_creation_token_details=CacheCreationTokenDetails(
            ephemeral_5m_input_tokens=writes - writes_1h, ephemeral_1h_input_tokens=writes_1h)
        if writes else None,
    )
    usage = Usage(
        prompt_tokens=c["input_tokens"],
        completion_tokens=c["output_tokens"],
        total_tokens=c["input_tokens"] + c["output_tokens"],
        prompt_tokens_details=details,
        completion_tokens_details=CompletionTokensDetailsWrapper(
            reasoning_tokens=g("reasoning_tokens", 0),
            audio_tokens=g("output_audio_tokens", 0),
            image_tokens=g("output_image_tokens", 0)),
        server_tool_use=ServerToolUse(web_search_requests=g("web_search_requests"))
        if g("web_search_requests") else None,
    )
    usage.inference_geo = g("inference_geo")
    usage.speed = g("speed")
    provider = entry.get("litellm_provider")
    if provider == "xai" and g("web_search_requests"):
        # xAI counts searches in its own usage block (server_side_tool_usage_details)
        usage.server_side_tool_usage_details = {"web_search_calls": g("web_search_requests")}
    if tier == "batch":
        # batch_cost_calculator re-resolves the provider from the name and
        # bills $0 when that finds no entry: not a price to compare with.
        m, prov, _, _ = litellm.get_llm_provider(model=key, custom_llm_provider=provider)
        litellm.get_model_info(model=m, custom_llm_provider=prov)
        p, o = batch_cost_calculator(usage=usage, model=key, custom_llm_provider=provider)
    else:
        p, o = litellm.cost_per_token(model=key, custom_llm_provider=provider, usage_object=usage,
                                      service_tier=tier)
    search = 0.0
    if g("web_search_requests"):
        info = litellm.get_model_info(model=key, custom_llm_provider=provider)
        r = get_cost_for_web_search_request(custom_llm_provider=provider, usage=usage,
                                            model_info=info)
        if r is None:
            r = (StandardBuiltInToolCostTracking.get_default_cost_for_web_search(info)
                 * g("web_search_requests"))
        search = r
    return p + o + search


def skip_reason(key, entry):
    if not isinstance(entry, dict):
        return "not an object"
    tiered = any(isinstance(t, dict) and num(t.get("input_cost_per_token"))
                 for t in entry.get("tiered_pricing") or [])
    if not num(entry.get("input_cost_per_token")) and not num(entry.get("output_cost_per_token")) \
            and not tiered:
        return "not token-priced"
    for k, why in SKIPPED.items():
        if entry.get(k) is not None:
            return why
    if entry.get("litellm_provider") in SKIPPED_PROVIDERS:
        return SKIPPED_PROVIDERS[entry["litellm_provider"]]
    try:
        info = litellm.get_model_info(model=key, custom_llm_provider=entry.get("litellm_provider"))
    except Exception:
        return "LiteLLM cannot resolve the name"
    if any(k.startswith(("input_cost_per_token_above_", "output_cost_per_token_above_"))
           and not num(v) for k, v in entry.items()):
        return "non-numeric tier"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--map", default=os.path.join(ROOT, "data", "model_prices.json"))
    ap.add_argument("--per-model", type=int, default=4)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--show", type=int, default=15, help="failures to print")
    a = ap.parse_args()
    with open(a.map) as f:
        table = json.load(f)
    litellm.model_cost = table  # the very map tokenmeter reads
    rng = random.Random(a.seed)
    cases, skipped = [], {}
    for key in sorted(table):
        entry = table[key]
        why = skip_reason(key, entry) if key != "sample_spec" else "documentation entry"
        if why:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        for tier in tiers(entry):
            for _ in range(a.per_model):
                c = gen_usage(rng, entry)
                try:
                    moments = MOMENTS if entry.get("off_peak_pricing") else [None]
                    wants = []
                    for when in moments:
                        pin = pinned_billing_time(datetime.fromisoformat(
                            when.replace("Z", "+00:00"))) if when else contextlib.nullcontext()
                        with contextlib.redirect_stdout(io.StringIO()), pin:  # LiteLLM's hints
                            wants.append((when, litellm_cost(key, entry, c, tier)))
                except Exception as e:  # LiteLLM cannot cost it: not comparable
                    skipped["litellm raised " + type(e).__name__] = \
                        skipped.get("litellm raised " + type(e).__name__, 0) + 1
                    continue
                for when, want in wants:
                    ev = dict(c, model=key, provider=entry.get("litellm_provider"))
                    if tier:
                        ev["service_tier"] = tier
                    if when:
                        ev["time"] = when
                    cases.append((key, entry, tier, c, want, ev))
    stdin = "".join(json.dumps(ev) + "\n" for *_, ev in cases)
    p = subprocess.run([a.binary, "-c", "/dev/null", "prices", "cost",
                        "--set", "ingest.prices=" + a.map],
                       input=stdin.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode())
        print("0 passed, 1 failed")
        return 1
    got = p.stdout.decode().splitlines()
    assert len(got) == len(cases), (len(got), len(cases))
    passed, failed, deliberate = 0, [], {}
    for (key, entry, tier, c, want, _), line in zip(cases, got):
        if line.startswith("unpriced: "):
            what = line.split(": ", 1)[1]
            # what tokenmeter found missing, and the base price it falls back to
            base = {"input": "input_cost_per_token", "input_audio": "input_cost_per_token",
                    "input_image": "input_cost_per_token", "cache_read": "input_cost_per_token",
                    "cache_write": "input_cost_per_token",
                    "cache_write_1h": "input_cost_per_token",
                    "output": "output_cost_per_token", "output_audio": "output_cost_per_token",
                    "output_image": "output_cost_per_token",
                    "reasoning": "output_cost_per_token"}
            if what == "web_search" and "search_context_cost_per_query" not in entry:
                deliberate["unpriced-search"] = deliberate.get("unpriced-search", 0) + 1
                continue
            if what in base and not num(entry.get(base[what])):
                deliberate["unpriced-base"] = deliberate.get("unpriced-base", 0) + 1
                continue
            failed.append((key, tier, c, want, line))
            continue
        v = float(line)
        if abs(v - want) <= 1e-9 * max(abs(v), abs(want)) + 1e-12:
            passed += 1
        else:
            failed.append((key, tier, c, want, line))
    # Whole provider bodies: what each side reads from them (provider_bodies.py).
    body_passed, body_failed = provider_bodies.run(a.binary, a.map)
    passed += body_passed
    for line in body_failed:
        print(line)
    # Names as events carry them, under the provider LiteLLM routed to (provider_names.py).
    name_passed, name_failed, name_deliberate = provider_names.run(a.binary, a.map, table,
                                                                  SKIPPED_PROVIDERS)
    passed += name_passed
    body_failed += name_failed
    for line in name_failed[:a.show]:
        print(line)
    for k, n in name_deliberate.items():
        deliberate["names-" + k] = n
    for key, tier, c, want, line in failed[:a.show]:
        print("FAIL %s tier=%s %s: litellm %.17g tokenmeter %s" % (key, tier, json.dumps(c),
                                                                  want, line))
    print("litellm %s, map %s: %d models compared, %d usages"
          % (importlib.metadata.version("litellm"), a.map,
             len({k for k, *_ in cases}), len(cases)))
    for k, n in sorted(deliberate.items()):
        print("deliberate difference %s: %d usages" % (k, n))
    for k, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
        print("skipped model entries (%s): %d" % (k, n))
    print("provider bodies: %d passed, %d failed" % (body_passed, len(body_failed) -
                                                     len(name_failed)))
    print("provider names: %d passed, %d failed" % (name_passed, len(name_failed)))
    print("%d passed, %d failed" % (passed, len(failed) + len(body_failed)))
    return 1 if failed or body_failed else 0


if __name__ == "__main__":
    sys.exit(main())
