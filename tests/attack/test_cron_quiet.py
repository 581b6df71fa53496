#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The shipped cron job mailed every run's I! line (25 mails a day).
`--quiet` leaves only errors on stderr: a scheduled run is silent on
success and loud on failure."""
import os
import subprocess

from sinks_util import BIN, scratch, tmlib

LP = ('llm_usage,model=m,org=acme,provider=openai,source=openai,status=success '
      'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.5,cost_source="reported",'
      'event_id="e1" 1787666591000000000\n')


def main():
    res = tmlib.Results("cron-quiet")
    with scratch() as tmp:
        lp = os.path.join(tmp, "day.lp")
        with open(lp, "w") as f:
            f.write(LP)
        db = os.path.join(tmp, "store.sqlite")
        args = ["aggregate", "--input", lp, "--sqlite", db, "--day", "2026-08-25"]
        p = subprocess.run([BIN, "-c", "/dev/null"] + args, capture_output=True, timeout=60)
        res.check(p.returncode == 0 and b"I! " in p.stderr, "without --quiet: an I! line")
        p = subprocess.run([BIN, "--quiet", "-c", "/dev/null"] + args, capture_output=True,
                           timeout=60)
        res.equal((p.returncode, p.stderr), (0, b""), "--quiet, success: nothing on stderr")
        p = subprocess.run([BIN, "-c", "/dev/null", "aggregate", "--quiet"] + args[1:],
                           capture_output=True, timeout=60)
        res.equal((p.returncode, p.stderr), (0, b""), "--quiet after the command: the same")
        with open(lp, "a") as f:
            f.write("this is not line protocol\n")
        p = subprocess.run([BIN, "--quiet", "-c", "/dev/null"] + args, capture_output=True,
                           timeout=60)
        res.check(p.returncode != 0 and p.stderr.startswith(b"E! "),
                  "--quiet, failure: the error is on stderr (exit %d)" % p.returncode)
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
