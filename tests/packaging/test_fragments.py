# SPDX-License-Identifier: MIT
"""Each shipped Telegraf fragment (telegraf/*.conf) dropped into a telegraf.d/
next to the stock main config of the real Telegraf v1.39.3: `--test` passes,
no "overlapping" agent-table warning, no unknown option, no error. The
fragments route only tokenmeter's measurements, to tokenmeter's own
database, and name only environment variables tokenmeter reads too. The
packaged sample's name (tokenmeter.conf.sample) is one Telegraf does not load.

usage: test_fragments.py /path/to/tokenmeter
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import telegraf  # noqa: E402
import tmlib  # noqa: E402

R = tmlib.Results("test_fragments")
# What a complaint about the fragment looks like in Telegraf's log:
# overlapping agent tables, an option Telegraf does not know ("configuration
# specified the fields [...], but they were not used"), a plugin it does not
# have, a deprecated option, any error.
BAD = re.compile(r"overlapping|but they were not used|undefined but requested|deprecated|E! ",
                 re.I)
# --test stops an execd plugin while Telegraf's reader of the child's stdout
# still runs (exec.Cmd.Wait closes the pipe under it); Telegraf then logs
# this: a shutdown race of test mode, not about the config.
TEST_MODE_RACE = re.compile(r"E! \[(inputs|processors)\.execd\] Error.*: "
                            r"read \|0: file already closed$")


def stock_main():
    """telegraf.conf as `telegraf config` writes it: agent and the influxdb
    output (to the host metrics database "telegraf")."""
    r = subprocess.run([telegraf.telegraf_binary(), "config", "--section-filter",
                        "global_tags:agent:outputs", "--output-filter", "influxdb"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout


def run_test(main, fragment, workdir, extra=None):
    """telegraf --test on main + telegraf.d/tokenmeter.conf; (rc, log)."""
    d = os.path.join(workdir, "telegraf.d")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(workdir, "telegraf.conf"), "w") as f:
        f.write(main)
    with open(os.path.join(d, "tokenmeter.conf"), "w") as f:
        f.write(fragment)
    for name, text in (extra or {}).items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    r = subprocess.run([telegraf.telegraf_binary(), "--config", os.path.join(workdir, "telegraf.conf"),
                        "--config-directory", d, "--test", "--test-wait", "2"],
                       capture_output=True, text=True, timeout=120, cwd=workdir,
                       env=dict(os.environ, INFLUXDB_TOKEN="test-token"))
    return r.returncode, r.stdout + r.stderr


def env_vars_tokenmeter_reads():
    names = set()
    for path in glob.glob(os.path.join(tmlib.ROOT, "plugin", "**", "*.c"), recursive=True):
        with open(path) as f:
            names.update(re.findall(r'"(INFLUXDB_[A-Z_]+)"', f.read()))
    return names


def main():
    os.environ["TOKENMETER"] = os.path.abspath(sys.argv[1])
    main_conf = stock_main()
    R.check("[agent]" in main_conf and "[[outputs.influxdb]]" in main_conf,
            "the stock main config has an [agent] table and an influxdb output")
    known_env = env_vars_tokenmeter_reads()
    R.check("INFLUXDB_TOKEN" in known_env, "tokenmeter reads INFLUXDB_TOKEN")
    fragments = sorted(glob.glob(os.path.join(tmlib.ROOT, "telegraf", "*.conf")))
    R.check(len(fragments) >= 3, "%d fragments" % len(fragments))
    tmp = tempfile.mkdtemp(prefix="tm-fragments-")
    try:
        for path in fragments:
            name = os.path.basename(path)
            with open(path) as f:
                text = f.read()
            body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
            R.check(not re.search(r"^\s*\[agent\]", body, re.M), "%s: no [agent] table" % name)
            outputs = re.split(r"^\[\[", body, flags=re.M)
            outs = [o for o in outputs if o.startswith("outputs.")]
            R.check(outs and all(re.search(r'^\s*namepass = \["llm_usage", "tokenmeter_stats"\]',
                                           o, re.M) for o in outs),
                    "%s: its output takes only tokenmeter's measurements" % name)
            R.check(outs and all(re.search(r'^\s*(database|bucket) = "tokenmeter"', o, re.M)
                                 for o in outs),
                    "%s: ... and writes them to tokenmeter's own database" % name)
            R.check(all(re.search(r'^\s*tagexclude = \["host"\]', o, re.M) for o in outs),
                    "%s: ... without the host tag" % name)
            r = subprocess.run([os.environ["TOKENMETER"], "-c",
                                os.path.join(tmlib.ROOT, "packaging", "tokenmeter.conf"), "check",
                                "--config-only", "--telegraf-config", path],
                               capture_output=True, text=True, timeout=60)
            R.check(re.search(r'^ok +routing: Telegraf writes "llm_usage" to "tokenmeter"',
                              r.stdout, re.M),
                    "%s: tokenmeter check finds it writes where the shipped config reads" % name)
            used = set(re.findall(r"\$\{(\w+)\}", body))
            R.equal(sorted(used - known_env), [],
                    "%s: environment variables are ones tokenmeter reads" % name)

            work = os.path.join(tmp, name)
            os.makedirs(work)
            subst = {"/usr/bin/tokenmeter": os.environ["TOKENMETER"],
                     "/etc/tokenmeter/tokenmeter.conf": os.path.join(work, "tokenmeter.conf"),
                     "/var/lib/tokenmeter/spool": os.path.join(work, "spool"),
                     "127.0.0.1:8080": "127.0.0.1:%d" % tmlib.free_port()}
            with open(subst["/etc/tokenmeter/tokenmeter.conf"], "w") as f:
                f.write("[ingest]\ndead_letter = %s\n" % os.path.join(work, "dl.ndjson"))
            frag = text
            for old, new in subst.items():
                frag = frag.replace(old, new)
            # The packaged sample sits next to it: Telegraf must not load it.
            rc, log = run_test(main_conf, frag, work, {"tokenmeter.conf.sample": frag})
            R.equal(rc, 0, "%s: telegraf --test passes next to the stock config" % name)
            bad = [l for l in log.splitlines() if BAD.search(l) and not TEST_MODE_RACE.search(l)]
            R.equal(bad, [], "%s: no overlapping, unknown-option or error line" % name)
            R.check("telegraf.d/tokenmeter.conf" in log and "tokenmeter.conf.sample" not in log,
                    "%s: the fragment is loaded, the .sample name is not" % name)

        # The check above can fail: an [agent] table in a fragment is seen.
        work = os.path.join(tmp, "control")
        os.makedirs(work)
        rc, log = run_test(main_conf, "[agent]\n  omit_hostname = true\n" + frag, work)
        R.check(any("overlapping" in l.lower() for l in log.splitlines()),
                "control: a fragment with an [agent] table gives the overlapping warning")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
