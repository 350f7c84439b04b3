// SPDX-License-Identifier: MIT
/*
 * A strict store (PLKV_O_STRICT, kmod/plkv_guard.c): code that appears
 * after open was never scanned for WRPKRU, so a client of a strict store
 * that maps executable memory, or makes memory executable, is killed; so
 * is anyone writing into a client's memory through /proc/PID/mem or
 * ptrace (both write through read-only text), and the write does not
 * happen.  A process that has stray WRPKRU/XRSTOR bytes in executable
 * memory cannot open a strict store at all.  The same things on an
 * ordinary store keep working (JITs, debuggers).  The store is intact
 * after every attack.  Needs the kmod backend, PKU and the module's guard.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>

#include "guard_util.h"

FIXTURE(strict) {
	char name[64], loose[64];
	plkv_t *kv, *loose_kv;
};

static int open_store(const char *name, unsigned flags, plkv_t **kv)
{
	struct plkv_options o;

	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL | flags;
	return plkv_open(name, &o, kv);
}

FIXTURE_SETUP(strict)
{
	struct plkv_info info;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	th_unique_name(self->name, sizeof(self->name), "strict");
	th_unique_name(self->loose, sizeof(self->loose), "loose");
	ASSERT_EQ(0, open_store(self->name, PLKV_O_STRICT, &self->kv));
	ASSERT_EQ(0, plkv_info(self->kv, &info));
	if (!info.protected)
		SKIP(return, "no PKU on this CPU");
	ASSERT_EQ(1, info.strict);
	ASSERT_EQ(0, open_store(self->loose, 0, &self->loose_kv));
	ASSERT_EQ(0, plkv_info(self->loose_kv, &info));
	ASSERT_EQ(0, info.strict);
	ASSERT_EQ(0, plkv_set(self->kv, "victim", 6, "intact", 6, 0, 0));
	ASSERT_EQ(0, plkv_set(self->loose_kv, "victim", 6, "intact", 6, 0, 0));
}

FIXTURE_TEARDOWN(strict)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
	if (self->loose_kv) {
		plkv_close(self->loose_kv);
		plkv_destroy(self->loose, PLKV_BACKEND_KMOD);
	}
}

/*
 * wrpkru; ret, written at run time: as an immediate operand (what a
 * memcpy of a string literal compiles to) the bytes would be a stray
 * WRPKRU in this program's own text.
 */
static const volatile unsigned char wrpkru_ret[] = { 0x0f, 0x01, 0xef, 0xc3 };

static void put_wrpkru(unsigned char *p)
{
	size_t i;

	for (i = 0; i < sizeof(wrpkru_ret); i++)
		p[i] = wrpkru_ret[i];
}

/* ---- code after open ---- */

static int map_exec(plkv_t *kv)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)kv;
	return p == MAP_FAILED ? 2 : 0;
}

static int mprotect_exec(plkv_t *kv)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)kv;
	if (p == MAP_FAILED)
		return 2;
	put_wrpkru(p);
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) ? 3 : 0;
}

TEST_F(strict, executable_mapping_kills)
{
	EXPECT_ATTACK_KILLED(map_exec, "");
	EXPECT_TRUE(lived(client_status(self->loose, map_exec)));
}

TEST_F(strict, mprotect_to_executable_kills)
{
	EXPECT_ATTACK_KILLED(mprotect_exec, "");
	EXPECT_TRUE(lived(client_status(self->loose, mprotect_exec)));
}

/* ---- writes through read-only text ---- */

static void __attribute__((noinline)) patched(void)
{
	__asm__ volatile("");
}

static int proc_mem_write_text(plkv_t *kv)
{
	unsigned char before = *(volatile unsigned char *)patched;
	unsigned char b = 0xcc;
	int fd = open("/proc/self/mem", O_RDWR);

	(void)kv;
	if (fd < 0)
		return 2;
	if (pwrite(fd, &b, 1, (off_t)(uintptr_t)patched) != 1)
		return 3;
	close(fd);
	/* Only an ordinary store gets here: undo, for the next call. */
	return *(volatile unsigned char *)patched == b && before != b ? 0 : 4;
}

TEST_F(strict, proc_mem_write_kills)
{
	EXPECT_ATTACK_KILLED(proc_mem_write_text, "");
	EXPECT_TRUE(lived(client_status(self->loose, proc_mem_write_text)));
}

/*
 * A parent traces its own child, a client, and pokes its text.  On a
 * strict store the tracer dies and the word is unchanged: the child,
 * resumed, reports what it finds (exit 0: unchanged, 1: patched).
 */
static int poke_child_text(const char *name, bool *poke_failed)
{
	int pfd[2], st = -1;
	pid_t tracer, victim = 0;

	*poke_failed = false;
	if (pipe(pfd))
		return -1;
	tracer = fork();
	if (tracer == 0) {
		pid_t v = fork();

		if (v == 0) {
			long before = *(volatile long *)patched;

			if (!open_client(name, NULL))
				_exit(90);
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			raise(SIGSTOP);
			_exit(*(volatile long *)patched == before ? 0 : 1);
		}
		if (write(pfd[1], &v, sizeof(v)) != sizeof(v) ||
		    waitpid(v, &st, WUNTRACED) != v || !WIFSTOPPED(st))
			_exit(91);
		if (ptrace(PTRACE_POKETEXT, v, (void *)patched,
			   (void *)~*(long *)patched))
			_exit(92);
		ptrace(PTRACE_DETACH, v, NULL, NULL);
		_exit(0);
	}
	close(pfd[1]);
	if (tracer < 0 || read(pfd[0], &victim, sizeof(victim)) != sizeof(victim))
		return -1;
	close(pfd[0]);
	if (waitpid(tracer, &st, 0) != tracer)
		return -1;
	*poke_failed = exited_with(st, 92);
	kill(victim, SIGCONT);
	return killed(st) ? 1 : 0;
}

TEST_F(strict, ptrace_poke_kills_tracer)
{
	bool poke_failed;
	int st;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	EXPECT_EQ(1, poke_child_text(self->name, &poke_failed));
	EXPECT_TRUE(waitpid(-1, &st, 0) > 0 && exited_with(st, 0))
		TH_LOG("client status %#x: its text was changed", st);
	expect_intact(_metadata, self->kv);

	/* A debugger on an ordinary store's client works. */
	EXPECT_EQ(0, poke_child_text(self->loose, &poke_failed));
	EXPECT_FALSE(poke_failed);
	EXPECT_TRUE(waitpid(-1, &st, 0) > 0 && exited_with(st, 1))
		TH_LOG("client status %#x", st);
}

/* ---- stray WRPKRU before open ---- */

/* In a child that has not opened the strict store, so it may map code. */
static int open_with_stray_wrpkru(const char *name)
{
	unsigned char *p;
	plkv_t *kv;
	int rc;

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	put_wrpkru(p);
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC))
		return 3;
	kv = open_client(name, &rc);
	if (rc == PLKV_EWRPKRU)
		return 10;
	if (rc)
		return 4;
	plkv_close(kv);
	return 0;
}

TEST_F(strict, stray_wrpkru_refuses_open)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(open_with_stray_wrpkru(self->name));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(exited_with(st, 10)) TH_LOG("status %#x", st);
	/* An ordinary store only reports it (plkvctl procs). */
	pid = fork();
	if (pid == 0)
		_exit(open_with_stray_wrpkru(self->loose));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(exited_with(st, 0)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

TEST_HARNESS_MAIN
