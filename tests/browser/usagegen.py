# SPDX-License-Identifier: MIT
"""Generated llm_usage points and the facts they stand for (Python stdlib only).

Shared by the HTML report's browser test and the Grafana dashboard test: both
feed tokenmeter (or InfluxDB) these points and compare what comes out with
sums computed here from the facts, never from tokenmeter's own output.
"""
import datetime
import random

# Sender-controlled names, hostile ones included: markup, quotes, and the
# characters line protocol escapes.
ORGS = ["acme", "globex", "<script>alert(1)</script>", "</svg><b>\"x'&", "Initech, Inc.",
        "café ☕"]
MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o-mini-2024-07-18", "openai"),
          ("claude-sonnet-4", "anthropic"), ("o4-mini", "openai"),
          ("house-model", "self-hosted")]
UNPRICED_MODEL = "house-model"  # never carries a cost: unpriced


def _tag(s):
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def facts(seed, start, ndays, n):
    """n events between start (an aware datetime) and ndays later."""
    rnd = random.Random(seed)
    base = int(start.timestamp())
    out = []
    for i in range(n):
        model, provider = rnd.choice(MODELS)
        cached = rnd.randint(0, 500)
        inp = cached + rnd.randint(1, 5000)
        out_tokens = rnd.randint(0, 2000)
        ok = rnd.random() > 0.12
        cost = None if model == UNPRICED_MODEL else round(rnd.uniform(0, 0.08), 7)
        out.append(dict(t=base + rnd.randrange(ndays * 86400), ns=i, org=rnd.choice(ORGS),
                        model=model, provider=provider, ok=ok, input=inp, cached=cached,
                        output=out_tokens, cost=cost, id="ev-%d-%d" % (seed, i)))
    return out


def line(f, measurement="llm_usage"):
    """The point tokenmeter execd writes for fact f."""
    fields = ["input_tokens=%di" % f["input"], "cached_input_tokens=%di" % f["cached"],
              "output_tokens=%di" % f["output"], "total_tokens=%di" % (f["input"] + f["output"])]
    if f["cost"] is None:
        fields.append('cost_source="unpriced"')
    else:
        fields += ["cost_usd=%r" % f["cost"], 'cost_source="reported"']
    fields.append('event_id="%s"' % f["id"])
    return "%s,model=%s,org=%s,provider=%s,source=litellm,status=%s %s %d" % (
        measurement, _tag(f["model"]), _tag(f["org"]), _tag(f["provider"]),
        "success" if f["ok"] else "error", ",".join(fields), f["t"] * 10**9 + f["ns"])


def day_of(f, zone):
    return datetime.datetime.fromtimestamp(f["t"], zone).date().isoformat()
