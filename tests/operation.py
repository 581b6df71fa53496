#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How `tokenmeter execd` behaves as a Telegraf child (docs/operations.md), through the
real binary on pipes, the way Telegraf's inputs.execd runs it:

  * a point arrives while stdin stays open (flushed when input is idle);
  * a blank line, SIGHUP and SIGUSR1 each produce one tokenmeter_stats point;
  * EOF: flush and exit 0; SIGTERM/SIGINT: flush and exit 0;
  * a closed stdout (EPIPE) ends the process with a clear message, exit 74;
  * stderr lines carry Telegraf's level prefixes;
  * configuration errors name file, line and key and exit 78; usage errors 64;
  * `replay` feeds dead letters back and refuses to replay a file into itself.

Waits are liveness bounds (how long to wait before declaring a hang), never
assertions about speed.

Usage: operation.py BINARY
"""
import base64
import json
import os
import select
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import tmlib  # noqa: E402

CHAT = ('{"id":"chatcmpl-%d","object":"chat.completion","created":1787666592,"model":"m",'
        '"usage":{"prompt_tokens":10,"completion_tokens":2}}')
HANG = 20  # seconds before a missing line counts as a hang


class Child:
    def __init__(self, binary, args, tmp):
        self.dl = os.path.join(tmp, "dl.ndjson")
        self.p = subprocess.Popen([binary, "execd", "--dead-letter", self.dl] + args,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.buf = b""

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read_line(self):
        """The next stdout line, or None if none arrives in HANG seconds."""
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.p.stdout], [], [], HANG)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def exit_open(self):
        """Waits for the process to exit on its own while stdin stays open."""
        self.p.wait(timeout=HANG)
        out = self.p.stdout.read()
        err = self.p.stderr.read().decode()
        self.p.stdin.close()
        return self.p.returncode, self.buf + out, err

    def finish(self):
        if self.p.stdin and self.p.stdin.closed:
            self.p.stdin = None  # communicate() would flush it
        out, err = self.p.communicate(timeout=HANG)
        return self.p.returncode, self.buf + out, err.decode()


def main():
    binary = os.path.abspath(sys.argv[1])
    res = tmlib.Results("operation")
    with tempfile.TemporaryDirectory() as tmp:
        # flushed while stdin stays open; gather signals; EOF
        c = Child(binary, [], tmp)
        c.send((CHAT % 1 + "\n").encode())
        line = c.read_line()
        res.check(line is not None and line.startswith("llm_usage,"),
                  "a point arrives while stdin stays open")
        c.send(b"\n")
        line = c.read_line()
        res.check(line is not None and line.startswith("tokenmeter_stats,host=")
                  and ",mode=execd lines=1i,events=1i,written=1i" in line,
                  "a blank line gives a stats point: %r" % (line or "")[:80])
        for sig in (signal.SIGUSR1, signal.SIGHUP):
            c.p.send_signal(sig)
            line = c.read_line()
            res.check(line is not None and line.startswith("tokenmeter_stats,"),
                      "%s gives a stats point" % sig.name)
        c.send((CHAT % 2 + "\r\n").encode())  # CRLF
        res.check((c.read_line() or "").startswith("llm_usage,"), "CRLF line accepted")
        c.p.stdin.close()
        rc, rest, err = c.finish()
        res.equal(rc, 0, "EOF: exit 0")
        res.check(all(l[:3] in ("E! ", "W! ", "I! ", "D! ") for l in err.splitlines()),
                  "every stderr line has a Telegraf prefix")
        res.check("I! done: 2 lines, 2 events, 2 written" in err, "closing counters logged")

        # SIGTERM: the pending input is finished and flushed, exit 0
        for sig in (signal.SIGTERM, signal.SIGINT):
            c = Child(binary, [], tmp)
            c.send((CHAT % 3 + "\n").encode())
            res.check(c.read_line() is not None, "%s: point before the signal" % sig.name)
            c.p.send_signal(sig)
            rc, rest, err = c.finish()
            res.equal(rc, 0, "%s: exit 0" % sig.name)

        # SIGTERM in the middle of a line: the part that arrived is
        # dead-lettered, not dropped
        c = Child(binary, [], tmp)
        c.send((CHAT % 4 + "\n" + (CHAT % 5)[:60]).encode())
        res.check(c.read_line() is not None, "SIGTERM mid-line: the whole line's point arrives")
        c.p.send_signal(signal.SIGTERM)
        rc, rest, err = c.exit_open()  # stdin stays open: the signal alone stops it
        res.equal(rc, 0, "SIGTERM mid-line: exit 0")
        with open(c.dl) as f:
            recs = [json.loads(l) for l in f if l.strip()]
        res.check(bool(recs) and recs[-1].get("raw") == (CHAT % 5)[:60] and
                  "incomplete line" in recs[-1]["reason"],
                  "SIGTERM mid-line: the partial line is dead-lettered with its reason (%r)"
                  % (recs[-1:],))
        res.check("1 rejected" in err, "SIGTERM mid-line: counted as rejected")

        # --spool: an over-size stdin line still arriving and an over-size
        # spool file are streamed to the dead-letter file at the same time;
        # both records come out whole
        spool = os.path.join(tmp, "spool")
        os.makedirs(os.path.join(spool, "new"))
        os.makedirs(os.path.join(spool, "tmp"))
        c = Child(binary, ["--spool", spool, "--max-body-bytes", "1024"], tmp)
        c.send(b'{"a":"' + b"x" * 3000)
        with open(os.path.join(spool, "tmp", "f1"), "w") as f:
            f.write('{"b":"' + "y" * 3000 + '"}')
        os.rename(os.path.join(spool, "tmp", "f1"), os.path.join(spool, "new", "f1"))
        for _ in range(HANG * 10):  # until the reader has taken the file
            if not os.listdir(os.path.join(spool, "new")):
                break
            select.select([], [], [], 0.1)
        c.send(b'"}\n')
        c.p.stdin.close()
        rc, rest, err = c.finish()
        with open(c.dl) as f:
            recs = [json.loads(l) for l in f if l.strip()][-2:]
        sizes = sorted(len(base64.b64decode(r.get("raw_base64", ""))) for r in recs)
        res.check(rc == 0 and sizes == [3008, 3008] and
                  {r["origin"] for r in recs} == {"stdin:1", os.path.join(spool, "new", "f1")},
                  "--spool: two over-size bodies streamed at once both land whole (%r)" % sizes)

        # EPIPE: nobody reads stdout any more
        c = Child(binary, [], tmp)
        c.p.stdout.close()
        try:
            for i in range(2000):
                c.send((CHAT % (100 + i) + "\n").encode())
        except BrokenPipeError:
            pass
        try:
            c.p.stdin.close()
        except BrokenPipeError:
            pass
        c.p.wait(timeout=HANG)
        err = c.p.stderr.read().decode()
        res.equal(c.p.returncode, 74, "closed stdout: exit 74")
        res.check("E! stdout was closed (EPIPE)" in err, "closed stdout: a clear message")

        # configuration and usage errors
        conf = os.path.join(tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[ingest]\n# comment\ndedupe = tag\n")
        p = subprocess.run([binary, "-c", conf, "execd"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        res.equal(p.returncode, 78, "unknown key: exit 78")
        res.check("%s:3: unknown key \"dedupe\" in section [ingest]" % conf in p.stderr,
                  "unknown key: names file, line and key")
        p = subprocess.run([binary, "execd", "-c", os.path.join(tmp, "missing.conf")],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        res.equal(p.returncode, 78, "-c after the command, missing file: exit 78")
        p = subprocess.run([binary, "execd", "--dedup", "sometimes", "--dead-letter",
                            os.path.join(tmp, "x")], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        res.equal(p.returncode, 64, "bad flag value: a usage error, exit 64")
        res.check("expected timestamp, tag or off" in p.stderr, "bad flag value: says why")
        p = subprocess.run([binary, "execd", "--no-such-flag"], capture_output=True, text=True)
        res.equal(p.returncode, 64, "unknown flag: exit 64")
        p = subprocess.run([binary, "frobnicate"], capture_output=True, text=True)
        res.equal(p.returncode, 64, "unknown command: exit 64")
        p = subprocess.run([binary, "execd", "--dead-letter", "/nonexistent/dir/dl"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        res.equal(p.returncode, 73, "dead-letter file cannot be created: exit 73")
        p = subprocess.run([binary, "execd", "--dead-letter", os.path.join(tmp, "d"),
                            os.path.join(tmp, "no-such-input")], capture_output=True, text=True)
        res.equal(p.returncode, 66, "missing input file: exit 66")
        p = subprocess.run([binary, "execd", "--help"], capture_output=True, text=True)
        res.check(p.returncode == 0 and "8519680 bytes per 1000000" in p.stdout,
                  "--help states the duplicate cache's fixed memory")
        p = subprocess.run([binary, "--version"], capture_output=True, text=True)
        res.check(p.returncode == 0 and p.stdout.startswith("tokenmeter "), "--version")

        # replay: bodies rejected under one config are written under another
        dl = os.path.join(tmp, "replay-dl.ndjson")
        body = json.dumps({"id": "msg_r", "type": "message", "model": "m",
                           "usage": {"input_tokens": 5, "output_tokens": 1}})
        p = subprocess.run([binary, "execd", "--dead-letter", dl, "--source", "gemini"],
                           input=body + "\n", capture_output=True, text=True)
        res.check(p.returncode == 0 and p.stdout == "", "forced wrong source: rejected")
        p = subprocess.run([binary, "replay", "--dead-letter", dl, dl], capture_output=True,
                           text=True)
        res.equal(p.returncode, 64, "replay refuses its own dead-letter file")
        retry = os.path.join(tmp, "retry.ndjson")
        os.rename(dl, retry)
        with open(retry, "a") as f:
            f.write("this is not a record\n")
        p = subprocess.run([binary, "replay", "--dead-letter", dl, retry], capture_output=True,
                           text=True)
        res.check(p.stdout.startswith("llm_usage,model=m,") and "event_id=\"msg_r\"" in p.stdout,
                  "replay writes the fixed body")
        res.equal(p.returncode, 65, "replay: a malformed record gives exit 65")
        res.check("line 2: not a dead-letter record" in p.stderr,
                  "replay names the malformed line")
        # replay treats a body as it was first treated: an enveloped array's
        # element keeps its envelope, a process-mode body its tags and its
        # receive time
        dl2 = os.path.join(tmp, "ctx-dl.ndjson")
        msg = {"id": "msg_ctx", "type": "message", "model": "m",
               "usage": {"input_tokens": 5, "output_tokens": 1}}
        env = json.dumps({"tokenmeter": 1, "org": "org_env", "body": [msg]})
        p = subprocess.run([binary, "execd", "--dead-letter", dl2, "--source", "gemini"],
                           input=env + "\n", capture_output=True, text=True)
        metric = ('http_listener_v2,org=org_tag value="%s" 1787666591000000000\n'
                  % json.dumps(dict(msg, id="msg_tag")).replace('"', '\\"'))
        p = subprocess.run([binary, "process", "--dead-letter", dl2, "--set",
                            "ingest.source=gemini"], input=metric, capture_output=True, text=True)
        res.check(p.returncode == 0 and p.stdout == "", "process: forced wrong source rejects")
        retry2 = os.path.join(tmp, "ctx-retry.ndjson")
        os.rename(dl2, retry2)
        with open(retry2) as f:
            recs = [json.loads(l) for l in f]
        res.check(json.loads(recs[0]["raw"]).get("org") == "org_env",
                  "an enveloped array's element is dead-lettered inside its envelope")
        res.check(recs[1].get("org") == "org_tag" and
                  recs[1].get("received_ns") == 1787666591000000000,
                  "a process-mode record keeps the metric's tags and time")
        p = subprocess.run([binary, "replay", "--dead-letter", dl2, retry2], capture_output=True,
                           text=True)
        out = p.stdout.splitlines()
        res.check(p.returncode == 0 and len(out) == 2, "replay writes both")
        res.check(any("org=org_env," in l and 'event_id="msg_ctx"' in l for l in out),
                  "replay: the envelope's org")
        res.check(any("org=org_tag," in l and 'event_id="msg_tag"' in l and
                      l.split(" ")[-1].startswith("1787666591") for l in out),
                  "replay: the tag's org and the original receive time")

    # the main job (tests/run-example.sh) installs the build dependencies only
    setup = os.path.join(os.path.dirname(os.path.abspath(__file__)), "setup-debian.sh")
    env = dict(os.environ, SETUP_DEBIAN_PRINT="1")
    build = subprocess.run(["sh", setup, "build"], capture_output=True, text=True, env=env).stdout
    full = subprocess.run(["sh", setup], capture_output=True, text=True, env=env).stdout
    res.check("libcurl4-openssl-dev" in build and not any(
        t in build for t in ("valgrind", "influxdb", "check", "go ")),
        "setup-debian.sh build: the build dependencies only: %r" % build)
    res.check(all(t in full for t in ("valgrind", "influxdb", "go ")),
              "setup-debian.sh: the test tools too")
    with open(os.path.join(os.path.dirname(setup), "run-example.sh")) as f:
        res.check("setup-debian.sh build" in f.read(), "run-example.sh asks for the build part")
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
