# SPDX-License-Identifier: MIT
"""Helpers shared by the test_sender_*.py attacks: run the binary named by
$TOKENMETER on bytes, in a scratch directory, with no config file."""
import json
import os
import signal
import subprocess
import sys
import tempfile

BIN = os.environ.get("TOKENMETER", "build/tokenmeter")
NO_CONFIG = ["-c", "/dev/null"]


def scratch():
    return tempfile.TemporaryDirectory(prefix="tm-attack-")


# Runs argv[2:] as a child of this small, fresh interpreter and writes its
# own CPU time and peak RSS to argv[1]: a child forked straight from the test
# would inherit the test's own (large) peak RSS in ru_maxrss.
_MEASURE = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss}, f)
sys.exit(os.waitstatus_to_exitcode(status) & 255)
"""


def run(args, data=b"", timeout=300, check=True):
    """Runs BIN args with data on stdin; returns (CompletedProcess, the
    child's user+sys CPU seconds, the child's own peak RSS in KiB)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as m:
        p = subprocess.Popen([sys.executable, "-c", _MEASURE, m.name, BIN] + args,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = p.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
        with open(m.name) as f:
            text = f.read()
        usage = json.loads(text) if text else {"cpu": 0.0, "rss": 0}
    cp = subprocess.CompletedProcess([BIN] + args, p.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (args[0], p.returncode, err[-2000:]))
    return cp, usage["cpu"], usage["rss"]


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
