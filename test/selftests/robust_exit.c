// SPDX-License-Identifier: MIT
/*
 * robust_exit.c - the kernel writing for a thread that dies inside a call
 * (Documentation/protection.rst, class 5).  At a thread's death the
 * kernel walks its robust futex list, in the client's memory, with the
 * thread's PKRU: for a thread killed inside a call, key granted, so an
 * entry naming a word in a segment would be read, and rewritten where it
 * holds the thread's id.  The module takes the key away first.
 *
 * Thread A's list has one entry, whose word is in the store, and a
 * pending entry whose word is in memory the test shares, holding A's id:
 * the kernel reaches the pending one (and marks it FUTEX_OWNER_DIED) only
 * if it could read the store.  Thread B's list is the pending entry
 * alone, which is always marked: the kernel walked the lists.  The
 * process is killed while A makes calls, again and again.  VM only:
 * needs the module (with its guard) and PKU.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "guard_util.h"

#define TRIALS	12

struct shared {
	uint32_t word_a, word_b;	/* each thread's id, then OWNER_DIED */
	atomic_int ready;
};

static struct shared *sh;
static char *store_word;		/* a word of the store */

struct robust_head {
	struct robust_list list;
	long futex_offset;
	struct robust_list *list_op_pending;
};

static __thread struct robust_head head;
static __thread struct robust_list entry;

/* A list whose one entry's word is at word, and whose pending entry's
 * word is at pending (entry and head are this thread's memory). */
static void robust_list_set(char *word, uint32_t *pending)
{
	head.futex_offset = (long)(word - (char *)&entry);
	entry.next = &head.list;
	head.list.next = word ? &entry : &head.list;
	head.list_op_pending = (struct robust_list *)
		((char *)pending - head.futex_offset);
	syscall(SYS_set_robust_list, &head, sizeof(head));
}

static void *thread_b(void *arg)
{
	(void)arg;
	sh->word_b = (uint32_t)syscall(SYS_gettid);
	robust_list_set(NULL, &sh->word_b);
	atomic_fetch_add(&sh->ready, 1);
	for (;;)
		pause();
	return NULL;
}

static int calls_until_killed(plkv_t *kv)
{
	char buf[16];
	pthread_t t;

	store_word = th_kv(kv).base;
	if (pthread_create(&t, NULL, thread_b, NULL))
		return 3;
	sh->word_a = (uint32_t)syscall(SYS_gettid);
	robust_list_set(store_word, &sh->word_a);
	atomic_fetch_add(&sh->ready, 1);
	for (;;)
		plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL);
	return 0;
}

TEST(thread_killed_inside_a_call_leaves_no_robust_write)
{
	int trial, walked = 0, reached = 0, st;
	bool protected = false;
	char name[64];
	plkv_t *kv;
	pid_t pid;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	th_unique_name(name, sizeof(name), "robust");
	ASSERT_EQ(0, open_victim_store(name, 0, &kv, &protected));
	if (!protected) {
		plkv_close(kv);
		plkv_destroy(name, PLKV_BACKEND_KMOD);
		SKIP(return, "no PKU on this CPU");
	}
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	for (trial = 0; trial < TRIALS; trial++) {
		struct timespec d = { 0, (10 + trial * 7) * 1000000L };

		memset(sh, 0, sizeof(*sh));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(run_client(name, calls_until_killed));
		while (atomic_load(&sh->ready) < 2 && !waitpid(pid, &st,
							       WNOHANG))
			sched_yield();
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		walked += !!(sh->word_b & FUTEX_OWNER_DIED);
		reached += !!(sh->word_a & FUTEX_OWNER_DIED);
	}
	TH_LOG("%d trials: B's list walked in %d, A's past the store in %d",
	       TRIALS, walked, reached);
	EXPECT_EQ(TRIALS, walked);
	EXPECT_EQ(0, reached) TH_LOG("the kernel read the store at A's death");
	expect_intact(_metadata, kv);
	munmap(sh, 4096);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_KMOD);
}

TEST_HARNESS_MAIN
