#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack: a server answers every request 503 with `Retry-After: 100000`.
Before, `check` honoured each wait (capped at 30 s, per request, per probe)
and took minutes. Now every wait ends by the command's deadline ([influxdb]
timeout x 3 attempts): a wait that would pass it is not made."""
from store_influx_util import FakeInflux, Results, run, scratch, write_config


def answer(h):
    return 503, {"Retry-After": "100000", "Content-Type": "application/json"}, \
        b'{"error":"overloaded, come back tomorrow"}'


def main():
    r = Results("test_influx_retry_after")
    with scratch() as tmp, FakeInflux(answer) as fx:
        cfg = write_config(tmp, fx.url, "timeout = 2")
        p, took, _ = run(["check"], cfg, timeout=120)
        r.equal(p.returncode, 75, "check: unavailable is exit 75")
        r.check("FAIL reachable:" in p.stdout and "503" in p.stdout,
                "with the server's status (%s)" % p.stdout.strip()[:200])
        r.check(took < 2 * 3 + 5, "check ends within its deadline of 6 s (took %.1f s)" % took)
        r.check("not retrying" in p.stderr and "deadline" in p.stderr,
                "and says it did not wait 100000 s (%s)" % p.stderr.strip()[-200:])
        for args in (["aggregate", "--day", "2026-12-01"], ["retention", "check"]):
            p, took, _ = run(args, cfg, timeout=120)
            r.check(p.returncode == 75 and took < 2 * 3 * 3 + 5,
                    "%s: exit 75 within its requests' deadlines (exit %d, %.1f s)"
                    % (args[0], p.returncode, took))
    return r.finish()


if __name__ == "__main__":
    raise SystemExit(main())
