#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`process` runs inside Telegraf where no blank line ever arrives, so its
counters were never seen. tokenmeter_stats is now written every
[ingest] stats_interval in every long-running mode, tagged with the host and
the mode, so several hosts' counters never mix."""
import socket

from sinks_util import CHAT, Child, scratch, tmlib


def main():
    res = tmlib.Results("stats-clock")
    with scratch() as tmp:
        for mode in ("execd", "process"):
            c = Child(["-c", "/dev/null", mode, "--dead-letter", tmp + "/dl.ndjson", "--set",
                       "ingest.stats_interval=1"])
            if mode == "execd":
                c.send(CHAT % 1 + "\n")
            else:
                c.send("cpu usage=1 1\n")
            first = c.read_line()
            st = c.read_until("tokenmeter_stats,")  # no blank line, no signal: the clock
            st2 = c.read_until("tokenmeter_stats,")
            rc, _, _ = c.finish()
            res.check(first is not None and not first.startswith("tokenmeter_stats"),
                      "%s: the input's line comes first" % mode)
            res.check(st is not None and st.startswith("tokenmeter_stats,host=%s,mode=%s "
                                                      % (socket.gethostname(), mode)),
                      "%s: a stats point on the clock, tagged host and mode: %r"
                      % (mode, (st or "")[:80]))
            res.check(st2 is not None, "%s: and again" % mode)
            res.equal(rc, 0, "%s: exit 0" % mode)
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
