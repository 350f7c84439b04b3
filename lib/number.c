/* SPDX-License-Identifier: MIT */
/*
 * The one decimal parser of libplkv and plkvd: memcached's safe_strtoull()
 * rule, on a counted string.  Item values are not NUL-terminated (the
 * bytes after one are another item's), so strtoull() can't be used on
 * them; plkvd's tokens go through the same code so that a number the
 * protocol accepts is exactly one incr/decr would read from a value.
 */
#include <stdbool.h>
#include <stdint.h>

#include "plkv.h"

static inline bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');	/* isspace(), C locale */
}

PLKV_API int plkv_parse_u64(const char *s, size_t len, uint64_t *value)
{
	size_t i = 0, end;
	uint64_t v = 0;
	bool neg = false;

	if (!s || !value)
		return PLKV_ENONNUMERIC;
	while (i < len && is_space((unsigned char)s[i]))
		i++;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	end = i;
	while (end < len && s[end] >= '0' && s[end] <= '9') {
		unsigned d = (unsigned)(s[end] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return PLKV_ENONNUMERIC;	/* ERANGE */
		v = v * 10 + d;
		end++;
	}
	if (end == i)
		end = 0;		/* no digits: strtoull's endptr = s */
	/* What follows the number: a space, or the end of a number read. */
	if (end < len ? !is_space((unsigned char)s[end]) : end == 0)
		return PLKV_ENONNUMERIC;
	if (neg)
		v = (uint64_t)0 - v;
	if ((int64_t)v < 0 && neg)
		return PLKV_ENONNUMERIC;	/* a negative number */
	*value = v;
	return 0;
}
