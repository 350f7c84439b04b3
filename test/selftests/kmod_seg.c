/*
 * kmod_seg - plkv.ko segments: version, create/attach/detach/destroy,
 * info and listing, every errno of those commands, and the SysV-style
 * permission checks as a non-root user.
 *
 * Every test SKIPs where /dev/plkv is absent (the host); the VM harness
 * loads the module and runs them as root (the permission tests drop to
 * uid/gid 65534 in a forked child).
 */
#include "kmod_util.h"

#include <grp.h>
#include <sys/stat.h>

#define SEG_SIZE	(1u << 20)

FIXTURE(seg) {
	bool ready;
	char name[PLKV_NAME_MAX];
	int cfd;		/* a control fd, never attached */
};

FIXTURE_SETUP(seg)
{
	KD_REQUIRE_DEV();
	th_unique_name(self->name, sizeof(self->name), "seg");
	self->cfd = kd_open();
	ASSERT_LE(0, self->cfd);
	ASSERT_EQ(0, kd_create(self->cfd, self->name, SEG_SIZE, 0600));
	self->ready = true;
}

FIXTURE_TEARDOWN(seg)
{
	int rc;

	if (!self->ready)
		return;
	rc = kd_destroy(self->cfd, self->name);
	EXPECT_TRUE(rc == 0 || rc == -ENOENT) TH_LOG("destroy: %d", rc);
	close(self->cfd);
}

/* Runs fn in a child with uid/gid 65534 and the given supplementary
 * groups; returns fn's result (0 = ok). */
static int as_nobody(int (*fn)(void *), void *arg, const gid_t *groups,
		     int ngroups)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgroups(ngroups, groups) || setgid(65534) ||
		    setuid(65534))
			_exit(98);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(version)
{
	struct plkv_version v;
	int fd;

	KD_REQUIRE_DEV();
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_version(fd, &v));
	EXPECT_EQ(PLKV_ABI_VERSION, v.abi_version);
	EXPECT_LE((uint64_t)PLKV_SEG_MIN_SIZE, v.max_seg_size);
	EXPECT_LT(0, v.max_segments);
	EXPECT_LE((uint64_t)PLKV_SEG_MIN_SIZE, v.max_user_bytes);
	EXPECT_LE(1, v.max_user_segments);
	EXPECT_EQ(0, v.flags & ~(PLKV_VERSION_F_PKU | PLKV_VERSION_F_GUARD |
				 PLKV_VERSION_F_TRUST | PLKV_VERSION_F_WATCH |
				 PLKV_VERSION_F_DEFER));
	EXPECT_TRUE(v.flags & PLKV_VERSION_F_TRUST);
	/* The watch needs the guard's probes: with them, or not at all. */
	EXPECT_EQ(!!(v.flags & PLKV_VERSION_F_GUARD),
		  !!(v.flags & PLKV_VERSION_F_WATCH));
	/* So does deferring signals on call stacks (6.1 has the symbol) */
	EXPECT_EQ(!!(v.flags & PLKV_VERSION_F_GUARD),
		  !!(v.flags & PLKV_VERSION_F_DEFER));
	TH_LOG("max_seg_size %llu max_segments %u pku %d",
	       (unsigned long long)v.max_seg_size, v.max_segments,
	       !!(v.flags & PLKV_VERSION_F_PKU));

	memset(&v, 0, sizeof(v));
	v.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(fd, PLKV_IOC_VERSION, &v));
	memset(&v, 0, sizeof(v));
	v.max_user_segments = 1;	/* out only: ignored going in */
	EXPECT_EQ(0, kd_ioctl(fd, PLKV_IOC_VERSION, &v));
	close(fd);
}

