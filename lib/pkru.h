/* SPDX-License-Identifier: MIT */
/*
 * The thread's rights to the segment's protection key, ERIM-style.
 *
 * Every protected store of a process uses key PLKV_PKEY (pkru.c
 * allocates exactly that number), so every WRPKRU in libplkv writes a
 * value computed from constants and is followed by a check of that value:
 * a grant must leave the key's bits clear, a revoke must leave its
 * access-disable bit set, else the process is killed
 * (plkv_pkru_violation()).  Jumping straight to a revoking WRPKRU with a
 * granting value therefore kills instead of returning with the key, and
 * no function takes the value to write from its caller.  The sequences
 * are inline; their WRPKRU instructions sit in the "plkv_gate" section
 * (a jump there and back) so that the stray-WRPKRU scan (scan.c) can tell
 * them from anyone else's.
 *
 * Whether to grant at all is decided by the handle's address: only a
 * handle in the trust region (trust.h) is protected.
 */
#ifndef PLKV_PKRU_H
#define PLKV_PKRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "trust.h"

#define PLKV_PKEY	15
#define PLKV_PKRU_AD	(1u << (2 * PLKV_PKEY))		/* access disable */
#define PLKV_PKRU_KEY	(3u << (2 * PLKV_PKEY))		/* AD | WD */
#define PLKV_PKRU_AD_ASM	0x40000000	/* PLKV_PKRU_AD, for asm */
#define PLKV_STR_(x)	#x
#define PLKV_STR(x)	PLKV_STR_(x)
_Static_assert(PLKV_PKRU_AD_ASM == PLKV_PKRU_AD, "PLKV_PKRU_AD_ASM");

PLKV_HIDDEN void plkv_pkru_violation(void) __attribute__((noreturn, cold));
/* Say why on stderr and die by SIGKILL: no handler runs, no return.  With
 * system calls only, for callers whose state is not to be trusted. */
PLKV_HIDDEN void plkv_kill_self(const char *why)
	__attribute__((noreturn, cold));
PLKV_HIDDEN void plkv_pkru_bad_stack(void) __attribute__((noreturn, cold));
PLKV_HIDDEN void plkv_pkru_off_call_stack(void)
	__attribute__((noreturn, cold));
PLKV_HIDDEN void plkv_pkru_foreign_call_stack(void)
	__attribute__((noreturn, cold));

/* The key, numbered PLKV_PKEY, for this process's protected stores:
 * allocated on first use, freed after the last (pkru.c), unless pinned:
 * the trust region is tagged with it for the process's life, and freed
 * the key would come back from pkey_alloc() granting the region (the
 * module kills that pkey_free()). */
PLKV_HIDDEN int plkv_pkey_acquire(void);
PLKV_HIDDEN void plkv_pkey_release(void);
PLKV_HIDDEN void plkv_pkey_pin(void);

static __attribute__((always_inline)) inline uint32_t plkv_rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

/*
 * The stack a granted thread may use: PLKV_GRANT_STACK below its stack
 * pointer and a page above it (a caller's stack arguments).  A jump to a
 * granting WRPKRU brings a stack pointer of its own; one in the window
 * would have the library's locals written over a store.
 */
#define PLKV_GRANT_STACK	(1u << 20)

/*
 * sp - PLKV_GRANT_STACK at or above the window, else sp + 4 KiB at or
 * below it (rcx and rdx are the sequence's own): the caller's stack,
 * which a process whose calls run on call stacks (PLKV_TRUST_OWNED) must
 * not grant on.  In the window, only on a call stack, with room left on
 * it, by the thread that claimed it: r15 holds the claim's token, which
 * no other thread can read (the library's code never uses r15:
 * -ffixed-r15).  Anything else is killed, not a push more.
 */
#define PLKV_GRANT_STACK_CHECK						\
		"lea -%c[stack](%%rsp), %%rcx\n\t"			\
		"movabs %[hi], %%rdx\n\t"				\
		"cmp %%rdx, %%rcx\n\t"					\
		"jae .Lplkv_out%=\n\t"					\
		"lea 4096(%%rsp), %%rcx\n\t"				\
		"movabs %[lo], %%rdx\n\t"				\
		"cmp %%rdx, %%rcx\n\t"					\
		"ja .Lplkv_in%=\n"					\
		".Lplkv_out%=:\n\t"					\
		"movabs %[owned], %%rcx\n\t"				\
		"cmpl $0, (%%rcx)\n\t"					\
		"jne plkv_pkru_off_call_stack\n\t"			\
		"jmp .Lplkv_sp%=\n"					\
		".Lplkv_in%=:\n\t"					\
		"movabs %[cs_lo], %%rdx\n\t"				\
		"mov %%rsp, %%rcx\n\t"					\
		"sub %%rdx, %%rcx\n\t"					\
		"cmp %[cs_size], %%rcx\n\t"				\
		"jae plkv_pkru_bad_stack\n\t"				\
		"mov %%ecx, %%edx\n\t"					\
		"and %[cs_low], %%edx\n\t"				\
		"cmp %[cs_margin], %%edx\n\t"				\
		"jb plkv_pkru_foreign_call_stack\n\t"			\
		"and %[cs_mask], %%rcx\n\t"				\
		"movabs %[cs_tok], %%rdx\n\t"				\
		"cmp (%%rdx,%%rcx), %%r15\n\t"				\
		"jne plkv_pkru_foreign_call_stack\n"			\
		".Lplkv_sp%=:\n\t"

