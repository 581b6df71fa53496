#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`tokenmeter report --format html` in a real browser (headless Chromium).

Generated events (hostile org names included) over a calendar month in
America/New_York become line protocol, `tokenmeter aggregate --input` builds
the store, and `report --month` writes the JSON report and the HTML page.
Chromium loads the page from file:// over the DevTools protocol and the
test checks: no console error, no exception, no request but the page itself;
one bar segment per org and day with a rendered height proportional to the
cost computed here from the generator's facts; the page's totals equal the
JSON report's and the facts'; names shown as text, never as markup; every
chart an accessible image with a title and a description. The screenshot is
kept in tests/out/report-html.png (and, with --update-docs, the charts part
in docs/img/report-html.png for the README).

usage: test_report_html.py [--update-docs] [path/to/tokenmeter]
"""
import base64
import collections
import datetime
import json
import os
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cdp  # noqa: E402
import usagegen  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from tmlib import Results  # noqa: E402  (one pass/fail counter for every suite)

ZONE = "America/New_York"
TZ = ZoneInfo(ZONE)
MONTH = "2026-11"  # has the DST change of 2026-11-01 in New York
ALIAS = ("gpt-4o-mini-2024-07-18", "gpt-4o-mini")


R = Results("test_report_html")


def run(binary, conf, args):
    p = subprocess.run([binary, "-c", conf] + args, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def expected(facts):
    """Per (day, org) and overall: requests, unpriced, cost — of MONTH's days."""
    per = collections.defaultdict(lambda: [0, 0, 0.0])
    for f in facts:
        day = usagegen.day_of(f, TZ)
        if not day.startswith(MONTH):
            continue
        e = per[(day, f["org"])]
        e[0] += 1
        e[1] += f["cost"] is None
        e[2] += f["cost"] or 0.0
    return per


# Everything the page shows, read from the rendered DOM.
PROBE = r"""
(() => {
  const num = s => s === undefined ? null : Number(s);
  const box = e => e.getBoundingClientRect();
  const segs = [...document.querySelectorAll('#chart-cost rect.seg')].map(r => ({
      day: r.dataset.day, org: r.dataset.org, cost: num(r.dataset.cost),
      unpriced: num(r.dataset.unpriced), tip: r.querySelector('title').textContent,
      h: box(r).height, top: box(r).top, bottom: box(r).bottom}));
  const foot = id => {
      const t = document.getElementById(id);
      if (!t) return null;
      const out = {};
      for (const td of t.querySelectorAll('tfoot td[data-col]'))
          out[td.dataset.col] = td.dataset.value !== undefined ? num(td.dataset.value)
                                                               : num(td.textContent);
      out.rows = t.querySelectorAll('tbody tr').length;
      out.first = t.querySelector('tfoot td').textContent;
      return out;
  };
  const charts = [...document.querySelectorAll('svg')].map(s => {
      const ids = (s.getAttribute('aria-labelledby') || '').split(' ');
      return {role: s.getAttribute('role'),
              texts: ids.map(i => (document.getElementById(i) || {}).textContent || '')};
  });
  const legend = [...document.querySelectorAll('.legend li')].map(li => li.textContent);
  const h2 = [...document.querySelectorAll('h2')].map(h => ({text: h.textContent,
                                                             top: box(h).top + scrollY}));
  return {segs, charts, legend, h2,
          scripts: document.querySelectorAll('script').length,
          bold: document.querySelectorAll('b, i').length,
          unpricedMarks: [...document.querySelectorAll('#chart-cost .unpriced')]
              .map(t => ({day: t.dataset.day, n: num(t.dataset.unpriced)})),
          models: [...document.querySelectorAll('#chart-models rect.model')]
              .map(r => ({model: r.dataset.model, cost: num(r.dataset.cost), w: box(r).width})),
          callout: !!document.getElementById('unpriced-callout'),
          tables: {dayOrg: foot('table-day-org'), models: foot('table-models'),
                   days: foot('table-days'), rows: foot('table-rows')},
          height: document.documentElement.scrollHeight, title: document.title};
})()
"""