TEST(device_node)
{
	struct stat st;

	KD_REQUIRE_DEV();
	ASSERT_EQ(0, stat(PLKV_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);
}

TEST(lifecycle)
{
	struct plkv_seg_khdr *khdr;
	struct plkv_seg_info si;
	struct kd_client c;
	char name[PLKV_NAME_MAX];
	uint64_t size = 0;
	int cfd, fd, key;
	char *p;

	KD_REQUIRE_DEV();
	ASSERT_EQ(0, kd_new_seg(name, "life", SEG_SIZE));
	cfd = kd_open();
	ASSERT_LE(0, cfd);

	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_attach(fd, name, &size));
	ASSERT_EQ(SEG_SIZE, size);
	p = kd_map(fd, size);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	key = kd_seal(p, size);
	ASSERT_LE(0, key) TH_LOG("seal: %s", strerror(-key));

	/* The kernel header, and zero-filled memory after it. */
	khdr = (struct plkv_seg_khdr *)(p + PLKV_SEG_KHDR_OFF);
	EXPECT_EQ(PLKV_SEG_KHDR_MAGIC, khdr->magic);
	EXPECT_EQ(PLKV_ABI_VERSION, khdr->abi_version);
	EXPECT_EQ(SEG_SIZE, khdr->size);
	EXPECT_EQ(PLKV_SEG_F_KMOD, khdr->flags);
	EXPECT_EQ(0, khdr->death_gen);
	EXPECT_EQ(0, p[PLKV_SEG_LIB_OFF]);
	EXPECT_EQ(0, p[SEG_SIZE - 1]);
	p[SEG_SIZE - 1] = 'z';

	ASSERT_EQ(0, kd_seg_info(cfd, name, &si));
	EXPECT_EQ(1, si.nattached);
	EXPECT_EQ(1, si.nmapped);
	EXPECT_EQ(0, si.ndead);

	/* Clean close: detach, unmap, close: no death, no record. */
	ASSERT_EQ(0, kd_detach(fd));
	ASSERT_EQ(0, munmap(p, size));
	close(fd);
	ASSERT_EQ(0, kd_seg_info(cfd, name, &si));
	EXPECT_EQ(0, si.nattached);
	EXPECT_EQ(0, si.nmapped);
	EXPECT_EQ(0, si.ndead);
	EXPECT_EQ(0, si.death_gen);

	/* The data survives the client. */
	if (key > 0)
		pkey_free(key);
	ASSERT_EQ(0, kd_client_open(&c, name));
	EXPECT_EQ(SEG_SIZE, c.size);
	EXPECT_EQ('z', c.base[SEG_SIZE - 1]);
	kd_client_close(&c);

	ASSERT_EQ(0, kd_destroy(cfd, name));
	EXPECT_EQ(-ENOENT, kd_seg_info(cfd, name, &si));
	fd = kd_open();
	EXPECT_EQ(-ENOENT, kd_attach(fd, name, NULL));
	close(fd);
	/* The name is free again, and a new segment is zeroed. */
	ASSERT_EQ(0, kd_create(cfd, name, SEG_SIZE, 0600));
	ASSERT_EQ(0, kd_client_open(&c, name));
	EXPECT_EQ(0, c.base[SEG_SIZE - 1]);
	kd_client_close(&c);
	ASSERT_EQ(0, kd_destroy(cfd, name));
	close(cfd);
}

/*
 * The segment is module memory (vmalloc), allocated at create, kept while
 * mapped, freed at destroy: VmallocUsed follows it.
 */
TEST(memory_follows_segment)
{
	const uint64_t size = 32u << 20;
	const long slack_kb = 2048;	/* other vmalloc users meanwhile */
	char name[PLKV_NAME_MAX];
	struct kd_client c;
	long vm0, vm1, vm2;

	KD_REQUIRE_DEV();
	vm0 = kd_vmalloc_kb();
	if (vm0 <= 0)
		SKIP(return, "no VmallocUsed in /proc/meminfo");
	ASSERT_EQ(0, kd_new_seg(name, "mem", size));
	ASSERT_EQ(0, kd_client_open(&c, name));
	memset(c.base + PLKV_SEG_LIB_OFF, 'm', size - PLKV_SEG_LIB_OFF);
	vm1 = kd_vmalloc_kb();
	EXPECT_LE(vm0 + (long)(size / 1024) - slack_kb, vm1);
	/* Mapped: destroy refused, the memory stays. */
	EXPECT_EQ(-EBUSY, kd_destroy_name(name));
	kd_client_close(&c);
	EXPECT_EQ(0, kd_destroy_name(name));
	vm2 = kd_vmalloc_kb();
	EXPECT_GE(vm0 + slack_kb, vm2);
	TH_LOG("VmallocUsed %ld -> %ld -> %ld kB", vm0, vm1, vm2);
}

