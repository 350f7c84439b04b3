/*
 * kmod_fuzz - random ioctls against /dev/plkv: PLKV_FUZZ_CALLS calls
 * (default 100000) of random commands (mostly the real ones, some with
 * random numbers, sizes and directions) with random struct contents,
 * biased towards values that get past the first checks (valid names,
 * zeroed reserved fields, offsets inside the lock table, small sizes), on
 * attached, unattached and fresh fds, mixed with random mmap, mprotect,
 * mremap and munmap calls, children that attach and die, and signals that
 * interrupt waits.  The module must answer every call with 0 or an errno;
 * the kernel log must show no WARN/BUG/oops (checked here through
 * /dev/kmsg when readable, and by the VM harness after the suite).
 *
 * PLKV_FUZZ_SEED fixes the seed (logged) to replay a run.
 * SKIPs where /dev/plkv is absent.
 */
#include "kmod_util.h"

#include <sys/time.h>

#define NNAMES		4
#define NFDS		6
#define BUFSZ		8192

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static bool chance(unsigned int pct)
{
	return rnd() % 100 < pct;
}

struct fuzz {
	char names[NNAMES][PLKV_NAME_MAX];
	int fds[NFDS];
	char *map[NFDS];
	uint64_t mapsz[NFDS];
	int key[NFDS];		/* sealed on map[i]; freed once unmapped */
	unsigned char *buf;	/* the ioctl argument */
	unsigned char *out;	/* list output */
	uint64_t calls, ok, errs[140];
};

static const unsigned long cmds[] = {
	PLKV_IOC_VERSION, PLKV_IOC_CREATE, PLKV_IOC_ATTACH, PLKV_IOC_DETACH,
	PLKV_IOC_DESTROY, PLKV_IOC_SEG_INFO, PLKV_IOC_LIST_SEGS,
	PLKV_IOC_LIST_PROCS, PLKV_IOC_REAP, PLKV_IOC_THREAD_REG,
	PLKV_IOC_THREAD_UNREG, PLKV_IOC_WAIT, PLKV_IOC_WAKE, PLKV_IOC_ACK,
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void rand_fill(void *p, size_t n)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = (unsigned char)rnd();
}

static void pick_name(struct fuzz *f, char *name)
{
	unsigned int k = rnd() % 10;

	memset(name, 0, PLKV_NAME_MAX);
	if (k < 6)
		strcpy(name, f->names[rnd() % NNAMES]);
	else if (k < 8)
		name[0] = 0;		/* "the attached one" */
	else
		rand_fill(name, PLKV_NAME_MAX);
}

static uint64_t pick_size(void)
{
	switch (rnd() % 5) {
	case 0:
		return 0;
	case 1:
		return PLKV_SEG_MIN_SIZE + rnd() % (4u << 20);
	case 2:
		return rnd() % PLKV_SEG_MIN_SIZE;
	case 3:
		return rnd() | (1ull << 33);	/* over any sane limit */
	default:
		return PLKV_SEG_MIN_SIZE;
	}
}

static uint64_t pick_off(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd();
	case 1:
		return PLKV_LOCK_TABLE_OFF + rnd() % PLKV_LOCK_TABLE_SIZE;
	default:
		return PLKV_LOCK_TABLE_OFF +
		       (rnd() % PLKV_LOCK_COUNT) * PLKV_LOCK_STRIDE;
	}
}

