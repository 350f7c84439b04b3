/*
 * kmod_map - the plkv.ko mapping and its seal: mmap rules, the one
 * mprotect the module accepts and everything refused after it (re-keying,
 * PROT_EXEC, partial mprotect/munmap, mremap, a second mapping), the
 * get_user_pages paths that must not reach the segment (/proc/self/mem,
 * process_vm_writev, vmsplice), madvise, the vma flags (no exec, no dump,
 * no copy on fork), and fork.  Data written before all of it is intact
 * after.
 *
 * SKIPs where /dev/plkv is absent; the PKU tests SKIP where the module
 * says the CPU has no PKU (and the no-PKU seal test where it has).
 */
#include "kmod_util.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>

#define SEG_SIZE	(1u << 20)
#define PAGE		4096u
#define RW		(PROT_READ | PROT_WRITE)

FIXTURE(map) {
	bool ready;
	char name[PLKV_NAME_MAX];
	struct kd_client c;	/* mapped PROT_NONE, not sealed (pkey -1) */
};

FIXTURE_SETUP(map)
{
	struct kd_client *c = &self->c;

	KD_REQUIRE_DEV();
	c->fd = -1;
	c->pkey = -1;
	c->base = MAP_FAILED;
	ASSERT_EQ(0, kd_new_seg(self->name, "map", SEG_SIZE));
	self->ready = true;
	c->fd = kd_open();
	ASSERT_LE(0, c->fd);
	ASSERT_EQ(0, kd_attach(c->fd, self->name, &c->size));
	c->base = kd_map(c->fd, c->size);
	ASSERT_NE(MAP_FAILED, c->base) TH_LOG("mmap: %s", strerror(errno));
}

FIXTURE_TEARDOWN(map)
{
	int rc;

	if (!self->ready)
		return;
	kd_client_close(&self->c);
	rc = kd_destroy_name(self->name);
	EXPECT_EQ(0, rc) TH_LOG("destroy: %s", strerror(-rc));
}

/* mprotect() (key < 0) or pkey_mprotect() of the whole segment. */
static int whole_mprotect(struct kd_client *c, int prot, int key)
{
	if (key < 0)
		return mprotect(c->base, c->size, prot);
	return pkey_mprotect(c->base, c->size, prot, key);
}

/* Seal and write a pattern; returns the key. */
static int seal_and_fill(struct th_test __th_unused *_metadata,
			 FIXTURE_DATA(map) *self)
{
	uint64_t i;

	self->c.pkey = kd_seal(self->c.base, self->c.size);
	ASSERT_LE(0, self->c.pkey) TH_LOG("seal: %s", strerror(-self->c.pkey));
	for (i = 0; i < self->c.size; i += PAGE)
		self->c.base[i] = (char)(i / PAGE + 1);
	return self->c.pkey;
}

static bool pattern_intact(FIXTURE_DATA(map) *self)
{
	uint64_t i;

	for (i = 0; i < self->c.size; i += PAGE)
		if (self->c.base[i] != (char)(i / PAGE + 1))
			return false;
	return true;
}

/*
 * The VmFlags line of the smaps entry starting at addr, and the entry's
 * size in *size.
 */
static bool vma_info(void *addr, char *out, size_t len, size_t *size)
{
	unsigned long start, end;
	char line[512];
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return false;
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)addr;
			if (in)
				*size = end - start;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t n = strlen(line + 8);

			if (n >= len)
				n = len - 1;
			memcpy(out, line + 8, n);
			out[n] = 0;
			break;
		}
	}
	fclose(f);
	return out[0] != 0;
}

static bool has_flag(const char *flags, const char *f)
{
	char pat[8];

	snprintf(pat, sizeof(pat), " %s", f);
	return strstr(flags, pat) != NULL;
}

static uint32_t my_record_state(int fd, int *pkey)
{
	struct plkv_proc_info pi;

	if (!kd_find_proc(fd, "", getpid(), &pi))
		return 0;
	if (pkey)
		*pkey = pi.pkey;
	return pi.state;
}

