// SPDX-License-Identifier: MIT
/*
 * The segmented LRU and eviction: a small store (8 MiB) filled past its
 * size evicts from the cold tail, recently used keys survive, per-class
 * stats add up; with PLKV_O_NO_EVICT the store says PLKV_ENOMEM instead
 * and keeps everything it acknowledged.
 */
#include "ut_suite.h"

static void setup8(void)
{
	ut_setup_mem(8);
}

static void fill_value(char *v, size_t n, unsigned i)
{
	memset(v, 'a' + i % 26, n);
}

START_TEST(evicts_when_full)
{
	char k[32], v[1000], b[1024];
	unsigned i, n = 20000;
	struct plkv_meta m;

	ck_assert_int_eq(ut_set(kv, "hot", "keep me"), 0);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "fill:%u", i);
		fill_value(v, sizeof(v), i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, sizeof(v), 0, 0),
				 0);
		if (i % 10 == 0)
			ck_get_eq(kv, "hot", "keep me");
	}
	ck_assert_uint_gt(ut_stat(kv, "evictions"), 0);
	ck_assert_uint_lt(ut_stat(kv, "curr_items"), n);
	ck_assert_uint_eq(ut_stat(kv, "curr_items") + ut_stat(kv, "evictions"),
			  n + 1);
	ck_assert_uint_le(ut_stat(kv, "total_malloced"), 8 << 20);
	/* the newest survive, the oldest went */
	for (i = n - 100; i < n; i++) {
		snprintf(k, sizeof(k), "fill:%u", i);
		ck_assert_int_eq(plkv_get(kv, k, strlen(k), b, sizeof(b), &m), 0);
		ck_assert_uint_eq(m.len, sizeof(v));
		ck_assert_int_eq(b[0], 'a' + i % 26);
	}
	snprintf(k, sizeof(k), "fill:%u", 0);
	ck_assert_int_eq(plkv_get(kv, k, strlen(k), b, sizeof(b), &m),
			 PLKV_ENOTFOUND);
	ck_get_eq(kv, "hot", "keep me");
	ck_store_ok(kv);
}
END_TEST

/*
 * A key its writers keep rewriting (never read) in a class that evicts:
 * each set is in place, so the item stays where it was in the LRU, and
 * the COLD tail must give it another pass rather than evict it, as a new
 * item at HOT's head would have had.
 */
START_TEST(rewritten_key_survives)
{
	char k[32], v[1000], b[1024];
	unsigned i, n = 20000;
	struct plkv_meta m;

	memset(v, 'k', sizeof(v));
	ck_assert_int_eq(plkv_set(kv, "kept", 4, v, sizeof(v), 0, 0), 0);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "fill:%u", i);
		fill_value(v, sizeof(v), i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, sizeof(v), 0, 0),
				 0);
		if (i % 100 == 0) {
			ck_assert_msg(plkv_peek(kv, "kept", 4, &m) == 0,
				      "kept evicted by fill %u", i);
			memset(v, 'A' + i / 100 % 26, sizeof(v));
			ck_assert_int_eq(plkv_set(kv, "kept", 4, v, sizeof(v),
						  0, 0), 0);
		}
	}
	ck_assert_uint_gt(ut_stat(kv, "evictions"), n / 2);
	ck_assert_int_eq(plkv_get(kv, "kept", 4, b, sizeof(b), &m), 0);
	ck_assert_uint_eq(m.len, sizeof(v));
	ck_assert_int_eq(b[0], 'A' + (n - 1) / 100 % 26);
	ck_store_ok(kv);
}
END_TEST