/* Random contents, then nudged towards what passes validation. */
static void make_arg(struct fuzz *f, unsigned long cmd)
{
	bool clean = chance(70);

	rand_fill(f->buf, 512);
	switch (cmd) {
	case PLKV_IOC_VERSION: {
		struct plkv_version *v = (void *)f->buf;

		if (clean)
			memset(v->reserved, 0, sizeof(v->reserved));
		break;
	}
	case PLKV_IOC_CREATE: {
		struct plkv_create *c = (void *)f->buf;

		pick_name(f, c->name);
		if (!c->name[0] || chance(50))
			strcpy(c->name, f->names[rnd() % NNAMES]);
		c->size = pick_size();
		if (clean) {
			c->mode &= 0777;
			c->flags = 0;
			memset(c->reserved, 0, sizeof(c->reserved));
		}
		break;
	}
	case PLKV_IOC_ATTACH: {
		struct plkv_attach *a = (void *)f->buf;

		pick_name(f, a->name);
		if (clean) {
			a->flags = 0;
			a->pad = 0;
			memset(a->reserved, 0, sizeof(a->reserved));
		}
		break;
	}
	case PLKV_IOC_DETACH:
	case PLKV_IOC_ACK:
		if (clean)
			memset(f->buf, 0, 24);
		if (cmd == PLKV_IOC_ACK && chance(50))
			((struct plkv_ack *)f->buf)->death_gen = rnd() % 4;
		break;
	case PLKV_IOC_DESTROY: {
		struct plkv_destroy *d = (void *)f->buf;

		pick_name(f, d->name);
		if (clean) {
			d->flags = 0;
			d->pad = 0;
			memset(d->reserved, 0, sizeof(d->reserved));
		}
		break;
	}
	case PLKV_IOC_SEG_INFO: {
		struct plkv_seg_info *si = (void *)f->buf;

		pick_name(f, si->name);
		if (clean) {
			si->flags = 0;
			memset(si->reserved, 0, sizeof(si->reserved));
		}
		break;
	}
	case PLKV_IOC_LIST_SEGS:
	case PLKV_IOC_LIST_PROCS: {
		struct plkv_list *l = (void *)f->buf;

		pick_name(f, l->name);
		if (cmd == PLKV_IOC_LIST_SEGS && clean)
			memset(l->name, 0, sizeof(l->name));
		if (chance(70)) {
			l->buf = (uintptr_t)f->out;
			l->capacity = (uint32_t)(rnd() % (BUFSZ /
					sizeof(struct plkv_proc_info) + 1));
		} else if (chance(50)) {
			l->capacity = (uint32_t)rnd();
		}
		if (clean)
			memset(l->reserved, 0, sizeof(l->reserved));
		break;
	}
	case PLKV_IOC_REAP: {
		struct plkv_reap *r = (void *)f->buf;

		pick_name(f, r->name);
		if (chance(60))
			r->tgid = (uint32_t)(getpid() + rnd() % 64);
		if (chance(70))
			r->start_time = 0;
		if (clean) {
			r->flags &= PLKV_REAP_CLAIM | PLKV_REAP_UNCLAIM;
			memset(r->reserved, 0, sizeof(r->reserved));
		}
		break;
	}
	case PLKV_IOC_THREAD_REG:
	case PLKV_IOC_THREAD_UNREG: {
		struct plkv_thread *t = (void *)f->buf;

		if (chance(70))
			t->slot = (uint32_t)(rnd() % (PLKV_MAX_THREADS + 2));
		if (clean) {
			t->flags = 0;
			memset(t->reserved, 0, sizeof(t->reserved));
		}
		break;
	}
	case PLKV_IOC_WAIT: {
		struct plkv_wait *w = (void *)f->buf;

		w->offset = pick_off();
		if (chance(50))
			w->expected = rnd() % 3;
		if (chance(80))
			w->timeout_ns = (int64_t)(rnd() % 3000000) - 1000;
		if (clean) {
			w->flags = 0;
			memset(w->reserved, 0, sizeof(w->reserved));
		}
		break;
	}
	case PLKV_IOC_WAKE: {
		struct plkv_wake *w = (void *)f->buf;

		w->offset = pick_off();
		if (chance(50))
			w->count = rnd() % 4;
		if (clean)
			memset(w->reserved, 0, sizeof(w->reserved));
		break;
	}
	}
}

static unsigned long pick_cmd(void)
{
	unsigned int k = rnd() % 100;

	if (k < 85)
		return cmds[rnd() % NCMDS];
	if (k < 92)	/* a real number with another size or direction */
		return _IOC(rnd() % 4, PLKV_IOC_MAGIC, rnd() % 16,
			    rnd() % 512);
	if (k < 97)
		return _IOC(rnd() % 4, rnd() % 256, rnd() % 256, rnd() % 512);
	return (unsigned long)(uint32_t)rnd();
}

static void *pick_ptr(struct fuzz *f)
{
	unsigned int k = rnd() % 100;

	if (k < 92)
		return f->buf;
	if (k < 94)
		return NULL;
	if (k < 96)
		return f->buf + BUFSZ - 8;	/* runs into a guard page */
	if (k < 98)
		return (void *)(uintptr_t)(0xffff800000000000ull | rnd());
	return (void *)(uintptr_t)rnd();
}

static void count(struct fuzz *f, int rc)
{
	f->calls++;
	if (!rc)
		f->ok++;
	else if (-rc < 140)
		f->errs[-rc]++;
}

/*
 * Unmap map[i]; its sealed key is freed only once the mapping is gone
 * (freeing a key still sealed on a mapping is an attack: the module's
 * guard kills the process).
 */
