/* SPDX-License-Identifier: MIT */
/*
 * Copying and zeroing memory with the key granted (comparing keys:
 * key.h's plkv_key_eq()).
 *
 * libplkv calls nothing outside itself while it holds the key: a function
 * reached through a C library symbol (memcpy, memset...) may be
 * the client's own, since the program or LD_PRELOAD can define one, and it
 * would run with the segment open to it
 * (test/selftests/granted_calls.c).  So the engine uses these, inline,
 * and the library is built with -fno-tree-loop-distribute-patterns so the
 * compiler does not turn their loops back into such calls.  They move 16
 * bytes at a time with SSE2 (every x86-64 has it), overlapping the last
 * block instead of finishing byte by byte, as the C library's do; a copy
 * over 256 bytes is mem.c's.
 */
#ifndef PLKV_MEM_H
#define PLKV_MEM_H

#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

static inline __m128i plkv_ld16(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

static inline void plkv_st16(void *p, __m128i v)
{
	_mm_storeu_si128((__m128i *)p, v);
}

/* Fewer than 16 bytes, as two (overlapping) words of the largest size
 * that fits. */
static __attribute__((always_inline)) inline void
plkv_copy_small(unsigned char *d, const unsigned char *s, size_t n)
{
	uint64_t a, b;
	uint32_t u, v;

	if (n >= 8) {
		__builtin_memcpy(&a, s, 8);
		__builtin_memcpy(&b, s + n - 8, 8);
		__builtin_memcpy(d, &a, 8);
		__builtin_memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		__builtin_memcpy(&u, s, 4);
		__builtin_memcpy(&v, s + n - 4, 4);
		__builtin_memcpy(d, &u, 4);
		__builtin_memcpy(d + n - 4, &v, 4);
	} else if (n) {
		unsigned char x = s[0], y = s[n / 2], z = s[n - 1];

		d[0] = x;
		d[n / 2] = y;
		d[n - 1] = z;
	}
}

/* Over 256 bytes (mem.c): 32 bytes at a time where the CPU has AVX2,
 * and from 4 KiB on "rep movsb", which copies whole lines. */
PLKV_HIDDEN void plkv_copy_large(void *dst, const void *src, size_t n);

/* 16 bytes or more, 32 at a time, the last 16 overlapping. */
static __attribute__((always_inline)) inline void
plkv_copy_sse2(unsigned char *d, const unsigned char *s, size_t n)
{
	__m128i tail = plkv_ld16(s + n - 16);
	size_t i;

	if (n > 32) {
		for (i = 0; i + 32 < n; i += 32) {
			__m128i a = plkv_ld16(s + i), b = plkv_ld16(s + i + 16);

			plkv_st16(d + i, a);
			plkv_st16(d + i + 16, b);
		}
		if (i + 16 < n)
			plkv_st16(d + i, plkv_ld16(s + i));
	} else {
		plkv_st16(d, plkv_ld16(s));
	}
	plkv_st16(d + n - 16, tail);
}

/* memcpy(): the ranges must not overlap. */
static __attribute__((always_inline)) inline void
plkv_copy(void *dst, const void *src, size_t n)
{
	if (n < 16) {
		plkv_copy_small(dst, src, n);
		return;
	}
	if (unlikely(n > 256)) {
		plkv_copy_large(dst, src, n);
		return;
	}
	plkv_copy_sse2(dst, src, n);
}

/* memset(p, 0, n). */
static inline void plkv_zero(void *p, size_t n)
{
	unsigned char *d = p;
	__m128i z = _mm_setzero_si128();
	size_t i;

	if (n < 16) {
		for (i = 0; i < n; i++) {
			d[i] = 0;
			__asm__("" ::: "memory");	/* stays a loop */
		}
		return;
	}
	for (i = 0; i + 16 < n; i += 16)
		plkv_st16(d + i, z);
	plkv_st16(d + n - 16, z);
}

#endif /* PLKV_MEM_H */
