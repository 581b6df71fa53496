#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: one maximal body whose shape makes a source (or the pipeline)
quadratic stalls execd for minutes — a 215k-item Langfuse batch did not
finish in 12 minutes. For each source's worst shape, a body of
max_body_bytes must cost at most a small multiple of the CPU time execd
spends on a plain body of the same size (parsed, matched by no source and
dead-lettered). Both are measured in this run; no absolute time is asserted
(the timeout only keeps a regression from hanging the suite)."""
import json
import os
import sys

from sender_util import Results, execd, scratch

MAX = 8 * 1024 * 1024           # the default max_body_bytes
RATIO = 10                       # worst shape / plain body, CPU time
TIMEOUT = 120
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def fill(prefix, suffix, unit, sep=",", room=None):
    """prefix + unit(0) sep unit(1) ... + suffix, as close to `room` (MAX)
    bytes as fits."""
    room = MAX if room is None else room
    parts, size, i = [], len(prefix) + len(suffix), 0
    while True:
        u = unit(i)
        if size + len(u) + len(sep) > room - 16:
            break
        parts.append(u)
        size += len(u) + len(sep)
        i += 1
    return prefix + sep.join(parts) + suffix


def pad_keys(body):
    """body (a dict) with short junk members added at the top level up to
    MAX bytes: every lookup in it scans them all."""
    text = json.dumps(body, separators=(",", ":"))
    return fill(text[:-1] + ",", "}", lambda i: '"k%d":%d' % (i, i))


def langfuse_unique():
    # generation-create items without usage: all grouping, no events
    return fill('{"batch":[', ']}', lambda i: json.dumps(
        {"id": "e%d" % i, "type": "generation-create", "timestamp": "2026-08-25T10:00:00Z",
         "body": {"id": "obs-%d" % i, "name": "g"}}, separators=(",", ":")))


def langfuse_shared():
    # every item an update of a few observations: the 64-part cap is hit
    return fill('{"batch":[', ']}', lambda i: json.dumps(
        {"id": "e%d" % i, "type": "generation-update", "timestamp": "2026-08-25T10:00:00Z",
         "body": {"id": "obs-%d" % (i % 7), "model": "m"}}, separators=(",", ":")))


def kong_wide():
    # an entry with many members besides 2000 ai calls
    calls = ",".join('"c%d":{"meta":{"request_model":"m"},"usage":{"prompt_tokens":1,'
                     '"completion_tokens":1}}' % i for i in range(2000))
    head = ('{"request":{"id":"r1"},"response":{"status":200},"started_at":1787666591482,'
            '"workspace":"w","ai":{%s},' % calls)
    return fill(head, "}", lambda i: '"k%d":%d' % (i, i))


def otlp_wide_resource():
    # one resource with many attributes and 3000 spans with usage
    spans = ",".join(json.dumps(
        {"traceId": "t", "spanId": "s%d" % i, "startTimeUnixNano": "1787666591000000000",
         "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1"}},
                        {"key": "gen_ai.request.model", "value": {"stringValue": "m"}}]},
        separators=(",", ":")) for i in range(3000))
    tail = ']},"scopeSpans":[{"spans":[%s]}]}]}' % spans
    head = '{"resourceSpans":[{"resource":{"attributes":['
    return fill(head, "", lambda i: '{"key":"k%d","value":{"stringValue":"v"}}' % i,
                room=MAX - len(tail)) + tail


def envelope_wide():
    # an envelope with a 7 MiB org around 2000 elements
    el = ('{"id":"x%d","call_type":"acompletion","status":"success","model":"m",'
          '"prompt_tokens":1,"completion_tokens":1,"startTime":1787666591.5,"pad":"' +
          "p" * 400 + '"}')
    arr = ",".join(el % i for i in range(2000))
    org = "o" * (MAX - len(arr) - 64)
    return '{"tokenmeter":1,"org":"%s","body":[%s]}' % (org, arr)


def anthropic_sse():
    # an Anthropic stream as SSE text: one small document per line
    start = "data: " + json.dumps({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "model": "m",
        "usage": {"input_tokens": 2, "output_tokens": 1}}}) + "\n"
    delta = "data: " + json.dumps({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                   "usage": {"output_tokens": 3}}) + "\n"
    ping = 'data: {"type":"ping"}\n'
    n = (MAX - 256 - len(json.dumps(start + delta))) // (len(json.dumps(ping)) - 2)
    return json.dumps({"tokenmeter": 1, "body": start + ping * n + delta})


def anthropic_events():
    # the same stream as a JSON array of its events, read whole
    start = json.dumps({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "model": "m",
        "usage": {"input_tokens": 2, "output_tokens": 1}}})
    delta = json.dumps({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                        "usage": {"output_tokens": 3}})
    return fill("[" + start + ",", "," + delta + "]", lambda i: '{"type":"ping"}')


def golden_first(name):
    """The first object body of a golden case, or None."""
    path = os.path.join(DATA, name, "input.ndjson")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
    return None


def plain():
    """What execd does with any body of MAX bytes: parse, match no source,
    dead-letter."""
    return fill("{", "}", lambda i: '"k%d":%d' % (i, i))


def cpu(tmp, body, runs=2):
    best = None
    for _ in range(runs):
        p, t, _ = execd(tmp, body.encode() + b"\n", ["--max-body-bytes", str(MAX)],
                        timeout=TIMEOUT)
        best = t if best is None else min(best, t)
    return best, p


def main():
    r = Results("test_sender_linear")
    shapes = [("langfuse: unique observation ids", langfuse_unique),
              ("langfuse: few shared ids", langfuse_shared),
              ("kong: wide entry", kong_wide),
              ("otlp: wide resource", otlp_wide_resource),
              ("envelope: 7 MiB org around an array", envelope_wide),
              ("anthropic: SSE text of tiny events", anthropic_sse),
              ("anthropic: an array of tiny stream events", anthropic_events)]
    # every golden case's first object body, padded: each source's lookups
    # scan the padding
    for name in sorted(os.listdir(DATA)):
        body = golden_first(name)
        if body is not None:
            shapes.append(("%s: padded with short keys" % name,
                           lambda b=body: pad_keys(b)))
    with scratch() as tmp:
        base, _ = cpu(tmp, plain())
        base = max(base, 0.005)
        for what, make in shapes:
            body = make()
            try:
                t, p = cpu(tmp, body)
            except Exception as e:  # noqa: BLE001 (a timeout is a failure)
                r.check("%s finishes" % what, False, str(e)[:200])
                continue
            r.check("%s (%d bytes): %.3fs CPU <= %d x plain %.3fs" %
                    (what, len(body), t, RATIO, base), t <= RATIO * base)
    return r.done()


if __name__ == "__main__":
    sys.exit(main())
