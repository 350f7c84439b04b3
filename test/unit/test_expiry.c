// SPDX-License-Identifier: MIT
/*
 * Expiry and flush_all, with the clock moved by plkv_test_time_offset:
 * relative, absolute, negative exptimes and the 30-day boundary; lazy
 * expiry on access and the crawler's reclaim; flush_all now, delayed,
 * and a later flush replacing a pending one.
 */
#include "ut_suite.h"

#define DAY30 2592000

/* The library's clock (CLOCK_REALTIME_COARSE), less the test offset. */
static int64_t coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ts.tv_sec;
}

START_TEST(relative)
{
	struct plkv_meta m;
	char b[16];
	/* the library reads the coarse clock, which may still show the
	 * second before time()'s */
	int64_t t0 = time(NULL) - 1;

	ck_assert_int_eq(plkv_set(kv, "r", 1, "v", 1, 0, 10), 0);
	ck_assert_int_eq(ut_get(kv, "r", b, sizeof(b), &m), 0);
	ck_assert_int_ge(m.exptime, t0 + 10 + plkv_test_time_offset);
	ck_assert_int_le(m.exptime, time(NULL) + 10 + plkv_test_time_offset);
	/* One second before its exptime by the library's clock it is
	 * there, at it gone.  Again from the set if the second turned
	 * during the get (it may have expired then). */
	for (;;) {
		int64_t s0 = coarse_now(), rc;

		plkv_test_time_offset = m.exptime - 1 - s0;
		rc = ut_get(kv, "r", b, sizeof(b), NULL);
		if (coarse_now() == s0) {
			ck_assert_int_eq(rc, 0);
			break;
		}
		plkv_test_time_offset = 0;
		ck_assert_int_eq(plkv_set(kv, "r", 1, "v", 1, 0, 10), 0);
		ck_assert_int_eq(ut_get(kv, "r", b, sizeof(b), &m), 0);
		ck_assert_int_eq(plkv_stats_reset(kv), 0);
	}
	plkv_test_time_offset = m.exptime - coarse_now();
	ck_get_missing(kv, "r");
	/* curr_items 0: reclaimed */
	ck_stats(kv, { "get_expired", 1 }, { "get_misses", 1 },
		 { "curr_items", 0 });
	ck_store_ok(kv);
}
END_TEST

START_TEST(absolute_and_boundary)
{
	int64_t now = time(NULL);

	ck_assert_int_eq(plkv_set(kv, "abs", 3, "v", 1, 0, now + 100), 0);
	ck_assert_int_eq(plkv_set(kv, "d30", 3, "v", 1, 0, DAY30), 0);
	ck_assert_int_eq(plkv_set(kv, "d30+1", 5, "v", 1, 0, DAY30 + 1), 0);
	ck_get_eq(kv, "abs", "v");
	ck_get_eq(kv, "d30", "v");		/* relative: 30 days ahead */
	ck_get_missing(kv, "d30+1");		/* absolute: 1970 */
	plkv_test_time_offset = 99;
	ck_get_eq(kv, "abs", "v");
	plkv_test_time_offset = 101;
	ck_get_missing(kv, "abs");
	ck_get_eq(kv, "d30", "v");
	plkv_test_time_offset = DAY30 + 2;
	ck_get_missing(kv, "d30");
	ck_store_ok(kv);
}
END_TEST

START_TEST(negative)
{
	ck_assert_int_eq(plkv_set(kv, "neg", 3, "v", 1, 0, -1), 0);
	ck_get_missing(kv, "neg");
	ck_assert_int_eq(plkv_add(kv, "neg", 3, "w", 1, 0, 0), 0);
	ck_get_eq(kv, "neg", "w");
	ck_assert_int_eq(plkv_touch(kv, "neg", 3, -1), 0);
	ck_get_missing(kv, "neg");
	ck_assert_int_eq(plkv_replace(kv, "neg", 3, "x", 1, 0, 0),
			 PLKV_ENOTSTORED);
	ck_store_ok(kv);
}
END_TEST

START_TEST(crawler_reclaims)
{
	char k[32];
	unsigned i;

	for (i = 0; i < 500; i++) {
		snprintf(k, sizeof(k), "e:%u", i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), "v", 1, 0, 5), 0);
	}
	for (i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "keep:%u", i);
		ut_set(kv, k, "v");
	}
	ck_assert_uint_eq(ut_stat(kv, "curr_items"), 600);
	plkv_test_time_offset = 6;
	while (plkv_maintain(kv, 1000) > 0 &&
	       ut_stat(kv, "curr_items") > 100)
		;
	ck_stats(kv, { "curr_items", 100 }, { "reclaimed", 500 },
		 { "expired_unfetched", 500 });
	for (i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "keep:%u", i);
		ck_get_eq(kv, k, "v");
	}
	ck_store_ok(kv);
}
END_TEST

START_TEST(flush_now)
{
	ut_set(kv, "a", "1");
	ut_set(kv, "b", "2");
	ck_assert_int_eq(plkv_flush_all(kv, 0), 0);
	ck_get_missing(kv, "a");
	ck_assert_uint_eq(ut_stat(kv, "get_flushed"), 1);
	ut_set(kv, "c", "3");		/* same second, after: visible */
	ck_get_eq(kv, "c", "3");
	ck_assert_int_eq(plkv_add(kv, "b", 1, "new", 3, 0, 0), 0);
	ck_get_eq(kv, "b", "new");
	ck_assert_uint_eq(ut_stat(kv, "cmd_flush"), 1);
	ck_store_ok(kv);
}
END_TEST

START_TEST(flush_delayed)
{
	ut_set(kv, "a", "1");
	ck_assert_int_eq(plkv_flush_all(kv, 10), 0);
	plkv_test_time_offset = 5;
	ut_set(kv, "b", "2");
	ck_get_eq(kv, "a", "1");
	ck_get_eq(kv, "b", "2");
	plkv_test_time_offset = 10;
	ck_get_missing(kv, "a");
	ck_get_missing(kv, "b");
	ut_set(kv, "c", "3");
	ck_get_eq(kv, "c", "3");
	plkv_test_time_offset = 20;
	ck_get_eq(kv, "c", "3");
	ck_store_ok(kv);
}
END_TEST

START_TEST(flush_replaces_pending)
{
	ut_set(kv, "a", "1");
	plkv_flush_all(kv, 10);
	plkv_flush_all(kv, 100);
	plkv_test_time_offset = 50;
	ck_get_eq(kv, "a", "1");
	plkv_test_time_offset = 100;
	ck_get_missing(kv, "a");
	/* an immediate flush cancels a pending one, and one in force stays */
	ut_set(kv, "b", "2");
	plkv_flush_all(kv, 10);
	plkv_flush_all(kv, 0);
	ut_set(kv, "c", "3");
	plkv_test_time_offset = 120;
	ck_get_missing(kv, "b");
	ck_get_eq(kv, "c", "3");
	ck_store_ok(kv);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		relative, absolute_and_boundary, negative, crawler_reclaims,
		flush_now, flush_delayed, flush_replaces_pending, NULL
	};

	return ut_main("expiry", 60, ut_setup, tests);
}
