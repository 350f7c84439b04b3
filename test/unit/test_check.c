// SPDX-License-Identifier: MIT
/*
 * plkv_check() and the item invariants behind it: refcounts and flags of
 * linked items, and each kind of corruption reported as PLKV_ECORRUPT with
 * a message saying what and where (the store is poked directly).
 */
#include "ut_suite.h"

/* Find key's item (no lock needed: single-threaded test). */
static struct plkv_item *item_of(const char *key)
{
	struct plkv_ctx ctx;
	struct plkv_item *it;

	ck_assert_int_eq(plkv_enter(kv, &ctx), 0);
	it = assoc_find(&ctx, key, strlen(key), eng_hash(key, strlen(key)));
	plkv_leave(&ctx);
	ck_assert_ptr_nonnull(it);
	return it;
}

/* The usual victim: "a" stored, its item. */
static struct plkv_item *stored_a(void)
{
	ut_set(kv, "a", "1");
	return item_of("a");
}

static void expect_corrupt(const char *needle)
{
	char msg[256];

	ck_assert_int_eq(plkv_check(kv, msg, sizeof(msg)), PLKV_ECORRUPT);
	ck_assert_msg(strstr(msg, needle), "message '%s' lacks '%s'", msg,
		      needle);
}

START_TEST(refcounts_and_flags)
{
	struct plkv_item *it = stored_a();

	ck_assert_uint_eq(atomic_load(&it->refcount), 1);
	ck_assert(it->it_flags & ITEM_LINKED);
	ck_assert(!(it->it_flags & ITEM_SLABBED));
	ck_assert_uint_lt(it->lru, LRU_NSEG);
	/* a value of another length: a new item, the old one freed (back
	 * on a free list) */
	ut_set(kv, "a", "22");
	ck_assert(it->it_flags & ITEM_SLABBED);
	ck_assert_uint_eq(atomic_load(&it->refcount), 0);
	it = item_of("a");
	ck_assert_uint_eq(atomic_load(&it->refcount), 1);
	ck_store_ok(kv);
}
END_TEST

/* A set of a value as long as the old one rewrites the item in place:
 * same chunk, new value and CAS, counted as an item stored. */
START_TEST(same_length_set_in_place)
{
	struct plkv_item *it = stored_a();
	uint64_t cas0 = item_cas(it), total = ut_stat(kv, "total_items");
	struct plkv_meta m;
	char b[8];

	ut_set(kv, "a", "2");
	ck_assert_ptr_eq(item_of("a"), it);
	ck_assert_uint_eq(it->it_flags & (ITEM_LINKED | ITEM_SLABBED),
			  ITEM_LINKED);
	ck_assert(it->it_flags & ITEM_REFRESHED);
	ck_assert_uint_gt(item_cas(it), cas0);
	ck_assert_int_eq(ut_get(kv, "a", b, sizeof(b), &m), 0);
	ck_assert_str_eq(b, "2");
	ck_assert_uint_eq(m.cas, item_cas(it));
	ck_assert(!m.fetched);	/* as a new item: not fetched yet */
	ck_assert_uint_eq(ut_stat(kv, "total_items"), total + 1);
	ck_assert_uint_eq(ut_stat(kv, "curr_items"), 1);
	ck_store_ok(kv);
}
END_TEST

START_TEST(detects_refcount)
{
	atomic_store(&stored_a()->refcount, 2);
	expect_corrupt("refcount 2");
}
END_TEST

START_TEST(detects_linked_flag)
{
	stored_a()->it_flags &= ~ITEM_LINKED;
	expect_corrupt("lacks LINKED");
}
END_TEST

START_TEST(detects_wrong_bucket)
{
	stored_a()->hv ^= 1;
	expect_corrupt("hashes to");
}
END_TEST

START_TEST(detects_lru_count)
{
	struct plkv_item *it = stored_a();

	eng(kv)->lru[it->slab_class].count[it->lru]++;
	expect_corrupt("count");
}
END_TEST

START_TEST(detects_leak)
{
	struct plkv_item *it;

	ut_set(kv, "a", "1");
	ut_set(kv, "b", "2");
	it = item_of("b");
	/* unhook b from its LRU and the hash: a chunk nobody owns */
	eng(kv)->lru[it->slab_class].head[it->lru] = it->next;
	if (it->next)
		item_at(kv, it->next)->prev = 0;
	eng(kv)->lru[it->slab_class].count[it->lru]--;
	eng(kv)->lru[it->slab_class].bytes -= item_size(it);
	if (eng(kv)->lru[it->slab_class].tail[it->lru] == item_off(kv, it))
		eng(kv)->lru[it->slab_class].tail[it->lru] = 0;
	*assoc_bucket(kv, it->hv) = it->h_next;
	expect_corrupt("leaked");
}
END_TEST

START_TEST(detects_free_list)
{
	unsigned c = slab_clsid(eng(kv), item_ntotal(1, 1));

	ut_set(kv, "a", "1");
	eng(kv)->cls[c].free_count++;
	expect_corrupt("free_count");
}
END_TEST

START_TEST(detects_hash_cycle)
{
	struct plkv_item *it = stored_a();

	it->h_next = item_off(kv, it);
	expect_corrupt("twice");
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		refcounts_and_flags, same_length_set_in_place, detects_refcount, detects_linked_flag,
		detects_wrong_bucket, detects_lru_count, detects_leak,
		detects_free_list, detects_hash_cycle, NULL
	};

	return ut_main("check", 30, ut_setup, tests);
}
