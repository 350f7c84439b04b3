// SPDX-License-Identifier: MIT
/*
 * Hash table growth: enough inserts to trigger several incremental
 * expansions, reading everything back while the table is expanding,
 * plkv_check() in the middle of an expansion, and the stats that show it.
 */
#include "ut_suite.h"
#include "key.h"

static void setup_small_hash(void)
{
	struct plkv_options o = ut_opts(64);

	plkv_test_time_offset = 0;
	o.hash_power = 8;
	kv = ut_open(&o);
}

static void key_of(unsigned i, char *k, size_t n)
{
	snprintf(k, n, "grow:%u", i);
}

static int count_cb(void *arg, const struct plkv_dump_item *it)
{
	unsigned *n = arg;

	(*n)++;
	return it->klen ? 0 : 1;
}

static void read_all(unsigned n)
{
	char k[32], want[32], b[64];
	unsigned i;

	for (i = 0; i < n; i++) {
		key_of(i, k, sizeof(k));
		snprintf(want, sizeof(want), "v%u", i);
		ck_assert_msg(ut_get(kv, k, b, sizeof(b), NULL) == 0,
			      "%s unreachable (power %llu, expanding %llu)", k,
			      (unsigned long long)ut_stat(kv, "hash_power_level"),
			      (unsigned long long)ut_stat(kv, "hash_is_expanding"));
		ck_assert_str_eq(b, want);
	}
}

START_TEST(grows_incrementally)
{
	unsigned i, n = 20000, expansions_seen = 0, checked = 0;
	uint64_t p0 = ut_stat(kv, "hash_power_level"), last = 0;
	char k[32], v[32];

	ck_assert_uint_eq(p0, 8);
	ck_assert_uint_eq(ut_stat(kv, "hash_bytes"), 8 << 8);
	for (i = 0; i < n; i++) {
		uint64_t exp;

		key_of(i, k, sizeof(k));
		snprintf(v, sizeof(v), "v%u", i);
		ck_assert_int_eq(ut_set(kv, k, v), 0);
		exp = ut_stat(kv, "hash_is_expanding");
		if (exp && !last) {
			expansions_seen++;
			/* Mid-expansion: both tables are consulted. */
			if (checked++ < 4) {
				unsigned nd = 0;

				ck_store_ok(kv);
				ck_assert_int_eq(plkv_dump(kv, count_cb, &nd), 0);
				ck_assert_uint_eq(nd, i + 1);
				read_all(i + 1);
			}
		}
		last = exp;
	}
	while (ut_stat(kv, "hash_is_expanding"))
		plkv_maintain(kv, 64);
	ck_assert_uint_ge(expansions_seen, 5);
	ck_assert_uint_ge(ut_stat(kv, "hash_power_level"), 13);
	ck_assert_uint_eq(ut_stat(kv, "hash_bytes"),
			  8ULL << ut_stat(kv, "hash_power_level"));
	/* load stays at or under 1.5 + what one expansion lags */
	ck_assert_uint_le(n, 3ULL << ut_stat(kv, "hash_power_level"));
	read_all(n);
	ck_store_ok(kv);
}
END_TEST

START_TEST(expansion_is_bounded_per_op)
{
	struct plkv_engine *e = eng(kv);
	char k[32];
	unsigned i;

	/* Fill to just past the trigger, then watch the cursor advance by
	 * at most ENG_GROW_STEP buckets per call. */
	for (i = 0; !HS_EXPANDING(atomic_load(&e->hash_state)); i++) {
		key_of(i, k, sizeof(k));
		ck_assert_int_eq(ut_set(kv, k, "v"), 0);
	}
	ck_assert_uint_eq(i, (3 << 8) / 2 + 1);
	for (;;) {
		uint64_t before = atomic_load(&e->hash_state), after;

		if (!HS_EXPANDING(before))
			break;
		ck_get_eq(kv, "grow:0", "v");
		after = atomic_load(&e->hash_state);
		if (HS_EXPANDING(after))
			ck_assert_uint_le(HS_BUCKET(after) - HS_BUCKET(before),
					  ENG_GROW_STEP);
	}
	ck_assert_uint_eq(HS_POWER(atomic_load(&e->hash_state)), 9);
	ck_store_ok(kv);
}
END_TEST

START_TEST(deletes_during_expansion)
{
	struct plkv_engine *e = eng(kv);
	char k[32];
	unsigned i, n;

	for (i = 0; !HS_EXPANDING(atomic_load(&e->hash_state)); i++) {
		key_of(i, k, sizeof(k));
		ut_set(kv, k, "v");
	}
	n = i;
	for (i = 0; i < n; i += 2) {
		key_of(i, k, sizeof(k));
		ck_assert_int_eq(plkv_delete(kv, k, strlen(k)), 0);
	}
	for (i = 0; i < n; i++) {
		char b[8];

		key_of(i, k, sizeof(k));
		ck_assert_int_eq(ut_get(kv, k, b, sizeof(b), NULL),
				 i % 2 ? 0 : PLKV_ENOTFOUND);
	}
	ck_store_ok(kv);
}
END_TEST

/*
 * The lookups' inline key compare agrees with memcmp() at every key
 * length, for a difference at every position (each load width, the
 * overlapping tails), and reads nothing past the n bytes: the keys sit at
 * the end of their buffers, so ASan sees any overread.
 */
START_TEST(key_compare_matches_memcmp)
{
	unsigned char *a = malloc(ENG_KEY_MAX), *b = malloc(ENG_KEY_MAX);
	size_t n, i;

	ck_assert(a && b);
	for (n = 1; n <= ENG_KEY_MAX; n++) {
		unsigned char *x = a + ENG_KEY_MAX - n, *y = b + ENG_KEY_MAX - n;

		for (i = 0; i < n; i++)
			x[i] = y[i] = (unsigned char)('!' + (i * 7 + n) % 90);
		ck_assert_msg(plkv_key_eq(x, y, n), "equal, n=%zu", n);
		for (i = 0; i < n; i++) {
			y[i] ^= 0x20;
			ck_assert_msg(!plkv_key_eq(x, y, n),
				      "differs at %zu, n=%zu", i, n);
			ck_assert_int_ne(memcmp(x, y, n), 0);
			y[i] ^= 0x20;
		}
	}
	free(a);
	free(b);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		grows_incrementally, expansion_is_bounded_per_op,
		deletes_during_expansion, key_compare_matches_memcmp, NULL
	};

	return ut_main("hash", 120, setup_small_hash, tests);
}