START_TEST(large_items_evict)
{
	size_t n = 700000;
	char *v = malloc(n), k[32];
	unsigned i;

	memset(v, 'L', n);
	for (i = 0; i < 30; i++) {
		snprintf(k, sizeof(k), "large:%u", i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, n, 0, 0), 0);
		ck_store_ok(kv);
	}
	ck_assert_uint_gt(ut_stat(kv, "evictions"), 0);
	snprintf(k, sizeof(k), "large:%u", 29);
	{
		char *b = malloc(n);
		struct plkv_meta m;

		ck_assert_int_eq(plkv_get(kv, k, strlen(k), b, n, &m), 0);
		ck_assert_int_eq(memcmp(b, v, n), 0);
		free(b);
	}
	free(v);
}
END_TEST

static int items_cb(void *arg, const char *name, const char *value)
{
	uint64_t *t = arg;
	unsigned c;
	char f[48];

	if (sscanf(name, "items:%u:%47s", &c, f) == 2) {
		if (!strcmp(f, "number"))
			t[0] += strtoull(value, NULL, 10);
		else if (!strcmp(f, "number_hot"))
			t[1] += strtoull(value, NULL, 10);
		else if (!strcmp(f, "number_warm"))
			t[2] += strtoull(value, NULL, 10);
		else if (!strcmp(f, "number_cold"))
			t[3] += strtoull(value, NULL, 10);
		else if (!strcmp(f, "evicted"))
			t[4] += strtoull(value, NULL, 10);
	}
	return 0;
}

START_TEST(segments)
{
	uint64_t t[5] = { 0 };
	char k[32];
	unsigned i;

	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "seg:%u", i);
		ut_set(kv, k, "value");
	}
	/* hit some twice: they become active; the maintainer moves the
	 * active ones in COLD to WARM (memcached's asynchronous bump) */
	for (i = 0; i < 100; i++) {
		char b[16];

		snprintf(k, sizeof(k), "seg:%u", i);
		ut_get(kv, k, b, sizeof(b), NULL);
		ut_get(kv, k, b, sizeof(b), NULL);
	}
	ck_assert_int_eq(plkv_stats(kv, "items", items_cb, t), 0);
	ck_assert_uint_eq(t[2], 0);	/* nothing moved by the hits */
	ck_assert_int_gt(plkv_maintain(kv, 10000), 0);
	memset(t, 0, sizeof(t));
	ck_assert_int_eq(plkv_stats(kv, "items", items_cb, t), 0);
	ck_assert_uint_eq(t[0], 1000);
	ck_assert_uint_eq(t[1] + t[2] + t[3], 1000);
	ck_assert_uint_le(t[1], 200 + 2);
	ck_assert_uint_gt(t[2], 0);
	ck_assert_uint_gt(t[3], 0);
	ck_store_ok(kv);
}
END_TEST

START_TEST(no_evict_enomem)
{
	struct plkv_options o = ut_opts(8);
	plkv_t *h;
	char k[32], v[1000], b[1024];
	unsigned i, stored = 0;
	int rc = 0;

	o.flags |= PLKV_O_NO_EVICT;
	h = ut_open(&o);
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "ne:%u", i);
		fill_value(v, sizeof(v), i);
		rc = plkv_set(h, k, strlen(k), v, sizeof(v), 0, 0);
		if (rc)
			break;
		stored++;
	}
	ck_assert_int_eq(rc, PLKV_ENOMEM);
	ck_assert_uint_gt(stored, 1000);
	ck_assert_int_eq(plkv_set(h, "another", 7, v, sizeof(v), 0, 0),
			 PLKV_ENOMEM);
	for (i = 0; i < stored; i++) {
		struct plkv_meta m;

		snprintf(k, sizeof(k), "ne:%u", i);
		ck_assert_int_eq(plkv_get(h, k, strlen(k), b, sizeof(b), &m), 0);
		ck_assert_int_eq(b[0], 'a' + i % 26);
	}
	ck_assert_uint_eq(ut_stat(h, "evictions"), 0);
	/* deleting makes room again */
	ck_assert_int_eq(plkv_delete(h, "ne:0", 4), 0);
	ck_assert_int_eq(plkv_set(h, "another", 7, v, sizeof(v), 0, 0), 0);
	ck_store_ok(h);
	plkv_close(h);
	plkv_destroy(seg_name, PLKV_BACKEND_USER);
}
END_TEST

