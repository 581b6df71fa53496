# SPDX-License-Identifier: MIT
"""Helpers shared by the sink, descriptor and spool attacks (test_fd_*,
test_deadletter_*, test_spool_*, test_process_*): the binary named by
$TOKENMETER, run with no config file, in scratch directories.

Waits are liveness bounds (how long before a missing answer counts as a
hang), never assertions about speed."""
import json
import os
import select
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import tmlib  # noqa: E402,F401  (Results)

BIN = os.environ.get("TOKENMETER", "build/tokenmeter")
HANG = 20
NO_CONFIG = ["-c", "/dev/null"]

CHAT = ('{"id":"chatcmpl-%d","object":"chat.completion","created":1787666592,"model":"m",'
        '"usage":{"prompt_tokens":10,"completion_tokens":2}}')
BAD = '{"not":"a usage body %d"}'


def scratch():
    return tempfile.TemporaryDirectory(prefix="tm-attack-")


def records(path):
    """The dead-letter records in path; a line that is not JSON is returned
    as the string "UNPARSEABLE: ..."."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append("UNPARSEABLE: %r" % line[:80])
    return out


def points(stdout):
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    return [l for l in stdout.splitlines() if l.startswith("llm_usage,")]


class Child:
    """A long-running tokenmeter on pipes, as Telegraf runs it."""

    def __init__(self, args, env=None, **kw):
        self.p = subprocess.Popen([BIN] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, **kw)
        self.buf = b""

    def send(self, data):
        self.p.stdin.write(data if isinstance(data, bytes) else data.encode())
        self.p.stdin.flush()

    def read_line(self, timeout=HANG):
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.p.stdout], [], [], timeout)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def read_until(self, prefix, timeout=HANG):
        """Lines until one starts with prefix (returned), or None."""
        while True:
            line = self.read_line(timeout)
            if line is None or line.startswith(prefix):
                return line

    def finish(self):
        if not self.p.stdin.closed:
            self.p.stdin.close()
        out = self.p.stdout.read()
        err = self.p.stderr.read().decode("utf-8", "replace")
        self.p.wait(timeout=HANG)
        return self.p.returncode, (self.buf + out).decode("utf-8", "replace"), err


def as_uid(uid, groups=()):
    """A preexec_fn that runs the child as uid (its own gid, and groups);
    the caller must be root. Numeric ids: no account is needed."""
    def pre():
        os.setgroups(list(groups))
        os.setgid(uid)
        os.setuid(uid)
    return pre