def load(browser, path):
    """Loads the page; returns (probe, events seen while loading)."""
    browser.events.clear()
    url = "file://" + path
    browser.call("Page.navigate", url=url)
    browser.wait_event("Page.loadEventFired")
    return browser.evaluate(PROBE), url


def problems(events, url):
    bad = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            bad.append("console %s: %s" % (p["type"], p.get("args")))
        elif m == "Runtime.exceptionThrown":
            bad.append("exception: %s" % p.get("exceptionDetails"))
        elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            bad.append("log %s: %s" % (p["entry"]["level"], p["entry"].get("text")))
        elif m == "Network.requestWillBeSent" and p["request"]["url"] != url:
            bad.append("request: %s" % p["request"]["url"])
    return bad


def check_page(page, per, js, what):
    segs = page["segs"]
    want_keys = sorted(per)
    R.equal(sorted((s["day"], s["org"]) for s in segs), want_keys,
            "%s: one bar segment per org and day" % what)
    by_key = {(s["day"], s["org"]): s for s in segs}
    bad_cost = [k for k in per if k in by_key and abs(by_key[k]["cost"] - per[k][2]) > 1e-7]
    R.check(not bad_cost, "%s: each segment's cost is the facts' sum %s" % (what, bad_cost[:3]))
    ratios = [s["h"] / s["cost"] for s in segs if s["cost"] > 0.001]
    R.check(ratios and max(ratios) - min(ratios) <= 0.01 * max(ratios),
            "%s: rendered heights proportional to cost (px per USD %.2f..%.2f)"
            % (what, min(ratios or [0]), max(ratios or [0])))
    zero = [s for s in segs if s["cost"] == 0]
    R.check(all(s["h"] < 0.01 for s in zero), "%s: a segment without cost has no height" % what)
    unknown = [s for s in zero if per[(s["day"], s["org"])][1] == per[(s["day"], s["org"])][0]]
    R.check(unknown and all("$" not in s["tip"] and "%d unpriced" % s["unpriced"] in s["tip"]
                            for s in unknown),
            "%s: %d segments of only unpriced requests say so, never $0"
            % (what, len(unknown)))
    R.check(all(s["unpriced"] == per[(s["day"], s["org"])][1] for s in segs),
            "%s: each segment carries its unpriced requests" % what)
    # segments of a day stack without gaps or overlaps (the ones without
    # cost have no extent to check)
    days = collections.defaultdict(list)
    for s in segs:
        if s["cost"] > 0:
            days[s["day"]].append(s)
    gaps = 0
    for day_segs in days.values():
        day_segs.sort(key=lambda s: (-s["bottom"], -s["top"]))
        for lower, upper in zip(day_segs, day_segs[1:]):
            gaps += abs(lower["top"] - upper["bottom"]) > 0.05
    R.equal(gaps, 0, "%s: segments stack on each other" % what)
    total_cost = round(sum(v[2] for v in per.values()), 9)
    total_req = sum(v[0] for v in per.values())
    for name, foot in page["tables"].items():
        R.check(foot is not None and abs(foot["cost_usd"] - js["totals"]["cost_usd"]) < 1e-12
                and foot["requests"] == js["totals"]["requests"] and foot["first"] == "total",
                "%s: table %s's totals equal the JSON report's" % (what, name))
    R.equal(page["tables"]["rows"]["rows"], len(js["rows"]),
            "%s: the rows table has the JSON report's rows" % what)
    R.check(abs(js["totals"]["cost_usd"] - total_cost) < 1e-9,
            "%s: JSON total cost equals the facts' (%r)" % (what, total_cost))
    R.equal(js["totals"]["requests"], total_req, "%s: JSON total requests equal the facts'" % what)
    unpriced_days = collections.Counter()
    for (day, _org), v in per.items():
        unpriced_days[day] += v[1]
    R.equal(sorted((m["day"], m["n"]) for m in page["unpricedMarks"]),
            sorted((d, n) for d, n in unpriced_days.items() if n),
            "%s: every day with unpriced requests is marked with their number" % what)
    R.check(page["callout"], "%s: unpriced requests are called out" % what)
    R.check(usagegen.UNPRICED_MODEL not in [m["model"] for m in page["models"]],
            "%s: the unpriced model gets no (zero) cost bar" % what)
    R.check(ALIAS[0] not in [m["model"] for m in page["models"]],
            "%s: the aliased model name is reported under its alias" % what)
    R.equal(page["scripts"] + page["bold"], 0, "%s: names are text, never markup" % what)
    R.check(set(usagegen.ORGS) <= set(page["legend"]),
            "%s: the legend shows each org name as sent" % what)
    R.check(len(page["charts"]) == 4 and all(
        c["role"] == "img" and len(c["texts"]) == 2 and all(t.strip() for t in c["texts"])
        for c in page["charts"]), "%s: 4 charts, each an image with a title and a description"
        % what)


