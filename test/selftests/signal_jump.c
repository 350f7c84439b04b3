// SPDX-License-Identifier: MIT
/*
 * Calls abandoned at random instructions: a one-shot timer, re-armed with
 * a random delay of a few microseconds before each call, fires SIGALRM
 * and the handler siglongjmps out of whatever is running, often a set or
 * an incr half way.  After each jump: the key holds its old or its new
 * value (an incr counted once or not at all), never a mix; with PKU the
 * segment is denied again (the kernel runs a handler with the default
 * PKRU, and the longjmp skips sigreturn); and the next call recovers the
 * abandoned one.  At the end plkv_check() passes and every acknowledged
 * write reads back.  The crash sweep abandons calls at every crash point
 * deterministically; this test hits the instructions between them.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core.h"
#include "timer_util.h"

#define NKEYS		64
#define TARGET_JUMPS	1500	/* jumps that landed inside a call */
#define MAX_SECONDS	4

static sigjmp_buf jump_target;
static volatile sig_atomic_t in_call;

static void jump_out(int sig)
{
	(void)sig;
	siglongjmp(jump_target, 1);
}

static unsigned pkru_read(void)
{
	unsigned eax, edx;

	/* RDPKRU: only where the CPU has PKU (the store is protected). */
	__asm__ volatile(".byte 0x0f, 0x01, 0xee"
			 : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

/* Acknowledged state: the value index last set per key, the count per
 * counter (-1: never set). */
static int acked_set[NKEYS];
static uint64_t acked_count[NKEYS];

static void set_key(char *k, size_t cap, int i)
{
	snprintf(k, cap, "sj-%d", i);
}

static void count_key(char *k, size_t cap, int i)
{
	snprintf(k, cap, "sj-count-%d", i);
}

static void value_of(char *v, size_t cap, int n)
{
	snprintf(v, cap, "value-%08d-%s", n, n % 2 ? "odd" : "even-and-longer");
}

/* Does @k hold what was acknowledged, or @n (the abandoned write)?  When
 * it holds @n, that becomes the acknowledged value. */
static int set_settled(plkv_t *kv, int k, int n)
{
	char key[32], got[64], want[64];
	struct plkv_meta m;
	int rc;

	set_key(key, sizeof(key), k);
	rc = plkv_get(kv, key, strlen(key), got, sizeof(got) - 1, &m);
	if (rc)		/* fine only if it was never set */
		return acked_set[k] < 0 && rc == PLKV_ENOTFOUND;
	got[m.len] = '\0';
	value_of(want, sizeof(want), n);
	if (!strcmp(got, want)) {
		acked_set[k] = n;
		return 1;
	}
	value_of(want, sizeof(want), acked_set[k]);
	return acked_set[k] >= 0 && !strcmp(got, want);
}

/* Does counter @k hold its acknowledged count, or (@abandoned) one
 * more, from an incr that completed before the jump? */
static int count_settled(plkv_t *kv, int k, int abandoned)
{
	char key[32], got[32];
	struct plkv_meta m;
	uint64_t v;

	count_key(key, sizeof(key), k);
	if (plkv_get(kv, key, strlen(key), got, sizeof(got) - 1, &m))
		return 0;
	got[m.len] = '\0';
	v = strtoull(got, NULL, 10);
	if (v != acked_count[k] && (!abandoned || v != acked_count[k] + 1))
		return 0;
	acked_count[k] = v;
	return 1;
}

TEST_TIMEOUT(calls_abandoned_at_random_points, 120)
{
	static volatile int iter, jumps, jumps_in_call, bad, pku_open;
	struct plkv_options o;
	struct plkv_info info;
	char name[64], key[32], val[64], msg[256];
	static unsigned seed;
	double deadline;
	plkv_t *kv;
	uint64_t v;
	int k, n;

	snprintf(name, sizeof(name), "st-sigjump-%d", (int)getpid());
	plkv_destroy(name, PLKV_BACKEND_AUTO);
	plkv_options_init(&o);
	o.mem_limit = 8 << 20;
	ASSERT_EQ(0, plkv_open(name, &o, &kv));
	ASSERT_EQ(0, plkv_info(kv, &info));
	seed = (unsigned)getpid();
	for (k = 0; k < NKEYS; k++) {
		acked_set[k] = -1;
		count_key(key, sizeof(key), k);
		ASSERT_EQ(0, plkv_set(kv, key, strlen(key), "0", 1, 0, 0));
	}
	signal(SIGALRM, jump_out);
	deadline = now_s() + MAX_SECONDS;

	for (iter = 0; jumps_in_call < TARGET_JUMPS && now_s() < deadline;
	     iter++) {
		k = iter % NKEYS;
		n = iter;
		if (sigsetjmp(jump_target, 1)) {
			/* The one-shot timer has fired: no more signals
			 * until it is armed again. */
			jumps++;
			jumps_in_call += in_call;
			in_call = 0;
			if (info.protected &&
			    !(pkru_read() >> (2 * info.pkey) & 1))
				pku_open++;
			if (n % 2 ? !count_settled(kv, k, 1) :
			    !set_settled(kv, k, n)) {
				printf("# key %d wrong after a jump at iteration %d\n",
				       k, n);
				bad++;
			}
			continue;
		}
		if (n % 2) {
			count_key(key, sizeof(key), k);
			arm_timer(1 + rand_r(&seed) % 40);
			in_call = 1;
			if (plkv_incr(kv, key, strlen(key), 1, &v) == 0)
				acked_count[k] = v;
			in_call = 0;
		} else {
			set_key(key, sizeof(key), k);
			value_of(val, sizeof(val), n);
			arm_timer(1 + rand_r(&seed) % 40);
			in_call = 1;
			if (plkv_set(kv, key, strlen(key), val, strlen(val), 0,
				     0) == 0)
				acked_set[k] = n;
			in_call = 0;
		}
	}
	arm_timer(0);
	signal(SIGALRM, SIG_DFL);

	printf("# %d calls, %d jumps, %d of them out of a call\n", iter, jumps,
	       jumps_in_call);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, pku_open) TH_LOG("segment left open after a jump");
	EXPECT_LT(100, jumps_in_call) TH_LOG("too few calls were interrupted");
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	for (k = 0; k < NKEYS; k++) {
		EXPECT_TRUE(count_settled(kv, k, 0)) TH_LOG("counter %d", k);
		if (acked_set[k] >= 0)
			EXPECT_TRUE(set_settled(kv, k, acked_set[k]))
				TH_LOG("key %d", k);
	}
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
