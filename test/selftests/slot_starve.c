// SPDX-License-Identifier: MIT
/*
 * Recovery that cannot be starved of thread slots.  Hog processes take
 * every ordinary slot of a store (each up to its cap of
 * PLKV_MAX_THREADS_PER_PROC, one thread per slot) and die by kill -9
 * holding them all.  Recovery runs on a slot, so a new client would find
 * none and fail with ENOSPC for good; instead it recovers the dead on one
 * of the slots kept for that, then opens, stores, and the store checks
 * out.  Runs on the host (user backend) and in the VM (kmod backend).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "plkv.h"
#include <linux/plkv.h>

#define MAX_HOGS	8	/* more than the slots need, past their caps */

static plkv_t *hog_kv;
static int hog_gate[2];		/* threads wait here until killed */

static void *hog_thread(void *arg)
{
	char b[8];
	int *rc = arg, c;

	/* A call takes the thread a slot. */
	*rc = plkv_get(hog_kv, "x", 1, b, sizeof(b), NULL);
	if (*rc == PLKV_ENOTFOUND)
		*rc = 0;
	if (!*rc)
		(void)!read(hog_gate[0], &c, 1);	/* hold it */
	return NULL;
}

/* Take slots thread by thread until one is refused; report how many. */
static void hog(const char *name, int report)
{
	static int rcs[PLKV_MAX_THREADS_PER_PROC + 1];
	struct plkv_options o;
	pthread_attr_t attr;
	pthread_t th;
	unsigned n = 0;

	plkv_options_init(&o);
	o.flags = 0;
	if (plkv_open(name, &o, &hog_kv) || pipe(hog_gate)) {
		(void)!write(report, &n, sizeof(n));	/* none */
		_exit(90);
	}
	n = 1;		/* the main thread's, from the open */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	while (n < PLKV_MAX_THREADS_PER_PROC + 1) {
		int *rc = &rcs[n];

		*rc = 1;
		if (pthread_create(&th, &attr, hog_thread, rc))
			break;
		while (__atomic_load_n(rc, __ATOMIC_ACQUIRE) == 1)
			usleep(100);
		if (*rc)
			break;	/* -EUSERS (cap) or -ENOSPC (none left) */
		n++;
	}
	if (write(report, &n, sizeof(n)) != sizeof(n))
		_exit(91);
	pause();
	_exit(0);
}

TEST_TIMEOUT(dead_hold_every_slot, 300)
{
	struct plkv_options o;
	pid_t pids[MAX_HOGS], pid;
	char name[64], msg[256];
	unsigned i, nhogs = 0, n, total = 0;
	int pfd[2], st;
	plkv_t *kv;

	th_unique_name(name, sizeof(name), "starve");
	plkv_options_init(&o);
	o.mem_limit = 4 << 20;
	ASSERT_EQ(0, plkv_open(name, &o, &kv));
	plkv_close(kv);		/* holds no slot while the hogs run */
	ASSERT_EQ(0, pipe(pfd));
	while (total < PLKV_FIRST_RECOVERY_SLOT - 1 && nhogs < MAX_HOGS) {
		pids[nhogs] = fork();
		if (pids[nhogs] == 0)
			hog(name, pfd[1]);
		ASSERT_LT(0, pids[nhogs]);
		ASSERT_EQ(sizeof(n), read(pfd[0], &n, sizeof(n)));
		nhogs++;
		total += n;
	}
	TH_LOG("%u hogs hold %u slots", nhogs, total);
	ASSERT_EQ(PLKV_FIRST_RECOVERY_SLOT - 1, total);
	for (i = 0; i < nhogs; i++) {
		kill(pids[i], SIGKILL);
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
	}

	/* A new client, in a process of its own: every ordinary slot is
	 * held by the dead. */
	pid = fork();
	if (pid == 0) {
		plkv_t *c;

		plkv_options_init(&o);
		o.flags = 0;
		if (plkv_open(name, &o, &c))
			_exit(10);
		if (plkv_set(c, "after", 5, "ok", 2, 0, 0))
			_exit(11);
		if (plkv_check(c, msg, sizeof(msg)))
			_exit(12);
		plkv_close(c);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("new client: status %#x (10: open failed)", st);

	plkv_options_init(&o);
	o.flags = 0;
	ASSERT_EQ(0, plkv_open(name, &o, &kv));
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
