/*
 * kmod_util.h - helpers shared by the plkv.ko selftests (kmod_*.c).
 *
 * Every helper returns 0 or a negative errno, never exits, so a test can
 * check the exact error.  KD_REQUIRE_DEV() SKIPs a test where /dev/plkv is
 * absent (the host, or a VM without the module).
 */
#ifndef PLKV_KMOD_UTIL_H
#define PLKV_KMOD_UTIL_H

#include "harness.h"	/* first: it defines _GNU_SOURCE */
#include "fault_util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/plkv.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

#define KD_REQUIRE_DEV()						\
	do {								\
		if (access(PLKV_DEVICE, F_OK))				\
			SKIP(return, "%s absent (plkv.ko not loaded)",	\
			     PLKV_DEVICE);				\
	} while (0)

#define KD_REQUIRE_ROOT()						\
	do {								\
		if (geteuid())						\
			SKIP(return, "needs root");			\
	} while (0)

/* Copy a name into a zeroed PLKV_NAME_MAX field (truncating). */
static __th_unused void kd_name(char *field, const char *name)
{
	size_t n = strnlen(name, PLKV_NAME_MAX - 1);

	memcpy(field, name, n);
	field[n] = 0;
}

static __th_unused int kd_open(void)
{
	int fd = open(PLKV_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static __th_unused int kd_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static __th_unused int kd_version(int fd, struct plkv_version *v)
{
	memset(v, 0, sizeof(*v));
	return kd_ioctl(fd, PLKV_IOC_VERSION, v);
}

/* The module's view of PKU: whether the seal wants a non-zero key. */
static __th_unused bool kd_pku(void)
{
	struct plkv_version v;
	int fd = kd_open();
	bool pku = false;

	if (fd >= 0) {
		pku = !kd_version(fd, &v) && (v.flags & PLKV_VERSION_F_PKU);
		close(fd);
	}
	return pku;
}

static __th_unused int kd_create(int fd, const char *name, uint64_t size,
				 uint32_t mode)
{
	struct plkv_create c;

	memset(&c, 0, sizeof(c));
	kd_name(c.name, name);
	c.size = size;
	c.mode = mode;
	return kd_ioctl(fd, PLKV_IOC_CREATE, &c);
}

static __th_unused int kd_attach(int fd, const char *name, uint64_t *size)
{
	struct plkv_attach a;
	int rc;

	memset(&a, 0, sizeof(a));
	kd_name(a.name, name);
	rc = kd_ioctl(fd, PLKV_IOC_ATTACH, &a);
	if (!rc && size)
		*size = a.size;
	return rc;
}

static __th_unused int kd_detach(int fd)
{
	struct plkv_detach d;

	memset(&d, 0, sizeof(d));
	return kd_ioctl(fd, PLKV_IOC_DETACH, &d);
}

static __th_unused int kd_destroy(int fd, const char *name)
{
	struct plkv_destroy d;

	memset(&d, 0, sizeof(d));
	kd_name(d.name, name);
	return kd_ioctl(fd, PLKV_IOC_DESTROY, &d);
}

/*
 * A new segment of size bytes, mode 0600, named th_unique_name(prefix)
 * into name (PLKV_NAME_MAX bytes), created through a fresh fd.
 */
static __th_unused int kd_new_seg(char *name, const char *prefix,
				  uint64_t size)
{
	int fd = kd_open(), rc;

	th_unique_name(name, PLKV_NAME_MAX, prefix);
	if (fd < 0)
		return fd;
	rc = kd_create(fd, name, size, 0600);
	close(fd);
	return rc;
}

/* Destroy through a fresh fd (for teardowns). */
static __th_unused int kd_destroy_name(const char *name)
{
	int fd = kd_open(), rc;

	if (fd < 0)
		return fd;
	rc = kd_destroy(fd, name);
	close(fd);
	return rc;
}

static __th_unused int kd_seg_info(int fd, const char *name,
				   struct plkv_seg_info *si)
{
	memset(si, 0, sizeof(*si));
	if (name)
		kd_name(si->name, name);
	return kd_ioctl(fd, PLKV_IOC_SEG_INFO, si);
}

/* CREATE, then the size the module gave it in *got (if got). */
static __th_unused int kd_create_size(int fd, const char *name, uint64_t size,
				      uint64_t *got)
{
	struct plkv_seg_info si;
	int rc = kd_create(fd, name, size, 0600);

	if (!rc && got) {
		rc = kd_seg_info(fd, name, &si);
		*got = si.size;
	}
	return rc;
}

/* LIST_PROCS into info[cap]; returns the count or -errno. */
static __th_unused int kd_procs(int fd, const char *name,
				struct plkv_proc_info *info, uint32_t cap)
{
	struct plkv_list l;
	int rc;

	memset(&l, 0, sizeof(l));
	if (name)
		kd_name(l.name, name);
	l.buf = (uintptr_t)info;
	l.capacity = cap;
	rc = kd_ioctl(fd, PLKV_IOC_LIST_PROCS, &l);
	return rc ? rc : (int)l.count;
}

/* The record of tgid in the segment, copied to *out; false if none. */
static __th_unused bool kd_find_proc(int fd, const char *name, pid_t tgid,
				     struct plkv_proc_info *out)
{
	struct plkv_proc_info info[64];
	int i, n = kd_procs(fd, name, info, 64);

	for (i = 0; i < n && i < 64; i++) {
		if ((pid_t)info[i].tgid == tgid) {
			*out = info[i];
			return true;
		}
	}
	return false;
}

static __th_unused int kd_reap(int fd, const char *name, pid_t tgid,
			       uint64_t start_time, uint32_t flags)
{
	struct plkv_reap r;

	memset(&r, 0, sizeof(r));
	if (name)
		kd_name(r.name, name);
	r.tgid = (uint32_t)tgid;
	r.start_time = start_time;
	r.flags = flags;
	return kd_ioctl(fd, PLKV_IOC_REAP, &r);
}

static __th_unused int kd_thread_reg(int fd, uint32_t *slot)
{
	struct plkv_thread t;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = kd_ioctl(fd, PLKV_IOC_THREAD_REG, &t);
	if (!rc)
		*slot = t.slot;
	return rc;
}

static __th_unused int kd_thread_unreg(int fd, uint32_t slot)
{
	struct plkv_thread t;

	memset(&t, 0, sizeof(t));
	t.slot = slot;
	return kd_ioctl(fd, PLKV_IOC_THREAD_UNREG, &t);
}

static __th_unused int kd_wait(int fd, uint64_t off, uint32_t expected,
			       int64_t timeout_ns)
{
	struct plkv_wait w;

	memset(&w, 0, sizeof(w));
	w.offset = off;
	w.expected = expected;
	w.timeout_ns = timeout_ns;
	return kd_ioctl(fd, PLKV_IOC_WAIT, &w);
}

/* WAKE; returns the number woken or -errno. */
static __th_unused int kd_wake(int fd, uint64_t off, uint32_t count)
{
	struct plkv_wake w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.offset = off;
	w.count = count;
	rc = kd_ioctl(fd, PLKV_IOC_WAKE, &w);
	return rc ? rc : (int)w.woken;
}

static __th_unused int kd_ack(int fd, uint32_t gen)
{
	struct plkv_ack a;

	memset(&a, 0, sizeof(a));
	a.death_gen = gen;
	return kd_ioctl(fd, PLKV_IOC_ACK, &a);
}

/* mmap PROT_NONE, as the module requires; MAP_FAILED and errno on error. */
static __th_unused char *kd_map(int fd, uint64_t size)
{
	return mmap(NULL, size, PROT_NONE, MAP_SHARED, fd, 0);
}

/*
 * The seal: read/write with a fresh protection key (PKU), or with key 0
 * (no PKU).  Returns the key (0 without PKU) or -errno.
 */
static __th_unused int kd_seal(char *p, uint64_t size)
{
	int key;

	if (!kd_pku())
		return mprotect(p, size, PROT_READ | PROT_WRITE) ? -errno : 0;
	key = pkey_alloc(0, 0);
	if (key < 0)
		return -errno;
	if (pkey_mprotect(p, size, PROT_READ | PROT_WRITE, key)) {
		int rc = -errno;

		pkey_free(key);
		return rc;
	}
	return key;
}

/*
 * A segment attached, mapped and sealed through one fd: what a library
 * client holds.  Returns 0 or -errno; on error nothing is left open.
 */
struct kd_client {
	int fd;
	char *base;
	uint64_t size;
	int pkey;
};

static __th_unused int kd_client_open(struct kd_client *c, const char *name)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->base = MAP_FAILED;
	c->fd = kd_open();
	if (c->fd < 0)
		return c->fd;
	rc = kd_attach(c->fd, name, &c->size);
	if (rc)
		goto fail;
	c->base = kd_map(c->fd, c->size);
	if (c->base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	c->pkey = kd_seal(c->base, c->size);
	if (c->pkey < 0) {
		rc = c->pkey;
		goto fail;
	}
	return 0;
fail:
	if (c->base != MAP_FAILED)
		munmap(c->base, c->size);
	close(c->fd);
	c->fd = -1;
	return rc;
}

/* Clean close: detach, unmap, close. */
static __th_unused void kd_client_close(struct kd_client *c)
{
	if (c->fd < 0)
		return;
	kd_detach(c->fd);
	if (c->base != MAP_FAILED)
		munmap(c->base, c->size);
	close(c->fd);
	if (c->pkey > 0)
		pkey_free(c->pkey);
	c->fd = -1;
}

/*
 * KD_CLIENT_FIXTURE(f, prefix, size): fixture f holds a fresh segment
 * (self->name) and this process as a client of it (self->c), closed
 * cleanly and destroyed at teardown.
 */
#define KD_CLIENT_FIXTURE(f, prefix, size)				\
	FIXTURE(f) {							\
		bool ready;						\
		char name[PLKV_NAME_MAX];				\
		struct kd_client c;					\
	};								\
	FIXTURE_SETUP(f)						\
	{								\
		KD_REQUIRE_DEV();					\
		self->c.fd = -1;					\
		ASSERT_EQ(0, kd_new_seg(self->name, prefix, size));	\
		self->ready = true;					\
		ASSERT_EQ(0, kd_client_open(&self->c, self->name));	\
	}								\
	FIXTURE_TEARDOWN(f)						\
	{								\
		int rc;							\
									\
		if (!self->ready)					\
			return;						\
		kd_client_close(&self->c);				\
		rc = kd_destroy_name(self->name);			\
		EXPECT_EQ(0, rc) TH_LOG("destroy: %s", strerror(-rc));	\
	}

/*
 * A child process that attaches as a client of name and runs fn(c, arg);
 * it exits 10 if it cannot attach, else with what fn returns.  Returns
 * the child's pid (or -1) to the parent.
 */
static __th_unused pid_t kd_fork_client(const char *name,
					int (*fn)(struct kd_client *, void *),
					void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct kd_client c;

		if (kd_client_open(&c, name))
			_exit(10);
		_exit(fn(&c, arg));
	}
	return pid;
}

static __th_unused int64_t kd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static __th_unused void kd_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * A process that sleeps ms milliseconds, stores the time (kd_now_ns()) in
 * *killed_at (shared memory: see kd_shared_page()) and sends SIGKILL to
 * victim.  Returns its pid.
 */
static __th_unused pid_t kd_kill_later(pid_t victim, long ms,
				       int64_t *killed_at)
{
	pid_t pid = fork();

	if (pid == 0) {
		kd_sleep_ms(ms);
		*killed_at = kd_now_ns();
		kill(victim, SIGKILL);
		_exit(0);
	}
	return pid;
}

/* A zeroed page shared with the children forked after: MAP_FAILED or it. */
static __th_unused void *kd_shared_page(void)
{
	return mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}

/* waitpid() for a child that must exit with status 0: true if it did. */
/* What a recoverer does with a dead record: claim it, (recover,) reap. */
static __th_unused int kd_reap_recovered(int fd, pid_t pid, uint64_t start)
{
	int rc = kd_reap(fd, "", pid, start, PLKV_REAP_CLAIM);

	return rc ? rc : kd_reap(fd, "", pid, start, 0);
}

static __th_unused bool kd_reaped_ok(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static __th_unused _Atomic uint32_t *kd_lock_word(char *base, unsigned int i)
{
	return (_Atomic uint32_t *)(base + PLKV_LOCK_TABLE_OFF +
				    (size_t)i * PLKV_LOCK_STRIDE);
}

static __th_unused uint64_t kd_lock_off(unsigned int i)
{
	return PLKV_LOCK_TABLE_OFF + (uint64_t)i * PLKV_LOCK_STRIDE;
}

/*
 * Faults: kd_touch() reads or writes a byte and reports whether that
 * raised SIGSEGV, with the si_code in kd_fault_code (fault_util.h).
 */
static volatile int kd_fault_code;
static char kd_touch_val;

static __th_unused void kd_read(volatile char *p)
{
	(void)*p;
}

static __th_unused void kd_write(volatile char *p)
{
	*p = kd_touch_val;
}

static __th_unused bool kd_touch(volatile char *p, bool write, char val)
{
	catch_segv();
	kd_touch_val = val;
	kd_fault_code = fault_of(write ? kd_write : kd_read, p);
	return kd_fault_code != 0;
}

/* A child's end: _exit() after telling the parent through a pipe. */
static __th_unused void kd_tell(int wfd, char c)
{
	if (write(wfd, &c, 1) != 1)
		_exit(99);
}

static __th_unused char kd_hear(int rfd)
{
	char c = 0;

	if (read(rfd, &c, 1) != 1)
		return 0;
	return c;
}

/* Up to len - 1 bytes of /proc/PID/what (pid 0: self), NUL-ended. */
static __th_unused bool kd_read_proc(pid_t pid, const char *what, char *buf,
				     size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	else
		snprintf(path, sizeof(path), "/proc/%s", what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Write str to a file (a /proc or /sys knob): true if all of it went. */
static __th_unused bool kd_write_file(const char *path, const char *str)
{
	size_t len = strlen(str);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, str, len) == (ssize_t)len;
	close(fd);
	return ok;
}

/* The kernel's vmalloc use in KiB (VmallocUsed in /proc/meminfo), or -1. */
static __th_unused long kd_vmalloc_kb(void)
{
	char buf[4096], *p;

	if (!kd_read_proc(0, "meminfo", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "VmallocUsed:");
	return p ? strtol(p + 12, NULL, 10) : -1;
}

/* /proc/self/stat field 22 (start time in clock ticks since boot). */
static __th_unused unsigned long long kd_proc_starttime(pid_t pid)
{
	char buf[1024], *p;
	unsigned long long v = 0;
	int i;

	if (!kd_read_proc(pid, "stat", buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ") " comes field 3; advance to field 22 */
	for (i = 3; i <= 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

#endif /* PLKV_KMOD_UTIL_H */
