// SPDX-License-Identifier: MIT
/*
 * More processes than the library's old process table held (256) attach
 * to one store at once, all die by kill -9, and one recovery takes care
 * of every one of them: the library's table and the module's share one
 * limit (PLKV_MAX_PROCS) and recovery reaps every DEAD record.  Runs on
 * the host (user backend) and in the VM (kmod backend).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "plkv.h"
#include <linux/plkv.h>

#define NPROCS 300

struct census {
	unsigned attached, dead;
};

static int count_proc(void *arg, const struct plkv_proc *p)
{
	struct census *c = arg;

	c->attached += p->state == PLKV_PROC_ATTACHED;
	c->dead += p->state == PLKV_PROC_DEAD;
	return 0;
}

TEST(many_attach_die_one_recover)
{
	struct plkv_options o;
	struct census c = { 0, 0 };
	pid_t pids[NPROCS];
	char name[64], msg[256], ch;
	unsigned i, failed = 0, recovered = 0;
	int pfd[2];
	plkv_t *kv;

	snprintf(name, sizeof(name), "%smany-%d",
		 getenv("PLKV_TEST_PREFIX") ? getenv("PLKV_TEST_PREFIX") : "",
		 (int)getpid());
	plkv_options_init(&o);
	o.mem_limit = 4 << 20;
	/* Only plkv_recover() below recovers: no call of ours does it. */
	o.flags |= PLKV_O_NO_RECOVER;
	ASSERT_EQ(0, plkv_open(name, &o, &kv));
	ASSERT_EQ(0, pipe(pfd));
	for (i = 0; i < NPROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct plkv_options co;
			plkv_t *h;

			plkv_options_init(&co);
			co.flags = 0;
			ch = plkv_open(name, &co, &h) ? 'E' : 'A';
			if (write(pfd[1], &ch, 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		ASSERT_LT(0, pids[i]);
	}
	for (i = 0; i < NPROCS; i++) {
		ASSERT_EQ(1, read(pfd[0], &ch, 1));
		failed += ch != 'A';
	}
	EXPECT_EQ(0, failed) TH_LOG("%u of %d opens failed", failed, NPROCS);
	ASSERT_EQ(0, plkv_procs(kv, count_proc, &c));
	EXPECT_LE(NPROCS + 1, c.attached);

	for (i = 0; i < NPROCS; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < NPROCS; i++)
		waitpid(pids[i], NULL, 0);

	ASSERT_EQ(0, plkv_recover(kv, &recovered));
	EXPECT_EQ(NPROCS - failed, recovered);
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(0, plkv_procs(kv, count_proc, &c));
	EXPECT_EQ(0, c.dead);
	EXPECT_EQ(1, c.attached);
	EXPECT_EQ(0, plkv_set(kv, "after", 5, "all", 3, 0, 0));
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
