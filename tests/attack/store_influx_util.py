# SPDX-License-Identifier: MIT
"""Helpers for the InfluxDB and SQLite attacks (test_influx_*, test_store_*):
a fake InfluxDB on 127.0.0.1 whose every answer the test chooses, and the
binary named by $TOKENMETER run with a config file of the test's own.

Waits are liveness bounds (how long before a missing answer counts as a
hang), never assertions about speed."""
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import tmlib  # noqa: E402

BIN = os.environ.get("TOKENMETER", tmlib.binary())
Results = tmlib.Results


def scratch():
    return tempfile.TemporaryDirectory(prefix="tm-attack-store-")


class FakeInflux:
    """An HTTP server on 127.0.0.1 answering every request with
    answer(handler) -> (status, headers dict, body bytes). Requests are
    recorded as (method, path, headers dict)."""

    def __init__(self, answer):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                status, headers, body = answer(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = _any

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a client that hangs up mid-answer (over its limit) is expected here
        self.server.handle_error = lambda request, address: None
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def write_config(tmp, url, extra=""):
    path = os.path.join(tmp, "tokenmeter.conf")
    with open(path, "w") as f:
        f.write("[influxdb]\nurl = %s\ndatabase = tokenmeter\n%s\n"
                "[ingest]\ndead_letter = %s/dead.ndjson\n"
                "[aggregate]\nsqlite = %s/summaries.sqlite\n" % (url, extra, tmp, tmp))
    return path


def run(args, config, timeout=120, stdin=None):
    """Runs the binary; returns (process with returncode, stdout and stderr
    as text, seconds taken, peak RSS in MiB of that process alone)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen([BIN, "-c", config] + args, stdout=out, stderr=err, env=env,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            p.stdin.write(stdin.encode())
            p.stdin.close()
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        took = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        p.stdout = out.read().decode("utf-8", "replace")
        p.stderr = err.read().decode("utf-8", "replace")
    return p, took, usage.ru_maxrss / 1024.0
