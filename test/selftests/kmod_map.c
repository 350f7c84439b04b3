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

#include <sys/uio.h>

#define SEG_SIZE	(1u << 20)
#define PAGE		4096u

FIXTURE(map) {
	bool ready;
	char name[PLKV_NAME_MAX];
	int fd;
	char *p;		/* mapped PROT_NONE, not sealed */
	uint64_t size;
	int pkey;
};

FIXTURE_SETUP(map)
{
	int cfd;

	KD_REQUIRE_DEV();
	th_unique_name(self->name, sizeof(self->name), "map");
	cfd = kd_open();
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, kd_create(cfd, self->name, SEG_SIZE, 0600));
	close(cfd);
	self->pkey = -1;
	self->p = MAP_FAILED;
	self->ready = true;
	self->fd = kd_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kd_attach(self->fd, self->name, &self->size));
	self->p = kd_map(self->fd, self->size);
	ASSERT_NE(MAP_FAILED, self->p) TH_LOG("mmap: %s", strerror(errno));
}

FIXTURE_TEARDOWN(map)
{
	int rc;

	if (!self->ready)
		return;
	kd_detach(self->fd);
	if (self->p != MAP_FAILED)
		munmap(self->p, self->size);
	close(self->fd);
	if (self->pkey > 0)
		pkey_free(self->pkey);
	rc = kd_destroy_name(self->name);
	EXPECT_EQ(0, rc) TH_LOG("destroy: %s", strerror(-rc));
}

/* Seal and write a pattern; returns the key. */
static int seal_and_fill(struct th_test __th_unused *_metadata,
			 FIXTURE_DATA(map) *self)
{
	uint64_t i;

	self->pkey = kd_seal(self->p, self->size);
	ASSERT_LE(0, self->pkey) TH_LOG("seal: %s", strerror(-self->pkey));
	for (i = 0; i < self->size; i += PAGE)
		self->p[i] = (char)(i / PAGE + 1);
	return self->pkey;
}

