// SPDX-License-Identifier: MIT
/*
 * The protection a client gets from plkv under PKU (threat tiers 1-2 of
 * the design brief): outside a library call the segment can be neither
 * read nor written, by any thread, including threads created later and
 * while another thread of the same process is inside a call; the key is
 * sealed; the kernel's other ways into a process's memory are closed.
 * Needs the kmod backend and a CPU with PKU: SKIPs elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "harness.h"
#include "core.h"
#include "kv_view.h"
#include "fault_util.h"


FIXTURE(prot) {
	char name[64];
	plkv_t *kv;
	char *base;
	uint64_t size;
};

FIXTURE_SETUP(prot)
{
	struct plkv_options o;
	struct plkv_info info;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	snprintf(self->name, sizeof(self->name), "st-prot-%d", (int)getpid());
	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	ASSERT_EQ(0, plkv_open(self->name, &o, &self->kv));
	ASSERT_EQ(0, plkv_info(self->kv, &info));
	if (!info.protected)
		SKIP(return, "no PKU on this CPU");
	EXPECT_LT(0, info.pkey);
	self->base = th_kv(self->kv).base;
	self->size = th_kv(self->kv).size;
	ASSERT_EQ(0, plkv_set(self->kv, "k", 1, "intact", 6, 0, 0));
	catch_segv();
}

FIXTURE_TEARDOWN(prot)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
}

static void expect_intact(struct th_test __th_unused *_metadata, plkv_t *kv)
{
	char buf[16], msg[256];
	struct plkv_meta m;

	ASSERT_EQ(0, plkv_get(kv, "k", 1, buf, sizeof(buf), &m));
	EXPECT_EQ(6, m.len);
	EXPECT_EQ(0, memcmp(buf, "intact", 6));
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
}

TEST_F(prot, stray_write_faults)
{
	EXPECT_EQ(SEGV_PKUERR, fault_of(do_write, self->base));
	EXPECT_EQ(SEGV_PKUERR, fault_of(do_write, self->base + self->size - 200));
	expect_intact(_metadata, self->kv);
}

TEST_F(prot, stray_read_faults)
{
	EXPECT_EQ(SEGV_PKUERR, fault_of(do_read, self->base));
	expect_intact(_metadata, self->kv);
}

static void *late_thread(void *arg)
{
	return (void *)(intptr_t)fault_of(do_write, arg);
}

TEST_F(prot, new_thread_starts_denied)
{
	pthread_t t;
	void *code;

	ASSERT_EQ(0, pthread_create(&t, NULL, late_thread, self->base));
	pthread_join(t, &code);
	EXPECT_EQ(SEGV_PKUERR, (int)(intptr_t)code);
	expect_intact(_metadata, self->kv);
}

struct inside_arg {
	plkv_t *kv;
	pthread_barrier_t in, out;
};

static void *stay_inside(void *p)
{
	struct inside_arg *a = p;
	struct plkv_ctx ctx;

	if (plkv_enter(a->kv, &ctx))
		return (void *)1;
	pthread_barrier_wait(&a->in);
	pthread_barrier_wait(&a->out);
	plkv_leave(&ctx);
	return NULL;
}

/* PKRU is per thread: one thread inside a call opens nothing to others. */
TEST_F(prot, other_thread_faults_while_one_is_inside)
{
	struct inside_arg a = { .kv = self->kv };
	pthread_t t;

	pthread_barrier_init(&a.in, NULL, 2);
	pthread_barrier_init(&a.out, NULL, 2);
	ASSERT_EQ(0, pthread_create(&t, NULL, stay_inside, &a));
	pthread_barrier_wait(&a.in);
	EXPECT_EQ(SEGV_PKUERR, fault_of(do_write, self->base));
	pthread_barrier_wait(&a.out);
	pthread_join(t, NULL);
	expect_intact(_metadata, self->kv);
}

