/*
 * gate_jump.h - a jump into the middle of libplkv's gate (gate_attack.c,
 * call_stacks.c): to each WRPKRU of its plkv_gate section, linked into
 * these static tests, with a value that grants the key.
 */
#ifndef PLKV_GATE_JUMP_H
#define PLKV_GATE_JUMP_H

#include "harness.h"	/* first: it defines _GNU_SOURCE */

#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "core.h"
#include "pkru.h"

/* libplkv's gate section, linked into the static test. */
extern const unsigned char __start_plkv_gate[] __attribute__((weak));
extern const unsigned char __stop_plkv_gate[] __attribute__((weak));

static char *probe_addr;	/* the attacker's segment: a global, so no
				 * pointer to it lies on the stack it hands
				 * to the gadget */

/* Where control lands if the gadget returns: 42 if the key is granted
 * (the write below then succeeds), 0 if not (the write faults). */
__attribute__((noreturn, used)) static void gadget_returned(void)
{
	if (!(plkv_rdpkru() & PLKV_PKRU_KEY)) {
		*(volatile char *)probe_addr = 0x42;
		syscall(SYS_exit_group, 42);
	}
	syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

/*
 * Jump to site with EAX granting the key, ECX = EDX = 0, every other
 * register (and every word of a fresh stack, whose top is the address of
 * gadget_returned()) set to fill: an attacker who knows the library's
 * code and calls into the middle of it, with nothing (0) or with a handle
 * of its own making wherever the code might look for one.  With at, the
 * stack pointer is at, and nothing is written there.
 */
__attribute__((noreturn, unused)) static void
jump_granting(const void *site, uint64_t fill, uint64_t *at)
{
	size_t sz = 1 << 20, i;
	uint64_t *stack, *top;

	if (at) {
		top = at;	/* the attacker may not be able to write it */
	} else {
		stack = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		top = stack + sz / 8 - 512;
		for (i = 0; i < sz / 8; i++)
			stack[i] = fill;
		top[0] = (uint64_t)(uintptr_t)gadget_returned;
	}
	/* (set after every call: a call may clobber them, mmap() does) */
	register const void *target __asm__("r11") = site;
	register uint64_t f __asm__("r12") = fill;
	__asm__ volatile(
		"mov %[top], %%rsp\n\t"
		"mov %%r12, %%rbx\n\t"
		"mov %%r12, %%rbp\n\t"
		"mov %%r12, %%rsi\n\t"
		"mov %%r12, %%rdi\n\t"
		"mov %%r12, %%r8\n\t"
		"mov %%r12, %%r9\n\t"
		"mov %%r12, %%r10\n\t"
		"mov %%r12, %%r13\n\t"
		"mov %%r12, %%r14\n\t"
		"mov %%r12, %%r15\n\t"
		"xor %%ecx, %%ecx\n\t"
		"xor %%edx, %%edx\n\t"
		"jmp *%%r11"
		: : [top] "r"(top), "a"(plkv_rdpkru() & ~PLKV_PKRU_KEY),
		    "r"(target), "r"(f)
		: "memory");
	__builtin_unreachable();
}

/* The check that follows a WRPKRU: test $imm32, %eax (A9 imm32). */
static __th_unused uint32_t site_check(const unsigned char *p)
{
	uint32_t imm;

	if (p[3] != 0xa9)
		return 0;
	memcpy(&imm, p + 4, sizeof(imm));
	return imm;
}

#endif /* PLKV_GATE_JUMP_H */
