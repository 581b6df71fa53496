#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A clean Telegraf stop logged two E! lines per tokenmeter child ("read |0:
file already closed", "Error reading stderr: ..."). Telegraf's process
runner closes the read ends of a child's pipes as soon as the child has
exited (Go's cmd.Wait), racing its own reader goroutines; tokenmeter now
closes its ends of stdout and stderr, and lingers a moment, before it exits,
so the readers see EOF first. Both ways Telegraf runs tokenmeter
(inputs.execd and processors.execd) are started and stopped several times;
no stop may log an error."""
import os
import re
import tempfile
import time

import telegraf
import tmlib

STOPS = 6


def config(binary, tmp):
    dl = os.path.join(tmp, "dl.ndjson")
    return """[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true
[[inputs.execd]]
  command = ["%(b)s", "-c", "/dev/null", "execd", "--dead-letter", "%(dl)s"]
  signal = "STDIN"
  data_format = "influx"
[[processors.execd]]
  namepass = ["tokenmeter_stats"]
  command = ["%(b)s", "-c", "/dev/null", "process", "--dead-letter", "%(dl)s"]
[[outputs.file]]
  files = ["%(out)s"]
""" % {"b": binary, "dl": dl, "out": os.path.join(tmp, "out.lp")}


def main():
    res = tmlib.Results("telegraf-clean-stop")
    binary = tmlib.binary()
    with tempfile.TemporaryDirectory() as tmp:
        tg = telegraf.Telegraf(config(binary, tmp))
        try:
            out = os.path.join(tmp, "out.lp")
            for i in range(STOPS):
                if os.path.exists(out):
                    os.unlink(out)
                tg.start()
                tg.wait_log(r"Starting process", count=2 * (i + 1), timeout=60)
                # a gathered stats point went through both children
                deadline = time.time() + 30
                while time.time() < deadline and not (
                        os.path.exists(out) and b"tokenmeter_stats" in open(out, "rb").read()):
                    time.sleep(0.2)
                res.equal(tg.stop(), 0, "stop %d: Telegraf exits 0" % (i + 1))
            log = tg.text()
            errors = [l for l in log.splitlines() if re.search(r" E! ", l)]
            res.equal(errors, [], "%d clean stops log no error" % STOPS)
            res.equal(log.count("I! [inputs.execd] done:") + log.count(
                "I! [processors.execd] done:"), 2 * STOPS, "each child reported at each stop")
        finally:
            tg.close()
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
