// SPDX-License-Identifier: MIT
/*
 * Statistics after known sequences of operations: general counters, per
 * class items and slabs, settings, and per-thread counters surviving the
 * exit of the thread that made them (folded into the global ones).
 */
#include <pthread.h>

#include "ut_suite.h"

struct kvs {
	char name[64][48];
	char value[64][48];
	unsigned n;
};

static int collect_cb(void *arg, const char *name, const char *value)
{
	struct kvs *s = arg;

	if (s->n < 64) {
		snprintf(s->name[s->n], 48, "%s", name);
		snprintf(s->value[s->n], 48, "%s", value);
		s->n++;
	}
	return 0;
}

static const char *find(struct kvs *s, const char *name)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->value[i];
	return NULL;
}

START_TEST(general_after_sequence)
{
	char b[16];

	ut_set(kv, "a", "1");
	ut_set(kv, "b", "22");
	ut_set(kv, "a", "333");
	ut_get(kv, "a", b, sizeof(b), NULL);
	ut_get(kv, "a", b, sizeof(b), NULL);
	ut_get(kv, "x", b, sizeof(b), NULL);
	plkv_delete(kv, "b", 1);
	plkv_touch(kv, "a", 1, 100);
	ck_stats(kv, { "cmd_set", 3 }, { "cmd_get", 3 }, { "get_hits", 2 },
		 { "get_misses", 1 }, { "curr_items", 1 },
		 { "total_items", 3 }, { "bytes", item_ntotal(1, 3) },
		 { "delete_hits", 1 }, { "touch_hits", 1 },
		 { "limit_maxbytes", 64 << 20 }, { "hash_power_level", 16 },
		 { "hash_is_expanding", 0 }, { "evictions", 0 });
	{
		uint64_t v;

		ck_assert_int_eq(plkv_stat_u64(kv, "no_such_stat", &v), -ENOENT);
	}
}
END_TEST

START_TEST(items_slabs_settings)
{
	struct kvs s;
	unsigned c = slab_clsid(eng(kv), item_ntotal(1, 1));
	char name[48];

	ut_set(kv, "a", "1");
	ut_set(kv, "b", "2");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(plkv_stats(kv, "items", collect_cb, &s), 0);
	snprintf(name, sizeof(name), "items:%u:number", c);
	ck_assert_ptr_nonnull(find(&s, name));
	ck_assert_str_eq(find(&s, name), "2");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(plkv_stats(kv, "slabs", collect_cb, &s), 0);
	snprintf(name, sizeof(name), "%u:used_chunks", c);
	ck_assert_str_eq(find(&s, name), "2");
	ck_assert_str_eq(find(&s, "active_slabs"), "1");
	ck_assert_str_eq(find(&s, "total_malloced"), "1048576");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(plkv_stats(kv, "settings", collect_cb, &s), 0);
	ck_assert_str_eq(find(&s, "maxbytes"), "67108864");
	ck_assert_str_eq(find(&s, "item_size_max"), "1048576");
	ck_assert_str_eq(find(&s, "growth_factor"), "1.25");
	ck_assert_str_eq(find(&s, "chunk_size"), "48");
	ck_assert_str_eq(find(&s, "evictions"), "on");
	ck_assert_str_eq(find(&s, "lru_segmented"), "yes");
	ck_assert_str_eq(find(&s, "hashpower_init"), "16");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(plkv_stats(kv, NULL, collect_cb, &s), 0);
	ck_assert_str_eq(find(&s, "version"), PLKV_VERSION_STRING);
	ck_assert_int_eq(plkv_stats(kv, "bogus", collect_cb, &s), -EINVAL);
}
END_TEST

static int stop_cb(void *arg, const char *name, const char *value)
{
	(void)arg;
	(void)value;
	return strcmp(name, "time") ? 0 : 42;
}

START_TEST(callback_stops)
{
	ck_assert_int_eq(plkv_stats(kv, NULL, stop_cb, NULL), 42);
}
END_TEST

static void *thread_ops(void *arg)
{
	char b[8];
	int i;

	(void)arg;
	for (i = 0; i < 10; i++) {
		ut_set(kv, "t", "v");
		ut_get(kv, "t", b, sizeof(b), NULL);
	}
	return NULL;
}

START_TEST(retired_threads_counted)
{
	pthread_t t[3];
	int i;

	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, thread_ops, NULL);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(ut_stat(kv, "cmd_set"), 30);
	ck_assert_uint_eq(ut_stat(kv, "get_hits"), 30);
}
END_TEST

/* Counters go to 0 (those of live and retired threads alike), gauges
 * stay, and counting goes on from there. */
START_TEST(reset_counters)
{
	pthread_t t[2];
	uint64_t r;
	char b[8];
	int i;

	ck_assert_int_eq(plkv_flush_all(kv, 0), 0);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread_ops, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(ut_set(kv, "x", "1"), 0);
	ut_get(kv, "x", b, sizeof(b), NULL);
	ut_get(kv, "nope", b, sizeof(b), NULL);
	plkv_delete(kv, "nope", 4);
	plkv_incr(kv, "nope", 4, 1, &r);
	ck_assert_uint_eq(ut_stat(kv, "cmd_set"), 21);
	ck_assert_uint_eq(ut_stat(kv, "total_items"), 21);

	ck_assert_int_eq(plkv_stats_reset(kv), 0);
	ck_stats(kv, { "cmd_set", 0 }, { "cmd_get", 0 }, { "get_hits", 0 },
		 { "get_misses", 0 }, { "delete_misses", 0 },
		 { "incr_misses", 0 }, { "cmd_flush", 0 },
		 { "total_items", 0 }, { "curr_items", 2 });
	ck_assert_uint_gt(ut_stat(kv, "bytes"), 0);
	/* twice in a row: still 0, never below */
	ck_assert_int_eq(plkv_stats_reset(kv), 0);
	ck_assert_uint_eq(ut_stat(kv, "get_hits"), 0);

	ut_get(kv, "x", b, sizeof(b), NULL);
	ck_assert_int_eq(ut_set(kv, "y", "2"), 0);
	ck_stats(kv, { "get_hits", 1 }, { "cmd_set", 1 }, { "total_items", 1 });
	/* a thread that retires after the reset adds only what it did */
	pthread_create(&t[0], NULL, thread_ops, NULL);
	pthread_join(t[0], NULL);
	ck_assert_uint_eq(ut_stat(kv, "get_hits"), 11);
	ck_assert_int_eq(plkv_stats_reset(NULL), -EINVAL);
	ck_store_ok(kv);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		general_after_sequence, items_slabs_settings, callback_stops,
		retired_threads_counted, reset_counters, NULL
	};

	return ut_main("stats", 30, ut_setup, tests);
}
