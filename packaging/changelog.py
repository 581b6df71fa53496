#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CHANGELOG.md -> debian/changelog or an RPM %changelog (stdout).

usage: changelog.py deb|rpm CHANGELOG.md VERSION "NAME <EMAIL>" [DEBIAN_REVISION]

CHANGELOG.md holds `## [X.Y.Z] - YYYY-MM-DD` headings, newest first, each
followed by `- ` items (continuation lines indented). The newest release
must be VERSION, so a package never claims a version its changelog lacks.
"""
import datetime
import re
import sys
import textwrap

HEAD = re.compile(r"^## \[([0-9][0-9A-Za-z.+~-]*)\] - (\d{4}-\d{2}-\d{2})\s*$")


def releases(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = HEAD.match(line)
            if m:
                out.append((m.group(1), datetime.date.fromisoformat(m.group(2)), []))
            elif out and line.startswith("- "):
                out[-1][2].append(line[2:].strip())
            elif out and out[-1][2] and line.startswith("  ") and line.strip():
                out[-1][2][-1] += " " + line.strip()
    return out


def main(argv):
    if len(argv) not in (5, 6) or argv[1] not in ("deb", "rpm"):
        sys.stderr.write(__doc__)
        return 64
    fmt, path, version, who = argv[1:5]
    rev = argv[5] if len(argv) == 6 else "1"
    rel = releases(path)
    if not rel or rel[0][0] != version:
        sys.stderr.write("changelog.py: the newest release in %s is %s, VERSION is %s\n"
                         % (path, rel[0][0] if rel else "none", version))
        return 65
    for ver, day, items in rel:
        if not items:
            sys.stderr.write("changelog.py: release %s has no items\n" % ver)
            return 65
        if fmt == "deb":
            print("tokenmeter (%s-%s) unstable; urgency=medium\n" % (ver, rev))
            for it in items:
                print(textwrap.fill(it, 78, break_on_hyphens=False, initial_indent="  * ", subsequent_indent="    "))
            stamp = day.strftime("%a, %d %b %Y") + " 00:00:00 +0000"
            print("\n -- %s  %s\n" % (who, stamp))
        else:
            print("* %s %s - %s-%s" % (day.strftime("%a %b %d %Y"), who, ver, rev))
            for it in items:
                print(textwrap.fill(it.replace("%", "%%"), 78, break_on_hyphens=False,
                                    initial_indent="- ",
                                    subsequent_indent="  "))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
