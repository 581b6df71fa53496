# tokenmeter — plain GNU make, no generated build system.
#
# Honours CC, CFLAGS, CPPFLAGS and LDFLAGS from the environment so that
# dpkg-buildflags / %set_build_flags hardening reaches the compiler.
# Every build variant (normal, sanitizer) lives in its own BUILDDIR so the
# objects never mix: valgrind refuses binaries that contain the ASan runtime.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/tokenmeter
DATADIR    ?= $(PREFIX)/share/tokenmeter
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
# Only install-system (the packages' layout) uses these.
UNITDIR    ?= $(PREFIX)/lib/systemd/system
CRONDIR    ?= $(SYSCONFDIR)/cron.d
TELEGRAFDIR ?= $(SYSCONFDIR)/telegraf/telegraf.d
DESTDIR    ?=

CC         ?= cc
CFLAGS     ?= -O2 -g
PKG_CONFIG ?= pkg-config
BUILDDIR   ?= build
SANFLAGS   ?=
# Warnings are errors in development and CI (tests/run-all.sh sets WERROR=1);
# off by default so that a packager's newer compiler never fails a build
# over a new warning.
WERROR     ?= 0
# V=1 prints the real compiler lines (Debian's build-log checker needs them).
V          ?= 0
ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @echo
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wconversion -Wcast-qual
ifeq ($(WERROR),1)
WARN += -Werror
endif
PKGS := inih libcurl sqlite3 jansson
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))
# Test-only packages are asked for only when a test target is built
# (recursive variables): `make install` does not need check. jansson is
# the binary's JSON writer and, in the tests, the body parser's reference.
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check jansson)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check jansson)

ALL_CPPFLAGS := -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DTOKENMETER_VERSION='"$(VERSION)"' \
                -DTOKENMETER_DATADIR='"$(DATADIR)"' \
                -Iinclude $(CPPFLAGS)
ALL_CFLAGS   := $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS)

