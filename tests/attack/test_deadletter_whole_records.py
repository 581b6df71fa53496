#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""On a full disk a dead-letter record was cut short without a newline; the
next process's record was glued to it and replay lost both. A record is now
written whole or cut back, and replay resynchronises at a record glued to a
cut one. A full disk is played by RLIMIT_FSIZE: a write across the limit is
short, the next one fails (SIGXFSZ ignored, as a full disk raises none)."""
import json
import os
import resource
import signal
import subprocess

from sinks_util import BIN, CHAT, NO_CONFIG, points, records, scratch, tmlib

BIG = '{"not":"usage","pad":"%s"}' % ("x" * 3000)


def limited(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def main():
    res = tmlib.Results("deadletter-whole-records")
    with scratch() as tmp:
        dl = os.path.join(tmp, "dl.ndjson")
        p = subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl],
                           input=('{"small":1}\n').encode(), capture_output=True, timeout=60)
        size = os.path.getsize(dl)
        res.check(p.returncode == 0 and size > 0, "a first record is written")
        # room for 1000 more bytes: the 3 kB record is cut short by the limit
        p = subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl],
                           input=(BIG + "\n").encode(), capture_output=True, timeout=60,
                           preexec_fn=limited(size + 1000))
        res.equal(os.path.getsize(dl), size, "a record that does not fit is cut back whole")
        res.equal(p.returncode, 74, "the record that could not be kept is reported (74)")
        res.check(all(isinstance(r, dict) for r in records(dl)), "every line is a whole record")

        # replay resynchronises after a record cut by a crash
        cut = os.path.join(tmp, "cut.ndjson")
        good = json.dumps({"time": "2026-12-01T00:00:00Z", "reason": "r", "raw": CHAT % 7},
                          separators=(",", ":"))
        with open(cut, "w") as f:
            f.write(good[:70] + good + "\n" + good.replace("chatcmpl-7", "chatcmpl-8") + "\n")
        p = subprocess.run([BIN, "replay"] + NO_CONFIG + ["--dead-letter",
                                                          os.path.join(tmp, "again.ndjson"), cut],
                           capture_output=True, timeout=60)
        got = points(p.stdout)
        res.equal(len(got), 2, "replay: the record glued to a cut one is read, and the next")
        res.check(any("chatcmpl-7" in l for l in got), "replay: the glued record's event")
        res.equal(p.returncode, 65, "replay: the cut record is reported (65)")
        res.check(b"cut short" in p.stderr, "replay: says a record was cut short")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
