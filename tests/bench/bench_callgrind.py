#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Instructions per event, by phase, from callgrind (stable on a noisy host).

`tokenmeter execd` runs under valgrind --tool=callgrind over each stream of
stream.py (litellm: 2 000 LiteLLM-heavy events of 4-8 KB; mixed: 4 000
short mixed bodies). Counting starts inside execd's read loop, so start-up
(dynamic linking, configuration) is not in the figures. Phases, from the
inclusive cost of the functions that do them:

  parse      body_parse
  normalize  the rest of pipeline_feed: source detection and extraction,
             the event rules, dead-letter decisions
  price      pricing_apply
  format     event_format_point (line protocol)
  dedup      identity_point_key + identity_cache_check_insert
  write      execd_stream outside pipeline_feed: reading and splitting
             lines, writing points

The peer, run the same way on the same file, is a jansson parse-only loop
(jansson_parse.c: json_loadb and json_decref per line); the ratio is its
instructions per event over tokenmeter's. Each run appends one row per
stream to tests/bench/history.tsv (BENCH_HISTORY=0: don't; BENCH_LABEL
names the row, default `git describe --always --dirty`), so the file in
the repository is the record of what each change did. Nothing passes or
fails on the figures.
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stream  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HISTORY = os.path.join(HERE, "history.tsv")
STREAMS = (("litellm", 2000), ("mixed", 4000))
PHASES = ("parse", "normalize", "price", "format", "dedup", "write")
COLUMNS = ("date", "label", "stream", "events", "total") + PHASES + ("jansson", "ratio")
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S+?:([A-Za-z_][\w.]*)\s+\[")


def inclusive(out_file):
    """Inclusive instructions by function name (first entry of each)."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out_file],
                          capture_output=True, text=True, check=True).stdout
    cost = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(2) not in cost:
            cost[m.group(2)] = int(m.group(1).replace(",", ""))
    return cost


def callgrind(cmd, inp, out_file):
    with open(inp, "rb") as fi:
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file] + cmd,
                       stdin=fi, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return inclusive(out_file)


def phases(c, n):
    get = c.get
    total = get("execd_stream", 0)
    feed = get("pipeline_feed", 0)
    p = {"parse": get("body_parse", 0), "price": get("pricing_apply", 0),
         "format": get("event_format_point", 0),
         "dedup": get("identity_point_key", 0) + get("identity_cache_check_insert", 0)}
    p["normalize"] = feed - sum(p.values())
    p["write"] = total - feed
    return total / n, {k: v / n for k, v in p.items()}


def label():
    if os.environ.get("BENCH_LABEL"):
        return os.environ["BENCH_LABEL"]
    r = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def main():
    binary = os.environ.get("TOKENMETER") or sys.argv[1]
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        print("skipped: valgrind is not installed")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        peer = stream.build(tmp, "jansson_parse", ["jansson"])
        for shape, n in STREAMS:
            inp = os.path.join(tmp, shape + ".ndjson")
            stream.write(inp, shape, n)
            tm = callgrind([binary, "execd", "--dead-letter", os.path.join(tmp, "dl"),
                            "--receive-time", "2026-08-25T00:00:00Z"], inp,
                           os.path.join(tmp, "cg.tm"))
            total, p = phases(tm, n)
            jc = callgrind([peer], inp, os.path.join(tmp, "cg.jansson"))
            jansson = jc.get("main", 0) / n
            print("%-8s %5d events: %7.0f instructions/event  (jansson parse-only %7.0f: "
                  "%.1fx)" % (shape, n, total, jansson, jansson / total if total else 0))
            print("         " + "  ".join("%s %.0f" % (k, p[k]) for k in PHASES))
            rows.append([datetime.date.today().isoformat(), label(), shape, str(n),
                         "%.0f" % total] + ["%.0f" % p[k] for k in PHASES] +
                        ["%.0f" % jansson, "%.2f" % (jansson / total if total else 0)])
    if os.environ.get("BENCH_HISTORY", "1") != "0":
        new = not os.path.exists(HISTORY)
        with open(HISTORY, "a") as f:
            if new:
                f.write("\t".join(COLUMNS) + "\n")
            for r in rows:
                f.write("\t".join(r) + "\n")
        print("appended to %s" % os.path.relpath(HISTORY, REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