TEST_F(prot, seal_refuses_rekey_and_remap)
{
	void *p;

	EXPECT_EQ(-1, mprotect(self->base, self->size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, pkey_mprotect(self->base, self->size,
				    PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(-1, mprotect(self->base, 4096, PROT_NONE));
	EXPECT_EQ(-1, mprotect(self->base, self->size,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_NE(0, munmap(self->base, 4096));
	p = mremap(self->base, self->size, self->size * 2, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, self->size, PROT_NONE, MAP_SHARED, th_kv(self->kv).fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	expect_intact(_metadata, self->kv);
}

TEST_F(prot, kernel_paths_refused)
{
	struct iovec local, remote;
	char junk[64];
	int fd;

	memset(junk, 'Z', sizeof(junk));
	fd = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, pwrite(fd, junk, sizeof(junk), (off_t)(uintptr_t)self->base));
	EXPECT_EQ(-1, pread(fd, junk, sizeof(junk), (off_t)(uintptr_t)self->base));
	close(fd);
	local.iov_base = junk;
	local.iov_len = sizeof(junk);
	remote.iov_base = self->base;
	remote.iov_len = sizeof(junk);
	EXPECT_EQ(-1, process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
	/* A syscall writing into the segment outside a call fails too. */
	fd = open("/proc/self/stat", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, self->base, 16));
	close(fd);
	expect_intact(_metadata, self->kv);
}

/*
 * The library writes results while the key is granted: a pointer into the
 * segment passed as a buffer must be refused, or a buggy client could
 * write the store through the library (and read it out through set+get).
 * Runs on every backend.
 */
TEST(segment_pointers_refused)
{
	struct plkv_mget_key mk = { .key = "k", .klen = 1 };
	const struct plkv_arith one = { .delta = 1 };
	char name[64], buf[16], msg[256];
	struct plkv_meta m;
	uint64_t v;
	plkv_t *kv;
	char *seg;

	snprintf(name, sizeof(name), "st-deputy-%d", (int)getpid());
	ASSERT_EQ(0, plkv_open(name, NULL, &kv));
	ASSERT_EQ(0, plkv_set(kv, "k", 1, "intact", 6, 0, 0));
	ASSERT_EQ(0, plkv_set(kv, "n", 1, "1", 1, 0, 0));
	seg = th_kv(kv).base + th_kv(kv).size / 2;
	EXPECT_EQ(-EFAULT, plkv_get(kv, "k", 1, seg, 16, NULL));
	EXPECT_EQ(-EFAULT, plkv_get(kv, "k", 1, buf, sizeof(buf),
				    (struct plkv_meta *)seg));
	EXPECT_EQ(-EFAULT, plkv_get(kv, seg, 1, buf, sizeof(buf), NULL));
	EXPECT_EQ(-EFAULT, plkv_set(kv, "x", 1, seg, 64, 0, 0));
	EXPECT_EQ(-EFAULT, plkv_incr(kv, "n", 1, 1, (uint64_t *)seg));
	EXPECT_EQ(-EFAULT, plkv_mget(kv, &mk, 1, seg, 16));
	EXPECT_EQ(-EFAULT, plkv_mget(kv, (struct plkv_mget_key *)seg, 1,
				     buf, sizeof(buf)));
	EXPECT_EQ(-EFAULT, plkv_check(kv, seg, 64));
	EXPECT_EQ(-EFAULT, plkv_peek(kv, "k", 1, (struct plkv_meta *)seg));
	EXPECT_EQ(-EFAULT, plkv_gat_prev(kv, "k", 1, 0, buf, sizeof(buf), &m,
					 (int64_t *)seg));
	EXPECT_EQ(-EFAULT, plkv_arith(kv, "n", 1, (struct plkv_arith *)seg,
				      &v, NULL, NULL));
	EXPECT_EQ(-EFAULT, plkv_arith(kv, "n", 1, &one, &v,
				      (struct plkv_meta *)seg, NULL));
	/* Nothing was changed by the refused calls. */
	EXPECT_EQ(0, plkv_get(kv, "k", 1, buf, sizeof(buf), &m));
	EXPECT_EQ(0, memcmp(buf, "intact", 6));
	EXPECT_EQ(PLKV_ENOTFOUND, plkv_get(kv, "x", 1, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, plkv_get(kv, "n", 1, buf, sizeof(buf), &m));
	EXPECT_EQ(0, memcmp(buf, "1", m.len));
	EXPECT_EQ(0, plkv_stat_u64(kv, "curr_items", &v));
	EXPECT_EQ(2, v);
	EXPECT_EQ(0, plkv_check(kv, msg, sizeof(msg))) TH_LOG("%s", msg);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
