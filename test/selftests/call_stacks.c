// SPDX-License-Identifier: MIT
/*
 * call_stacks.c - a process that opened a strict store runs every call on
 * one of its trust region's call stacks (lib/calls.S), where nothing of
 * the client can reach the call's frames (Documentation/protection.rst,
 * "The stack").  As a hostile client:
 *
 *  - a second thread reads and writes the call stacks while the first
 *    thread's calls run there: every access faults (SEGV_PKUERR);
 *  - a second thread writes over the first thread's own stack, below
 *    where its caller's frames end, while its calls run: where the
 *    library's frames would lie without call stacks.  Every call still
 *    returns what was stored;
 *  - a perf event that samples the process's registers or stack, which
 *    would read a call's token out of r15 and its frames: opening one
 *    kills, and one opened before refuses the strict open;
 *  - a call made with the stack pointer on a call stack (as if already
 *    inside one) dies, and a jump to any WRPKRU of the gate with the
 *    stack pointer there is killed: a grant on a call stack needs its
 *    claim's token in r15, which no other thread can know.
 *
 * After each, the victim's value is intact and plkv_check() clean.  VM
 * only: needs the module (with call stacks and its guard) and PKU.
 */
#include <errno.h>
#include <pthread.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard_util.h"
#include "fault_util.h"
#include "gate_jump.h"

FIXTURE(owned) {
	char name[64];
	plkv_t *kv;
};

FIXTURE_SETUP(owned)
{
	bool protected = false;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	th_unique_name(self->name, sizeof(self->name), "owned");
	ASSERT_EQ(0, open_victim_store(self->name, PLKV_O_STRICT, &self->kv,
				       &protected));
	if (!protected)
		SKIP(return, "no PKU on this CPU");
	if (!th_calls_owned())
		SKIP(return, "the module has no call stacks");
}

FIXTURE_TEARDOWN(owned)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
}

#define NKEYS	64
#define ROUNDS	4000
/* The sprayer writes below the calling thread's frames: from 256 bytes
 * under its loop's stack pointer (the stub's pushes and a call's return
 * address and stack argument stay above) down 4 KiB, where the library's
 * own frames would lie without call stacks. */
#define SPRAY_GAP	256
#define SPRAY_SIZE	4096

static char keys[NKEYS][16], vals[NKEYS][48];
static atomic_int caller_done;

static volatile char *volatile spray_top;	/* see the sprayer below */

/*
 * Sets and reads back every key, ROUNDS times: 0 when each read found
 * what was set, else 10 + the first failing step.  With spray, first
 * tells the sprayer where its own frame ends.
 */
static __attribute__((noinline)) int set_and_read(plkv_t *kv, bool spray)
{
	struct plkv_meta m;
	char got[64];
	uintptr_t sp;
	int r, k;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	if (spray)
		spray_top = (volatile char *)(sp - SPRAY_GAP);
	for (r = 0; r < ROUNDS; r++) {
		k = r % NKEYS;
		if (plkv_set(kv, keys[k], strlen(keys[k]), vals[k],
			     strlen(vals[k]), 0, 0))
			return 10;
		if (plkv_get(kv, keys[k], strlen(keys[k]), got, sizeof(got),
			     &m))
			return 11;
		if (m.len != strlen(vals[k]) || memcmp(got, vals[k], m.len))
			return 12;
	}
	return 0;
}

static void keys_init(void)
{
	int k;

	for (k = 0; k < NKEYS; k++) {
		snprintf(keys[k], sizeof(keys[k]), "key-%d", k);
		snprintf(vals[k], sizeof(vals[k]), "value-%d-%s", k,
			 k % 3 ? "short" : "and-somewhat-longer");
	}
}

/* ---- the call stacks: out of every other thread's reach ---- */

static void *calls_thread(void *arg)
{
	intptr_t rc = set_and_read(arg, false);

	atomic_store(&caller_done, 1);
	return (void *)rc;
}

static void write_word(volatile char *p)
{
	*(volatile uint64_t *)p = 0;
}

