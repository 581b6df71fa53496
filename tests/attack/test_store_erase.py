#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack (by mistake): re-aggregating days whose raw points are gone (or
from the wrong database, or from a partial --input file). Before, the
stored rows were replaced by nothing, exit 0: spend history erased. Now a
replacement never leaves a day with fewer requests unless --force, and a
forced one keeps the previous rows in the history, from which
`aggregate --restore DAY` puts them back."""
import os
import sqlite3

from store_influx_util import Results, run, scratch, write_config

DAY_NS = 1796083200 * 10**9  # 2026-12-01T00:00:00Z


def points(n, day):
    return "".join('llm_usage,org=acme,model=m,provider=openai,status=success,event_id=e%d '
                   'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.25,'
                   'cost_source="reported" %d\n' % (i, DAY_NS + day * 86400 * 10**9 + i * 10**9)
                   for i in range(n))


def rows(db):
    con = sqlite3.connect(db)
    out = con.execute("SELECT day, requests, cost_usd FROM daily_usage ORDER BY day").fetchall()
    con.close()
    return out


def main():
    r = Results("test_store_erase")
    with scratch() as tmp:
        cfg = write_config(tmp, "http://127.0.0.1:9")
        db = os.path.join(tmp, "summaries.sqlite")
        full, empty, partial = (os.path.join(tmp, n) for n in ("full.lp", "empty.lp", "part.lp"))
        with open(full, "w") as f:
            f.write(points(4, 0) + points(6, 1))
        open(empty, "w").close()
        with open(partial, "w") as f:
            f.write(points(6, 1) + points(2, 0))
        span = ["--from", "2026-12-01", "--to", "2026-12-02"]
        p, _, _ = run(["aggregate", "--input", full] + span, cfg)
        r.equal(p.returncode, 0, "the first run stores two days")
        before = rows(db)
        r.equal([x[1] for x in before], [4, 6], "4 and 6 requests")
        for name, path in (("nothing", empty), ("fewer requests", partial)):
            p, _, _ = run(["aggregate", "--input", path] + span, cfg)
            r.equal(p.returncode, 65, "a re-run that finds %s is refused (65)" % name)
            r.check("2026-12-01 (UTC): the store holds 4 requests" in p.stderr,
                    "naming the day and both totals (%s)" % p.stderr.strip()[-300:])
            r.equal(rows(db), before, "the stored rows are kept")
        p, _, _ = run(["aggregate", "--force", "--input", empty] + span, cfg)
        r.equal(p.returncode, 0, "--force replaces them")
        r.equal(rows(db), [], "with nothing")
        for day in ("2026-12-01", "2026-12-02"):
            p, _, _ = run(["aggregate", "--restore", day], cfg)
            r.equal(p.returncode, 0, "--restore %s exits 0" % day)
        r.equal(rows(db), before, "every row is back as it was")
        con = sqlite3.connect(db)
        audit = con.execute("SELECT source, outcome FROM aggregate_runs ORDER BY id").fetchall()
        con.close()
        r.equal([a[0] for a in audit], ["input"] * 4 + ["restore"] * 2,
                "every run, refused, forced or restore, is in the audit table")
        r.check("the store holds 4 requests" in audit[1][1], "with the refusal's reason")
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
