#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a server (or a proxy in front of it) answers 401 and echoes the
request's Authorization header, the token or the password in its error
text. Before, that text went verbatim to stderr, `check`'s output and the
aggregate_runs table. Now the configured token and password, the Basic
credential built from them and any Authorization value are replaced by
"[redacted]" before anything prints or stores them. A --set with ':' for
'=' does not echo its value either."""
import base64
import json
import os
import sqlite3

from store_influx_util import FakeInflux, Results, run, scratch, write_config

TOKEN = "tok-SECRET-4f2a9c"
PASSWORD = "pw-SECRET-77e1b0"


def echo(h):
    """Echoes the header and the credential in it, decoded, as a careless
    server or proxy does."""
    auth = h.headers.get("Authorization", "")
    scheme, _, cred = auth.partition(" ")
    if scheme == "Basic":
        cred = base64.b64decode(cred).decode()
    body = json.dumps({"error": "authorization failed for Authorization: %s (credential %s)"
                       % (auth, cred)}).encode()
    if h.path.startswith("/ping"):
        return 204, {"X-Influxdb-Version": "1.8.10"}, b""
    return 401, {"Content-Type": "application/json"}, body


def secrets_in(text):
    basic = base64.b64encode(("admin:" + PASSWORD).encode()).decode()
    return [s for s in (TOKEN, PASSWORD, basic, "SECRET") if s in text]


def audit_text(tmp):
    db = os.path.join(tmp, "summaries.sqlite")
    if not os.path.exists(db):
        return ""
    con = sqlite3.connect(db)
    text = " ".join(row[0] for row in con.execute("SELECT outcome FROM aggregate_runs"))
    con.close()
    return text


def main():
    r = Results("test_influx_redact")
    for name, extra in (("token", "token = " + TOKEN),
                        ("password", "username = admin\npassword = " + PASSWORD)):
        with scratch() as tmp, FakeInflux(echo) as fx:
            cfg = write_config(tmp, fx.url, extra)
            for args in (["aggregate", "--day", "2026-12-01"], ["check"],
                         ["retention", "apply"], ["--log-level", "debug", "check"]):
                p, _, _ = run(args, cfg)
                r.equal(p.returncode, 77, "%s, %s: credentials rejected (77)" % (name, args[-1]))
                leaked = secrets_in(p.stdout + p.stderr)
                r.check(not leaked and "[redacted]" in p.stdout + p.stderr,
                        "%s, %s: nothing secret printed, the echo redacted (leaked: %s)"
                        % (name, " ".join(args), leaked))
            stored = audit_text(tmp)
            r.check(stored and not secrets_in(stored),
                    "%s: the audit table holds the error without the secret" % name)
            r.check(any("Authorization" in h for _, _, hs in fx.requests for h in hs),
                    "%s: the client did send credentials (the attack was real)" % name)
    with scratch() as tmp:
        cfg = write_config(tmp, "http://127.0.0.1:9")
        p, _, _ = run(["check", "--set", "influxdb.password:" + PASSWORD], cfg)
        r.check(p.returncode == 64 and not secrets_in(p.stdout + p.stderr),
                "--set influxdb.password:SECRET is refused without echoing the value (%s)"
                % p.stderr.strip())
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