/* rdpkru; eax OP= mask; wrpkru (in plkv_gate); check; back. */
#define PLKV_WRPKRU_CHECKED(op, mask_val, check_val, check_jcc, after)	\
	__asm__ volatile(						\
		"xor %%ecx, %%ecx\n\t"					\
		"rdpkru\n\t"						\
		op " %[mask], %%eax\n\t"				\
		"xor %%edx, %%edx\n\t"					\
		"jmp .Lplkv_wr%=\n\t"					\
		".pushsection plkv_gate, \"ax\"\n"			\
		".Lplkv_wr%=:\n\t"					\
		"wrpkru\n\t"						\
		"test %[check], %%eax\n\t"				\
		check_jcc " plkv_pkru_violation\n\t"			\
		after							\
		"jmp .Lplkv_back%=\n\t"					\
		".popsection\n"						\
		".Lplkv_back%=:"					\
		: "=&a"(eax), "=&d"(edx)				\
		: [mask] "i"(mask_val), [check] "i"(check_val),		\
		  [stack] "i"(PLKV_GRANT_STACK), [hi] "i"(PLKV_WINDOW_HI),	\
		  [lo] "i"(PLKV_WINDOW_LO), [owned] "i"(PLKV_TRUST_OWNED),	\
		  [cs_lo] "i"(PLKV_CALL_STACKS_LO),			\
		  [cs_size] "i"(PLKV_CALL_STACKS_SIZE),			\
		  [cs_low] "i"(PLKV_CALL_STACK_SIZE - 1),			\
		  [cs_margin] "i"(PLKV_CALL_STACK_MARGIN),		\
		  [cs_mask] "i"(-(long)PLKV_CALL_STACK_SIZE),		\
		  [cs_tok] "i"(PLKV_CALL_STACKS_LO +			\
			       offsetof(struct plkv_call_stack_hdr, token))	\
		: "rcx", "cc", "memory")

/* Grant: the key's bits must be clear after the write, and the stack
 * outside the window.  Not on a call stack, where the key is granted
 * already: its stub granted before it claimed the stack, and a thread
 * there without the key (a jump in) faults at its first push. */
static __attribute__((always_inline)) inline void plkv_pkru_grant(void)
{
	uint32_t eax, edx;

	if (plkv_on_call_stack())
		return;
	PLKV_WRPKRU_CHECKED("and", ~PLKV_PKRU_KEY, PLKV_PKRU_KEY, "jnz",
			    PLKV_GRANT_STACK_CHECK);
}

/* Revoke (access disable): the AD bit must be set after the write.  Not
 * on a call stack, which needs the key until its stub has left it. */
static __attribute__((always_inline)) inline void plkv_pkru_deny(void)
{
	uint32_t eax, edx;

	if (plkv_on_call_stack())
		return;
	PLKV_WRPKRU_CHECKED("or", PLKV_PKRU_AD, PLKV_PKRU_AD, "jz", "");
}

/*
 * Grant / revoke the key for kv's store, without the rest of the gate.
 * Granting returns the handle the code after it must use: checked again
 * after the WRPKRU, from the register itself, because a jump straight to
 * the WRPKRU skips the test before it and brings a handle of its own
 * (a forged one in the heap would make the library its deputy).
 */
static __attribute__((always_inline)) inline struct plkv *
plkv_gate_open(struct plkv *kv)
{
	if (plkv_kv_protected(kv)) {
		plkv_pkru_grant();
		__asm__ volatile("" : "+r"(kv));
		if (unlikely(!plkv_kv_protected(kv)))
			plkv_pkru_violation();
	}
	return kv;
}

static __attribute__((always_inline)) inline void
plkv_gate_close(const struct plkv *kv)
{
	if (plkv_kv_protected(kv))
		plkv_pkru_deny();
}

/*
 * A system call made inside a call drops the grant for its duration: work
 * the kernel does for the thread while it is in the kernel (io_uring
 * task_work completing a read, a signal frame) must not find the key
 * granted.  Taking the grant back is the one place a WRPKRU grants in the
 * middle of a call, so it must not work as a gadget either: suspending
 * parks the caller's frame address in the trust region, resuming checks
 * (with the key granted again) that the same frame is parked and retires
 * it, else the process is killed.  Both must be inlined into the same
 * function.  Returns whether the key was granted, for resume.
 */
#define plkv_gate_suspend(kv) plkv_gate_suspend_at(kv, \
	(uintptr_t)__builtin_frame_address(0))
#define plkv_gate_resume(granted) plkv_gate_resume_at(granted, \
	(uintptr_t)__builtin_frame_address(0))

/* (On a call stack the key stays: the system call's own output may be
 * there, and the module defers signals meanwhile; a strict store, the
 * only kind whose calls run there, refuses io_uring.) */
static __attribute__((always_inline)) inline bool
plkv_gate_suspend_at(const struct plkv *kv, uintptr_t frame)
{
	if (!plkv_kv_protected(kv) || plkv_on_call_stack() ||
	    (plkv_rdpkru() & PLKV_PKRU_AD))
		return false;
	plkv_trust_park(frame);
	plkv_pkru_deny();
	return true;
}

static __attribute__((always_inline)) inline void
plkv_gate_resume_at(bool granted, uintptr_t frame)
{
	if (granted) {
		plkv_pkru_grant();
		plkv_trust_unpark(frame);
	}
}

/* Memory for a call's own use, mapped and unmapped by system calls of
 * the library's own with the key dropped, not malloc()'s (trust.c). */
PLKV_HIDDEN void *plkv_gate_calloc(struct plkv *kv, size_t n, size_t size);
PLKV_HIDDEN void *plkv_gate_realloc(struct plkv *kv, void *p, size_t size);
PLKV_HIDDEN void plkv_gate_free(struct plkv *kv, void *p);

#endif /* PLKV_PKRU_H */
