/* SPDX-License-Identifier: MIT */
/*
 * Stray WRPKRU detection, in the manner of ERIM: a process that can
 * execute WRPKRU (0F 01 EF) or XRSTOR (0F AE /5, which also loads PKRU)
 * outside libplkv's gate can grant itself the segment's key.  At open we
 * scan the executable mappings for those byte sequences.  libplkv's own
 * WRPKRU instructions (pkru.h's checked sequences, inlined at each gate)
 * live in the "plkv_gate" section and are skipped.  The C library
 * and the dynamic loader are skipped too: glibc's pkey_set() and the
 * loader's lazy-binding trampoline (XRSTOR) are in every process; trusting
 * them is a documented limit.  A statically linked program carries that
 * trampoline in its own text: its one instruction, "xrstor 0x40(%rsp)",
 * is trusted there too (a copy of it gives nothing the loader's own does
 * not).  Byte sequences that straddle instruction boundaries are counted
 * as well: the scan errs on the side of reporting.
 */
#include <stdio.h>
#include <string.h>
#include <stdint.h>

#include "backend.h"

/* Hidden: exported, they would hand any client the gate's address
 * range (ld merges the visibility of references into the symbols it
 * makes for a section). */
extern const char __start_plkv_gate[]
	__attribute__((weak, visibility("hidden")));
extern const char __stop_plkv_gate[]
	__attribute__((weak, visibility("hidden")));

static int trusted_object(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "ld-linux", 8) ||
	       !strncmp(base, "libc-", 5) || !strcmp(base, "[vdso]") ||
	       !strcmp(base, "[vsyscall]");
}

/*
 * glibc's _dl_runtime_resolve_xsave{,c}: xrstor 0x40(%rsp).  volatile:
 * folded into one compare, the bytes would become an immediate operand
 * in our own text, itself a stray XRSTOR.
 */
static const volatile unsigned char loader_xrstor[] = {
	0x0f, 0xae, 0x6c, 0x24, 0x40
};

static int is_loader_xrstor(const unsigned char *p, const unsigned char *hi)
{
	size_t i;

	if (p + sizeof(loader_xrstor) > hi)
		return 0;
	for (i = 0; i < sizeof(loader_xrstor); i++)
		if (p[i] != loader_xrstor[i])
			return 0;
	return 1;
}

static int is_xrstor(const unsigned char *p)
{
	/* 0F AE with ModRM reg field 5, memory operand (mod != 3). */
	return p[0] == 0x0f && p[1] == 0xae && ((p[2] >> 3) & 7) == 5 &&
	       (p[2] >> 6) != 3;
}

static unsigned scan_range(const unsigned char *lo, const unsigned char *hi)
{
	const unsigned char *gate_lo = (const unsigned char *)__start_plkv_gate;
	const unsigned char *gate_hi = (const unsigned char *)__stop_plkv_gate;
	const unsigned char *p;
	unsigned n = 0;

	for (p = lo; p + 3 <= hi; p++) {
		if (p[0] != 0x0f)
			continue;
		if (!((p[1] == 0x01 && p[2] == 0xef) || is_xrstor(p)))
			continue;
		if (p >= gate_lo && p < gate_hi)
			continue;
		if (is_loader_xrstor(p, hi))
			continue;
		n++;
	}
	return n;
}

unsigned plkv_scan_wrpkru(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096], perms[8], path[4096];
	unsigned long lo, hi;
	unsigned n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095[^\n]", &lo, &hi,
			   perms, path) < 3)
			continue;
		/* Only readable executable mappings can be scanned;
		 * execute-only text is reported as unknown by nothing. */
		if (perms[0] != 'r' || perms[2] != 'x')
			continue;
		if (trusted_object(path))
			continue;
		n += scan_range((const unsigned char *)lo,
				(const unsigned char *)hi);
	}
	fclose(f);
	return n;
}
