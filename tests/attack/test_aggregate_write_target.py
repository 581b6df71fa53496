#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: `[aggregate] measurement = llm_usage` (the raw measurement's
name) with `write_influx = true`. The daily points were written among the
raw points they summed, and the next run summed them again: the tokens and
cost of every day doubled. Now aggregate refuses (78) before it stores or
writes anything; another name, or another database or bucket, works."""
import os
import sqlite3

from store_influx_util import FakeInflux, Results, run, scratch, write_config

POINT = ('llm_usage,org=acme,model=m,provider=openai,status=success,event_id=a '
         'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.01,'
         'cost_source="reported" 1796083300000000000\n')


def main():
    r = Results("test_aggregate_write_target")
    writes = []

    def answer(h):
        if h.path.startswith("/write"):
            writes.append(h.path)
        return 204, {}, b""
    with FakeInflux(answer) as fx, scratch() as tmp:
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "w") as f:
            f.write(POINT)
        args = ["aggregate", "--day", "2026-12-01", "--input", lp, "--write-influx"]
        bad = write_config(tmp, fx.url, "[aggregate]\nmeasurement = llm_usage\n")
        # write_config's own [aggregate] section follows: the key stays set
        p, _, _ = run(args, bad)
        r.equal(p.returncode, 78, "the raw measurement as the daily one: refused (78)")
        r.check("summed again" in p.stderr, "saying why (%s)" % p.stderr.strip()[-300:])
        r.equal(writes, [], "nothing written to InfluxDB")
        r.check(not os.path.exists(os.path.join(tmp, "summaries.sqlite")), "no store made")
        other = write_config(tmp, fx.url, "[aggregate]\nmeasurement = llm_usage\n"
                             "write_database = daily\n")
        p, _, _ = run(args, other)
        r.equal(p.returncode, 0, "the same name in another database: fine")
        r.equal(len(writes), 1, "and written there")
        p, _, _ = run(args, write_config(tmp, fx.url))
        r.equal(p.returncode, 0, "the default name: fine")
        con = sqlite3.connect(os.path.join(tmp, "summaries.sqlite"))
        r.equal(con.execute("SELECT requests FROM daily_usage").fetchall(), [(1,)],
                "the store holds the day once")
        con.close()
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
