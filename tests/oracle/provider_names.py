# SPDX-License-Identifier: MIT
"""Names as events carry them: which entry prices a model, against LiteLLM's lookup.

pricing_oracle.py costs every entry under its own key. Events rarely name the key: a
LiteLLM callback sends `gpt-4o` with custom_llm_provider `azure`, a Gemini API body
`gemini-2.5-flash`, and the map holds both `gpt-4o` (OpenAI's price) and `azure/gpt-4o`
(Azure's). For every key `P/name` whose first segment is the provider LiteLLM names it
by, this sends {model: name, provider: P} (and `P/P/name`, a router's repeated segment;
and for Bedrock ids their cross-region and routed forms) through `tokenmeter prices cost` and costs the
same counts with litellm.cost_per_token(model=name, custom_llm_provider=P), so the entry
each side picks is compared by its price (docs/pricing.md, "Lookup"). The billing moment
is pinned to a weekday morning, when DeepSeek's off-peak windows are closed (tokenmeter
bills standard rates; pricing_oracle.py says why).
"""
import contextlib
import io
import json
import subprocess
from datetime import datetime, timezone

import litellm
from litellm._internal_context import pinned_billing_time
from litellm.types.utils import Usage

PEAK = datetime(2026, 8, 26, 8, 0, tzinfo=timezone.utc)  # a Wednesday, 08:00 UTC


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _named_provider(prefix, entry_provider):
    """The provider LiteLLM calls an entry's P/ prefix by, or None when P is not it."""
    if prefix == entry_provider:
        return prefix
    if prefix in ("vertex_ai", "fireworks_ai") and entry_provider.startswith(prefix + "-"):
        return prefix
    return None


BEDROCK_PROFILES = ("global", "us", "eu", "apac", "jp", "au", "us-gov")


def pairs(table, skipped_providers):
    for key in sorted(table):
        entry = table[key]
        if not isinstance(entry, dict):
            continue
        if entry.get("litellm_provider") in ("bedrock", "bedrock_converse") and "/" not in key \
                and key.split(".", 1)[0] not in BEDROCK_PROFILES and "." in key and (
                _num(entry.get("input_cost_per_token")) or _num(entry.get("output_cost_per_token"))):
            # Bedrock ids as calls name them: a cross-region inference profile,
            # a routing prefix, a throughput or context-window suffix
            # (LiteLLM's get_bedrock_base_model)
            for name in ("us." + key, "converse/" + key, "global." + key + "[1m]"):
                yield name, entry["litellm_provider"], entry
        if "/" not in key:
            continue
        lp = entry.get("litellm_provider")
        if not isinstance(lp, str) or lp in skipped_providers:
            continue
        if not (_num(entry.get("input_cost_per_token")) or _num(entry.get("output_cost_per_token"))):
            continue
        prefix, name = key.split("/", 1)
        provider = _named_provider(prefix, lp)
        if provider:
            yield name, provider, entry
            # a router's repeated provider segment (cost_per_token keeps one)
            yield "%s/%s/%s" % (provider, provider, name), provider, entry


def run(binary, map_path, table, skipped_providers):
    """Returns (passed, failures as printable lines, deliberate differences by reason)."""
    cases = []
    for name, provider, entry in pairs(table, skipped_providers):
        output = 0 if entry.get("mode") == "embedding" else 500
        usage = Usage(prompt_tokens=1000, completion_tokens=output, total_tokens=1000 + output)
        try:
            with contextlib.redirect_stdout(io.StringIO()), pinned_billing_time(PEAK):
                p, o = litellm.cost_per_token(model=name, custom_llm_provider=provider,
                                              usage_object=usage)
                info = litellm.get_model_info(model=name, custom_llm_provider=provider)
        except Exception:  # LiteLLM cannot cost it: nothing to compare
            continue
        cases.append((name, provider, output, p + o, info))
    stdin = "".join(json.dumps({"model": n, "provider": pv, "input_tokens": 1000,
                                "output_tokens": out, "time": PEAK.strftime("%Y-%m-%dT%H:%M:%SZ")})
                    + "\n" for n, pv, out, *_ in cases)
    proc = subprocess.run([binary, "-c", "/dev/null", "prices", "cost",
                           "--set", "ingest.prices=" + map_path],
                          input=stdin.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=600)
    got = proc.stdout.decode().splitlines()
    if proc.returncode != 0 or len(got) != len(cases):
        return 0, ["provider names: prices cost failed: " + proc.stderr.decode()[-500:]], {}
    passed, failed, deliberate = 0, [], {}
    for (name, provider, _, want, info), line in zip(cases, got):
        if line.startswith("unpriced: "):
            what = line.split(": ", 1)[1]
            base = {"input": "input_cost_per_token", "output": "output_cost_per_token"}
            entry = table.get(info.get("key"), {})  # the map's own, not LiteLLM's 0 default
            if what in base and not _num(entry.get(base[what])):
                deliberate["unpriced-base"] = deliberate.get("unpriced-base", 0) + 1
                continue
        else:
            v = float(line)
            if abs(v - want) <= 1e-9 * max(abs(v), abs(want)) + 1e-12:
                passed += 1
                continue
        failed.append("FAIL name %s provider=%s: litellm %.17g tokenmeter %s (LiteLLM's entry "
                      "%s)" % (name, provider, want, line, info.get("key")))
    return passed, failed, deliberate
