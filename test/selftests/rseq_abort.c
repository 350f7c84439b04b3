// SPDX-License-Identifier: MIT
/*
 * rseq_abort.c - the kernel moving a thread that is inside a call
 * (Documentation/protection.rst, class 5).  A thread's rseq area is its
 * own memory (glibc registers one per thread), and so is the critical
 * section descriptor it points to: a client that declares the library's
 * whole code one critical section, with an abort handler of its own, has
 * the kernel move a thread preempted or signalled inside a call to that
 * handler, key granted.  The module kills it instead.  Tried on an
 * ordinary store (a timer signal interrupts the calls) and on a strict one
 * (signals wait there: a thread on the same CPU preempts the calls).
 * After each, the victim's value is intact and plkv_check() clean.  VM
 * only: needs the module (with its guard) and PKU.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/time.h>

#include "guard_util.h"

#ifndef RSEQ_SIG
#define RSEQ_SIG 0x53053053
#endif

static char *volatile store_base;	/* the attacker's target */

/* The abort handler: preceded by the signature the kernel checks.  With
 * the key granted it writes into the store and exits 42; else 43. */
__attribute__((used, noreturn)) static void aborted(void)
{
	if (!(plkv_rdpkru() & PLKV_PKRU_KEY)) {
		store_base[4096] = 0x42;
		syscall(SYS_exit_group, 42);
	}
	syscall(SYS_exit_group, 43);
	__builtin_unreachable();
}

__asm__(".text\n"
	".long " PLKV_STR(RSEQ_SIG) "\n"
	"abort_entry:\n\t"
	"and $-16, %rsp\n\t"
	"call aborted\n");
extern const char abort_entry[];

/* The library's code from plkv_get()'s body on (not this program's own,
 * which would be moved to the handler between calls) */
extern const char plkv_get__impl[];
#define LIBRARY_CODE	(64 << 10)

static struct rseq_cs library_text = {
	.version = 0,
	.flags = 0,
	.post_commit_offset = LIBRARY_CODE,
};

static volatile struct rseq *my_rseq(void)
{
	return (volatile struct rseq *)((char *)__builtin_thread_pointer() +
					__rseq_offset);
}

static atomic_int stop_spinning;

static void *spin_here(void *arg)
{
	cpu_set_t *cpu = arg;

	sched_setaffinity(0, sizeof(*cpu), cpu);
	while (!atomic_load(&stop_spinning))
		;
	return NULL;
}

static void tick(int sig)
{
	(void)sig;
}

/* 10 s of gets inside the critical section: 0 if the handler never ran,
 * 42 or 43 from it (killed, with the guard). */
static int redirect_calls(plkv_t *kv)
{
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	char buf[16];
	cpu_set_t cpu;
	pthread_t t;
	time_t end;

	store_base = th_kv(kv).base;
	library_text.start_ip = (uint64_t)(uintptr_t)plkv_get__impl;
	library_text.abort_ip = (uint64_t)(uintptr_t)abort_entry;
	if (library_text.abort_ip - library_text.start_ip < LIBRARY_CODE)
		return 5;	/* the kernel would refuse the section */
	/* preemption inside a call: a spinning thread on the same CPU */
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	sched_setaffinity(0, sizeof(cpu), &cpu);
	if (pthread_create(&t, NULL, spin_here, &cpu))
		return 3;
	/* and signals, where they are delivered inside calls */
	signal(SIGALRM, tick);
	setitimer(ITIMER_REAL, &it, NULL);
	for (end = time(NULL) + 10; time(NULL) < end;) {
		my_rseq()->rseq_cs = (uint64_t)(uintptr_t)&library_text;
		plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL);
		my_rseq()->rseq_cs = 0;
	}
	atomic_store(&stop_spinning, 1);
	return 0;
}

static void abort_into_the_client(struct th_test *_metadata,
				  unsigned int flags)
{
	bool protected = false;
	char name[64];
	plkv_t *kv;
	int st;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	if (__rseq_size == 0)
		SKIP(return, "the C library registered no rseq area");
	th_unique_name(name, sizeof(name), "rseq");
	ASSERT_EQ(0, open_victim_store(name, flags, &kv, &protected));
	if (protected) {
		st = client_status(name, redirect_calls);
		EXPECT_FALSE(exited_with(st, 42)) TH_LOG("the handler had the key");
		EXPECT_TRUE(killed(st)) TH_LOG("status %#x", st);
		expect_intact(_metadata, kv);
	}
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_KMOD);
	if (!protected)
		SKIP(return, "no PKU on this CPU");
}

TEST_TIMEOUT(ordinary_store_abort_inside_a_call_kills, 60)
{
	abort_into_the_client(_metadata, 0);
}

TEST_TIMEOUT(strict_store_abort_inside_a_call_kills, 60)
{
	abort_into_the_client(_metadata, PLKV_O_STRICT);
}

TEST_HARNESS_MAIN
