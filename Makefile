# SPDX-License-Identifier: MIT
#
# sbx build. Plain GNU make, out of tree (B ?= build).
#
# Layering: each of common/ policy/ sandbox/ keys/ supervisor/ is a static library, linked in
# the order supervisor keys sandbox policy common, so a call from a lower folder into a higher one fails to link.
# cli/ and supervisor/ are programs on top. Mandatory flags live in SBX_*: a command-line
# CFLAGS= only adds optimisation/debug flags, it cannot drop -Werror or the hardening.

B        ?= build
CC       ?= cc
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DATADIR  ?= $(PREFIX)/share
UNITDIR  ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
MANDIR   ?= $(DATADIR)/man
DESTDIR  ?=

PKGS      = libseccomp libcap libsodium libuv jansson
TEST_PKGS = criterion
CFLAGS   ?= -O2 -g
SBX_CFLAGS = -std=gnu17 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
  -Wmissing-prototypes -Wvla -fstack-protector-strong -fstack-clash-protection -fPIE -MMD -MP \
  $(shell pkg-config --cflags $(PKGS))
CPPFLAGS += -D_GNU_SOURCE -I. -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 \
  -DSBX_SYSCONFDIR=\"$(SYSCONFDIR)\" -DSBX_VERSION=\"$(VERSION)\"
SBX_LDFLAGS = -pie -Wl,-z,relro,-z,now,-z,noexecstack -Wl,--as-needed
LDLIBS_ALL  = $(shell pkg-config --libs $(PKGS)) -lcrypto
SAN      ?=
VERSION  := 0.1.0

