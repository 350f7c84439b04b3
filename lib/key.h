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

/*
 * memcached's key rule: no byte <= 0x20 (controls, space) and no 0x7f.
 * Eight bytes at a time: (w - 0x21..) & ~w has a high bit set exactly
 * where some byte is below 0x21 (for bounds up to 0x80, bytes >= 0x80
 * never flag), and the same test on w ^ 0x7f.. finds a 0x7f.  A key of 8
 * bytes or more ends with one overlapping load of its last 8.
 */
static inline bool plkv_key_bytes_ok(const unsigned char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t w, d, bad = 0;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			if (p[i] <= 0x20 || p[i] == 0x7f)
				return false;
		return true;
	}
	for (i = 0;; i += 8) {
		if (i + 8 > n)
			i = n - 8;
		memcpy(&w, p + i, 8);
		d = w ^ (ones * 0x7f);
		bad |= ((w - ones * 0x21) & ~w) | ((d - ones) & ~d);
		if (i + 8 == n)
			break;
	}
	return !(bad & highs);
}

#endif /* PLKV_KEY_H */
