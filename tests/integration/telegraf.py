# SPDX-License-Identifier: MIT
"""A real Telegraf for the end-to-end tests (Python stdlib only).

telegraf_binary() finds a Telegraf v1.39.3 that has every plugin the shipped
configs use, or builds one from its Go module into a stable cache directory
(about 40 s with a warm module cache). If it cannot, it raises: the tests
fail loudly, they never pass by skipping.

Telegraf(config_text, fragment) runs it on a main config and a telegraf.d/
fragment written to a throwaway directory; shipped_config() reads a file
from telegraf/ and substitutes paths and ports, and nothing else. The
shipped files are telegraf.d/ fragments: stock_main_config() is the main
config they are dropped next to.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from tmlib import ROOT, Influx, binary

VERSION = "v1.39.3"
PLUGINS = ["inputs.execd", "inputs.http_listener_v2", "processors.execd", "outputs.influxdb",
           "outputs.influxdb_v2", "outputs.file", "parsers.influx", "parsers.value",
           "serializers.influx"]
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "tokenmeter", "telegraf-" + VERSION)


def _usable(path):
    """True when path is a Telegraf of VERSION with every plugin in PLUGINS."""
    if not path or not os.access(path, os.X_OK):
        return False
    try:
        mod = subprocess.run(["go", "version", "-m", path], capture_output=True, text=True,
                             timeout=60).stdout
        listed = subprocess.run([path, "plugins"], capture_output=True, text=True,
                                timeout=60).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return False
    if not re.search(r"^\s*mod\s+github\.com/influxdata/telegraf\s+%s\s" % re.escape(VERSION),
                     mod, re.M):
        return False
    return all(p in listed for p in PLUGINS)


def telegraf_binary():
    """The path of a usable Telegraf; builds it when there is none."""
    candidates = [os.environ.get("TELEGRAF"), os.path.join(CACHE, "telegraf"),
                  os.path.join(os.path.expanduser("~"), "go", "bin", "telegraf")]
    for c in candidates:
        if _usable(c):
            return c
    os.makedirs(CACHE, exist_ok=True)
    env = dict(os.environ, GOBIN=CACHE, GOFLAGS="-buildvcs=false")
    tags = "custom," + ",".join(PLUGINS)
    cmd = ["go", "install", "-tags", tags, "github.com/influxdata/telegraf/cmd/telegraf@" + VERSION]
    print("building Telegraf %s into %s (once per machine)" % (VERSION, CACHE), flush=True)
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError("cannot build Telegraf (%s): %s" % (" ".join(cmd), e))
    path = os.path.join(CACHE, "telegraf")
    if r.returncode != 0 or not _usable(path):
        raise RuntimeError("cannot build Telegraf (%s): exit %d\n%s"
                           % (" ".join(cmd), r.returncode, r.stderr[-3000:]))
    return path


def shipped_config(name, subst):
    """telegraf/NAME with each key of subst (a path or host:port that the
    file documents) replaced by its value. Every key must occur."""
    with open(os.path.join(ROOT, "telegraf", name)) as f:
        text = f.read()
    for old, new in subst.items():
        if old not in text:
            raise RuntimeError("%s does not mention %s" % (name, old))
        text = text.replace(old, new)
    return text


def stock_main_config():
    """The [global_tags] and [agent] tables `telegraf config` generates (what
    a stock telegraf.conf holds), without its plugins."""
    r = subprocess.run([telegraf_binary(), "config", "--section-filter", "global_tags:agent"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or "[agent]" not in r.stdout:
        raise RuntimeError("telegraf config failed: %s" % r.stderr[-2000:])
    return r.stdout


class Telegraf:
    """One Telegraf process on a config (and a telegraf.d/ fragment, when
    given); its log (stderr) in self.log."""

    def __init__(self, config_text, workdir=None, fragment=None):
        self.bin = telegraf_binary()
        self.dir = workdir or tempfile.mkdtemp(prefix="tm-telegraf-")
        self.conf = os.path.join(self.dir, "telegraf.conf")
        with open(self.conf, "w") as f:
            f.write(config_text)
        self.confdir = None
        if fragment is not None:
            self.confdir = os.path.join(self.dir, "telegraf.d")
            os.makedirs(self.confdir)
            with open(os.path.join(self.confdir, "tokenmeter.conf"), "w") as f:
                f.write(fragment)
        self.log = os.path.join(self.dir, "telegraf.log")
        self.proc = None
        self.starts = 0

    def start(self, debug=False):
        logf = open(self.log, "a")
        args = [self.bin, "--config", self.conf]
        if self.confdir:
            args += ["--config-directory", self.confdir]
        if debug:
            args.append("--debug")
        self.proc = subprocess.Popen(args, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=self.dir)
        logf.close()
        self.starts += 1
        return self

    def wait_log(self, pattern, timeout=60, count=1):
        """Waits until pattern (a regex) matched count times in the log."""
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            if len(rx.findall(self.text())) >= count:
                return True
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError("telegraf exited (%s):\n%s"
                                   % (self.proc.returncode, self.text()[-3000:]))
            time.sleep(0.1)
        raise RuntimeError("telegraf log never showed %r:\n%s" % (pattern, self.text()[-3000:]))

    def text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops Telegraf and returns its exit status."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise RuntimeError("telegraf did not stop within %d s" % timeout)
        return self.proc.returncode

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- what the end-to-end tests compare --------------------------------------

DATA = os.path.join(ROOT, "tests", "data")


def golden_bodies():
    """Every body of the golden cases that need no config of their own, in
    order: one per non-blank line, without its line end (what execd feeds)."""
    bodies = []
    for case in sorted(os.listdir(DATA)):
        d = os.path.join(DATA, case)
        if os.path.exists(os.path.join(d, "config.ini")):
            continue
        if not os.path.exists(os.path.join(d, "input.ndjson")):
            continue  # not a golden case (e.g. jsontestsuite/)
        with open(os.path.join(d, "input.ndjson"), "rb") as f:
            for line in f.read().split(b"\n"):
                line = line[:-1] if line.endswith(b"\r") else line
                if line.strip(b" \t"):
                    bodies.append(line)
    return bodies


def openai_body(event_id, prompt, completion, created):
    """A minimal OpenAI chat completion, as a JSON body."""
    return json.dumps({"id": event_id, "object": "chat.completion", "created": created,
                       "model": "e2e-model",
                       "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}}).encode()


def _unescape(s, i, stops):
    out = []
    while i < len(s) and s[i] not in stops:
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in ",= \\\"":
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out), i


def parse_lp(line):
    """(measurement, tags, fields, ts) of one line as tokenmeter writes it."""
    name, i = _unescape(line, 0, ", ")
    tags, fields = {}, {}
    while line[i] == ",":
        k, i = _unescape(line, i + 1, "=")
        v, i = _unescape(line, i + 1, ", ")
        tags[k] = v
    i += 1
    while True:
        k, i = _unescape(line, i, "=")
        i += 1
        if line[i] == '"':
            v, i = _unescape(line, i + 1, '"')
            i += 1
        else:
            j = i
            while line[j] not in ", ":
                j += 1
            raw, i = line[i:j], j
            v = int(raw[:-1]) if raw.endswith("i") else float(raw)
        fields[k] = v
        if line[i] == ",":
            i += 1
            continue
        break
    return name, tags, fields, int(line[i + 1:])


def reference(conf, bodies, receive_time):
    """What `tokenmeter execd` makes of the bodies with this config: the
    points (parsed) and the dead-letter records (dicts)."""
    dl = os.path.join(os.path.dirname(conf), "reference-dl-%d.ndjson" % receive_time)
    r = subprocess.run([binary(), "-c", conf, "execd", "--dead-letter", dl,
                        "--receive-time", str(receive_time)],
                       input=b"\n".join(bodies) + b"\n", capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("reference execd failed: %s" % r.stderr[-2000:])
    points = [parse_lp(l) for l in r.stdout.decode().splitlines()]
    records = []
    if os.path.exists(dl):
        with open(dl) as f:
            records = [json.loads(l) for l in f if l.strip()]
        os.unlink(dl)
    return points, records


def influx_points(infl, db, where=""):
    """llm_usage rows as (measurement, tags, fields, ts), tags told apart
    from fields by SHOW TAG KEYS."""
    doc = infl.query("SHOW TAG KEYS FROM llm_usage", db=db)
    tagkeys = set()
    for res in doc.get("results", []):
        for s in res.get("series", []):
            tagkeys.update(v[0] for v in s["values"])
    out = []
    for row in infl.rows("SELECT * FROM llm_usage " + where, db):
        ts = row.pop("time")
        tags = {k: v for k, v in row.items() if k in tagkeys and v is not None}
        fields = {k: v for k, v in row.items() if k not in tagkeys and v is not None}
        out.append(("llm_usage", tags, fields, ts))
    return out


def point_key(p):
    return (tuple(sorted(p[1].items())), p[2].get("event_id"))


def record_body(rec):
    """A dead-letter record's body, as bytes."""
    return rec["raw"].encode() if "raw" in rec else base64.b64decode(rec["raw_base64"])


