#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: another process holds the summary store. Before, a reader that
kept a transaction open for 25 s made `aggregate` fail its COMMIT with 74
and lose its audit row. Now the store runs in WAL mode (a reader does not
block the COMMIT), a writer that holds it past the busy timeout (10 s) is
exit 75 ("try again later") with the stored rows unchanged, and a SQLite
file that is not a tokenmeter store is never added to."""
import os
import sqlite3
import threading
import time

from store_influx_util import Results, run, scratch, write_config

DAY_NS = 1796083200 * 10**9  # 2026-12-01T00:00:00Z


def points(n, tag):
    return "".join('llm_usage,org=acme,model=m,provider=openai,status=success,event_id=%s%d '
                   'input_tokens=10i,output_tokens=2i,total_tokens=12i,cost_usd=0.01,'
                   'cost_source="reported" %d\n' % (tag, i, DAY_NS + i * 10**9)
                   for i in range(n))


def hold(db, sql, seconds, started):
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    con.execute(sql)
    con.execute("SELECT count(*) FROM daily_usage").fetchone()
    started.set()
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()


def main():
    r = Results("test_store_busy")
    with scratch() as tmp:
        cfg = write_config(tmp, "http://127.0.0.1:9")  # never contacted: --input
        db = os.path.join(tmp, "summaries.sqlite")
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "w") as f:
            f.write(points(3, "a"))
        args = ["aggregate", "--day", "2026-12-01", "--input", lp]
        p, _, _ = run(args, cfg)
        r.equal(p.returncode, 0, "a first run creates the store (%s)" % p.stderr.strip()[-200:])
        con = sqlite3.connect(db)
        r.equal(con.execute("PRAGMA journal_mode").fetchone()[0], "wal", "the store is in WAL mode")
        con.close()

        # a reader holding a transaction for 25 s
        with open(lp, "a") as f:
            f.write(points(2, "b"))
        started = threading.Event()
        t = threading.Thread(target=hold, args=(db, "BEGIN", 25, started))
        t.start()
        started.wait(10)
        p, took, _ = run(args, cfg)
        r.equal(p.returncode, 0, "aggregate commits while a reader holds a transaction")
        r.check(took < 10, "without waiting for the reader (%.1f s)" % took)
        t.join()
        con = sqlite3.connect(db)
        r.equal(con.execute("SELECT requests FROM daily_usage").fetchall(), [(5,)],
                "the new rows are stored")
        r.equal([o for (o,) in con.execute("SELECT outcome FROM aggregate_runs")], ["ok", "ok"],
                "and both runs are recorded")
        con.close()

        # a writer holding the store past the busy timeout
        with open(lp, "a") as f:
            f.write(points(1, "c"))
        started = threading.Event()
        t = threading.Thread(target=hold, args=(db, "BEGIN IMMEDIATE", 14, started))
        t.start()
        started.wait(10)
        p, took, _ = run(args, cfg)
        t.join()
        r.equal(p.returncode, 75, "a writer holding the store: exit 75")
        r.check("try again later" in p.stderr, "saying to try again (%s)" % p.stderr.strip()[-300:])
        con = sqlite3.connect(db)
        r.equal(con.execute("SELECT requests FROM daily_usage").fetchall(), [(5,)],
                "the stored rows are unchanged")
        con.close()
        p, _, _ = run(args, cfg)
        r.equal(p.returncode, 0, "the next run goes through")

    with scratch() as tmp:
        cfg = write_config(tmp, "http://127.0.0.1:9")
        db = os.path.join(tmp, "summaries.sqlite")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        con.execute("INSERT INTO invoices (amount) VALUES (12.5)")
        con.commit()
        con.close()
        lp = os.path.join(tmp, "in.lp")
        with open(lp, "w") as f:
            f.write(points(1, "a"))
        p, _, _ = run(["aggregate", "--day", "2026-12-01", "--input", lp], cfg)
        r.equal(p.returncode, 73, "another application's SQLite file is refused (73)")
        r.check("not a tokenmeter summary store" in p.stderr, "saying so")
        con = sqlite3.connect(db)
        names = [n for (n,) in con.execute("SELECT name FROM sqlite_master")]
        con.close()
        r.equal(names, ["invoices"], "and gets no table of ours")
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
