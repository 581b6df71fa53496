#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: `aggregate --input` of a file with one very long line (a big
string field in an export). Each 64 KiB read rescanned the line from its
start, so a 30 MiB line took 13 s and one near the 64 MiB limit about a
minute. Now a read without a newline skips the scan: the long line must
cost at most a small multiple of the CPU time of a file of the same size
made of ordinary lines. Both are measured in this run; no absolute time is
asserted (the timeout only keeps a regression from hanging the suite)."""
import os
import resource
import subprocess

from store_influx_util import BIN, Results, scratch, write_config

SIZE = 32 << 20
RATIO = 4
LINE = ('llm_usage,org=acme,model=m,provider=openai,status=success,event_id=%s '
        'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.01,'
        'cost_source="reported"%s 1796083300000000000\n')


def cpu_of(args, config):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([BIN, "-c", config] + args, capture_output=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return p, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    r = Results("test_aggregate_long_line")
    with scratch() as tmp:
        cfg = write_config(tmp, "http://127.0.0.1:9")  # never contacted: --input
        long_lp = os.path.join(tmp, "long.lp")
        with open(long_lp, "w") as f:
            f.write(LINE % ("big", ',pad="' + "x" * SIZE + '"'))
        plain_lp = os.path.join(tmp, "plain.lp")
        with open(plain_lp, "w") as f:
            one = len(LINE % ("e0000000", ""))
            f.write("".join(LINE % ("e%07d" % i, "") for i in range(SIZE // one)))
        args = ["aggregate", "--day", "2026-12-01", "--sqlite"]
        p, plain = cpu_of(args + [os.path.join(tmp, "a.sqlite"), "--input", plain_lp], cfg)
        r.equal(p.returncode, 0, "a file of ordinary lines aggregates (%.2f s CPU)" % plain)
        p, big = cpu_of(args + [os.path.join(tmp, "b.sqlite"), "--input", long_lp], cfg)
        r.equal(p.returncode, 0, "a file of one %d MiB line aggregates" % (SIZE >> 20))
        r.check(big <= RATIO * max(plain, 0.05),
                "one long line: %.2f s CPU <= %d x ordinary lines %.2f s" % (big, RATIO, plain))
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
