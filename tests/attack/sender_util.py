# SPDX-License-Identifier: MIT
"""Helpers shared by the test_sender_*.py attacks: run the binary named by
$TOKENMETER on bytes, in a scratch directory, with no config file."""
import os
import resource
import subprocess
import tempfile

BIN = os.environ.get("TOKENMETER", "build/tokenmeter")
NO_CONFIG = ["-c", "/dev/null"]


def scratch():
    return tempfile.TemporaryDirectory(prefix="tm-attack-")


def run(args, data=b"", timeout=300, check=True):
    """Runs BIN args with data on stdin; returns (CompletedProcess, child
    rusage delta: user+sys seconds, peak RSS of the largest child in KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([BIN] + args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (args[0], p.returncode, p.stderr[-2000:]))
    return p, cpu, after.ru_maxrss


def execd(tmp, data, extra=(), timeout=300, check=True):
    dl = os.path.join(tmp, "dead-letter.ndjson")
    return run(["execd"] + NO_CONFIG + ["--dead-letter", dl, "--dedup-cache", "0"] + list(extra),
               data, timeout=timeout, check=check)


def points(stdout):
    return [l for l in stdout.decode().splitlines() if l and not l.startswith("tokenmeter_stats")]


class Results:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s: %s" % (self.name, what))
        else:
            self.failed += 1
            print("FAIL %s: %s %s" % (self.name, what, detail))

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        return 1 if self.failed else 0
