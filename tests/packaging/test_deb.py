# SPDX-License-Identifier: MIT
"""The .deb `make deb` built, as a user meets it on this Debian machine
(root; it installs, upgrades, removes and purges the real package):

- lintian --pedantic: no E: or W: line (overrides carry their reason);
  dependencies computed from the binary; the conffiles.
- tokenmeter before Telegraf: `apt-get install ./tokenmeter_*.deb` creates
  Telegraf's user; Telegraf's own pre-install then finds it and changes
  nothing. Modes and owners; the disabled sample; the timer enabled;
  systemd-analyze verify on the units.
- As the runtime user: --version, the execd pipeline on the example
  webhooks, `tokenmeter retention apply` and `tokenmeter check` against a
  test influxd on 127.0.0.1 (throwaway directory), the timer's and the cron
  line's exact commands (summaries written, report shows them).
- The edited conffile survives a reinstall and an upgrade; remove keeps the
  config and the data (and the cron line stays quiet), purge leaves nothing
  named tokenmeter that was not there before. The telegraf user stays
  (Debian never removes system users).
- Telegraf before tokenmeter: a user made the way Telegraf's package makes
  it is kept as it is and gets the files.

usage: test_deb.py BUILDDIR/deb
"""
import glob
import os
import pwd
import grp
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import telegraf  # noqa: E402
import tmlib  # noqa: E402

R = tmlib.Results("test_deb")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"]
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
CONF = "/etc/tokenmeter/tokenmeter.conf"
STATE = "/var/lib/tokenmeter"
SAMPLE = "/etc/telegraf/telegraf.d/tokenmeter.conf.sample"
ENABLED = "/etc/telegraf/telegraf.d/tokenmeter.conf"
SERVICE = "/lib/systemd/system/tokenmeter-aggregate.service"
TIMER = "/lib/systemd/system/tokenmeter-aggregate.timer"
CRON = "/etc/cron.d/tokenmeter"
# What InfluxData's telegraf package runs before installing (its preinst).
TELEGRAF_PREINST = ('grep -q "^telegraf:" /etc/group || groupadd -r telegraf; '
                    'id telegraf >/dev/null 2>&1 || '
                    'useradd -r -M telegraf -s /bin/false -d /etc/telegraf -g telegraf')


def run(*cmd, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=600, env=ENV, **kw)


def as_user(user, *cmd, **kw):
    return run("runuser", "-u", user, "--", *cmd, **kw)


def status():
    r = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}${Version}", "tokenmeter")
    return r.stdout.strip() if r.returncode == 0 else "not known"


def leftovers():
    """Everything named *tokenmeter* where a package puts files, and
    whether /etc/telegraf exists. Not /var/cache/man: man-db's cache of
    pages someone read (systemd-analyze reads Documentation=), which
    man-db's own daily job prunes."""
    r = run("find", "/etc", "/usr", "/var/lib", "/var/cache", "-xdev", "-path", "/var/cache/man",
            "-prune", "-o", "-name", "*tokenmeter*", "-print")
    return sorted(r.stdout.split()) + ["/etc/telegraf exists=%s" % os.path.isdir("/etc/telegraf")]


def said(r):
    """A failed command's output, for the report."""
    return "" if r.returncode == 0 else "\n" + (r.stdout + r.stderr)[-800:]


def owner(path):
    st = os.stat(path)
    return "%s:%s %o" % (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                         st.st_mode & 0o7777)


def drop_telegraf_user():
    run("userdel", "telegraf")
    run("groupdel", "telegraf")
    return run("id", "telegraf").returncode != 0


def unit_value(path, key):
    with open(path) as f:
        return re.search(r"^%s=(.*)$" % key, f.read(), re.M).group(1).strip()


def cron_jobs():
    """(user, command) of each job line of the cron.d file."""
    jobs = []
    with open(CRON) as f:
        for line in f:
            if line.strip() and not line.startswith("#") and not re.match(r"^\w+=", line):
                fields = line.split(None, 6)
                jobs.append((fields[5], fields[6].strip()))
    return jobs


