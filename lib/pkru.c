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

/*
 * A WRPKRU of the gate wrote a value its check refuses: code jumped to
 * it with a value of its own.  No return and no catchable signal: a
 * handler would run with the grant saved in its frame.
 */
__attribute__((used)) void plkv_pkru_violation(void)
{
	plkv_kill_self("protection key check failed after WRPKRU");
}

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
 * A grant found the stack pointer in the window (pkru.h): the stack is a
 * store's, so nothing here may push.  Deny the key (a checked WRPKRU,
 * as every one of the gate's) and kill the process with registers only.
 */
__asm__(".pushsection plkv_gate, \"ax\"\n"
	".globl plkv_pkru_bad_stack\n"
	".hidden plkv_pkru_bad_stack\n"
	".type plkv_pkru_bad_stack, @function\n"
	"plkv_pkru_bad_stack:\n\t"
	"xor %ecx, %ecx\n\t"
	"rdpkru\n\t"
	"or $" PLKV_STR(PLKV_PKRU_AD_ASM) ", %eax\n\t"
	"xor %edx, %edx\n\t"
	"wrpkru\n\t"
	"test $" PLKV_STR(PLKV_PKRU_AD_ASM) ", %eax\n\t"
	"jz plkv_pkru_violation\n\t"
	"mov $" PLKV_STR(SYS_getpid) ", %eax\n\t"
	"syscall\n\t"
	"mov %eax, %edi\n\t"
	"mov $" PLKV_STR(SIGKILL) ", %esi\n\t"
	"mov $" PLKV_STR(SYS_kill) ", %eax\n\t"
	"syscall\n\t"
	"ud2\n\t"
	".size plkv_pkru_bad_stack, . - plkv_pkru_bad_stack\n"
	".popsection");

static pthread_mutex_t pkey_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned pkey_users;
static pid_t pkey_pid;		/* a forked child starts over... */
static bool pkey_inherited;	/* ...with the parent's key allocated */

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
		pkey_inherited = pkey_users > 0;
		pkey_users = 0;
	}
	if (!pkey_users)
		rc = pkey_inherited ? 0 : pkey_take_fixed();
	pkey_inherited = false;
	if (!rc)
		pkey_users++;
	pthread_mutex_unlock(&pkey_lock);
	return rc;
}

/* After the last protected segment is unmapped (the module's guard
 * kills a process that frees a key still sealed). */
void plkv_pkey_release(void)
{
	pthread_mutex_lock(&pkey_lock);
	if (pkey_pid == getpid() && pkey_users && !--pkey_users)
		pkey_free(PLKV_PKEY);
	pthread_mutex_unlock(&pkey_lock);
}
