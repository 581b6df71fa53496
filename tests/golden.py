#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Golden tests: every tests/data/<case>/ runs through the real binary.

A case directory holds:
  input.ndjson     the stdin/file fed to `tokenmeter execd`
  expected.lp      the exact line protocol expected on stdout
  args             optional: extra arguments, one per line
  config.ini       optional: passed with -c
  expected-deadletter.txt
                   optional: the reasons of the dead-letter records, one per
                   line, in order (absent means: no record may be written)

A tokenmeter_stats point's timestamp is replaced by NOW before comparing.
The receive time is pinned (--receive-time) so bodies without a time of
their own give the same output on every run. Set WRAP to run the binary
under a tool (valgrind). `--update` rewrites expected files from the
current output: review the diff before committing it.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
RECEIVE_TIME = "2026-08-25T14:03:11Z"


def run_case(binary, case, update):
    d = os.path.join(DATA, case)
    args = []
    if os.path.exists(os.path.join(d, "args")):
        with open(os.path.join(d, "args")) as f:
            args = [a for a in f.read().splitlines() if a.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        dl = os.path.join(tmp, "dead-letter.ndjson")
        cmd = shlex.split(os.environ.get("WRAP", "")) + [binary]
        # A case without its own config.ini runs on the built-in defaults,
        # never on whatever /etc/tokenmeter/tokenmeter.conf this machine has.
        config = os.path.join(d, "config.ini")
        cmd += ["-c", config if os.path.exists(config) else "/dev/null"]
        cmd += ["execd", "--dead-letter", dl, "--receive-time", RECEIVE_TIME] + args
        cmd += [os.path.join(d, "input.ndjson")]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        # The stats point carries the wall-clock time and the host name: only
        # its counters are compared.
        out = re.sub(r"(?m)^tokenmeter_stats,host=[^, ]+(.*) \d+$", r"tokenmeter_stats,host=HOST\1 NOW",
                     p.stdout.decode("utf-8", "replace"))
        reasons = []
        if os.path.exists(dl):
            with open(dl) as f:
                reasons = [json.loads(l)["reason"] for l in f if l.strip()]
        problems = []
        if p.returncode != 0:
            problems.append("exit status %d; stderr:\n%s" % (p.returncode, p.stderr.decode()))
        exp_lp = os.path.join(d, "expected.lp")
        exp_dl = os.path.join(d, "expected-deadletter.txt")
        if update:
            with open(exp_lp, "w") as f:
                f.write(out)
            if reasons:
                with open(exp_dl, "w") as f:
                    f.write("".join(r + "\n" for r in reasons))
            elif os.path.exists(exp_dl):
                os.unlink(exp_dl)
            return problems
        with open(exp_lp) as f:
            want = f.read()
        if out != want:
            problems.append("stdout differs:\n--- expected\n%s--- got\n%s" % (want, out))
        want_reasons = []
        if os.path.exists(exp_dl):
            with open(exp_dl) as f:
                want_reasons = f.read().splitlines()
        if reasons != want_reasons:
            problems.append("dead-letter reasons differ:\n expected %r\n got      %r"
                            % (want_reasons, reasons))
        return problems


def main():
    argv = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv
    if not argv:
        print("usage: golden.py BINARY [--update] [CASE...]", file=sys.stderr)
        return 64
    binary = os.path.abspath(argv[0])
    cases = argv[1:] or sorted(c for c in os.listdir(DATA)
                               if os.path.exists(os.path.join(DATA, c, "input.ndjson")))
    passed = failed = 0
    for case in cases:
        problems = run_case(binary, case, update)
        if problems:
            failed += 1
            print("FAIL %s\n  %s" % (case, "\n  ".join(problems)))
        else:
            passed += 1
            print("ok   %s" % case)
    print("golden: %d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
