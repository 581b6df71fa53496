#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A signal that arrived before the handlers were installed killed the
process by its default action. The streaming commands now block their
signals from main's first line: a SIGTERM during start-up waits, and the
run ends as a SIGTERM should (exit 0, the summary logged).

The start-up is held still deterministically: the configuration file is a
FIFO, so the process waits in open(2) until the test writes the file."""
import os
import signal
import subprocess
import time

from sinks_util import BIN, HANG, scratch, tmlib


def main():
    res = tmlib.Results("fd-signal-at-start")
    with scratch() as tmp:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            fifo = os.path.join(tmp, "conf-%d" % sig)
            os.mkfifo(fifo)
            p = subprocess.Popen([BIN, "-c", fifo, "execd", "--dead-letter",
                                  os.path.join(tmp, "dl.ndjson")],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            # wait until it is blocked opening the FIFO (past main's start)
            deadline = time.time() + HANG
            while time.time() < deadline:
                try:
                    with open("/proc/%d/wchan" % p.pid) as w:
                        wchan = w.read()
                    if "fifo" in wchan or "partner" in wchan:  # wait_for_partner
                        break
                except OSError:
                    pass
                time.sleep(0.01)
            p.send_signal(sig)
            time.sleep(0.1)
            try:  # no reader left: it died of the signal
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.write(fd, b"[ingest]\n")
                os.close(fd)
            except OSError:
                pass
            if sig in (signal.SIGHUP, signal.SIGUSR1):
                # not a stop: the run goes on, and EOF ends it
                p.stdin.close()
                p.stdin = None
            out, err = p.communicate(timeout=HANG)
            res.equal(p.returncode, 0, "%s during start-up: handled, exit 0" % sig.name)
            res.check(b"I! done:" in err, "%s during start-up: the run ends normally" % sig.name)
            if sig in (signal.SIGHUP, signal.SIGUSR1):
                res.check(out.startswith(b"tokenmeter_stats,"),
                          "%s during start-up: its stats point is written (%r)"
                          % (sig.name, out[:60]))
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
