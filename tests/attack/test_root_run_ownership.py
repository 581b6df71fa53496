#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: an operator tries a command by hand as root in the service
user's state directory (`echo ... | sudo tokenmeter execd`, `sudo
tokenmeter aggregate`, `sudo tokenmeter execd --spool ... --once`). Before,
the dead-letter file, the summary store with its -wal/-shm and lock, and
the spool's parts were left owned by root, mode 0640 or 0750: at its next
start the service user's execd exited 73 (ingest stopped) and the
aggregate timer failed on the lock. Now whatever root creates there takes
the directory's owner and group, and `check` run as root names a file
such a run left behind earlier, with the chown that repairs it. Run as
root with numeric ids; skipped otherwise."""
import os
import subprocess
import sys

from sinks_util import BAD, BIN, CHAT, NO_CONFIG, as_uid, scratch, tmlib

SERVICE = 65533


def tm(args, stdin=b"", uid=None):
    return subprocess.run([BIN] + NO_CONFIG + args, input=stdin, capture_output=True,
                          timeout=60, preexec_fn=as_uid(uid) if uid is not None else None)


def main():
    res = tmlib.Results("root-run-ownership")
    if os.geteuid() != 0:
        print("skip: needs root")
        return 0
    with scratch() as tmp:
        os.chmod(tmp, 0o755)
        lib = os.path.join(tmp, "lib")
        os.mkdir(lib, 0o750)
        os.chown(lib, SERVICE, SERVICE)
        dl = os.path.join(lib, "dead-letter.ndjson")
        store = os.path.join(lib, "summaries.sqlite")
        spool = os.path.join(lib, "spool")
        # by hand, as root
        p = tm(["execd", "--dead-letter", dl], (BAD % 1 + "\n" + CHAT % 1 + "\n").encode())
        res.equal(p.returncode, 0, "root's execd runs")
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "wb") as f:
            f.write(p.stdout)
        os.chmod(lp, 0o644)
        p = tm(["aggregate", "--sqlite", store, "--input", lp, "--last", "3660"])
        res.equal(p.returncode, 0, "root's aggregate runs")
        p = tm(["execd", "--spool", spool, "--once", "--dead-letter", dl])
        res.equal(p.returncode, 0, "root's execd --spool --once runs")
        for root, dirs, files in os.walk(lib):
            for name in dirs + files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                res.equal((st.st_uid, st.st_gid), (SERVICE, SERVICE),
                          "%s belongs to the directory's owner" % os.path.relpath(path, lib))
        # the service user takes over
        p = tm(["execd", "--dead-letter", dl], (BAD % 2 + "\n").encode(), uid=SERVICE)
        res.equal(p.returncode, 0, "then the service user's execd starts")
        p = tm(["aggregate", "--sqlite", store, "--input", lp, "--last", "3660"], uid=SERVICE)
        res.equal(p.returncode, 0, "and its aggregate runs")
        p = tm(["execd", "--spool", spool, "--once", "--dead-letter", dl], uid=SERVICE)
        res.equal(p.returncode, 0, "and its spool reader")

        # a file an older version left to root: check names it
        os.chown(store, 0, 0)
        p = tm(["check", "--config-only", "--set", "aggregate.sqlite=" + store, "--set",
                "ingest.dead_letter=" + dl])
        out = p.stdout.decode()
        res.check(p.returncode == 73 and "FAIL store:" in out and
                  "chown %d:%d %s" % (SERVICE, SERVICE, store) in out,
                  "check as root: FAIL naming the chown (%r)" % out)
        res.check("ok   dead letter:" in out, "the dead letter, the service user's, is ok")
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
