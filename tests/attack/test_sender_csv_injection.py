#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a sender names its org, team or model `=cmd|' /C calc'!A0`; the
CSV report must not hand that to a spreadsheet as a formula (OWASP "CSV
Injection": a cell starting with =, +, -, @, tab or CR is prefixed with a
single quote)."""
import csv
import io
import json
import os
import sys

from sender_util import NO_CONFIG, Results, execd, run, scratch

EVIL = ["=cmd|' /C calc'!A0", "+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain"]


def main():
    r = Results("test_sender_csv_injection")
    with scratch() as tmp:
        bodies = []
        for i, name in enumerate(EVIL):
            bodies.append(json.dumps({
                "id": "chatcmpl-%d" % i, "object": "chat.completion", "created": 1787649302,
                "model": name, "metadata": {"org_id": name},
                "usage": {"prompt_tokens": 10, "completion_tokens": 5}}))
        p, _, _ = execd(tmp, ("\n".join(bodies) + "\n").encode())
        lp = os.path.join(tmp, "points.lp")
        with open(lp, "wb") as f:
            f.write(p.stdout)
        store = os.path.join(tmp, "store.sqlite")
        run(["aggregate"] + NO_CONFIG + ["--input", lp, "--sqlite", store, "--tz", "UTC",
                                         "--day", "2026-08-25", "--no-write-influx"])
        p, _, _ = run(["report"] + NO_CONFIG + ["--sqlite", store, "--tz", "UTC",
                                                "--format", "csv"])
        text = p.stdout.decode()
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        orgs = {row["org"] for row in rows if row["day"] != "total"}
        models = {row["model"] for row in rows if row["day"] != "total"}
        r.check("every sender's row is reported", len(orgs) == len(EVIL), sorted(orgs))
        # A tab or CR never reaches the store as such (line protocol
        # escapes it); the cell check below still covers them.
        for name in EVIL[:4] + ["plain"]:
            want = name if name == "plain" else "'" + name
            r.check("org %r neutralised" % name, want in orgs, sorted(orgs))
            r.check("model %r neutralised" % name, want in models, sorted(models))
        for row in rows:
            for key, cell in row.items():
                if key in ("org", "team", "model", "provider", "day") and cell:
                    r.check("cell %r of %s starts harmless" % (cell[:20], key),
                            cell[0] not in "=+-@\t\r")
        numbers = [row["cost_usd"] for row in rows]
        r.check("costs are plain numbers", all(c and c[0].isdigit() for c in numbers), numbers)
    return r.done()


if __name__ == "__main__":
    sys.exit(main())
