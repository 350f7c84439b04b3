// SPDX-License-Identifier: MIT
/*
 * More processes than the library's old process table held (256) attach
 * to one store at once, all die by kill -9, and one recovery takes care
 * of every one of them: the library's table and the module's share one
 * limit (PLKV_MAX_PROCS) and recovery reaps every DEAD record.  Runs on
 * the host (user backend) and in the VM (kmod backend).
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

	th_unique_name(name, sizeof(name), "many");
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

/* One process's threads: PLKV_MAX_THREADS_PER_PROC get a slot, the next
 * call of a further thread fails with -EUSERS, so no process can take
 * every slot (recovery of its death needs one). */
#define NTHREADS (PLKV_MAX_THREADS_PER_PROC + 20)

struct hog {
	plkv_t *kv;
	pthread_barrier_t *held;
	int rc;
};

static void *thread_call(void *arg)
{
	struct hog *h = arg;
	char v[8];
	struct plkv_meta m;

	h->rc = plkv_get(h->kv, "k", 1, v, sizeof(v), &m);
	pthread_barrier_wait(h->held);	/* keep the slot until all called */
	return NULL;
}

TEST(threads_per_process_capped)
{
	static struct hog hogs[NTHREADS];
	static pthread_t t[NTHREADS];
	pthread_barrier_t held;
	struct plkv_options o;
	unsigned i, ok = 0, capped = 0;
	char name[64], v[8];
	plkv_t *kv;

	th_unique_name(name, sizeof(name), "threads");
	plkv_options_init(&o);
	o.mem_limit = 4 << 20;
	ASSERT_EQ(0, plkv_open(name, &o, &kv));
	ASSERT_EQ(0, plkv_set(kv, "k", 1, "v", 1, 0, 0));
	ASSERT_EQ(0, pthread_barrier_init(&held, NULL, NTHREADS + 1));
	for (i = 0; i < NTHREADS; i++) {
		hogs[i].kv = kv;
		hogs[i].held = &held;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, thread_call, &hogs[i]));
	}
	pthread_barrier_wait(&held);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		ok += hogs[i].rc == 0;
		capped += hogs[i].rc == -EUSERS;
	}
	/* The main thread holds one slot too. */
	EXPECT_EQ(PLKV_MAX_THREADS_PER_PROC - 1, ok);
	EXPECT_EQ(NTHREADS - ok, capped);
	EXPECT_EQ(0, plkv_get(kv, "k", 1, v, sizeof(v), NULL));
	pthread_barrier_destroy(&held);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