static void read_word(volatile char *p)
{
	(void)*(volatile uint64_t *)p;
}

static int probe_call_stacks(plkv_t *kv)
{
	uintptr_t off;
	pthread_t t;
	void *res;
	int probes = 0;

	keys_init();
	catch_segv();
	if (pthread_create(&t, NULL, calls_thread, kv))
		return 3;
	while (!atomic_load(&caller_done)) {
		/* each stack's header, and a word deep in each one */
		off = (uintptr_t)(probes % (2 * PLKV_CALL_STACKS)) *
		      (PLKV_CALL_STACK_SIZE / 2);
		if (fault_of(write_word, (volatile char *)
			     (PLKV_CALL_STACKS_LO + off)) != SEGV_PKUERR)
			return 5;
		if (fault_of(read_word, (volatile char *)
			     (PLKV_CALL_STACKS_LO + off + 64)) != SEGV_PKUERR)
			return 6;
		probes++;
	}
	if (pthread_join(t, &res))
		return 7;
	return res ? (int)(intptr_t)res : probes ? 0 : 8;
}

TEST_F(owned, call_stacks_fault_for_other_threads)
{
	int st = client_status(self->name, probe_call_stacks);

	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- the caller's stack written over while its calls run ---- */

static uint64_t spray_word;	/* a pointer into the store */

static void *sprayer(void *arg)
{
	volatile uint64_t *w;

	(void)arg;
	while (!spray_top)
		;
	while (!atomic_load(&caller_done))
		for (w = (volatile uint64_t *)(spray_top - SPRAY_SIZE);
		     w < (volatile uint64_t *)spray_top; w++)
			*w = spray_word;
	return NULL;
}

static int spray_the_callers_stack(plkv_t *kv)
{
	pthread_t t;
	int rc;

	keys_init();
	/* warm: the thread's record is made (C library code, deep) now */
	if (set_and_read(kv, false))
		return 4;
	spray_word = (uint64_t)(uintptr_t)(th_kv(kv).base + 4096);
	if (pthread_create(&t, NULL, sprayer, NULL))
		return 3;
	rc = set_and_read(kv, true);
	atomic_store(&caller_done, 1);
	pthread_join(t, NULL);
	return rc;
}

TEST_F(owned, callers_stack_written_over_meanwhile)
{
	int st = client_status(self->name, spray_the_callers_stack);

	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- perf samples of a call's registers and stack ---- */

/* A software clock event on this thread, sampling with sample_type: its
 * fd, or -errno. */
static int perf_open(uint64_t sample_type)
{
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_period = 100000;
	a.sample_type = PERF_SAMPLE_IP | sample_type;
	if (sample_type & PERF_SAMPLE_REGS_USER)
		a.sample_regs_user = 1ULL << 23;	/* PERF_REG_X86_R15 */
	if (sample_type & PERF_SAMPLE_STACK_USER)
		a.sample_stack_user = 4096;
	a.exclude_kernel = 1;
	fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	return fd < 0 ? -errno : (int)fd;
}

/* 3: perf is not open to this process; 0: the plain event lived; 4: the
 * sampling one was refused with an error, not killed */
static int perf_sample(uint64_t sample_type)
{
	int fd = perf_open(0);

	if (fd < 0)
		return 3;
	close(fd);
	fd = perf_open(sample_type);
	return fd == -EPERM || fd == -EACCES ? 3 : fd < 0 ? 4 : 0;
}

static int perf_regs(plkv_t *kv)
{
	(void)kv;
	return perf_sample(PERF_SAMPLE_REGS_USER);
}

static int perf_stack(plkv_t *kv)
{
	(void)kv;
	return perf_sample(PERF_SAMPLE_STACK_USER);
}

static int perf_counting(plkv_t *kv)
{
	int fd = perf_open(0);

	(void)kv;
	if (fd < 0)
		return 3;
	close(fd);
	return 0;
}

TEST_F(owned, perf_sampling_a_call_kills)
{
	int st = client_status(self->name, perf_counting);

	if (exited_with(st, 3))
		SKIP(return, "perf_event_open is not open to this process");
	EXPECT_TRUE(lived(st)) TH_LOG("a counting event: status %#x", st);
	st = client_status(self->name, perf_regs);
	EXPECT_TRUE(killed(st)) TH_LOG("sampling registers: status %#x", st);
	st = client_status(self->name, perf_stack);
	EXPECT_TRUE(killed(st)) TH_LOG("sampling the stack: status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* 3: no perf; 10: the strict open refused with EPERM; 0: it opened */
static int perf_then_open(const char *name)
{
	int rc, fd = perf_open(PERF_SAMPLE_REGS_USER);
	plkv_t *kv;

	if (fd < 0)
		return 3;
	kv = open_client(name, &rc);
	if (kv)
		plkv_close(kv);
	close(fd);
	return rc == -EPERM ? 10 : rc ? 4 : 0;
}

TEST_F(owned, perf_sampling_before_the_open_refuses_it)
{
	int st = CHILD_STATUS(perf_then_open(self->name));

	if (exited_with(st, 3))
		SKIP(return, "perf_event_open is not open to this process");
	EXPECT_TRUE(exited_with(st, 10)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- a call that claims to be inside one already ---- */

static int call_with_sp_on_a_call_stack(plkv_t *kv)
{
	char buf[16];
	register plkv_t *k __asm__("rdi") = kv;
	register const char *key __asm__("rsi") = "victim";
	register size_t klen __asm__("rdx") = 6;
	register char *b __asm__("rcx") = buf;
	register size_t cap __asm__("r8") = sizeof(buf);
	register void *meta __asm__("r9") = NULL;

	/* the stub goes straight to the call's body, which grants on a
	 * stack it has not claimed, with no token in r15 */
	__asm__ volatile("mov %%rsp, %%rbx\n\t"
			 "movabs %[sp], %%rsp\n\t"
			 "call plkv_get\n\t"
			 "mov %%rbx, %%rsp"
			 : "+r"(k), "+r"(key), "+r"(klen), "+r"(b), "+r"(cap),
			   "+r"(meta)
			 : [sp] "i"(PLKV_CALL_STACKS_LO +
				    PLKV_CALL_STACK_SIZE / 2)
			 : "rax", "rbx", "r10", "r11", "memory", "cc");
	return 0;	/* lived */
}

TEST_F(owned, call_with_the_stack_on_a_call_stack_dies)
{
	int st = client_status(self->name, call_with_sp_on_a_call_stack);

	EXPECT_TRUE(WIFSIGNALED(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* The middle of the first call stack: where another thread's call could
 * be running. */
#define ON_A_CALL_STACK \
	((uint64_t *)(PLKV_CALL_STACKS_LO + PLKV_CALL_STACK_SIZE / 2))

static const unsigned char *attacked_site;

static int jump_on_a_call_stack(plkv_t *kv)
{
	probe_addr = th_kv(kv).base + 4096;
	alarm(10);
	jump_granting(attacked_site, 0, ON_A_CALL_STACK);
}

TEST_F(owned, every_wrpkru_on_a_call_stack_kills)
{
	const unsigned char *p;
	int sites = 0, st;

	ASSERT_TRUE(__start_plkv_gate && __stop_plkv_gate);
	for (p = __start_plkv_gate; p + 3 <= __stop_plkv_gate; p++) {
		if (p[0] != 0x0f || p[1] != 0x01 || p[2] != 0xef)
			continue;
		sites++;
		attacked_site = p;
		st = client_status(self->name, jump_on_a_call_stack);
		EXPECT_TRUE(killed(st))
			TH_LOG("WRPKRU at %p on a call stack: status %#x",
			       (void *)p, st);
	}
	TH_LOG("%d WRPKRU sites", sites);
	EXPECT_LT(0, sites);
	expect_intact(_metadata, self->kv);
}

TEST_HARNESS_MAIN
