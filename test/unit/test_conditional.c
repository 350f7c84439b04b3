// SPDX-License-Identifier: MIT
/*
 * The conditional and combined commands, each one library call under the
 * item's lock: plkv_store() with a CAS in every mode, plkv_delete_cas(),
 * plkv_arith() (CAS compare, creation, touch, the resulting metadata),
 * plkv_gat_prev().  The threaded tests race them against plain writers:
 * a compare that were not atomic with its action would show.
 */
#include <pthread.h>

#include "ut_suite.h"

static uint64_t cas_of(const char *k)
{
	struct plkv_meta m;
	char b[64];

	ck_assert_int_eq(ut_get(kv, k, b, sizeof(b), &m), 0);
	return m.cas;
}

START_TEST(store_cas_every_mode)
{
	uint64_t c, c2;

	ck_assert_int_eq(plkv_store(kv, PLKV_SET, "k", 1, "ab", 2, 0, 0, 0,
				    &c), 0);
	/* append/prepend: mismatch EEXISTS, match stores, missing NOTSTORED */
	ck_assert_int_eq(plkv_store(kv, PLKV_APPEND, "k", 1, "X", 1, 0, 0,
				    c + 9, NULL), PLKV_EEXISTS);
	ck_get_eq(kv, "k", "ab");
	ck_assert_int_eq(plkv_store(kv, PLKV_APPEND, "k", 1, "c", 1, 0, 0, c,
				    &c2), 0);
	ck_assert_uint_eq(cas_of("k"), c2);
	ck_assert_int_eq(plkv_store(kv, PLKV_PREPEND, "k", 1, "X", 1, 0, 0, c,
				    NULL), PLKV_EEXISTS);
	ck_assert_int_eq(plkv_store(kv, PLKV_PREPEND, "k", 1, "_", 1, 0, 0,
				    c2, NULL), 0);
	ck_get_eq(kv, "k", "_abc");
	ck_assert_int_eq(plkv_store(kv, PLKV_APPEND, "none", 4, "X", 1, 0, 0,
				    c, NULL), PLKV_ENOTSTORED);
	/* set/replace with a CAS act as cas */
	c = cas_of("k");
	ck_assert_int_eq(plkv_store(kv, PLKV_SET, "k", 1, "s", 1, 0, 0, c + 9,
				    NULL), PLKV_EEXISTS);
	ck_assert_int_eq(plkv_store(kv, PLKV_REPLACE, "k", 1, "r", 1, 0, 0,
				    c + 9, NULL), PLKV_EEXISTS);
	ck_assert_int_eq(plkv_store(kv, PLKV_SET, "none", 4, "s", 1, 0, 0, c,
				    NULL), PLKV_ENOTFOUND);
	ck_assert_int_eq(plkv_store(kv, PLKV_REPLACE, "k", 1, "r", 1, 0, 0, c,
				    NULL), 0);
	ck_get_eq(kv, "k", "r");
	/* add ignores it, as memcached */
	ck_assert_int_eq(plkv_store(kv, PLKV_ADD, "new", 3, "a", 1, 0, 0, 77,
				    NULL), 0);
	ck_assert_int_eq(plkv_store(kv, PLKV_ADD, "new", 3, "a", 1, 0, 0,
				    cas_of("new"), NULL), PLKV_ENOTSTORED);
	ck_store_ok(kv);
}
END_TEST

START_TEST(delete_cas)
{
	uint64_t c;

	ck_assert_int_eq(ut_set(kv, "d", "v"), 0);
	c = cas_of("d");
	ck_assert_int_eq(plkv_delete_cas(kv, "d", 1, c + 1), PLKV_EEXISTS);
	ck_get_eq(kv, "d", "v");
	ck_assert_uint_eq(ut_stat(kv, "delete_misses"), 1);
	ck_assert_int_eq(plkv_delete_cas(kv, "d", 1, c), 0);
	ck_get_missing(kv, "d");
	ck_assert_int_eq(plkv_delete_cas(kv, "d", 1, c), PLKV_ENOTFOUND);
	ck_assert_uint_eq(ut_stat(kv, "delete_hits"), 1);
	/* 0: unconditional, as plkv_delete() */
	ck_assert_int_eq(ut_set(kv, "d", "w"), 0);
	ck_assert_int_eq(plkv_delete_cas(kv, "d", 1, 0), 0);
	ck_assert_int_eq(plkv_delete_cas(kv, "", 0, 0), PLKV_EBADKEY);
	ck_store_ok(kv);
}
END_TEST