TEST(mmap_rules)
{
	char name[PLKV_NAME_MAX];
	uint64_t size;
	int fd, ro;
	char *p;

	KD_REQUIRE_DEV();
	ASSERT_EQ(0, kd_new_seg(name, "rules", SEG_SIZE));
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_attach(fd, name, &size));

	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_NONE, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, RW,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_EXEC, MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size - PAGE, PROT_NONE,
				   MAP_SHARED, fd, PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size - PAGE, PROT_NONE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size + PAGE, PROT_NONE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);

	/* Refusals leave no trace: the right mapping still works once. */
	p = mmap(NULL, size, PROT_NONE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_NONE, MAP_SHARED, fd, 0));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, kd_detach(fd));
	ASSERT_EQ(0, munmap(p, size));
	close(fd);

	/* A read-only fd attaches (permission is per segment) but cannot
	 * map shared-writable. */
	ro = open(PLKV_DEVICE, O_RDONLY);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, kd_attach(ro, name, &size));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_NONE, MAP_SHARED, ro, 0));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, kd_detach(ro));
	close(ro);
	EXPECT_EQ(0, kd_destroy_name(name));
}

TEST_F(map, seal_with_pkey)
{
	int key, other, rec_pkey = 99;

	if (!kd_pku())
		SKIP(return, "no PKU: the module wants key 0");
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, &rec_pkey));
	EXPECT_EQ(-1, rec_pkey);

	/* Before the seal: key 0, read-only, none: refused. */
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_READ, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_NONE, -1));
	EXPECT_EQ(EPERM, errno);

	key = seal_and_fill(_metadata, self);
	ASSERT_LT(0, key);
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, &rec_pkey));
	EXPECT_EQ(key, rec_pkey);

	/* After: every change refused, the same one included. */
	other = pkey_alloc(0, 0);
	ASSERT_LT(0, other);
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, other));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, key));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_READ, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_NONE, -1));
	EXPECT_EQ(EPERM, errno);
	/* Part of it. */
	EXPECT_EQ(-1, pkey_mprotect(self->c.base, PAGE, RW, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->c.base + PAGE, PAGE, PROT_NONE));
	EXPECT_EQ(EPERM, errno);
	/* Executable: the vma may never be (VM_MAYEXEC is gone). */
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW | PROT_EXEC, -1));
	EXPECT_EQ(EACCES, errno);
	pkey_free(other);

	EXPECT_EQ(key, rec_pkey);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, seal_without_pku)
{
	int rec_pkey = 99;

	if (kd_pku())
		SKIP(return, "PKU present: covered by seal_with_pkey");
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_READ, -1));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, seal_and_fill(_metadata, self));
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, &rec_pkey));
	EXPECT_EQ(0, rec_pkey);		/* protection off */
	EXPECT_EQ(-1, whole_mprotect(&self->c, RW, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_NONE, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, exec_never)
{
	char flags[256];
	size_t size = 0;

	/* Before the seal too. */
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_EXEC, -1));
	EXPECT_EQ(EACCES, errno);
	seal_and_fill(_metadata, self);
	ASSERT_TRUE(vma_info(self->c.base, flags, sizeof(flags), &size));
	EXPECT_EQ(self->c.size, size);
	TH_LOG("VmFlags:%s", flags);
	EXPECT_FALSE(has_flag(flags, "ex"));
	EXPECT_FALSE(has_flag(flags, "me"));
	EXPECT_TRUE(has_flag(flags, "rd"));
	EXPECT_TRUE(has_flag(flags, "wr"));
	EXPECT_TRUE(has_flag(flags, "sh"));
	EXPECT_TRUE(has_flag(flags, "io"));	/* no get_user_pages */
	EXPECT_TRUE(has_flag(flags, "pf"));
	EXPECT_TRUE(has_flag(flags, "dc"));	/* not copied on fork */
	EXPECT_TRUE(has_flag(flags, "de"));	/* never expands */
	EXPECT_TRUE(has_flag(flags, "dd"));	/* not in core dumps */
}

