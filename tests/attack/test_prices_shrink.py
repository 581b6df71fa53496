#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: `prices update --url` at the wrong map (a mirror's partial
file, a test fixture): any JSON with one per-token model replaced a table
of thousands, and from the next SIGHUP every other model's events were
written unpriced, their cost lost. Now an update that would drop more
than half the models is refused (exit 65, the old file byte for byte),
unless --force; an ordinary update (a few models fewer) goes through."""
import http.server
import json
import os
import subprocess
import threading

from sinks_util import BIN, NO_CONFIG, scratch, tmlib


def table(n):
    return json.dumps({"m%d" % i: {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}
                       for i in range(n)}).encode()


BODIES = {"/ten.json": table(10), "/six.json": table(6), "/one.json": table(1)}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = BODIES.get(self.path, b"")
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def update(base, name, out, *extra):
    p = subprocess.run([BIN] + NO_CONFIG + ["prices", "update", "--url", base + name, "--output",
                                            out] + list(extra),
                       capture_output=True, text=True, timeout=60)
    with open(out, "rb") as f:
        return p.returncode, p.stderr, f.read()


def main():
    res = tmlib.Results("prices-shrink")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    try:
        with scratch() as tmp:
            out = os.path.join(tmp, "prices.json")
            with open(out, "wb") as f:
                f.write(BODIES["/ten.json"])
            rc, err, now = update(base, "/one.json", out)
            res.equal(rc, 65, "10 models -> 1: refused (65)")
            res.check("holds 10 models" in err and "--force" in err, "saying why (%r)" % err)
            res.check(now == BODIES["/ten.json"], "the old file is left byte for byte")
            res.equal(os.listdir(tmp), ["prices.json"], "no temporary file left")
            rc, err, now = update(base, "/six.json", out)
            res.check(rc == 0 and now == BODIES["/six.json"], "10 -> 6: replaced (%r)" % err)
            rc, err, now = update(base, "/one.json", out, "--force")
            res.check(rc == 0 and now == BODIES["/one.json"], "6 -> 1 with --force: replaced")
            with open(out, "w") as f:
                f.write("{not json")
            rc, err, now = update(base, "/one.json", out)
            res.check(rc == 0 and now == BODIES["/one.json"],
                      "a current file that does not load is replaced (%r)" % err)
    finally:
        srv.shutdown()
    return res.finish()


if __name__ == "__main__":
    raise SystemExit(main())
