#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The first manual try, `echo '{...}' | tokenmeter execd` as a user without
/var/lib/tokenmeter, failed with exit 73; and `--source nonsense` exited 73
too, because the dead-letter file was opened before the configuration was
validated. Now a non-root user who cannot write /var/lib/tokenmeter gets
$XDG_STATE_HOME/tokenmeter/dead-letter.ndjson (else
~/.local/state/tokenmeter/dead-letter.ndjson), told on stderr, and the whole
configuration is validated before any file is opened."""
import os
import subprocess

from sinks_util import BAD, BIN, CHAT, NO_CONFIG, points, records, scratch, tmlib

NOBODY = 65534


def as_user(home, extra_env=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}
    env.update(extra_env or {})

    def pre():
        if os.geteuid() == 0:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    return env, pre


def main():
    res = tmlib.Results("fd-first-try")
    with scratch() as tmp:
        os.chmod(tmp, 0o755)
        can_write_default = os.access("/var/lib/tokenmeter", os.W_OK) and os.geteuid() != 0
        for variant in ("home", "xdg"):
            home = os.path.join(tmp, "home-" + variant)
            os.mkdir(home)
            if os.geteuid() == 0:
                os.chown(home, NOBODY, NOBODY)
            extra = {"XDG_STATE_HOME": os.path.join(home, "state")} if variant == "xdg" else None
            env, pre = as_user(home, extra)
            if can_write_default:
                res.check(True, "%s: /var/lib/tokenmeter is writable here: nothing to test"
                          % variant)
                continue
            p = subprocess.run([BIN, "execd"] + NO_CONFIG, input=(CHAT % 1 + "\n" + BAD % 1 +
                                                                   "\n").encode(),
                               capture_output=True, timeout=60, env=env, preexec_fn=pre)
            want = (os.path.join(home, "state", "tokenmeter", "dead-letter.ndjson")
                    if variant == "xdg" else
                    os.path.join(home, ".local", "state", "tokenmeter", "dead-letter.ndjson"))
            res.equal(p.returncode, 0, "%s: the first try works (exit 0)" % variant)
            res.equal(len(points(p.stdout)), 1, "%s: its point is written" % variant)
            res.check(want.encode() in p.stderr, "%s: stderr names %s" % (variant, want))
            res.equal([r.get("raw") for r in records(want)], [BAD % 1],
                      "%s: the rejected body is in the per-user file" % variant)

        # the whole configuration is validated before any file is opened
        dl = os.path.join(tmp, "no-such-dir", "dl.ndjson")
        p = subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl, "--source",
                                                         "nonsense"],
                           input=b"", capture_output=True, timeout=60)
        res.equal(p.returncode, 78, "--source nonsense: a configuration error (78), not 73")
        p = subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl],
                           input=b"", capture_output=True, timeout=60)
        res.equal(p.returncode, 73, "an unusable --dead-letter: 73")
        res.check(b"--dead-letter FILE" in p.stderr, "an unusable --dead-letter: names the flag")
        dl2 = os.path.join(tmp, "dl2.ndjson")
        p = subprocess.run([BIN, "execd"] + NO_CONFIG + ["--dead-letter", dl2, "--source",
                                                         "nonsense"],
                           input=b"", capture_output=True, timeout=60)
        res.check(not os.path.exists(dl2), "a configuration error creates no dead-letter file")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
