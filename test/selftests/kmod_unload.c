/*
 * kmod_unload - rmmod of plkv is refused while a segment is mapped (even
 * with its fd closed: the mapping holds the file, the file the module),
 * succeeds once nothing is mapped or open, and frees every segment; the
 * module is then loaded again, with the parameters it had, so the tests
 * after this one find it.
 *
 * Needs root and the module file to reload: $PLKV_KO, or kmod/plkv.ko
 * relative to this program (test/selftests/../../kmod/plkv.ko).  SKIPs
 * without them (never unloads a module it cannot load again), and when
 * another process holds /dev/plkv open.
 */
#include "kmod_util.h"

#include <dirent.h>
#include <libgen.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SEG_SIZE	(16u << 20)
/* Other vmalloc users may come and go meanwhile: this much, in KiB. */
#define SLACK_KB	2048

static bool module_loaded(void)
{
	return access("/sys/module/plkv", F_OK) == 0;
}

static int module_refcnt(void)
{
	char buf[32];
	int fd = open("/sys/module/plkv/refcnt", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atoi(buf);
}

static bool find_ko(char *path, size_t len)
{
	const char *env = getenv("PLKV_KO");
	char exe[512];
	ssize_t n;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return access(path, R_OK) == 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	snprintf(path, len, "%s/../../kmod/plkv.ko", dirname(exe));
	return access(path, R_OK) == 0;
}

/* "name=value ..." of the loaded module's parameters, to load it again. */
static void module_params(char *out, size_t len)
{
	static const char *const names[] = {
		"default_seg_size", "max_seg_size", "max_segments",
		"max_user_bytes", "max_user_segments",
	};
	char path[128], val[64];
	size_t used = 0;
	unsigned int i;
	ssize_t n;
	int fd;

	out[0] = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/plkv/parameters/%s",
			 names[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, val, sizeof(val) - 1);
		close(fd);
		if (n <= 0)
			continue;
		val[n] = 0;
		val[strcspn(val, "\n")] = 0;
		used += (size_t)snprintf(out + used, len - used, "%s%s=%s",
					 used ? " " : "", names[i], val);
		if (used >= len)
			break;
	}
}

static bool wait_for(bool present, const char *path)
{
	int i;

	for (i = 0; i < 200; i++) {
		if ((access(path, F_OK) == 0) == present)
			return true;
		kd_sleep_ms(10);
	}
	return false;
}

static int load(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = (int)syscall(SYS_finit_module, fd, params, 0);
	rc = rc ? -errno : 0;
	close(fd);
	return rc;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "plkv", O_NONBLOCK) ? -errno : 0;
}

/* The module file and parameters to load it again with. */
struct mod {
	char ko[600];
	char params[256];
	char why[64];	/* why it may not be unloaded */
};

/* Whether the module may be unloaded (and reloaded as it was). */
static bool may_unload(struct mod *m)
{
	if (!find_ko(m->ko, sizeof(m->ko)))
		snprintf(m->why, sizeof(m->why),
			 "no plkv.ko to reload (set PLKV_KO)");
	else if (module_refcnt() != 0)
		snprintf(m->why, sizeof(m->why), "plkv is in use (refcnt %d)",
			 module_refcnt());
	else
		return true;
	return false;
}

/* Unload the module and load it with params: NULL, or what failed. */
static const char *reload(const struct mod *m, const char *params)
{
	if (unload())
		return "rmmod failed";
	if (!wait_for(false, PLKV_DEVICE))
		return "/dev/plkv stayed";
	if (load(m->ko, params))
		return "insmod failed";
	if (!wait_for(true, PLKV_DEVICE))
		return "/dev/plkv did not come back";
	return NULL;
}

#define REQUIRE_UNLOADABLE(m)						\
	do {								\
		KD_REQUIRE_DEV();					\
		KD_REQUIRE_ROOT();					\
		if (!may_unload(m))					\
			SKIP(return, "%s", (m)->why);			\
		module_params((m)->params, sizeof((m)->params));	\
	} while (0)

