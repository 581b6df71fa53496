#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: `sqlite = summaries.sqlite` or `dead_letter = dl.ndjson` in the
configuration file. Each command resolved it against the directory it was
started from: the timer's aggregate wrote one store, a shell's report read
another ("no summaries yet"), and rejected bodies scattered over several
files. Now a relative path for either key in the file is a configuration
error naming file and line; on the command line (--sqlite, --dead-letter)
it stays the caller's choice."""
import os
import subprocess

from sinks_util import BIN, scratch, tmlib

LINE = ('llm_usage,org=acme,model=m,provider=openai,status=success,event_id=a '
        'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.01,'
        'cost_source="reported" 1796083300000000000\n')


def tm(conf, args, cwd):
    p = subprocess.run([BIN, "-c", conf] + args, capture_output=True, text=True, timeout=60,
                       cwd=cwd, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def main():
    res = tmlib.Results("config-relative-paths")
    with scratch() as tmp:
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "w") as f:
            f.write(LINE)
        for key, line, args in (
                ("sqlite", "[aggregate]\nsqlite = summaries.sqlite\n",
                 ["aggregate", "--day", "2026-12-01", "--input", lp]),
                ("dead_letter", "[ingest]\ndead_letter = \"dl.ndjson\"\n", ["execd"])):
            conf = os.path.join(tmp, key + ".conf")
            with open(conf, "w") as f:
                f.write(line)
            rc, err = tm(conf, args, tmp)
            res.equal(rc, 78, "%s relative in the file: a configuration error" % key)
            res.check("%s:2:" % conf in err and "absolute path" in err,
                      "naming file, line and the fix (%r)" % err)
        res.equal(sorted(os.listdir(tmp)), sorted(["in.lp", "sqlite.conf", "dead_letter.conf"]),
                  "and nothing was created")
        # no file at all, in the file: a configuration error (78), not a usage one
        for name, line, needle in (
                ("memory", "[aggregate]\nsqlite = :memory:\n", "must name a file"),
                ("empty", "[ingest]\ndead_letter = \"\"\n", "is empty")):
            conf = os.path.join(tmp, name + ".conf")
            with open(conf, "w") as f:
                f.write(line)
            rc, err = tm(conf, ["aggregate", "--day", "2026-12-01", "--input", lp], tmp)
            res.check(rc == 78 and "%s:2:" % conf in err and needle in err,
                      "%s in the file: 78, naming file and line (%d %r)" % (name, rc, err))
            os.unlink(conf)
        conf = os.path.join(tmp, "ok.conf")
        with open(conf, "w") as f:
            f.write("[aggregate]\nsqlite = %s/s.sqlite\n" % tmp)
        rc, err = tm(conf, ["aggregate", "--day", "2026-12-01", "--input", lp], tmp)
        res.equal(rc, 0, "an absolute path in the file works")
        rc, err = tm(conf, ["aggregate", "--day", "2026-12-01", "--input", lp, "--sqlite",
                            "here.sqlite"], tmp)
        res.check(rc == 0 and os.path.exists(os.path.join(tmp, "here.sqlite")),
                  "--sqlite relative on the command line: the caller's directory")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
