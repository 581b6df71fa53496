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


def influxd_binary():
    """The InfluxDB 1.x server Influx starts: TM_INFLUXD (run.sh sets it for
    each 1.x version it tests), else `influxd` on PATH (Debian's 1.6.7)."""
    return os.environ.get("TM_INFLUXD") or "influxd"


def influxd2_binary():
    """The InfluxDB 2.x server Influx2 starts (TM_INFLUXD2, set by run.sh),
    or None when this run has none."""
    return os.environ.get("TM_INFLUXD2") or None


def _wait_ready(proc, url, log, name):
    """Waits until url answers 2xx, or raises with the server's log."""
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (name, open(log).read()[-2000:]))
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError("%s did not answer %s within 60 s" % (name, url))


def _stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _series_rows(doc):
    """Every row of every series of a /query answer, as dicts with the tags."""
    out = []
    for res in doc.get("results", []):
        for s in res.get("series", []):
            for v in s["values"]:
                row = dict(zip(s["columns"], v))
                row.update(s.get("tags") or {})
                out.append(row)
    return out


def _query_doc(raw, q):
    doc = json.loads(raw)
    for res in doc.get("results", []):
        if "error" in res:
            raise RuntimeError("InfluxQL error: %s (%s)" % (res["error"], q))
    return doc


class _Server:
    """What Influx and Influx2 share; each sets self.proc and self.dir and
    defines start()."""

    def stop(self):
        _stop(self.proc)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _post_lines(self, url, lines, headers, batch=5000):
        """Writes line protocol; raises with InfluxDB's message on any non-204."""
        if isinstance(lines, str):
            lines = lines.splitlines()
        for i in range(0, len(lines), batch):
            body = ("\n".join(lines[i:i + batch]) + "\n").encode()
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    if r.status != 204:
                        raise RuntimeError("write: HTTP %d" % r.status)
            except urllib.error.HTTPError as e:
                raise RuntimeError("write rejected: HTTP %d %s" % (e.code, e.read()[:500]))


class Influx(_Server):
    """A real InfluxDB 1.x on 127.0.0.1 (influxd_binary(): Debian's 1.6.7
    unless run.sh picked another 1.x).

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
        self.proc = subprocess.Popen([influxd_binary(), "-config", conf], stdout=logf,
                                     stderr=logf, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        logf.close()
        _wait_ready(self.proc, self.url + "/ping", self.log, "influxd")
        if self.auth:
            self.query("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES"
                       % (self.user, self.password), method="POST", auth=False)
        return self

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
            return _query_doc(r.read(), q)

    def rows(self, q, db):
        """The first series' rows of a SELECT as a list of dicts."""
        return _series_rows(self.query(q, db=db))

    def create_db(self, db):
        self.query('CREATE DATABASE "%s"' % db, method="POST")

    def write(self, db, lines, batch=5000):
        """Writes line protocol; raises with InfluxDB's message on any non-204."""
        params = {"db": db}
        params.update(self._auth_params(True))
        self._post_lines(self.url + "/write?" + urllib.parse.urlencode(params), lines, {}, batch)