TEST_TIMEOUT(rmmod_refused_while_mapped, 60)
{
	char name[PLKV_NAME_MAX];
	struct kd_client c;
	struct mod m;
	long vm0, vm1, vm2;
	uint64_t size;
	int fd, rc;

	REQUIRE_UNLOADABLE(&m);
	TH_LOG("module %s, parameters \"%s\"", m.ko, m.params);

	vm0 = kd_vmalloc_kb();
	ASSERT_EQ(0, kd_new_seg(name, "unload", SEG_SIZE));
	ASSERT_EQ(0, kd_client_open(&c, name));
	/* The module's memory, not a mapping's: see it in vmalloc. */
	vm1 = kd_vmalloc_kb();
	EXPECT_LE(vm0 + SEG_SIZE / 1024 - SLACK_KB, vm1)
		TH_LOG("VmallocUsed %ld -> %ld kB", vm0, vm1);
	c.base[PLKV_SEG_LIB_OFF] = 'u';

	/* Mapped and open: refused. */
	rc = unload();
	EXPECT_TRUE(rc == -EAGAIN || rc == -EBUSY) TH_LOG("rmmod: %d", rc);
	EXPECT_TRUE(module_loaded());
	/* Mapped, fd closed: the mapping holds the file, still refused. */
	close(c.fd);
	EXPECT_LE(1, module_refcnt());
	rc = unload();
	EXPECT_TRUE(rc == -EAGAIN || rc == -EBUSY) TH_LOG("rmmod: %d", rc);
	EXPECT_TRUE(module_loaded());
	EXPECT_EQ('u', c.base[PLKV_SEG_LIB_OFF]);

	/* Nothing mapped or open; the segment still exists: rmmod frees it. */
	ASSERT_EQ(0, munmap(c.base, c.size));
	if (c.pkey > 0)
		pkey_free(c.pkey);
	EXPECT_EQ(0, module_refcnt());
	rc = unload();
	EXPECT_EQ(0, rc) TH_LOG("rmmod: %s", strerror(-rc));
	EXPECT_TRUE(wait_for(false, PLKV_DEVICE));
	EXPECT_FALSE(module_loaded());
	/* The segment's memory went with it. */
	vm2 = kd_vmalloc_kb();
	EXPECT_GE(vm0 + SLACK_KB, vm2)
		TH_LOG("VmallocUsed %ld -> %ld -> %ld kB", vm0, vm1, vm2);

	/* Back, as it was, and empty. */
	if (!module_loaded())
		ASSERT_EQ(0, load(m.ko, m.params));
	ASSERT_TRUE(wait_for(true, PLKV_DEVICE));
	fd = kd_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOENT, kd_attach(fd, name, &size));
	close(fd);
}

/*
 * The module parameters: bad combinations are refused at load (EINVAL),
 * VERSION reports the limits, size 0 gets default_seg_size, a segment
 * over max_seg_size is ENOMEM, one more than max_segments is ENOSPC.
 */
TEST_TIMEOUT(module_parameter_limits, 60)
{
	static const char *const bad[] = {
		"max_segments=0",
		"max_seg_size=4096",
		"max_seg_size=2199023255552",	/* 2 TiB */
		"default_seg_size=4096",
		"default_seg_size=8388608 max_seg_size=4194304",
		"max_user_bytes=4096",
	};
	char names[3][PLKV_NAME_MAX];
	const uint64_t max = 4u << 20, def = 2u << 20;
	struct plkv_version v;
	const char *why;
	uint64_t got = 0;
	unsigned int i;
	struct mod m;
	int fd, rc;

	REQUIRE_UNLOADABLE(&m);
	rc = unload();
	ASSERT_EQ(0, rc) TH_LOG("rmmod: %s", strerror(-rc));
	ASSERT_TRUE(wait_for(false, PLKV_DEVICE));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, load(m.ko, bad[i])) TH_LOG("%s", bad[i]);
		if (module_loaded())
			unload();
	}

	ASSERT_EQ(0, load(m.ko, "max_segments=2 max_seg_size=4194304 "
			      "default_seg_size=2097152"));
	ASSERT_TRUE(wait_for(true, PLKV_DEVICE));
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_version(fd, &v));
	EXPECT_EQ(max, v.max_seg_size);
	EXPECT_EQ(2, v.max_segments);
	for (i = 0; i < 3; i++) {
		char sfx[8];

		snprintf(sfx, sizeof(sfx), "lim%u", i);
		th_unique_name(names[i], PLKV_NAME_MAX, sfx);
	}
	EXPECT_EQ(-ENOMEM, kd_create(fd, names[0], max + 1, 0600));
	EXPECT_EQ(0, kd_create_size(fd, names[0], 0, &got));
	EXPECT_EQ(def, got);
	EXPECT_EQ(0, kd_create_size(fd, names[1], max, &got));
	EXPECT_EQ(max, got);
	EXPECT_EQ(-ENOSPC, kd_create(fd, names[2], PLKV_SEG_MIN_SIZE, 0600));
	/* The size is checked first: ENOMEM says what to change. */
	EXPECT_EQ(-ENOMEM, kd_create(fd, names[2], max + 1, 0600));
	EXPECT_EQ(0, kd_destroy(fd, names[0]));
	EXPECT_EQ(0, kd_create(fd, names[2], PLKV_SEG_MIN_SIZE, 0600));
	EXPECT_EQ(0, kd_destroy(fd, names[1]));
	EXPECT_EQ(0, kd_destroy(fd, names[2]));
	close(fd);

	/* Back as it was. */
	why = reload(&m, m.params);	/* back as it was */
	ASSERT_TRUE(!why) TH_LOG("%s (parameters \"%s\")", why, m.params);
}

