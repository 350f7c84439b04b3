/* SPDX-License-Identifier: MIT */
/*
 * Calls that run on a stack of the library's own.
 *
 * In a process that opened a strict store, every call that grants the
 * key runs on one of its trust region's call stacks (linux/plkv.h): the
 * module's memory, tagged with the key, so that no other thread, no other
 * process sharing the caller's stack memory and no tracer can change the
 * call's frames while it runs.  Each such function's name is a stub here
 * that, in such a process, grants the key, claims a free call stack by
 * exchange, puts the claim's secret token in r15 (which the library's
 * code never uses: -ffixed-r15, and which no other thread can read),
 * moves to the stack with the caller's arguments and calls the function
 * itself (NAME__impl).  Every grant made inside checks that it runs on a
 * call stack whose token is in r15 (pkru.h), so a jump into the middle of
 * a call, with the address of another thread's stack, is killed.  At the
 * end the stub switches back, releases the stack, takes the key away and
 * restores the signal mask if the module deferred signals meanwhile (it
 * blocks them while a thread's stack pointer is on a call stack, so that
 * no handler runs inside a call).
 *
 * In other processes, and for a handle that is not protected, the stub
 * jumps straight to the function: three instructions more a call.
 */
#include <asm/unistd.h>

#include "calls_abi.h"

#define SIG_SETMASK	2
#define ENOMEM		12

/* WRPKRU with the key's bits cleared (grant) or its AD bit set (deny),
 * each checked after the write, as pkru.h's sequences (a near jump: the
 * form the module trusts). */
.macro GRANT
	xor	%ecx, %ecx
	rdpkru
	and	$PLKV_ASM_PKRU_KEY_CLEAR, %eax
	xor	%edx, %edx
	wrpkru
	test	$PLKV_ASM_PKRU_KEY, %eax
	{disp32} jnz plkv_pkru_violation
.endm

.macro DENY
	xor	%ecx, %ecx
	rdpkru
	or	$PLKV_ASM_PKRU_AD, %eax
	xor	%edx, %edx
	wrpkru
	test	$PLKV_ASM_PKRU_AD, %eax
	{disp32} jz plkv_pkru_violation
.endm

/*
 * name: the function's name; vis: global or hidden; prot: 1 when the first
 * argument is a handle (an unprotected one takes no key); prep: 1 when
 * the function enters the gate with it, so that the thread's record for
 * it is made (C library code) before the key is granted; nstack: its
 * arguments passed on the stack (after six in registers).
 */
.macro PLKV_CALL name, vis, prot, prep, nstack
	.text
	.globl	\name
	.ifc \vis, hidden
	.hidden	\name
	.endif
	.hidden	\name\()__impl
	.type	\name, @function
	.p2align 4
\name:
	cmpb	$0, plkv_owned_hint(%rip)
	je	\name\()__impl
	mov	%rsp, %rax
	movabs	$PLKV_ASM_CALL_STACKS_LO, %r11
	sub	%r11, %rax
	cmp	$PLKV_ASM_CALL_STACKS_SIZE, %rax
	jb	\name\()__impl		/* inside a call already */
	.if \prot
	movabs	$-PLKV_ASM_WINDOW_LO, %rax
	add	%rdi, %rax
	test	$PLKV_ASM_HANDLE_BITS, %rax
	jnz	\name\()__impl		/* no key for this handle */
	.endif
	jmp	.L\name\()_owned
	.size	\name, . - \name

	.pushsection plkv_gate, "ax"
.L\name\()_owned:
	push	%rdi
	push	%rsi
	push	%rdx
	push	%rcx
	push	%r8
	push	%r9
	sub	$8, %rsp		/* 16-byte aligned; (%rsp): a word */
.L\name\()_again:
	.if \prep
	mov	plkv_this_thread@gottpoff(%rip), %rax
	mov	%fs:(%rax), %rax	/* .last */
	mov	48(%rsp), %rdi
	cmp	%rdi, (%rax)		/* ->kv */
	je	.L\name\()_grant
	call	plkv_tls_prepare
	test	%rax, %rax
	jnz	.L\name\()_grant
	mov	$-ENOMEM, %eax
	add	$56, %rsp
	ret
	.endif
.L\name\()_grant:
	GRANT
	/* only in a process whose calls run on call stacks: elsewhere a jump
	 * here would run the call, granted, on the jumper's registers */
	movabs	$PLKV_ASM_TRUST_OWNED, %rcx
	cmpl	$0, (%rcx)
	je	plkv_pkru_violation
	/* the caller's stack: outside the window */
	lea	-PLKV_ASM_GRANT_STACK(%rsp), %rcx
	movabs	$PLKV_ASM_WINDOW_HI, %rdx
	cmp	%rdx, %rcx
	jae	.L\name\()_claim
	lea	4096(%rsp), %rcx
	movabs	$PLKV_ASM_WINDOW_LO, %rdx
	cmp	%rdx, %rcx
	ja	plkv_pkru_bad_stack
.L\name\()_claim:
	movabs	$PLKV_ASM_CALL_STACKS_LO, %r11
	mov	$PLKV_ASM_CALL_STACKS, %r10d