static int unmap(struct fuzz *f, unsigned int i)
{
	int rc = munmap(f->map[i], f->mapsz[i]) ? -errno : 0;

	if (!rc && f->key[i] > 0)
		pkey_free(f->key[i]);
	if (!rc)
		f->key[i] = 0;
	f->map[i] = MAP_FAILED;
	return rc;
}

static int fresh_fd(struct fuzz *f, unsigned int i)
{
	if (f->map[i] != MAP_FAILED)
		unmap(f, i);
	if (f->fds[i] >= 0)
		close(f->fds[i]);
	f->fds[i] = kd_open();
	return f->fds[i];
}

/* Memory-management calls on a random fd's mapping. */
static void mm_op(struct fuzz *f)
{
	unsigned int i = rnd() % NFDS;
	int fd = f->fds[i];
	uint64_t sz;
	char *p;

	if (fd < 0)
		return;
	if (f->map[i] == MAP_FAILED) {
		sz = chance(80) ? PLKV_SEG_MIN_SIZE + (rnd() % 4) * 4096 :
		     rnd() % (8u << 20);
		p = mmap(NULL, sz, chance(80) ? PROT_NONE : (int)(rnd() % 8),
			 chance(90) ? MAP_SHARED : MAP_PRIVATE, fd,
			 chance(90) ? 0 : (off_t)(rnd() % 4) * 4096);
		if (p != MAP_FAILED) {
			f->map[i] = p;
			f->mapsz[i] = sz;
		}
		count(f, p == MAP_FAILED ? -errno : 0);
		return;
	}
	p = f->map[i];
	switch (rnd() % 6) {
	case 0: {
		int key = kd_seal(p, f->mapsz[i]);

		count(f, key < 0 ? key : 0);
		if (key > 0)
			f->key[i] = key;
		break;
	}
	case 1:
		count(f, mprotect(p + (rnd() % 2) * 4096, 4096 * (rnd() % 3),
				  (int)(rnd() % 8)) ? -errno : 0);
		break;
	case 2:
		count(f, pkey_mprotect(p, f->mapsz[i], (int)(rnd() % 8),
				       (int)(rnd() % 16)) ? -errno : 0);
		break;
	case 3:
		count(f, mremap(p, f->mapsz[i], f->mapsz[i] + 4096 *
				(rnd() % 3), MREMAP_MAYMOVE) == MAP_FAILED ?
		      -errno : 0);
		break;
	case 4:
		count(f, madvise(p, f->mapsz[i], (int)(rnd() % 25)) ?
		      -errno : 0);
		break;
	default:
		count(f, unmap(f, i));
		break;
	}
}

/* A child that attaches, takes a lock word, and is killed. */
static void child_dies(struct fuzz *f)
{
	int status, fds[2];
	pid_t pid;

	if (pipe(fds))
		return;
	pid = fork();
	if (pid == 0) {
		struct kd_client c;
		uint32_t slot;

		if (!kd_client_open(&c, f->names[rnd() % NNAMES]) &&
		    !kd_thread_reg(c.fd, &slot))
			atomic_store(kd_lock_word(c.base, rnd() %
						  PLKV_LOCK_COUNT), slot);
		kd_tell(fds[1], 'x');
		for (;;)
			pause();
	}
	if (pid > 0) {
		while (read(fds[0], &status, 1) < 0 && errno == EINTR)
			;
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(fds[0]);
	close(fds[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Kernel log lines that mean trouble, since the given kmsg position. */
static int kmsg_trouble(int kfd)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "general protection",
		"KASAN", "UBSAN", "kernel BUG", "Call Trace",
		"circular locking", "kmemleak", "list_add corruption",
	};
	char line[2048];
	unsigned int i;
	int n = 0;
	ssize_t r;

	if (kfd < 0)
		return 0;
	while ((r = read(kfd, line, sizeof(line) - 1)) > 0 ||
	       (r < 0 && errno == EPIPE)) {
		if (r <= 0)
			continue;
		line[r] = 0;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(line, bad[i])) {
				printf("# kmsg: %s", line);
				n++;
				break;
			}
		}
	}
	return n;
}

