# SPDX-License-Identifier: MIT
"""Provider bodies costed end to end: tokenmeter's reading of a body against LiteLLM's.

pricing_oracle.py compares the prices of given counts; this part compares what each side
reads from a whole provider body. Every tests/oracle/bodies/<case>.json holds
  input    the body fed to `tokenmeter execd` (one line)
  litellm  how LiteLLM reads the same call:
             parser    "openai" (convert_to_model_response_object), "xai", "gemini",
                       "anthropic" (each provider config's transform_response), or
                       "openai_batch" (batch_cost_and_usage over the one output line)
             model     the model name LiteLLM costs with (a batch line's own)
             provider  its custom_llm_provider
             body      the body LiteLLM reads, when it is not `input` (a gateway's wrapper
                       around the provider response)
  about    what the case shows
and the cost tokenmeter writes must equal LiteLLM's completion_cost within 1e-9 relative.
"""
import glob
import json
import os
import re
import subprocess
import tempfile

import httpx
import litellm
from litellm.types.utils import ModelResponse

HERE = os.path.dirname(os.path.abspath(__file__))


class _Logging:
    """What transform_response needs of a logging object: nothing."""

    model_call_details = {}
    litellm_params = {}
    optional_params = {}

    def __getattr__(self, name):
        return lambda *a, **k: None


def _transformed(config, body, model):
    raw = httpx.Response(200, json=body, request=httpx.Request("POST", "https://provider.invalid"))
    return config.transform_response(model=model, raw_response=raw, model_response=ModelResponse(),
                                     logging_obj=_Logging(), request_data={}, messages=[],
                                     optional_params={}, litellm_params={}, encoding=None)


def litellm_cost(spec, body):
    parser, model, provider = spec["parser"], spec.get("model"), spec["provider"]
    if parser == "openai_batch":
        from litellm.batches.batch_utils import batch_cost_and_usage
        return batch_cost_and_usage([body], provider).cost
    if parser == "openai":
        from litellm.litellm_core_utils.llm_response_utils.convert_dict_to_response import (
            convert_to_model_response_object)
        resp = convert_to_model_response_object(response_object=body,
                                                model_response_object=ModelResponse())
    elif parser == "xai":
        from litellm.llms.xai.chat.transformation import XAIChatConfig
        resp = _transformed(XAIChatConfig(), body, model)
    elif parser == "gemini":
        from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import (
            VertexGeminiConfig)
        resp = _transformed(VertexGeminiConfig(), body, model)
    elif parser == "anthropic":
        from litellm.llms.anthropic.chat.transformation import AnthropicConfig
        resp = _transformed(AnthropicConfig(), body, model)
    else:
        raise ValueError("unknown parser %r" % parser)
    return litellm.completion_cost(completion_response=resp, model=model,
                                   custom_llm_provider=provider)


def tokenmeter_cost(binary, price_map, body):
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([binary, "-c", "/dev/null", "execd", "--dead-letter",
                            os.path.join(tmp, "dl"), "--prices", price_map,
                            "--receive-time", "2026-08-25T00:00:00Z"],
                           input=(json.dumps(body) + "\n").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        dead = os.path.join(tmp, "dl")
        if os.path.exists(dead) and os.path.getsize(dead):
            with open(dead) as f:
                return "dead-lettered: " + json.loads(f.readline())["reason"]
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("llm_usage")]
    if len(lines) != 1:
        return "%d events; stderr: %s" % (len(lines), p.stderr.decode()[-300:])
    m = re.search(r"[ ,]cost_usd=([^,i ]+)", lines[0])
    return float(m.group(1)) if m else "no cost_usd: " + lines[0]


def run(binary, price_map):
    """Returns (passed, [failure lines])."""
    passed, failed = 0, []
    for path in sorted(glob.glob(os.path.join(HERE, "bodies", "*.json"))):
        name = os.path.basename(path)[:-5]
        with open(path) as f:
            case = json.load(f)
        spec = case["litellm"]
        want = litellm_cost(spec, spec.get("body", case["input"]))
        got = tokenmeter_cost(binary, price_map, case["input"])
        if isinstance(got, float) and abs(got - want) <= 1e-9 * max(abs(got), abs(want)) + 1e-12:
            passed += 1
        else:
            failed.append("FAIL body %s: litellm %.17g tokenmeter %s" % (name, want, got))
    return passed, failed
