#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peak RSS of `tokenmeter execd`: flat in the number of events, bounded
per body.

  stream   100 000 and 2 000 000 events of the mixed stream (stream.py; 400
           distinct bodies, each id made unique per event so that nothing is
           a duplicate), piped in: the peak must not grow with the count;
  hostile  one body of each worst shape at max_body_bytes (8 MiB): a long
           array of small values, many short keys, deep nesting (2 000
           levels, repeated), a long escaped string, long numbers. The peak
           is reported in MiB and as a multiple of the body's size.

Peak RSS is the child's own (wait4). Nothing passes or fails on it.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stream  # noqa: E402

COUNTS = [int(x) for x in os.environ.get("BENCH_RSS_EVENTS", "100000,2000000").split(",")]
BODY = 8 * 1024 * 1024 - 64
ID = re.compile(rb'"id":"([^"]*)"')


def peak_kib(launcher, tmp, cmd, feed):
    """Runs cmd (through peak_rss.c), writing every chunk of feed() to its
    stdin; returns its own peak RSS in KiB and its exit status."""
    out = os.path.join(tmp, "peak")
    p = subprocess.Popen([launcher, out] + cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        for chunk in feed():
            p.stdin.write(chunk)
        p.stdin.close()
    except BrokenPipeError:
        pass
    p.wait()
    with open(out) as f:
        kib, rc = f.read().split()
    return int(kib), int(rc)


def events(n):
    base = list(stream.lines("mixed", 400))

    def feed():
        batch = []
        for i in range(n):
            line = base[i % len(base)]
            batch.append(ID.sub(lambda m: b'"id":"%s-%d"' % (m.group(1), i), line, count=1))
            if len(batch) == 1000:
                yield b"\n".join(batch) + b"\n"
                batch = []
        if batch:
            yield b"\n".join(batch) + b"\n"
    return feed


def repeat(head, unit, tail, sep=b","):
    k = (BODY - len(head) - len(tail)) // (len(unit) + len(sep))
    return head + sep.join([unit] * k) + tail


HOSTILE = {
    "array of zeros": lambda: repeat(b'{"a":[', b"0", b"]}"),
    "many short keys": lambda: b"{" + b",".join(
        b'"%x":0' % i for i in range(BODY // 10)) + b"}",
    "deep nesting": lambda: repeat(b'{"a":[', b"[" * 2000 + b"]" * 2000, b"]}"),
    "escaped string": lambda: b'{"a":"' + b"\\u00e9" * ((BODY - 8) // 6) + b'"}',
    "long numbers": lambda: repeat(b'{"a":[', b"-1234567890123456789012345678901234567.5e-300",
                                   b"]}"),
}


def main():
    binary = os.environ.get("TOKENMETER") or sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        launcher = stream.build(tmp, "peak_rss")
        cmd = [binary, "execd", "--dead-letter", os.path.join(tmp, "dl"),
               "--receive-time", "2026-08-25T00:00:00Z"]
        for n in COUNTS:
            kib, rc = peak_kib(launcher, tmp, cmd, events(n))
            print("%9d events      : peak RSS %7.1f MiB%s" % (n, kib / 1024,
                                                             "" if rc == 0 else " (exit %d)" % rc))
        for name, make in HOSTILE.items():
            body = make()
            kib, rc = peak_kib(launcher, tmp, cmd, lambda: [body + b"\n"])
            print("%-18s: peak RSS %7.1f MiB = %4.1fx its %.1f MiB body%s"
                  % (name, kib / 1024, kib * 1024 / len(body), len(body) / 1048576,
                     "" if rc == 0 else " (exit %d)" % rc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