TEST(create_sizes)
{
	struct plkv_seg_info si;
	struct plkv_version v;
	char name[PLKV_NAME_MAX];
	uint64_t got = 0;
	int fd;

	KD_REQUIRE_DEV();
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_version(fd, &v));
	th_unique_name(name, sizeof(name), "sz");

	/* 0 is the module's default, a page multiple within the limits. */
	ASSERT_EQ(0, kd_create_size(fd, name, 0, &got));
	EXPECT_LE((uint64_t)PLKV_SEG_MIN_SIZE, got);
	EXPECT_GE(v.max_seg_size, got);
	EXPECT_EQ(0, got % 4096);
	ASSERT_EQ(0, kd_destroy(fd, name));

	/* The minimum exactly; one byte more rounds up to a page. */
	ASSERT_EQ(0, kd_create_size(fd, name, PLKV_SEG_MIN_SIZE, &got));
	EXPECT_EQ((uint64_t)PLKV_SEG_MIN_SIZE, got);
	ASSERT_EQ(0, kd_destroy(fd, name));
	ASSERT_EQ(0, kd_create_size(fd, name, PLKV_SEG_MIN_SIZE + 1, &got));
	EXPECT_EQ((uint64_t)PLKV_SEG_MIN_SIZE + 4096, got);
	ASSERT_EQ(0, kd_destroy(fd, name));

	/* Too small: EINVAL; over max_seg_size: ENOMEM. */
	EXPECT_EQ(-EINVAL, kd_create(fd, name, 1, 0600));
	EXPECT_EQ(-EINVAL, kd_create(fd, name, PLKV_SEG_MIN_SIZE - 1, 0600));
	EXPECT_EQ(-ENOMEM, kd_create(fd, name, v.max_seg_size + 1, 0600));
	EXPECT_EQ(-ENOMEM, kd_create(fd, name, UINT64_MAX, 0600));
	EXPECT_EQ(-ENOENT, kd_seg_info(fd, name, &si));
	close(fd);
}

TEST(create_names)
{
	static const char *const bad[] = {
		"", "a/b", "a b", "../x", "x\n", "tab\t", "caf\xc3\xa9",
		"\xff", "semi;colon", "star*",
	};
	char name[PLKV_NAME_MAX], longest[PLKV_NAME_MAX];
	struct plkv_create c;
	unsigned int i;
	int fd;

	KD_REQUIRE_DEV();
	fd = kd_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, kd_create(fd, bad[i], SEG_SIZE, 0600))
			TH_LOG("name \"%s\"", bad[i]);

	/* 64 characters with no NUL in the field. */
	memset(&c, 0, sizeof(c));
	memset(c.name, 'a', sizeof(c.name));
	c.size = SEG_SIZE;
	EXPECT_EQ(-EINVAL, kd_ioctl(fd, PLKV_IOC_CREATE, &c));

	/* 63 characters of every allowed kind. */
	th_unique_name(name, sizeof(name), "");
	memset(longest, 0, sizeof(longest));
	for (i = 0; i < PLKV_NAME_MAX - 1; i++)
		longest[i] = "AZaz09._-"[i % 9];
	memcpy(longest, name, strlen(name));
	ASSERT_EQ(63, strlen(longest));
	EXPECT_EQ(0, kd_create(fd, longest, SEG_SIZE, 0600));
	EXPECT_EQ(0, kd_destroy(fd, longest));

	/* Bytes after the NUL do not matter. */
	memset(&c, 0, sizeof(c));
	th_unique_name(c.name, sizeof(c.name), "tail");
	memset(c.name + strlen(c.name) + 1, '/',
	       sizeof(c.name) - strlen(c.name) - 1);
	c.size = SEG_SIZE;
	EXPECT_EQ(0, kd_ioctl(fd, PLKV_IOC_CREATE, &c));
	th_unique_name(name, sizeof(name), "tail");
	EXPECT_EQ(0, kd_destroy(fd, name));

	/* Lookups validate names too. */
	EXPECT_EQ(-EINVAL, kd_attach(fd, "a/b", NULL));
	EXPECT_EQ(-EINVAL, kd_destroy(fd, "a/b"));
	EXPECT_EQ(-EINVAL, kd_destroy(fd, ""));
	close(fd);
}