def check_lint(debs, changes):
    r = run("lintian", "-I", "--pedantic", "--fail-on", "error,warning", changes)
    bad = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    R.check(r.returncode == 0 and not bad, "lintian --pedantic: no E: or W: line" +
            ("" if not bad else "\n" + "\n".join(bad)))
    f = run("dpkg-deb", "-f", debs, "Depends", "Recommends").stdout
    R.check(all(re.search(r"\b%s \(>= " % p, f) for p in ("libc6", "libcurl4", "libinih1",
                                                          "libjansson4", "libsqlite3-0")),
            "Depends computed from the binary: " + f.splitlines()[0])
    R.check(re.search(r"^Recommends: .*\btelegraf\b", f, re.M), "Recommends: telegraf")
    tmp = tempfile.mkdtemp()
    run("dpkg-deb", "-e", debs, tmp)
    with open(os.path.join(tmp, "conffiles")) as fh:
        R.equal(sorted(fh.read().split()), sorted([CONF, CRON, SAMPLE]), "the conffiles")
    shutil.rmtree(tmp)


def check_installed(version):
    R.equal(run("/usr/bin/tokenmeter", "--version").stdout.strip(), "tokenmeter " + version,
            "tokenmeter --version")
    R.equal(owner(CONF), "root:telegraf 640", "the config is root:telegraf 0640 (it may hold a token)")
    R.equal(owner(STATE), "telegraf:telegraf 750", "%s is Telegraf's user's, 0750" % STATE)
    R.check(as_user("nobody", "cat", CONF).returncode != 0, "another user cannot read the config")
    with open(SAMPLE, "rb") as a, open("/usr/share/doc/tokenmeter/examples/tokenmeter-http.conf",
                                        "rb") as b:
        R.check(a.read() == b.read(), "the disabled sample is the HTTP fragment, named *.sample")
    R.check(os.path.islink("/etc/systemd/system/timers.target.wants/tokenmeter-aggregate.timer"),
            "the timer is enabled")
    r = run("systemd-analyze", "verify", SERVICE, TIMER)
    R.check(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
            "systemd-analyze verify: no complaint" + said(r))
    r = as_user("telegraf", "/usr/bin/tokenmeter", "prices", "show", "gpt-4o")
    R.check(r.returncode == 0 and "/usr/share/tokenmeter/model_prices.json" in r.stdout + r.stderr,
            "the shipped price table prices a model by default" + said(r))
    R.equal(run("sh", "-c", "cat /usr/lib/sysusers.d/tokenmeter.conf >/dev/null && "
                "command -v systemd-sysusers").returncode, 0, "sysusers file and tool present")


