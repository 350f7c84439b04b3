/* SPDX-License-Identifier: MIT */
/*
 * memcached protocol keys: 1-250 bytes, no space or control characters.
 * The entry checks them for calls that may store a key; reads check only
 * when a key is not found (see eng_get()): every key in the table passed
 * the check when it was stored.
 */
#ifndef PLKV_KEY_H
#define PLKV_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * memcached's key rule: no byte <= 0x20 (controls, space) and no 0x7f.
 * Eight bytes at a time: (w - 0x21..) & ~w has a high bit set exactly
 * where some byte is below 0x21 (for bounds up to 0x80, bytes >= 0x80
 * never flag), and the same test on w ^ 0x7f.. finds a 0x7f.  A key of 8
 * bytes or more ends with one overlapping load of its last 8; one of 16
 * or more goes 16 at a time where SSE2 is (every x86-64).
 */
static inline bool plkv_key_byte_bad(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

static inline uint64_t plkv_key_word_bad(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t d = w ^ (ones * 0x7f);

	return (((w - ones * 0x21) & ~w) | ((d - ones) & ~d)) &
	       0x8080808080808080ULL;
}

/*
 * Check the n key bytes at p and, unless dst is NULL, copy them there in
 * the same pass: a key a call stores is read from the caller's memory
 * once, and what was checked is what was copied (the last, overlapping
 * word rewrites bytes the one before it copied, and checks them too).
 */
static inline bool plkv_key_copy_ok(unsigned char *dst,
				    const unsigned char *p, size_t n)
{
	uint64_t w, bad = 0;
	size_t i;

#ifdef __SSE2__
	/* 16 at a time: a byte is good where max(c, 0x21) == c (unsigned)
	 * and c != 0x7f */
	if (n >= 16) {
		const __m128i low = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);
		__m128i good = _mm_set1_epi8(-1), dels = _mm_setzero_si128();

		for (i = 0;; i += 16) {
			__m128i v;

			if (i + 16 > n)
				i = n - 16;
			v = _mm_loadu_si128((const __m128i *)(p + i));
			if (dst)
				_mm_storeu_si128((__m128i *)(dst + i), v);
			good = _mm_and_si128(good, _mm_cmpeq_epi8(
					_mm_max_epu8(v, low), v));
			dels = _mm_or_si128(dels, _mm_cmpeq_epi8(v, del));
			if (i + 16 == n)
				break;
		}
		return _mm_movemask_epi8(_mm_andnot_si128(dels, good)) ==
		       0xffff;
	}
#endif
	if (n < 8) {
		for (i = 0; i < n; i++) {
			unsigned char c = p[i];

			if (plkv_key_byte_bad(c))
				return false;
			if (dst)
				dst[i] = c;
		}
		return true;
	}
	for (i = 0;; i += 8) {
		if (i + 8 > n)
			i = n - 8;
		memcpy(&w, p + i, 8);
		if (dst)
			memcpy(dst + i, &w, 8);
		bad |= plkv_key_word_bad(w);
		if (i + 8 == n)
			break;
	}
	return !bad;
}

static inline bool plkv_key_bytes_ok(const unsigned char *p, size_t n)
{
	return plkv_key_copy_ok(NULL, p, n);
}

/*
 * Two keys of n bytes equal?  Inline for the lookups of every call, where
 * memcmp() costs a call and a dispatch for keys that are mostly 10-40
 * bytes: 16 bytes at a time (SSE2, in every x86-64; memcmp() elsewhere),
 * the last 16 to 32 and shorter keys in two overlapping loads.
 */
static inline bool plkv_key_eq(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	uint64_t x, y, x2, y2;
	uint32_t u, v, u2, v2;
	size_t i;

#ifdef __SSE2__
	if (n >= 16) {
		for (i = 0; i + 32 < n; i += 16)
			if (_mm_movemask_epi8(_mm_cmpeq_epi8(
				_mm_loadu_si128((const __m128i *)(p + i)),
				_mm_loadu_si128((const __m128i *)(q + i)))) !=
			    0xffff)
				return false;
		/* the last 16 to 32 bytes: two loads that may overlap */
		return _mm_movemask_epi8(_mm_and_si128(
			_mm_cmpeq_epi8(
				_mm_loadu_si128((const __m128i *)(p + i)),
				_mm_loadu_si128((const __m128i *)(q + i))),
			_mm_cmpeq_epi8(
				_mm_loadu_si128((const __m128i *)(p + n - 16)),
				_mm_loadu_si128((const __m128i *)(q + n - 16)))))
		       == 0xffff;
	}
#else
	if (n >= 16)
		return memcmp(p, q, n) == 0;
#endif
	if (n >= 8) {
		memcpy(&x, p, 8);
		memcpy(&y, q, 8);
		memcpy(&x2, p + n - 8, 8);
		memcpy(&y2, q + n - 8, 8);
		return ((x ^ y) | (x2 ^ y2)) == 0;
	}
	if (n >= 4) {
		memcpy(&u, p, 4);
		memcpy(&v, q, 4);
		memcpy(&u2, p + n - 4, 4);
		memcpy(&v2, q + n - 4, 4);
		return ((u ^ v) | (u2 ^ v2)) == 0;
	}
	for (i = 0; i < n; i++)
		if (p[i] != q[i])
			return false;
	return true;
}

#endif /* PLKV_KEY_H */
