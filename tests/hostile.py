#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile input: nothing from a webhook may crash tokenmeter, inject a point,
tag or field, or vanish.

Every hostile string goes into every body string that reaches a tag or a
field; around them: malformed and truncated JSON, invalid UTF-8, NUL bytes,
a 5 MB body, a 9 MB body (over max_body_bytes), 10 000-deep nesting,
negative, 2^70 and string token counts, re-sent duplicates. Then:

  * the process exits 0 (under ASan too: `make check-asan` runs this file);
  * every output line parses with a strict line-protocol reader, has only
    the known tag and field keys, and carries one event_id that was sent;
  * every input line has exactly the outcome it should (written, duplicate
    or rejected), the counters add up to the number of input lines, and
    every rejected line is in the dead-letter file byte-exact.

Usage: hostile.py BINARY
"""
import base64
import json
import os
import re
import subprocess
import sys
import tempfile

TAGS = {"model", "org", "provider", "source", "status", "team", "user"}
FIELDS = {"input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens",
          "reasoning_tokens", "total_tokens", "cost_usd", "latency_ms", "ttft_ms",
          "cost_source", "event_id", "trace_id", "finish_reason", "error_type", "operation"}

HOSTILE = [
    "new\nline", "two\n\nnewlines", 'q"uote', 'x" injected=1i,y="', "c,omma", "e=q",
    "s pace", "back\\slash", "trail\\", "\\", "\\\\", "a\\,b", "\\ ", "=,\\ \\", "tab\tin",
    "cr\rin", "ff\fin", "ctl\x01\x02\x1f\x7fend", "", " ", "llm_usage,org=evil x=1i 0",
    "x" * 10240, "é" * 6000, "😀" * 3000, "\u2028sep\u2029", "#comment",
]

# Body templates: where each hostile string can go. {S} is replaced
# (JSON-escaped) by the hostile string; {ID} by a unique id.
OPENAI_RESP = {
    "id": "{ID}", "object": "response", "created_at": 1787649302, "status": "completed",
    "model": "{S}", "metadata": {"org_id": "{S}", "team_id": "{S}", "user_id": "{S}"},
    "usage": {"input_tokens": 10, "output_tokens": 5},
}
LITELLM = {
    "id": "{ID}", "trace_id": "{S}", "call_type": "acompletion", "status": "failure",
    "custom_llm_provider": "{S}", "model": "{S}", "prompt_tokens": 3, "completion_tokens": 1,
    "response_cost": 0.5, "startTime": 1787666591.5,
    "response": {"choices": [{"finish_reason": "{S}"}]},
    "error_information": {"error_class": "{S}"},
    "metadata": {"user_api_key_org_id": "{S}", "user_api_key_team_id": "{S}",
                 "user_api_key_user_id": "{S}"},
}
ANTHROPIC_ID = {"id": "{S}", "type": "message", "model": "m",
                "usage": {"input_tokens": 1, "output_tokens": 1}}


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def anthropic_sse(s, ident):
    """An Anthropic stream as SSE text in an envelope, s in its model and stop reason."""
    start = {"type": "message_start", "message": {"id": ident, "model": s,
                                                  "usage": {"input_tokens": 2}}}
    delta = {"type": "message_delta", "delta": {"stop_reason": s}, "usage": {"output_tokens": 3}}
    text = "".join("event: %s\ndata: %s\n\n" % (e["type"], json.dumps(e)) for e in (start, delta))
    return {"tokenmeter": 1, "body": text}


def fill(template, s, ident):
    def walk(o):
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        if o == "{S}":
            return s
        if o == "{ID}":
            return ident
        return o
    return walk(template)


def dumps(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build():
    """Returns [(line_bytes, expected_outcome, event_id_or_None)]."""
    lines = []
    n = 0
    for s in HOSTILE:
        for tpl in (OPENAI_RESP, LITELLM):
            n += 1
            ident = "h%d" % n
            lines.append((dumps(fill(tpl, s, ident)), "written", ident))
        # the hostile string as the event id itself (made unique)
        n += 1
        ident = s + "#%d" % n
        lines.append((dumps(fill(ANTHROPIC_ID, ident, None)), "written", ident))
        n += 1
        ident = "h%d" % n
        lines.append((dumps(anthropic_sse(s, ident)), "written", ident))
    good = dumps(fill(OPENAI_RESP, "gpt-x", "dup-1"))
    lines.append((good, "written", "dup-1"))
    lines.append((good, "duplicate", None))
    lines.append((good + b"\r", "duplicate", None))  # CRLF re-send
    # malformed and truncated JSON
    full = dumps(fill(LITELLM, "m", "trunc"))
    for cut in (1, 2, 10, len(full) // 2, len(full) - 1):
        lines.append((full[:cut], "rejected", None))
    for bad in (b"{", b"}", b"[", b"null", b"42", b'"str"', b"{'single':1}", b"{\"a\":1}}",
                b"\x00", b"garbage \x00 with nul", b"{\"a\":\"\xff\xfe\"}", b"\xc3\x28",
                b"{\"id\":\"u\",\"type\":\"message\",\"model\":\"\xed\xa0\x80\"}",
                b"[[[[", b"{\"tokenmeter\":1,\"body\":\"x\"}"):
        lines.append((bad, "rejected", None))
    # nesting
    lines.append((b"[" * 10000 + b"]" * 10000, "rejected", None))
    lines.append((b"{\"a\":" * 10000 + b"1" + b"}" * 10000, "rejected", None))
    # token counts
    for v in (b"-1", b"1180591620717411303424", b"1e300", b"1.5", b"\"12x\"", b"true",
              b"{}", b"9223372036854775808"):
        lines.append((b"{\"id\":\"t\",\"type\":\"message\",\"model\":\"m\",\"usage\":"
                      b"{\"input_tokens\":" + v + b",\"output_tokens\":1}}", "rejected", None))
    n += 1
    lines.append((b"{\"id\":\"str%d\",\"type\":\"message\",\"model\":\"m\",\"usage\":"
                  b"{\"input_tokens\":\"123\",\"output_tokens\":\"4\"}}" % n, "written",
                  "str%d" % n))
    n += 1
    lines.append((b"{\"id\":\"max%d\",\"type\":\"message\",\"model\":\"m\",\"usage\":"
                  b"{\"input_tokens\":9223372036854775807,\"output_tokens\":1}}" % n,
                  "rejected", None))  # input + output overflows total
    # times at the edge of int64 nanoseconds: refused, never wrapped
    for t in (b"9223372036854", b"9223372036854775807", b"-1"):
        lines.append((b"{\"request\":{\"id\":\"k\"},\"started_at\":" + t +
                      b",\"ai\":{\"proxy\":{\"usage\":{\"prompt_tokens\":1,"
                      b"\"completion_tokens\":1},\"meta\":{\"response_model\":\"m\"}}}}",
                      "rejected", None))
    # a 5 MB body (under the 8 MiB limit: accepted) and a 9 MB one (streamed away)
    big = fill(LITELLM, "big", "big-5mb")
    big["messages"] = [{"role": "user", "content": "z" * (5 * 1024 * 1024)}]
    lines.append((dumps(big), "written", "big-5mb"))
    huge = fill(LITELLM, "huge", "huge-9mb")
    huge["messages"] = [{"role": "user", "content": "z" * (9 * 1024 * 1024)}]
    lines.append((dumps(huge), "rejected", None))
    return lines


def parse_name(s, i, stops):
    """InfluxDB's scan: a backslash takes the next byte with it. Also checks
    the rule that keeps Telegraf's parser in step: a backslash is never
    followed by another backslash or a control byte."""
    out = []
    while i < len(s) and s[i] not in stops:
        if s[i] == "\\":
            if i + 1 >= len(s) or s[i + 1] == "\\" or ord(s[i + 1]) < 0x20:
                raise ValueError("unsafe backslash at %d" % i)
            out.append(s[i:i + 2])
            i += 2
        else:
            if ord(s[i]) < 0x20 or s[i] == "\x7f":
                raise ValueError("control byte in a name at %d" % i)
            out.append(s[i])
            i += 1
    return "".join(out), i


def parse_line(s):
    """Strict reader: returns (measurement, {tag: value}, {field: raw}, ts)."""
    i = 0
    meas, i = parse_name(s, i, ", ")
    tags = {}
    while i < len(s) and s[i] == ",":
        k, i = parse_name(s, i + 1, ",= ")
        if s[i] != "=":
            raise ValueError("tag without =")
        v, i = parse_name(s, i + 1, ", ")
        if not k or not v or k in tags:
            raise ValueError("bad or repeated tag %r" % k)
        tags[k] = v
    if s[i] != " ":
        raise ValueError("no space before fields")
    i += 1
    fields = {}
    while True:
        k, i = parse_name(s, i, ",= ")
        if s[i] != "=" or k in fields:
            raise ValueError("bad or repeated field %r" % k)
        i += 1
        if s[i] == '"':
            j = i + 1
            while s[j] != '"':
                if s[j] == "\\":
                    if s[j + 1] not in '"\\':
                        raise ValueError("bad escape in string")
                    j += 2
                    continue
                if s[j] in "\r\n\f":
                    raise ValueError("raw control in string")
                j += 1
            fields[k] = s[i:j + 1]
            i = j + 1
        else:
            m = re.match(r"-?[0-9]+i|-?[0-9.]+(e[-+]?[0-9]+)?", s[i:])
            if not m:
                raise ValueError("bad field value at %d" % i)
            fields[k] = m.group(0)
            i += len(m.group(0))
        if s[i] == ",":
            i += 1
            continue
        break
    if s[i] != " " or not re.fullmatch(r"[0-9]{1,19}", s[i + 1:]):
        raise ValueError("bad timestamp")
    return meas, tags, fields, int(s[i + 1:])


def unquote(v):
    return re.sub(r'\\(["\\])', r"\1", v[1:-1])


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    binary = sys.argv[1]
    cases = build()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.ndjson")
        dl = os.path.join(tmp, "dl.ndjson")
        with open(inp, "wb") as f:
            for line, _, _ in cases:
                f.write(line + b"\n")
            # gather signals in the stream: blank and whitespace-only lines are
            # not input lines, each one asks for a stats point
            f.write(b"\n \t\r\n")
        wrap = os.environ.get("WRAP", "").split()
        p = subprocess.run(wrap + [binary, "execd", "--dead-letter", dl, "--extra-tags",
                                   "team,user", inp],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        stderr = p.stderr.decode("utf-8", "replace")
        if p.returncode != 0:
            failures.append("exit status %d: %s" % (p.returncode, stderr[-2000:]))
        out = p.stdout.decode("utf-8")
        records = []
        if os.path.exists(dl):
            with open(dl, "rb") as f:
                records = [json.loads(l) for l in f if l.strip()]

    # 1. structure of every output line
    written_ids = []
    stats_lines = 0
    for line in out.split("\n")[:-1]:
        try:
            meas, tags, fields, _ = parse_line(line)
        except (ValueError, IndexError) as e:
            failures.append("unparseable output line (%s): %r" % (e, line[:200]))
            continue
        if meas == "tokenmeter_stats":
            stats_lines += 1
            continue
        if meas != "llm_usage":
            failures.append("injected measurement %r" % meas)
        if set(tags) - TAGS or {"model", "org", "provider", "source", "status"} - set(tags):
            failures.append("tag keys %r" % sorted(tags))
        if set(fields) - FIELDS or "event_id" not in fields:
            failures.append("field keys %r" % sorted(fields))
            continue
        if len(line.encode()) >= 65536:
            failures.append("line of %d bytes" % len(line.encode()))
        written_ids.append(unquote(fields["event_id"]))
    if stats_lines != 2:
        failures.append("%d stats points for two blank lines" % stats_lines)

    # 2. every input line has its outcome
    want_written = [c[2] for c in cases if c[1] == "written"]
    # ids of 160 bytes or more become prefix~FNV-1a-64 (event_compact_id);
    # strings are visible-escaped; compare the same way
    def fnv1a(data):
        h = 0xcbf29ce484222325
        for byte in data:
            h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
        return h

    def as_written(ident):
        raw = ident.encode()
        if len(raw) >= 160:
            ident = "%s~%016x" % (raw[:141].decode("utf-8", "ignore"), fnv1a(raw))
        b = ident
        for ch, vis in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\f", "\\f")):
            b = b.replace(ch, vis)
        return "".join(c for c in b if ord(c) >= 0x20 and c != "\x7f")
    if [as_written(i) for i in want_written] != written_ids:
        missing = set(map(as_written, want_written)) ^ set(written_ids)
        failures.append("written events differ: %d wanted, %d written; differing: %r"
                        % (len(want_written), len(written_ids), sorted(missing)[:5]))
    want_rejected = [c[0] for c in cases if c[1] == "rejected"]
    if len(records) != len(want_rejected):
        failures.append("%d dead-letter records, %d rejected lines"
                        % (len(records), len(want_rejected)))
    for rec, raw in zip(records, want_rejected):
        got = (rec["raw"].encode("utf-8") if "raw" in rec
               else base64.b64decode(rec["raw_base64"]))
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if "raw_size" in rec:  # over max_body_bytes: a prefix, the size, a hash
            if (rec["raw_size"], rec["raw_fnv1a64"]) != (len(raw), "%016x" % fnv1a64(raw)):
                failures.append("over-size record: wrong size or hash (%s)" % rec.get("reason"))
            raw = raw[:len(got)]
        if got != raw:
            failures.append("dead-letter record not byte-exact: %r vs %r (%s)"
                            % (got[:60], raw[:60], rec.get("reason")))
        if not rec.get("reason"):
            failures.append("dead-letter record without a reason")

    # 3. the counters add up
    m = re.search(r"I! done: (\d+) lines, (\d+) events, (\d+) written, (\d+) duplicates, "
                  r"(\d+) ignored, (\d+) rejected", stderr)
    if not m:
        failures.append("no closing counters on stderr")
    else:
        lines_, events, written, dups, ignored, rejected = map(int, m.groups())
        want = {"lines": len(cases), "written": len(want_written),
                "duplicates": sum(1 for c in cases if c[1] == "duplicate"),
                "rejected": len(want_rejected), "ignored": 0}
        got = {"lines": lines_, "written": written, "duplicates": dups, "rejected": rejected,
               "ignored": ignored}
        if got != want:
            failures.append("counters %r, want %r" % (got, want))
        if written + dups + ignored + rejected != lines_ or events != written + dups:
            failures.append("counters do not add up: %r" % (m.groups(),))
    for line in stderr.splitlines():
        if not re.match(r"^[EWID]! ", line):
            failures.append("stderr line without a Telegraf prefix: %r" % line[:120])
            break
        if len(line.encode()) > 4096:
            failures.append("stderr line of %d bytes" % len(line.encode()))
            break

    for f in failures:
        print("FAIL " + f)
    checks = 4
    print("hostile: %d input lines; %d passed, %d failed"
          % (len(cases), checks - min(checks, len(failures)), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