TEST_F(seg, create_errors)
{
	struct plkv_create c;

	EXPECT_EQ(-EEXIST, kd_create(self->cfd, self->name, SEG_SIZE, 0600));

	memset(&c, 0, sizeof(c));
	th_unique_name(c.name, sizeof(c.name), "other");
	c.size = SEG_SIZE;
	c.mode = 01000;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_CREATE, &c));
	c.mode = 0600;
	c.flags = ~PLKV_CREATE_F_STRICT;	/* unknown flags */
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_CREATE, &c));
	c.flags = 0;
	c.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_CREATE, &c));
	c.reserved[0] = 0;
	c.reserved[3] = 1ull << 63;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_CREATE, &c));
}

TEST(create_enospc)
{
	struct plkv_version v;
	struct plkv_list l;
	char name[PLKV_NAME_MAX], sfx[16];
	unsigned int i, made = 0;
	int fd, holder, rc = 0;

	KD_REQUIRE_DEV();
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_version(fd, &v));
	if (v.max_segments > 256)
		SKIP(goto out, "max_segments %u is too many to fill",
		     v.max_segments);
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, kd_ioctl(fd, PLKV_IOC_LIST_SEGS, &l));
	for (i = 0; i < v.max_segments + 1; i++) {
		snprintf(sfx, sizeof(sfx), "n%u", i);
		th_unique_name(name, sizeof(name), sfx);
		rc = kd_create(fd, name, PLKV_SEG_MIN_SIZE, 0600);
		if (rc)
			break;
		made++;
	}
	EXPECT_EQ(-ENOSPC, rc);
	EXPECT_EQ(v.max_segments, l.count + made);
	/*
	 * Room again after a destroy, but only once the memory is gone: a
	 * segment destroyed while an fd still holds it keeps its place.
	 */
	if (made) {
		snprintf(sfx, sizeof(sfx), "n%u", 0);
		th_unique_name(name, sizeof(name), sfx);
		holder = kd_open();
		ASSERT_LE(0, holder);
		ASSERT_EQ(0, kd_attach(holder, name, NULL));
		ASSERT_EQ(0, kd_detach(holder));
		EXPECT_EQ(0, kd_destroy(fd, name));
		EXPECT_EQ(-ENOSPC, kd_create(fd, name, PLKV_SEG_MIN_SIZE, 0600));
		close(holder);
		EXPECT_EQ(0, kd_create(fd, name, PLKV_SEG_MIN_SIZE, 0600));
	}
	for (i = 0; i < made; i++) {
		snprintf(sfx, sizeof(sfx), "n%u", i);
		th_unique_name(name, sizeof(name), sfx);
		EXPECT_EQ(0, kd_destroy(fd, name));
	}
out:
	close(fd);
}

