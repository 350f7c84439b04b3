/* SPDX-License-Identifier: MIT */
/*
 * The numbers calls.S needs, for the assembler (trust.c checks each one
 * against the C definition it stands for).
 */
#ifndef PLKV_CALLS_ABI_H
#define PLKV_CALLS_ABI_H

#define PLKV_ASM_WINDOW_LO		0x6a0000000000
#define PLKV_ASM_WINDOW_HI		0x6e0000000000
#define PLKV_ASM_HANDLE_BITS		(~0x1e00)	/* not an entry's */
#define PLKV_ASM_GRANT_STACK		0x100000
#define PLKV_ASM_TRUST_OWNED		0x6a0000004010
#define PLKV_ASM_CALL_STACKS_LO		0x6a0000010000
#define PLKV_ASM_CALL_STACKS_SIZE	0x40000
#define PLKV_ASM_CALL_STACK_SIZE	0x8000
#define PLKV_ASM_CALL_STACKS		8
/* struct plkv_call_stack_hdr */
#define PLKV_ASM_HDR_CLAIM		0
#define PLKV_ASM_HDR_DEFERRED		4
#define PLKV_ASM_HDR_TOKEN		8
#define PLKV_ASM_HDR_SAVED_SP		16
#define PLKV_ASM_HDR_SAVED_R15		24
#define PLKV_ASM_HDR_SAVED_MASK		32
#define PLKV_ASM_HDR_AGAIN		40
/* PKRU bits of PLKV_PKEY */
#define PLKV_ASM_PKRU_KEY		0xc0000000
#define PLKV_ASM_PKRU_KEY_CLEAR		0x3fffffff
#define PLKV_ASM_PKRU_AD		0x40000000

#endif /* PLKV_CALLS_ABI_H */
