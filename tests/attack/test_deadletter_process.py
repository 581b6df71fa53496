#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`process` (Telegraf's processors.execd behind http_listener_v2):
 - a typo in tokenmeter.conf made it exit at once; Telegraf answered 204 to
   every sender and dropped each body while restarting it. It now runs
   degraded: every webhook metric goes to the dead-letter file with the
   configuration error as reason, one E! line a minute, and `replay`
   recovers them once the configuration is fixed;
 - a webhook metric whose body field is missing or not a string passed
   through and the shipped namedrop dropped it without a word: now it is
   dead-lettered and logged;
 - one unterminated quote folded up to 16 MiB of the following metrics into
   one dead-letter record and passed none of them: now reading starts again
   at the next line, and "not line protocol" records replay."""
import base64
import os
import subprocess

from sinks_util import BIN, CHAT, points, records, scratch, tmlib


def webhook(i, org="acme"):
    body = base64.b64encode((CHAT % i).encode()).decode()
    return "tokenmeter_webhook,org=%s value=\"%s\" %d\n" % (org, body, 1787666591000000000 + i)


def main():
    res = tmlib.Results("deadletter-process")
    with scratch() as tmp:
        dl = os.path.join(tmp, "dl.ndjson")
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[ingest]\ndead_letter = %s\ndedupe = tag\n" % dl)
        good = os.path.join(tmp, "good.conf")
        with open(good, "w") as f:
            f.write("[ingest]\ndead_letter = %s\n[process]\nbody_encoding = base64\n"
                    % os.path.join(tmp, "again.ndjson"))
        inp = "".join(webhook(i) for i in range(30)) + "cpu,host=a usage=1 1\n"

        # 1. degraded on a bad configuration
        p = subprocess.run([BIN, "-c", bad, "process"], input=inp.encode(), capture_output=True,
                           timeout=60)
        err = p.stderr.decode()
        res.equal(p.returncode, 0, "bad config: process keeps running (exit 0 at EOF)")
        res.equal(p.stdout.decode(), "cpu,host=a usage=1 1\n",
                  "bad config: other metrics still pass, no webhook does")
        recs = records(dl)
        res.equal(len(recs), 30, "bad config: every webhook metric is dead-lettered")
        res.check(all("dedupe" in r["reason"] and r.get("kind") == "metric" for r in recs),
                  "bad config: the reason is the configuration error")
        res.equal(sum(1 for l in err.splitlines() if l.startswith("E!")), 2,
                  "bad config: the config error and one degraded line, not one per body")
        retry = os.path.join(tmp, "retry.ndjson")
        os.rename(dl, retry)
        p = subprocess.run([BIN, "-c", good, "replay", retry], capture_output=True, timeout=60)
        got = points(p.stdout)
        res.equal(p.returncode, 0, "fixed: replay exits 0")
        res.equal(len(got), 30, "fixed: replay recovers every body")
        res.check(all(",org=acme," in l for l in got), "fixed: with the metric's org tag")

        # 1b. degraded, and the configured dead-letter file unusable too: the
        # default one (here the per-user one: see test_fd_first_try.py)
        if not (os.access("/var/lib/tokenmeter", os.W_OK) and os.geteuid() != 0):
            home = os.path.join(tmp, "home")
            os.mkdir(home)
            os.chmod(tmp, 0o755)
            bad2 = os.path.join(tmp, "bad2.conf")
            with open(bad2, "w") as f:
                f.write("[ingest]\ndead_letter = /nonexistent/dl.ndjson\ndedupe = tag\n")
            os.chmod(bad2, 0o644)

            def pre():
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
            if os.geteuid() == 0:
                os.chown(home, 65534, 65534)
            p = subprocess.run([BIN, "-c", bad2, "process"], input=webhook(99).encode(),
                               capture_output=True, timeout=60, preexec_fn=pre,
                               env={"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin")})
            fallback = os.path.join(home, ".local", "state", "tokenmeter", "dead-letter.ndjson")
            res.equal(p.returncode, 0, "bad config, unusable dead_letter: still running")
            res.equal(len(records(fallback)), 1,
                      "bad config, unusable dead_letter: the body is in the default file")

        # 2. a webhook metric without a usable body field
        dl2 = os.path.join(tmp, "dl2.ndjson")
        p = subprocess.run([BIN, "-c", "/dev/null", "process", "--dead-letter", dl2],
                           input=b"tokenmeter_webhook other=1i 1\ntokenmeter_webhook value=2i 2\n"
                                 b"gauge value=3i 3\n", capture_output=True, timeout=60)
        res.equal(p.stdout, b"gauge value=3i 3\n", "no body field: not passed on")
        res.equal(len(records(dl2)), 2, "no body field, or not a string: dead-lettered")
        res.check(p.stderr.count(b"E! rejected") == 2, "no body field: logged")

        # 3. an unterminated quote does not swallow what follows
        dl3 = os.path.join(tmp, "dl3.ndjson")
        follow = "".join("cpu,n=%d usage=%d %d\n" % (i, i, i) for i in range(2000))
        p = subprocess.run([BIN, "-c", "/dev/null", "process", "--dead-letter", dl3],
                           input=('tokenmeter_webhook value="{\\"id\\": 1\n' + follow).encode(),
                           capture_output=True, timeout=60)
        res.equal(p.stdout.decode(), follow, "unterminated quote: every following metric passes")
        recs = records(dl3)
        res.equal(len(recs), 1, "unterminated quote: one record")
        res.check(recs and len(recs[0]["raw"]) < 100, "unterminated quote: holding only its line")
        p = subprocess.run([BIN, "-c", "/dev/null", "replay", "--dead-letter",
                            os.path.join(tmp, "dl4.ndjson"), dl3], capture_output=True,
                           timeout=60)
        res.check(p.returncode == 0 and b"not line protocol" in p.stderr,
                  "a not-line-protocol record replays as a metric (rejected again for the "
                  "same reason, not read as JSON)")
        # many broken lines in a row: resynchronising never nests, whatever the count
        dl5 = os.path.join(tmp, "dl5.ndjson")
        n = 30000
        p = subprocess.run([BIN, "-c", "/dev/null", "process", "--dead-letter", dl5],
                           input=('tokenmeter_webhook value="x\ncpu a=1i 1\n' * n).encode(),
                           capture_output=True, timeout=300)
        res.equal(p.returncode, 0, "%d broken lines: exit 0" % n)
        res.equal(p.stdout.count(b"cpu a=1i 1\n"), n, "%d broken lines: every metric after "
                                                       "each passes" % n)
        res.equal(len(records(dl5)), n, "%d broken lines: one record each" % n)
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
