#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: an operator runs `tokenmeter prices update` as the docs' first
example, without --output. Before, it replaced the package-owned snapshot
under $(DATADIR) (which an upgrade then silently reverts, and a package
check flags as modified). Now the default target is the state directory's
/var/lib/tokenmeter/model_prices.json, and when [ingest] prices names the
snapshot itself, update without --output refuses (64) and writes nothing.
No test here writes outside its scratch directory: the downloads fail."""
import os
import subprocess

from sinks_util import BIN, NO_CONFIG, scratch, tmlib

UNREACHABLE = "http://127.0.0.1:9/prices.json"


def run(args):
    p = subprocess.run([BIN] + NO_CONFIG + args, capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    res = tmlib.Results("prices-default")
    rc, out, _ = run(["prices", "--help"])
    snapshot = [w for w in out.split() if w.endswith("share/tokenmeter/model_prices.json;")]
    res.check(rc == 0 and snapshot, "prices --help names the snapshot")
    snapshot = snapshot[0].rstrip(";") if snapshot else "/usr/local/share/tokenmeter/x.json"
    res.check("/var/lib/tokenmeter/model_prices.json" in out, "and where update writes")

    rc, _, err = run(["prices", "update", "--url", UNREACHABLE])
    res.equal(rc, 69, "update without --output, download failing: 69")
    res.check("/var/lib/tokenmeter/model_prices.json is unchanged" in err and snapshot not in err,
              "its target is the state directory, not the snapshot (%r)" % err)

    rc, _, err = run(["--set", "ingest.prices=" + snapshot, "prices", "update", "--url",
                      UNREACHABLE])
    res.check(rc == 64 and "packaged snapshot" in err and "--output" in err,
              "[ingest] prices = the snapshot: update refuses, naming --output (%d %r)" % (rc, err))

    with scratch() as tmp:
        mine = os.path.join(tmp, "mine.json")
        with open(mine, "w") as f:
            f.write("{}")
        rc, _, err = run(["--set", "ingest.prices=" + mine, "prices", "update", "--url",
                          UNREACHABLE])
        res.check(rc == 69 and "%s is unchanged" % mine in err, "[ingest] prices: its file")
        rc, _, err = run(["prices", "update", "--url", UNREACHABLE, "--output", mine])
        res.check(rc == 69 and "%s is unchanged" % mine in err, "--output: its file")
        with open(mine) as f:
            res.equal(f.read(), "{}", "left as it was")
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