static bool pattern_intact(FIXTURE_DATA(map) *self)
{
	uint64_t i;

	for (i = 0; i < self->size; i += PAGE)
		if (self->p[i] != (char)(i / PAGE + 1))
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
	th_unique_name(name, sizeof(name), "rules");
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kd_create(fd, name, SEG_SIZE, 0600));
	ASSERT_EQ(0, kd_attach(fd, name, &size));

	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_NONE, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ | PROT_WRITE,
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
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, &rec_pkey));
	EXPECT_EQ(-1, rec_pkey);

	/* Before the seal: key 0, read-only, none: refused. */
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, pkey_mprotect(self->p, self->size, PROT_READ | PROT_WRITE,
				    0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_READ));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_NONE));
	EXPECT_EQ(EPERM, errno);

	key = seal_and_fill(_metadata, self);
	ASSERT_LT(0, key);
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, &rec_pkey));
	EXPECT_EQ(key, rec_pkey);

	/* After: every change refused, the same one included. */
	other = pkey_alloc(0, 0);
	ASSERT_LT(0, other);
	EXPECT_EQ(-1, pkey_mprotect(self->p, self->size, PROT_READ | PROT_WRITE,
				    0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, pkey_mprotect(self->p, self->size, PROT_READ | PROT_WRITE,
				    other));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, pkey_mprotect(self->p, self->size, PROT_READ | PROT_WRITE,
				    key));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_READ));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_NONE));
	EXPECT_EQ(EPERM, errno);
	/* Part of it. */
	EXPECT_EQ(-1, pkey_mprotect(self->p, PAGE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p + PAGE, PAGE, PROT_NONE));
	EXPECT_EQ(EPERM, errno);
	/* Executable: the vma may never be (VM_MAYEXEC is gone). */
	EXPECT_EQ(-1, mprotect(self->p, self->size,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
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
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_READ));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, seal_and_fill(_metadata, self));
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, &rec_pkey));
	EXPECT_EQ(0, rec_pkey);		/* protection off */
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_NONE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, exec_never)
{
	char flags[256];
	size_t size = 0;

	/* Before the seal too. */
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	seal_and_fill(_metadata, self);
	ASSERT_TRUE(vma_info(self->p, flags, sizeof(flags), &size));
	EXPECT_EQ(self->size, size);
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
	EXPECT_TRUE(kd_touch(self->p + PLKV_SEG_LIB_OFF, false, 0));
	EXPECT_EQ(SEGV_PKUERR, kd_fault_code);
	EXPECT_TRUE(kd_touch(self->p + PLKV_SEG_LIB_OFF, true, 'x'));
	EXPECT_EQ(SEGV_PKUERR, kd_fault_code);
	ASSERT_EQ(0, pkey_set(key, PKEY_DISABLE_WRITE));
	EXPECT_FALSE(kd_touch(self->p + PLKV_SEG_LIB_OFF, false, 0));
	EXPECT_TRUE(kd_touch(self->p + PLKV_SEG_LIB_OFF, true, 'x'));
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
	EXPECT_EQ(-1, read(pfd[0], self->p + PLKV_SEG_LIB_OFF, 4));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, pkey_set(key, 0));
	EXPECT_TRUE(pattern_intact(self));
	/* Allowed, an ordinary copy reaches it (no get_user_pages). */
	EXPECT_EQ(4, read(pfd[0], self->p + PLKV_SEG_LIB_OFF, 4));
	EXPECT_EQ(0, memcmp(self->p + PLKV_SEG_LIB_OFF, "abcd", 4));
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(map, partial_munmap)
{
	char flags[256];
	size_t size = 0;

	seal_and_fill(_metadata, self);
	EXPECT_EQ(-1, munmap(self->p, PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(self->p + self->size - PAGE, PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(self->p + PAGE, 2 * PAGE));
	EXPECT_EQ(EINVAL, errno);
	/*
	 * Nor split by madvise or mlock of a part: an madvise that changes
	 * the flags is refused; mlock leaves a VM_IO vma alone.
	 */
	EXPECT_EQ(-1, madvise(self->p + PAGE, PAGE, MADV_RANDOM));
	TH_LOG("partial MADV_RANDOM: %s", strerror(errno));
	mlock(self->p + PAGE, PAGE);
	madvise(self->p + PAGE, PAGE, MADV_DONTFORK);
	ASSERT_TRUE(vma_info(self->p, flags, sizeof(flags), &size));
	EXPECT_EQ(self->size, size);
	EXPECT_FALSE(has_flag(flags, "lo"));
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, NULL));
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, mremap_refused)
{
	struct plkv_seg_info si;
	void *q, *spot;

	seal_and_fill(_metadata, self);
	/* grow */
	q = mremap(self->p, self->size, self->size + PAGE, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("grow: %s", strerror(errno));
	/* shrink (a partial unmap) */
	q = mremap(self->p, self->size, self->size - PAGE, 0);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("shrink: %s", strerror(errno));
	/* move, same size */
	spot = mmap(NULL, self->size + PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, spot);
	q = mremap(self->p, self->size, self->size,
		   MREMAP_MAYMOVE | MREMAP_FIXED, spot);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("move: %s", strerror(errno));
	/* duplicate (old_len 0) */
	q = mremap(self->p, 0, self->size, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("duplicate: %s", strerror(errno));
	/* keep the source */
	q = mremap(self->p, self->size, self->size,
		   MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	EXPECT_EQ(MAP_FAILED, q);
	TH_LOG("dontunmap: %s", strerror(errno));
	munmap(spot, self->size + PAGE);

	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, NULL));
	ASSERT_EQ(0, kd_seg_info(self->fd, "", &si));
	EXPECT_EQ(1, si.nmapped);
	EXPECT_EQ(0, si.death_gen);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, second_mapping)
{
	int fd2;

	seal_and_fill(_metadata, self);
	EXPECT_EQ(MAP_FAILED, kd_map(self->fd, self->size));
	EXPECT_EQ(EBUSY, errno);
	fd2 = kd_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EBUSY, kd_attach(fd2, self->name, NULL));
	EXPECT_EQ(MAP_FAILED, kd_map(fd2, self->size));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd2);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, no_gup_access)
{
	char buf[16] = "overwrite", *target;
	struct iovec local, remote;
	int mfd, pfd[2];

	seal_and_fill(_metadata, self);
	target = self->p + PLKV_SEG_LIB_OFF;

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

TEST_F(map, o_direct_refused)
{
	char path[128];
	int dfd;

	seal_and_fill(_metadata, self);
	snprintf(path, sizeof(path), "/var/tmp/plkv-odirect-%d", getpid());
	dfd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (dfd < 0)
		dfd = open(path + 4, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (dfd < 0)
		SKIP(return, "no filesystem with O_DIRECT here: %s",
		     strerror(errno));
	EXPECT_EQ(-1, pwrite(dfd, self->p + PLKV_SEG_LIB_OFF, PAGE, 0));
	EXPECT_EQ(EFAULT, errno);
	close(dfd);
	unlink(path);
	unlink(path + 4);
	EXPECT_TRUE(pattern_intact(self));
}

TEST_F(map, madvise_harmless)
{
	seal_and_fill(_metadata, self);
	EXPECT_EQ(-1, madvise(self->p, self->size, MADV_REMOVE));
	TH_LOG("MADV_REMOVE: %s", strerror(errno));
	EXPECT_EQ(-1, madvise(self->p, self->size, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(self->p, self->size, MADV_DODUMP));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(self->p, self->size, MADV_WIPEONFORK));
	/* Whatever these say, the data must stay. */
	madvise(self->p, self->size, MADV_DONTNEED);
	madvise(self->p, self->size, MADV_FREE);
	madvise(self->p, self->size, MADV_COLD);
	madvise(self->p, self->size, MADV_PAGEOUT);
	madvise(self->p, self->size, MADV_MERGEABLE);
	madvise(self->p, self->size, MADV_HUGEPAGE);
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, NULL));
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
		if (!kd_touch(self->p + PLKV_SEG_LIB_OFF, false, 0) ||
		    kd_fault_code != SEGV_MAPERR)
			_exit(10);
		/* The inherited fd is the parent's attachment, not ours. */
		if (kd_map(self->fd, self->size) != MAP_FAILED ||
		    errno != ENOTCONN)
			_exit(11);
		if (kd_thread_reg(self->fd, &slot) != -ENOTCONN)
			_exit(12);
		if (kd_detach(self->fd) != -ENOTCONN)
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
	EXPECT_EQ('C', self->p[PLKV_SEG_LIB_OFF + 1]);
	/* The parent's record is untouched by all of it. */
	EXPECT_EQ(PLKV_PROC_ATTACHED, my_record_state(self->fd, NULL));
}

