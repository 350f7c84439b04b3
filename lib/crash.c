/* SPDX-License-Identifier: MIT */
/*
 * Crash injection, for the crash-sweep tests: PLKV_CRASH=OP:POINT[:MODE]
 * kills the process at the POINT-th PLKV_CRASH_POINT of its OP-th
 * mutating operation (both 1-based).  MODE "abort" raises SIGABRT,
 * "kill" SIGKILL, "signal" SIGUSR1 (a test's handler longjmps out of the
 * call, abandoning it), "stop" SIGSTOP (a client stuck inside a call,
 * holding what it holds there, until SIGCONT), default _exit(99).  PLKV_CRASH_COUNT=FILE
 * appends, after each mutating operation, the number of points it passed,
 * so a test learns how far to sweep.  Unset, the cost is one predicted
 * branch per point.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "fmt.h"

int plkv_crash_armed;

static unsigned long crash_op = 0, crash_point;
static unsigned long cur_op, cur_point;
static int crash_mode;
static int count_fd = -1;

__attribute__((constructor)) static void crash_init(void)
{
	const char *spec = getenv("PLKV_CRASH");
	const char *count = getenv("PLKV_CRASH_COUNT");
	char mode[16] = "";

	if (spec && sscanf(spec, "%lu:%lu:%15s", &crash_op, &crash_point,
			   mode) >= 2 && crash_op && crash_point) {
		crash_mode = !strcmp(mode, "abort") ? 1 :
			     !strcmp(mode, "kill") ? 2 :
			     !strcmp(mode, "signal") ? 3 :
			     !strcmp(mode, "stop") ? 4 : 0;
		plkv_crash_armed = 1;
	}
	if (count) {
		count_fd = open(count, O_WRONLY | O_APPEND | O_CREAT |
				O_CLOEXEC, 0644);
		if (count_fd >= 0)
			plkv_crash_armed = 1;
	}
}

void plkv_crash_op_begin(struct plkv_ctx *ctx)
{
	(void)ctx;
	if (!plkv_crash_armed)
		return;
	cur_op++;
	cur_point = 0;
}

void plkv_crash_op_end(struct plkv_ctx *ctx)
{
	char line[64];
	bool granted;
	int n;

	if (count_fd < 0)
		return;
	/* one write of our own, with the key dropped (sys.h) */
	n = plkv_fmt(line, sizeof(line), "op=%lu points=%lu\n", cur_op,
		     cur_point);
	granted = plkv_gate_suspend(ctx->kv);
	plkv_sys3(SYS_write, count_fd, (long)line, n);
	plkv_gate_resume(granted);
}

/* Raise sig in this thread, by system calls of our own: the key may be
 * granted (sys.h). */
static void crash_signal(int sig)
{
	plkv_sys3(SYS_tgkill, plkv_sys3(SYS_getpid, 0, 0, 0),
		  plkv_sys3(SYS_gettid, 0, 0, 0), sig);
}

static __attribute__((noreturn)) void crash_exit(void)
{
	for (;;)
		plkv_sys3(SYS_exit_group, 99, 0, 0);
}

void plkv_crash_point_slow(struct plkv_ctx *ctx)
{
	(void)ctx;
	cur_point++;
	if (cur_op != crash_op || cur_point != crash_point)
		return;
	switch (crash_mode) {
	case 1:
		crash_signal(SIGABRT);	/* abort(), unless caught */
		crash_signal(SIGKILL);
		crash_exit();
	case 2:
		crash_signal(SIGKILL);
		crash_exit();
	case 3:
		crash_signal(SIGUSR1);
		return;
	case 4:
		crash_signal(SIGSTOP);
		return;
	default:
		crash_exit();
	}
}