TEST_F(seg, attach_errors)
{
	struct plkv_attach a;
	char other[PLKV_NAME_MAX];
	int fd, fd2;

	fd = kd_open();
	ASSERT_LE(0, fd);
	th_unique_name(other, sizeof(other), "nosuch");
	EXPECT_EQ(-ENOENT, kd_attach(fd, other, NULL));
	EXPECT_EQ(-EINVAL, kd_attach(fd, "", NULL));

	memset(&a, 0, sizeof(a));
	strcpy(a.name, self->name);
	a.flags = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(fd, PLKV_IOC_ATTACH, &a));
	a.flags = 0;
	a.pad = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(fd, PLKV_IOC_ATTACH, &a));
	a.pad = 0;
	a.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(fd, PLKV_IOC_ATTACH, &a));

	ASSERT_EQ(0, kd_attach(fd, self->name, NULL));
	/* One attach per fd; one record per process. */
	EXPECT_EQ(-EBUSY, kd_attach(fd, self->name, NULL));
	fd2 = kd_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EBUSY, kd_attach(fd2, self->name, NULL));
	/* Once detached, the fd stays used up; a new fd may attach. */
	ASSERT_EQ(0, kd_detach(fd));
	EXPECT_EQ(-ENOTCONN, kd_detach(fd));
	EXPECT_EQ(-EBUSY, kd_attach(fd, self->name, NULL));
	EXPECT_EQ(0, kd_attach(fd2, self->name, NULL));
	EXPECT_EQ(0, kd_detach(fd2));
	close(fd2);
	close(fd);
}

TEST_F(seg, destroy_errors)
{
	struct plkv_destroy d;
	char other[PLKV_NAME_MAX];
	uint64_t size;
	int fd;
	char *p;

	th_unique_name(other, sizeof(other), "nosuch");
	EXPECT_EQ(-ENOENT, kd_destroy(self->cfd, other));
	memset(&d, 0, sizeof(d));
	strcpy(d.name, self->name);
	d.flags = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_DESTROY, &d));
	d.flags = 0;
	d.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_DESTROY, &d));

	/* Attached: EBUSY. */
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_attach(fd, self->name, &size));
	EXPECT_EQ(-EBUSY, kd_destroy(self->cfd, self->name));
	/* Mapped, even after a detach: EBUSY. */
	p = kd_map(fd, size);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, kd_detach(fd));
	EXPECT_EQ(-EBUSY, kd_destroy(self->cfd, self->name));
	/* The fd alone (detached, unmapped) does not hold it. */
	ASSERT_EQ(0, munmap(p, size));
	EXPECT_EQ(0, kd_destroy(self->cfd, self->name));
	close(fd);
}

TEST(not_attached)
{
	struct plkv_seg_info si;
	struct plkv_proc_info pi;
	uint32_t slot;
	int fd;
	char *p;

	KD_REQUIRE_DEV();
	fd = kd_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTCONN, kd_detach(fd));
	EXPECT_EQ(-ENOTCONN, kd_seg_info(fd, "", &si));
	EXPECT_EQ(-ENOTCONN, kd_procs(fd, "", &pi, 1));
	EXPECT_EQ(-ENOTCONN, kd_thread_reg(fd, &slot));
	EXPECT_EQ(-ENOTCONN, kd_thread_unreg(fd, 1));
	EXPECT_EQ(-ENOTCONN, kd_wait(fd, PLKV_LOCK_TABLE_OFF, 0, 0));
	EXPECT_EQ(-ENOTCONN, kd_wake(fd, PLKV_LOCK_TABLE_OFF, 1));
	EXPECT_EQ(-ENOTCONN, kd_ack(fd, 0));
	EXPECT_EQ(-ENOTCONN, kd_reap(fd, "", 1, 0, 0));
	p = kd_map(fd, PLKV_SEG_MIN_SIZE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOTCONN, errno);
	close(fd);
}

