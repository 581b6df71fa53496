#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Latency of one event through `tokenmeter execd` at a low rate.

One process, as Telegraf runs it: for each of 10 000 LiteLLM-heavy events
(stream.py), write the line to its stdin and time until its point is read
back from its stdout; the next event goes out at the next 1 ms slot
(BENCH_RATE events/s, default 1000), so there is never more than one in
flight. Reported: p50, p99 and max, and the minor page faults the process
took after the first event (each one a few µs of the tail). The peer is
`cat` driven by the same loop: the floor that the pipes and this Python
loop cost by themselves.
Nothing passes or fails on time.
"""
import os
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stream  # noqa: E402

N = int(os.environ.get("BENCH_LATENCY_EVENTS", "10000"))
RATE = float(os.environ.get("BENCH_RATE", "1000"))


def measure(cmd, lines):
    """Round-trip times in µs (one line in, one line out), or None if lost."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, bufsize=0)
    fin, fout = p.stdin.fileno(), p.stdout.fileno()
    pending = b""
    times = []
    lost = 0
    faults = None
    slot = time.perf_counter()
    for i, line in enumerate(lines):
        if i == 1:
            faults = minor_faults(p.pid)
        slot += 1.0 / RATE
        delay = slot - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter_ns()
        os.write(fin, line + b"\n")
        while b"\n" not in pending:
            ready, _, _ = select.select([fout], [], [], 5.0)
            if not ready:
                break
            chunk = os.read(fout, 65536)
            if not chunk:
                break
            pending += chunk
        t1 = time.perf_counter_ns()
        if b"\n" not in pending:
            lost += 1
            continue
        pending = pending[pending.index(b"\n") + 1:]
        times.append((t1 - t0) / 1000.0)
    end = minor_faults(p.pid)
    p.stdin.close()
    p.wait()
    return times, lost, (end - faults if end is not None and faults is not None else None)


def minor_faults(pid):
    """The process's minor page faults so far (/proc/PID/stat), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[7])
    except (OSError, ValueError, IndexError):
        return None


def summary(name, times, lost, faults):
    if not times:
        print("%-16s: no events came back" % name)
        return
    t = sorted(times)
    pick = lambda q: t[min(len(t) - 1, int(q * len(t)))]  # noqa: E731
    print("%-16s: p50 %6.1f µs  p99 %6.1f µs  max %7.1f µs  (%d events%s%s)"
          % (name, pick(0.50), pick(0.99), t[-1], len(t), ", %d lost" % lost if lost else "",
             "; %d page faults after the first" % faults if faults is not None else ""))


def main():
    binary = os.environ.get("TOKENMETER") or sys.argv[1]
    lines = list(stream.lines("litellm", N))
    with tempfile.TemporaryDirectory() as tmp:
        tm = measure([binary, "execd", "--dead-letter", os.path.join(tmp, "dl"),
                      "--receive-time", "2026-08-25T00:00:00Z"], lines)
    floor = measure(["cat"], lines)
    print("%d LiteLLM-heavy events, one at a time at %.0f/s:" % (N, RATE))
    summary("tokenmeter execd", *tm)
    summary("cat (the floor)", *floor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
