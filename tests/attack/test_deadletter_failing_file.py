#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A dead-letter write that failed (disk full, file removed, permission)
stopped execd with exit 74, and the good events behind it were lost in the
pipe. Now the good events keep flowing, a refused record is held in memory
and retried, the failures show in the stats point, and only records still
held at exit make the exit status 74 (with a message saying how many)."""
import os
import shutil
import signal

from sinks_util import BAD, CHAT, NO_CONFIG, Child, points, records, scratch, tmlib


def main():
    res = tmlib.Results("deadletter-failing-file")

    # 1. a disk that is always full: good events flow, the loss is reported
    c = Child(["execd"] + NO_CONFIG + ["--dead-letter", "/dev/full"])
    for i in range(50):
        c.send(CHAT % i + "\n" + BAD % i + "\n")
    c.send("\n")
    stats = c.read_until("tokenmeter_stats,")
    rc, out, err = c.finish()
    res.check(stats is not None and "dead_letter_failures=50i" in stats
              and "dead_letter_held=50i" in stats,
              "/dev/full: failures and held records in the stats point: %r" % (stats or "")[-120:])
    res.equal(rc, 74, "/dev/full: held records lost at exit give 74")
    res.check("50 rejected bodies could not be written" in err, "/dev/full: the loss is logged")
    res.check(err.count("E! cannot write dead-letter file") <= 21,
              "/dev/full: the failure log is rate-limited")
    c2 = Child(["execd"] + NO_CONFIG + ["--dead-letter", "/dev/full"])
    for i in range(50):
        c2.send(CHAT % i + "\n" + BAD % i + "\n")
    rc2, out2, _ = c2.finish()
    res.equal(len(points(out2)), 50, "/dev/full: every good event is written")

    # 2. the directory removed, then back: the held records land, none lost
    with scratch() as tmp:
        d = os.path.join(tmp, "dl")
        os.mkdir(d)
        dl = os.path.join(d, "dead-letter.ndjson")
        c = Child(["execd"] + NO_CONFIG + ["--dead-letter", dl])
        c.send(BAD % 0 + "\n" + CHAT % 0 + "\n")
        res.check((c.read_line() or "").startswith("llm_usage,"), "removed dir: first point")
        shutil.rmtree(d)
        for i in range(1, 6):
            c.send(BAD % i + "\n" + CHAT % i + "\n")
            res.check((c.read_line() or "").startswith("llm_usage,"),
                      "removed dir: point %d still flows" % i)
        c.send("\n")
        stats = c.read_until("tokenmeter_stats,") or ""
        res.check("dead_letter_held=5i" in stats, "removed dir: 5 records held: %r" % stats[-60:])
        os.mkdir(d)
        c.p.send_signal(signal.SIGUSR1)  # any wake-up retries
        c.read_until("tokenmeter_stats,")
        rc, out, err = c.finish()
        res.equal(rc, 0, "removed dir: exit 0 once the records are written")
        reasons = [r.get("raw") for r in records(dl) if isinstance(r, dict)]
        res.equal(reasons, [BAD % i for i in range(1, 6)],
                  "removed dir: the held records are written, in order")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
