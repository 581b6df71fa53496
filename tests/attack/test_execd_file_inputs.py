#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: execd reading FILEs, by an operator's mistake or a stop request.

Before, `execd --dead-letter X X` (or `< X`) read its own dead-letter file:
every record it appended was read back, rejected and appended again, and the
file grew until the disk was full (55 GB in ten minutes). Now it is refused
(exit 64, an E! line naming the file) and the file is left as it was; the
same file reached through a symlink is refused too.

Before, SIGTERM did not stop execd reading a FILE: pselect(2) that finds
input ready returns without letting a pending signal in, and a file is
always ready, so the whole file was read first (forever, with the loop
above). Now execd stops at the end of the chunk it has read, exits 0 and
has not written every point of a long file. The waits are liveness bounds,
not assertions on speed."""
import os
import signal
import subprocess
import time

from sinks_util import BAD, BIN, CHAT, NO_CONFIG, HANG, scratch, tmlib


def main():
    res = tmlib.Results("execd-file-inputs")
    with scratch() as tmp:
        dl = os.path.join(tmp, "dl.ndjson")
        with open(dl, "w") as f:
            f.write(BAD % 1 + "\n")
        before = open(dl, "rb").read()
        link = os.path.join(tmp, "link.ndjson")
        os.symlink(dl, link)
        for how, args, stdin in (("as FILE", [dl], subprocess.DEVNULL),
                                 ("through a symlink", [link], subprocess.DEVNULL),
                                 ("on stdin", [], open(dl, "rb"))):
            p = subprocess.run([BIN] + NO_CONFIG + ["execd", "--dead-letter", dl] + args,
                               stdin=stdin, capture_output=True, timeout=HANG)
            err = p.stderr.decode()
            res.equal(p.returncode, 64, "the dead-letter file %s: refused (64)" % how)
            res.check(err.startswith("E! ") and "is the dead-letter file" in err,
                      "saying why (%r)" % err[:200])
            res.check(open(dl, "rb").read() == before, "the dead-letter file is left as it was")

        # A long file, and SIGTERM soon after start.
        big = os.path.join(tmp, "big.ndjson")
        n = 400000
        with open(big, "w") as f:
            for i in range(n):
                f.write(CHAT % i + "\n")
        out = os.path.join(tmp, "out.lp")
        with open(out, "wb") as fo:
            p = subprocess.Popen([BIN] + NO_CONFIG + ["execd", "--dead-letter", dl, big],
                                 stdout=fo, stderr=subprocess.PIPE)
            # Wait until it is under way (points are being written), then stop it.
            deadline = time.monotonic() + HANG
            while os.path.getsize(out) == 0 and time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.01)
            p.send_signal(signal.SIGTERM)
            try:
                _, err = p.communicate(timeout=HANG)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
        written = sum(1 for _ in open(out, "rb"))
        res.equal(p.returncode, 0, "SIGTERM while reading a FILE: exit 0")
        res.check(0 < written < n, "it stopped before the end of the file (%d of %d points)"
                  % (written, n))
        res.check(b"done:" in err, "and said what it did (%r)" % err[-200:])
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