TEST_F(map, detach_then_munmap_is_clean)
{
	struct plkv_seg_info si;

	seal_and_fill(_metadata, self);
	ASSERT_EQ(0, kd_detach(self->fd));
	/* Still mapped, no longer attached: the seal holds regardless. */
	EXPECT_EQ(-1, mprotect(self->p, self->size, PROT_NONE));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, kd_seg_info(self->fd, "", &si));
	EXPECT_EQ(0, si.nattached);
	EXPECT_EQ(1, si.nmapped);
	ASSERT_EQ(0, munmap(self->p, self->size));
	self->p = MAP_FAILED;
	ASSERT_EQ(0, kd_seg_info(self->fd, "", &si));
	EXPECT_EQ(0, si.nmapped);
	EXPECT_EQ(0, si.ndead);
	EXPECT_EQ(0, si.death_gen);
}

TEST_F(map, munmap_without_detach_is_death)
{
	struct plkv_seg_info si;
	int rec_pkey = 99;

	seal_and_fill(_metadata, self);
	ASSERT_EQ(0, munmap(self->p, self->size));
	self->p = MAP_FAILED;
	ASSERT_EQ(0, kd_seg_info(self->fd, "", &si));
	EXPECT_EQ(0, si.nattached);
	EXPECT_EQ(1, si.ndead);
	EXPECT_EQ(1, si.death_gen);
	EXPECT_EQ(PLKV_PROC_DEAD, my_record_state(self->fd, &rec_pkey));
	EXPECT_EQ(self->pkey, rec_pkey);
	/* Dead is dead: no mapping again through this record. */
	EXPECT_EQ(MAP_FAILED, kd_map(self->fd, self->size));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-ENOTCONN, kd_detach(self->fd));
}

TEST_HARNESS_MAIN
