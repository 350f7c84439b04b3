// SPDX-License-Identifier: MIT
/*
 * Every command's edge cases, with memcached 1.6's answers: set/add/
 * replace/append/prepend/cas, incr/decr, delete, touch, gat, get/mget,
 * ETOOSMALL, argument validation (bad input changes nothing).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "ut_suite.h"

START_TEST(set_get_basic)
{
	struct plkv_meta m;
	char buf[64];

	ck_assert_int_eq(plkv_set(kv, "k", 1, "hello", 5, 42, 0), 0);
	ck_assert_int_eq(ut_get(kv, "k", buf, sizeof(buf), &m), 0);
	ck_assert_str_eq(buf, "hello");
	ck_assert_uint_eq(m.len, 5);
	ck_assert_uint_eq(m.flags, 42);
	ck_assert_uint_ne(m.cas, 0);
	ck_assert_int_eq(m.exptime, 0);
	ck_assert_int_eq(ut_set(kv, "k", "world!"), 0);
	ck_get_eq(kv, "k", "world!");
	ck_get_missing(kv, "nope");
	ck_assert_int_eq(plkv_set(kv, "empty", 5, NULL, 0, 7, 0), 0);
	ck_assert_int_eq(ut_get(kv, "empty", buf, sizeof(buf), &m), 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_uint_eq(m.flags, 7);
	ck_store_ok(kv);
}
END_TEST

START_TEST(add_replace)
{
	ck_assert_int_eq(plkv_add(kv, "a", 1, "1", 1, 0, 0), 0);
	ck_assert_int_eq(plkv_add(kv, "a", 1, "2", 1, 0, 0), PLKV_ENOTSTORED);
	ck_get_eq(kv, "a", "1");
	ck_assert_int_eq(plkv_replace(kv, "b", 1, "x", 1, 0, 0),
			 PLKV_ENOTSTORED);
	ck_get_missing(kv, "b");
	ck_assert_int_eq(plkv_replace(kv, "a", 1, "3", 1, 9, 0), 0);
	ck_get_eq(kv, "a", "3");
	ck_store_ok(kv);
}
END_TEST

START_TEST(append_prepend_keep_flags)
{
	struct plkv_meta m;
	char buf[64];

	ck_assert_int_eq(plkv_append(kv, "x", 1, "a", 1), PLKV_ENOTSTORED);
	ck_assert_int_eq(plkv_prepend(kv, "x", 1, "a", 1), PLKV_ENOTSTORED);
	ck_assert_int_eq(plkv_set(kv, "x", 1, "mid", 3, 1234, 1000), 0);
	ut_get(kv, "x", buf, sizeof(buf), &m);
	ck_assert_int_eq(plkv_append(kv, "x", 1, "-end", 4), 0);
	ck_assert_int_eq(plkv_prepend(kv, "x", 1, "start-", 6), 0);
	ck_get_eq(kv, "x", "start-mid-end");
	{
		struct plkv_meta m2;

		ut_get(kv, "x", buf, sizeof(buf), &m2);
		ck_assert_uint_eq(m2.flags, 1234);
		ck_assert_int_eq(m2.exptime, m.exptime);
		ck_assert_uint_gt(m2.cas, m.cas);
	}
	ck_store_ok(kv);
}
END_TEST

START_TEST(cas_semantics)
{
	struct plkv_meta m;
	uint64_t c1, c2;
	char buf[64];

	ck_assert_int_eq(plkv_cas(kv, "c", 1, "v", 1, 0, 0, 1), PLKV_ENOTFOUND);
	ck_assert_int_eq(plkv_store(kv, PLKV_SET, "c", 1, "v1", 2, 0, 0, 0,
				    &c1), 0);
	ut_get(kv, "c", buf, sizeof(buf), &m);
	ck_assert_uint_eq(m.cas, c1);
	ck_assert_int_eq(plkv_cas(kv, "c", 1, "v2", 2, 5, 0, c1 + 100),
			 PLKV_EEXISTS);
	ck_get_eq(kv, "c", "v1");
	ck_assert_int_eq(plkv_store(kv, PLKV_CAS, "c", 1, "v2", 2, 5, 0, c1,
				    &c2), 0);
	ck_assert_uint_ne(c1, c2);
	ck_get_eq(kv, "c", "v2");
	/* the old cas no longer matches */
	ck_assert_int_eq(plkv_cas(kv, "c", 1, "v3", 2, 5, 0, c1), PLKV_EEXISTS);
	ck_stats(kv, { "cas_misses", 1 }, { "cas_hits", 1 },
		 { "cas_badval", 2 });
}
END_TEST

