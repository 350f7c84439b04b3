/* SPDX-License-Identifier: MIT */
/* Error strings: each PLKV_E* message begins with the code's name, as
 * LMDB's do, so logs say exactly which code came back.  Also the text of
 * a failed open, which the backends set: a leaf every layer may call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

static const char *const plkv_errstr[] = {
	[PLKV_EFIRST - PLKV_ENOTFOUND] =
		"PLKV_ENOTFOUND: no such key",
	[PLKV_EFIRST - PLKV_ENOTSTORED] =
		"PLKV_ENOTSTORED: item not stored (add/replace/append/prepend condition not met)",
	[PLKV_EFIRST - PLKV_EEXISTS] =
		"PLKV_EEXISTS: item modified since it was read (cas mismatch)",
	[PLKV_EFIRST - PLKV_ETOOBIG] =
		"PLKV_ETOOBIG: object too large for cache",
	[PLKV_EFIRST - PLKV_ENOMEM] =
		"PLKV_ENOMEM: out of memory storing object",
	[PLKV_EFIRST - PLKV_EBADKEY] =
		"PLKV_EBADKEY: key empty, longer than 250 bytes, or with space or control characters",
	[PLKV_EFIRST - PLKV_ENONNUMERIC] =
		"PLKV_ENONNUMERIC: cannot increment or decrement non-numeric value",
	[PLKV_EFIRST - PLKV_ETOOSMALL] =
		"PLKV_ETOOSMALL: buffer too small for the value",
	[PLKV_EFIRST - PLKV_ECORRUPT] =
		"PLKV_ECORRUPT: store invariant violated",
	[PLKV_EFIRST - PLKV_EVERSION] =
		"PLKV_EVERSION: segment format or module ABI version mismatch",
	[PLKV_EFIRST - PLKV_EWRPKRU] =
		"PLKV_EWRPKRU: stray WRPKRU/XRSTOR instructions in this process (on a strict store: more than the debug registers can watch; libplkv's own count unless its file is root's)",
	[PLKV_EFIRST - PLKV_EBADSEG] =
		"PLKV_EBADSEG: not a valid plkv segment or segment name",
	[PLKV_EFIRST - PLKV_ENOMODULE] =
		"PLKV_ENOMODULE: /dev/plkv is missing: load plkv.ko (modprobe plkv or insmod kmod/plkv.ko)",
	[PLKV_EFIRST - PLKV_EOWNER] =
		"PLKV_EOWNER: the store belongs to another user (neither you nor root); refused unless trusted explicitly",
};

PLKV_API const char *plkv_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err <= PLKV_EFIRST && err >= PLKV_ELAST)
		return plkv_errstr[PLKV_EFIRST - err];
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

PLKV_API const char *plkv_version(void)
{
	return PLKV_VERSION_STRING;
}

/* What the last failed plkv_open() of this thread found wrong. */
static __thread char open_error[160];

PLKV_API const char *plkv_open_error(void)
{
	return open_error[0] ? open_error : NULL;
}

void plkv_clear_open_error(void)
{
	open_error[0] = '\0';
}

void plkv_set_open_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_error, sizeof(open_error), fmt, ap);
	va_end(ap);
}