1:	mov	$1, %eax
	xchg	%eax, PLKV_ASM_HDR_CLAIM(%r11)
	test	%eax, %eax
	jz	2f
	add	$PLKV_ASM_CALL_STACK_SIZE, %r11
	dec	%r10d
	jnz	1b
	/* every stack in a call: without the key, let one finish */
	DENY
	mov	$__NR_sched_yield, %eax
	syscall
	jmp	.L\name\()_grant
2:	mov	%rsp, PLKV_ASM_HDR_SAVED_SP(%r11)
	mov	%r15, PLKV_ASM_HDR_SAVED_R15(%r11)
	movl	$0, PLKV_ASM_HDR_AGAIN(%r11)
	/* onto the stack first, the token after: a signal's frame, which
	 * holds r15, is written only where the stack pointer is, and not
	 * at all there (the module defers it) */
	lea	PLKV_ASM_CALL_STACK_SIZE(%r11), %rsp
	mov	PLKV_ASM_HDR_TOKEN(%r11), %r15
	mov	PLKV_ASM_HDR_SAVED_SP(%r11), %rax
	/* the caller's arguments: 6 pushed, then its return address and
	 * its stack arguments */
	.if \nstack & 1
	sub	$8, %rsp
	.endif
	.set	.Larg, \nstack
	.rept	\nstack
	push	56 + 8 * .Larg(%rax)	/* the last one first */
	.set	.Larg, .Larg - 1
	.endr
	mov	8(%rax), %r9
	mov	16(%rax), %r8
	mov	24(%rax), %rcx
	mov	32(%rax), %rdx
	mov	40(%rax), %rsi
	mov	48(%rax), %rdi
	call	\name\()__impl
	/* the token out of r15 before the stack pointer leaves (above);
	 * off the call stack, nothing is deferred any more */
	lea	-1(%rsp), %rcx
	and	$-PLKV_ASM_CALL_STACK_SIZE, %rcx
	mov	PLKV_ASM_HDR_SAVED_R15(%rcx), %r15
	mov	PLKV_ASM_HDR_SAVED_SP(%rcx), %rsp
	mov	%rax, %r8
	mov	PLKV_ASM_HDR_AGAIN(%rcx), %r9d
	mov	PLKV_ASM_HDR_DEFERRED(%rcx), %r11d
	mov	PLKV_ASM_HDR_SAVED_MASK(%rcx), %rdx
	mov	%rdx, (%rsp)
	movl	$0, PLKV_ASM_HDR_DEFERRED(%rcx)
	movl	$0, PLKV_ASM_HDR_CLAIM(%rcx)
	DENY
	test	%r11d, %r11d
	jz	3f
	mov	$__NR_rt_sigprocmask, %eax
	mov	$SIG_SETMASK, %edi
	mov	%rsp, %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
3:	test	%r9d, %r9d
	jnz	.L\name\()_again	/* the thread's record changed: redo */
	mov	%r8, %rax
	add	$56, %rsp
	ret
	.popsection
.endm

/* The public calls that enter the gate */
PLKV_CALL plkv_read,		global, 1, 1, 2
PLKV_CALL plkv_get,		global, 1, 1, 0
PLKV_CALL plkv_peek,		global, 1, 1, 0
PLKV_CALL plkv_mget,		global, 1, 1, 0
PLKV_CALL plkv_store,		global, 1, 1, 4
PLKV_CALL plkv_set,		global, 1, 1, 1
PLKV_CALL plkv_add,		global, 1, 1, 1
PLKV_CALL plkv_replace,		global, 1, 1, 1
PLKV_CALL plkv_append,		global, 1, 1, 0
PLKV_CALL plkv_prepend,		global, 1, 1, 0
PLKV_CALL plkv_cas,		global, 1, 1, 2
PLKV_CALL plkv_arith,		global, 1, 1, 1
PLKV_CALL plkv_delete,		global, 1, 1, 0
PLKV_CALL plkv_delete_cas,	global, 1, 1, 0
PLKV_CALL plkv_delete_ex,	global, 1, 1, 0
PLKV_CALL plkv_touch,		global, 1, 1, 0
PLKV_CALL plkv_flush_all,	global, 1, 1, 0
PLKV_CALL plkv_stats_reset,	global, 1, 1, 0
PLKV_CALL plkv_maintain,	global, 1, 1, 0
PLKV_CALL plkv_check,		global, 1, 1, 0
PLKV_CALL plkv_recover,		global, 1, 1, 0
PLKV_CALL plkv_info,		global, 1, 1, 0

/* The granted parts of calls that also run the caller's code or the C
 * library's (opening, closing, stats, dumps, the process list) */
PLKV_CALL plkv_open_attach,	hidden, 1, 0, 0
PLKV_CALL plkv_open_register,	hidden, 1, 1, 0
PLKV_CALL plkv_close_release,	hidden, 1, 1, 0
PLKV_CALL plkv_stats_collect,	hidden, 1, 1, 1
PLKV_CALL plkv_dump_stripe,	hidden, 1, 1, 0
PLKV_CALL plkv_procs_fill,	hidden, 1, 1, 0
PLKV_CALL plkv_kv_snapshot,	hidden, 1, 0, 0
PLKV_CALL plkv_trust_take,	hidden, 0, 0, 0
PLKV_CALL plkv_trust_give_back,	hidden, 1, 0, 0
PLKV_CALL plkv_tls_release,	hidden, 0, 0, 0
PLKV_CALL plkv_tls_destroy_granted, hidden, 0, 0, 0

	.section .note.GNU-stack, "", @progbits
