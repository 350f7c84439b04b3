// SPDX-License-Identifier: MIT
/*
 * memcached's stale items and win tokens (anti-dogpiling) in the engine:
 * plkv_delete_ex() with PLKV_DEL_INVALIDATE marks an item stale and keeps
 * its value; plkv_read() with PLKV_READ_WIN hands the first reader of a
 * stale item (or, with RECACHE, of one about to expire; with VIVIFY, the
 * creator) a win, later readers see PLKV_TOKEN_SENT; stores clear it.
 * The store passes plkv_check() after each step.
 */
#include <pthread.h>

#include "ut_suite.h"

/* An mg-style read (no value): its token bits. */
static uint32_t mg(const char *k, uint32_t flags, int64_t arg)
{
	struct plkv_read r = { .flags = PLKV_READ_WIN | flags,
			       .recache = arg, .vivify_exptime = arg };
	struct plkv_meta m;
	int rc;

	memset(&m, 0xa5, sizeof(m));
	rc = plkv_read(kv, k, strlen(k), &r, NULL, 0, &m, NULL);
	ck_assert_msg(rc == 0 || rc == PLKV_ETOOSMALL, "read %s: %d", k, rc);
	ck_store_ok(kv);
	return m.token;
}

static void invalidate(const char *k, unsigned flags, int64_t exptime)
{
	ck_assert_int_eq(plkv_delete_ex(kv, k, strlen(k), 0,
					PLKV_DEL_INVALIDATE | flags, exptime),
			 0);
	ck_store_ok(kv);
}

#define WIN	PLKV_TOKEN_WIN
#define SENT	PLKV_TOKEN_SENT
#define STALE	PLKV_TOKEN_STALE

START_TEST(invalidate_keeps_the_value)
{
	struct plkv_meta m0, m1;
	char buf[16];

	ut_set(kv, "k", "value");
	ck_assert_int_eq(ut_get(kv, "k", buf, sizeof(buf), &m0), 0);
	ck_assert_uint_eq(m0.token, 0);
	invalidate("k", 0, 0);
	ck_assert_int_eq(ut_get(kv, "k", buf, sizeof(buf), &m1), 0);
	ck_assert_str_eq(buf, "value");
	ck_assert_uint_eq(m1.token, STALE);	/* a get wins nothing */
	ck_assert_uint_gt(m1.cas, m0.cas);	/* a new CAS, as memcached */
	ck_assert_int_eq(m1.exptime, 0);
	ck_stats(kv, { "curr_items", 1 }, { "delete_hits", 0 });
	/* with TOUCH, a new exptime; C must match; missing: not found */
	invalidate("k", PLKV_DEL_TOUCH, 100);
	ck_assert_int_eq(ut_get(kv, "k", buf, sizeof(buf), &m0), 0);
	ck_assert_int_gt(m0.exptime, time(NULL) + 90);
	ck_assert_int_eq(plkv_delete_ex(kv, "k", 1, m1.cas,
					PLKV_DEL_INVALIDATE, 0), PLKV_EEXISTS);
	ck_assert_int_eq(plkv_delete_ex(kv, "k", 1, m0.cas,
					PLKV_DEL_INVALIDATE, 0), 0);
	ck_assert_int_eq(plkv_delete_ex(kv, "no", 2, 0, PLKV_DEL_INVALIDATE,
					0), PLKV_ENOTFOUND);
	ck_assert_int_eq(plkv_delete_ex(kv, "k", 1, 0, PLKV_DEL_TOUCH, 0),
			 -EINVAL);
	ck_assert_int_eq(plkv_delete_ex(kv, "k", 1, 0, 1u << 7, 0), -EINVAL);
	ck_store_ok(kv);
}
END_TEST

START_TEST(first_reader_of_a_stale_item_wins)
{
	ut_set(kv, "k", "v");
	ck_assert_uint_eq(mg("k", 0, 0), 0);
	invalidate("k", 0, 0);
	ck_assert_uint_eq(mg("k", 0, 0), STALE | WIN);
	ck_assert_uint_eq(mg("k", 0, 0), STALE | SENT);
	ck_assert_uint_eq(mg("k", 0, 0), STALE | SENT);
	/* invalidated again: the token is handed out again */
	invalidate("k", 0, 0);
	ck_assert_uint_eq(mg("k", 0, 0), STALE | WIN);
	ck_assert_uint_eq(mg("k", 0, 0), STALE | SENT);
}
END_TEST

/* A read too small for its buffer wins nothing: the retry does. */
START_TEST(a_read_into_a_short_buffer_wins_nothing)
{
	struct plkv_read r = { .flags = PLKV_READ_WIN };
	struct plkv_meta m;
	char buf[16];

	ut_set(kv, "k", "0123456789");
	invalidate("k", 0, 0);
	ck_assert_int_eq(plkv_read(kv, "k", 1, &r, buf, 4, &m, NULL),
			 PLKV_ETOOSMALL);
	ck_assert_uint_eq(m.token, STALE);
	ck_assert_int_eq(plkv_read(kv, "k", 1, &r, buf, sizeof(buf), &m,
				   NULL), 0);
	ck_assert_uint_eq(m.token, STALE | WIN);
}
END_TEST

