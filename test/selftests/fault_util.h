/*
 * fault_util.h - run a piece of code and report the SIGSEGV it raised
 * (si_code: SEGV_PKUERR for a protection-key fault), for the tests that
 * touch protected memory on purpose (protect.c, gate_attack.c).
 */
#ifndef PLKV_FAULT_UTIL_H
#define PLKV_FAULT_UTIL_H

#include "harness.h"	/* first: it defines _GNU_SOURCE */

#include <setjmp.h>
#include <signal.h>
#include <string.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

static sigjmp_buf fault_jb;
static volatile int fault_code;

static __th_unused void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	siglongjmp(fault_jb, 1);
}

static __th_unused void catch_segv(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
}

/* Run fn and report the SIGSEGV si_code it caused, or 0 if none. */
static __th_unused int fault_of(void (*fn)(volatile char *),
				volatile char *p)
{
	fault_code = 0;
	if (sigsetjmp(fault_jb, 1) == 0)
		fn(p);
	return fault_code;
}

static __th_unused void do_write(volatile char *p)
{
	p[100] = 'X';
}

static __th_unused void do_read(volatile char *p)
{
	(void)p[100];
}

#endif /* PLKV_FAULT_UTIL_H */