/*
 * A user without CAP_SYS_RESOURCE (uid 1000 here) holds at most
 * max_user_bytes and max_user_segments of segments, destroyed ones it
 * still holds included: the create past either is EDQUOT, and a segment
 * counts until the last fd on it closes.  Root is not limited.  Child exit codes say
 * which step failed.
 */
static int quota_as_user(const char names[4][PLKV_NAME_MAX], uint64_t seg)
{
	int fd, held;
	uint64_t size;

	if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) ||
	    setresuid(1000, 1000, 1000))
		return 10;
	fd = kd_open();
	held = kd_open();
	if (fd < 0 || held < 0)
		return 11;
	if (kd_create(fd, names[0], seg, 0600) || kd_create(fd, names[1], seg, 0600))
		return 12;			/* up to the quota: fine */
	if (kd_create(fd, names[2], PLKV_SEG_MIN_SIZE, 0600) != -EDQUOT)
		return 13;			/* one byte page past it */
	/* Attached then detached: the fd still holds the memory. */
	if (kd_attach(held, names[1], &size) || kd_detach(held) ||
	    kd_destroy(fd, names[1]))
		return 14;
	if (kd_create(fd, names[2], PLKV_SEG_MIN_SIZE, 0600) != -EDQUOT)
		return 15;			/* destroyed, held: counts */
	close(held);
	if (kd_create(fd, names[2], PLKV_SEG_MIN_SIZE, 0600))
		return 16;			/* freed: room again */
	if (kd_create(fd, names[3], PLKV_SEG_MIN_SIZE, 0600) != -EDQUOT)
		return 17;			/* max_user_segments=2 */
	if (kd_destroy(fd, names[0]) || kd_destroy(fd, names[2]))
		return 18;
	close(fd);
	return 0;
}

TEST_TIMEOUT(per_user_quota, 60)
{
	const uint64_t seg = 4u << 20, quota = 8u << 20;
	char names[4][PLKV_NAME_MAX];
	struct plkv_version v;
	const char *why;
	unsigned int i;
	struct mod m;
	int fd, st = -1;
	pid_t pid;

	REQUIRE_UNLOADABLE(&m);
	why = reload(&m, "max_user_bytes=8388608 max_seg_size=4194304 "
		     "default_seg_size=2097152 max_user_segments=2");
	ASSERT_TRUE(!why) TH_LOG("%s", why);
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_version(fd, &v));
	EXPECT_EQ(quota, v.max_user_bytes);
	EXPECT_EQ(2, v.max_user_segments);
	for (i = 0; i < 4; i++) {
		char sfx[8];

		snprintf(sfx, sizeof(sfx), "q%u", i);
		th_unique_name(names[i], PLKV_NAME_MAX, sfx);
	}

	pid = fork();
	if (pid == 0)
		_exit(quota_as_user((const char (*)[PLKV_NAME_MAX])names, seg));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("user step failed: status %#x", st);

	/* Root (CAP_SYS_RESOURCE) is not held to it. */
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, kd_create(fd, names[i], seg, 0600)) TH_LOG("%u", i);
	for (i = 0; i < 3; i++)
		kd_destroy(fd, names[i]);
	close(fd);

	why = reload(&m, m.params);	/* back as it was */
	ASSERT_TRUE(!why) TH_LOG("%s (parameters \"%s\")", why, m.params);
}

TEST_HARNESS_MAIN
