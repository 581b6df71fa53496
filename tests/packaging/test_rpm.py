# SPDX-License-Identifier: MIT
"""The .rpm `make rpm` built: rpmlint with the project's config, the file
list with modes, owners and %config flags (rpm -qlvp, -qcp), the computed
library requirements, and an install into a scratch `rpm --root` whose
binary then runs: --version and the example webhooks. A reinstall over an
edited config keeps it (%config(noreplace) writes .rpmnew).

Debian's rpm knows no installed packages, so the install uses --nodeps and
--noscripts (docs/packaging.md: release RPMs are built on the target).

usage: test_rpm.py BUILDDIR/rpm
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
import tmlib  # noqa: E402

R = tmlib.Results("test_rpm")

# path: (mode, user, group), as rpm -qlvp prints them.
EXPECT = {
    "/usr/bin/tokenmeter": ("-rwxr-xr-x", "root", "root"),
    "/etc/tokenmeter/tokenmeter.conf": ("-rw-r-----", "root", "telegraf"),
    "/var/lib/tokenmeter": ("drwxr-x---", "telegraf", "telegraf"),
    "/etc/cron.d/tokenmeter": ("-rw-r--r--", "root", "root"),
    "/etc/telegraf/telegraf.d/tokenmeter.conf.sample": ("-rw-r--r--", "root", "root"),
    "/usr/lib/systemd/system/tokenmeter-aggregate.service": ("-rw-r--r--", "root", "root"),
    "/usr/lib/systemd/system/tokenmeter-aggregate.timer": ("-rw-r--r--", "root", "root"),
    "/usr/lib/sysusers.d/tokenmeter.conf": ("-rw-r--r--", "root", "root"),
    "/usr/share/man/man1/tokenmeter.1.gz": ("-rw-r--r--", "root", "root"),
    "/usr/share/man/man5/tokenmeter.conf.5.gz": ("-rw-r--r--", "root", "root"),
    "/usr/share/licenses/tokenmeter/LICENSE": ("-rw-r--r--", "root", "root"),
    "/usr/share/doc/tokenmeter/examples/tokenmeter-http.conf": ("-rw-r--r--", "root", "root"),
    "/usr/share/tokenmeter/grafana/tokenmeter.json": ("-rw-r--r--", "root", "root"),
    "/usr/share/tokenmeter/model_prices.json": ("-rw-r--r--", "root", "root"),
}
CONFIG = ["/etc/cron.d/tokenmeter", "/etc/telegraf/telegraf.d/tokenmeter.conf.sample",
          "/etc/tokenmeter/tokenmeter.conf"]


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=300, **kw)


def main():
    top = os.path.abspath(sys.argv[1])
    with open(os.path.join(tmlib.ROOT, "VERSION")) as f:
        version = f.read().strip()
    rpms = glob.glob(os.path.join(top, "RPMS", "*", "tokenmeter-%s-*.rpm" % version))
    srpms = glob.glob(os.path.join(top, "SRPMS", "tokenmeter-%s-*.src.rpm" % version))
    if not R.check(len(rpms) == 1 and len(srpms) == 1, "one .rpm and one .src.rpm of %s"
                   % version):
        return R.finish()
    rpm = rpms[0]

    r = run("rpmlint", "-c", os.path.join(tmlib.ROOT, "packaging", "rpm", "rpmlint.toml"),
            rpm, srpms[0], os.path.join(top, "SPECS", "tokenmeter.spec"))
    R.check(r.returncode == 0 and re.search(r"\b0 errors, 0 warnings\b", r.stdout),
            "rpmlint: 0 errors, 0 warnings\n" + r.stdout[-1500:] if r.returncode else
            "rpmlint: 0 errors, 0 warnings")

    listing = {}
    for line in run("rpm", "-qlvp", rpm).stdout.splitlines():
        f = line.split()
        path = f[-1] if f[0][0] != "l" else f[-3]
        listing[path] = (f[0], f[2], f[3])
    for path, want in EXPECT.items():
        R.equal(listing.get(path), want, "%s %s %s:%s" % (path, *want))
    R.equal(sorted(run("rpm", "-qcp", rpm).stdout.split()), CONFIG,
            "the config files are exactly the /etc files")
    R.check(not any(p.startswith("/usr/local") for p in listing), "nothing under /usr/local")
    reqs = run("rpm", "-qpR", rpm).stdout
    R.check(all(lib in reqs for lib in ("libcurl.so.4", "libinih.so", "libjansson.so.4",
                                        "libsqlite3.so.0")),
            "library requirements computed from the binary (AutoReq)")
    R.check("shadow-utils" in reqs and "crontabs" in reqs, "Requires(pre) shadow-utils, crontabs")
    R.check("telegraf" in run("rpm", "-qp", "--recommends", rpm).stdout, "Recommends: telegraf")
    R.equal(run("rpm", "-qp", "--qf", "%{VERSION}", rpm).stdout, version, "Version from VERSION")
    with open(os.path.join(tmlib.ROOT, "packaging", "rpm", "tokenmeter.spec")) as f:
        R.check(re.search(r"^Version:\s+%s$" % re.escape(version), f.read(), re.M),
                "the spec as committed (for dnf builddep) says Version %s too" % version)

    root = tempfile.mkdtemp(prefix="tm-rpmroot-")
    try:
        R.check(run("rpm", "--root", root, "--initdb").returncode == 0, "rpm --root --initdb")
        # What %pre would have made: Telegraf's user, for the %attr owners.
        os.makedirs(os.path.join(root, "etc"))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\ntelegraf:x:990:990::/etc/telegraf:/sbin/nologin\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\ntelegraf:x:990:\n")
        r = run("rpm", "--root", root, "-i", "--nodeps", "--noscripts", rpm)
        R.check(r.returncode == 0 and "does not exist" not in r.stderr,
                "installs into a scratch rpm --root" + ("" if r.returncode == 0 else r.stderr))
        st = os.stat(os.path.join(root, "etc", "tokenmeter", "tokenmeter.conf"))
        sd = os.stat(os.path.join(root, "var", "lib", "tokenmeter"))
        R.equal((st.st_uid, st.st_gid, st.st_mode & 0o777, sd.st_uid, sd.st_gid, sd.st_mode & 0o777),
                (0, 990, 0o640, 990, 990, 0o750),
                "config root:telegraf 0640, state directory telegraf:telegraf 0750")
        binary = os.path.join(root, "usr", "bin", "tokenmeter")
        r = run(binary, "--version")
        R.equal(r.stdout.strip(), "tokenmeter " + version, "the installed binary runs: --version")
        conf = os.path.join(root, "etc", "tokenmeter", "tokenmeter.conf")
        with open(os.path.join(tmlib.ROOT, "examples", "webhooks.ndjson")) as f:
            # The examples are older than the shipped max_event_age = retention.
            r = run(binary, "-c", conf, "--set", "ingest.max_event_age=off", "execd",
                    "--dead-letter", os.path.join(root, "dl.ndjson"), stdin=f)
        R.check(r.returncode == 0 and r.stdout.count("\nllm_usage,") >= 5,
                "... and turns the example webhooks into llm_usage points with its config")
        with open(conf, "a") as f:
            f.write("# edited by the operator\n")
        r = run("rpm", "--root", root, "-i", "--replacepkgs", "--nodeps", "--noscripts", rpm)
        with open(conf) as f:
            kept = f.read().endswith("# edited by the operator\n")
        R.check(r.returncode == 0 and kept, "a reinstall keeps the edited config")
        r = run("rpm", "--root", root, "-e", "--nodeps", "--noscripts", "tokenmeter")
        R.check(r.returncode == 0 and not os.path.exists(binary) and
                os.path.exists(conf + ".rpmsave"),
                "erase removes the binary and saves the edited config as .rpmsave")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
