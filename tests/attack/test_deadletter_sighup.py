#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`mv dead-letter.ndjson retry.ndjson` (the replay procedure) while execd
ran kept it writing to the moved file. SIGHUP now reopens the dead-letter
file at its configured path, as logrotate expects."""
import os
import signal

from sinks_util import BAD, NO_CONFIG, Child, records, scratch, tmlib


def main():
    res = tmlib.Results("deadletter-sighup")
    with scratch() as tmp:
        dl = os.path.join(tmp, "dead-letter.ndjson")
        moved = os.path.join(tmp, "retry.ndjson")
        c = Child(["execd"] + NO_CONFIG + ["--dead-letter", dl])
        c.send(BAD % 1 + "\n\n")
        c.read_until("tokenmeter_stats,")
        os.rename(dl, moved)
        c.p.send_signal(signal.SIGHUP)
        c.read_until("tokenmeter_stats,")  # SIGHUP answers with a stats point
        c.send(BAD % 2 + "\n\n")
        c.read_until("tokenmeter_stats,")
        rc, _, err = c.finish()
        res.equal(rc, 0, "exit 0")
        res.equal([r["raw"] for r in records(moved)], [BAD % 1], "the moved file keeps its record")
        res.equal([r["raw"] for r in records(dl)], [BAD % 2], "after SIGHUP: a new file at the path")
        res.check("reopened" in err, "the reopen is logged")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
