# SPDX-License-Identifier: MIT
#
# plkv-bench (test/bench/*.c -> test/bench/plkv-bench), a fragment of the
# top-level Makefile, which includes it:
#
#	include test/bench/bench.mk
#
#   make bench                  build and run it (BENCH_ARGS=--quick etc.)
#   make test/bench/plkv-bench  only build it (also part of `make tests`)
#
# It uses the top-level Makefile's PLKV_CFLAGS, Q and say where they are
# defined, and stands alone otherwise (make -f test/bench/bench.mk).

BENCH_SRCS	:= $(wildcard test/bench/*.c)
BENCH_OBJS	:= $(BENCH_SRCS:test/bench/%.c=test/bench/.obj/%.o)
BENCH_BIN	:= test/bench/plkv-bench
BENCH_CFLAGS	= $(if $(PLKV_CFLAGS),$(PLKV_CFLAGS),-std=gnu11 -O2 -g -Wall \
		  -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi \
		  -MMD -MP)
BENCH_LDLIBS	:= -Llib -lplkv -Wl,-rpath,'$$ORIGIN/../../lib' -lpthread
BENCH_ARGS	?=

.PHONY: bench bench-clean

test/bench/.obj/%.o: test/bench/%.c
	@mkdir -p $(@D)
	$(Q)$(call say,CC,$@)$(CC) $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_BIN): $(BENCH_OBJS) lib/libplkv.so
	$(Q)$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJS) $(BENCH_LDLIBS)

bench: $(BENCH_BIN) $(if $(wildcard tools/server/*.c),tools/plkvd)
	$(BENCH_BIN) $(BENCH_ARGS)

tests: $(BENCH_BIN)

clean: bench-clean
bench-clean:
	$(Q)rm -rf test/bench/.obj $(BENCH_BIN)

-include $(wildcard test/bench/.obj/*.d)

# plkv-gate-cost: the gate's WRPKRU pair, static (runs where plkv is not
# installed, e.g. on a lent machine with real PKU).  Uses libplkv's
# internals (lib/pkru.h), so it links the static archive.
GATE_COST_BIN	:= test/bench/gate/plkv-gate-cost

$(GATE_COST_BIN): test/bench/gate/plkv_gate_cost.c lib/libplkv.a
	$(Q)$(call say,CC,$@ [static])$(CC) $(BENCH_CFLAGS) -Ilib -static \
		$(LDFLAGS) -o $@ $< lib/libplkv.a -lpthread

tests: $(GATE_COST_BIN)

bench-clean: gate-cost-clean
gate-cost-clean:
	$(Q)rm -f $(GATE_COST_BIN) test/bench/gate/*.d