START_TEST(arith_cas_and_meta)
{
	struct plkv_arith a = { .delta = 5 };
	struct plkv_meta m, g;
	uint64_t r = 0;
	int64_t prev = 0;
	char b[32];

	ck_assert_int_eq(plkv_set(kv, "n", 1, "10", 2, 42, 1000), 0);
	a.cas_in = cas_of("n") + 1;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, &prev),
			 PLKV_EEXISTS);
	ck_get_eq(kv, "n", "10");
	a.cas_in = cas_of("n");
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, &prev), 0);
	ck_assert_uint_eq(r, 15);
	/* the metadata is the updated item's, from the same call */
	ck_assert_int_eq(ut_get(kv, "n", b, sizeof(b), &g), 0);
	ck_assert_str_eq(b, "15");
	ck_assert_uint_eq(m.cas, g.cas);
	ck_assert_uint_ne(m.cas, a.cas_in);
	ck_assert_int_eq(m.exptime, g.exptime);
	ck_assert_int_eq(prev, g.exptime);
	ck_assert_uint_eq(m.flags, 42);
	ck_assert_uint_eq(m.len, 2);
	/* the old CAS no longer matches; a missing key is NOTFOUND */
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, NULL, NULL),
			 PLKV_EEXISTS);
	ck_assert_int_eq(plkv_arith(kv, "none", 4, &a, &r, NULL, NULL),
			 PLKV_ENOTFOUND);
	/* decr, growing and shrinking the digits (a new item): same meta */
	a.cas_in = 0;
	a.delta = 100;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, NULL), 0);
	ck_assert_uint_eq(r, 115);
	ck_assert_uint_eq(m.cas, cas_of("n"));
	ck_assert_uint_eq(m.len, 3);
	a.flags = PLKV_ARITH_DECR;
	a.delta = 110;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, NULL), 0);
	ck_assert_uint_eq(r, 5);
	ck_assert_uint_eq(m.cas, cas_of("n"));
	ck_assert_int_eq(m.exptime, g.exptime);
	ck_assert_uint_eq(m.flags, 42);
	/* non-numeric after a matching compare */
	ck_assert_int_eq(ut_set(kv, "s", "abc"), 0);
	a.cas_in = cas_of("s");
	ck_assert_int_eq(plkv_arith(kv, "s", 1, &a, &r, NULL, NULL),
			 PLKV_ENONNUMERIC);
	/* bad arguments */
	a.flags = 1u << 7;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, NULL, NULL), -EINVAL);
	ck_assert_int_eq(plkv_arith(kv, "n", 1, NULL, &r, NULL, NULL),
			 -EINVAL);
	ck_store_ok(kv);
}
END_TEST

START_TEST(arith_touch)
{
	struct plkv_arith a = { .delta = 1, .flags = PLKV_ARITH_TOUCH };
	struct plkv_meta m, g;
	int64_t prev = 0;
	uint64_t r;
	char b[32];

	ck_assert_int_eq(plkv_set(kv, "n", 1, "10", 2, 0, 100), 0);
	ck_assert_int_eq(ut_get(kv, "n", b, sizeof(b), &g), 0);
	/* same length: the new value and the exptime go together */
	a.exptime = 500;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, &prev), 0);
	ck_assert_uint_eq(r, 11);
	ck_assert_int_eq(prev, g.exptime);
	/* (the clock may tick a second between the set and the incr) */
	ck_assert_int_ge(m.exptime, g.exptime + 400);
	ck_assert_int_le(m.exptime, g.exptime + 401);
	ck_assert_int_eq(ut_get(kv, "n", b, sizeof(b), &g), 0);
	ck_assert_str_eq(b, "11");
	ck_assert_int_eq(g.exptime, m.exptime);
	ck_assert_uint_eq(g.cas, m.cas);
	/* exptime 0: never */
	a.exptime = 0;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, &prev), 0);
	ck_assert_int_eq(prev, g.exptime);
	ck_assert_int_eq(m.exptime, 0);
	/* the same exptime again: in place */
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, &m, &prev), 0);
	ck_assert_int_eq(prev, 0);
	ck_assert_int_eq(ut_get(kv, "n", b, sizeof(b), &g), 0);
	ck_assert_str_eq(b, "13");
	ck_assert_uint_eq(g.cas, m.cas);
	/* negative: expired at once */
	a.exptime = -1;
	ck_assert_int_eq(plkv_arith(kv, "n", 1, &a, &r, NULL, NULL), 0);
	ck_get_missing(kv, "n");
	ck_store_ok(kv);
}
END_TEST