TEST_F(map, pkey_denies_access)
{
	int key;

	if (!kd_pku())
		SKIP(return, "no PKU on this CPU");
	key = seal_and_fill(_metadata, self);
	ASSERT_EQ(0, pkey_set(key, PKEY_DISABLE_ACCESS));
	EXPECT_TRUE(kd_touch(self->c.base + PLKV_SEG_LIB_OFF, false, 0));
	EXPECT_EQ(SEGV_PKUERR, kd_fault_code);
	EXPECT_TRUE(kd_touch(self->c.base + PLKV_SEG_LIB_OFF, true, 'x'));
	EXPECT_EQ(SEGV_PKUERR, kd_fault_code);
	ASSERT_EQ(0, pkey_set(key, PKEY_DISABLE_WRITE));
	EXPECT_FALSE(kd_touch(self->c.base + PLKV_SEG_LIB_OFF, false, 0));
	EXPECT_TRUE(kd_touch(self->c.base + PLKV_SEG_LIB_OFF, true, 'x'));
	EXPECT_EQ(SEGV_PKUERR, kd_fault_code);
	ASSERT_EQ(0, pkey_set(key, 0));
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, read_syscall_obeys_pkey)
{
	int key, pfd[2];

	if (!kd_pku())
		SKIP(return, "no PKU on this CPU");
	key = seal_and_fill(_metadata, self);
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(4, write(pfd[1], "abcd", 4));
	ASSERT_EQ(0, pkey_set(key, PKEY_DISABLE_ACCESS));
	EXPECT_EQ(-1, read(pfd[0], self->c.base + PLKV_SEG_LIB_OFF, 4));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, pkey_set(key, 0));
	EXPECT_TRUE(pattern_intact(self));
	/* Allowed, an ordinary copy reaches it (no get_user_pages). */
	EXPECT_EQ(4, read(pfd[0], self->c.base + PLKV_SEG_LIB_OFF, 4));
	EXPECT_EQ(0, memcmp(self->c.base + PLKV_SEG_LIB_OFF, "abcd", 4));
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(map, partial_munmap)
{
	char flags[256];
	size_t size = 0;

	seal_and_fill(_metadata, self);
	EXPECT_EQ(-1, munmap(self->c.base, PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(self->c.base + self->c.size - PAGE, PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(self->c.base + PAGE, 2 * PAGE));
	EXPECT_EQ(EINVAL, errno);
	/* Nor by a mapping placed over part of it, or remap_file_pages. */
	EXPECT_EQ(MAP_FAILED, mmap(self->c.base + PAGE, PAGE, RW,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				   -1, 0));
	TH_LOG("MAP_FIXED over a page: %s", strerror(errno));
	EXPECT_EQ(-1, remap_file_pages(self->c.base, PAGE, 0, 1, 0));
	TH_LOG("remap_file_pages: %s", strerror(errno));
	/*
	 * Nor split by madvise or mlock of a part: an madvise that changes
	 * the flags is refused; mlock leaves a VM_IO vma alone.
	 */
	EXPECT_EQ(-1, madvise(self->c.base + PAGE, PAGE, MADV_RANDOM));
	TH_LOG("partial MADV_RANDOM: %s", strerror(errno));
	mlock(self->c.base + PAGE, PAGE);
	madvise(self->c.base + PAGE, PAGE, MADV_DONTFORK);
	ASSERT_TRUE(vma_info(self->c.base, flags, sizeof(flags), &size));
	EXPECT_EQ(self->c.size, size);
	EXPECT_FALSE(has_flag(flags, "lo"));
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, NULL));
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, mremap_refused)
{
	struct plkv_seg_info si;
	void *q, *spot;

	seal_and_fill(_metadata, self);
	/* grow */
	q = mremap(self->c.base, self->c.size, self->c.size + PAGE,
		   MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("grow: %s", strerror(errno));
	/* shrink (a partial unmap) */
	q = mremap(self->c.base, self->c.size, self->c.size - PAGE, 0);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("shrink: %s", strerror(errno));
	/* move, same size */
	spot = mmap(NULL, self->c.size + PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, spot);
	q = mremap(self->c.base, self->c.size, self->c.size,
		   MREMAP_MAYMOVE | MREMAP_FIXED, spot);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("move: %s", strerror(errno));
	/* duplicate (old_len 0) */
	q = mremap(self->c.base, 0, self->c.size, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("duplicate: %s", strerror(errno));
	/* keep the source */
	q = mremap(self->c.base, self->c.size, self->c.size,
		   MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("dontunmap: %s", strerror(errno));
	munmap(spot, self->c.size + PAGE);

	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, NULL));
	ASSERT_EQ(0, kd_seg_info(self->c.fd, "", &si));
	EXPECT_EQ(1, si.nmapped);
	EXPECT_EQ(0, si.death_gen);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, second_mapping)
{
	int fd2;

	seal_and_fill(_metadata, self);
	EXPECT_EQ(MAP_FAILED, kd_map(self->c.fd, self->c.size));
	EXPECT_EQ(EBUSY, errno);
	fd2 = kd_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EBUSY, kd_attach(fd2, self->name, NULL));
	EXPECT_EQ(MAP_FAILED, kd_map(fd2, self->c.size));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd2);
	EXPECT_TRUE(pattern_intact(self));

	/*
	 * Detached but still mapped: a new attachment of the same process
	 * may not map the segment a second time (and seal it with a key of
	 * its choosing) until the old mapping is gone.
	 */
	ASSERT_EQ(0, kd_detach(self->c.fd));
	fd2 = kd_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kd_attach(fd2, self->name, NULL));
	EXPECT_EQ(MAP_FAILED, kd_map(fd2, self->c.size));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_TRUE(pattern_intact(self));
	ASSERT_EQ(0, munmap(self->c.base, self->c.size));
	self->c.base = kd_map(fd2, self->c.size);
	ASSERT_NE(MAP_FAILED, self->c.base) TH_LOG("mmap: %s", strerror(errno));
	close(self->c.fd);
	self->c.fd = fd2;
}