TEST(unknown_ioctls)
{
	char buf[4096];
	int fd;

	KD_REQUIRE_DEV();
	fd = kd_open();
	ASSERT_LE(0, fd);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, _IOWR(PLKV_IOC_MAGIC, 0x0e,
					      struct plkv_ack), buf));
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, _IOWR(PLKV_IOC_MAGIC, 0xff,
					      struct plkv_ack), buf));
	/* A known number with the wrong size or direction. */
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, _IOWR(PLKV_IOC_MAGIC, 0x00,
					      struct plkv_ack), buf));
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, _IOR(PLKV_IOC_MAGIC, 0x00,
					     struct plkv_version), buf));
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, _IO(PLKV_IOC_MAGIC, 0x01), buf));
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, _IOWR('x', 0x00,
					      struct plkv_version), buf));
	EXPECT_EQ(-ENOTTY, kd_ioctl(fd, 0, buf));
	close(fd);
}

TEST_F(seg, bad_pointers)
{
	struct plkv_attach *a;
	struct plkv_list l;
	void *bad = (void *)16;
	unsigned long cmds[] = {
		PLKV_IOC_VERSION, PLKV_IOC_CREATE, PLKV_IOC_ATTACH,
		PLKV_IOC_DETACH, PLKV_IOC_DESTROY, PLKV_IOC_SEG_INFO,
		PLKV_IOC_LIST_SEGS, PLKV_IOC_LIST_PROCS, PLKV_IOC_REAP,
		PLKV_IOC_THREAD_REG, PLKV_IOC_THREAD_UNREG, PLKV_IOC_WAIT,
		PLKV_IOC_WAKE, PLKV_IOC_ACK,
	};
	unsigned int i;
	char *ro;
	int fd;

	fd = kd_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-EFAULT, kd_ioctl(fd, cmds[i], NULL));
		EXPECT_EQ(-EFAULT, kd_ioctl(fd, cmds[i], bad));
	}
	/* The list buffer: unwritable. */
	memset(&l, 0, sizeof(l));
	l.buf = 16;
	l.capacity = 4;
	EXPECT_EQ(-EFAULT, kd_ioctl(fd, PLKV_IOC_LIST_SEGS, &l));
	/* Readable but not writable: the copy-out fails, nothing leaks. */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, kd_ioctl(fd, PLKV_IOC_VERSION, ro));
	memset(&l, 0, sizeof(l));
	l.buf = (uintptr_t)ro;
	l.capacity = 4;
	EXPECT_EQ(-EFAULT, kd_ioctl(fd, PLKV_IOC_LIST_SEGS, &l));

	/* An ATTACH whose result cannot be written attaches nothing. */
	a = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	memset(a, 0, sizeof(*a));
	strcpy(a->name, self->name);
	ASSERT_EQ(0, mprotect(a, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, kd_ioctl(fd, PLKV_IOC_ATTACH, a));
	EXPECT_EQ(0, kd_attach(fd, self->name, NULL));
	EXPECT_EQ(0, kd_detach(fd));
	munmap(a, 4096);
	munmap(ro, 4096);
	close(fd);
}

TEST_F(seg, seg_info)
{
	struct plkv_seg_info si;
	struct kd_client c;
	struct timespec now;

	ASSERT_EQ(0, kd_seg_info(self->cfd, self->name, &si));
	EXPECT_STREQ(self->name, si.name);
	EXPECT_EQ(SEG_SIZE, si.size);
	EXPECT_EQ(0600, si.mode);
	EXPECT_EQ(geteuid(), si.uid);
	EXPECT_EQ(getegid(), si.gid);
	EXPECT_EQ(0, si.nattached);
	EXPECT_EQ(0, si.nmapped);
	EXPECT_EQ(0, si.ndead);
	EXPECT_EQ(0, si.death_gen);
	clock_gettime(CLOCK_REALTIME, &now);
	EXPECT_GE((uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec,
		  si.ctime_ns);
	EXPECT_LE((uint64_t)(now.tv_sec - 600) * 1000000000ull, si.ctime_ns);

	ASSERT_EQ(0, kd_client_open(&c, self->name));
	/* "" names the fd's own segment. */
	ASSERT_EQ(0, kd_seg_info(c.fd, "", &si));
	EXPECT_STREQ(self->name, si.name);
	EXPECT_EQ(1, si.nattached);
	EXPECT_EQ(1, si.nmapped);

	memset(&si, 0, sizeof(si));
	si.flags = 1;	/* out only */
	EXPECT_EQ(-EINVAL, kd_ioctl(c.fd, PLKV_IOC_SEG_INFO, &si));
	memset(&si, 0, sizeof(si));
	si.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(c.fd, PLKV_IOC_SEG_INFO, &si));
	kd_client_close(&c);
}

