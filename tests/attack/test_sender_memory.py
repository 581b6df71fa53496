#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: one body of max_body_bytes shaped to make the parse tree as
large as possible (one 8 MiB `{"a":[0,0,0,...]}` took execd to 345 MB). For
each worst shape, execd's peak RSS must stay within the bound stated in
include/tokenmeter/body.h and docs/operations.md: 12 x max_body_bytes +
16 MiB."""
import json
import sys

from sender_util import Results, execd, scratch

MAX = 8 * 1024 * 1024  # the default max_body_bytes
MIB = 1024 * 1024
BOUND_KIB = (12 * MAX + 16 * MIB) // 1024


def fill(prefix, suffix, unit, sep=","):
    n = (MAX - 16 - len(prefix) - len(suffix)) // (len(unit) + len(sep))
    return prefix + sep.join([unit] * n) + suffix


def short_keys():
    parts, size, i = [], 2, 0
    while size < MAX - 32:
        p = '"%x":0' % i
        parts.append(p)
        size += len(p) + 1
        i += 1
    return "{" + ",".join(parts) + "}"


def kong_many_calls():
    # tiny calls, each a point carrying long tags: points 40x the body
    head = ('{"request":{"id":"%s"},"response":{"status":200},"started_at":1787666591482,'
            '"workspace":"%s","consumer":{"username":"%s"},"ai":{' % ("r" * 150, "w" * 500,
                                                                      "u" * 500))
    parts, size, i = [], len(head) + 2, 0
    while True:
        p = '"%x":{"usage":{"prompt_tokens":1}}' % i
        if size + len(p) + 1 > MAX - 16:
            break
        parts.append(p)
        size += len(p) + 1
        i += 1
    return head + ",".join(parts) + "}}"


def envelope_tiny_events():
    # an array of tiny valid events in an envelope with long tenancy
    el = ('{"type":"message","model":"m","usage":{"input_tokens":1,"output_tokens":1}}')
    return fill('{"tokenmeter":1,"org":"%s","team":"%s","user":"%s","body":[' %
                ("o" * 500, "t" * 500, "u" * 500), ']}', el)


def anthropic_sse_pings():
    # an Anthropic stream as SSE text: one parsed body per line, all kept
    start = 'data: ' + json.dumps({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "model": "m",
        "usage": {"input_tokens": 2, "output_tokens": 1}}}) + "\n"
    delta = 'data: ' + json.dumps({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                   "usage": {"output_tokens": 3}}) + "\n"
    ping = 'data: {"type":"ping"}\n'
    unit = len(json.dumps(ping)) - 2
    n = (MAX - 256 - len(json.dumps(start + delta))) // unit
    return json.dumps({"tokenmeter": 1, "body": start + ping * n + delta})


SHAPES = [
    ("an SSE stream of tiny events", anthropic_sse_pings),
    ("one Kong entry of tiny calls with long tags", kong_many_calls),
    ("tiny events in an envelope with long tags", envelope_tiny_events),
    ("long array of small values", lambda: fill('{"a":[', ']}', '0')),
    ("array of empty arrays", lambda: fill('[', ']', '[]')),
    ("array of empty objects", lambda: fill('[', ']', '{}')),
    ("array of empty strings", lambda: fill('[', ']', '""')),
    ("many short keys", short_keys),
    ("many empty duplicate keys", lambda: fill('{', '}', '"":0')),
    ("deep nesting, repeated", lambda: fill('[', ']', '[' * 2000 + ']' * 2000)),
    ("long escaped string", lambda: '{"s":"' + '\\u00e9' * ((MAX - 16) // 6) + '"}'),
    ("long string of short escapes", lambda: '{"s":"' + '\\n' * ((MAX - 16) // 2) + '"}'),
    ("one huge number", lambda: '[1.' + '0' * (MAX - 16) + '1]'),
    ("many huge reals", lambda: fill('[', ']', '1e308')),
    # Helicone's response_body is JSON in a string, parsed again
    ("a body inside a string", lambda: fill('{"request_id":"r","response_body":"[', ']"}', '0')),
]


def main():
    r = Results("test_sender_memory")
    with scratch() as tmp:
        for what, make in SHAPES:
            body = make().encode()
            assert len(body) <= MAX, (what, len(body))
            p, _, rss = execd(tmp, body + b"\n", ["--extra-tags", "team,user"])
            r.check("%s (%d bytes): peak RSS %d KiB <= %d KiB" % (what, len(body), rss, BOUND_KIB),
                    0 < rss <= BOUND_KIB)
            r.check("%s: judged, not out of memory" % what, b"out of memory" not in p.stderr,
                    p.stderr[-200:])
    return r.done()


if __name__ == "__main__":
    sys.exit(main())
