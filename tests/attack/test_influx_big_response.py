#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: an InfluxDB (or anything at its address) answers a query with a
63 MiB body that gzip shrinks to under 100 KiB on the wire. Before, the
whole body was kept and parsed: `aggregate` reached 2.66 GB RSS. Now the
decoded size is bounded by [influxdb] max_response_bytes (8 MiB): the run
stops with a message that names the limit, the stored rows are unchanged,
and memory stays small. A worst-shaped answer just under the limit is
parsed within a bounded multiple of it."""
import os
import sqlite3
import zlib

from store_influx_util import FakeInflux, Results, run, scratch, write_config


def gzip_query_body(rows):
    """A /query answer of `rows` rows, gzip-compressed piece by piece: the
    decoded body is never held here, so this process stays small (a child's
    peak RSS counts the pages it shares with its parent before exec)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    out = [z.compress(b'{"results":[{"statement_id":0,"series":[{"name":"llm_usage",'
                      b'"columns":["time","requests"],"values":[')]
    chunk = b"[0,0]," * 100000
    for _ in range(rows // 100000):
        out.append(z.compress(chunk))
    out.append(z.compress(b"[0,0]," * (rows % 100000) + b"[0,0]]}]}]}"))
    out.append(z.flush())
    return b"".join(out)


def serve(gz):
    def answer(h):
        if h.path.startswith("/ping"):
            return 204, {"X-Influxdb-Version": "1.6.7"}, b""
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gz
    return answer


def main():
    r = Results("test_influx_big_response")
    huge = gzip_query_body(11000000)  # 63 MiB decoded
    r.check(len(huge) < 200 * 1024, "the attack body is %d KiB on the wire" % (len(huge) // 1024))
    with scratch() as tmp, FakeInflux(serve(huge)) as fx:
        cfg = write_config(tmp, fx.url)
        db = os.path.join(tmp, "summaries.sqlite")
        p, took, rss = run(["aggregate", "--day", "2026-12-01"], cfg)
        r.equal(p.returncode, 65, "aggregate refuses the answer (exit 65)")
        r.check("larger than 8388608 bytes once decoded ([influxdb] max_response_bytes)"
                in p.stderr, "with a message naming the limit (%s)" % p.stderr.strip()[-300:])
        r.check("Failed writing received data" not in p.stderr, "not curl's own words")
        r.check(rss < 100, "peak RSS %.0f MiB stays under 100 MiB" % rss)
        con = sqlite3.connect(db)
        runs = con.execute("SELECT outcome FROM aggregate_runs").fetchall()
        rows = con.execute("SELECT count(*) FROM daily_usage").fetchone()[0]
        con.close()
        r.check(len(runs) == 1 and "max_response_bytes" in runs[0][0] and rows == 0,
                "the failed run is recorded, nothing stored")
        p, took, rss = run(["check"], cfg)
        r.check(p.returncode != 0 and "max_response_bytes" in p.stdout and rss < 100,
                "check reports it too, in bounded memory (%.0f MiB)" % rss)

    # the worst shape the limit lets through: parsed, in bounded memory
    near = gzip_query_body(1380000)  # just under 8 MiB decoded
    with scratch() as tmp, FakeInflux(serve(near)) as fx:
        cfg = write_config(tmp, fx.url)
        p, took, rss = run(["aggregate", "--day", "2026-12-01"], cfg)
        r.check(p.returncode == 65 and "not a local midnight" in p.stderr,
                "a maximal answer is read whole and judged (exit %d)" % p.returncode)
        r.check(rss < 8 * 50, "peak RSS %.0f MiB stays within 50 times the limit" % rss)
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
