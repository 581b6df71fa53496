#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a fresh host where the state directory was never created.
Before, `check --config-only` FAILed the store but only warned about the
dead-letter file, although execd exits 73 on it all the same. Now each
line says what the command that writes the file would do: FAIL (73) when
it would refuse to start, warn only when execd would fall back to a
per-user file (the built-in default path, not root); a missing directory
is named with the `install -d` that creates it."""
import os
import re
import subprocess

from sinks_util import BIN, scratch, tmlib

NOBODY = 65534


def check(conf, as_nobody=False):
    def pre():
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    p = subprocess.run([BIN, "-c", conf, "check", "--config-only"], capture_output=True,
                       text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
                       preexec_fn=pre if as_nobody else None)
    return p.returncode, p.stdout


def line(out, probe):
    m = re.search(r"^(\w+) +%s: (.*)$" % probe, out, re.M)
    return (m.group(1), m.group(2)) if m else ("", "")


def main():
    res = tmlib.Results("check-dirs")
    with scratch() as tmp:
        os.chmod(tmp, 0o755)
        gone = os.path.join(tmp, "never-made")
        conf = os.path.join(tmp, "a.conf")
        with open(conf, "w") as f:
            f.write("[ingest]\ndead_letter = %s/dl.ndjson\n[aggregate]\nsqlite = %s/s.sqlite\n"
                    % (gone, gone))
        os.chmod(conf, 0o644)
        rc, out = check(conf)
        res.equal(rc, 73, "a missing state directory: exit 73")
        for probe, who in (("dead letter", "execd and process would refuse to start"),
                           ("store", "aggregate would fail")):
            word, text = line(out, probe)
            res.equal(word, "FAIL", "%s: FAIL, as the command would fail" % probe)
            res.check("directory %s does not exist" % gone in text and "install -d" in text
                      and who in text, "%s: names the directory, the fix, the effect (%r)"
                      % (probe, text))

        # the built-in default dead-letter path, as a user who is not root
        conf2 = os.path.join(tmp, "b.conf")
        with open(conf2, "w") as f:
            f.write("[aggregate]\nsqlite = %s/s.sqlite\n" % tmp)
        os.chmod(conf2, 0o644)
        if os.geteuid() == 0:
            rc, out = check(conf2, as_nobody=True)
            word, text = line(out, "dead letter")
            res.check(word == "ok" or (word == "warn" and "instead" in text),
                      "default path, not root: ok, or warn naming the per-user fallback (%s %r)"
                      % (word, text))
        if os.geteuid() == 0 and not os.path.isdir("/var/lib/tokenmeter"):
            rc, out = check(conf2)
            word, text = line(out, "dead letter")
            res.equal(word, "FAIL", "default path, as root (no fallback): FAIL")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