START_TEST(arith_vivify)
{
	struct plkv_arith a = {
		.delta = 3, .initial = 40, .vivify_exptime = 100,
		.flags = PLKV_ARITH_VIVIFY | PLKV_ARITH_DECR,
	};
	struct plkv_meta m, g;
	int64_t prev = 0;
	uint64_t r;
	char b[32];

	/* created holding the initial value (no delta), flags 0; a CAS
	 * to compare does not stop the creation (memcached) */
	a.cas_in = 12345;
	ck_assert_int_eq(plkv_arith(kv, "v", 1, &a, &r, &m, &prev), 0);
	ck_assert_uint_eq(r, 40);
	ck_assert_int_eq(ut_get(kv, "v", b, sizeof(b), &g), 0);
	ck_assert_str_eq(b, "40");
	ck_assert_uint_eq(g.flags, 0);
	ck_assert_uint_eq(g.cas, m.cas);
	ck_assert_int_eq(g.exptime, m.exptime);
	ck_assert_int_eq(prev, m.exptime);
	ck_assert_int_gt(m.exptime, 0);
	ck_assert_uint_eq(ut_stat(kv, "curr_items"), 1);
	/* present: updated, not created again */
	a.cas_in = m.cas;
	ck_assert_int_eq(plkv_arith(kv, "v", 1, &a, &r, &m, NULL), 0);
	ck_assert_uint_eq(r, 37);
	ck_assert_int_eq(m.exptime, g.exptime);
	ck_assert_uint_eq(ut_stat(kv, "curr_items"), 1);
	/* with TOUCH the new exptime wins over vivify_exptime */
	a.flags |= PLKV_ARITH_TOUCH;
	a.exptime = 0;
	a.cas_in = 0;
	ck_assert_int_eq(plkv_arith(kv, "w", 1, &a, &r, &m, &prev), 0);
	ck_assert_int_eq(m.exptime, 0);
	ck_assert_int_gt(prev, 0);
	ck_get_eq(kv, "w", "40");
	ck_store_ok(kv);
}
END_TEST

START_TEST(gat_prev)
{
	struct plkv_meta m;
	int64_t prev = 0;
	char b[32];

	ck_assert_int_eq(plkv_set(kv, "g", 1, "val", 3, 0, 100), 0);
	ck_assert_int_eq(ut_get(kv, "g", b, sizeof(b), &m), 0);
	ck_assert_int_eq(plkv_gat_prev(kv, "g", 1, 0, b, sizeof(b), &m,
				       &prev), 0);
	ck_assert_int_gt(prev, 0);
	ck_assert_int_eq(m.exptime, 0);
	/* metadata only (no buffer): still touches */
	ck_assert_int_eq(plkv_gat_prev(kv, "g", 1, 50, NULL, 0, &m, &prev),
			 PLKV_ETOOSMALL);
	ck_assert_int_eq(prev, 0);
	ck_assert_int_gt(m.exptime, 0);
	prev = m.exptime;
	ck_assert_int_eq(ut_get(kv, "g", b, sizeof(b), &m), 0);
	ck_assert_int_eq(m.exptime, prev);
	ck_assert_int_eq(plkv_gat_prev(kv, "none", 4, 0, b, sizeof(b), &m,
				       &prev), PLKV_ENOTFOUND);
}
END_TEST

/* ---- races ---- */

#define RACE_THREADS	4
#define RACE_ITERS	2000

static void *vivify_incr(void *arg)
{
	struct plkv_arith a = { .delta = 1, .flags = PLKV_ARITH_VIVIFY };
	uint64_t r;
	int i;

	(void)arg;
	for (i = 0; i < RACE_ITERS; i++)
		ck_assert_int_eq(plkv_arith(kv, "ctr", 3, &a, &r, NULL, NULL),
				 0);
	return NULL;
}

/* Every call either creates (once, holding 0) or adds 1. */
START_TEST(vivify_exactly_once)
{
	pthread_t t[RACE_THREADS];
	char want[32];
	int i;

	for (i = 0; i < RACE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, vivify_incr,
						NULL), 0);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	snprintf(want, sizeof(want), "%d", RACE_THREADS * RACE_ITERS - 1);
	ck_get_eq(kv, "ctr", want);
	ck_store_ok(kv);
}
END_TEST

