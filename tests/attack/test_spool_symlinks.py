#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The spool directory is group-writable for senders, so a sender could
replace new/, tmp/ or bad/ with a symbolic link: tokenmeter then read files
outside the spool into the dead-letter file and deleted them. The parts are
now opened with O_DIRECTORY|O_NOFOLLOW and checked; a spool whose part is a
link (or a directory owned by someone else) is refused, and nothing outside
is read or removed."""
import os
import subprocess

from sinks_util import BIN, NO_CONFIG, records, scratch, tmlib

SECRET = "password = hunter2\n"


def drain(spool, dl):
    return subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl, "--spool", spool,
                                                       "--once"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def main():
    res = tmlib.Results("spool-symlinks")
    with scratch() as tmp:
        outside = os.path.join(tmp, "outside")
        os.mkdir(outside)
        for part in ("new", "tmp", "bad"):
            secret = os.path.join(outside, "secret-%s" % part)
            with open(secret, "w") as f:
                f.write(SECRET)
            old = os.path.getmtime(secret) - 40 * 3600  # old enough for the tmp/ sweep
            os.utime(secret, (old, old))
            spool = os.path.join(tmp, "spool-%s" % part)
            for p in ("new", "tmp", "bad"):
                os.makedirs(os.path.join(spool, p), exist_ok=True)
            os.rmdir(os.path.join(spool, part))
            os.symlink(outside, os.path.join(spool, part))
            dl = os.path.join(tmp, "dl-%s.ndjson" % part)
            p = drain(spool, dl)
            res.equal(p.returncode, 73, "%s/ a symlink: the spool is refused (73)" % part)
            res.check(b"not a directory" in p.stderr, "%s/ a symlink: says why" % part)
            res.check(os.path.exists(secret), "%s/ a symlink: the outside file is still there"
                      % part)
            res.check(not any("hunter2" in str(r) for r in records(dl)),
                      "%s/ a symlink: nothing outside was read" % part)
            res.equal(sorted(os.listdir(outside)), sorted("secret-%s" % q for q in
                                                          ("new", "tmp", "bad")[:("new", "tmp",
                                                                                   "bad").index(part) + 1]),
                      "%s/ a symlink: nothing was moved into the outside directory" % part)

        # a part owned by another user (a sender's own directory in its place)
        if os.geteuid() == 0:
            spool = os.path.join(tmp, "spool-owner")
            for p in ("new", "tmp", "bad"):
                os.makedirs(os.path.join(spool, p))
            os.chown(os.path.join(spool, "new"), 12345, 12345)
            p = drain(spool, os.path.join(tmp, "dl-owner.ndjson"))
            res.equal(p.returncode, 73, "new/ owned by someone else: refused (73)")
            res.check(b"owned by uid 12345" in p.stderr, "new/ owned by someone else: says so")

        # a file in new/ that is a link to a file outside: set aside, unread
        spool = os.path.join(tmp, "spool-file")
        for p in ("new", "tmp"):
            os.makedirs(os.path.join(spool, p))
        secret = os.path.join(outside, "secret-file")
        with open(secret, "w") as f:
            f.write(SECRET)
        os.symlink(secret, os.path.join(spool, "new", "0001"))
        dl = os.path.join(tmp, "dl-file.ndjson")
        p = drain(spool, dl)
        res.equal(p.returncode, 0, "a symlinked file: exit 0")
        res.check(os.path.exists(secret), "a symlinked file: its target stays")
        res.check(os.path.islink(os.path.join(spool, "bad", "0001")),
                  "a symlinked file: the link is set aside in bad/")
        res.check(not any("hunter2" in str(r) for r in records(dl)),
                  "a symlinked file: its target was not read")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
