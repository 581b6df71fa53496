#!/bin/sh
# SPDX-License-Identifier: MIT
# The packaging checks (`make check-packages`), as root on Debian 12:
# man pages, the Telegraf fragments with the real Telegraf, the .deb
# (lintian, then installed, upgraded, removed and purged on this machine)
# and the .rpm (rpmlint, rpm --root). Builds both packages from `make dist`
# without their test suites (DEB_BUILD_OPTIONS=nocheck, --without check):
# the same sources' tests ran in the stages before this one.
set -u
cd "$(dirname "$0")/../.."
sh tests/packaging/setup.sh || exit 1
log=build/packaging.log
mkdir -p build
: > "$log"
passed=0
failed=0
names=""
stage() {
    name=$1
    shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        names="$names $name"
    fi
}
# Package builds are long and loud: their output goes to $log, shown on failure.
quiet() {
    if "$@" >>"$log" 2>&1; then
        return 0
    fi
    tail -40 "$log"
    return 1
}
stage build make -s
stage manpages python3 tests/packaging/test_manpages.py build/tokenmeter
stage fragments python3 tests/packaging/test_fragments.py build/tokenmeter
stage deb-build quiet make deb DEB_BUILD_OPTIONS=nocheck
stage deb python3 tests/packaging/test_deb.py build/deb
stage rpm-build quiet make rpm RPMBUILD_FLAGS="--nodeps --without check"
stage rpm python3 tests/packaging/test_rpm.py build/rpm
[ -n "$names" ] && echo "failed:$names"
echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
