// SPDX-License-Identifier: MIT
/*
 * Name squatting on the kmod backend: a store is trusted only if its
 * owner (the module's record of the creator) is the caller or root.
 * Another user creates the name first, mode 0666: root's plkv_open()
 * refuses it (PLKV_EOWNER, the owner named by plkv_open_error()) unless
 * it passes PLKV_O_ANY_OWNER, and so does a third user; a store root
 * created is trusted by everyone it lets in.  Needs the module and root
 * (to act as other users): SKIPs elsewhere.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "core.h"

FIXTURE(owner) {
	char name[64];
};

FIXTURE_SETUP(owner)
{
	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (geteuid() != 0)
		SKIP(return, "needs root to act as other users");
	th_unique_name(self->name, sizeof(self->name), "owner");
}

FIXTURE_TEARDOWN(owner)
{
	plkv_destroy(self->name, PLKV_BACKEND_KMOD);
}

static int open_as(uid_t uid, const char *name, unsigned flags)
{
	struct plkv_options o;
	plkv_t *kv;
	int rc;

	if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
		    setresuid(uid, uid, uid)))
		return -EPERM;
	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	o.mode = 0666;
	o.flags = flags;
	rc = plkv_open(name, &o, &kv);
	if (!rc)
		plkv_close(kv);
	return rc;
}

/* plkv_open() as uid in a child; its result, or -1000 if the child died. */
static int open_in_child(uid_t uid, const char *name, unsigned flags,
			 char *why, size_t cap)
{
	int pfd[2], rc = -1000, st;
	pid_t pid;

	if (pipe(pfd))
		return -1000;
	pid = fork();
	if (pid == 0) {
		char msg[256] = "";

		rc = open_as(uid, name, flags);
		if (plkv_open_error())
			snprintf(msg, sizeof(msg), "%s", plkv_open_error());
		if (write(pfd[1], &rc, sizeof(rc)) != sizeof(rc) ||
		    write(pfd[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (pid > 0 && read(pfd[0], &rc, sizeof(rc)) == sizeof(rc) && why) {
		char msg[256];

		if (read(pfd[0], msg, sizeof(msg)) == sizeof(msg))
			snprintf(why, cap, "%s", msg);
	}
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return rc;
}

TEST_F(owner, another_users_store_is_refused)
{
	char why[256] = "";

	ASSERT_EQ(0, open_in_child(1000, self->name, PLKV_O_CREATE, NULL, 0));
	EXPECT_EQ(PLKV_EOWNER, open_in_child(0, self->name, 0, why,
					     sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "owned by uid 1000")) TH_LOG("%s", why);
	EXPECT_EQ(PLKV_EOWNER, open_in_child(1001, self->name, 0, NULL, 0));
	EXPECT_EQ(0, open_in_child(0, self->name, PLKV_O_ANY_OWNER, NULL, 0));
	EXPECT_EQ(0, open_in_child(1000, self->name, 0, NULL, 0));
}

TEST_F(owner, roots_store_is_trusted)
{
	ASSERT_EQ(0, open_in_child(0, self->name, PLKV_O_CREATE, NULL, 0));
	EXPECT_EQ(0, open_in_child(1000, self->name, 0, NULL, 0));
	EXPECT_EQ(0, open_in_child(1001, self->name, 0, NULL, 0));
}

TEST_HARNESS_MAIN