def check_pipeline(ix):
    with open("/usr/share/doc/tokenmeter/examples/webhooks.ndjson") as f:
        # The examples are dated 2026-08, older than the shipped config's
        # max_event_age = retention: they would (rightly) be dead-lettered.
        r = as_user("telegraf", "/usr/bin/tokenmeter", "--set", "ingest.max_event_age=off",
                    "execd", stdin=f)
    R.check(r.returncode == 0 and r.stdout.count("llm_usage,") >= 5,
            "execd as telegraf turns the example webhooks into llm_usage points")
    # The operator points the conffile at their InfluxDB: the edit the
    # reinstall and the upgrade must keep.
    with open(CONF) as f:
        text = f.read()
    with open(CONF, "w") as f:
        f.write(text.replace("[influxdb]\n", "[influxdb]\nurl = %s\n" % ix.url, 1))
    # docs/packaging.md's order: the database and its policy first, then
    # Telegraf writes (its CREATE DATABASE then changes nothing).
    r = as_user("telegraf", "/usr/bin/tokenmeter", "retention", "apply")
    R.equal(r.returncode, 0, "retention apply creates tokenmeter's own database" + said(r))
    now = int(time.time())
    bodies = "\n".join(telegraf.openai_body("deb-%d" % i, 100 + i, 10, now - 60).decode()
                       for i in range(3)) + "\n"
    r = as_user("telegraf", "/usr/bin/tokenmeter", "execd", "--default-org", "acme", input=bodies,
                stdin=None)
    ix.create_db("tokenmeter")  # what Telegraf's outputs.influxdb does first
    ix.write("tokenmeter", r.stdout)
    shutil.copy(SAMPLE, ENABLED)  # the operator enables the fragment
    r = as_user("telegraf", "/usr/bin/tokenmeter", "check")
    os.unlink(ENABLED)
    R.check(r.returncode == 0 and "FAIL" not in r.stdout,
            "tokenmeter check against the test InfluxDB passes" + said(r))
    R.check(re.search(r'^ok +routing: Telegraf writes "llm_usage" to "tokenmeter"', r.stdout, re.M),
            "... and finds the enabled sample writes where it reads" + said(r))
    user = unit_value(SERVICE, "User")
    cmd = unit_value(SERVICE, "ExecStart").split()
    r = as_user(user, *cmd)
    R.equal((r.returncode, owner(STATE + "/summaries.sqlite")[:17]), (0, "telegraf:telegraf"),
            "the timer's command (%s, as %s) writes the summaries" % (" ".join(cmd), user)
            + said(r))
    os.unlink(STATE + "/summaries.sqlite")
    want = 1 if os.path.isdir("/run/systemd/system") else 0
    for user, cmd in cron_jobs():
        r = as_user(user, "env", "-i", "PATH=/usr/bin:/bin", "SHELL=/bin/sh", "/bin/sh", "-c", cmd)
        R.equal(r.returncode, want, "the cron line's command, as %s: %s" % (user, cmd))
    r = as_user("telegraf", "/usr/bin/tokenmeter", "report", "--format", "csv")
    R.check(r.returncode == 0 and ",acme," in r.stdout,
            "the summaries hold the events (report)" + said(r))


def upgrade_deb(deb, work):
    """The same package with a higher version (nothing else changed)."""
    tree = os.path.join(work, "tree")
    run("dpkg-deb", "-R", deb, tree)
    ctl = os.path.join(tree, "DEBIAN", "control")
    with open(ctl) as f:
        text = f.read()
    version = re.search(r"^Version: (.*)$", text, re.M).group(1) + "+upgrade1"
    with open(ctl, "w") as f:
        f.write(re.sub(r"^Version: .*$", "Version: " + version, text, flags=re.M))
    out = os.path.join(work, "tokenmeter_%s_amd64.deb" % version)
    run("dpkg-deb", "--root-owner-group", "-b", tree, out)
    return out, version


