/* SPDX-License-Identifier: MIT */
/*
 * System calls made inside a library call, by the instruction itself.
 *
 * The C library's wrappers (ioctl, syscall, kill...) are reached through
 * symbols the program can define itself (mem.h), and a call made inside
 * a library call, even with the key dropped for it, would then run the
 * client's code with the library's frames and registers in its hands.
 * These take no errno either: the result is the kernel's, -errno on
 * failure.
 */
#ifndef PLKV_SYS_H
#define PLKV_SYS_H

#include <sys/syscall.h>

static inline long plkv_sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long plkv_sys6(long nr, long a, long b, long c, long d,
			     long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#endif /* PLKV_SYS_H */
