// SPDX-License-Identifier: MIT
/*
 * granted_calls.c - libplkv runs no code but its own inside a call.  Any
 * function it calls through the C library's symbols can be the client's:
 * a program (or LD_PRELOAD) that defines memcpy, clock_gettime or realloc
 * gets it called in place of the C library's.  Called with the key
 * granted, it hands the client the segment; called with the key dropped
 * for a moment in the middle of a call, it runs over the library's frames
 * and registers.  Every function of granted_calls.h is wrapped (ld
 * --wrap) by a stub that counts the calls made with the key granted, or
 * while a call of the thread is in progress (its recorded frame is set),
 * then jumps to the real one; a workload that
 * reaches every public call, the slow paths of the gate (a new thread, a
 * thread's exit, a dead client's recovery), slab growth and eviction must
 * leave every count at 0.  VM only: needs the module and PKU.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "guard_util.h"

/* Set once the store is protected: rdpkru faults on a CPU without PKU. */
volatile unsigned char granted_armed;

#define W(name)								\
	__asm__(".pushsection .text\n"					\
		".globl __wrap_" #name "\n"				\
		".type __wrap_" #name ", @function\n"			\
		"__wrap_" #name ":\n\t"					\
		"cmpb $0, granted_armed(%rip)\n\t"			\
		"je 1f\n\t"						\
		"push %rax\n\t"						\
		"push %rcx\n\t"						\
		"push %rdx\n\t"						\
		"xor %ecx, %ecx\n\t"					\
		"rdpkru\n\t"						\
		"test $" PLKV_STR(PLKV_PKRU_KEY_ASM) ", %eax\n\t"	\
		"jz 3f\n\t"						\
		/* denied: is a call of this thread in progress? */	\
		"mov %fs:plkv_this_thread@tpoff, %rax\n\t"		\
		"test %rax, %rax\n\t"					\
		"jz 2f\n\t"						\
		"cmpq $0, " PLKV_STR(TLS_CALL_CFA) "(%rax)\n\t"	\
		"je 2f\n"						\
		"3:\n\t"						\
		"lock incq granted_n_" #name "(%rip)\n"			\
		"2:\n\t"						\
		"pop %rdx\n\t"						\
		"pop %rcx\n\t"						\
		"pop %rax\n"						\
		"1:\n\t"						\
		"jmp __real_" #name "\n"				\
		".popsection\n"						\
		".pushsection .bss\n"					\
		".balign 8\n"						\
		"granted_n_" #name ": .quad 0\n"			\
		".popsection\n");
#define PLKV_PKRU_KEY_ASM	0xc0000000	/* key 15's AD | WD */
_Static_assert(PLKV_PKRU_KEY_ASM == PLKV_PKRU_KEY, "PLKV_PKRU_KEY_ASM");
#define TLS_CALL_CFA		24	/* nonzero while a call runs */
_Static_assert(TLS_CALL_CFA == offsetof(struct plkv_tls, call_cfa),
	       "TLS_CALL_CFA");
_Static_assert(offsetof(struct plkv_thread_state, last) == 0, "last");
#include "granted_calls.h"
#undef W

/* The counts, by name. */
#define W(name) extern unsigned long granted_n_##name;
#include "granted_calls.h"
#undef W
static const struct {
	const char *name;
	unsigned long *n;
} granted_counts[] = {
#define W(name) { #name, &granted_n_##name },
#include "granted_calls.h"
#undef W
};

FIXTURE(granted) {
	char name[64];
	plkv_t *kv;
};

FIXTURE_SETUP(granted)
{
	bool protected = false;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	snprintf(self->name, sizeof(self->name), "st-granted-%d",
		 (int)getpid());
	ASSERT_EQ(0, open_victim_store(self->name, 0, &self->kv, &protected));
	if (!protected)
		SKIP(return, "no PKU on this CPU");
	granted_armed = 1;
}

FIXTURE_TEARDOWN(granted)
{
	granted_armed = 0;
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
}

static int count_stat(void *arg, const char *name, const char *value)
{
	(void)name;
	(void)value;
	++*(int *)arg;
	return 0;
}

static int count_dump(void *arg, const struct plkv_dump_item *it)
{
	(void)it;
	++*(int *)arg;
	return 0;
}

static int count_proc(void *arg, const struct plkv_proc *p)
{
	(void)p;
	++*(int *)arg;
	return 0;
}

static void *thread_calls(void *arg)
{
	char buf[16];

	plkv_get(arg, "victim", 6, buf, sizeof(buf), NULL);
	plkv_set(arg, "thread", 6, "x", 1, 0, 0);
	return NULL;	/* its exit gives its slot back */
}

/* A store made, opened again and closed while counting: the open's gates
 * (formatting a header, checking one). */
static void made_and_reopened(struct th_test __th_unused *_metadata,
			      const char *name)
{
	char other[96];
	bool prot = false;
	plkv_t *made = NULL, *again;
	int rc;

	snprintf(other, sizeof(other), "%s-made", name);
	rc = open_victim_store(other, 0, &made, &prot);
	if (made)
		plkv_close(made);
	again = rc ? NULL : open_client(other, NULL);
	if (again)
		plkv_close(again);
	plkv_destroy(other, PLKV_BACKEND_KMOD);
	EXPECT_EQ(0, rc);
	EXPECT_TRUE(again != NULL);
}