LIBDIRS  = supervisor audit keys sandbox policy common
lib_srcs = $(filter-out %/main.c,$(wildcard $(1)/*.c))
lib_objs = $(patsubst %.c,$(B)/%.o,$(call lib_srcs,$(1)))
LIBS     = $(foreach d,$(LIBDIRS),$(B)/lib$(d).a)

# Data embedded in the binaries (shipped policies and seccomp profiles).
EMBED_SRCS = policy/default.json $(wildcard policy/profiles/*.json)
EMBED_C    = $(B)/gen/embedded.c

CLI_SRCS = $(wildcard cli/*.c)
SUP_SRCS = $(wildcard supervisor/*.c)
PROGS    = $(B)/sbxctl $(if $(SUP_SRCS),$(B)/sbxd)

UNIT_SRCS = $(wildcard tests/unit/test-*.c)
UNIT_BINS = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
INTEG_SRCS = $(wildcard tests/integration/test-*.c)
INTEG_BINS = $(patsubst tests/integration/%.c,$(B)/tests/%,$(INTEG_SRCS))
INTEG_HELPERS = $(filter-out tests/integration/test-%.c,$(wildcard tests/integration/*.c))
PROBE    = $(B)/tests/probe
PROBE_SRCS = $(wildcard tests/escape/probe*.c)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz-*.c)

.PHONY: all test unit integration check tidy cppcheck format format-check secrets-check \
	asan valgrind soak fuzz fuzz-smoke bench install clean deps deb deb-test boot-test pytest shellcheck
.DEFAULT_GOAL := all

all: $(PROGS) $(PROBE)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(SBX_CFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

define LIB_RULE
$(B)/lib$(1).a: $(call lib_objs,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && $(AR) rcs $$@ $$^
endef
$(foreach d,$(LIBDIRS),$(eval $(call LIB_RULE,$(d))))

$(EMBED_C): $(EMBED_SRCS) scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $(EMBED_SRCS) > $@.tmp && mv $@.tmp $@

$(B)/gen/embedded.o: $(EMBED_C)
	$(CC) $(CPPFLAGS) $(SBX_CFLAGS) $(CFLAGS) $(SAN) -Wno-missing-prototypes -c -o $@ $<

# libpolicy carries the embedded shipped files.
$(B)/libpolicy.a: $(B)/gen/embedded.o

$(B)/sbxctl: $(patsubst %.c,$(B)/%.o,$(CLI_SRCS)) $(LIBS)
	$(CC) $(SBX_CFLAGS) $(CFLAGS) $(SAN) $(SBX_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(B)/sbxd: $(B)/supervisor/main.o $(LIBS)
	$(CC) $(SBX_CFLAGS) $(CFLAGS) $(SAN) $(SBX_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Tests. A unit test binary test-<name> links the library of the folder that holds
# <name>.c and the ones below it (UNIT_DIR_<name> overrides the folder).
TEST_CFLAGS = $(filter-out -Wmissing-prototypes,$(SBX_CFLAGS)) $(shell pkg-config --cflags $(TEST_PKGS)) \
  -DSBX_BUILD_DIR=\"$(abspath $(B))\" -DSBX_SOURCE_DIR=\"$(abspath .)\"
TEST_LDLIBS = $(shell pkg-config --libs $(TEST_PKGS)) $(LDLIBS_ALL)
libs_below_supervisor = supervisor audit keys sandbox policy common
libs_below_audit   = audit keys common
libs_below_keys    = keys common
libs_below_sandbox = sandbox policy common
libs_below_policy  = policy common
libs_below_common  = common
UNIT_DIR_audit-verify = audit
UNIT_DIR_policy-validate = policy
unit_dir  = $(or $(UNIT_DIR_$(1)),$(firstword $(foreach d,$(LIBDIRS),$(if $(wildcard $(d)/$(1).c),$(d)))),common)
unit_libs = $(foreach d,$(libs_below_$(call unit_dir,$(1))),$(B)/lib$(d).a)

$(B)/tests/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

$(B)/tests/%.o: tests/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

define UNIT_RULE
$(B)/tests/$(1): $(B)/tests/$(1).o $(call unit_libs,$(patsubst test-%,%,$(1)))
	$$(CC) $$(SBX_CFLAGS) $$(CFLAGS) $$(SAN) $$(SBX_LDFLAGS) -o $$@ $$^ $$(TEST_LDLIBS)
endef
$(foreach t,$(patsubst tests/unit/%.c,%,$(UNIT_SRCS)),$(eval $(call UNIT_RULE,$(t))))

$(INTEG_BINS): $(B)/tests/%: $(B)/tests/%.o $(patsubst tests/integration/%.c,$(B)/tests/%.o,$(INTEG_HELPERS)) $(LIBS)
	$(CC) $(SBX_CFLAGS) $(CFLAGS) $(SAN) $(SBX_LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

# The attacker is static (nothing to resolve inside a minimal root) and never sanitized.
$(PROBE): $(PROBE_SRCS) tests/escape/probe.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -static -o $@ $(PROBE_SRCS)

unit: $(UNIT_BINS)
integration: all $(INTEG_BINS)

test: all $(UNIT_BINS) $(INTEG_BINS)
	sh scripts/run-tests.sh $(UNIT_BINS) $(INTEG_BINS)

# The Python client's and the reference app's tests against the built sbxd (root).
pytest: all
	sh scripts/test-python.sh

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

# sbxd under valgrind memcheck for the integration binaries that start it (through
# tests/integration/sbxd-fixture.c, which reads SBX_SBXD_WRAPPER, gives each daemon a log and
# fails a stop on any error, definite/indirect leak or fd left open). Sandbox children leave
# valgrind right after clone (sandbox/spawn.c). VALGRIND_TESTS narrows the set (CI: a subset).
VALGRIND_TESTS ?= test-sbxd test-sbxd-ops test-sbxd-wire test-sbxd-authz test-sbxd-keys \
  test-audit-sbxd test-soak test-proxy test-proxy-relay test-cgroup
VALGRIND_SHIM = $(B)/tests/valgrind-seccomp-shim.so
VALGRIND_CMD = env LD_PRELOAD=$(abspath $(VALGRIND_SHIM)) valgrind --leak-check=full \
  --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=99 --track-fds=yes --child-silent-after-fork=yes \
  --suppressions=$(abspath tests/valgrind/sbxd.supp)
$(VALGRIND_SHIM): tests/valgrind/seccomp-shim.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $< -ldl
valgrind: all $(VALGRIND_SHIM) $(patsubst %,$(B)/tests/%,$(VALGRIND_TESTS))
	SBX_SBXD_WRAPPER="$(VALGRIND_CMD)" sh scripts/run-tests.sh \
	  $(patsubst %,$(B)/tests/%,$(VALGRIND_TESTS))

# Load and soak: tests/integration/test-soak.c with 20,000 tasks (the test command runs the
# same test with its default of 2,000).
SOAK_TASKS ?= 20000
soak: all $(B)/tests/test-soak
	SBX_SOAK_TASKS=$(SOAK_TASKS) sh scripts/run-tests.sh $(B)/tests/test-soak

# libFuzzer targets; `make fuzz` runs each for FUZZ_SECONDS, fuzz-smoke briefly.
FUZZ_SECONDS ?= 300
FUZZ_B = build-fuzz
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(FUZZ_B)/fuzz/%,$(FUZZ_SRCS))
fuzz-build:
	$(MAKE) B=$(FUZZ_B) CC=clang CFLAGS="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" $(foreach d,$(LIBDIRS),$(FUZZ_B)/lib$(d).a)
	@mkdir -p $(FUZZ_B)/fuzz
	set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  clang $(CPPFLAGS) -std=gnu17 -O1 -g -fsanitize=fuzzer,address,undefined \
	  $$(pkg-config --cflags $(PKGS)) -o $(FUZZ_B)/fuzz/$$n $$f $(foreach d,$(LIBDIRS),$(FUZZ_B)/lib$(d).a) $(LDLIBS_ALL); done
fuzz: fuzz-build
	sh scripts/fuzz.sh $(FUZZ_B)/fuzz $(FUZZ_SECONDS)
fuzz-smoke: fuzz-build
	sh scripts/fuzz.sh $(FUZZ_B)/fuzz 10

BENCH_SRCS = $(wildcard tests/bench/*.c)
BENCH_BINS = $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
$(B)/bench/%: tests/bench/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(SBX_CFLAGS) $(CFLAGS) $(SBX_LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS_ALL)

bench: all $(BENCH_BINS)
	sh tests/bench/bench.sh $(B)

C_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
tidy:
	clang-tidy --quiet $(filter %.c,$(filter-out tests/%,$(C_SRCS))) -- $(CPPFLAGS) $(SBX_CFLAGS)
# cppcheck cannot follow _cleanup_ (it reports every scope-freed pointer as a leak) nor
# jansson's iteration macros; clang-analyzer (make tidy) and ASan/LSan cover leaks instead.
cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=memleak \
	  --suppress=unknownMacro --suppress=uninitvar:audit/audit-fields.c \
	  -I. -D_GNU_SOURCE $(filter-out tests/%,$(C_SRCS))
format:
	clang-format -i $(C_SRCS)
format-check:
	clang-format --dry-run --Werror $(C_SRCS)
secrets-check:
	sh scripts/secrets-check.sh
# The shell scripts (POSIX sh), warnings and errors.
shellcheck:
	shellcheck -s sh -S warning scripts/*.sh .ci/run
check: test tidy cppcheck format-check secrets-check shellcheck

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/sbx/policies \
	  $(DESTDIR)$(SYSCONFDIR)/sbx/profiles
	install -m 0755 $(B)/sbxctl $(DESTDIR)$(BINDIR)/sbxctl
	$(if $(SUP_SRCS),install -m 0755 $(B)/sbxd $(DESTDIR)$(SBINDIR)/sbxd)
	install -m 0644 policy/default.json $(DESTDIR)$(SYSCONFDIR)/sbx/policies/default.json
	install -m 0644 policy/profiles/*.json $(DESTDIR)$(SYSCONFDIR)/sbx/profiles/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(DATADIR)/doc/sbx
	# Installed units point at the installed binary, docs and man page (the tree's units name
	# no man page, so systemd-analyze verify passes on them before one is installed).
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|' -e 's|/usr/local/share/doc/|$(DATADIR)/doc/|' \
	  -e 's|^Documentation=|Documentation=man:sbxd(8) |' \
	  systemd/sbxd.service > $(DESTDIR)$(UNITDIR)/sbxd.service
	sed -e 's|/usr/local/share/doc/|$(DATADIR)/doc/|' -e 's|^Documentation=|Documentation=man:sbxd(8) |' \
	  systemd/sbxd.socket > $(DESTDIR)$(UNITDIR)/sbxd.socket
	chmod 0644 $(DESTDIR)$(UNITDIR)/sbxd.service $(DESTDIR)$(UNITDIR)/sbxd.socket
	install -m 0644 systemd/sbx.sysusers $(DESTDIR)$(SYSUSERSDIR)/sbx.conf
	install -m 0644 systemd/sbx.tmpfiles $(DESTDIR)$(TMPFILESDIR)/sbx.conf
	install -m 0644 README.md SECURITY.md docs/*.md $(DESTDIR)$(DATADIR)/doc/sbx/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/sbxctl.1 $(DESTDIR)$(MANDIR)/man1/sbxctl.1
	install -m 0644 man/sbx-policy.5 $(DESTDIR)$(MANDIR)/man5/sbx-policy.5
	install -m 0644 man/sbxd.8 $(DESTDIR)$(MANDIR)/man8/sbxd.8
	# The default configuration; an operator's own file is never replaced.
	test -e $(DESTDIR)$(SYSCONFDIR)/sbx/sbxd.json || \
	  install -m 0644 etc/sbxd.json $(DESTDIR)$(SYSCONFDIR)/sbx/sbxd.json

# The Debian package (debian/), built outside the tree; deb-test also installs it into a
# fresh debootstrap root (scripts/test-deb.sh; needs root and Debian's mirror).
deb:
	sh scripts/test-deb.sh --build-only
deb-test:
	sh scripts/test-deb.sh
# That package in a container booting a real systemd (scripts/test-systemd-boot.sh).
boot-test: all deb-test
	sh scripts/test-systemd-boot.sh

deps:
	sh scripts/install-deps.sh

clean:
	rm -rf build build-asan build-fuzz build-deb

-include $(shell find $(B) -name '*.d' 2>/dev/null)
