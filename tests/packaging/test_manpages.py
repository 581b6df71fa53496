# SPDX-License-Identifier: MIT
"""The man pages render without a warning (groff -ww, man -l) and document
everything: every command and option the binary's --help lists in
tokenmeter(1), every key the config parser accepts (the key tables in
plugin/) in its section of tokenmeter.conf(5). A control run shows the
check fails when one option is missing.

usage: test_manpages.py /path/to/tokenmeter
"""
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import tmlib  # noqa: E402

R = tmlib.Results("test_manpages")
PAGES = [os.path.join(tmlib.ROOT, "packaging", p) for p in ("tokenmeter.1", "tokenmeter.conf.5")]


def plain(roff):
    """The page source with escapes a reader does not see undone."""
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\\(lq|\\\(rq", "", roff)
    return text.replace("\\-", "-")


def help_text(binary, *args):
    r = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def commands(top):
    """The command names under 'commands:' in the top-level --help."""
    block = top.split("commands:", 1)[1] if "commands:" in top else ""
    out = []
    for line in block.splitlines():
        m = re.match(r"^  ([a-z][a-z-]*)\s{2,}", line)
        if m:
            out.append(m.group(1))
        elif out and not line.strip():
            break
    return out


def options(text):
    """Every --long option a help text names, and each -x short option."""
    longs = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    shorts = set(re.findall(r"^\s+(-[a-zA-Z]),", text, re.M))
    return longs | shorts


def mentioned(token, text):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(token), text) is not None


def section(text, name):
    """The text of `.SH name` up to the next .SH."""
    m = re.search(r"^\.SH %s\s*$(.*?)(?=^\.SH |\Z)" % re.escape(name), text, re.M | re.S)
    return m.group(1) if m else ""


def ini_section(text, name):
    """The lines of [name] in an INI text, up to the next section."""
    m = re.search(r"^\[%s\]\s*$(.*?)(?=^\[|\Z)" % re.escape(name), text, re.M | re.S)
    return m.group(1) if m else ""


def config_keys():
    """(section, key) of every row of the config parser's key tables."""
    keys = []
    for path in sorted(glob.glob(os.path.join(tmlib.ROOT, "plugin", "**", "*.c"), recursive=True)):
        with open(path) as f:
            src = f.read()
        keys += re.findall(r'\{\s*"([a-z_]+)",\s*"([a-z_0-9]+)",\s*CT_[A-Z]+', src)
        keys += [("mapping", k) for k in re.findall(r'\bMK\("([a-z_0-9]+)",', src)]
    return keys


def missing(binary, man1, man5):
    """What --help or the parser has that the pages do not say."""
    out = []
    top = help_text(binary)
    cmds = commands(top)
    cmd_section = section(man1, "COMMANDS")
    for c in cmds:
        if not re.search(r"^\.BR? %s\b" % re.escape(c), cmd_section, re.M):
            out.append("command %s" % c)
    for opt in sorted(options(top) | {"--version"}):
        if not mentioned(opt, man1):
            out.append("option %s" % opt)
    for c in cmds:
        for opt in sorted(options(help_text(binary, c))):
            if not mentioned(opt, man1):
                out.append("%s option %s" % (c, opt))
    for sec, key in config_keys():
        if not mentioned(key, section(man5, "[%s]" % sec)):
            out.append("[%s] %s" % (sec, key))
    return cmds, out


def main():
    binary = os.path.abspath(sys.argv[1])
    for page in PAGES:
        name = os.path.basename(page)
        r = subprocess.run(["groff", "-ww", "-z", "-man", page], capture_output=True, text=True)
        R.check(r.returncode == 0 and not r.stderr.strip(),
                "%s: groff -ww renders it without a warning %s" % (name, r.stderr.strip()))
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], capture_output=True,
                           text=True, env=dict(os.environ, MANWIDTH="80", MAN_DISABLE_SECCOMP="1"))
        R.check(r.returncode == 0 and not r.stderr.strip() and "NAME" in r.stdout,
                "%s: man -l renders it without a warning %s" % (name, r.stderr.strip()))
    with open(PAGES[0]) as f:
        man1 = plain(f.read())
    with open(PAGES[1]) as f:
        man5 = plain(f.read())
    with open(os.path.join(tmlib.ROOT, "VERSION")) as f:
        version = f.read().strip()
    R.check(all(re.search(r'^\.TH .* "tokenmeter %s"' % re.escape(version), m, re.M)
                for m in (man1, man5)), "both pages say version %s (VERSION)" % version)

    cmds, gaps = missing(binary, man1, man5)
    R.check(len(cmds) >= 7, "--help lists the commands: %s" % " ".join(cmds))
    R.check(len(config_keys()) >= 50, "the parser's key tables were found (%d keys)"
            % len(config_keys()))
    R.equal(gaps, [], "every command, option and config key is in the man pages")
    with open(os.path.join(tmlib.ROOT, "packaging", "tokenmeter.conf")) as f:
        conf = f.read()
    absent = ["[%s] %s" % (sec, key) for sec, key in config_keys() if sec != "mapping" and
              not re.search(r"^#? ?%s =" % key, ini_section(conf, sec), re.M)]
    R.equal(absent, [], "packaging/tokenmeter.conf shows every key in its section")

    # Control: the same check with one option and one key taken out fails.
    cut1 = re.sub(r"(?<![\w-])--dead-letter(?![\w-])", "--gone", man1)
    cut5 = section(man5, "[influxdb]").replace("token_file", "gone")
    _, gaps = missing(binary, cut1, man5.replace(section(man5, "[influxdb]"), cut5))
    R.check("execd option --dead-letter" in gaps and "[influxdb] token_file" in gaps,
            "control: a page without --dead-letter or token_file fails the check")
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
