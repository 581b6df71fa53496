#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`tokenmeter prices update|show` against a local HTTP server (127.0.0.1).

update: a good map replaces the file (and nothing is left beside it); a
404, a body that is not JSON, JSON that holds no per-token model, and an
unreachable server each fail with exit 69 and leave the old file byte for
byte. show: the entry, the lookup step that found it, and its rates.
check: names the price table, fails (78) on one that does not load.
report: a cost some requests had no price for is marked as a lower bound,
one with none priced reads "unknown", never 0.
Prints "N passed, M failed" last.
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

BIN = sys.argv[1] if len(sys.argv) > 1 else "./tokenmeter"
GOOD = json.dumps({
    "sample_spec": {"input_cost_per_token": 0},
    "gpt-new": {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06,
                "input_cost_per_token_above_200k_tokens": 2e-06,
                "litellm_provider": "openai"},
}).encode()
BODIES = {
    "/good.json": (200, GOOD),
    "/html": (200, b"<html>not a map</html>"),
    "/empty.json": (200, b"{\"dall-e\": {\"output_cost_per_image\": 0.04}}"),
    "/bad-price.json": (200, b"{\"m\": {\"input_cost_per_token\": -1}}"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = BODIES.get(self.path, (404, b"not found"))
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(*args):
    p = subprocess.run([BIN, "-c", "/dev/null", "prices"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    passed, failed = 0, []

    def check(name, cond, detail=""):
        nonlocal passed
        if cond:
            passed += 1
        else:
            failed.append(name)
            print("FAIL %s %s" % (name, detail))

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "prices.json")
        old = b"{\"old-model\": {\"input_cost_per_token\": 1, \"output_cost_per_token\": 1}}"
        with open(out, "wb") as f:
            f.write(old)
        for path in ("/missing", "/html", "/empty.json", "/bad-price.json"):
            rc, _, err = run("update", "--url", base + path, "--output", out)
            with open(out, "rb") as f:
                kept = f.read() == old
            check("update %s fails" % path, rc == 69 and "is unchanged" in err, (rc, err))
            check("update %s keeps the old file" % path, kept)
            check("update %s leaves no temporary file" % path, os.listdir(d) == ["prices.json"],
                  os.listdir(d))
        rc, _, err = run("update", "--url", "http://127.0.0.1:1/x", "--output", out)
        check("update unreachable fails", rc == 69, (rc, err))
        rc, so, err = run("update", "--url", base + "/good.json", "--output", out)
        with open(out, "rb") as f:
            check("update replaces the file", rc == 0 and f.read() == GOOD, (rc, err))
        check("update says how to reload", "SIGHUP" in so and "1 models" in so, so)
        check("update leaves no temporary file", os.listdir(d) == ["prices.json"], os.listdir(d))
        rc, so, _ = run("show", "openai/gpt-new", "--set", "ingest.prices=" + out)
        check("show finds by stripping the provider", rc == 0 and
              ('entry "gpt-new" of %s, found by "gpt-new"' % out) in so and
              'lookup order: "openai/gpt-new", "gpt-new"' in so, so)
        rc, so, _ = run("show", "gpt-new", "--provider", "azure", "--set", "ingest.prices=" + out)
        check("show names the provider-prefixed name first", rc == 0 and
              'lookup order: "gpt-new", "azure/gpt-new"' in so, so)
        check("show lists the tier rate", "input_cost_per_token_above_200k_tokens" in so, so)
        # cost: one result a line, the point's digits; a bad line is named in its place
        lines = ['{"model":"gpt-new","input_tokens":1000,"output_tokens":500}', "not json",
                 '{"model":"gpt-new","input_tokens":1000}',
                 '{"model":"gpt-new","input_tokens":1000,"output_tokens":500}']
        p = subprocess.run([BIN, "-c", "/dev/null", "prices", "cost", "--set",
                            "ingest.prices=" + out], input="\n".join(lines).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        got = p.stdout.decode().splitlines()
        check("cost prints the shortest digits", got[:1] == ["0.003"], got)
        check("cost: a bad line in its place, the rest priced, exit 65",
              p.returncode == 65 and len(got) == 4 and got[1].startswith("invalid: ") and
              got[3] == "0.003" and "stdin:2:" in p.stderr.decode(), (p.returncode, got))
        check("cost says which count is absent", got[2:3] == ["unknown: output_tokens absent"],
              got)
        rc, so, _ = run("show", "gpt-old", "--set", "ingest.prices=" + out)
        check("show of an unknown model exits 1", rc == 1 and "no entry" in so, (rc, so))
        # report never shows unknown cost as zero
        lp = os.path.join(d, "u.lp")
        db = os.path.join(d, "s.sqlite")
        with open(lp, "w") as f:
            f.write('llm_usage,model=a,org=o,provider=p,source=openai,status=success '
                    'input_tokens=1i,output_tokens=1i,cost_usd=0.5,cost_source="computed",'
                    'event_id="1" 1787666500000000000\n'
                    'llm_usage,model=a,org=o,provider=p,source=openai,status=success '
                    'input_tokens=1i,output_tokens=1i,cost_source="unpriced",'
                    'event_id="2" 1787666500000000001\n'
                    'llm_usage,model=b,org=o,provider=p,source=openai,status=success '
                    'input_tokens=1i,output_tokens=1i,cost_source="unpriced",'
                    'event_id="3" 1787666500000000002\n')
        p = subprocess.run([BIN, "-c", "/dev/null", "aggregate", "--input", lp, "--sqlite", db,
                            "--from", "2026-08-25", "--to", "2026-08-25"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check("aggregate the report's store", p.returncode == 0, p.stderr)
        p = subprocess.run([BIN, "-c", "/dev/null", "report", "--sqlite", db],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        rows = {l.split()[2]: l.split()[-1] for l in p.stdout.decode().splitlines()
                if l.startswith("2026-")}
        total = p.stdout.decode().splitlines()[-1].split()[-1]
        check("report marks a partly priced cost", rows.get("a") == "0.500000+", rows)
        check("report says unknown, not 0", rows.get("b") == "unknown", rows)
        check("report total is a lower bound", total == "0.500000+", total)
        check("report says why on stderr", b"2 requests had no price" in p.stderr, p.stderr)
        p = subprocess.run([BIN, "-c", "/dev/null", "report", "--sqlite", db, "--format", "csv"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        head, *body = p.stdout.decode().splitlines()
        check("csv gives unpriced_requests beside cost_usd",
              head.endswith("unpriced_requests,cost_usd") and body[-1].endswith(",2,0.5"), body)
        # check says which table execd would load, and fails on one that does not load
        def check_run(prices):
            p = subprocess.run([BIN, "-c", "/dev/null", "check", "--set",
                                "influxdb.url=http://127.0.0.1:1", "--set",
                                "influxdb.timeout=1", "--set", "aggregate.sqlite=" + db,
                                "--set", "ingest.prices=" + prices],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            return p.returncode, p.stdout.decode()
        rc, so = check_run(out)
        check("check names the price table", ("ok   prices: 1 models from %s" % out) in so, so)
        rc, so = check_run(os.path.join(d, "missing.json"))
        check("check fails on a price table that does not load",
              rc == 78 and "FAIL prices: prices " in so, (rc, so))
    srv.shutdown()
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
