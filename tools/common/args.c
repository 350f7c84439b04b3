// SPDX-License-Identifier: MIT
/*
 * Command-line values shared by plkvctl and plkvd (see args.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <plkv.h>

#include "args.h"

/* An empty --segment is no --segment, as an empty PLKV_SEGMENT. */
const char *plkv_arg_segment(const char *name)
{
	return plkv_segment_name(name && *name ? name : NULL);
}

int plkv_arg_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would take a sign (and wrap a '-') or leading blanks. */
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int plkv_arg_i64(const char *s, int64_t *out)
{
	long long v;
	char *end;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int plkv_arg_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int plkv_arg_mode(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || !*s || *end || v > 0777)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int plkv_arg_size(const char *s, uint64_t unit, uint64_t *out)
{
	static const char letters[] = "kmgt";
	const char *l;
	char *end;
	double v, mult = (double)unit;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))	/* !(>=): NaN too */
		return -EINVAL;
	l = *end ? strchr(letters, tolower((unsigned char)*end)) : NULL;
	if (l) {
		mult = (double)(1ull << (10 * (l - letters + 1)));
		end++;
		if (!strcasecmp(end, "ib") || !strcasecmp(end, "b"))
			end += strlen(end);
	} else if (!strcasecmp(end, "b")) {
		mult = 1;	/* "512b": bytes, whatever @unit */
		end++;
	}
	if (*end)
		return -EINVAL;
	v *= mult;
	if (v >= 18446744073709551616.0)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}
