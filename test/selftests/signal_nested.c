// SPDX-License-Identifier: MIT
/*
 * A signal handler that calls the library while its thread is inside a
 * call.  The interrupted call is still running under the handler: the
 * handler's call must be refused (-EDEADLK), not take the running call
 * for one abandoned by a longjmp and recover it under its feet (which
 * rolled half-done operations back or forward while they went on: items
 * unlinked twice, LRU counts off, chunks both free and in use).  A call
 * abandoned by a longjmp must still be recovered by the thread's next
 * call, also from deeper down the stack.  Runs on both backends: user on
 * the host, kmod (with PKU) in the VM, where a strict store does the same.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "core.h"
#include "guard_util.h"
#include "kv_view.h"
#include "timer_util.h"

#define TLOCK 5		/* a core lock index with no structure behind it */

static plkv_t *handler_kv;
static volatile int handler_rc;
static volatile int handler_calls;

static void seg_name(char *buf, size_t cap, const char *what)
{
	snprintf(buf, cap, "st-nested-%s-%d", what, (int)getpid());
}

FIXTURE(store) {
	char name[64];
	plkv_t *kv;
};

FIXTURE_SETUP(store)
{
	struct plkv_options o;

	seg_name(self->name, sizeof(self->name), "f");
	plkv_destroy(self->name, PLKV_BACKEND_AUTO);
	plkv_options_init(&o);
	o.mem_limit = 8 << 20;
	ASSERT_EQ(0, plkv_open(self->name, &o, &self->kv));
	ASSERT_EQ(0, plkv_set(self->kv, "victim", 6, "intact", 6, 0, 0));
	handler_kv = self->kv;
}

FIXTURE_TEARDOWN(store)
{
	if (self->kv)
		plkv_close(self->kv);
	plkv_destroy(self->name, PLKV_BACKEND_AUTO);
}

static void get_victim(int sig)
{
	char buf[64];
	struct plkv_meta m;

	(void)sig;
	handler_calls++;
	handler_rc = plkv_get(handler_kv, "victim", 6, buf, sizeof(buf), &m);
}

/* Holds a lock inside a call when the signal comes, then finishes the
 * call: the lock must still be ours after the handler. */
static __attribute__((noinline)) int locked_call(plkv_t *kv, int sig)
{
	struct plkv_ctx ctx;
	uint32_t held;
	int rc = plkv_enter(kv, &ctx);

	if (rc)
		return rc;
	plkv_lock(&ctx, TLOCK);
	raise(sig);
	held = atomic_load(plkv_lockword(kv, TLOCK));
	plkv_unlock(&ctx, TLOCK);
	plkv_leave(&ctx);
	return held ? 0 : -ENOLCK;
}

/* No lock left held, the store checks, the victim reads back. */
static void expect_unlocked_intact(struct th_test __th_unused *_metadata,
				   plkv_t *kv)
{
	EXPECT_EQ(0, th_lock_word(kv, TLOCK));
	expect_intact(_metadata, kv);
}

TEST_F(store, handler_call_refused_during_call)
{
	signal(SIGUSR1, get_victim);
	handler_rc = 1;
	EXPECT_EQ(0, locked_call(self->kv, SIGUSR1))
		TH_LOG("the handler's call took the running call's lock");
	EXPECT_EQ(1, handler_calls);
	EXPECT_EQ(-EDEADLK, handler_rc);
	expect_unlocked_intact(_metadata, self->kv);
	/* and a handler that runs between calls is served */
	raise(SIGUSR1);
	EXPECT_EQ(0, handler_rc);
	signal(SIGUSR1, SIG_DFL);
}

/*
 * The same on the alternate signal stack, above a thread stack that lies
 * below it: comparing frame addresses alone would take the call for one
 * abandoned long ago.
 */
struct alt_run {
	plkv_t *kv;
	int rc;
};

static void *alt_thread(void *arg)
{
	struct alt_run *r = arg;
	stack_t ss = { .ss_size = 1 << 16 };

	ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED || sigaltstack(&ss, NULL)) {
		r->rc = -errno;
		return NULL;
	}
	r->rc = locked_call(r->kv, SIGUSR2);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	munmap(ss.ss_sp, 1 << 16);
	return NULL;
}

