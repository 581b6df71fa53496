#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The InfluxDB 2.x paths against a recorded-request stub.

No InfluxDB 2.x server is available here (Debian 12 ships 1.6 only, and the
machine has no network), so this test runs a tiny HTTP server on 127.0.0.1
that answers from a script and records every request; the test then asserts
the exact method, path with query string, headers and JSON body tokenmeter
sent. The shapes follow the 2.x OpenAPI spec (reference §F2): GET
/api/v2/buckets?name=&org=, PATCH /api/v2/buckets/{id} with retentionRules,
POST /api/v2/write?org=&bucket=&precision=ns, all with "Authorization:
Token". It also checks the retry policy: 429 with Retry-After is retried
after that many seconds, 503 is retried up to three attempts, "400 partial
write" is never retried.
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import tmlib

R = tmlib.Results("test_influx_v2_stub")
BIN = tmlib.binary()
WORK = tempfile.mkdtemp(prefix="tm-v2-")
TOKEN = "tok-v2-SECRET-0123456789"
BUCKET_ID = "0a1b2c3d4e5f6a7b"


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


def bucket(seconds):
    return {"buckets": [{"id": BUCKET_ID, "name": "metrics", "orgID": "1111222233334444",
                         "retentionRules": [{"type": "expire", "everySeconds": seconds,
                                             "shardGroupDurationSeconds": 86400}]}]}


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
        get_path = "/api/v2/buckets?name=metrics&org=acme"

        # retention apply: 30 days to 14 deletes points, so not without --force
        stub.answer(200, bucket(30 * 86400))
        p = run(["retention", "apply"], cfg)
        R.equal(p.returncode, 65, "retention apply refuses to shorten the bucket (exit 65)")
        R.check("needs --force" in p.stdout and "keeps 30 days" in p.stdout,
                "and shows the current retention and why (%s)" % p.stdout.strip())
        R.equal([(m, pth) for m, pth, _, _ in stub.seen], [("GET", get_path)],
                "nothing but the lookup was sent")
        stub.seen.clear()

        # --force: look the bucket up, PATCH its rule, read it back
        stub.answer(200, bucket(30 * 86400))
        stub.answer(200, {"id": BUCKET_ID})
        stub.answer(200, bucket(14 * 86400))
        p = run(["retention", "apply", "--force"], cfg)
        R.equal(p.returncode, 0, "retention apply exits 0 (%s)" % p.stderr.strip())
        R.check('bucket "metrics" keeps 14 days' in p.stdout, "and says so: %s" % p.stdout.strip())
        seen = stub.seen[:]
        R.equal([(m, pth) for m, pth, _, _ in seen],
                [("GET", get_path), ("PATCH", "/api/v2/buckets/" + BUCKET_ID), ("GET", get_path)],
                "requests: GET bucket, PATCH /api/v2/buckets/{id}, GET bucket")
        R.check(all(auth_ok(h) for _, _, h, _ in seen), "every request has Authorization: Token")
        R.equal(seen[1][2].get("Content-Type"), "application/json", "PATCH is JSON")
        R.equal(seen[1][3], b'{"retentionRules":[{"type":"expire","everySeconds":1209600}]}',
                "PATCH body: one expire rule of 14 days")
        R.check(TOKEN not in p.stdout + p.stderr, "the token is never printed")

        # retention check: differs -> 1, bucket missing -> 1
        stub.seen.clear()
        stub.answer(200, bucket(7 * 86400))
        p = run(["retention", "check"], cfg)
        R.equal(p.returncode, 78, "retention check: 7 days configured 14 -> exit 78")
        stub.answer(200, {"buckets": []})
        p = run(["retention", "apply"], cfg)
        R.equal(p.returncode, 69, "retention apply on a missing bucket exits 69")
        R.check("not found" in p.stderr, "saying the bucket was not found")
        stub.answer(401, {"code": "unauthorized", "message": "unauthorized access"})
        p = run(["retention", "check"], cfg)
        R.equal(p.returncode, 77, "a rejected token exits 77")
        R.check("unauthorized access" in p.stderr and TOKEN not in p.stderr,
                "with the server's message and without the token")

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

        # 400 partial write: never retried
        stub.seen.clear()
        stub.answer(400, {"code": "invalid", "message": "partial write: field type conflict"})
        p = run(["aggregate", "--input", lp, "--day", "2026-08-25", "--write-influx"], cfg)
        R.equal(len(stub.seen), 1, "400 partial write is not retried")
        R.equal(p.returncode, 69, "and exits 69 (%s)" % p.stderr.strip()[-200:])
        R.check("the SQLite rows were stored" in p.stderr, "saying the SQLite rows are stored")

        # 503 every time: three attempts, then 75
        stub.seen.clear()
        for _ in range(3):
            stub.answer(503, {"message": "unavailable"})
        p = run(["aggregate", "--input", lp, "--day", "2026-08-25", "--write-influx"], cfg)
        R.equal(len(stub.seen), 3, "503 is tried three times")
        R.equal(p.returncode, 75, "then exits 75")

        # check: the 2.x version header matches the bucket setting
        stub.seen.clear()
        stub.answer(204, b"", {"X-Influxdb-Version": "v2.7.12"})
        stub.answer(200, bucket(14 * 86400))
        stub.answer(204)
        stub.answer(200, {"results": [{"statement_id": 0}]})
        newest = int(time.time()) * 10**9 - 90 * 10**9
        stub.answer(200, {"results": [{"statement_id": 0, "series": [{
            "name": "llm_usage", "columns": ["time", "last"], "values": [[newest, "reported"]]}]}]})
        p = run(["check"], cfg)
        print(p.stdout, end="")
        R.check("ok   version: InfluxDB v2.7.12, using the 2.x API" in p.stdout,
                "check: version v2.7.12 with the 2.x API")
        R.check('ok   retention: bucket "metrics" keeps 14 days' in p.stdout, "check: retention")
        R.check("ok   write:" in p.stdout and "ok   query:" in p.stdout, "check: write and query")
        R.equal([(m, pth.split("?")[0]) for m, pth, _, _ in stub.seen],
                [("GET", "/ping"), ("GET", "/api/v2/buckets"), ("POST", "/api/v2/write"),
                 ("GET", "/query"), ("GET", "/query")], "check's requests")
        R.check("db=metrics" in stub.seen[3][1], "queries use the bucket as the v1 database")
        R.check('ok   newest point: "llm_usage" at ' in p.stdout and "m ago" in p.stdout,
                "check: the newest point's age")
        R.equal(p.returncode, 0, "check exits 0")
    finally:
        stub.shutdown()
        stub.server_close()


try:
    main()
finally:
    import shutil
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(R.finish())