START_TEST(recache_threshold_wins_once)
{
	ck_assert_int_eq(plkv_set(kv, "r", 1, "x", 1, 0, 10), 0);
	ck_assert_int_eq(plkv_set(kv, "n", 1, "x", 1, 0, 0), 0);
	ck_assert_uint_eq(mg("r", PLKV_READ_RECACHE, 5), 0);	/* 10 > 5 */
	ck_assert_uint_eq(mg("n", PLKV_READ_RECACHE, 30), 0);	/* never */
	ck_assert_uint_eq(mg("r", PLKV_READ_RECACHE, 30), WIN);
	ck_assert_uint_eq(mg("r", PLKV_READ_RECACHE, 30), SENT);
	ck_assert_uint_eq(mg("r", 0, 0), SENT);
	/* the item the winner stores is new: no token */
	ck_assert_int_eq(plkv_set(kv, "r", 1, "y", 1, 0, 10), 0);
	ck_assert_uint_eq(mg("r", 0, 0), 0);
	ck_assert_uint_eq(mg("r", PLKV_READ_RECACHE, 30), WIN);
}
END_TEST

START_TEST(vivify_creator_wins)
{
	struct plkv_meta m;

	ck_assert_uint_eq(mg("v", PLKV_READ_VIVIFY, 30), WIN);
	ck_assert_uint_eq(mg("v", PLKV_READ_VIVIFY, 30), SENT);
	ck_assert_uint_eq(mg("v", 0, 0), SENT);
	ck_assert_int_eq(plkv_peek(kv, "v", 1, &m), 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_gt(m.exptime, time(NULL) + 20);
	ck_stats(kv, { "curr_items", 1 }, { "get_misses", 0 },
		 { "get_hits", 3 });
}
END_TEST

START_TEST(a_store_clears_staleness)
{
	struct plkv_meta m;
	uint64_t old, cas;

	ck_assert_int_eq(plkv_store(kv, PLKV_SET, "s", 1, "a", 1, 0, 0, 0,
				    &old), 0);
	invalidate("s", 0, 0);
	ck_assert_uint_eq(mg("s", 0, 0), STALE | WIN);
	/* ms I with the CAS from before the invalidate: stored, still
	 * stale, the token kept */
	ck_assert_int_eq(plkv_store(kv, PLKV_SET | PLKV_STORE_INVALIDATE,
				    "s", 1, "b", 1, 0, 0, old, &cas), 0);
	ck_assert_uint_eq(mg("s", 0, 0), STALE | SENT);
	ck_get_eq(kv, "s", "b");
	/* without I, that CAS is just old; with I, a newer one is not
	 * "older" */
	ck_assert_int_eq(plkv_store(kv, PLKV_SET, "s", 1, "c", 1, 0, 0, old,
				    NULL), PLKV_EEXISTS);
	ck_assert_int_eq(plkv_store(kv, PLKV_SET | PLKV_STORE_INVALIDATE,
				    "s", 1, "c", 1, 0, 0, cas + 100, NULL),
			 PLKV_EEXISTS);
	/* the matching CAS stores a fresh item */
	ck_assert_int_eq(plkv_store(kv, PLKV_SET | PLKV_STORE_INVALIDATE,
				    "s", 1, "d", 1, 0, 0, cas, NULL), 0);
	ck_assert_uint_eq(mg("s", 0, 0), 0);
	/* so does a plain set, and append */
	invalidate("s", 0, 0);
	ck_assert_int_eq(plkv_append(kv, "s", 1, "e", 1), 0);
	ck_assert_int_eq(plkv_peek(kv, "s", 1, &m), 0);
	ck_assert_uint_eq(m.token, 0);
	invalidate("s", 0, 0);
	ut_set(kv, "s", "f");
	ck_assert_uint_eq(mg("s", 0, 0), 0);
	ck_assert_int_eq(plkv_store(kv, 0x200 | PLKV_SET, "s", 1, "g", 1, 0,
				    0, 0, NULL), -EINVAL);
	ck_store_ok(kv);
}
END_TEST

#define RACERS	8
#define ROUNDS	200

struct racer {
	pthread_barrier_t *go;
	unsigned wins[ROUNDS];
};

static void *race_read(void *arg)
{
	struct racer *r = arg;
	struct plkv_read op = { .flags = PLKV_READ_WIN };
	struct plkv_meta m;

	for (int i = 0; i < ROUNDS; i++) {
		pthread_barrier_wait(r->go);
		if (plkv_read(kv, "hot", 3, &op, NULL, 0, &m, NULL) ==
		    PLKV_ETOOSMALL && (m.token & WIN))
			r->wins[i]++;
		pthread_barrier_wait(r->go);
	}
	return NULL;
}

/* Many threads read a freshly invalidated item: exactly one wins. */
START_TEST(racing_readers_one_wins)
{
	struct racer r[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t go;

	ut_set(kv, "hot", "value");
	pthread_barrier_init(&go, NULL, RACERS + 1);
	for (int i = 0; i < RACERS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].go = &go;
		ck_assert_int_eq(pthread_create(&t[i], NULL, race_read, &r[i]),
				 0);
	}
	for (int i = 0; i < ROUNDS; i++) {
		invalidate("hot", 0, 0);
		pthread_barrier_wait(&go);	/* readers run */
		pthread_barrier_wait(&go);	/* readers done */
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < ROUNDS; i++) {
		unsigned wins = 0;

		for (int j = 0; j < RACERS; j++)
			wins += r[j].wins[i];
		ck_assert_msg(wins == 1, "round %d: %u wins", i, wins);
	}
	ck_store_ok(kv);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		invalidate_keeps_the_value,
		first_reader_of_a_stale_item_wins,
		a_read_into_a_short_buffer_wins_nothing,
		recache_threshold_wins_once,
		vivify_creator_wins,
		a_store_clears_staleness,
		racing_readers_one_wins,
		NULL
	};

	return ut_main("stale", 60, ut_setup, tests);
}
