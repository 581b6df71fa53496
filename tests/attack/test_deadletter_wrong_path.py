#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a dead-letter path given by mistake. Before, `--dead-letter
/dev/stdout` put raw rejected bodies into the line-protocol stream,
`--dead-letter /dev/null` lost every rejected body while exit 0 said all
was well, and naming the summary store (`--dead-letter summaries.sqlite`,
or the same path in both keys) appended NDJSON to the SQLite file. Now each
is refused at start (exit 73, an E! line naming why), the file is left as
it was, and an ordinary file, a new one, or /dev/stderr still work."""
import os
import sqlite3
import subprocess

from sinks_util import BAD, BIN, NO_CONFIG, records, scratch, tmlib


def execd(dl, stdout=subprocess.PIPE):
    p = subprocess.run([BIN] + NO_CONFIG + ["execd", "--dead-letter", dl],
                       input=(BAD % 1 + "\n").encode(), stdout=stdout, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, (p.stdout or b"").decode(), p.stderr.decode()


def main():
    res = tmlib.Results("deadletter-wrong-path")
    with scratch() as tmp:
        store = os.path.join(tmp, "summaries.sqlite")
        con = sqlite3.connect(store)
        con.execute("CREATE TABLE daily_usage (x)")
        con.execute("INSERT INTO daily_usage VALUES (1)")
        con.commit()
        con.close()
        before = open(store, "rb").read()
        rc, out, err = execd(store)
        res.equal(rc, 73, "the summary store as dead-letter file: refused (73)")
        res.check("SQLite database" in err and err.startswith("E! "), "saying why (%r)" % err)
        res.check(open(store, "rb").read() == before, "the store is left byte for byte")

        rc, out, err = execd("/dev/stdout")
        res.equal(rc, 73, "/dev/stdout (a pipe): refused (73)")
        res.check("standard output" in err and BAD % 1 not in out,
                  "saying why; no body on stdout (%r)" % out)
        lp = os.path.join(tmp, "out.lp")
        with open(lp, "wb") as f:
            rc, _, err = execd(lp, stdout=f)
        res.check(rc == 73 and os.path.getsize(lp) == 0,
                  "the very file stdout writes to: refused, nothing written to it")

        rc, out, err = execd("/dev/null")
        res.check(rc == 73 and "would be lost" in err, "/dev/null: refused, rejected bodies "
                  "would be lost (%r)" % err)

        dl = os.path.join(tmp, "dl.ndjson")
        for i in range(2):  # a new file, then the same file again
            rc, out, err = execd(dl)
            res.equal(rc, 0, "an ordinary dead-letter file, run %d: exit 0" % (i + 1))
        res.equal(len(records(dl)), 2, "both records in it")
        rc, out, err = execd("/dev/stderr")
        res.check(rc == 0 and (BAD % 1).replace('"', '\\"') in err,
                  "/dev/stderr still works (to look at rejects by hand)")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