START_TEST(cas_unique_per_store)
{
	uint64_t prev = 0, c;
	int i;

	for (i = 0; i < 200; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i % 7);
		ck_assert_int_eq(plkv_store(kv, PLKV_SET, k, strlen(k), "x", 1,
					    0, 0, 0, &c), 0);
		ck_assert_uint_gt(c, prev);
		prev = c;
	}
	ck_assert_int_eq(plkv_append(kv, "k1", 2, "y", 1), 0);
	{
		struct plkv_meta m;
		char b[16];

		ut_get(kv, "k1", b, sizeof(b), &m);
		ck_assert_uint_gt(m.cas, prev);
	}
}
END_TEST

START_TEST(incr_decr)
{
	uint64_t r;

	ck_assert_int_eq(plkv_incr(kv, "n", 1, 1, &r), PLKV_ENOTFOUND);
	ut_set(kv, "n", "10");
	ck_assert_int_eq(plkv_incr(kv, "n", 1, 5, &r), 0);
	ck_assert_uint_eq(r, 15);
	ck_get_eq(kv, "n", "15");
	ck_assert_int_eq(plkv_decr(kv, "n", 1, 100, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_get_eq(kv, "n", "0");
	ut_set(kv, "n", "18446744073709551615");
	ck_assert_int_eq(plkv_incr(kv, "n", 1, 2, &r), 0);
	ck_assert_uint_eq(r, 1);
	ck_get_eq(kv, "n", "1");
	ck_stats(kv, { "incr_hits", 2 }, { "incr_misses", 1 },
		 { "decr_hits", 1 });
	ck_store_ok(kv);
}
END_TEST

START_TEST(incr_length_change)
{
	uint64_t r;
	struct plkv_meta m1, m2;
	char b[32];

	ck_assert_int_eq(plkv_set(kv, "n", 1, "99", 2, 77, 500), 0);
	ut_get(kv, "n", b, sizeof(b), &m1);
	ck_assert_int_eq(plkv_incr(kv, "n", 1, 1, &r), 0);
	ck_get_eq(kv, "n", "100");
	ut_get(kv, "n", b, sizeof(b), &m2);
	ck_assert_uint_eq(m2.flags, 77);
	ck_assert_int_eq(m2.exptime, m1.exptime);
	ck_assert_uint_gt(m2.cas, m1.cas);
	ck_assert_int_eq(plkv_decr(kv, "n", 1, 1, &r), 0);
	ck_get_eq(kv, "n", "99");
	ck_assert_int_eq(plkv_incr(kv, "n", 1, 1, &r), 0);
	ck_get_eq(kv, "n", "100");
	/* same length: in place, new cas */
	ut_get(kv, "n", b, sizeof(b), &m1);
	ck_assert_int_eq(plkv_incr(kv, "n", 1, 1, &r), 0);
	ck_get_eq(kv, "n", "101");
	ut_get(kv, "n", b, sizeof(b), &m2);
	ck_assert_uint_gt(m2.cas, m1.cas);
	ck_store_ok(kv);
}
END_TEST

START_TEST(incr_nonnumeric)
{
	static const struct {
		const char *v;
		int ok;
		uint64_t n;
	} cases[] = {
		{ "abc", 0, 0 }, { "12abc", 0, 0 }, { "-5", 0, 0 },
		{ "", 0, 0 }, { "  12", 1, 12 }, { "+7", 1, 7 },
		{ "12 abc", 1, 12 }, { "99999999999999999999", 0, 0 },
		{ "0", 1, 0 }, { "-0", 1, 0 }, { "1\t", 1, 1 },
	};
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t r = 0;
		int rc;

		plkv_set(kv, "v", 1, cases[i].v, strlen(cases[i].v), 0, 0);
		rc = plkv_incr(kv, "v", 1, 1, &r);
		if (cases[i].ok) {
			ck_assert_msg(rc == 0, "'%s': %d", cases[i].v, rc);
			ck_assert_uint_eq(r, cases[i].n + 1);
		} else {
			ck_assert_msg(rc == PLKV_ENONNUMERIC, "'%s': %d",
				      cases[i].v, rc);
		}
	}
}
END_TEST

/* memcached's safe_strtoull() on a NUL-terminated string, as reference. */
static bool ref_strtoull(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return false;
	if (!(isspace((unsigned char)*end) || (*end == '\0' && end != s)))
		return false;
	if ((long long)v < 0 && memchr(s, '-', (size_t)(end - s)))
		return false;
	*out = v;
	return true;
}

/* plkv_parse_u64(), the one parser of values (incr) and plkvd's tokens,
 * agrees with memcached's on every string of a tricky alphabet, read
 * counted (no NUL needed) or up to a NUL. */
START_TEST(parse_u64_is_memcacheds)
{
	static const char alphabet[] = " \t\v+-0123456789x";
	static const char *const fixed[] = {
		"18446744073709551615", "18446744073709551616",
		"-18446744073709551615", "9223372036854775808", "-1", "-0",
		" \v", "\v", "", " ", "+", "-", "00000000000000000000001",
	};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char buf[32];

	for (unsigned i = 0; i < ARRAY_SIZE(fixed) + 20000; i++) {
		uint64_t a = 7, b = 7;
		const char *s = buf;
		bool ref, got;
		size_t n;

		if (i < ARRAY_SIZE(fixed)) {
			s = fixed[i];
		} else {
			n = (seed >> 59) % 24;
			for (size_t j = 0; j < n; j++) {
				seed ^= seed << 13;
				seed ^= seed >> 7;
				seed ^= seed << 17;
				buf[j] = alphabet[seed % (sizeof(alphabet) - 1)];
			}
			buf[n] = '\0';
		}
		ref = ref_strtoull(s, &a);
		got = plkv_parse_u64(s, strlen(s), &b) == 0;
		ck_assert_msg(ref == got, "'%s': memcached %d, plkv %d", s, ref,
			      got);
		if (ref)
			ck_assert_msg(a == b, "'%s': %llu vs %llu", s,
				      (unsigned long long)a,
				      (unsigned long long)b);
	}
	ck_assert_int_eq(plkv_parse_u64("12x", 2, &(uint64_t){ 0 }), 0);
	ck_assert_int_eq(plkv_parse_u64(NULL, 0, &(uint64_t){ 0 }),
			 PLKV_ENONNUMERIC);
}
END_TEST

START_TEST(delete_touch_gat)
{
	char buf[32];
	struct plkv_meta m;

	ck_assert_int_eq(plkv_delete(kv, "d", 1), PLKV_ENOTFOUND);
	ut_set(kv, "d", "v");
	ck_assert_int_eq(plkv_delete(kv, "d", 1), 0);
	ck_get_missing(kv, "d");
	ck_assert_int_eq(plkv_delete(kv, "d", 1), PLKV_ENOTFOUND);
	ck_assert_int_eq(plkv_touch(kv, "d", 1, 10), PLKV_ENOTFOUND);
	ut_set(kv, "d", "v");
	ck_assert_int_eq(plkv_touch(kv, "d", 1, 100), 0);
	ut_get(kv, "d", buf, sizeof(buf), &m);
	ck_assert_int_gt(m.exptime, 0);
	ck_assert_int_eq(plkv_gat(kv, "d", 1, 0, buf, sizeof(buf), &m), 0);
	ck_assert_int_eq(m.exptime, 0);
	ck_assert_int_eq(plkv_gat(kv, "zz", 2, 0, buf, sizeof(buf), &m),
			 PLKV_ENOTFOUND);
	ck_stats(kv, { "delete_hits", 1 }, { "delete_misses", 2 },
		 { "touch_hits", 2 }, { "touch_misses", 2 },
		 { "cmd_touch", 4 });
	ck_store_ok(kv);
}
END_TEST

START_TEST(etoosmall)
{
	struct plkv_meta m;
	char buf[8];

	ut_set(kv, "big", "0123456789abcdef");
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(plkv_get(kv, "big", 3, buf, sizeof(buf), &m),
			 PLKV_ETOOSMALL);
	ck_assert_uint_eq(m.len, 16);
	/* A buffer too small delivered nothing: no hit, no touch, no fetch;
	 * the retry counts once. */
	ck_assert_int_eq(plkv_gat(kv, "big", 3, 100, buf, sizeof(buf), &m),
			 PLKV_ETOOSMALL);
	ck_assert_int_eq(m.exptime, 0);
	ck_assert_uint_eq(m.fetched, 0);
	ck_stats(kv, { "get_hits", 0 }, { "cmd_get", 0 }, { "touch_hits", 0 });
	ck_assert_int_eq(plkv_get(kv, "big", 3, NULL, 0, &m), PLKV_ETOOSMALL);
	ck_assert_uint_eq(m.len, 16);
	/* A size query (no buffer) is a get, as memcached's mg without v. */
	ck_stats(kv, { "get_hits", 1 }, { "cmd_get", 1 });
}
END_TEST

/*
 * Another thread of the caller rewriting the array during a multi-get:
 * the library must place each value from the lengths it found, not from
 * what it wrote into the array (read back, a length planted there moved
 * the next value out of buf, here into the store's hash table).
 */
struct mget_race {
	struct plkv_mget_key *keys;
	size_t plant;
	atomic_bool stop;
};

static void *plant_length(void *arg)
{
	struct mget_race *r = arg;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed))
		((volatile struct plkv_mget_key *)r->keys)[0].meta.len =
			r->plant;
	return NULL;
}

