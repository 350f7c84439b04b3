// SPDX-License-Identifier: MIT
/*
 * The module's guard (kmod/plkv_guard.c): a client process, hostile and
 * using no WRPKRU of its own, tries the system calls that reach around a
 * sealed key: it frees the key to have it handed back unprotected, points
 * set_tid_address, rseq or sigaltstack into the segment so the kernel
 * writes there with the key granted, or, as a tracer, sets a client's
 * PKRU through ptrace.  Each attacker is killed (SIGKILL) before its call
 * returns, and the store is intact afterwards: a victim's value, and
 * plkv_check().  The same calls on other memory or keys work as usual.
 * Needs the kmod backend, PKU and a module with the guard: SKIPs elsewhere.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "core.h"

FIXTURE(guard) {
	char name[64];
	plkv_t *kv;
};

static bool guard_on(void)
{
	struct plkv_version v;
	int fd = open(PLKV_DEVICE, O_RDWR | O_CLOEXEC);
	bool on;

	if (fd < 0)
		return false;
	memset(&v, 0, sizeof(v));
	on = !ioctl(fd, PLKV_IOC_VERSION, &v) &&
	     (v.flags & PLKV_VERSION_F_GUARD);
	close(fd);
	return on;
}

FIXTURE_SETUP(guard)
{
	struct plkv_options o;
	struct plkv_info info;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	snprintf(self->name, sizeof(self->name), "st-guard-%d", (int)getpid());
	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	ASSERT_EQ(0, plkv_open(self->name, &o, &self->kv));
	ASSERT_EQ(0, plkv_info(self->kv, &info));
	if (!info.protected)
		SKIP(return, "no PKU on this CPU");
	ASSERT_EQ(0, plkv_set(self->kv, "victim", 6, "intact", 6, 0, 0));
}

FIXTURE_TEARDOWN(guard)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
}

static void expect_intact(struct th_test __th_unused *_metadata, plkv_t *kv)
{
	char buf[16], msg[256];
	struct plkv_meta m;

	ASSERT_EQ(0, plkv_get(kv, "victim", 6, buf, sizeof(buf), &m));
	EXPECT_EQ(6, m.len);
	EXPECT_EQ(0, memcmp(buf, "intact", 6));
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
}

/* A client of its own: opens the store, runs fn, exits 0 if it lives. */
static int client_status(const char *name, int (*fn)(plkv_t *kv))
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0) {
		struct plkv_options o;
		plkv_t *kv;

		plkv_options_init(&o);
		o.backend = PLKV_BACKEND_KMOD;
		o.flags = 0;
		if (plkv_open(name, &o, &kv))
			_exit(90);
		_exit(fn(kv));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static bool killed(int st)
{
	return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static bool lived(int st)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- the attacks ---- */

static int free_sealed_key(plkv_t *kv)
{
	syscall(SYS_pkey_free, kv->pkey);
	/* Had that worked, this would hand the key back, access allowed. */
	return syscall(SYS_pkey_alloc, 0, 0) == kv->pkey ? 1 : 2;
}

static int tid_address_in_segment(plkv_t *kv)
{
	syscall(SYS_set_tid_address, kv->base + 4096);
	return 1;
}

static int rseq_in_segment(plkv_t *kv)
{
	syscall(SYS_rseq, kv->base + 8192, 32, 0, 0x53053053);
	return 1;
}

static int altstack_in_segment(plkv_t *kv)
{
	stack_t ss = { .ss_sp = kv->base + 65536, .ss_size = 65536 };

	sigaltstack(&ss, NULL);
	return 1;
}

/* ---- the same calls elsewhere: nobody is killed ---- */

static int ordinary_calls(plkv_t *kv)
{
	static char stack[65536];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof(stack) };
	static int tid_word;
	int k = (int)syscall(SYS_pkey_alloc, 0, 0);

	if (k < 0 || k == kv->pkey || syscall(SYS_pkey_free, k))
		return 3;
	if (sigaltstack(&ss, NULL))
		return 4;
	syscall(SYS_set_tid_address, &tid_word);
	return plkv_set(kv, "other", 5, "fine", 4, 0, 0) ? 5 : 0;
}

TEST_F(guard, pkey_free_of_sealed_key_kills)
{
	EXPECT_TRUE(killed(client_status(self->name, free_sealed_key)));
	expect_intact(_metadata, self->kv);
}

TEST_F(guard, set_tid_address_into_segment_kills)
{
	EXPECT_TRUE(killed(client_status(self->name, tid_address_in_segment)));
	expect_intact(_metadata, self->kv);
}

TEST_F(guard, rseq_into_segment_kills)
{
	EXPECT_TRUE(killed(client_status(self->name, rseq_in_segment)));
	expect_intact(_metadata, self->kv);
}

TEST_F(guard, sigaltstack_in_segment_kills)
{
	EXPECT_TRUE(killed(client_status(self->name, altstack_in_segment)));
	expect_intact(_metadata, self->kv);
}

TEST_F(guard, same_calls_elsewhere_work)
{
	EXPECT_TRUE(lived(client_status(self->name, ordinary_calls)));
	expect_intact(_metadata, self->kv);
}

/* A tracer sets a traced client's XSTATE (PKRU among it): it dies. */
TEST_F(guard, ptrace_setting_pkru_kills_tracer)
{
	int pfd[2], st = -1;
	pid_t tracer, victim = 0;

	ASSERT_EQ(0, pipe(pfd));
	tracer = fork();
	if (tracer == 0) {
		unsigned char xs[8192];
		struct iovec iov = { xs, sizeof(xs) };
		pid_t v = fork();

		if (v == 0) {
			struct plkv_options o;
			plkv_t *kv;

			plkv_options_init(&o);
			o.backend = PLKV_BACKEND_KMOD;
			o.flags = 0;
			if (plkv_open(self->name, &o, &kv))
				_exit(90);
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			raise(SIGSTOP);
			pause();
			_exit(0);
		}
		if (write(pfd[1], &v, sizeof(v)) != sizeof(v) ||
		    waitpid(v, &st, WUNTRACED) != v || !WIFSTOPPED(st))
			_exit(91);
		if (ptrace(PTRACE_GETREGSET, v, (void *)NT_X86_XSTATE, &iov))
			_exit(92);	/* reading is allowed */
		ptrace(PTRACE_SETREGSET, v, (void *)NT_X86_XSTATE, &iov);
		_exit(0);
	}
	close(pfd[1]);
	ASSERT_LT(0, tracer);
	ASSERT_EQ(sizeof(victim), read(pfd[0], &victim, sizeof(victim)));
	close(pfd[0]);
	ASSERT_EQ(tracer, waitpid(tracer, &st, 0));
	EXPECT_TRUE(killed(st)) TH_LOG("tracer status %#x", st);
	if (victim > 0)
		kill(victim, SIGKILL);
	expect_intact(_metadata, self->kv);
}

TEST_HARNESS_MAIN
