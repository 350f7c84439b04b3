// SPDX-License-Identifier: MIT
/*
 * An item's metadata: what plkv_get() reports besides the value (fetched
 * and last access as they were before the read, slab class, size), and
 * plkv_peek(), which reports it and changes nothing a get changes.  The
 * clock is moved with plkv_test_time_offset across ENG_UPDATE_INTERVAL.
 */
#include "ut_suite.h"

static struct plkv_meta get_meta(const char *k)
{
	struct plkv_meta m;

	memset(&m, 0xa5, sizeof(m));
	ck_assert_int_eq(plkv_get(kv, k, strlen(k), NULL, 0, &m),
			 PLKV_ETOOSMALL);
	return m;
}

static struct plkv_meta peek_meta(const char *k)
{
	struct plkv_meta m;

	memset(&m, 0xa5, sizeof(m));
	ck_assert_int_eq(plkv_peek(kv, k, strlen(k), &m), 0);
	return m;
}

START_TEST(fetched_before_the_read)
{
	struct plkv_mget_key mk = { .key = "f", .klen = 1 };
	char buf[8];

	ut_set(kv, "f", "v");
	ck_assert_uint_eq(get_meta("f").fetched, 0);
	ck_assert_uint_ne(get_meta("f").fetched, 0);
	ck_assert_uint_ne(get_meta("f").fetched, 0);
	/* a new value is a new item, not fetched yet; mget reports too */
	ut_set(kv, "f", "w");
	ck_assert_int_eq(plkv_mget(kv, &mk, 1, buf, sizeof(buf)), 0);
	ck_assert_int_eq(mk.rc, 0);
	ck_assert_uint_eq(mk.meta.fetched, 0);
	ck_assert_int_eq(plkv_mget(kv, &mk, 1, buf, sizeof(buf)), 0);
	ck_assert_uint_ne(mk.meta.fetched, 0);
}
END_TEST

/* last_access is the store's time until a read ENG_UPDATE_INTERVAL or
 * more later moves it; each read reports the time before its own. */
START_TEST(last_access_moves_once_a_minute)
{
	int64_t t0 = time(NULL), set_at;

	ut_set(kv, "a", "v");
	set_at = get_meta("a").last_access;
	ck_assert_int_ge(set_at, t0);
	ck_assert_int_le(set_at, time(NULL));
	/* just under a minute after the set, with a second to spare for the
	 * clock ticking between here and the reads */
	plkv_test_time_offset = set_at + ENG_UPDATE_INTERVAL - 2 - time(NULL);
	ck_assert_int_eq(get_meta("a").last_access, set_at);
	ck_assert_int_eq(get_meta("a").last_access, set_at);
	plkv_test_time_offset = 2 * ENG_UPDATE_INTERVAL;
	ck_assert_int_eq(get_meta("a").last_access, set_at);
	ck_assert_int_ge(get_meta("a").last_access,
			 set_at + 2 * ENG_UPDATE_INTERVAL);
	/* a store is an access */
	ut_set(kv, "a", "w");
	ck_assert_int_ge(peek_meta("a").last_access,
			 t0 + 2 * ENG_UPDATE_INTERVAL);
}
END_TEST

static int class_cb(void *arg, const char *name, const char *value)
{
	unsigned *cls = arg, c;
	char f[48];

	if (sscanf(name, "items:%u:%47s", &c, f) == 2 &&
	    !strcmp(f, "number") && strtoull(value, NULL, 10) == 1)
		*cls = c;
	return 0;
}

static int dump_cb(void *arg, const struct plkv_dump_item *d)
{
	*(unsigned *)arg = d->slab_class;
	return 0;
}

/* slab_class and item_size agree with what the stats and dump report. */
START_TEST(class_and_size)
{
	char big[3000];
	unsigned stat_cls = 0, dump_cls = 0;
	struct plkv_meta small, m;

	ut_set(kv, "s", "v");
	small = peek_meta("s");
	ck_assert_uint_eq(small.item_size, ut_stat(kv, "bytes"));
	ck_assert_int_eq(plkv_delete(kv, "s", 1), 0);

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(plkv_set(kv, "big", 3, big, sizeof(big), 0, 0), 0);
	m = peek_meta("big");
	ck_assert_uint_eq(m.item_size, ut_stat(kv, "bytes"));
	/* the same header: the rest is key and value */
	ck_assert_uint_eq(m.item_size - small.item_size,
			  (3 - 1) + (sizeof(big) - 1));
	ck_assert_int_eq(plkv_stats(kv, "items", class_cb, &stat_cls), 0);
	ck_assert_int_eq(plkv_dump(kv, dump_cb, &dump_cls), 0);
	ck_assert_uint_ne(m.slab_class, 0);
	ck_assert_uint_eq(m.slab_class, stat_cls);
	ck_assert_uint_eq(m.slab_class, dump_cls);
	ck_assert_uint_gt(m.slab_class, small.slab_class);
	ck_assert_uint_eq(get_meta("big").slab_class, m.slab_class);
}
END_TEST

