/* SPDX-License-Identifier: MIT */
/*
 * The trust region (trust.c): where the library keeps what it trusts
 * about a protected store (the handle: segment address and size, backend,
 * slots), out of the client's reach.  See kmod/plkv_trust.c.
 *
 * Every segment the process maps, of either backend, lies in one window
 * of address space, after the trust region at its start.  Whether a
 * pointer may be handed to the library ("outside") is then a test against
 * constants, which needs no read of anything the client could change
 * (and no load at all).
 */
#ifndef PLKV_TRUST_H
#define PLKV_TRUST_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include <linux/plkv.h>

#include "compiler.h"

#define PLKV_WINDOW_LO		0x6a0000000000UL	/* above ASan's heap */
#define PLKV_WINDOW_HI		0x6e0000000000UL	/* 4 TiB */
/* Both powers of two (plkv_kv_protected()). */
#define PLKV_TRUST_HANDLES	16	/* protected opens per process */
#define PLKV_TRUST_HANDLE_SIZE	512
#define PLKV_TRUST_PARKED	1024	/* threads in a system call mid-call */
/* The handles first, so that a handle is "in the region, aligned". */
#define PLKV_TRUST_HANDLES_SIZE	(PLKV_TRUST_HANDLES * PLKV_TRUST_HANDLE_SIZE)
/* What a module without call stacks maps (PLKV_TRUST_MAX_SIZE_V1) */
#define PLKV_TRUST_SIZE_V1	(PLKV_TRUST_HANDLES_SIZE + \
				 PLKV_TRUST_PARKED * 8 + 4096)
/* A process that opened a strict store grants only on call stacks: this
 * word of the region (struct plkv_trust_region's owned) says so. */
#define PLKV_TRUST_OWNED_OFF	(PLKV_TRUST_HANDLES_SIZE + \
				 PLKV_TRUST_PARKED * 8 + PLKV_TRUST_HANDLES)
#define PLKV_TRUST_OWNED	(PLKV_WINDOW_LO + PLKV_TRUST_OWNED_OFF)
/* The call stacks (linux/plkv.h), after the rest */
#define PLKV_CALL_STACKS_LO	(PLKV_WINDOW_LO + PLKV_CALL_STACKS_OFF)
#define PLKV_CALL_STACKS_SIZE	(PLKV_CALL_STACKS * PLKV_CALL_STACK_SIZE)
#define PLKV_TRUST_SIZE		(PLKV_CALL_STACKS_OFF + PLKV_CALL_STACKS_SIZE)
/* A grant on a call stack needs this much of it left below */
#define PLKV_CALL_STACK_MARGIN	2048
#define PLKV_SEGS_LO		(PLKV_WINDOW_LO + (1UL << 30))

struct plkv;
struct plkv_backend_ops;

/*
 * A protected handle is one of the region's handle entries: any other
 * pointer (a copy in the heap, say) is treated as unprotected, and the
 * gate grants nothing for it.
 */
static inline bool plkv_kv_protected(const struct plkv *kv)
{
	/* in range and aligned, in one test: no bit outside those that
	 * number an entry */
	return !(((uintptr_t)kv - PLKV_WINDOW_LO) &
		 ~(uintptr_t)(PLKV_TRUST_HANDLES_SIZE -
			      PLKV_TRUST_HANDLE_SIZE));
}

/* Every byte of [p, p + len) in the segments' part of the window. */
static inline bool plkv_inside_window(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	return a >= PLKV_SEGS_LO && len <= PLKV_WINDOW_HI - a;
}

/*
 * No byte of [p, p + len) in the window, so in no segment: caller memory
 * must not lie in one, since the library reads keys and values and writes
 * results with the key granted, and a stray pointer passed in would let a
 * buggy client write (or read out) the store through the library.  NULL
 * passes (len is far below the window's start).  A range starting above
 * the window that wraps past the top of the address space is kernel space
 * before it could wrap round to the window (the copy faults); one
 * starting below it with a length that wraps (a capacity of SIZE_MAX just
 * below the window) does cover the window, and is refused.
 */
static inline bool plkv_outside_window(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	/* A constant length (a struct's): one unsigned compare, since
	 * [a, a + len) meets the window iff a + len - 1 - LO falls below
	 * HI - LO + len - 1; the sum wraps only above the window. */
	if (__builtin_constant_p(len) && len <= PLKV_WINDOW_LO)
		return a + (len - 1 - PLKV_WINDOW_LO) >=
		       PLKV_WINDOW_HI - PLKV_WINDOW_LO + len - 1;
	/* (a length up to LO cannot wrap from below HI) */
	return a >= PLKV_WINDOW_HI ||
	       (len <= PLKV_WINDOW_LO && a + len <= PLKV_WINDOW_LO);
}

/*
 * Whether the calling thread runs on one of the trust region's call
 * stacks, that is inside a call of a process whose calls run there
 * (calls.S): the key then stays granted until the call's stub switches
 * back to the caller's stack and takes it away itself.
 */
static __attribute__((always_inline)) inline bool plkv_on_call_stack(void)
{
	uintptr_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp - PLKV_CALL_STACKS_LO < PLKV_CALL_STACKS_SIZE;
}

/* The header of the call stack the thread runs on (plkv_on_call_stack()). */
static inline struct plkv_call_stack_hdr *plkv_call_stack(void)
{
	uintptr_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return (struct plkv_call_stack_hdr *)
		((sp - 1) & ~(uintptr_t)(PLKV_CALL_STACK_SIZE - 1));
}

/* Map (or find, and check with the module) this process's region. */
PLKV_HIDDEN int plkv_trust_attach(void);
/* Whether this process (not a parent before fork) mapped the region. */
PLKV_HIDDEN bool plkv_trust_mine(void);
/* Move a handle built on the heap into the region (*out), as a store of
 * the module's: -EMFILE when all PLKV_TRUST_HANDLES are in use, -EIO
 * when the module does not confirm the segment's mapping. */
PLKV_HIDDEN int plkv_trust_publish(const struct plkv *staged,
				   struct plkv **out);
/* Copy a protected handle out and free its entry. */
PLKV_HIDDEN void plkv_trust_unpublish(struct plkv *kv, struct plkv *out);
/* A copy of the handle, read with the key granted: for code outside a
 * call that needs a field or two (close, thread exit). */
PLKV_HIDDEN void plkv_kv_snapshot(const struct plkv *kv, struct plkv *out);
/* Map a segment (fd, offset 0, MAP_SHARED) in the window. */
PLKV_HIDDEN void *plkv_window_map(uint64_t size, int prot, int fd);
/* Record / retire the frame of a thread that leaves the key for a system
 * call inside a call (pkru.h), with the key granted. */
PLKV_HIDDEN void plkv_trust_park(uintptr_t frame);
PLKV_HIDDEN void plkv_trust_unpark(uintptr_t frame);
/* From now on this process's calls run on the region's call stacks, if it
 * has them (with the key granted: a strict store's open). */
PLKV_HIDDEN void plkv_trust_own_calls(void);
/* A hint for the calls' stubs (calls.S), which the client can change:
 * the word in the region is what the gate checks. */
extern PLKV_HIDDEN unsigned char plkv_owned_hint;

#endif /* PLKV_TRUST_H */
