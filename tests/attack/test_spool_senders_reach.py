#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: the documented spool setup, followed to the letter. With
/var/lib/tokenmeter at 0750 telegraf:telegraf, a sender in group SENDERS
could not even reach spool/ (EACCES on the parent): every body it tried to
drop failed. The setup now adds `chmod o+x /var/lib/tokenmeter`; since
that lets any local user open a file there whose name they know, the
summary store (SQLite made it 0644, and its -wal/-shm alike) is now
created 0640 like the dead letters. Run as root with numeric ids (no
accounts are made); skipped otherwise."""
import os
import subprocess
import sys

from sinks_util import BIN, CHAT, NO_CONFIG, as_uid, scratch, tmlib

TELEGRAF, SENDER, OTHER, SENDERS = 65533, 65532, 65530, 65531


def sh(uid, cmd, groups=()):
    return subprocess.run(["sh", "-c", cmd], preexec_fn=as_uid(uid, groups),
                          capture_output=True, text=True, timeout=60)


def main():
    res = tmlib.Results("spool-senders-reach")
    if os.geteuid() != 0:
        print("skip: needs root to act as several users")
        return 0
    with scratch() as tmp:
        os.chmod(tmp, 0o755)
        lib = os.path.join(tmp, "lib")
        spool = os.path.join(lib, "spool")
        # the setup of docs/operations.md, with numeric ids
        subprocess.run(["install", "-d", "-o", str(TELEGRAF), "-g", str(TELEGRAF), "-m", "0750",
                        lib], check=True)
        subprocess.run(["install", "-d", "-o", str(TELEGRAF), "-g", str(SENDERS), "-m", "2770",
                        spool, spool + "/tmp", spool + "/new"], check=True)
        drop = ("printf '%%s' '%s' > %s/tmp/f1 && mv %s/tmp/f1 %s/new/f1"
                % (CHAT % 1, spool, spool, spool))
        p = sh(SENDER, drop, [SENDERS])
        res.check(p.returncode != 0 and "Permission denied" in p.stderr,
                  "without o+x on the state directory a sender cannot reach spool/ (the bug)")
        subprocess.run(["chmod", "o+x", lib], check=True)
        p = sh(SENDER, drop, [SENDERS])
        res.equal(p.returncode, 0, "with it, a sender drops a body (%s)" % p.stderr.strip())

        # tokenmeter's own files there, made as its user
        dl = os.path.join(lib, "dead-letter.ndjson")
        p = subprocess.run([BIN] + NO_CONFIG + ["execd", "--spool", spool, "--once",
                                                "--dead-letter", dl],
                           preexec_fn=as_uid(TELEGRAF), capture_output=True, timeout=60)
        res.check(p.returncode == 0 and b"llm_usage," in p.stdout,
                  "execd --spool --once drains it (%s)" % p.stderr.decode()[-200:])
        store = os.path.join(lib, "summaries.sqlite")
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "wb") as f:
            f.write(p.stdout)
        os.chmod(lp, 0o644)
        p = subprocess.run([BIN] + NO_CONFIG + ["aggregate", "--sqlite", store, "--input", lp,
                                                "--last", "3660"],
                           preexec_fn=as_uid(TELEGRAF), capture_output=True, timeout=60)
        res.equal(p.returncode, 0, "aggregate makes the store (%s)" % p.stderr.decode()[-200:])
        for name in sorted(os.listdir(lib)):
            path = os.path.join(lib, name)
            if os.path.isfile(path):
                res.equal(oct(os.stat(path).st_mode & 0o777), "0o640",
                          "%s is 0640 (group telegraf may read, no one else)" % name)
        p = sh(OTHER, "ls %s" % lib)
        res.check(p.returncode != 0, "another user cannot list the state directory")
        p = sh(OTHER, "cat %s > /dev/null" % store)
        res.check(p.returncode != 0, "nor read the store, though its name is known")
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
