#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a store path SQLite does not keep. `aggregate --sqlite ""` (an
unset shell variable: `--sqlite "$STORE"`) and `--sqlite :memory:` made
SQLite open a store that vanishes at close: aggregate said "1 rows from
input", exit 0, and kept nothing (and left a stray ".lock"). Now both are
refused before any file is made, by aggregate, --restore and report, and
`check` names it."""
import os

from store_influx_util import Results, run, scratch, write_config

DAY_NS = 1796083200 * 10**9  # 2026-12-01T00:00:00Z
POINT = ('llm_usage,org=acme,model=m,provider=openai,status=success,event_id=a '
         'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.01,'
         'cost_source="reported" %d\n' % DAY_NS)


def main():
    r = Results("test_store_vanishing_path")
    with scratch() as tmp:
        cfg = write_config(tmp, "http://127.0.0.1:9")  # never contacted: --input
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "w") as f:
            f.write(POINT)
        cwd = os.getcwd()
        os.chdir(tmp)  # where a stray "<path>.lock" would appear
        try:
            before = sorted(os.listdir(tmp))
            for path in ("", ":memory:"):
                for args in (["aggregate", "--day", "2026-12-01", "--input", lp],
                             ["aggregate", "--restore", "2026-12-01"], ["report"]):
                    p, _, _ = run(args + ["--sqlite", path], cfg)
                    r.check(p.returncode != 0 and "must name a file" in p.stderr,
                            "%s --sqlite %r: refused (%d %s)"
                            % (args[0] + (" --restore" if "--restore" in args else ""), path,
                               p.returncode, p.stderr.strip()[-200:]))
                p, _, _ = run(["check", "--config-only", "--set", "aggregate.sqlite=" + path],
                              cfg)
                r.check(p.returncode == 64 and "FAIL config" in p.stdout and
                        "must name a file" in p.stderr,
                        "check --config-only: the flag refused (usage, 64) for %r" % path)
            r.equal(sorted(os.listdir(tmp)), before, "no file was made (no stray lock)")
            p, _, _ = run(["aggregate", "--day", "2026-12-01", "--input", lp], cfg)
            r.equal(p.returncode, 0, "the configured store still works")
        finally:
            os.chdir(cwd)
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
