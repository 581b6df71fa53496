#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Latency of one event through `tokenmeter execd` at a low rate.

One process, as Telegraf runs it: for each of 10 000 LiteLLM-heavy events
(stream.py), write the line to its stdin and time until its point is read
back from its stdout, at BENCH_RATE events/s (default 1000), so there is
never more than one in flight. The peer is `cat`, the floor that the pipes
and the scheduler cost by themselves; latency_driver.c drives both in the
same loop, each event to tokenmeter and half a slot later to cat, so both
meet the same machine. Reported: p50, p99, p99.9 and max over the events
after the first, the first apart (it includes start-up: the price map is
loaded), and the minor page faults after the first event.
Nothing passes or fails on time.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stream  # noqa: E402

N = int(os.environ.get("BENCH_LATENCY_EVENTS", "10000"))
RATE = float(os.environ.get("BENCH_RATE", "1000"))


def summary(name, times, first, lost, faults):
    if not times:
        print("%-16s: no events came back" % name)
        return
    t = sorted(times)
    pick = lambda q: t[min(len(t) - 1, int(q * len(t)))]  # noqa: E731
    extra = []
    if lost:
        extra.append("%d lost" % lost)
    if faults is not None:
        extra.append("%d page faults after the first" % faults)
    print("%-16s: p50 %6.1f µs  p99 %6.1f µs  p99.9 %6.1f µs  max %7.1f µs  first %8.1f µs"
          "  (%d events%s)" % (name, pick(0.50), pick(0.99), pick(0.999), t[-1], first,
                               len(t), "".join("; " + e for e in extra)))


def main():
    binary = os.environ.get("TOKENMETER") or sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        driver = stream.build(tmp, "latency_driver")
        feed = os.path.join(tmp, "events.ndjson")
        with open(feed, "wb") as f:
            for line in stream.lines("litellm", N + 1):
                f.write(line + b"\n")
        out = subprocess.run(
            [driver, feed, str(RATE), binary, "execd", "--dead-letter", os.path.join(tmp, "dl"),
             "--receive-time", "2026-08-25T00:00:00Z", "--", "cat"],
            capture_output=True, text=True, check=True).stdout
    times = {"A": [], "B": []}
    first, lost, faults = {}, {"A": 0, "B": 0}, {}
    for row in out.splitlines():
        f = row.split()
        if f[0] == "first":
            first[f[1]] = int(f[2]) / 1000.0
        elif f[0] == "lost":
            lost[f[1]] = int(f[2])
        elif f[0] == "faults":
            faults[f[1]] = int(f[2])
        else:
            times[f[0]].append(int(f[1]) / 1000.0)
    print("%d LiteLLM-heavy events after a first one, one at a time at %.0f/s:" % (N, RATE))
    summary("tokenmeter execd", times["A"], first.get("A", 0.0), lost["A"], faults.get("A"))
    summary("cat (the floor)", times["B"], first.get("B", 0.0), lost["B"], faults.get("B"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
