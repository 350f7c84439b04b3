# SPDX-License-Identifier: MIT
#
# plkv: a memcached that runs as a protected library.
#
#   make            build everything (V=1 shows the commands)
#   make run        install missing packages, build, run the demo
#   make check      install missing packages, build, run every test
#   make vmcheck    only the tests inside the QEMU VM (T=name: one test)
#   make help       all the targets
#
# Layout (wildcards: a new file needs no edit here):
#   lib/*.c                 -> lib/libplkv.so (+ .so.0, .so.0.1.0), lib/libplkv.a
#   tools/ctl/*.c           -> tools/plkvctl
#   tools/server/*.c        -> tools/plkvd
#   examples/*.c            -> examples/<name>
#   test/unit/test_*.c      -> test/unit/test_<x> and test/unit/test_<x>-asan
#   test/selftests/*.c      -> test/selftests/<name> (host) and
#                              test/vm/build/bin/<name> (static, for the VM)
#   kmod/                   -> kmod/plkv.ko (kbuild, via kmod/Makefile)
#   test/*/*.mk             included: fragments with their own rules

PREFIX		?= /usr/local
DESTDIR		?=
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
# Where DKMS looks for module sources (make install-dkms).
DKMS_SRCDIR	?= /usr/src/plkv-$(SO_VERSION)

CC		?= cc
AR		?= ar
PKG_CONFIG	?= pkg-config
CFLAGS		?= -O2 -g

SO_VERSION	:= 0.1.0
SONAME		:= libplkv.so.0

# Flags every C file gets; CFLAGS/CPPFLAGS/LDFLAGS from the user add to them.
PLKV_CFLAGS	:= -std=gnu11 $(CFLAGS) -Wall -Wextra -Werror -D_GNU_SOURCE \
		   -Iinclude -Iinclude/uapi -fvisibility=hidden -MMD -MP \
		   $(CPPFLAGS)
# The library's internal headers: for lib/ and the tests that may call its
# hidden functions.  Tools, examples and the bench see include/ only, so the
# build itself keeps them on the public API.
LIB_INTERNAL	:= -Ilib
ASAN_FLAGS	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer
# What libplkv itself links with.
LIB_LDLIBS	:= -lpthread

# pkg-config is asked once, when first needed (after `make deps`).
lazy_pc		= $(shell $(PKG_CONFIG) $(1) 2>/dev/null || echo $(2))
TOOL_LIBS	= $(eval TOOL_LIBS := $(call lazy_pc,--libs jemalloc liburcu,-ljemalloc -lurcu -lurcu-common) -lpthread)$(TOOL_LIBS)
TOOL_CFLAGS	= $(eval TOOL_CFLAGS := $(call lazy_pc,--cflags jemalloc liburcu,))$(TOOL_CFLAGS)
CHECK_LIBS	= $(eval CHECK_LIBS := $(call lazy_pc,--libs check,-lcheck -lsubunit -lm -lrt -lpthread))$(CHECK_LIBS)
CHECK_CFLAGS	= $(eval CHECK_CFLAGS := $(call lazy_pc,--cflags check,-pthread))$(CHECK_CFLAGS)

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = printf '  %-8s %s\n' '$(1)' '$(2)';
endif
MAKEFLAGS += --no-print-directory -r

# ---- what there is to build --------------------------------------------

