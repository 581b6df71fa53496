#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A name already present in bad/ (a directory, or the same name set aside
twice) made rename fail and execd exit 74 on every run, and a second entry
of the same name silently replaced the first. Entries are now set aside
under a unique name: nothing in bad/ is replaced, and the reader goes on."""
import os
import subprocess

from sinks_util import BIN, CHAT, NO_CONFIG, points, scratch, tmlib


def drain(spool, dl):
    return subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl, "--spool", spool,
                                                       "--once"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def main():
    res = tmlib.Results("spool-bad-names")
    with scratch() as tmp:
        spool = os.path.join(tmp, "spool")
        for p in ("new", "tmp", "bad"):
            os.makedirs(os.path.join(spool, p))
        dl = os.path.join(tmp, "dl.ndjson")
        os.makedirs(os.path.join(spool, "bad", "x", "inside"))  # bad/x: a directory
        with open(os.path.join(spool, "bad", "y"), "w") as f:
            f.write("set aside before\n")
        for run in range(3):
            os.mkfifo(os.path.join(spool, "new", "x"))  # not a regular file: set aside
            os.mkdir(os.path.join(spool, "new", "y"))
            with open(os.path.join(spool, "new", "z%d" % run), "w") as f:
                f.write(CHAT % run)
            p = drain(spool, dl)
            res.equal(p.returncode, 0, "run %d: exit 0" % run)
            res.equal(len(points(p.stdout)), 1, "run %d: the good file behind them is read" % run)
            res.equal(os.listdir(os.path.join(spool, "new")), [], "run %d: new/ is empty" % run)
        bad = sorted(os.listdir(os.path.join(spool, "bad")))
        res.equal(len([b for b in bad if b.startswith("x")]), 4,
                  "bad/: the directory x and three FIFOs, each under its own name (%r)" % bad)
        res.equal(len([b for b in bad if b.startswith("y")]), 4, "bad/: y and three more")
        res.check(os.path.isdir(os.path.join(spool, "bad", "x", "inside")),
                  "bad/x is untouched")
        with open(os.path.join(spool, "bad", "y")) as f:
            res.equal(f.read(), "set aside before\n", "bad/y is untouched")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