static char low_stack[1 << 18] __attribute__((aligned(4096)));

TEST_F(store, handler_on_altstack_refused_during_call)
{
	struct sigaction sa = { .sa_handler = get_victim,
				.sa_flags = SA_ONSTACK };
	struct alt_run r = { .kv = self->kv };
	pthread_attr_t attr;
	pthread_t th;
	void *probe;

	probe = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, probe);
	munmap(probe, 4096);
	if ((uintptr_t)probe < (uintptr_t)low_stack)
		SKIP(return, "mappings lie below the data segment here");
	sigaction(SIGUSR2, &sa, NULL);
	handler_rc = 1;
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstack(&attr, low_stack,
					   sizeof(low_stack)));
	ASSERT_EQ(0, pthread_create(&th, &attr, alt_thread, &r));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(-EDEADLK, handler_rc);
	expect_unlocked_intact(_metadata, self->kv);
	signal(SIGUSR2, SIG_DFL);
}

static sigjmp_buf jump_target;

static void jump_out(int sig)
{
	(void)sig;
	siglongjmp(jump_target, 1);
}

/* A caller with a deep frame of its own, written through. */
static __attribute__((noinline)) int deep_get(plkv_t *kv, int levels)
{
	volatile char pad[2048];
	char buf[64];
	struct plkv_meta m;

	memset((char *)pad, 0x5a, sizeof(pad));
	if (levels)
		return deep_get(kv, levels - 1) + pad[levels];
	return plkv_get(kv, "victim", 6, buf, sizeof(buf), &m) - 0x5a * 2;
}

/* A longjmp out of a call, then the next call from a deeper frame: the
 * old call is gone and must be recovered, not refused as running. */
TEST_F(store, abandoned_call_recovered_from_deeper_frame)
{
	signal(SIGUSR1, jump_out);
	if (sigsetjmp(jump_target, 1) == 0) {
		locked_call(self->kv, SIGUSR1);
		ASSERT_TRUE(0) TH_LOG("not reached");
	}
	signal(SIGUSR1, SIG_DFL);
	EXPECT_EQ(0, deep_get(self->kv, 2));
	expect_unlocked_intact(_metadata, self->kv);
}

/*
 * Random points: a timer fires every few microseconds while the thread
 * sets and counts, and its handler reads the victim and counts a counter
 * of its own.  Each handler call either ran (between calls) or was
 * refused (inside one); at the end the store checks, every acknowledged
 * write reads back, and the handler's counter counts its successes.
 */
#define NKEYS		32
#define TARGET_REFUSED	300
#define MAX_SECONDS	4

static volatile int refused, served, handler_bad;
static volatile uint64_t handler_counted;

static volatile int on_call_stack;

static void read_and_count(int sig)
{
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	char buf[64];
	struct plkv_meta m;
	uint64_t v;
	int rc;

	(void)sig;
	if (frame - PLKV_CALL_STACKS_LO < PLKV_CALL_STACKS_SIZE)
		on_call_stack++;
	rc = plkv_get(handler_kv, "victim", 6, buf, sizeof(buf), &m);
	if (rc == -EDEADLK) {
		refused++;
		return;
	}
	if (rc || m.len != 6 || memcmp(buf, "intact", 6))
		handler_bad++;
	if (plkv_incr(handler_kv, "by-handler", 10, 1, &v))
		handler_bad++;
	else
		handler_counted++;
	served++;
}

/* deferred: the module holds signals back while a thread runs on a call
 * stack (a strict process's calls), so none is refused: all are served,
 * each once the call it arrived in has ended. */
