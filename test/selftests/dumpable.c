// SPDX-License-Identifier: MIT
/*
 * A protected client is not dumpable (PR_SET_DUMPABLE 0), so another
 * process of the same user cannot read the values it holds: its parent,
 * which yama's ptrace_scope 1 would otherwise let in, gets EPERM from
 * PTRACE_ATTACH and from process_vm_readv() of the client's copy of a
 * value.  With PLKV_O_DUMPABLE both work.  Needs the module, PKU and root
 * (the tracer and the client run as another user: root may trace anyone).
 */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "core.h"

#define TEST_UID	1000

FIXTURE(dumpable) {
	char name[64];
};

FIXTURE_SETUP(dumpable)
{
	struct plkv_options o;
	struct plkv_info info;
	plkv_t *kv;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (geteuid() != 0)
		SKIP(return, "needs root to act as another user");
	th_unique_name(self->name, sizeof(self->name), "dumpable");
	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	o.mode = 0666;
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL | PLKV_O_DUMPABLE;
	ASSERT_EQ(0, plkv_open(self->name, &o, &kv));
	ASSERT_EQ(0, plkv_info(kv, &info));
	plkv_close(kv);
	if (!info.protected)
		SKIP(return, "no PKU on this CPU");
}

FIXTURE_TEARDOWN(dumpable)
{
	plkv_destroy(self->name, PLKV_BACKEND_KMOD);
}

static char secret[16];

/*
 * In a child running as TEST_UID: fork the client, which opens the store
 * (flags), reads "secret" into its memory and waits; then attach to it
 * and read that memory.  Exit: 0 both refused, 1 both worked, 2 mixed,
 * 3 setup failed.
 */
static int spy_on_client(const char *name, unsigned flags)
{
	int ready[2], st, attached, copied;
	struct iovec local, remote;
	char got[sizeof(secret)];
	pid_t client;
	char b;

	/* (Changing uid made this process non-dumpable: undo that, so that
	 * only the library decides for the client forked below.) */
	if (setgroups(0, NULL) || setresgid(TEST_UID, TEST_UID, TEST_UID) ||
	    setresuid(TEST_UID, TEST_UID, TEST_UID) ||
	    prctl(PR_SET_DUMPABLE, 1) || pipe(ready))
		return 3;
	client = fork();
	if (client == 0) {
		struct plkv_options o;
		plkv_t *kv;

		plkv_options_init(&o);
		o.backend = PLKV_BACKEND_KMOD;
		o.flags = flags | PLKV_O_ANY_OWNER;
		if (plkv_open(name, &o, &kv) ||
		    plkv_set(kv, "k", 1, "hunter2", 7, 0, 0) ||
		    plkv_get(kv, "k", 1, secret, sizeof(secret), NULL) ||
		    write(ready[1], "r", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	if (client < 0 || read(ready[0], &b, 1) != 1)
		return 3;
	attached = ptrace(PTRACE_ATTACH, client, NULL, NULL) == 0;
	if (attached) {
		waitpid(client, &st, 0);
		ptrace(PTRACE_DETACH, client, NULL, NULL);
	}
	local = (struct iovec){ got, sizeof(got) };
	remote = (struct iovec){ secret, sizeof(secret) };
	copied = process_vm_readv(client, &local, 1, &remote, 1, 0) ==
		 (ssize_t)sizeof(got) && !memcmp(got, "hunter2", 7);
	kill(client, SIGKILL);
	waitpid(client, &st, 0);
	return attached && copied ? 1 : !attached && !copied ? 0 : 2;
}

static int spy_status(const char *name, unsigned flags)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(spy_on_client(name, flags));
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST_F(dumpable, same_user_cannot_read_a_client)
{
	EXPECT_EQ(0, spy_status(self->name, 0));
}

TEST_F(dumpable, unless_it_asks_to_stay_dumpable)
{
	EXPECT_EQ(1, spy_status(self->name, PLKV_O_DUMPABLE));
}

TEST_HARNESS_MAIN