START_TEST(pages_move_between_classes)
{
	static char v[9000];
	char k[32], msg[256];
	unsigned i;

	/* 8 pages, a few dozen classes: phases of different sizes each
	 * need pages the earlier ones took. */
	memset(v, 'm', sizeof(v));
	for (i = 0; i < 40000; i++) {
		size_t n = 20 + (i / 2000) * 400 % 8000;

		snprintf(k, sizeof(k), "mv:%u", i % 3000);
		ck_assert_msg(plkv_set(kv, k, strlen(k), v, n, 0, 0) == 0,
			      "set %u of %zu bytes", i, n);
		if (i % 5000 == 0) {
			ck_assert_int_eq(plkv_check(kv, msg, sizeof(msg)), 0);
		}
	}
	ck_assert_uint_gt(ut_stat(kv, "slabs_moved"), 0);
	ck_assert_uint_le(ut_stat(kv, "total_malloced"), 8 << 20);
	ck_store_ok(kv);
}
END_TEST

/*
 * A class that starves takes a wholly free page of another class before
 * it evicts anything: one page each for many classes, then a class
 * needing more, must not take the page that holds the small items (it
 * used to: the first class of those with the most pages).
 */
START_TEST(free_pages_move_first)
{
	static char v[200000];
	char k[32], b[16];
	unsigned i;
	size_t n;

	ck_assert_int_eq(plkv_set(kv, "small", 5, "1", 1, 0, 0), 0);
	/* a page for each of many classes, left empty */
	for (n = 100, i = 0; n < 100000; n = n * 5 / 4, i++) {
		snprintf(k, sizeof(k), "once:%u", i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, n, 0, 0), 0);
		ck_assert_int_eq(plkv_delete(kv, k, strlen(k)), 0);
	}
	/* then one class wants every page */
	for (i = 0; i < 400; i++) {
		snprintf(k, sizeof(k), "big:%u", i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, sizeof(v), 0, 0),
				 0);
	}
	ck_assert_uint_gt(ut_stat(kv, "slabs_moved"), 0);
	ck_assert_int_eq(ut_get(kv, "small", b, sizeof(b), NULL), 0);
	ck_store_ok(kv);
}
END_TEST

/*
 * A store of large values (all its pages in the largest class, items in
 * chunks) and one small item: a size whose class has no page takes a
 * page of the largest class, emptied through its LRU, not the small
 * class's only page with its live item (memcached's chunked-items.t
 * appends lost their item that way).
 */
START_TEST(large_class_gives_pages)
{
	static char v[700000];
	char k[32], b[256];
	unsigned i;

	memset(v, 'L', sizeof(v));
	ck_assert_int_eq(plkv_set(kv, "small", 5, "1", 1, 0, 0), 0);
	for (i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "large:%u", i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, sizeof(v), 0, 0),
				 0);
	}
	ck_assert_uint_gt(ut_stat(kv, "evictions"), 0);
	for (i = 0; i < 4; i++) {	/* sizes of classes with no page */
		snprintf(k, sizeof(k), "mid:%u", i);
		ck_assert_int_eq(plkv_set(kv, k, strlen(k), v, 200 + i * 300,
					  0, 0), 0);
		ck_assert_int_eq(ut_get(kv, "small", b, sizeof(b), NULL), 0);
	}
	ck_assert_int_eq(plkv_append(kv, "small", 5, v, 150), 0);
	ck_assert_int_eq(ut_get(kv, "small", b, sizeof(b), NULL), 0);
	ck_store_ok(kv);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		evicts_when_full, large_items_evict, segments, no_evict_enomem,
		pages_move_between_classes, free_pages_move_first,
		large_class_gives_pages, rewritten_key_survives, NULL
	};

	return ut_main("lru", 120, setup8, tests);
}
