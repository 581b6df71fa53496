# SPDX-License-Identifier: MIT
"""Shared helpers for tokenmeter's integration tests (Python stdlib only).

Every server a test starts binds to 127.0.0.1 on a free port, keeps its data
in a throwaway directory, and is stopped by the test (use `with`).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    """The tokenmeter binary under test (TOKENMETER, else build/tokenmeter)."""
    return os.environ.get("TOKENMETER", os.path.join(ROOT, "build", "tokenmeter"))


class Influx:
    """A real InfluxDB 1.x (Debian's `influxd`) on 127.0.0.1.

    auth=True enables HTTP authentication and creates an admin user
    (self.user / self.password).
    """

    def __init__(self, auth=False):
        self.dir = tempfile.mkdtemp(prefix="tm-influx-")
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.auth = auth
        self.user, self.password = "admin", "s3cret-pass"
        self.proc = None
        self.log = os.path.join(self.dir, "influxd.log")

    def _config(self):
        d = self.dir
        return """reporting-enabled = false
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%s/meta"
[data]
  dir = "%s/data"
  wal-dir = "%s/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = %s
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
""" % (self.rpc_port, d, d, d, self.port, "true" if self.auth else "false")

    def start(self):
        conf = os.path.join(self.dir, "influxdb.conf")
        with open(conf, "w") as f:
            f.write(self._config())
        logf = open(self.log, "w")
        self.proc = subprocess.Popen(["influxd", "-config", conf], stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("influxd exited: " + open(self.log).read()[-2000:])
            try:
                urllib.request.urlopen(self.url + "/ping", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        else:
            raise RuntimeError("influxd did not answer /ping within 30 s")
        if self.auth:
            self.query("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES"
                       % (self.user, self.password), method="POST", auth=False)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _auth_params(self, auth):
        if self.auth and auth:
            return {"u": self.user, "p": self.password}
        return {}

    def query(self, q, db=None, method="GET", auth=True, epoch="ns"):
        params = {"epoch": epoch}
        if db:
            params["db"] = db
        params.update(self._auth_params(auth))
        data = None
        if method == "POST":
            data = urllib.parse.urlencode({"q": q}).encode()
        else:
            params["q"] = q
        url = self.url + "/query?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as r:
            doc = json.loads(r.read())
        for res in doc.get("results", []):
            if "error" in res:
                raise RuntimeError("InfluxQL error: %s (%s)" % (res["error"], q))
        return doc

    def rows(self, q, db):
        """The first series' rows of a SELECT as a list of dicts."""
        doc = self.query(q, db=db)
        out = []
        for res in doc.get("results", []):
            for s in res.get("series", []):
                for v in s["values"]:
                    row = dict(zip(s["columns"], v))
                    row.update(s.get("tags") or {})
                    out.append(row)
        return out

    def create_db(self, db):
        self.query('CREATE DATABASE "%s"' % db, method="POST")

    def write(self, db, lines, batch=5000):
        """Writes line protocol; raises with InfluxDB's message on any non-204."""
        if isinstance(lines, str):
            lines = lines.splitlines()
        for i in range(0, len(lines), batch):
            body = ("\n".join(lines[i:i + batch]) + "\n").encode()
            params = {"db": db}
            params.update(self._auth_params(True))
            req = urllib.request.Request(self.url + "/write?" + urllib.parse.urlencode(params),
                                         data=body, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    if r.status != 204:
                        raise RuntimeError("write: HTTP %d" % r.status)
            except urllib.error.HTTPError as e:
                raise RuntimeError("write rejected: HTTP %d %s" % (e.code, e.read()[:500]))


class Results:
    """Counts checks and prints the closing line CI reads."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print("ok   %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL %s" % what, flush=True)
        return cond

    def equal(self, got, want, what):
        ok = got == want
        if not ok:
            what = "%s (got %r, want %r)" % (what, got, want)
        return self.check(ok, what)

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed), flush=True)
        return 1 if self.failed or self.passed == 0 else 0