class Influx2(_Server):
    """A real InfluxDB 2.x on 127.0.0.1 (influxd2_binary()), set up the way an
    operator does: influxd with its bolt, engine and SQLite files in a
    throwaway directory, then POST /api/v2/setup (what `influx setup` sends)
    creating the user, the org, the first bucket with a retention period and
    the operator token (self.token, all access).
    """

    def __init__(self, org="example-org", bucket="telegraf", retention_days=30):
        self.bin = influxd2_binary()
        if not self.bin:
            raise RuntimeError("no InfluxDB 2.x for this run (TM_INFLUXD2 is not set)")
        self.dir = tempfile.mkdtemp(prefix="tm-influx2-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.org, self.bucket, self.retention_days = org, bucket, retention_days
        self.user, self.password = "admin", "s3cret-pass-2x"
        self.token = "tm-operator-" + os.urandom(12).hex()
        self.org_id = self.bucket_id = None
        self.version = None
        self.proc = None
        self.log = os.path.join(self.dir, "influxd.log")

    def start(self):
        d = self.dir
        args = [self.bin, "--bolt-path", d + "/influxd.bolt", "--engine-path", d + "/engine",
                "--sqlite-path", d + "/influxd.sqlite",
                "--http-bind-address", "127.0.0.1:%d" % self.port,
                "--reporting-disabled", "--ui-disabled", "--pprof-disabled", "--log-level", "error"]
        # influxd 2.x also reads INFLUXD_* variables and a config.* file in
        # its working directory: neither may leak in from the machine.
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXD_")}
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(args, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                     cwd=d, env=env, start_new_session=True)
        logf.close()
        _wait_ready(self.proc, self.url + "/health", self.log, "influxd 2.x")
        with urllib.request.urlopen(self.url + "/ping", timeout=10) as r:
            self.version = r.headers.get("X-Influxdb-Version")
        if self.org_id is None:
            doc = self.api("POST", "/api/v2/setup", {
                "username": self.user, "password": self.password, "org": self.org,
                "bucket": self.bucket, "token": self.token,
                "retentionPeriodSeconds": self.retention_days * 86400}, auth=False)
            self.org_id = doc["org"]["id"]
            self.bucket_id = doc["bucket"]["id"]
        return self


    def api(self, method, path, body=None, auth=True):
        """A JSON request; returns the decoded answer (None when empty).
        Raises with the server's message on any status >= 300."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", "Token " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: HTTP %d %s" % (method, path, e.code, e.read()[:500]))
        return json.loads(raw) if raw.strip() else None

    def create_bucket(self, name, retention_days=0):
        """A bucket in the org (0 days: kept forever); returns its id."""
        rules = ([{"type": "expire", "everySeconds": retention_days * 86400}]
                 if retention_days else [])
        doc = self.api("POST", "/api/v2/buckets", {"orgID": self.org_id, "name": name,
                                                  "retentionRules": rules})
        return doc["id"]

    def bucket_retention(self, name):
        """The bucket's expire rule in seconds (0: forever), None if no bucket."""
        q = urllib.parse.urlencode({"name": name, "orgID": self.org_id})
        doc = self.api("GET", "/api/v2/buckets?" + q)
        for b in doc.get("buckets", []):
            return sum(r.get("everySeconds", 0) for r in b.get("retentionRules", [])
                       if r.get("type") == "expire")
        return None

    def create_dbrp(self, bucket_id, database, rp="autogen"):
        """The DBRP mapping that lets InfluxQL on /query name the bucket as
        database (and default retention policy), as `influx v1 dbrp create`."""
        return self.api("POST", "/api/v2/dbrps", {
            "orgID": self.org_id, "bucketID": bucket_id, "database": database,
            "retention_policy": rp, "default": True})

    def create_token(self, description, bucket_ids=(), write=True, read=True):
        """An API token scoped to some buckets of the org (read and/or write)."""
        perms = []
        for bid in bucket_ids:
            res = {"type": "buckets", "id": bid, "orgID": self.org_id}
            if read:
                perms.append({"action": "read", "resource": res})
            if write:
                perms.append({"action": "write", "resource": res})
        doc = self.api("POST", "/api/v2/authorizations", {
            "orgID": self.org_id, "description": description, "permissions": perms})
        return doc["token"]

    def create_v1_auth(self, username, password, bucket_ids):
        """A v1 authorization (what `influx v1 auth create` makes): a
        username and password for the 1.x-compatible endpoints, with read and
        write on the buckets."""
        perms = [{"action": a, "resource": {"type": "buckets", "id": b, "orgID": self.org_id}}
                 for b in bucket_ids for a in ("read", "write")]
        doc = self.api("POST", "/private/legacy/authorizations",
                       {"orgID": self.org_id, "token": username, "permissions": perms})
        self.api("POST", "/private/legacy/authorizations/%s/password" % doc["id"],
                 {"password": password})

    def write(self, bucket, lines):
        """Line protocol to a bucket through /api/v2/write; raises on non-204."""
        q = urllib.parse.urlencode({"org": self.org, "bucket": bucket, "precision": "ns"})
        self._post_lines(self.url + "/api/v2/write?" + q, lines,
                         {"Authorization": "Token " + self.token})

    def query(self, q, db, epoch="ns"):
        """InfluxQL through the v1-compatible /query (needs a DBRP mapping)."""
        params = urllib.parse.urlencode({"db": db, "q": q, "epoch": epoch})
        req = urllib.request.Request(self.url + "/query?" + params)
        req.add_header("Authorization", "Token " + self.token)
        with urllib.request.urlopen(req, timeout=60) as r:
            return _query_doc(r.read(), q)

    def rows(self, q, db):
        return _series_rows(self.query(q, db))


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
