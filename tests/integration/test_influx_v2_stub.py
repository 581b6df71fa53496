#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# integration: no InfluxDB
"""The InfluxDB 2.x answers a real server cannot be made to give on demand,
from a stub: a tiny HTTP server on 127.0.0.1 that answers from a script and
records every request. 429 with Retry-After is retried after that many
seconds; 503 is tried three times, then the run exits 75.

Everything a real 2.x server can answer (check, retention on a bucket,
aggregate through /query, --write-influx, rejected tokens, missing buckets,
partial writes) is tested against one in test_influx2_commands.py.
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

import tmlib

R = tmlib.Results("test_influx_v2_stub")
BIN = tmlib.binary()
WORK = tempfile.mkdtemp(prefix="tm-v2-")
TOKEN = "tok-v2-SECRET-0123456789"


class Stub(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = []   # (status, headers, body) answered in order
        self.seen = []     # (method, path, headers, body)
        self.url = "http://127.0.0.1:%d" % self.server_address[1]

    def answer(self, status, body=b"", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.script.append((status, headers or {}, body))


class Handler(http.server.BaseHTTPRequestHandler):
    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        status, headers, out = (self.server.script.pop(0) if self.server.script
                                else (599, {}, b'{"message":"unexpected request"}'))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PATCH = do_HEAD = _any

    def log_message(self, *a):
        pass


def config(url, days=14):
    tok = os.path.join(WORK, "token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    path = os.path.join(WORK, "v2.conf")
    with open(path, "w") as f:
        f.write("[influxdb]\nurl = %s\nbucket = metrics\norg = acme\ntoken_file = %s\n"
                "retention_days = %d\ntimeout = 5\n[aggregate]\nsqlite = %s/s.sqlite\n"
                "write_bucket = daily\n" % (url, tok, days, WORK))
    return path


def run(args, cfg):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    return subprocess.run([BIN, "-c", cfg] + args, capture_output=True, text=True, env=env,
                          timeout=120)


def auth_ok(h):
    return h.get("Authorization") == "Token " + TOKEN


def main():
    stub = Stub()
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        cfg = config(stub.url)

        # --write-influx to a bucket; 429 + Retry-After is retried once
        lp = os.path.join(WORK, "in.lp")
        with open(lp, "w") as f:
            f.write('llm_usage,model=m1,org=acme,provider=openai,source=openai,status=success '
                    'input_tokens=10i,output_tokens=5i,total_tokens=15i,cost_usd=0.5,'
                    'cost_source="reported",event_id="e1" 1787616000000000000\n'
                    'llm_usage,model=m2,org=acme,provider=openai,source=openai,status=error '
                    'input_tokens=1i,total_tokens=1i,cost_source="unpriced",event_id="e2" '
                    '1787616001000000000\n')
        stub.seen.clear()
        stub.answer(429, b'{"message":"slow down"}', {"Retry-After": "1"})
        stub.answer(204)
        p = run(["aggregate", "--input", lp, "--day", "2026-08-25", "--write-influx"], cfg)
        R.equal(p.returncode, 0, "aggregate --write-influx to a bucket exits 0 (%s)"
                % p.stderr.strip()[-200:])
        R.equal([(m, pth) for m, pth, _, _ in stub.seen],
                [("POST", "/api/v2/write?org=acme&bucket=daily&precision=ns")] * 2,
                "POST /api/v2/write?org=&bucket=&precision=ns, retried after 429")
        R.check("retrying in 1.0 s" in p.stderr, "Retry-After: 1 was honoured")
        body = stub.seen[-1][3].decode()
        R.equal(body.splitlines(),
                ["llm_usage_daily,model=m1,org=acme,provider=openai,timezone=UTC requests=1i,"
                 "successful=1i,failed=0i,input_tokens=10i,cached_input_tokens=0i,"
                 "cache_write_tokens=0i,output_tokens=5i,reasoning_tokens=0i,total_tokens=15i,"
                 "unpriced_requests=0i,cost_usd=0.5 1787616000000000000",
                 "llm_usage_daily,model=m2,org=acme,provider=openai,timezone=UTC requests=1i,"
                 "successful=0i,failed=1i,input_tokens=1i,cached_input_tokens=0i,"
                 "cache_write_tokens=0i,output_tokens=0i,reasoning_tokens=0i,total_tokens=1i,"
                 "unpriced_requests=1i,cost_usd=0 1787616000000000000"],
                "the llm_usage_daily lines, stamped with the day's start")
        R.check(auth_ok(stub.seen[-1][2]) and
                stub.seen[-1][2].get("Content-Type", "").startswith("text/plain"),
                "write has the token and a text/plain body")

        # 503 every time: three attempts, then 75
        stub.seen.clear()
        for _ in range(3):
            stub.answer(503, {"message": "unavailable"})
        p = run(["aggregate", "--input", lp, "--day", "2026-08-25", "--write-influx"], cfg)
        R.equal(len(stub.seen), 3, "503 is tried three times")
        R.equal(p.returncode, 75, "then exits 75")
    finally:
        stub.shutdown()
        stub.server_close()


try:
    main()
finally:
    import shutil
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(R.finish())
