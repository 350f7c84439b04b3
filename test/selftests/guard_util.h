/*
 * guard_util.h - helpers shared by the tests of the module's guard
 * (guard.c, strict.c): an attacker runs as a client process of its own,
 * and the test looks at how it ended and whether the store is intact.
 */
#ifndef PLKV_GUARD_UTIL_H
#define PLKV_GUARD_UTIL_H

#include "harness.h"	/* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "kv_view.h"
#include "trust.h"

static __th_unused bool guard_on(void)
{
	struct plkv_version v;
	int fd = open(PLKV_DEVICE, O_RDWR | O_CLOEXEC);
	bool on;

	if (fd < 0)
		return false;
	memset(&v, 0, sizeof(v));
	on = !ioctl(fd, PLKV_IOC_VERSION, &v) &&
	     (v.flags & PLKV_VERSION_F_GUARD);
	close(fd);
	return on;
}

/* Whether this process's calls run on the trust region's call stacks
 * (it opened a strict store and the module has them): the library's
 * hint, which is all a test needs. */
static __th_unused bool th_calls_owned(void)
{
	return plkv_owned_hint;
}

/* The victim's value is still there and plkv_check() finds no damage. */
static __th_unused void expect_intact(struct th_test __th_unused *_metadata,
				      plkv_t *kv)
{
	char buf[16], msg[256];
	struct plkv_meta m;

	ASSERT_EQ(0, plkv_get(kv, "victim", 6, buf, sizeof(buf), &m));
	EXPECT_EQ(6, m.len);
	EXPECT_EQ(0, memcmp(buf, "intact", 6));
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
}

/* Attach to the existing store name on the kmod backend: the handle,
 * or NULL with *rc (may be NULL) set. */
static __th_unused plkv_t *open_client(const char *name, int *rc)
{
	struct plkv_options o;
	plkv_t *kv = NULL;
	int err;

	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.flags = 0;
	err = plkv_open(name, &o, &kv);
	if (rc)
		*rc = err;
	return err ? NULL : kv;
}

/*
 * The victim's store of a fixture: kmod, 4 MiB, created afresh with
 * @flags (PLKV_O_STRICT) besides the defaults, with the value
 * expect_intact() checks when it is protected.  plkv_open()'s or
 * plkv_info()'s error, else 0 with *protected set.
 */
static __th_unused int open_victim_store(const char *name, unsigned flags,
					 plkv_t **kv, bool *protected)
{
	struct plkv_options o;
	struct plkv_info info;
	int rc;

	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	o.flags |= flags;
	plkv_destroy(name, PLKV_BACKEND_KMOD);
	rc = plkv_open(name, &o, kv);
	if (!rc)
		rc = plkv_info(*kv, &info);
	if (rc)
		return rc;
	*protected = info.protected;
	return info.protected ?
	       plkv_set(*kv, "victim", 6, "intact", 6, 0, 0) : 0;
}

/* The wait status of a child that exits with expr's value (evaluated in
 * the child), -1 on error. */
#define CHILD_STATUS(expr)						\
	({								\
		int st_ = -1;						\
		pid_t pid_ = fork();					\
									\
		if (pid_ == 0)						\
			_exit(expr);					\
		if (pid_ < 0 || waitpid(pid_, &st_, 0) != pid_)		\
			st_ = -1;					\
		st_;							\
	})

/* fn's result with the store opened (90 when it cannot be). */
static __th_unused int run_client(const char *name, int (*fn)(plkv_t *kv))
{
	plkv_t *kv = open_client(name, NULL);

	return kv ? fn(kv) : 90;
}

/* A client of its own: opens the store, runs fn, exits with its result.
 * Returns the wait status, -1 on error. */
static __th_unused int client_status(const char *name, int (*fn)(plkv_t *kv))
{
	return CHILD_STATUS(run_client(name, fn));
}

static __th_unused bool killed(int st)
{
	return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static __th_unused bool lived(int st)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static __th_unused bool exited_with(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

/*
 * In a TEST_F whose fixture has name and kv: run the attack fn as a
 * client of its own; it must be killed (SIGKILL) and leave the store
 * intact.  An attack that exits 3 found nothing to attack: skipped, why.
 */
#define EXPECT_ATTACK_KILLED(fn, why)					\
	do {								\
		int st_ = client_status(self->name, (fn));		\
									\
		if (exited_with(st_, 3))				\
			SKIP(return, "%s", (why));			\
		EXPECT_TRUE(killed(st_)) TH_LOG("status %#x", st_);	\
		expect_intact(_metadata, self->kv);			\
	} while (0)

#endif /* PLKV_GUARD_UTIL_H */
