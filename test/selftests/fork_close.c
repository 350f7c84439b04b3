// SPDX-License-Identifier: MIT
/*
 * A handle after fork(): the child has a copy of the handle but not the
 * mapping.  plkv_close() of that copy in the child must free it without
 * touching the segment or the parent's process record, and the child must
 * be able to open the store for itself.  Language bindings (Python's
 * os.fork(), multiprocessing) rely on this to reopen in the child.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "plkv.h"

static int count_procs(void *ctx, const struct plkv_proc *p)
{
	if (p->state == 1)
		++*(int *)ctx;
	return 0;
}

/* Runs in the child; its exit status is the test's verdict. */
static int child(const char *name, plkv_t *inherited)
{
	char buf[16];
	plkv_t *kv;

	if (plkv_close(inherited) != 0)
		return 10;
	if (plkv_open(name, NULL, &kv) != 0)
		return 11;
	if (plkv_get(kv, "parent", 6, buf, sizeof(buf), NULL) != 0 ||
	    memcmp(buf, "P", 1) != 0)
		return 12;
	if (plkv_set(kv, "child", 5, "C", 1, 0, 0) != 0)
		return 13;
	return plkv_close(kv) ? 14 : 0;
}

TEST(close_in_child_leaves_parent_attached)
{
	char name[64], buf[16], msg[256];
	plkv_t *kv;
	int st, attached = 0;
	pid_t pid;

	snprintf(name, sizeof(name), "st-forkclose-%d", (int)getpid());
	plkv_destroy(name, PLKV_BACKEND_AUTO);
	ASSERT_EQ(0, plkv_open(name, NULL, &kv));
	ASSERT_EQ(0, plkv_set(kv, "parent", 6, "P", 1, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(child(name, kv));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	/* The parent's handle still works and sees the child's write. */
	EXPECT_EQ(0, plkv_get(kv, "child", 5, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "C", 1));
	EXPECT_EQ(0, plkv_procs(kv, count_procs, &attached));
	EXPECT_EQ(1, attached);
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg)));
	EXPECT_EQ(0, plkv_close(kv));
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
