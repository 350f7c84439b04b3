/* SPDX-License-Identifier: MIT */
/*
 * snprintf() for code that runs with the key granted, which may call
 * nothing outside libplkv (mem.h says why): the conversions the engine's
 * messages and stats use, %s %.*s %c %d %u %x with the l, ll and z
 * modifiers, and %%; no widths, flags or floating point.
 */
#ifndef PLKV_FMT_H
#define PLKV_FMT_H

#include <stdarg.h>
#include <stddef.h>

#include "compiler.h"

/* As vsnprintf(): the length the whole would have, NUL-terminated in buf
 * when cap > 0. */
PLKV_HIDDEN int plkv_vfmt(char *buf, size_t cap, const char *fmt,
			  va_list ap);
PLKV_HIDDEN int plkv_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* v's decimal digits at buf (room for 20), no NUL; their count. */
PLKV_HIDDEN int plkv_fmt_u64(char *buf, unsigned long long v);

#endif /* PLKV_FMT_H */