/* Every public call, the slow paths, slab growth and eviction. */
static void exercise(struct th_test __th_unused *_metadata, const char *name, plkv_t *kv)
{
	static const char *const groups[] = { "general", "slabs", "items",
					      "settings" };
	struct plkv_mget_key keys[2] = { { .key = "victim", .klen = 6 },
					 { .key = "nothing", .klen = 7 } };
	static char big[600 << 10];
	char buf[512], val[300], key[32], msg[128];
	struct plkv_read rd = { .flags = PLKV_READ_TOUCH, .exptime = 100 };
	struct plkv_meta m;
	struct plkv_info info;
	uint64_t v, cas;
	unsigned rec;
	pthread_t th;
	int i, n = 0, st;
	pid_t pid;

	memset(val, 'v', sizeof(val));
	EXPECT_EQ(0, plkv_get(kv, "victim", 6, buf, sizeof(buf), &m));
	EXPECT_EQ(PLKV_ENOTFOUND, plkv_get(kv, "nothing", 7, buf,
					   sizeof(buf), NULL));
	EXPECT_EQ(0, plkv_peek(kv, "victim", 6, &m));
	EXPECT_EQ(0, plkv_gat(kv, "victim", 6, 0, buf, sizeof(buf), &m));
	EXPECT_EQ(0, plkv_read(kv, "victim", 6, &rd, buf, sizeof(buf), &m,
			       NULL));
	EXPECT_EQ(0, plkv_mget(kv, keys, 2, buf, sizeof(buf)));
	EXPECT_EQ(0, plkv_set(kv, "k", 1, "12", 2, 7, 0));
	EXPECT_EQ(0, plkv_incr(kv, "k", 1, 5, &v));
	EXPECT_EQ(0, plkv_decr(kv, "k", 1, 1, &v));
	EXPECT_EQ(0, plkv_append(kv, "k", 1, "0", 1));
	EXPECT_EQ(0, plkv_prepend(kv, "k", 1, "1", 1));
	EXPECT_EQ(0, plkv_get(kv, "k", 1, buf, sizeof(buf), &m));
	cas = m.cas;
	EXPECT_EQ(0, plkv_cas(kv, "k", 1, "3", 1, 0, 0, cas));
	EXPECT_EQ(0, plkv_add(kv, "a", 1, "1", 1, 0, 0));
	EXPECT_EQ(0, plkv_replace(kv, "a", 1, "2", 1, 0, 0));
	EXPECT_EQ(0, plkv_touch(kv, "a", 1, 1000));
	EXPECT_EQ(0, plkv_delete(kv, "a", 1));
	/* enough to open new slab pages and then to evict */
	for (i = 0; i < 30000; i++) {
		snprintf(key, sizeof(key), "fill-%d", i);
		EXPECT_EQ(0, plkv_set(kv, key, strlen(key), val,
				      sizeof(val) - (size_t)(i % 200), 0, 0));
	}
	/* a value over a chunk's size, in pieces, copied in large runs */
	EXPECT_EQ(0, plkv_set(kv, "big", 3, big, sizeof(big), 0, 0));
	EXPECT_EQ(0, plkv_get(kv, "big", 3, big, sizeof(big), &m));
	EXPECT_EQ(sizeof(big), m.len);
	EXPECT_EQ(0, plkv_set(kv, "victim", 6, "intact", 6, 0, 0));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, plkv_stats(kv, groups[i], count_stat, &n));
	EXPECT_EQ(0, plkv_stat_u64(kv, "curr_items", &v));
	EXPECT_EQ(0, plkv_stats_reset(kv));
	EXPECT_LE(0, plkv_maintain(kv, 100));
	EXPECT_EQ(0, plkv_info(kv, &info));
	EXPECT_EQ(0, plkv_procs(kv, count_proc, &n));
	EXPECT_EQ(0, plkv_dump(kv, count_dump, &n));
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	/* a thread's first call and its exit */
	ASSERT_EQ(0, pthread_create(&th, NULL, thread_calls, kv));
	ASSERT_EQ(0, pthread_join(th, NULL));
	/* a client that dies: the next call recovers it */
	pid = fork();
	if (pid == 0) {
		plkv_t *c = open_client(name, NULL);

		if (c)
			plkv_set(c, "dead", 4, "1", 1, 0, 0);
		raise(SIGKILL);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, plkv_recover(kv, &rec));
	EXPECT_EQ(0, plkv_flush_all(kv, 0));
	EXPECT_EQ(0, plkv_set(kv, "victim", 6, "intact", 6, 0, 0));
	made_and_reopened(_metadata, name);
}

/* The counts so far, reported, then cleared: their sum. */
static unsigned long granted_total(struct th_test __th_unused *_metadata)
{
	unsigned long total = 0;
	size_t i;

	for (i = 0; i < sizeof(granted_counts) / sizeof(granted_counts[0]);
	     i++) {
		if (*granted_counts[i].n)
			TH_LOG("%s called %lu times inside a call",
			       granted_counts[i].name, *granted_counts[i].n);
		total += *granted_counts[i].n;
		*granted_counts[i].n = 0;
	}
	return total;
}

TEST_F(granted, no_outside_function_runs_inside_a_call)
{
	exercise(_metadata, self->name, self->kv);
	granted_armed = 0;
	EXPECT_EQ(0, granted_total(_metadata));
	expect_intact(_metadata, self->kv);
}

/* The same on a strict store (one call at a time on a slot, the
 * module's watch): its paths call nothing outside either. */
TEST_F(granted, strict_store_too)
{
	char name[80];
	bool protected = false;
	plkv_t *kv = NULL;

	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	granted_armed = 0;
	snprintf(name, sizeof(name), "%s-strict", self->name);
	ASSERT_EQ(0, open_victim_store(name, PLKV_O_STRICT, &kv, &protected));
	ASSERT_TRUE(protected);
	ASSERT_TRUE(th_kv(kv).strict);
	granted_armed = 1;
	exercise(_metadata, name, kv);
	granted_armed = 0;
	EXPECT_EQ(0, granted_total(_metadata));
	expect_intact(_metadata, kv);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_KMOD);
}

TEST_HARNESS_MAIN