def main():
    top = os.path.abspath(sys.argv[1])
    with open(os.path.join(tmlib.ROOT, "VERSION")) as f:
        version = f.read().strip()
    debs = glob.glob(os.path.join(top, "tokenmeter_%s-*_*.deb" % version))
    changes = glob.glob(os.path.join(top, "tokenmeter_%s-*_*.changes" % version))
    if not R.check(len(debs) == 1 and len(changes) == 1, "one .deb and .changes of " + version):
        return R.finish()
    deb = debs[0]
    check_lint(deb, changes[0])
    if os.geteuid() != 0:
        R.check(False, "the install test needs root")
        return R.finish()
    if status() != "not known" and not status().startswith("un"):
        print("note: purging a tokenmeter left installed: %s" % status())
        run(*APT, "purge", "tokenmeter")
    work = tempfile.mkdtemp(prefix="tm-deb-")
    ix = None
    try:
        # --- tokenmeter first, Telegraf after -------------------------------
        R.check(drop_telegraf_user(), "start without a telegraf user")
        before = leftovers()
        r = run(*APT, "install", deb)
        R.equal(r.returncode, 0, "apt-get install ./%s%s" % (os.path.basename(deb), said(r)))
        pw = pwd.getpwnam("telegraf")
        R.check(pw.pw_uid < 1000 and pw.pw_dir == "/etc/telegraf",
                "it created Telegraf's system user (uid %d, home /etc/telegraf)" % pw.pw_uid)
        run("sh", "-c", TELEGRAF_PREINST)
        R.equal(pwd.getpwnam("telegraf")[2:], pw[2:],
                "Telegraf's own pre-install, run after, keeps that user as it is")
        check_installed(version)
        ix = tmlib.Influx().start()
        check_pipeline(ix)

        r = run(*APT, "install", "--reinstall", deb)
        with open(CONF) as f:
            kept = ix.url in f.read()
        R.check(r.returncode == 0 and kept and owner(CONF) == "root:telegraf 640",
                "a reinstall keeps the edited conffile, its group and mode")
        up, upver = upgrade_deb(deb, work)
        r = run(*APT, "install", up)
        with open(CONF) as f:
            kept = ix.url in f.read()
        R.check(r.returncode == 0 and kept and status() == "ii " + upver,
                "an upgrade to %s keeps the edited conffile" % upver)
        R.check(as_user("telegraf", "/usr/bin/tokenmeter", "check").returncode == 0,
                "... and tokenmeter check still passes")

        # --- remove keeps config and data; purge takes what it made ---------
        shutil.copy(SAMPLE, ENABLED)  # the operator enabled the fragment
        with open(STATE + "/dead-letter.ndjson", "a") as f:
            f.write("{}\n")
        r = run(*APT, "remove", "tokenmeter")
        R.check(r.returncode == 0 and ENABLED in r.stdout + r.stderr,
                "remove warns that the enabled fragment still runs /usr/bin/tokenmeter")
        os.unlink(ENABLED)
        R.check(status().startswith("rc") and not os.path.exists("/usr/bin/tokenmeter"),
                "remove takes the binary (state rc)")
        R.check(os.path.exists(CONF) and os.path.exists(CRON) and
                os.path.exists(STATE + "/dead-letter.ndjson"), "... and keeps config and data")
        for user, cmd in cron_jobs():
            r = as_user(user, "env", "-i", "PATH=/usr/bin:/bin", "/bin/sh", "-c", cmd)
            R.check(r.returncode != 0 and not (r.stdout + r.stderr).strip(),
                    "the cron line stays quiet without the binary")
        r = run(*APT, "purge", "tokenmeter")
        R.check(r.returncode == 0 and status() in ("not known", "un "), "purge")
        R.equal(leftovers(), before, "purge leaves nothing named tokenmeter, no /etc/telegraf "
                "it made")
        R.check(run("id", "telegraf").returncode == 0, "the telegraf user stays (policy)")

        # --- Telegraf first, tokenmeter after -------------------------------
        drop_telegraf_user()
        run("sh", "-c", TELEGRAF_PREINST)
        pw = pwd.getpwnam("telegraf")
        r = run(*APT, "install", deb)
        R.check(r.returncode == 0 and pwd.getpwnam("telegraf") == pw,
                "with Telegraf's user already there, install keeps it as it is (shell %s)"
                % pw.pw_shell)
        R.equal((owner(CONF), owner(STATE)), ("root:telegraf 640", "telegraf:telegraf 750"),
                "... and gives it the config and the state directory")
        with open("/usr/share/doc/tokenmeter/examples/webhooks.ndjson") as f:
            r = as_user("telegraf", "/usr/bin/tokenmeter", "--set", "ingest.max_event_age=off",
                        "execd", stdin=f)
        R.check(r.returncode == 0 and "llm_usage," in r.stdout,
                "... and tokenmeter runs as that user" + said(r))
        r = run(*APT, "purge", "tokenmeter")
        R.equal((r.returncode, leftovers()), (0, before), "purge again leaves nothing")
    finally:
        if ix:
            ix.close()
        if status() != "not known" and not status().startswith("un"):
            run(*APT, "purge", "tokenmeter")
        shutil.rmtree(work, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
