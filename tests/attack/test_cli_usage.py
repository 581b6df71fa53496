#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a careless operator at the command line. Before, getopt's own
errors ("tokenmeter: unrecognized option") lacked the E! prefix of every
other stderr line; `tokenmeter help` was an unknown command and a typo got
no suggestion; `execd --dedup bogus` exited 78 naming a `--set
ingest.dedup` the operator never typed. Now every usage error is an E!
line and exit 64, `help [COMMAND]` works, a near miss is named, and a bad
flag value (a --tz of no zone included) is a usage error naming the flag,
except for `process`, which keeps every body degraded (and still honours a
--dead-letter that follows the typo)."""
import os
import subprocess

from sinks_util import BIN, NO_CONFIG, records, scratch, tmlib


def run(args, stdin=b""):
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def main():
    res = tmlib.Results("cli-usage")
    for args, word in ((["--bogus"], "unknown option --bogus"),
                       (["-c"], "option -c needs an argument"),
                       (["-x"], "unknown option -x"),
                       (["--log-level"], "option --log-level needs an argument"),
                       (["execd", "--bogus=3"], "unknown option --bogus"),
                       (["report", "-zq"], "unknown option -z"),
                       (["execd", "--config"], "option --config needs an argument")):
        rc, out, err = run(args)
        res.equal(rc, 64, "%s: exit 64" % " ".join(args))
        lines = err.splitlines()
        res.check(lines and all(l.startswith("E! ") for l in lines) and word in err,
                  "%s: only E! lines, saying %r (%r)" % (" ".join(args), word, err))

    rc, out, err = run(["help"])
    res.check(rc == 0 and "commands:" in out and not err, "help: the command list on stdout")
    for args in (["help", "help"], ["help", "--help"]):
        rc, out, err = run(args)
        res.check(rc == 0 and "commands:" in out, "%s: the command list" % " ".join(args))
    rc, out, err = run(["help", "execd"])
    res.check(rc == 0 and out.startswith("usage: tokenmeter execd"), "help execd: its usage")
    rc, out, err = run(["help", "execd", "--dedup", "x"])
    res.equal(rc, 64, "help with more than one word: a usage error")
    for typo, meant in (("proces", "process"), ("reprot", "report"), ("agg", "aggregate"),
                        ("chekc", "check")):
        rc, out, err = run([typo])
        res.check(rc == 64 and "did you mean '%s'" % meant in err,
                  "%s: did you mean %s (%r)" % (typo, meant, err))
    rc, out, err = run(["zzzzzz"])
    res.check(rc == 64 and "did you mean" not in err, "nothing near: no suggestion")
    for args, meant in ((["execd", "--dead-leter", "x"], "--dead-letter"),
                        (["--log-levl", "debug", "report"], "--log-level")):
        rc, out, err = run(args)
        res.check(rc == 64 and "(did you mean %s?)" % meant in err,
                  "%s: did you mean %s (%r)" % (args[0] if args[0] != "execd" else args[1],
                                                 meant, err))
    rc, out, err = run(["execd", "--zzzzzzzz"])
    res.check(rc == 64 and "did you mean" not in err, "an option near nothing: no suggestion")

    with scratch() as tmp:
        dl = os.path.join(tmp, "dl.ndjson")
        rc, out, err = run(NO_CONFIG + ["execd", "--dedup", "bogus", "--dead-letter", dl])
        res.equal(rc, 64, "execd --dedup bogus: a usage error (64), not 78")
        res.check("--dedup: [ingest] dedup = \"bogus\"" in err and "--set" not in err,
                  "naming --dedup as typed (%r)" % err)
        rc, out, err = run(NO_CONFIG + ["--set", "ingest.dedup=x", "report"])
        res.check(rc == 64 and "flag --set ingest.dedup" in err, "--set with a bad value: 64")
        rc, out, err = run(NO_CONFIG + ["report", "--set", "ingest.nokey=1"])
        res.check(rc == 64 and "unknown key" in err, "--set of no key: 64")
        rc, out, err = run(NO_CONFIG + ["aggregate", "--tz", "Nowhere/X", "--day", "2026-12-01",
                                        "--sqlite", os.path.join(tmp, "s.sqlite")])
        res.check(rc == 64 and "--tz: [aggregate] timezone \"Nowhere/X\"" in err,
                  "aggregate --tz of no zone: a usage error naming --tz (%d %r)" % (rc, err))
        res.check(not os.path.exists(os.path.join(tmp, "s.sqlite")), "and no store was made")
        tzconf = os.path.join(tmp, "tz.conf")
        with open(tzconf, "w") as f:
            f.write("[aggregate]\ntimezone = Nowhere/X\n")
        rc, out, err = run(["-c", tzconf, "report", "--sqlite", os.path.join(tmp, "s.sqlite")])
        res.equal(rc, 78, "the same zone in the file: a configuration error (78)")
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[ingest]\ndedup = bogus\n")
        rc, out, err = run(["-c", bad, "report"])
        res.equal(rc, 78, "the same mistake in the file stays a configuration error (78)")

        metric = b'tokenmeter_webhook value="{\\"a\\":1}" 1\n'
        rc, out, err = run(NO_CONFIG + ["process", "--body-encoding", "nope", "--dead-letter",
                                        dl], metric)
        res.equal(rc, 0, "process with a bad flag value runs degraded (exit 0 at EOF)")
        got = records(dl)
        res.check(len(got) == 1 and "--body-encoding" in got[-1].get("reason", ""),
                  "its body is in the --dead-letter named after the typo (%r)" % got)
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
