/* SPDX-License-Identifier: MIT */
/*
 * The calling thread's rights to the segment's protection key: libplkv's
 * only WRPKRU instructions, in the "plkv_gate" section so that the
 * stray-WRPKRU scan (scan.c) can tell them apart.  Below the gate and the
 * backends: both drop the key around the system calls they make inside a
 * call.
 */
#include <stdint.h>
#include <stdlib.h>

#include "handle.h"
#include "pkru.h"

#define GATE __attribute__((section("plkv_gate"), noinline))

GATE static uint32_t gate_rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

GATE static void gate_wrpkru(uint32_t pkru)
{
	__asm__ volatile(".byte 0x0f,0x01,0xef"
			 : : "a"(pkru), "c"(0), "d"(0) : "memory");
}

static inline uint32_t pkey_bits(int pkey)
{
	return 3u << (2 * pkey);
}

/* Grant the key to this thread (also used while opening). */
void plkv_gate_open(struct plkv *kv)
{
	if (kv->pkey > 0)
		gate_wrpkru(gate_rdpkru() & ~pkey_bits(kv->pkey));
}

void plkv_gate_close(struct plkv *kv)
{
	if (kv->pkey > 0)	/* access-disable: reads and writes fault */
		gate_wrpkru(gate_rdpkru() | (1u << (2 * kv->pkey)));
}

/*
 * A system call made inside a call drops the grant for its duration: work
 * the kernel does for the thread while it is in the kernel (io_uring
 * task_work completing a read, a signal frame) must not find the key
 * granted.  Returns whether the key was granted, for plkv_gate_resume().
 */
bool plkv_gate_suspend(struct plkv *kv)
{
	if (kv->pkey <= 0 || (gate_rdpkru() & pkey_bits(kv->pkey)))
		return false;
	plkv_gate_close(kv);
	return true;
}

void plkv_gate_resume(struct plkv *kv, bool granted)
{
	if (granted)
		plkv_gate_open(kv);
}

/* malloc and free may make a system call (brk, mmap, munmap). */
void *plkv_gate_calloc(struct plkv *kv, size_t n, size_t size)
{
	bool granted = plkv_gate_suspend(kv);
	void *p = calloc(n, size);

	plkv_gate_resume(kv, granted);
	return p;
}

void *plkv_gate_realloc(struct plkv *kv, void *p, size_t size)
{
	bool granted = plkv_gate_suspend(kv);
	void *q = realloc(p, size);

	plkv_gate_resume(kv, granted);
	return q;
}

void plkv_gate_free(struct plkv *kv, void *p)
{
	bool granted = plkv_gate_suspend(kv);

	free(p);
	plkv_gate_resume(kv, granted);
}