LIB_SRCS	:= $(wildcard lib/*.c)
LIB_ASM		:= $(wildcard lib/*.S)
LIB_OBJS	:= $(LIB_SRCS:lib/%.c=lib/.obj/%.o) $(LIB_ASM:lib/%.S=lib/.obj/%.o)
LIB_ASAN_OBJS	:= $(LIB_SRCS:lib/%.c=lib/.obj-asan/%.o) \
		   $(LIB_ASM:lib/%.S=lib/.obj-asan/%.o)
LIB_REAL	:= lib/libplkv.so.$(SO_VERSION)
ifneq ($(LIB_SRCS),)
LIB_A		:= lib/libplkv.a
LIB_SO		:= lib/libplkv.so
LIB_TARGETS	:= $(LIB_REAL) lib/$(SONAME) $(LIB_SO) $(LIB_A)
endif

CTL_SRCS	:= $(wildcard tools/ctl/*.c)
CTL_OBJS	:= $(CTL_SRCS:tools/ctl/%.c=tools/ctl/.obj/%.o)
SRV_SRCS	:= $(wildcard tools/server/*.c)
SRV_OBJS	:= $(SRV_SRCS:tools/server/%.c=tools/server/.obj/%.o)
# Linked into both tools: the command-line values they share.
TCOM_SRCS	:= $(wildcard tools/common/*.c)
TCOM_OBJS	:= $(TCOM_SRCS:tools/common/%.c=tools/common/.obj/%.o)
TOOL_BINS	:= $(if $(CTL_SRCS),tools/plkvctl) $(if $(SRV_SRCS),tools/plkvd)
# plkvd under ASan/UBSan, for the integration tests (make check).
SRV_ASAN_OBJS	:= $(SRV_SRCS:tools/server/%.c=tools/server/.obj-asan/%.o) \
		   $(TCOM_SRCS:tools/common/%.c=tools/common/.obj-asan/%.o)
SRV_ASAN_BIN	:= $(if $(SRV_SRCS),tools/plkvd-asan)

EXAMPLE_SRCS	:= $(wildcard examples/*.c)
EXAMPLE_BINS	:= $(EXAMPLE_SRCS:.c=)

UNIT_SRCS	:= $(wildcard test/unit/test_*.c)
UNIT_BINS	:= $(UNIT_SRCS:.c=)
UNIT_ASAN_BINS	:= $(UNIT_SRCS:.c=-asan)

SELFTEST_SRCS	:= $(wildcard test/selftests/*.c)
SELFTEST_BINS	:= $(SELFTEST_SRCS:.c=)
VM_BINS		:= $(SELFTEST_SRCS:test/selftests/%.c=test/vm/build/bin/%)

HARNESS_BIN	:= test/harness_selftest

# ---- top-level targets --------------------------------------------------

.DEFAULT_GOAL := all
.PHONY: all lib tools examples tests kmod run check vmcheck checkpatch \
	deps clean install install-dkms uninstall help python

all: lib tools examples tests kmod

lib: $(LIB_TARGETS)
tools: $(TOOL_BINS)
examples: $(EXAMPLE_BINS)
tests: $(UNIT_BINS) $(UNIT_ASAN_BINS) $(SELFTEST_BINS) $(VM_BINS) $(HARNESS_BIN) \
	$(SRV_ASAN_BIN)

help:
	@echo 'make [V=1]        build everything: lib, tools, examples, tests, kmod'
	@echo 'make run          deps + build + the demo (examples/run-demo.sh)'
	@echo 'make check        deps + build + every test (test/run-tests.sh);'
	@echo '                  T=PATTERN runs the matching test programs only'
	@echo 'make vmcheck      the selftests in the QEMU VM; T=name for one'
	@echo 'make checkpatch   kernel style check of kmod/'
	@echo 'make deps         install missing Debian packages (as root)'
	@echo 'make install      library, headers, pkg-config file, tools, man pages;'
	@echo '                  PREFIX=$(PREFIX) DESTDIR=$(DESTDIR); make uninstall'
	@echo 'make install-dkms the module sources in $(DKMS_SRCDIR) for dkms'
	@echo 'make python       the Python binding, in place (bindings/python);'
	@echo '                  pip install bindings/python installs it'
	@echo 'make clean        remove every build product'

# ---- libplkv ------------------------------------------------------------

# Link-time optimisation across the library's files: a get crosses the
# entry, gate, engine and lock files, and inlining across them is most of
# what separates it from one function.  Fat objects: libplkv.a links
# without LTO too.  No SLP vectorising: it packed a call's pointers into
# vector registers to store two at once, 7 instructions for 2 stores on
# every entry (5 more a get, 6 more a set under callgrind).
LIB_LTO		:= -flto=auto -ffat-lto-objects -fno-tree-slp-vectorize
# Code that runs with the key granted calls nothing outside libplkv
# (lib/mem.h): no loop turned into a memcpy() or memset() call, and calls
# between its own public functions bound inside it, not to a definition
# the program brings (interposition).
LIB_OWN_CODE	:= -fno-tree-loop-distribute-patterns
# r15 holds a call stack's token for the whole of a call (lib/calls.S).
LIB_OWN_CODE	+= -ffixed-r15
LIB_OWN_LINK	:= -Wl,-Bsymbolic-functions

lib/.obj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) $(LIB_LTO) \
		$(LIB_OWN_CODE) -fPIC -c -o $@ $<

# The library's flags are part of what its objects are (-ffixed-r15 above)
$(LIB_OBJS) $(LIB_ASAN_OBJS): Makefile

lib/.obj/%.o: lib/%.S
	@mkdir -p $(@D)
	$(Q)$(call say,AS,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) -c -o $@ $<

lib/.obj-asan/%.o: lib/%.S
	@mkdir -p $(@D)
	$(Q)$(call say,AS,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) -c -o $@ $<

lib/.obj-asan/%.o: lib/%.c
	@mkdir -p $(@D)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) $(ASAN_FLAGS) \
		$(LIB_OWN_CODE) -fPIC -c -o $@ $<

$(LIB_REAL): $(LIB_OBJS)
	$(Q)$(call say,LD,$@)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,-z,defs \
		$(CFLAGS) $(LIB_LTO) $(LIB_OWN_CODE) $(LIB_OWN_LINK) $(LDFLAGS) \
		-o $@ $(LIB_OBJS) $(LIB_LDLIBS)

lib/$(SONAME): $(LIB_REAL)
	$(Q)$(call say,LN,$@)ln -sf $(notdir $<) $@

lib/libplkv.so: lib/$(SONAME)
	$(Q)$(call say,LN,$@)ln -sf $(notdir $<) $@

# The archive holds the objects' code without their LTO sections: a
# program linking it through the linker plugin would otherwise compile
# libplkv again with its own flags, and use r15 (-ffixed-r15 above).
LIB_A_OBJS	:= $(LIB_OBJS:lib/.obj/%.o=lib/.obj-a/%.o)

lib/.obj-a/%.o: lib/.obj/%.o
	@mkdir -p $(@D)
	$(Q)objcopy --remove-section='.gnu.lto_*' \
		--remove-section='.gnu.debuglto_*' $< $@

lib/libplkv.a: $(LIB_A_OBJS)
	$(Q)$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $(LIB_A_OBJS)

# ---- tools and examples: linked with lib/libplkv.so ---------------------

LINK_PLKV = -Llib -lplkv -Wl,-rpath,'$$ORIGIN/../lib' $(TOOL_LIBS)

# One rule per tools folder (ctl, server, common): objects under its .obj/.
define tool_obj_rule
tools/$(1)/.obj/%.o: tools/$(1)/%.c
	@mkdir -p $$(@D)
	$$(Q)$$(call say,CC,$$@)$$(CC) $$(PLKV_CFLAGS) $$(TOOL_CFLAGS) \
		-Itools/common -c -o $$@ $$<
endef
$(foreach d,ctl server common,$(eval $(call tool_obj_rule,$(d))))

# The ASan/UBSan twin links the library's sanitized objects and the C
# library's malloc (ASan replaces it; jemalloc would hide the heap from it).
tools/server/.obj-asan/%.o: tools/server/%.c
	@mkdir -p $(@D)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(ASAN_FLAGS) $(TOOL_CFLAGS) \
		-Itools/common -c -o $@ $<

tools/common/.obj-asan/%.o: tools/common/%.c
	@mkdir -p $(@D)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(ASAN_FLAGS) $(TOOL_CFLAGS) \
		-Itools/common -c -o $@ $<

tools/plkvd-asan: $(SRV_ASAN_OBJS) $(LIB_ASAN_OBJS)
	$(Q)$(call say,LD,$@)$(CC) $(ASAN_FLAGS) $(LDFLAGS) -o $@ \
		$(SRV_ASAN_OBJS) $(LIB_ASAN_OBJS) \
		$(filter-out -ljemalloc,$(TOOL_LIBS)) $(LIB_LDLIBS)

tools/plkvctl: $(CTL_OBJS) $(TCOM_OBJS) $(LIB_SO)
	$(Q)$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $(CTL_OBJS) $(TCOM_OBJS) \
		$(LINK_PLKV)

tools/plkvd: $(SRV_OBJS) $(TCOM_OBJS) $(LIB_SO)
	$(Q)$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $(SRV_OBJS) $(TCOM_OBJS) \
		$(LINK_PLKV)

$(EXAMPLE_BINS): examples/%: examples/%.c $(LIB_SO)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(TOOL_CFLAGS) $(LDFLAGS) \
		-o $@ $< $(LINK_PLKV)

# ---- tests --------------------------------------------------------------

# Unit tests may call hidden functions: static archive / objects.
$(UNIT_BINS): test/unit/%: test/unit/%.c $(LIB_A)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) -Itest $(CHECK_CFLAGS) \
		$(LDFLAGS) -o $@ $< $(LIB_A) $(CHECK_LIBS) $(LIB_LDLIBS)

$(UNIT_ASAN_BINS): test/unit/%-asan: test/unit/%.c $(LIB_ASAN_OBJS)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) $(ASAN_FLAGS) -Itest \
		$(CHECK_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_ASAN_OBJS) \
		$(CHECK_LIBS) $(LIB_LDLIBS)

$(SELFTEST_BINS): test/selftests/%: test/selftests/%.c $(LIB_A)
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) -Itest $(LDFLAGS) \
		-o $@ $< $(LIB_A) $(LIB_LDLIBS)

# granted_calls wraps every C library function libplkv calls (the list's
# W(name) entries) to count the calls made with the key granted.
comma		:= ,
GRANTED_WRAP	:= $(patsubst %,-Wl$(comma)--wrap=%,$(shell grep -o \
		   'W([a-z_0-9]*)' test/selftests/granted_calls.h 2>/dev/null | \
		   tr -d 'W()'))
test/selftests/granted_calls test/vm/build/bin/granted_calls: \
	LDFLAGS += $(GRANTED_WRAP)
test/selftests/granted_calls test/vm/build/bin/granted_calls: \
	test/selftests/granted_calls.h

# The same selftests, static, for the initramfs of the VM.
$(VM_BINS): test/vm/build/bin/%: test/selftests/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(Q)$(call say,CC,$@ [static])$(CC) $(PLKV_CFLAGS) $(LIB_INTERNAL) -Itest -static \
		$(LDFLAGS) -o $@ $< $(LIB_A) $(LIB_LDLIBS)

$(HARNESS_BIN): test/harness_selftest.c test/harness.h
	$(Q)$(call say,CC,$@)$(CC) $(PLKV_CFLAGS) -Itest $(LDFLAGS) -o $@ $<

# ---- the kernel module ----------------------------------------------------

# BTF for an out-of-tree module needs a vmlinux that headers packages do
# not ship: without this kbuild says "Skipping BTF generation" every time.
kmod:
ifneq ($(wildcard kmod/Makefile),)
	$(Q)$(MAKE) -C kmod $(if $(filter 1,$(V)),V=1) CONFIG_DEBUG_INFO_BTF_MODULES=
else
	@echo '  SKIP     kmod/plkv.ko: there is no kmod/Makefile yet'
endif

# ---- running things -------------------------------------------------------

deps:
	$(Q)sh mk/deps.sh

run:
	$(Q)$(MAKE) deps
	$(Q)$(MAKE) all
	$(Q)if [ -f examples/run-demo.sh ]; then \
		sh examples/run-demo.sh; \
	else \
		echo 'make run: the demo (examples/run-demo.sh) is not available yet:'; \
		echo 'the engine is still being built. Everything else was built;'; \
		echo '"make check" runs the tests.'; \
	fi

check:
	$(Q)$(MAKE) deps
	$(Q)$(MAKE) all
	$(Q)test/run-tests.sh $(T)

vmcheck: all
	$(Q)test/vm/run.sh --no-build $(if $(T),--test "$(T)")

checkpatch:
	$(Q)sh mk/checkpatch.sh

# ---- install ------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(BINDIR)
ifneq ($(LIB_SRCS),)
	install -m 755 $(LIB_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libplkv.so.$(SO_VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libplkv.so
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
endif
	install -m 644 $(wildcard include/*.h) $(DESTDIR)$(INCLUDEDIR)/
ifneq ($(wildcard include/uapi/linux/plkv.h),)
	install -d $(DESTDIR)$(INCLUDEDIR)/linux
	install -m 644 include/uapi/linux/plkv.h $(DESTDIR)$(INCLUDEDIR)/linux/
endif
ifneq ($(TOOL_BINS),)
	install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/
endif
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(SO_VERSION)|g' \
	    mk/libplkv.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libplkv.pc
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 644 $(wildcard man/*.3) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(wildcard man/*.4) $(DESTDIR)$(MANDIR)/man4/
	install -m 644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/
	sh mk/man-links.sh $(wildcard man/*.3) | while read -r fn page; do \
		echo ".so man3/$$page.3" >$(DESTDIR)$(MANDIR)/man3/$$fn.3; \
	done

# The module's sources laid out as kmod/dkms.conf expects, for
# `dkms install plkv/$(SO_VERSION)`.
install-dkms:
	install -d $(DESTDIR)$(DKMS_SRCDIR)/kmod \
		$(DESTDIR)$(DKMS_SRCDIR)/include/uapi/linux
	install -m 644 kmod/dkms.conf $(DESTDIR)$(DKMS_SRCDIR)/
	install -m 644 kmod/Makefile $(wildcard kmod/*.c kmod/*.h) \
		$(DESTDIR)$(DKMS_SRCDIR)/kmod/
	install -m 644 include/uapi/linux/plkv.h \
		$(DESTDIR)$(DKMS_SRCDIR)/include/uapi/linux/
	@echo "plkv sources in $(DESTDIR)$(DKMS_SRCDIR); as root: dkms install plkv/$(SO_VERSION)"

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libplkv.so* $(DESTDIR)$(LIBDIR)/libplkv.a \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/libplkv.pc \
	      $(DESTDIR)$(INCLUDEDIR)/linux/plkv.h \
	      $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(wildcard include/*.h))) \
	      $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOL_BINS))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard man/*.3))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man4/,$(notdir $(wildcard man/*.4))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8)))
	sh mk/man-links.sh $(wildcard man/*.3) | while read -r fn page; do \
		rm -f $(DESTDIR)$(MANDIR)/man3/$$fn.3; \
	done

# ---- clean ----------------------------------------------------------------

clean:
ifneq ($(wildcard kmod/Makefile),)
	$(Q)$(MAKE) -C kmod clean >/dev/null
endif
	$(Q)rm -rf lib/.obj lib/.obj-asan lib/.obj-a lib/libplkv.so* lib/libplkv.a \
		tools/plkvctl tools/plkvd tools/ctl/.obj tools/server/.obj \
		tools/common/.obj tools/plkvd-asan tools/server/.obj-asan \
		tools/common/.obj-asan \
		$(EXAMPLE_BINS) examples/*.d \
		$(UNIT_BINS) $(UNIT_ASAN_BINS) test/unit/*.d \
		$(SELFTEST_BINS) test/selftests/*.d \
		$(HARNESS_BIN) test/*.d test/vm/build .tools \
		bindings/python/build bindings/python/dist \
		bindings/python/src/plkv.egg-info bindings/python/src/plkv/*.so

# ---- the Python binding (optional: make check installs it into a venv) ---

PYTHON ?= /usr/bin/python3

python: lib
	$(Q)cd bindings/python && $(PYTHON) setup.py -q build_ext --inplace

# Fragments other parts of the tree bring (e.g. test/bench/bench.mk): they
# may add rules and prerequisites to all/tests/clean.
include $(wildcard test/*/*.mk)

-include $(wildcard lib/.obj/*.d lib/.obj-asan/*.d tools/ctl/.obj/*.d \
	tools/server/.obj/*.d tools/common/.obj/*.d examples/*.d \
	tools/server/.obj-asan/*.d tools/common/.obj-asan/*.d \
	test/unit/*.d test/selftests/*.d test/vm/build/bin/*.d test/*.d)