static void handler_calls_at_random_points(struct th_test *_metadata,
					   plkv_t *kv, bool deferred)
{
	char key[32], val[64], got[64], msg[256];
	uint64_t counts[NKEYS] = { 0 }, v;
	int sets[NKEYS], i, k, bad = 0;
	unsigned seed = (unsigned)getpid();
	struct plkv_meta m;
	double deadline;

	handler_kv = kv;
	ASSERT_EQ(0, plkv_set(kv, "by-handler", 10, "0", 1, 0, 0));
	for (k = 0; k < NKEYS; k++) {
		snprintf(key, sizeof(key), "count-%d", k);
		ASSERT_EQ(0, plkv_set(kv, key, strlen(key), "0", 1, 0, 0));
		sets[k] = -1;
	}
	signal(SIGALRM, read_and_count);
	deadline = now_s() + MAX_SECONDS;
	for (i = 0; refused < TARGET_REFUSED && now_s() < deadline &&
		    !(deferred && served >= TARGET_REFUSED); i++) {
		k = i % NKEYS;
		arm_timer(1 + rand_r(&seed) % 30);
		if (i % 2) {
			snprintf(key, sizeof(key), "count-%d", k);
			if (plkv_incr(kv, key, strlen(key), 1, &v))
				bad++;
			else
				counts[k]++;
		} else {
			snprintf(key, sizeof(key), "set-%d", k);
			snprintf(val, sizeof(val), "value-%d-%s", i,
				 i % 4 ? "short" : "and-somewhat-longer");
			if (plkv_set(kv, key, strlen(key), val,
				     strlen(val), 0, 0))
				bad++;
			else
				sets[k] = i;
		}
	}
	arm_timer(0);
	signal(SIGALRM, SIG_DFL);
	printf("# %d calls; handler calls: %d served, %d refused\n", i,
	       served, refused);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, handler_bad);
	EXPECT_EQ(0, on_call_stack) TH_LOG("a handler ran on a call stack");
	if (deferred) {
		EXPECT_EQ(0, refused) TH_LOG("a handler ran inside a call");
		EXPECT_LT(10, served) TH_LOG("too few handlers ran");
	} else {
		EXPECT_LT(10, refused) TH_LOG("too few calls were interrupted");
	}
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	for (k = 0; k < NKEYS; k++) {
		snprintf(key, sizeof(key), "count-%d", k);
		ASSERT_EQ(0, plkv_get(kv, key, strlen(key), got,
				      sizeof(got) - 1, &m));
		got[m.len] = '\0';
		EXPECT_EQ(counts[k], strtoull(got, NULL, 10))
			TH_LOG("counter %d", k);
		if (sets[k] < 0)
			continue;
		snprintf(key, sizeof(key), "set-%d", k);
		snprintf(val, sizeof(val), "value-%d-%s", sets[k],
			 sets[k] % 4 ? "short" : "and-somewhat-longer");
		ASSERT_EQ(0, plkv_get(kv, key, strlen(key), got,
				      sizeof(got) - 1, &m));
		got[m.len] = '\0';
		EXPECT_STREQ(val, got) TH_LOG("key %d", k);
	}
	ASSERT_EQ(0, plkv_get(kv, "by-handler", 10, got,
			      sizeof(got) - 1, &m));
	got[m.len] = '\0';
	EXPECT_EQ(handler_counted, strtoull(got, NULL, 10));
	/* (a process whose calls run on call stacks may not enter the gate
	 * itself, as th_lock_word() does: TLOCK is the other tests') */
	if (deferred)
		expect_intact(_metadata, kv);
	else
		expect_unlocked_intact(_metadata, kv);
}

TEST_F_TIMEOUT(store, handler_calls_at_random_points, 120)
{
	handler_calls_at_random_points(_metadata, self->kv, false);
}

/* The same on a strict store, in the VM, where the process's calls run
 * on call stacks (if the module has them): no handler runs inside a
 * call, so none is refused, none is killed (a strict store kills a
 * thread whose slot is in two calls at once) and every one is served. */
TEST_TIMEOUT(strict_store_handler_calls_at_random_points, 120)
{
	struct plkv_info info;
	bool protected = false;
	char name[64];
	plkv_t *kv;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	seg_name(name, sizeof(name), "strict");
	ASSERT_EQ(0, open_victim_store(name, PLKV_O_STRICT, &kv, &protected));
	if (protected) {
		ASSERT_EQ(0, plkv_info(kv, &info));
		ASSERT_EQ(1, info.strict);
		handler_calls_at_random_points(_metadata, kv,
					       th_calls_owned());
	}
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_KMOD);
	if (!protected)
		SKIP(return, "no PKU on this CPU");
}

TEST_HARNESS_MAIN