def main():
    args = sys.argv[1:]
    update_docs = "--update-docs" in args
    args = [a for a in args if a != "--update-docs"]
    binary = os.path.abspath(args[0] if args else os.path.join(ROOT, "build", "tokenmeter"))
    work = tempfile.mkdtemp(prefix="tm-report-html-")
    outdir = os.path.join(ROOT, "tests", "out")
    os.makedirs(outdir, exist_ok=True)
    conf = os.path.join(work, "t.conf")
    with open(conf, "w") as f:
        f.write("[aggregate]\nsqlite = %s/s.sqlite\ntimezone = %s\n[aliases]\n%s = %s\n"
                % (work, ZONE, ALIAS[0], ALIAS[1]))
    start = datetime.datetime(2026, 10, 31, tzinfo=datetime.timezone.utc)
    facts = usagegen.facts(11, start, 32, 1500)
    lp = os.path.join(work, "points.lp")
    with open(lp, "w") as f:
        f.write("\n".join(usagegen.line(x) for x in facts) + "\n")
    run(binary, conf, ["aggregate", "--input", lp, "--from", "2026-10-30", "--to", "2026-12-02"])
    per = expected(facts)
    pages = {}
    for name, extra in (("default", []), ("org-model", ["--group-by", "org,model"])):
        js = json.loads(run(binary, conf, ["report", "--month", MONTH, "--format", "json"] + extra))
        html = os.path.join(work, "report-%s.html" % name)
        with open(html, "w") as f:
            f.write(run(binary, conf, ["report", "--month", MONTH, "--format", "html"] + extra))
        pages[name] = (html, js)

    with cdp.Browser(width=1100, height=900) as b:
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(domain + ".enable")
        for name, (html, js) in pages.items():
            page, url = load(b, html)
            bad = problems(b.events, url)
            R.check(not bad, "%s: no console error, exception or outside request %s"
                    % (name, bad[:3]))
            check_page(page, per, js, name)
            R.check(MONTH in page["title"] or "2026-11-01" in page["title"],
                    "%s: the title names the period" % name)
        # the screenshot of the default page: whole page as the artifact,
        # the charts for the README
        html, js = pages["default"]
        page, _ = load(b, html)
        b.call("Emulation.setDeviceMetricsOverride", width=1100, height=int(page["height"]),
               deviceScaleFactor=1, mobile=False)
        shot = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = base64.b64decode(shot["data"])
        with open(os.path.join(outdir, "report-html.png"), "wb") as f:
            f.write(png)
        R.check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000,
                "screenshot kept in tests/out/report-html.png (%d bytes)" % len(png))
        tables = next((h["top"] for h in page["h2"] if h["text"] == "Tables"), 1400)
        if update_docs:
            clip = dict(x=0, y=0, width=1100, height=int(tables), scale=0.75)
            shot = b.call("Page.captureScreenshot", format="png", clip=clip,
                          captureBeyondViewport=True)
            os.makedirs(os.path.join(ROOT, "docs", "img"), exist_ok=True)
            with open(os.path.join(ROOT, "docs", "img", "report-html.png"), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print("wrote docs/img/report-html.png")
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