SRC     := $(sort $(wildcard plugin/*.c plugin/sources/*.c))
LIB_SRC := $(filter-out plugin/main.c,$(SRC))
OBJ     := $(patsubst plugin/%.c,$(BUILDDIR)/obj/%.o,$(SRC))
LIB_OBJ := $(patsubst plugin/%.c,$(BUILDDIR)/obj/%.o,$(LIB_SRC))
HDR     := $(wildcard include/tokenmeter/*.h)
TSRC    := $(sort $(wildcard tests/check_*.c))
SUITES  := $(filter-out check_main,$(patsubst tests/%.c,%,$(TSRC)))
TOBJ    := $(patsubst tests/%.c,$(BUILDDIR)/tests/%.o,$(TSRC))
BIN     := $(BUILDDIR)/tokenmeter
CHECKBIN := $(BUILDDIR)/check_all

FORMAT_FILES := $(SRC) $(HDR) $(TSRC) $(wildcard tests/*.h tests/bench/*.c tests/fuzz/*.c)

.PHONY: all check check-unit check-golden check-hostile check-operation check-install \
        check-pricing-oracle check-prices-cmd \
        check-asan check-valgrind check-integration-asan fuzz check-fuzz check-attack \
        check-integration check-report format format-check lint install install-system uninstall \
        clean bench dist deb rpm check-packages

all: $(BIN) tokenmeter

tokenmeter: $(BIN)
	ln -sf $(BIN) $@

# Test code only: Check's ck_assert_int_eq compares through intmax_t, and
# jansson's json_object_foreach and execv take non-const pointers.
TEST_WARN := -Wno-sign-conversion -Wno-cast-qual

# -MMD -MP: each object depends on the headers it includes, no more.
DEPFLAGS = -MMD -MP -MF $(@:.o=.d)

$(BUILDDIR)/obj/%.o: plugin/%.c
	@mkdir -p $(dir $@)
	$(quiet) "  CC      $<"
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILDDIR)/tests/check_suites.inc: $(TSRC)
	@mkdir -p $(dir $@)
	@printf 'CHECK_SUITE(%s)\n' $(SUITES) > $@.tmp && mv $@.tmp $@

$(BUILDDIR)/tests/%.o: tests/%.c $(BUILDDIR)/tests/check_suites.inc
	@mkdir -p $(dir $@)
	$(quiet) "  CC      $<"
	$(Q)$(CC) $(ALL_CPPFLAGS) -I$(BUILDDIR)/tests -Itests $(ALL_CFLAGS) $(TEST_WARN) \
	    $(CHECK_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BIN): $(OBJ)
	$(quiet) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(PKG_LIBS) -lm

$(CHECKBIN): $(TOBJ) $(LIB_OBJ)
	$(quiet) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $(TOBJ) $(LIB_OBJ) $(PKG_LIBS) $(CHECK_LIBS) -lm

-include $(OBJ:.o=.d) $(TOBJ:.o=.d)

# ---- tests -----------------------------------------------------------------
# Every test target but check-packages (which tests the installed package's
# own default) runs the binary with an empty configuration unless a test
# names one: a tokenmeter.conf installed on the machine changes nothing.
check-unit check-golden check-hostile check-operation check-prices-cmd check-pricing-oracle \
check-attack check-integration check-report check-integration-asan check-asan check-valgrind \
check-fuzz: export TOKENMETER_CONFIG := /dev/null
# check: everything that needs no server. check-integration: real InfluxDB and
# real Telegraf (started by the scripts on 127.0.0.1, stopped afterwards).

check: check-unit check-golden check-hostile check-operation check-prices-cmd

check-unit: $(CHECKBIN) $(BIN)
	TOKENMETER=$(abspath $(BIN)) TESTDATA=$(abspath tests/data) $(CHECKBIN)

check-golden: $(BIN)
	python3 tests/golden.py $(BIN)

check-hostile: $(BIN)
	python3 tests/hostile.py $(BIN)

check-operation: $(BIN)
	python3 tests/operation.py $(BIN)

# tokenmeter prices update/show against a local HTTP server.
check-prices-cmd: $(BIN)
	python3 tests/prices_cmd.py $(BIN)

# make install into a scratch tree, then run the installed binary.
check-install: $(BIN)
	rm -rf $(BUILDDIR)/stage
	$(MAKE) -s install DESTDIR=$(abspath $(BUILDDIR)/stage) PREFIX=/usr
	test -x $(BUILDDIR)/stage/usr/bin/tokenmeter
	test -f $(BUILDDIR)/stage/usr/share/man/man1/tokenmeter.1
	test -f $(BUILDDIR)/stage/etc/tokenmeter/tokenmeter.conf
	test -f $(BUILDDIR)/stage/usr/share/tokenmeter/NOTICE
	$(BUILDDIR)/stage/usr/bin/tokenmeter -c /dev/null prices show gpt-4o \
	    --set ingest.prices=$(BUILDDIR)/stage/usr/share/tokenmeter/model_prices.json > /dev/null
	$(BUILDDIR)/stage/usr/bin/tokenmeter --version
	$(BUILDDIR)/stage/usr/bin/tokenmeter -c $(BUILDDIR)/stage/etc/tokenmeter/tokenmeter.conf \
	    execd --dead-letter $(BUILDDIR)/stage/dl.ndjson < examples/webhooks.ndjson > /dev/null
	@echo "check-install: 1 passed, 0 failed"

# Differential test of the cost against LiteLLM's calculator (a pinned
# litellm installed once from PyPI into a cached venv; runs offline).
check-pricing-oracle: $(BIN)
	@py=$$(tests/oracle/setup-litellm.sh) && "$$py" tests/oracle/pricing_oracle.py $(BIN)

# Attacks on the running program (hostile senders, spool writers, failing
# InfluxDB and SQLite neighbours), each asserting a bounded outcome.
check-attack: $(BIN)
	tests/attack/run.sh $(abspath $(BIN))

check-integration: $(BIN)
	tests/integration/run.sh $(abspath $(BIN))

# The HTML report in headless Chromium (setup.sh installs Debian's chromium
# when missing; it needs root then) and the Grafana dashboard's queries
# against a real InfluxDB. Screenshot: tests/out/report-html.png.
check-report: $(BIN)
	tests/browser/setup.sh
	python3 tests/browser/test_report_html.py $(abspath $(BIN))
	TOKENMETER=$(abspath $(BIN)) python3 tests/integration/test_grafana_dashboard.py

# The integration tests again with the ASan+UBSan binary (built by check-asan):
# the real InfluxDB, libcurl, SQLite and Telegraf paths under the sanitizers,
# against one 1.x and the 2.x (1.13 takes the same client paths as 1.6).
check-integration-asan:
	$(MAKE) BUILDDIR=build/asan CFLAGS="-O1 -g" SANFLAGS="$(SAN)" build/asan/tokenmeter
	TM_INFLUX_VERSIONS="$${TM_INFLUX_VERSIONS:-1.6.7 2.8.0}" \
	    tests/integration/run.sh $(abspath build/asan/tokenmeter)

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
check-asan:
	$(MAKE) BUILDDIR=build/asan CFLAGS="-O1 -g" SANFLAGS="$(SAN)" \
	    build/asan/tokenmeter build/asan/check_all
	TOKENMETER=$(abspath build/asan/tokenmeter) TESTDATA=$(abspath tests/data) build/asan/check_all
	CK_FORK=no TOKENMETER=$(abspath build/asan/tokenmeter) TESTDATA=$(abspath tests/data) \
	    build/asan/check_all
	python3 tests/golden.py build/asan/tokenmeter
	python3 tests/hostile.py build/asan/tokenmeter
	python3 tests/operation.py build/asan/tokenmeter

VALGRIND := valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99
check-valgrind: $(CHECKBIN) $(BIN)
	CK_FORK=no CK_TIMEOUT_MULTIPLIER=20 TOKENMETER=$(abspath $(BIN)) TESTDATA=$(abspath tests/data) \
	    $(VALGRIND) $(CHECKBIN)
	WRAP="$(VALGRIND)" python3 tests/golden.py $(BIN)

bench: $(BIN)
	tests/bench/run.sh $(abspath $(BIN))

# Coverage-guided fuzzing with clang's libFuzzer (installs clang-14 and
# libclang-rt-14-dev when run as root). check-fuzz is CI's bounded run (30 s
# per target); fuzz is the longer one to run by hand.
check-fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-30} tests/fuzz/run.sh

fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/fuzz/run.sh

# ---- style -----------------------------------------------------------------

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# Banned functions (collectd/curl lists): unbounded copies and unchecked parses.
lint:
	@! grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atof|gets)[[:space:]]*\(' \
	    $(SRC) $(HDR) || { echo 'lint: banned function used (see above)'; exit 1; }

# ---- install ---------------------------------------------------------------
# install: what any system needs (PREFIX=/usr/local by default).
# install-system: the same plus what the .deb and the .rpm ship outside
# PREFIX (systemd units, cron.d, a disabled Telegraf sample, the state
# directory); both packages build from it, so their layouts cannot drift.

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/tokenmeter
	install -D -m 0644 packaging/tokenmeter.1 $(DESTDIR)$(MANDIR)/man1/tokenmeter.1
	install -D -m 0644 packaging/tokenmeter.conf.5 $(DESTDIR)$(MANDIR)/man5/tokenmeter.conf.5
	@# An edited config is never overwritten (it may hold a password: 0640).
	@conf=$(DESTDIR)$(SYSCONFDIR)/tokenmeter/tokenmeter.conf; \
	if [ -e "$$conf" ]; then \
	    install -m 0640 packaging/tokenmeter.conf "$$conf.new"; \
	    echo "kept $$conf; the shipped example is $$conf.new"; \
	else \
	    install -D -m 0640 packaging/tokenmeter.conf "$$conf"; \
	fi
	install -D -m 0644 data/model_prices.json $(DESTDIR)$(DATADIR)/model_prices.json
	install -m 0644 data/NOTICE $(DESTDIR)$(DATADIR)/NOTICE
	install -d $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -D -m 0644 packaging/grafana/tokenmeter.json $(DESTDIR)$(DATADIR)/grafana/tokenmeter.json
	install -m 0644 examples/webhooks.ndjson examples/prices.json telegraf/*.conf \
	    $(DESTDIR)$(DOCDIR)/examples/

install-system: install
	install -D -m 0644 packaging/systemd/tokenmeter-aggregate.service \
	    $(DESTDIR)$(UNITDIR)/tokenmeter-aggregate.service
	install -D -m 0644 packaging/systemd/tokenmeter-aggregate.timer \
	    $(DESTDIR)$(UNITDIR)/tokenmeter-aggregate.timer
	install -D -m 0644 packaging/tokenmeter.cron $(DESTDIR)$(CRONDIR)/tokenmeter
	install -D -m 0644 telegraf/tokenmeter-http.conf $(DESTDIR)$(TELEGRAFDIR)/tokenmeter.conf.sample
	install -d -m 0750 $(DESTDIR)$(LOCALSTATEDIR)/lib/tokenmeter

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tokenmeter $(DESTDIR)$(MANDIR)/man1/tokenmeter.1 \
	    $(DESTDIR)$(MANDIR)/man5/tokenmeter.conf.5
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)

# ---- packages --------------------------------------------------------------
# dist: the files git tracks, as tokenmeter-VERSION.tar.gz (reproducible:
# sorted, owner 0, mtime of the last commit). deb and rpm build from that
# tarball in build/, never from the work tree, and leave everything there.

DIST       := tokenmeter-$(VERSION)
DIST_TAR   := $(BUILDDIR)/$(DIST).tar.gz
MAINTAINER  = $(shell sed -n 's/^Maintainer: //p' packaging/deb/debian/control)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
# check-packages sets nocheck: the same sources' tests ran in earlier stages.
DEB_BUILD_OPTIONS ?=
# The package builds run this Makefile again inside the unpacked tarball, as
# a packager would: none of this make's settings may leak into them.
PKG_ENV    := env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u WERROR -u BUILDDIR -u DESTDIR \
              -u PREFIX -u SANFLAGS -u V
RPMBUILD_FLAGS ?=

dist:
	@mkdir -p $(BUILDDIR)
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "make dist needs the git checkout" >&2; exit 1; }
	git ls-files -z | tar --null -T - --transform 's,^,$(DIST)/,' --sort=name \
	    --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) -cf - | gzip -9n > $(DIST_TAR)
	@echo "$(DIST_TAR)"

# dpkg-buildpackage writes to the parent of the source tree: build/deb/.
deb: dist
	rm -rf $(BUILDDIR)/deb && mkdir -p $(BUILDDIR)/deb
	cp $(DIST_TAR) $(BUILDDIR)/deb/tokenmeter_$(VERSION).orig.tar.gz
	tar -C $(BUILDDIR)/deb -xzf $(DIST_TAR)
	cp -R $(BUILDDIR)/deb/$(DIST)/packaging/deb/debian $(BUILDDIR)/deb/$(DIST)/debian
	cp $(BUILDDIR)/deb/$(DIST)/packaging/tokenmeter.sysusers $(BUILDDIR)/deb/$(DIST)/debian/
	python3 packaging/changelog.py deb CHANGELOG.md $(VERSION) "$(MAINTAINER)" \
	    > $(BUILDDIR)/deb/$(DIST)/debian/changelog
	cd $(BUILDDIR)/deb/$(DIST) && $(PKG_ENV) DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b
	@ls $(BUILDDIR)/deb/*.deb

# rpmbuild on a non-RPM system (this Debian) knows no installed packages:
# RPMBUILD_FLAGS=--nodeps there. Release RPMs are built on the target
# distribution (docs/packaging.md).
rpm: dist
	rm -rf $(BUILDDIR)/rpm && mkdir -p $(BUILDDIR)/rpm/SOURCES $(BUILDDIR)/rpm/SPECS
	cp $(DIST_TAR) $(BUILDDIR)/rpm/SOURCES/
	{ sed 's/^Version:.*/Version:        $(VERSION)/' packaging/rpm/tokenmeter.spec; \
	  python3 packaging/changelog.py rpm CHANGELOG.md $(VERSION) "$(MAINTAINER)"; } \
	    > $(BUILDDIR)/rpm/SPECS/tokenmeter.spec
	$(PKG_ENV) rpmbuild --define "_topdir $(abspath $(BUILDDIR)/rpm)" $(RPMBUILD_FLAGS) \
	    -ba $(BUILDDIR)/rpm/SPECS/tokenmeter.spec
	@ls $(BUILDDIR)/rpm/RPMS/*/*.rpm

# Builds both packages, lints them, installs the .deb on this machine as a
# user would (then purges it) and the .rpm into a scratch root; man pages.
check-packages:
	tests/packaging/run.sh

clean:
	rm -rf build tokenmeter tests/out