START_TEST(mget_array_rewritten_meanwhile)
{
	struct plkv_mget_key keys[2] = {
		{ .key = "first", .klen = 5 }, { .key = "second", .klen = 6 },
	};
	char buf[64], fill[48];
	struct mget_race r = { .keys = keys };
	struct plkv_engine *e = eng(kv);
	pthread_t th;
	unsigned i;

	memset(fill, 'x', sizeof(fill));
	ck_assert_int_eq(plkv_set(kv, "first", 5, "1", 1, 0, 0), 0);
	ck_assert_int_eq(plkv_set(kv, "second", 6, fill, sizeof(fill), 0,
				  0), 0);
	/* where buf + used would land: the middle of the hash table */
	r.plant = (size_t)(kv->base + e->hash_tab[0] + 4096 - buf);
	ck_assert_int_eq(pthread_create(&th, NULL, plant_length, &r), 0);
	for (i = 0; i < 300000; i++) {
		ck_assert_int_eq(plkv_mget(kv, keys, 2, buf, sizeof(buf)), 0);
		ck_assert_int_eq(keys[1].rc, 0);
		ck_assert_uint_eq(keys[1].off, 1);
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	ck_store_ok(kv);
	ck_get_eq(kv, "second", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}
END_TEST

/*
 * A get without the stripe lock (ops.c: get_optimistic()) while another
 * thread stores the key again and again, in place (the same length) and
 * into new chunks (a new length, the old chunk freed and reused): every
 * value read is one whole value, its flags and length the ones stored
 * with it.  The writer sets flags = byte | len << 8.
 */
struct overwrite_race {
	atomic_bool stop;
	unsigned stores;
};

static void *overwrite_loop(void *arg)
{
	struct overwrite_race *r = arg;
	char val[1024];
	unsigned i;

	for (i = 0; !atomic_load_explicit(&r->stop, memory_order_relaxed);
	     i++) {
		unsigned char c = (unsigned char)('a' + i % 26);
		size_t len = i % 4 < 2 ? 1024 : 600;

		memset(val, c, len);
		ck_assert_int_eq(plkv_set(kv, "race", 4, val, len,
					  c | (uint32_t)len << 8, 0), 0);
		r->stores = i + 1;
	}
	return NULL;
}

START_TEST(get_sees_whole_values_while_overwritten)
{
	struct overwrite_race r = { .stores = 0 };
	struct plkv_meta m;
	unsigned char buf[1024];
	unsigned i, j, torn = 0;
	pthread_t th;

	ck_assert_int_eq(plkv_set(kv, "race", 4, "x", 1, 'x' | 1 << 8, 0), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, overwrite_loop, &r), 0);
	for (i = 0; i < 400000; i++) {
		ck_assert_int_eq(plkv_get(kv, "race", 4, buf, sizeof(buf), &m),
				 0);
		if (m.len != m.flags >> 8) {
			torn++;
			continue;
		}
		for (j = 0; j < m.len && buf[j] == (m.flags & 0xff); j++)
			;
		torn += j < m.len;
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	ck_assert_uint_eq(torn, 0);
	ck_assert_uint_gt(r.stores, 1000);	/* the race did happen */
	ck_store_ok(kv);
}
END_TEST

START_TEST(mget_partial)
{
	struct plkv_mget_key keys[5] = {
		{ .key = "a", .klen = 1 }, { .key = "missing", .klen = 7 },
		{ .key = "b", .klen = 1 }, { .key = "bad key", .klen = 7 },
		{ .key = "c", .klen = 1 },
	};
	char buf[12];

	ut_set(kv, "a", "AAAA");
	ut_set(kv, "b", "BBBBBBBBBB");	/* does not fit after a */
	ut_set(kv, "c", "CC");
	ck_assert_int_eq(plkv_mget(kv, keys, 5, buf, sizeof(buf)), 0);
	ck_assert_int_eq(keys[0].rc, 0);
	ck_assert_uint_eq(keys[0].off, 0);
	ck_assert_int_eq(memcmp(buf, "AAAA", 4), 0);
	ck_assert_int_eq(keys[1].rc, PLKV_ENOTFOUND);
	ck_assert_int_eq(keys[2].rc, PLKV_ETOOSMALL);
	ck_assert_uint_eq(keys[2].meta.len, 10);
	ck_assert_int_eq(keys[3].rc, PLKV_EBADKEY);
	ck_assert_int_eq(keys[4].rc, 0);
	ck_assert_uint_eq(keys[4].off, 4);
	ck_assert_int_eq(memcmp(buf + 4, "CC", 2), 0);
	/* b was not delivered: not a hit until the caller's retry */
	ck_assert_uint_eq(ut_stat(kv, "get_hits"), 2);
	ck_assert_uint_eq(ut_stat(kv, "get_misses"), 1);
	ck_get_eq(kv, "b", "BBBBBBBBBB");
	ck_assert_uint_eq(ut_stat(kv, "get_hits"), 3);
}
END_TEST

/*
 * A buffer just below the window with a capacity that wraps the address
 * space (SIZE_MAX: "as much as you have") covers the window: the value
 * would be copied over it (the trust region's handles start there).
 * Refused; a buffer that ends at the window's start is fine.
 */
START_TEST(capacity_reaching_the_window_refused)
{
	char *page = mmap((void *)(PLKV_WINDOW_LO - 4096), 4096,
			  PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);
	struct plkv_mget_key k = { .key = "big", .klen = 3 };
	char v[1000];
	struct plkv_meta m;

	ck_assert_ptr_eq(page, (void *)(PLKV_WINDOW_LO - 4096));
	memset(v, 'v', sizeof(v));
	ck_assert_int_eq(plkv_set(kv, "big", 3, v, sizeof(v), 0, 0), 0);
	ck_assert_int_eq(plkv_get(kv, "big", 3, page + 4000, SIZE_MAX, &m),
			 -EFAULT);
	ck_assert_int_eq(plkv_mget(kv, &k, 1, page + 4000, SIZE_MAX),
			 -EFAULT);
	ck_assert_int_eq(plkv_get(kv, "big", 3, page + 4096 - sizeof(v),
				  sizeof(v), &m), 0);
	ck_assert_int_eq(memcmp(page + 4096 - sizeof(v), v, sizeof(v)), 0);
	munmap(page, 4096);
	ck_store_ok(kv);
}
END_TEST

START_TEST(bad_arguments)
{
	char key251[252], buf[16];
	uint64_t r;

	memset(key251, 'k', sizeof(key251));
	ut_set(kv, "ok", "v");
	ck_assert_int_eq(plkv_set(kv, NULL, 1, "v", 1, 0, 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(kv, "", 0, "v", 1, 0, 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(kv, key251, 251, "v", 1, 0, 0),
			 PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(kv, key251, 250, "v", 1, 0, 0), 0);
	ck_assert_int_eq(plkv_set(kv, "a b", 3, "v", 1, 0, 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(kv, "a\nb", 3, "v", 1, 0, 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(kv, "a\x7f", 2, "v", 1, 0, 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(kv, "a\0b", 3, "v", 1, 0, 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_get(kv, "a b", 3, buf, sizeof(buf), NULL),
			 PLKV_EBADKEY);
	ck_assert_int_eq(plkv_delete(kv, "", 0), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_incr(kv, "x y", 3, 1, &r), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_touch(kv, NULL, 0, 1), PLKV_EBADKEY);
	ck_assert_int_eq(plkv_set(NULL, "k", 1, "v", 1, 0, 0), -EINVAL);
	ck_assert_int_eq(plkv_get(NULL, "k", 1, buf, 1, NULL), -EINVAL);
	ck_assert_int_eq(plkv_get(kv, "k", 1, NULL, 5, NULL), -EINVAL);
	ck_assert_int_eq(plkv_set(kv, "k", 1, NULL, 5, 0, 0), -EINVAL);
	ck_assert_int_eq(plkv_store(kv, 0, "k", 1, "v", 1, 0, 0, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(plkv_store(kv, 99, "k", 1, "v", 1, 0, 0, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(plkv_mget(kv, NULL, 3, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(plkv_stats(kv, "nope", NULL, NULL), -EINVAL);
	ck_assert_int_eq(plkv_check(NULL, NULL, 0), -EINVAL);
	/* nothing changed */
	ck_assert_uint_eq(ut_stat(kv, "curr_items"), 2);
	ck_assert_uint_eq(ut_stat(kv, "cmd_set"), 2);
	ck_get_eq(kv, "ok", "v");
	ck_store_ok(kv);
}
END_TEST

START_TEST(too_big)
{
	size_t n = (1 << 20) + 1;
	char *v = calloc(1, n);

	ck_assert_int_eq(plkv_set(kv, "b", 1, v, n, 0, 0), PLKV_ETOOBIG);
	ck_assert_int_eq(plkv_set(kv, "b", 1, v, n - 1, 0, 0), 0);
	ck_assert_int_eq(plkv_append(kv, "b", 1, "x", 1), PLKV_ETOOBIG);
	ck_assert_uint_eq(ut_stat(kv, "curr_items"), 1);
	free(v);
	ck_store_ok(kv);
}
END_TEST

/* Out-of-range create options: plkv_options_check() names the value and
 * its range, plkv_open() refuses them and creates nothing. */
START_TEST(options_out_of_range)
{
	static const struct {
		uint64_t mem_limit;
		uint32_t item_size_max, hash_power, chunk_min;
		double growth_factor;
		const char *msg;
	} bad[] = {
		{ 1 << 20, 0, 0, 0, 0, "memory limit 1 MiB: must be 2 MiB to 1 TiB" },
		{ 3ULL << 40, 0, 0, 0, 0, "memory limit 3 TiB" },
		{ 0, 512, 0, 0, 0, "item size limit 512 bytes" },
		{ 4 << 20, 3 << 20, 0, 0, 0, "at most half the memory limit" },
		{ 0, 0, 7, 0, 0, "hash power 7: must be 8 to 31" },
		{ 0, 0, 32, 0, 0, "hash power 32" },
		{ 0, 0, 0, 40, 0, "smallest chunk 40 bytes: must be 48 to 4096" },
		{ 0, 0, 0, 0, 1.0, "growth factor 1: must be 1.01 to 4" },
		{ 0, 0, 0, 0, 4.5, "growth factor 4.5" },
	};
	struct plkv_options o;
	char msg[160], name[80];
	plkv_t *h = NULL;
	size_t i;

	plkv_options_init(&o);
	ck_assert_int_eq(plkv_options_check(&o, msg, sizeof(msg)), 0);
	ck_assert_int_eq(plkv_options_check(NULL, msg, sizeof(msg)), -EINVAL);
	snprintf(name, sizeof(name), "%s-opts", seg_name);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		plkv_options_init(&o);
		o.backend = PLKV_BACKEND_USER;
		if (bad[i].mem_limit)
			o.mem_limit = bad[i].mem_limit;
		if (bad[i].item_size_max)
			o.item_size_max = bad[i].item_size_max;
		if (bad[i].hash_power)
			o.hash_power = bad[i].hash_power;
		if (bad[i].chunk_min)
			o.chunk_min = bad[i].chunk_min;
		if (bad[i].growth_factor)
			o.growth_factor = bad[i].growth_factor;
		ck_assert_int_eq(plkv_options_check(&o, msg, sizeof(msg)),
				 -EINVAL);
		ck_assert_msg(strstr(msg, bad[i].msg), "case %zu: '%s'", i, msg);
		ck_assert_int_eq(plkv_options_check(&o, NULL, 0), -EINVAL);
		ck_assert_int_eq(plkv_open(name, &o, &h), -EINVAL);
		ck_assert_ptr_null(h);
		ck_assert_int_eq(plkv_destroy(name, PLKV_BACKEND_USER), -ENOENT);
	}
}
END_TEST

/*
 * The key rule, checked 8 or 16 bytes at a time by the library, against the
 * rule byte by byte: every byte value at every position of keys on both
 * sides of each 8- and 16-byte boundary, the rest of the key valid (including
 * bytes >= 0x80, which memcached accepts).
 */
START_TEST(key_bytes_every_value_every_position)
{
	static const size_t lens[] = { 1, 2, 7, 8, 9, 15, 16, 17, 23, 24,
				       25, 31, 32, 33, 40, 250 };
	static const unsigned char edges[] = { 0x00, 0x20, 0x21, 0x7e, 0x7f,
					       0x80, 0xff };
	char key[ENG_KEY_MAX], v[8];
	struct plkv_meta m;
	size_t li, pos, i;
	unsigned b;
	int rc, want;

	for (li = 0; li < ARRAY_SIZE(lens); li++) {
		for (pos = 0; pos < lens[li]; pos++) {
			for (i = 0; i < lens[li]; i++)
				key[i] = (char)(i % 3 == 0 ? 0xc3 : 'a' + i % 26);
			for (b = 0; b < 256; b++) {
				key[pos] = (char)b;
				want = b <= 0x20 || b == 0x7f ? PLKV_EBADKEY
							      : PLKV_ENOTFOUND;
				rc = plkv_get(kv, key, lens[li], v, sizeof(v), &m);
				ck_assert_msg(rc == want, "length %zu, byte %#x "
					      "at %zu: %d, want %d", lens[li], b,
					      pos, rc, want);
			}
			/* the store's pass, which copies as it checks: the
			 * key kept is the key given */
			for (i = 0; i < ARRAY_SIZE(edges); i++) {
				key[pos] = (char)edges[i];
				want = edges[i] <= 0x20 || edges[i] == 0x7f ?
				       PLKV_EBADKEY : 0;
				rc = plkv_set(kv, key, lens[li], "v", 1, 0, 0);
				ck_assert_msg(rc == want, "set: length %zu, "
					      "byte %#x at %zu: %d, want %d",
					      lens[li], edges[i], pos, rc, want);
				if (rc)
					continue;
				ck_assert_int_eq(plkv_get(kv, key, lens[li], v,
							  sizeof(v), &m), 0);
				ck_assert_int_eq(plkv_delete(kv, key,
							     lens[li]), 0);
			}
		}
	}
}
END_TEST

/* The default store: the name given, else $PLKV_SEGMENT, else "plkv". */
START_TEST(segment_name_default)
{
	char *old = getenv("PLKV_SEGMENT");

	old = old ? strdup(old) : NULL;
	unsetenv("PLKV_SEGMENT");
	ck_assert_str_eq(plkv_segment_name(NULL), "plkv");
	ck_assert_str_eq(plkv_segment_name("mine"), "mine");
	setenv("PLKV_SEGMENT", "", 1);
	ck_assert_str_eq(plkv_segment_name(NULL), "plkv");
	setenv("PLKV_SEGMENT", "fromenv", 1);
	ck_assert_str_eq(plkv_segment_name(NULL), "fromenv");
	ck_assert_str_eq(plkv_segment_name("mine"), "mine");
	if (old)
		setenv("PLKV_SEGMENT", old, 1);
	else
		unsetenv("PLKV_SEGMENT");
	free(old);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		key_bytes_every_value_every_position, segment_name_default,
		set_get_basic, add_replace, append_prepend_keep_flags,
		cas_semantics, cas_unique_per_store, incr_decr,
		incr_length_change, incr_nonnumeric, parse_u64_is_memcacheds,
		delete_touch_gat,
		etoosmall, mget_partial, mget_array_rewritten_meanwhile,
		get_sees_whole_values_while_overwritten,
		capacity_reaching_the_window_refused,
		bad_arguments, too_big,
		options_out_of_range, NULL
	};

	return ut_main("commands", 30, ut_setup, tests);
}