TEST_F(seg, list_segs)
{
	struct plkv_seg_info info[256];
	struct plkv_list l;
	uint32_t i, total;
	bool found = false;

	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, kd_ioctl(self->cfd, PLKV_IOC_LIST_SEGS, &l));
	total = l.count;
	ASSERT_LE(1, total);
	ASSERT_GE(256, total);

	memset(info, 0, sizeof(info));
	memset(&l, 0, sizeof(l));
	l.buf = (uintptr_t)info;
	l.capacity = 256;
	ASSERT_EQ(0, kd_ioctl(self->cfd, PLKV_IOC_LIST_SEGS, &l));
	EXPECT_EQ(total, l.count);
	for (i = 0; i < l.count; i++)
		if (!strcmp(info[i].name, self->name)) {
			found = true;
			EXPECT_EQ(SEG_SIZE, info[i].size);
		}
	EXPECT_TRUE(found);

	/* A smaller buffer gets what fits and the true count. */
	memset(info, 0xaa, sizeof(info));
	memset(&l, 0, sizeof(l));
	l.buf = (uintptr_t)info;
	l.capacity = 1;
	ASSERT_EQ(0, kd_ioctl(self->cfd, PLKV_IOC_LIST_SEGS, &l));
	EXPECT_EQ(total, l.count);
	EXPECT_NE(0, info[0].size);
	EXPECT_EQ(0xaaaaaaaaaaaaaaaaull, info[1].size);

	memset(&l, 0, sizeof(l));
	strcpy(l.name, "x");
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_LIST_SEGS, &l));
	memset(&l, 0, sizeof(l));
	l.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->cfd, PLKV_IOC_LIST_SEGS, &l));
}

/* ---- permissions ---------------------------------------------------- */

static int try_attach(void *name)
{
	int fd = kd_open(), rc;

	if (fd < 0)
		return 90;
	rc = kd_attach(fd, name, NULL);
	if (!rc)
		rc = kd_detach(fd);
	close(fd);
	return -rc;	/* 0 or an errno */
}

static int try_destroy(void *name)
{
	return -kd_destroy_name(name);
}

static int try_info_and_procs(void *name)
{
	struct plkv_seg_info si;
	struct plkv_proc_info pi;
	int fd = kd_open(), rc;

	if (fd < 0)
		return 90;
	rc = kd_seg_info(fd, name, &si);
	if (rc)
		return 91;
	if (si.uid != 0)
		return 92;
	rc = kd_procs(fd, name, &pi, 1);
	close(fd);
	return rc < 0 ? -rc : 0;
}

static int try_reap(void *name)
{
	int fd = kd_open(), rc;

	if (fd < 0)
		return 90;
	rc = kd_reap(fd, name, 1, 0, 0);
	close(fd);
	return -rc;
}

struct own_args {
	const char *name;
	uint32_t mode;
};

/* As nobody: create a segment, then try to attach it: 0 or an errno. */
static int create_own(void *arg)
{
	struct own_args *o = arg;
	int fd = kd_open();

	if (fd < 0)
		return 90;
	if (kd_create(fd, o->name, SEG_SIZE, o->mode))
		return 91;
	close(fd);
	return try_attach((void *)o->name);
}

TEST_F(seg, perm_other_user)
{
	KD_REQUIRE_ROOT();
	/* 0600, root's: nobody may not attach, destroy, list or reap. */
	EXPECT_EQ(EACCES, as_nobody(try_attach, self->name, NULL, 0));
	EXPECT_EQ(EACCES, as_nobody(try_destroy, self->name, NULL, 0));
	EXPECT_EQ(EACCES, as_nobody(try_info_and_procs, self->name, NULL, 0));
	EXPECT_EQ(EACCES, as_nobody(try_reap, self->name, NULL, 0));
}