/* A read with PLKV_READ_NOBUMP (mg u) is a hit that leaves the fetched
 * mark, the last access and the LRU place alone. */
START_TEST(read_nobump_changes_nothing)
{
	struct plkv_read r = { .flags = PLKV_READ_NOBUMP };
	struct plkv_meta m;
	int64_t set_at;
	char buf[8];

	ck_assert_int_eq(plkv_set(kv, "n", 1, "val", 3, 0, 0), 0);
	set_at = peek_meta("n").last_access;
	/* late enough that a bumping read would move the access time */
	plkv_test_time_offset = 2 * ENG_UPDATE_INTERVAL;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(plkv_read(kv, "n", 1, &r, buf, sizeof(buf),
					   &m, NULL), 0);
		ck_assert_uint_eq(m.fetched, 0);
	}
	ck_stats(kv, { "get_hits", 2 });
	ck_assert_int_eq(peek_meta("n").last_access, set_at);
	ck_assert_uint_eq(get_meta("n").fetched, 0);	/* still not fetched */
	ck_assert_uint_ne(get_meta("n").fetched, 0);	/* the get did */
	ck_assert_int_gt(peek_meta("n").last_access, set_at);
}
END_TEST

/* A peek counts nothing and leaves fetched and last access alone. */
START_TEST(peek_changes_nothing)
{
	struct plkv_meta p, g;

	ck_assert_int_eq(plkv_set(kv, "p", 1, "val", 3, 7, 1000), 0);
	plkv_test_time_offset = 2 * ENG_UPDATE_INTERVAL;
	p = peek_meta("p");
	p = peek_meta("p");
	ck_stats(kv, { "get_hits", 0 }, { "get_misses", 0 },
		 { "cmd_get", 0 }, { "get_expired", 0 });
	ck_assert_uint_eq(p.fetched, 0);
	ck_assert_uint_eq(p.len, 3);
	ck_assert_uint_eq(p.flags, 7);
	g = get_meta("p");
	ck_assert_uint_eq(g.fetched, 0);	/* the peeks did not fetch */
	ck_assert_int_eq(g.last_access, p.last_access);
	ck_assert_uint_eq(g.cas, p.cas);
	ck_assert_int_eq(g.exptime, p.exptime);
	ck_assert_uint_eq(g.len, p.len);
	ck_assert_uint_eq(g.item_size, p.item_size);
	ck_assert_uint_eq(g.slab_class, p.slab_class);
	/* the get did; the peek sees it, and the time that get set */
	p = peek_meta("p");
	ck_assert_uint_ne(p.fetched, 0);
	ck_assert_int_gt(p.last_access, g.last_access);
	ck_stats(kv, { "get_hits", 1 }, { "cmd_get", 1 });
	ck_assert_int_eq(plkv_peek(kv, "p", 1, NULL), 0);
	ck_store_ok(kv);
}
END_TEST

START_TEST(peek_missing_expired_flushed)
{
	struct plkv_meta m;

	ck_assert_int_eq(plkv_peek(kv, "none", 4, &m), PLKV_ENOTFOUND);
	ck_assert_int_eq(plkv_set(kv, "e", 1, "v", 1, 0, 10), 0);
	ck_assert_int_eq(plkv_peek(kv, "e", 1, &m), 0);
	plkv_test_time_offset = 10;
	ck_assert_int_eq(plkv_peek(kv, "e", 1, &m), PLKV_ENOTFOUND);
	ut_set(kv, "fl", "v");
	ck_assert_int_eq(plkv_flush_all(kv, 0), 0);
	ck_assert_int_eq(plkv_peek(kv, "fl", 2, NULL), PLKV_ENOTFOUND);
	/* both reclaimed, neither counted as a get */
	ck_stats(kv, { "curr_items", 0 }, { "get_misses", 0 },
		 { "get_expired", 0 }, { "get_flushed", 0 },
		 { "cmd_get", 0 });
	ck_store_ok(kv);
}
END_TEST

START_TEST(peek_bad_args)
{
	struct plkv_meta m;
	char key[ENG_KEY_MAX + 1];

	memset(key, 'k', sizeof(key));
	ut_set(kv, "k", "v");
	ck_assert_int_eq(plkv_peek(NULL, "k", 1, &m), -EINVAL);
	ck_assert_int_eq(plkv_peek(kv, NULL, 1, &m), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_peek(kv, "k", 0, &m), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_peek(kv, "a b", 3, &m), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_peek(kv, key, sizeof(key), &m), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_peek(kv, "k", 1, (struct plkv_meta *)kv->base),
			 -EFAULT);
	ck_assert_int_eq(plkv_peek(kv, (const char *)kv->base, 1, &m),
			 -EFAULT);
	ck_assert_int_eq(plkv_peek(kv, key, ENG_KEY_MAX, &m), PLKV_ENOTFOUND);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		fetched_before_the_read, last_access_moves_once_a_minute,
		class_and_size, peek_changes_nothing, read_nobump_changes_nothing,
		peek_missing_expired_flushed, peek_bad_args, NULL
	};

	return ut_main("meta", 30, ut_setup, tests);
}
