/* SPDX-License-Identifier: MIT */
/*
 * The key itself: allocated at the fixed number the gate's constants
 * name (pkru.h), and what the gate does when a check after a WRPKRU
 * fails.  Below the gate and both backends.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "pkru.h"
#include "sys.h"

void plkv_kill_self(const char *why)
{
	static const char pre[] = "plkv: ", post[] = ": killed\n";
	size_t n = 0;

	while (why[n])
		n++;
	/* (the key may be granted: system calls of our own, sys.h) */
	plkv_sys3(SYS_write, 2, (long)pre, sizeof(pre) - 1);
	plkv_sys3(SYS_write, 2, (long)why, (long)n);
	plkv_sys3(SYS_write, 2, (long)post, sizeof(post) - 1);
	plkv_sys3(SYS_kill, plkv_sys3(SYS_getpid, 0, 0, 0), SIGKILL, 0);
	__builtin_trap();
}

/*
 * Where a check after a WRPKRU sends a thread the library must stop: a
 * value the check refuses (code jumped to the WRPKRU with one of its
 * own) or a stack the library may not use (pkru.h).  The key is taken
 * back first (a checked WRPKRU: a jump to this one comes back to the
 * start), why is said on stderr, then SIGKILL: no return and no
 * catchable signal (a handler would run with the grant saved in its
 * frame), and not one push, since the stack may be a store's or another
 * thread's call stack, which the key would let a push overwrite.  Each
 * check's jump is a near one ({disp32}): the module trusts a WRPKRU only
 * in that form (kmod/plkv_watch.c).
 */
#define PLKV_STACK_KILL(name, why)					\
	".globl " #name "\n"						\
	".hidden " #name "\n"						\
	".type " #name ", @function\n"					\
	#name ":\n\t"							\
	"xor %ecx, %ecx\n\t"						\
	"rdpkru\n\t"							\
	"or $" PLKV_STR(PLKV_PKRU_AD_ASM) ", %eax\n\t"			\
	"xor %edx, %edx\n\t"						\
	"wrpkru\n\t"							\
	"test $" PLKV_STR(PLKV_PKRU_AD_ASM) ", %eax\n\t"		\
	"{disp32} jz plkv_pkru_violation\n\t"				\
	"mov $" PLKV_STR(SYS_write) ", %eax\n\t"			\
	"mov $2, %edi\n\t"						\
	"lea 1f(%rip), %rsi\n\t"					\
	"mov $2f - 1f, %edx\n\t"					\
	"syscall\n\t"							\
	"mov $" PLKV_STR(SYS_getpid) ", %eax\n\t"			\
	"syscall\n\t"							\
	"mov %eax, %edi\n\t"						\
	"mov $" PLKV_STR(SIGKILL) ", %esi\n\t"			\
	"mov $" PLKV_STR(SYS_kill) ", %eax\n\t"			\
	"syscall\n\t"							\
	"ud2\n"							\
	"1: .ascii \"plkv: " why ": killed\\n\"\n"			\
	"2:\n\t"							\
	".size " #name ", . - " #name "\n"

__asm__(".pushsection plkv_gate, \"ax\"\n"
	PLKV_STACK_KILL(plkv_pkru_violation,
			"protection key check failed after WRPKRU")
	PLKV_STACK_KILL(plkv_pkru_bad_stack,
			"a grant with the stack in a store")
	PLKV_STACK_KILL(plkv_pkru_off_call_stack,
			"a grant off the call stacks of a strict process")
	PLKV_STACK_KILL(plkv_pkru_foreign_call_stack,
			"a grant on a call stack the thread has not claimed")
	".popsection");

static pthread_mutex_t pkey_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned pkey_users;
static pid_t pkey_pid;		/* a forked child starts over... */
static bool pkey_held;		/* ...with the parent's key allocated */
static pid_t pkey_pinned;	/* the process whose trust region has it */

/*
 * pkey_alloc() hands out the lowest free key: take keys until it hands
 * out PLKV_PKEY, then give the others back.  Fails with -EBUSY when
 * something else in the process holds PLKV_PKEY.  Denied from the start:
 * the gate grants it only inside calls.
 */
static int pkey_take_fixed(void)
{
	int got[PLKV_PKEY], n = 0, k, rc = -EBUSY;

	while (n < PLKV_PKEY) {
		k = pkey_alloc(0, PKEY_DISABLE_ACCESS);
		if (k < 0) {
			rc = -errno == -ENOSPC ? -EBUSY : -errno;
			break;
		}
		if (k == PLKV_PKEY) {
			rc = 0;
			break;
		}
		got[n++] = k;
	}
	while (n > 0)
		pkey_free(got[--n]);
	return rc;
}

int plkv_pkey_acquire(void)
{
	int rc = 0;

	pthread_mutex_lock(&pkey_lock);
	if (pkey_pid != getpid()) {
		pkey_pid = getpid();
		pkey_users = 0;
	}
	if (!pkey_held)
		rc = pkey_take_fixed();
	if (!rc) {
		pkey_held = true;
		pkey_users++;
	}
	pthread_mutex_unlock(&pkey_lock);
	return rc;
}

void plkv_pkey_pin(void)
{
	pthread_mutex_lock(&pkey_lock);
	pkey_pinned = getpid();
	pthread_mutex_unlock(&pkey_lock);
}

/* After the last protected segment is unmapped (the module's guard
 * kills a process that frees a key still sealed), unless pinned. */
void plkv_pkey_release(void)
{
	pthread_mutex_lock(&pkey_lock);
	if (pkey_pid == getpid() && pkey_users && !--pkey_users &&
	    pkey_pinned != getpid()) {
		pkey_free(PLKV_PKEY);
		pkey_held = false;
	}
	pthread_mutex_unlock(&pkey_lock);
}
