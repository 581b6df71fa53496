#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: dead-letter amplification. Each rejected array element used to
become its own record repeating the envelope (an 8 MiB `[{},{},...]` made a
972 MB file; a 1 MiB org around 200 elements, 210 MB); an over-size line was
copied whole (a 1 GiB line, a 1.43 GB record), and replay loaded whole
records. Now a body causes at most a small multiple of its size in
dead-letter bytes, elements past the budget are recorded by reference to one
copy of the body (and replay treats exactly those), an over-size line keeps
a 64 KiB prefix, its size and a hash, and replay never holds a huge record."""
import base64
import json
import os
import sys

from sender_util import NO_CONFIG, Results, execd, points, run, scratch

FACTOR = 5          # dead-letter bytes per body byte, at most
SLACK = 64 * 1024   # plus this (docs/operations.md)
MIB = 1024 * 1024


def dl_path(tmp):
    return os.path.join(tmp, "dead-letter.ndjson")


def dl_size(tmp):
    p = dl_path(tmp)
    return os.path.getsize(p) if os.path.exists(p) else 0


def records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def replay(tmp, path, extra=()):
    out_dl = os.path.join(tmp, "replay-dead-letter.ndjson")
    if os.path.exists(out_dl):
        os.unlink(out_dl)
    p, _, rss = run(["replay"] + NO_CONFIG + ["--dead-letter", out_dl] + list(extra) + [path],
                    check=False)
    return p, out_dl, rss


def bounded(r, what, body_len, tmp):
    size = dl_size(tmp)
    r.check("%s: %d dead-letter bytes for a %d-byte body (<= %dx + 64 KiB)" %
            (what, size, body_len, FACTOR), size <= FACTOR * body_len + SLACK)


def main():
    r = Results("test_sender_deadletter")
    # 0. [{},{},...] of max_body_bytes holds more values than a body may
    #    (body.h, BODY_MAX_VALUES): one record, the whole body, its reason
    with scratch() as tmp:
        n = (8 * MIB - 2) // 3
        body = ("[" + ",".join(["{}"] * n) + "]").encode()
        execd(tmp, body + b"\n")
        bounded(r, "[{},{},...] of 8 MiB", len(body), tmp)
        recs = records(dl_path(tmp))
        r.check("over the value cap: one record with the body and the reason",
                len(recs) == 1 and "more than 1000000 JSON values" in recs[0].get("reason", "")
                and len(recs[0].get("raw", "")) == len(body), [x.get("reason") for x in recs][:3])

    # 1. [{},{},...] just under the value cap: every element rejected
    with scratch() as tmp:
        n = 999999
        body = ("[" + ",".join(["{}"] * n) + "]").encode()
        p, _, _ = execd(tmp, body + b"\n")
        bounded(r, "[{},{},...]", len(body), tmp)
        recs = records(dl_path(tmp))
        listed = [x for x in recs if "elements" in x]
        r.check("one record stands for the elements past the budget", len(listed) == 1)
        r.check("the stderr log is bounded too", len(p.stderr) <= FACTOR * len(body) + SLACK)
        # replay: every element is judged again, exactly once
        p, out_dl, _ = replay(tmp, dl_path(tmp))
        r.check("replay of it exits 0", p.returncode == 0, p.stderr[-300:])
        r.check("replay rejects each element once (%d)" % n,
                (" %d rejected" % n).encode() in p.stderr, p.stderr[-300:])
        size = os.path.getsize(out_dl)
        r.check("replay's own dead-letter output is bounded (%d bytes)" % size,
                size <= FACTOR * len(body) + SLACK)

    # 2. an envelope with a 1 MiB org around 200 bad elements
    with scratch() as tmp:
        body = json.dumps({"tokenmeter": 1, "org": "o" * MIB,
                           "body": [{"x": i} for i in range(200)]}).encode()
        execd(tmp, body + b"\n")
        bounded(r, "1 MiB org around 200 elements", len(body), tmp)
        recs = records(dl_path(tmp))
        r.check("the elements keep their envelope's org",
                all(json.loads(x["raw"])["org"] == "o" * MIB for x in recs))

    # 3. good and bad elements mixed, recorded partly by reference: replay
    #    (with the cause fixed) writes exactly the rejected ones
    with scratch() as tmp:
        els, want = [], set()
        for i in range(20000):
            if i % 2:
                els.append({"id": "chatcmpl-%d" % i, "object": "chat.completion",
                            "created": 1787649302, "model": "m",
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
                want.add("chatcmpl-%d" % i)
            else:
                els.append({"id": "l%d" % i, "call_type": "acompletion", "status": "success",
                            "model": "m", "prompt_tokens": 1, "completion_tokens": 1,
                            "startTime": 1787666591.5})
        body = json.dumps(els).encode()
        p, _, _ = execd(tmp, body + b"\n", ["--source", "litellm"])
        r.check("the litellm half is written", len(points(p.stdout)) == 10000)
        bounded(r, "20000 mixed elements", len(body), tmp)
        recs = records(dl_path(tmp))
        r.check("some elements are recorded by reference",
                any("elements" in x for x in recs))
        p, _, _ = replay(tmp, dl_path(tmp))
        got = [l.split('event_id="')[1].split('"')[0] for l in points(p.stdout)]
        r.check("replay writes each rejected element exactly once (%d of %d)" %
                (len(set(got)), len(want)), sorted(got) == sorted(want))

    # 3b. a list that is not one (hand-edited) is kept, not guessed at
    with scratch() as tmp:
        body = json.dumps([{"id": "chatcmpl-%d" % i, "object": "chat.completion",
                            "created": 1787649302, "model": "m",
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
                           for i in range(6)])
        path = os.path.join(tmp, "in.ndjson")
        with open(path, "w") as f:
            for el in ["1,3-4", "x", "3-1", "1,", "2,2"]:
                f.write(json.dumps({"time": "t", "reason": "r", "origin": "o", "raw": body,
                                    "elements": el}) + "\n")
        p, out_dl, _ = replay(tmp, path)
        got = [l.split('event_id="')[1].split('"')[0] for l in points(p.stdout)]
        r.check("replay takes exactly the listed elements", got == ["chatcmpl-1", "chatcmpl-3",
                                                                    "chatcmpl-4"], got)
        kept = [x.get("elements") for x in records(out_dl)]
        r.check("malformed lists are dead-lettered again with the list",
                kept == ["x", "3-1", "1,", "2,2"], kept)

    # 4. an over-size line keeps a prefix, its size and a hash
    with scratch() as tmp:
        big = b'{"pad":"' + b"z" * (64 * MIB) + b'"}'
        execd(tmp, big + b"\n")
        recs = records(dl_path(tmp))
        r.check("one record for the over-size line", len(recs) == 1)
        rec = recs[0]
        r.check("its record is small (%d bytes)" % dl_size(tmp), dl_size(tmp) <= 128 * 1024)
        r.check("it keeps the size", rec.get("raw_size") == len(big))
        r.check("it keeps the hash", rec.get("raw_fnv1a64") == "%016x" % fnv1a64(big))
        r.check("it keeps a 64 KiB prefix",
                base64.b64decode(rec["raw_base64"]) == big[:64 * 1024])
        p, _, _ = replay(tmp, dl_path(tmp))
        r.check("replay says it cannot be replayed", b"not replayable" in p.stderr,
                p.stderr[-300:])

    # 5. replay of a huge record (an old file) never holds it
    with scratch() as tmp:
        path = os.path.join(tmp, "old.ndjson")
        with open(path, "w") as f:
            f.write(json.dumps({"time": "2026-01-01T00:00:00Z", "reason": "x", "origin": "o",
                                "raw": "y" * (200 * MIB)}) + "\n")
            f.write(json.dumps({"time": "2026-01-01T00:00:00Z", "reason": "x", "origin": "o",
                                "raw": "{}"}) + "\n")
        p, out_dl, rss = replay(tmp, path, ["--set", "ingest.max_body_bytes=1048576"])
        r.check("replay skips the huge record, naming it", b"larger than" in p.stderr,
                p.stderr[-300:])
        r.check("and still reads the next one", len(records(out_dl)) == 1)
        r.check("replay's peak RSS %d KiB stays far below the record" % rss, rss < 64 * 1024)
    return r.done()


if __name__ == "__main__":
    sys.exit(main())
