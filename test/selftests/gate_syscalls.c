// SPDX-License-Identifier: MIT
/*
 * libplkv makes no system call with a segment's key granted.  The kernel
 * does work for a thread while it is in a system call (io_uring task_work
 * completing a read, signal frames) with the thread's PKRU: a call made
 * inside the gate would let that work write into the store.
 *
 * A traced client opens a store, recovers a dead process (the recovery
 * path's calls), stores and reads, and closes; at every system call entry
 * the tracer reads the client's PKRU from its XSAVE state and checks that
 * no protection key other than 0 is granted.  Needs the kmod backend and
 * PKU: SKIPs elsewhere.
 */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "core.h"

static void open_opts(struct plkv_options *o)
{
	plkv_options_init(o);
	o->backend = PLKV_BACKEND_KMOD;
	o->mem_limit = 4 << 20;
}

/* The traced client's work: every path that enters the gate. */
static int client(const char *name)
{
	struct plkv_options o;
	char k[16], v[64];
	struct plkv_meta m;
	plkv_t *kv;
	int i;

	open_opts(&o);
	o.flags = 0;
	if (plkv_open(name, &o, &kv))
		return 90;
	for (i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		if (plkv_set(kv, k, strlen(k), "value", 5, 0, 0) ||
		    plkv_get(kv, k, strlen(k), v, sizeof(v), &m))
			return 91;
	}
	plkv_incr(kv, "n", 1, 1, NULL);
	plkv_delete(kv, "k1", 2);
	return plkv_close(kv) ? 92 : 0;
}

/* PKRU's offset in the standard XSAVE layout that ptrace returns. */
static unsigned int pkru_offset(void)
{
	unsigned int a, b, c, d;

	__cpuid_count(0xd, 9, a, b, c, d);
	return b;
}

TEST(no_syscall_with_key_granted)
{
	char name[64], msg[256];
	struct plkv_options o;
	struct plkv_info info;
	unsigned char xs[16384];
	unsigned int off = pkru_offset();
	int st, granted = 0, calls = 0, nrs[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	uint32_t pkru_first = 0;
	pid_t pid, dead;
	plkv_t *kv;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	snprintf(name, sizeof(name), "st-gsys-%d", (int)getpid());
	open_opts(&o);
	ASSERT_EQ(0, plkv_open(name, &o, &kv));
	ASSERT_EQ(0, plkv_info(kv, &info));
	if (!info.protected) {
		plkv_close(kv);
		plkv_destroy(name, PLKV_BACKEND_KMOD);
		SKIP(return, "no PKU on this CPU");
	}
	ASSERT_LT(0, off);
	ASSERT_GT(sizeof(xs), off + 4);

	/* A process that dies attached: the client will recover it. */
	dead = fork();
	if (dead == 0) {
		plkv_t *d;

		o.flags = 0;
		_exit(plkv_open(name, &o, &d) ? 1 : 0);
	}
	ASSERT_EQ(dead, waitpid(dead, &st, 0));

	pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		_exit(client(name));
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFSTOPPED(st));
	ASSERT_EQ(0, ptrace(PTRACE_SETOPTIONS, pid, NULL,
			    (void *)PTRACE_O_TRACESYSGOOD));
	for (;;) {
		struct __ptrace_syscall_info si;
		struct iovec iov = { xs, sizeof(xs) };
		uint32_t pkru;

		ASSERT_EQ(0, ptrace(PTRACE_SYSCALL, pid, NULL, NULL));
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != (SIGTRAP | 0x80))
			continue;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(si),
			   &si) <= 0 || si.op != PTRACE_SYSCALL_INFO_ENTRY)
			continue;
		ASSERT_EQ(0, ptrace(PTRACE_GETREGSET, pid,
				    (void *)NT_X86_XSTATE, &iov));
		memcpy(&pkru, xs + off, sizeof(pkru));
		calls++;
		/* Access-disable bits of keys 1-15 (key 0 is everyone's). */
		if ((pkru & 0x55555554u) != 0x55555554u) {
			if (!granted)
				pkru_first = pkru;
			if (granted < 8)
				nrs[granted] = (int)si.entry.nr;
			granted++;
		}
	}
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("client status %#x", st);
	TH_LOG("%d system calls traced", calls);
	EXPECT_LT(10, calls);
	EXPECT_EQ(0, granted)
		TH_LOG("%d calls with a key granted (PKRU %#x), syscalls "
		       "%d %d %d %d %d %d %d %d", granted, pkru_first,
		       nrs[0], nrs[1], nrs[2], nrs[3], nrs[4], nrs[5], nrs[6],
		       nrs[7]);
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_KMOD);
}

TEST_HARNESS_MAIN