def dead_letter_bodies(path):
    """The raw bodies of a dead-letter file, as bytes, in order."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for l in f:
            out.append(record_body(json.loads(l)))
    return out


# ---- webhooks over HTTP, and what InfluxDB then holds ------------------------


class Poster:
    """POSTs bodies over keep-alive connections from several threads and
    records which were acknowledged with 2xx."""

    def __init__(self, port, threads=4):
        self.port = port
        self.threads = threads
        self.acked = set()
        self.failed = 0
        self.codes = {}
        self.lock = threading.Lock()

    def _worker(self, items):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for key, body, headers in items:
            try:
                conn.request("POST", "/tokenmeter", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.failed += 1
                return  # the listener is gone: stop this sender
            with self.lock:
                self.codes[resp.status] = self.codes.get(resp.status, 0) + 1
                if 200 <= resp.status < 300:
                    self.acked.add(key)
        conn.close()

    def post(self, items):
        """items: (key, body, headers); returns once all were sent."""
        parts = [items[k::self.threads] for k in range(self.threads)]
        ths = [threading.Thread(target=self._worker, args=(p,)) for p in parts]
        for t in ths:
            t.start()
        for t in ths:
            t.join()


def wait_count(infl, where, want, db="tokenmeter", timeout=90):
    """Waits until SELECT count(event_id) ... reaches want; returns it."""
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        rows = infl.rows("SELECT count(event_id) FROM llm_usage " + where, db)
        n = rows[0]["count"] if rows else 0
        if n >= want:
            break
        time.sleep(0.25)
    return n


def sums_by_org(infl, where, db="tokenmeter"):
    rows = infl.rows("SELECT sum(input_tokens), sum(output_tokens), count(event_id) "
                     "FROM llm_usage %s GROUP BY org" % where, db)
    return {r["org"]: (r["sum"], r["sum_1"], r["count"]) for r in rows}


def tenancy_events(n):
    """n OpenAI bodies sent with X-Tokenmeter-Org/-Team headers across two
    orgs, as Poster items, and the per-org [input, output, count] they sum to."""
    items, expect = [], {}
    for i in range(n):
        org = "e2e-acme" if i % 3 else "e2e-globex"
        prompt, completion = 100 + i, 1 + i % 17
        items.append(("s%d" % i, openai_body("e2e-s-%d" % i, prompt, completion, 1787600000 + i),
                      {"X-Tokenmeter-Org": org, "X-Tokenmeter-Team": "t%d" % (i % 2)}))
        e = expect.setdefault(org, [0, 0, 0])
        e[0] += prompt
        e[1] += completion
        e[2] += 1
    return items, expect


def burst_events(prefix, org, n, created):
    """n distinct OpenAI bodies for org, as Poster items keyed by event id,
    and the [input, output, count] they sum to."""
    items = [("%s-%d" % (prefix, i), openai_body("%s-%d" % (prefix, i), 10 + i % 7, 3, created + i),
              {"X-Tokenmeter-Org": org}) for i in range(n)]
    return items, [sum(10 + i % 7 for i in range(n)), 3 * n, n]


def sigterm_mid_burst(results, infl, tg, port, n, stop_after, db="tokenmeter"):
    """Restarts Telegraf, POSTs a burst of n events and sends SIGTERM once
    stop_after were acknowledged: every event the listener acknowledged with
    2xx must then be stored, and nothing else."""
    tg.start()
    tg.wait_log(r"Listening on 127\.0\.0\.1:%d" % port, count=tg.starts)
    poster = Poster(port)
    burst, _ = burst_events("e2e-stop", "e2e-stop", n, 1787400000)
    sender = threading.Thread(target=poster.post, args=(burst,))
    sender.start()
    while len(poster.acked) < stop_after and sender.is_alive():
        time.sleep(0.01)
    acked_at_stop = len(poster.acked)
    status = tg.stop(signal.SIGTERM)
    sender.join()
    results.equal(status, 0, "Telegraf stopped mid-burst exits 0")
    rows = infl.rows("SELECT event_id FROM llm_usage WHERE org = 'e2e-stop'", db)
    stored = {r["event_id"] for r in rows}
    missing = poster.acked - stored
    print("mid-burst stop: %d acknowledged when SIGTERM was sent, %d acknowledged in all, "
          "%d refused or cut, %d stored" % (acked_at_stop, len(poster.acked), poster.failed,
                                           len(stored)), flush=True)
    results.check(0 < len(poster.acked) < len(burst), "the stop happened mid-burst")
    results.equal(sorted(missing), [], "every acknowledged event is stored")
    if missing:
        print(tg.text()[-6000:])
    results.check(stored <= {k for k, _, _ in burst}, "nothing else arrived")


def other_errors(log):
    """Telegraf's E! lines that are not tokenmeter's rejections. A clean stop
    logs none: Telegraf closes a child's pipes as soon as it exits, so
    tokenmeter closes its ends first and lets the readers see EOF
    (cmd_io_detach_pipes), which keeps "read |0: file already closed" and
    "Error reading stderr" out of the log."""
    return [l for l in log.splitlines()
            if " E! " in l and " E! [processors.execd] rejected stdin:" not in l]


class Setup:
    """A throwaway directory with a tokenmeter.conf (dead letters inside it),
    a real InfluxDB, and the substitutions that point a shipped config at
    them. close() stops and removes everything."""

    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.dead_letter = os.path.join(self.dir, "lib", "dead-letter.ndjson")
        os.makedirs(os.path.dirname(self.dead_letter))
        self.conf = os.path.join(self.dir, "tokenmeter.conf")
        with open(self.conf, "w") as f:
            f.write("[ingest]\ndead_letter = %s\n" % self.dead_letter)
        self.influx = None
        self.telegraf = None

    def start(self, config_name, subst, influx=None):
        """Starts InfluxDB (a 1.x, unless influx gives a started server, which
        close() then stops too), then Telegraf on the shipped config with the
        common paths and the InfluxDB port substituted, plus subst."""
        self.influx = influx or Influx().start()
        common = {
            "/usr/bin/tokenmeter": binary(),
            "/etc/tokenmeter/tokenmeter.conf": self.conf,
            "127.0.0.1:8086": "127.0.0.1:%d" % self.influx.port,
        }
        common.update(subst)
        self.telegraf = Telegraf(stock_main_config(),
                                 fragment=shipped_config(config_name, common))
        self.telegraf.start()
        return self

    def close(self):
        if self.telegraf:
            self.telegraf.close()
        if self.influx:
            self.influx.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Golden:
    """The golden bodies and what `tokenmeter execd` makes of them with the
    test's config: the reference the Telegraf paths are held to."""

    def __init__(self, conf):
        self.bodies = golden_bodies()
        ref, self.dead_letters = reference(conf, self.bodies, 1787666591000000000)
        # Bodies without a time of their own get the receive time (Telegraf's
        # for process, the file's mtime for the spool): timestamps are
        # compared only where another receive time changes nothing.
        other, _ = reference(conf, self.bodies, 1700000000000000000)
        ts_other = {point_key(p): p[3] for p in other}
        self.fixed = {point_key(p): p[3] for p in ref if ts_other.get(point_key(p)) == p[3]}
        self.want = {point_key(p): p for p in ref}  # InfluxDB keeps one per identity
        self.sources = sorted({p[1]["source"] for p in ref})

    def check(self, results, rows):
        """Holds InfluxDB's rows to the reference."""
        got = {point_key(p): p for p in rows}
        want = self.want
        results.equal(len(rows), len(got), "no golden event stored twice")
        results.equal(sorted(got), sorted(want), "InfluxDB holds exactly execd's golden events")
        results.equal([k for k in want if k in got and want[k][2] != got[k][2]], [],
                      "with execd's fields, value for value")
        results.equal([k for k, ts in self.fixed.items() if k in got and got[k][3] != ts], [],
                      "and execd's timestamps where the body has a time (%d events)"
                      % len(self.fixed))
        results.check(len(self.sources) >= 5 and
                      sorted({p[1]["source"] for p in rows}) == self.sources,
                      "every source arrived: %s" % " ".join(self.sources))