/* The setter's CAS values, and the ones compare-and-delete removed. */
static uint64_t set_cas[RACE_ITERS], del_cas[RACE_ITERS * 4];
static bool set_gone[RACE_ITERS];
static _Atomic int setter_done;
static unsigned ndel;

static void *setter(void *arg)
{
	char b[32];
	int i;

	(void)arg;
	for (i = 0; i < RACE_ITERS; i++) {
		snprintf(b, sizeof(b), "v%d", i);
		ck_assert_int_eq(plkv_store(kv, PLKV_SET, "r", 1, b, strlen(b),
					    0, 0, 0, &set_cas[i]), 0);
		/* alone in writing "r": if it is gone, a delete that
		 * compared equal to this CAS removed it */
		set_gone[i] = ut_get(kv, "r", b, sizeof(b), NULL) ==
			      PLKV_ENOTFOUND;
	}
	setter_done = 1;
	return NULL;
}

static void *deleter(void *arg)
{
	struct plkv_meta m;
	char b[32];

	(void)arg;
	while (!setter_done && ndel < RACE_ITERS * 4) {
		if (ut_get(kv, "r", b, sizeof(b), &m))
			continue;
		if (plkv_delete_cas(kv, "r", 1, m.cas) == 0)
			del_cas[ndel++] = m.cas;
	}
	return NULL;
}

START_TEST(delete_cas_races_set)
{
	pthread_t s, d;
	unsigned i, j, gone = 0;

	ck_assert_int_eq(pthread_create(&d, NULL, deleter, NULL), 0);
	ck_assert_int_eq(pthread_create(&s, NULL, setter, NULL), 0);
	pthread_join(s, NULL);
	pthread_join(d, NULL);
	for (i = 0; i < RACE_ITERS; i++) {
		bool found = false;

		if (!set_gone[i])
			continue;
		gone++;
		for (j = 0; j < ndel && !found; j++)
			found = del_cas[j] == set_cas[i];
		ck_assert_msg(found, "value %u (cas %llu) deleted by a "
			      "compare with another CAS", i,
			      (unsigned long long)set_cas[i]);
	}
	fprintf(stderr, "# %u of %d values deleted by compare, %u deletes\n",
		gone, RACE_ITERS, ndel);
	ck_store_ok(kv);
}
END_TEST

/*
 * Another thread of the client rewrites the key buffer while calls that
 * store a key use it (a hostile client can, any client may by mistake).
 * Each call must act on one version of the key: the store stays sound.
 */
static char shifty_key[24];
static volatile int shifty_stop;

static void *rewrite_key(void *arg)
{
	unsigned x = 1;
	int i;

	(void)arg;
	while (!shifty_stop) {
		for (i = 0; i < (int)sizeof(shifty_key); i++) {
			x = x * 1103515245 + 12345;
			shifty_key[i] = (char)('a' + (x >> 16) % 8);
		}
		if (x & 0x10000)
			shifty_key[(x >> 20) % sizeof(shifty_key)] = ' ';
	}
	return NULL;
}

START_TEST(key_rewritten_during_calls)
{
	struct plkv_arith inc = { .delta = 1, .flags = PLKV_ARITH_VIVIFY };
	struct plkv_read viv = { .flags = PLKV_READ_VIVIFY };
	pthread_t t;
	char b[8];
	int i;

	memset(shifty_key, 'a', sizeof(shifty_key));
	shifty_stop = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, rewrite_key, NULL), 0);
	for (i = 0; i < 100000; i++) {
		plkv_set(kv, shifty_key, sizeof(shifty_key), "v", 1, 0, 0);
		plkv_arith(kv, shifty_key, sizeof(shifty_key), &inc, NULL,
			   NULL, NULL);
		plkv_read(kv, shifty_key, sizeof(shifty_key), &viv, b,
			  sizeof(b), NULL, NULL);
		plkv_delete(kv, shifty_key, sizeof(shifty_key));
	}
	shifty_stop = 1;
	pthread_join(t, NULL);
	ck_store_ok(kv);	/* every key in the bucket it hashes to */
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		store_cas_every_mode, delete_cas, arith_cas_and_meta,
		arith_touch, arith_vivify, gat_prev, vivify_exactly_once,
		delete_cas_races_set, key_rewritten_during_calls, NULL
	};

	return ut_main("conditional", 60, ut_setup, tests);
}
