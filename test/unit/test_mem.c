// SPDX-License-Identifier: MIT
/*
 * The library's own memory copies and formatting (lib/mem.h, lib/fmt.h),
 * which replace the C library's in code that runs with the key granted:
 * each must do exactly what memcpy(), memset() and snprintf() do, at every
 * length and alignment the engine can give them.
 */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "mem.h"
#include "unit/ut_run.h"

#define SPAN	(3 * 4096 + 64)

static unsigned char src[SPAN + 8], dst[SPAN + 64], want[SPAN + 64];

static void fill_random(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	srand(seed);
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)rand();
}

/* Every length to 600 and around each size class boundary of
 * plkv_copy_large() (AVX2 / SSE2 / rep movsb), at several alignments:
 * the bytes copied match, and no byte around them changed. */
START_TEST(copy_matches_memcpy)
{
	static const size_t big[] = { 1000, 2048, 4095, 4096, 4097, 8191,
				      SPAN };
	size_t n, k, off, doff;

	fill_random(src, sizeof(src), 1);
	for (k = 0; k < 600 + sizeof(big) / sizeof(big[0]); k++) {
		n = k < 600 ? k : big[k - 600];
		for (off = 0; off < 3; off++) {
			for (doff = 0; doff < 3; doff++) {
				fill_random(dst, sizeof(dst), (unsigned)k);
				memcpy(want, dst, sizeof(dst));
				memcpy(want + 1 + doff, src + off, n);
				plkv_copy(dst + 1 + doff, src + off, n);
				ck_assert_msg(!memcmp(dst, want, sizeof(dst)),
					      "len %zu off %zu/%zu", n, off,
					      doff);
			}
		}
	}
}
END_TEST

START_TEST(zero_matches_memset)
{
	size_t n, off;

	for (n = 0; n < 300; n++) {
		for (off = 0; off < 3; off++) {
			fill_random(dst, sizeof(dst), (unsigned)n);
			memcpy(want, dst, sizeof(dst));
			memset(want + 1 + off, 0, n);
			plkv_zero(dst + 1 + off, n);
			ck_assert_msg(!memcmp(dst, want, sizeof(dst)),
				      "len %zu off %zu", n, off);
		}
	}
}
END_TEST

/* (truncation is one of the things compared) */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define CK_FMT(cap, ...)						\
	do {								\
		char got_[64], exp_[64];				\
		int g_ = plkv_fmt(got_, (cap), __VA_ARGS__);		\
		int e_ = snprintf(exp_, (cap), __VA_ARGS__);		\
									\
		ck_assert_int_eq(g_, e_);				\
		if (cap)						\
			ck_assert_str_eq(got_, exp_);			\
	} while (0)

/* The conversions the engine uses, at their extremes, and truncation. */
START_TEST(fmt_matches_snprintf)
{
	size_t cap;

	for (cap = 0; cap < 40; cap += 7) {
		CK_FMT(cap, "item at off 0x%llx in bucket %llu",
		       0x123456789abcdefULL, ULLONG_MAX);
		CK_FMT(cap, "%u %d %d %lld %ld", UINT_MAX, INT_MIN, 0,
		       LLONG_MIN, -42L);
		CK_FMT(cap, "%x %lx %zu %c%%", 0u, 0xfeedUL, (size_t)77, 'q');
		CK_FMT(cap, "key '%.*s' twice; %s", 3, "abcdef", "settings");
		CK_FMT(cap, "%s%u:%s", "items:", 12u, "evicted");
	}
	CK_FMT(sizeof(char[64]), "%.*s|", 0, "abc");
}
END_TEST

START_TEST(fmt_u64_digits)
{
	char buf[24];
	int n;

	n = plkv_fmt_u64(buf, 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(buf[0], '0');
	n = plkv_fmt_u64(buf, UINT64_MAX);
	buf[n] = 0;
	ck_assert_str_eq(buf, "18446744073709551615");
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		copy_matches_memcpy,
		zero_matches_memset,
		fmt_matches_snprintf,
		fmt_u64_digits,
		NULL
	};
	Suite *s = suite_create("mem");
	TCase *tc = tcase_create("mem");

	ut_tcase_add(tc, tests);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
