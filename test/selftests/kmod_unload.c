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
#include <sys/stat.h>

#define SEG_SIZE	(1u << 20)

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

TEST_TIMEOUT(rmmod_refused_while_mapped, 60)
{
	char ko[600], params[256], name[PLKV_NAME_MAX];
	struct kd_client c;
	uint64_t size;
	int fd, rc;

	KD_REQUIRE_DEV();
	KD_REQUIRE_ROOT();
	if (!find_ko(ko, sizeof(ko)))
		SKIP(return, "no plkv.ko to load again (set PLKV_KO)");
	if (module_refcnt() != 0)
		SKIP(return, "plkv is in use (refcnt %d)", module_refcnt());
	module_params(params, sizeof(params));
	TH_LOG("module %s, parameters \"%s\"", ko, params);

	th_unique_name(name, sizeof(name), "unload");
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_create(fd, name, SEG_SIZE, 0600));
	close(fd);
	ASSERT_EQ(0, kd_client_open(&c, name));
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

	/* Back, as it was, and empty. */
	if (!module_loaded())
		ASSERT_EQ(0, load(ko, params));
	ASSERT_TRUE(wait_for(true, PLKV_DEVICE));
	fd = kd_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOENT, kd_attach(fd, name, &size));
	close(fd);
}

TEST_HARNESS_MAIN