TEST(perm_modes)
{
	char name[PLKV_NAME_MAX];
	gid_t root_group = 0;
	int fd;

	KD_REQUIRE_DEV();
	KD_REQUIRE_ROOT();
	th_unique_name(name, sizeof(name), "modes");
	fd = kd_open();
	ASSERT_LE(0, fd);

	/* Other bits: rw for all lets nobody attach, never destroy. */
	ASSERT_EQ(0, kd_create(fd, name, SEG_SIZE, 0606));
	EXPECT_EQ(0, as_nobody(try_attach, name, NULL, 0));
	EXPECT_EQ(0, as_nobody(try_info_and_procs, name, NULL, 0));
	EXPECT_EQ(ENOENT, as_nobody(try_reap, name, NULL, 0));
	EXPECT_EQ(EACCES, as_nobody(try_destroy, name, NULL, 0));
	ASSERT_EQ(0, kd_destroy(fd, name));

	/* Read-only for others: attach needs write too. */
	ASSERT_EQ(0, kd_create(fd, name, SEG_SIZE, 0604));
	EXPECT_EQ(EACCES, as_nobody(try_attach, name, NULL, 0));
	EXPECT_EQ(0, as_nobody(try_info_and_procs, name, NULL, 0));
	EXPECT_EQ(EACCES, as_nobody(try_reap, name, NULL, 0));
	ASSERT_EQ(0, kd_destroy(fd, name));

	/* Group bits: a member of group 0 gets them, others do not. */
	ASSERT_EQ(0, kd_create(fd, name, SEG_SIZE, 0660));
	EXPECT_EQ(0, as_nobody(try_attach, name, &root_group, 1));
	EXPECT_EQ(EACCES, as_nobody(try_attach, name, NULL, 0));
	ASSERT_EQ(0, kd_destroy(fd, name));

	/* Group bits win over other bits (as for files). */
	ASSERT_EQ(0, kd_create(fd, name, SEG_SIZE, 0606));
	EXPECT_EQ(EACCES, as_nobody(try_attach, name, &root_group, 1));
	ASSERT_EQ(0, kd_destroy(fd, name));
	close(fd);
}

TEST(perm_owner)
{
	struct plkv_seg_info si;
	struct own_args o;
	char name[PLKV_NAME_MAX];
	int fd;

	KD_REQUIRE_DEV();
	KD_REQUIRE_ROOT();
	th_unique_name(name, sizeof(name), "own");
	o.name = name;
	fd = kd_open();
	ASSERT_LE(0, fd);

	/* Nobody creates 0600: it is the owner, and may destroy it. */
	o.mode = 0600;
	ASSERT_EQ(0, as_nobody(create_own, &o, NULL, 0));
	ASSERT_EQ(0, kd_seg_info(fd, name, &si));
	EXPECT_EQ(65534, si.uid);
	EXPECT_EQ(65534, si.gid);
	EXPECT_EQ(0600, si.mode);
	EXPECT_EQ(0, as_nobody(try_destroy, name, NULL, 0));

	/* Root (CAP_IPC_OWNER) attaches and destroys anyone's segment. */
	ASSERT_EQ(0, as_nobody(create_own, &o, NULL, 0));
	EXPECT_EQ(0, try_attach(name));
	EXPECT_EQ(0, kd_destroy(fd, name));

	/* Even the owner needs rw mode bits to attach; root does not. */
	o.mode = 0400;
	ASSERT_EQ(EACCES, as_nobody(create_own, &o, NULL, 0));
	EXPECT_EQ(0, try_attach(name));
	EXPECT_EQ(0, as_nobody(try_destroy, name, NULL, 0));
	close(fd);
}

TEST_HARNESS_MAIN
