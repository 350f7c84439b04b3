/* SPDX-License-Identifier: MIT */
/* Crash injection (crash.c), for the recovery tests. */
#ifndef PLKV_CRASH_H
#define PLKV_CRASH_H

#include "compiler.h"
#include "handle.h"

/*
 * PLKV_CRASH=OP:POINT[:MODE] in the environment makes the library stop at
 * instrumented point POINT (1-based) of the OP-th mutating operation of
 * this process; the modes (abort, kill, signal, stop, default _exit(99)) are
 * described in crash.c.  PLKV_CRASH_COUNT=FILE appends "points=N" for
 * each operation to FILE, so a test can learn how many points an
 * operation passes.
 */
extern PLKV_HIDDEN int plkv_crash_armed;
PLKV_HIDDEN void plkv_crash_point_slow(struct plkv_ctx *ctx);
PLKV_HIDDEN void plkv_crash_op_begin(struct plkv_ctx *ctx);
PLKV_HIDDEN void plkv_crash_op_end(struct plkv_ctx *ctx);
#define PLKV_CRASH_POINT(ctx) \
	do { \
		if (unlikely(plkv_crash_armed)) \
			plkv_crash_point_slow(ctx); \
	} while (0)

#endif /* PLKV_CRASH_H */