static int clone_vm_child(void *arg)
{
	FIXTURE_DATA(map) *self = arg;
	int fd = kd_open();
	char *p;

	if (fd < 0 || kd_attach(fd, self->name, NULL))
		return 10;
	p = kd_map(fd, self->c.size);
	if (p != MAP_FAILED)
		return 11;
	return errno == EBUSY ? 0 : 12;
}

/*
 * A process that shares this one's address space (clone(CLONE_VM) without
 * CLONE_THREAD: its own tgid, so its own record) may attach, but not map
 * the segment into the address space that maps it already.
 */
TEST_F(map, clone_vm_cannot_map_again)
{
	size_t stack_size = 256 * 1024;
	char *stack;
	int status;
	pid_t pid;

	seal_and_fill(_metadata, self);
	stack = mmap(NULL, stack_size, RW,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, stack);
	pid = clone(clone_vm_child, stack + stack_size, CLONE_VM | SIGCHLD,
		    self);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	munmap(stack, stack_size);
	EXPECT_TRUE(pattern_intact(self));
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, NULL));
}

TEST_F(map, no_gup_access)
{
	char buf[16] = "overwrite", *target;
	struct iovec local, remote;
	int mfd, pfd[2];

	seal_and_fill(_metadata, self);
	target = self->c.base + PLKV_SEG_LIB_OFF;

	mfd = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, mfd);
	EXPECT_EQ(-1, pwrite(mfd, buf, sizeof(buf), (off_t)(uintptr_t)target));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pread(mfd, buf, sizeof(buf), (off_t)(uintptr_t)target));
	EXPECT_EQ(EIO, errno);
	close(mfd);

	local.iov_base = buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = target;
	remote.iov_len = sizeof(buf);
	EXPECT_EQ(-1, process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);

	/* vmsplice pins the pages it is given: refused too. */
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(-1, vmsplice(pfd[1], &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	close(pfd[0]);
	close(pfd[1]);

	EXPECT_TRUE(pattern_intact(self));
}

/*
 * An O_DIRECT target: $PLKV_ODIRECT_DEV (the VM loads brd and names
 * /dev/ram0), else a file on a filesystem that takes O_DIRECT (tmpfs
 * before Linux 6.6 does not).  Returns the fd or -errno.
 */
static int odirect_open(char *path, size_t len)
{
	static const char *const dirs[] = { "/var/tmp", ".", "/tmp" };
	const char *dev = getenv("PLKV_ODIRECT_DEV");
	unsigned int i;
	int fd = -ENOENT;

	if (dev && *dev) {
		snprintf(path, len, "%s", dev);
		fd = open(path, O_RDWR | O_DIRECT);
		return fd < 0 ? -errno : fd;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/plkv-odirect-%d", dirs[i], getpid());
		fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
		if (fd >= 0)
			return fd;
		fd = -errno;
		unlink(path);
	}
	path[0] = 0;
	return fd;
}

TEST_F(map, o_direct_refused)
{
	char path[128], *buf;
	int dfd;

	seal_and_fill(_metadata, self);
	dfd = odirect_open(path, sizeof(path));
	if (dfd < 0 && getenv("PLKV_ODIRECT_DEV"))
		ASSERT_LE(0, dfd) TH_LOG("%s: %s", path, strerror(-dfd));
	if (dfd < 0)
		SKIP(return, "no O_DIRECT target here: %s", strerror(-dfd));
	TH_LOG("O_DIRECT through %s", path);

	/* An ordinary page goes through, both ways. */
	buf = mmap(NULL, PAGE, RW,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 'd', PAGE);
	ASSERT_EQ(PAGE, pwrite(dfd, buf, PAGE, 0)) TH_LOG("%m");
	ASSERT_EQ(PAGE, pread(dfd, buf, PAGE, 0)) TH_LOG("%m");

	/* The segment does not, either way: no page of it can be pinned. */
	EXPECT_EQ(-1, pwrite(dfd, self->c.base + PLKV_SEG_LIB_OFF, PAGE, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, pread(dfd, self->c.base + PLKV_SEG_LIB_OFF, PAGE, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, pread(dfd, self->c.base, PAGE, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(buf, PAGE);
	close(dfd);
	if (!getenv("PLKV_ODIRECT_DEV"))
		unlink(path);
	EXPECT_TRUE(pattern_intact(self));
}

/* Bytes only this seed makes, written byte by byte: no copy elsewhere. */
static void marker(char *dst, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		dst[i] = (char)(seed >> 24);
	}
}

#define MARK_LEN	64

static int dump_core(struct kd_client *c, void *arg)
{
	uint64_t seed = *(uint64_t *)arg;
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char *anon;

	anon = mmap(NULL, PAGE, RW,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || setrlimit(RLIMIT_CORE, &rl) ||
	    prctl(PR_SET_DUMPABLE, 1))
		return 20;
	marker(anon, MARK_LEN, seed);			/* dumped */
	marker(c->base + PLKV_SEG_LIB_OFF, MARK_LEN, seed + 1);	/* not */
	signal(SIGABRT, SIG_DFL);
	abort();
}

/* The whole file at path (malloc'd), its size in *len. */
static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL, *nb;
	size_t cap = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - *len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		n = read(fd, buf + *len, cap - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return buf;
}

/* A client that dumps core: its segment is not in the core (VM_DONTDUMP). */
TEST_F(map, core_dump_excludes_segment)
{
	char pattern[256], core[128], want[MARK_LEN], *data;
	uint64_t seed = (uint64_t)kd_now_ns() | 1;
	struct plkv_proc_info pi;
	size_t len = 0;
	int status;
	pid_t pid;

	KD_REQUIRE_ROOT();
	if (!kd_read_proc(0, "sys/kernel/core_pattern", pattern,
			  sizeof(pattern)))
		SKIP(return, "no /proc/sys/kernel/core_pattern");
	ASSERT_TRUE(kd_write_file("/proc/sys/kernel/core_pattern",
				  "/tmp/plkv-core.%p"));
	pid = kd_fork_client(self->name, dump_core, &seed);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	kd_write_file("/proc/sys/kernel/core_pattern", pattern);
	ASSERT_TRUE(WIFSIGNALED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(SIGABRT, WTERMSIG(status));
	ASSERT_TRUE(WCOREDUMP(status));

	snprintf(core, sizeof(core), "/tmp/plkv-core.%d", (int)pid);
	data = slurp(core, &len);
	unlink(core);
	ASSERT_NE(NULL, data) TH_LOG("%s: %s", core, strerror(errno));
	TH_LOG("core: %zu bytes", len);
	marker(want, MARK_LEN, seed);
	EXPECT_NE(NULL, memmem(data, len, want, MARK_LEN));	/* control */
	marker(want, MARK_LEN, seed + 1);
	EXPECT_EQ(NULL, memmem(data, len, want, MARK_LEN));	/* segment */
	free(data);

	/* It died attached: a dead record, reaped here. */
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", pid, &pi));
	EXPECT_EQ(PLKV_PROC_DEAD, pi.state);
	EXPECT_EQ(0, kd_reap_recovered(self->c.fd, pid, 0));
}

TEST_F(map, madvise_harmless)
{
	seal_and_fill(_metadata, self);
	EXPECT_EQ(-1, madvise(self->c.base, self->c.size, MADV_REMOVE));
	TH_LOG("MADV_REMOVE: %s", strerror(errno));
	EXPECT_EQ(-1, madvise(self->c.base, self->c.size, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(self->c.base, self->c.size, MADV_DODUMP));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(self->c.base, self->c.size, MADV_WIPEONFORK));
	/* Whatever these say, the data must stay. */
	madvise(self->c.base, self->c.size, MADV_DONTNEED);
	madvise(self->c.base, self->c.size, MADV_FREE);
	madvise(self->c.base, self->c.size, MADV_COLD);
	madvise(self->c.base, self->c.size, MADV_PAGEOUT);
	madvise(self->c.base, self->c.size, MADV_MERGEABLE);
	madvise(self->c.base, self->c.size, MADV_HUGEPAGE);
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, NULL));
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, fork_child_has_no_mapping)
{
	int status, pipefd[2];
	pid_t pid;

	seal_and_fill(_metadata, self);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kd_client c;
		uint32_t slot;

		/* Not mapped here at all. */
		if (!kd_touch(self->c.base + PLKV_SEG_LIB_OFF, false, 0) ||
		    kd_fault_code != SEGV_MAPERR)
			_exit(10);
		/* The inherited fd is the parent's attachment, not ours. */
		if (kd_map(self->c.fd, self->c.size) != MAP_FAILED ||
		    errno != ENOTCONN)
			_exit(11);
		if (kd_thread_reg(self->c.fd, &slot) != -ENOTCONN)
			_exit(12);
		if (kd_detach(self->c.fd) != -ENOTCONN)
			_exit(13);
		/* Attached for itself, it shares the data. */
		if (kd_client_open(&c, self->name))
			_exit(14);
		if (c.base[PAGE * 20] != (char)21)
			_exit(16);
		c.base[PLKV_SEG_LIB_OFF + 1] = 'C';
		kd_client_close(&c);
		_exit(0);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ('C', self->c.base[PLKV_SEG_LIB_OFF + 1]);
	/* The parent's record is untouched by all of it. */
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->c.fd, NULL));
}

TEST_F(map, detach_then_munmap_is_clean)
{
	struct plkv_seg_info si;

	seal_and_fill(_metadata, self);
	ASSERT_EQ(0, kd_detach(self->c.fd));
	/* Still mapped, no longer attached: the seal holds regardless. */
	EXPECT_EQ(-1, whole_mprotect(&self->c, PROT_NONE, -1));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, kd_seg_info(self->c.fd, "", &si));
	EXPECT_EQ(0, si.nattached);
	EXPECT_EQ(1, si.nmapped);
	ASSERT_EQ(0, munmap(self->c.base, self->c.size));
	self->c.base = MAP_FAILED;
	ASSERT_EQ(0, kd_seg_info(self->c.fd, "", &si));
	EXPECT_EQ(0, si.nmapped);
	EXPECT_EQ(0, si.ndead);
	EXPECT_EQ(0, si.death_gen);
}

TEST_F(map, munmap_without_detach_is_death)
{
	struct plkv_seg_info si;
	int rec_pkey = 99;

	seal_and_fill(_metadata, self);
	ASSERT_EQ(0, munmap(self->c.base, self->c.size));
	self->c.base = MAP_FAILED;
	ASSERT_EQ(0, kd_seg_info(self->c.fd, "", &si));
	EXPECT_EQ(0, si.nattached);
	EXPECT_EQ(1, si.ndead);
	EXPECT_EQ(1, si.death_gen);
	EXPECT_EQ(PLKV_PROC_DEAD, my_record_state(self->c.fd, &rec_pkey));
	EXPECT_EQ(self->c.pkey, rec_pkey);
	/* Dead is dead: no mapping again through this record. */
	EXPECT_EQ(MAP_FAILED, kd_map(self->c.fd, self->c.size));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-ENOTCONN, kd_detach(self->c.fd));
}

TEST_HARNESS_MAIN
