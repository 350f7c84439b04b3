/* SPDX-License-Identifier: MIT */
/*
 * Command-line values both tools take (plkvctl, plkvd): the store's name
 * and numbers, sizes and modes, parsed one way so the tools agree.
 *
 * The parsers return 0 or -EINVAL (-ERANGE for a size past 64 bits) and
 * write *out only on success.
 */
#ifndef PLKV_ARGS_H
#define PLKV_ARGS_H

#include <stdint.h>

/* @name unless NULL or empty, else $PLKV_SEGMENT unless empty, else "plkv". */
const char *plkv_arg_segment(const char *name);

/* Decimal, no sign. */
int plkv_arg_u64(const char *s, uint64_t *out);
int plkv_arg_i64(const char *s, int64_t *out);
int plkv_arg_double(const char *s, double *out);
/* Octal permission bits, at most 0777. */
int plkv_arg_mode(const char *s, uint32_t *out);
/*
 * "64m", "1.5G", "512KiB", "4096b": binary units, case-insensitive, with
 * an optional "B" or "iB" after the letter; a bare number counts @unit
 * bytes each.
 */
int plkv_arg_size(const char *s, uint64_t unit, uint64_t *out);

#endif /* PLKV_ARGS_H */
