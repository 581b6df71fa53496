#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Started with stdout, stderr or stdin closed (`>&-`), the dead-letter file
used to be opened as fd 1 or 2: line protocol (or the log) went into it and
execd exited 0. fds 0-2 are now opened on /dev/null first, and execd refuses
to run without a usable stdout."""
import os
import subprocess

from sinks_util import BIN, CHAT, BAD, NO_CONFIG, records, scratch, tmlib


def run_closed(fd, dl, data):
    # the shell closes fd for the child only, as `tokenmeter ... >&-` would
    redir = {0: "<&-", 1: ">&-", 2: "2>&-"}[fd]
    feed = "" if fd == 0 else "< %s" % data
    cmd = "exec '%s' %s execd --dead-letter '%s' %s %s" % (BIN, " ".join(NO_CONFIG), dl, feed,
                                                           redir)
    return subprocess.run(["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


def main():
    res = tmlib.Results("fd-closed-std")
    with scratch() as tmp:
        data = os.path.join(tmp, "in.ndjson")
        with open(data, "w") as f:
            f.write(CHAT % 1 + "\n" + BAD % 1 + "\n")
        for fd in (1, 2, 0):
            dl = os.path.join(tmp, "dl-%d.ndjson" % fd)
            p = run_closed(fd, dl, data)
            recs = records(dl)
            res.check(all(isinstance(r, dict) and "reason" in r for r in recs),
                      "fd %d closed: the dead-letter file holds records only (%r)"
                      % (fd, [str(r)[:60] for r in recs]))
            if fd == 1:
                res.equal(p.returncode, 74, "stdout closed: execd refuses, exit 74")
                res.check(b"stdout is closed" in p.stderr, "stdout closed: says why")
                res.equal(recs, [], "stdout closed: nothing written anywhere")
            elif fd == 2:
                res.equal(p.returncode, 0, "stderr closed: runs, exit 0")
                res.check(b"llm_usage," in p.stdout, "stderr closed: the point is on stdout")
                res.equal(len(recs), 1, "stderr closed: the bad body is dead-lettered")
            else:
                res.equal(p.returncode, 0, "stdin closed: read as empty, exit 0")
                res.equal(p.stdout, b"", "stdin closed: no output")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