TEST_TIMEOUT(ioctl_fuzz, 600)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 3000 }, { 0, 3000 } };
	struct plkv_seg_info before[256], after[256];
	struct kd_client c;
	struct plkv_list l;
	const char *env;
	uint64_t seed, n, i;
	unsigned int j, k, nbefore;
	struct fuzz f;
	int kfd, rc, e;

	KD_REQUIRE_DEV();
	memset(&f, 0, sizeof(f));
	env = getenv("PLKV_FUZZ_SEED");
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)kd_now_ns();
	rng_state = seed ? seed : 1;
	env = getenv("PLKV_FUZZ_CALLS");
	n = env && atol(env) > 0 ? (uint64_t)atol(env) : 100000;
	TH_LOG("seed %#llx, %llu calls", (unsigned long long)seed,
	       (unsigned long long)n);

	/* The kernel log from now on: trouble there fails the test. */
	kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kfd >= 0)
		lseek(kfd, 0, SEEK_END);

	/* Output buffers end at a guard page. */
	f.buf = mmap(NULL, BUFSZ + 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f.out = mmap(NULL, BUFSZ + 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f.buf);
	ASSERT_NE(MAP_FAILED, f.out);
	ASSERT_EQ(0, mprotect(f.buf + BUFSZ, 4096, PROT_NONE));
	ASSERT_EQ(0, mprotect(f.out + BUFSZ, 4096, PROT_NONE));

	for (j = 0; j < NNAMES; j++) {
		char sfx[8];

		snprintf(sfx, sizeof(sfx), "fz%u", j);
		th_unique_name(f.names[j], PLKV_NAME_MAX, sfx);
	}
	for (j = 0; j < NFDS; j++) {
		f.fds[j] = -1;
		f.map[j] = MAP_FAILED;
	}

	memset(&l, 0, sizeof(l));
	l.buf = (uintptr_t)before;
	l.capacity = 256;
	ASSERT_LE(0, fresh_fd(&f, 0));
	ASSERT_EQ(0, kd_ioctl(f.fds[0], PLKV_IOC_LIST_SEGS, &l));
	nbefore = l.count;
	ASSERT_EQ(0, kd_create(f.fds[0], f.names[0], PLKV_SEG_MIN_SIZE, 0600));
	ASSERT_EQ(0, kd_create(f.fds[0], f.names[1], 0, 0666));
	for (j = 0; j < NFDS; j++)
		ASSERT_LE(0, fresh_fd(&f, j));

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	for (i = 0; i < n; i++) {
		unsigned long cmd;
		unsigned int which = rnd() % NFDS;

		k = rnd() % 1000;
		if (k < 8) {
			fresh_fd(&f, which);
			continue;
		}
		if (k < 60) {
			mm_op(&f);
			continue;
		}
		if (k == 60 && i % 7 == 0) {
			child_dies(&f);
			continue;
		}
		if (f.fds[which] < 0)
			continue;
		cmd = pick_cmd();
		make_arg(&f, cmd);
		rc = ioctl(f.fds[which], cmd, pick_ptr(&f)) < 0 ? -errno : 0;
		count(&f, rc);
	}
	it.it_value.tv_usec = 0;
	it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);

	printf("# %llu calls: %llu ok", (unsigned long long)f.calls,
	       (unsigned long long)f.ok);
	for (e = 1; e < 140; e++)
		if (f.errs[e])
			printf(", %s %llu", strerrorname_np(e) ?
			       strerrorname_np(e) : "?",
			       (unsigned long long)f.errs[e]);
	printf("\n");

	/* Clean up everything, then the module must still work. */
	for (j = 0; j < NFDS; j++) {
		if (f.map[j] != MAP_FAILED)
			unmap(&f, j);
		if (f.fds[j] >= 0)
			close(f.fds[j]);
	}
	ASSERT_LE(0, fresh_fd(&f, 0));
	memset(&l, 0, sizeof(l));
	l.buf = (uintptr_t)after;
	l.capacity = 256;
	ASSERT_EQ(0, kd_ioctl(f.fds[0], PLKV_IOC_LIST_SEGS, &l));
	for (j = 0; j < l.count && j < 256; j++) {
		bool old = false;

		for (k = 0; k < nbefore && k < 256; k++)
			if (!strcmp(before[k].name, after[j].name))
				old = true;
		if (!old)
			EXPECT_EQ(0, kd_destroy(f.fds[0], after[j].name))
				TH_LOG("destroy %s", after[j].name);
	}

	ASSERT_EQ(0, kd_create(f.fds[0], f.names[0], 0, 0600));
	ASSERT_EQ(0, kd_client_open(&c, f.names[0]));
	c.base[PLKV_SEG_LIB_OFF] = 1;
	kd_client_close(&c);
	EXPECT_EQ(0, kd_destroy(f.fds[0], f.names[0]));
	close(f.fds[0]);
	EXPECT_EQ(0, kmsg_trouble(kfd));
	if (kfd < 0)
		TH_LOG("/dev/kmsg not readable: the VM harness checks the log");
	else
		close(kfd);
}

TEST_HARNESS_MAIN
