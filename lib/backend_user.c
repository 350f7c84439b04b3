/* SPDX-License-Identifier: MIT */
/*
 * The user backend: the segment is a file under /dev/shm that every
 * process maps MAP_SHARED.  No protection (nothing seals the key), and no
 * module to report deaths: lock waiters time out and check the owner's
 * liveness (pid + start time, as LMDB checks its readers), and the gate
 * scans the process table once a second.  Lock words sleep on futex(2),
 * which works on an ordinary shared file mapping.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/pidfd.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

#define SHM_PREFIX "plkv."

static void shm_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "/" SHM_PREFIX "%s", name);
}

/*
 * Size the new file and take its memory from tmpfs now: a sparse file
 * would be accepted whatever /dev/shm has free, and the first store to
 * touch a page past what tmpfs can give would die of SIGBUS (so would
 * every later one, and recovery).  ENOSPC here instead; the message
 * (plkv_open_error()) names /dev/shm and its free space.
 */
static int shm_full(uint64_t size)
{
	struct statvfs vfs;

	if (statvfs("/dev/shm", &vfs) == 0)
		plkv_set_open_error("/dev/shm has %llu MiB free, the store "
				    "needs %llu MiB",
				    (unsigned long long)vfs.f_bavail *
				    vfs.f_frsize >> 20,
				    (unsigned long long)size >> 20);
	return -ENOSPC;
}

static int shm_reserve(int fd, uint64_t size)
{
	struct statvfs vfs;
	int rc;

	/* Refuse what can't fit before allocating any of it: tmpfs pages
	 * are memory, and filling /dev/shm only to fail at its end can push
	 * the machine into the OOM killer first. */
	if (fstatvfs(fd, &vfs) == 0 &&
	    size > (uint64_t)vfs.f_bavail * vfs.f_frsize)
		return shm_full(size);
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc == ENOSPC)
		return shm_full(size);
	return -rc;
}

static int user_map(struct plkv *kv, int fd, uint64_t size)
{
	void *p = plkv_window_map(size, PROT_READ | PROT_WRITE, fd);

	if (p == MAP_FAILED)
		return -errno;
	/* Same rule as the kmod backend: a forked child gets no mapping
	 * and must plkv_open() for itself. */
	madvise(p, size, MADV_DONTFORK);
	kv->base = p;
	kv->size = size;
	kv->fd = fd;
	kv->pkey = -1;
	return 0;
}

static int user_open(struct plkv *kv, const struct plkv_options *o,
		     uint64_t size, bool *created)
{
	char path[PLKV_NAME_MAX + 16];
	struct stat st;
	int fd, rc, tries;

	shm_path(path, sizeof(path), kv->name);
	*created = false;
	for (tries = 0; tries < 1000; tries++) {
		if (o->flags & PLKV_O_CREATE) {
			fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				      o->mode);
			if (fd >= 0) {
				/* shm_open applies the umask; the caller's
				 * mode is what they asked for. */
				fchmod(fd, o->mode);
				rc = shm_reserve(fd, size);
				if (rc) {
					close(fd);
					shm_unlink(path);
					return rc;
				}
				rc = user_map(kv, fd, size);
				if (rc) {
					close(fd);
					shm_unlink(path);
					return rc;
				}
				kv->owner_uid = (uint32_t)geteuid();
				*created = true;
				return 0;
			}
			if (errno != EEXIST)
				return -errno;
			if (o->flags & PLKV_O_EXCL)
				return -EEXIST;
		}
		fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0) {
			if (errno == ENOENT && (o->flags & PLKV_O_CREATE))
				continue;	/* destroyed meanwhile: retry */
			return -errno;
		}
		if (fstat(fd, &st) < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
		if (st.st_size == 0) {
			/* The creator has not sized it yet. */
			close(fd);
			usleep(1000);
			continue;
		}
		if ((uint64_t)st.st_size < PLKV_SEG_MIN_SIZE) {
			close(fd);
			return PLKV_EBADSEG;
		}
		rc = user_map(kv, fd, (uint64_t)st.st_size);
		if (rc)
			close(fd);
		kv->owner_uid = (uint32_t)st.st_uid;
		return rc;
	}
	return -ETIMEDOUT;
}

static void watch_free(struct plkv *kv);

static void user_close(struct plkv *kv)
{
	watch_free(kv);
	if (kv->base)
		munmap(kv->base, kv->size);
	if (kv->fd >= 0)
		close(kv->fd);
	kv->base = NULL;
	kv->fd = -1;
}

static int user_destroy(const char *name)
{
	char path[PLKV_NAME_MAX + 16];

	shm_path(path, sizeof(path), name);
	return shm_unlink(path) < 0 ? -errno : 0;
}

static int user_list(plkv_seg_fn fn, void *ctx)
{
	struct dirent *de;
	struct stat st;
	char path[512];
	DIR *d = opendir("/dev/shm");
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!rc && (de = readdir(d))) {
		const char *name = de->d_name + strlen(SHM_PREFIX);

		if (strncmp(de->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) ||
		    !plkv_name_valid(name))
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		if (stat(path, &st) < 0)
			continue;
		rc = fn(ctx, name, PLKV_BACKEND_USER, (uint64_t)st.st_size);
	}
	closedir(d);
	return rc;
}

/*
 * Slots are claimed by a compare-and-swap of the pid field from 0; the
 * start time is written after, so a liveness check that sees pid without
 * start time relies on kill() alone for that instant.
 */
static int user_thread_register(struct plkv *kv, uint32_t *slot,
				bool recovery)
{
	uint32_t i, mine = 0, me = kv->pid;
	uint32_t first = recovery ? PLKV_FIRST_RECOVERY_SLOT : 1;
	uint32_t end = recovery ? PLKV_MAX_THREADS : PLKV_FIRST_RECOVERY_SLOT;

	/* One process holds at most PLKV_MAX_THREADS_PER_PROC slots (the
	 * module's rules: see PLKV_IOC_THREAD_REG). */
	for (i = 1; i < PLKV_MAX_THREADS && !recovery; i++)
		mine += atomic_load_explicit((_Atomic uint32_t *)
					     &plkv_slot_rec(kv, i)->pid,
					     memory_order_relaxed) == me;
	if (mine >= PLKV_MAX_THREADS_PER_PROC)
		return -EUSERS;
	for (i = first; i < end; i++) {
		struct plkv_slot *s = plkv_slot_rec(kv, i);
		_Atomic uint32_t *pid = (_Atomic uint32_t *)&s->pid;
		uint32_t zero = 0;

		if (atomic_load_explicit(pid, memory_order_relaxed))
			continue;
		if (!atomic_compare_exchange_strong(pid, &zero, me))
			continue;
		s->start_time = kv->start_time;
		*slot = i;
		return 0;
	}
	return -ENOSPC;
}

static void user_thread_unregister(struct plkv *kv, uint32_t slot)
{
	struct plkv_slot *s = plkv_slot_rec(kv, slot);

	s->start_time = 0;
	atomic_store((_Atomic uint32_t *)&s->pid, 0);
}

static int user_wait(struct plkv *kv, unsigned idx, uint32_t expected,
		     int64_t timeout_ns)
{
	_Atomic uint32_t *word = plkv_lockword(kv, idx);
	struct timespec ts, *tsp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	if (syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

static void user_wake(struct plkv *kv, unsigned idx, int nr)
{
	syscall(SYS_futex, plkv_lockword(kv, idx), FUTEX_WAKE, nr, NULL, NULL,
		0);
}

/* A record whose process (attached) or recoverer (recovering) is gone:
 * DEAD, and every process hears of it (death_gen), as the module would
 * tell them. */
static void mark_dead(struct plkv *kv, struct plkv_proc_rec *r, uint32_t from)
{
	if (atomic_compare_exchange_strong((_Atomic uint32_t *)&r->state,
					   &from, PLKV_PROC_DEAD))
		atomic_fetch_add((_Atomic uint32_t *)&kv->khdr->death_gen, 1);
}

/*
 * The gate's once-a-second look for deaths, by pidfd: each process keeps
 * one for every other attached process, opened the first time it meets
 * the record (the start time checked then, through /proc, so the fd is
 * that process's and not a later one's with its pid), all in one epoll
 * set: a process that exited, zombie or reaped, makes its pidfd readable,
 * and epoll_wait(2) returns just those.  So a scan is one system call
 * whatever the number of processes, where kill(2) cost one per process
 * (and could not tell a zombie), and poll(2) of 31 pidfds took 20 us cold
 * (epoll's cost follows the events, not the fds).  Records are taken first-free, so the used ones are nearly
 * always the lowest: each scan looks at those up to WATCH_AHEAD past the
 * highest in use at the last scan (every record is a cache miss: 320 of
 * them made the scan 20 us), the rest WATCH_STEP at a time from a
 * cursor; at most WATCH_OPENS new pidfds a scan, as each costs a /proc
 * read.  Where pidfds are not to be had (ENOSYS, EMFILE) the kill() scan
 * below stands in.
 */
#define WATCH_MAX	256
#define WATCH_AHEAD	8
#define WATCH_STEP	8
#define WATCH_OPENS	2

#define WATCH_EVENTS	16

struct plkv_watch {
	pthread_mutex_t mu;	/* one scan at a time in this process */
	int ep;			/* epoll set of the pidfds */
	unsigned n;
	uint32_t used;		/* 1 + the highest record in use, last scan */
	uint32_t cursor;
	struct {
		int fd;
		uint32_t rec, pid;
		uint64_t start;
	} who[WATCH_MAX];
	uint16_t at[PLKV_MAX_PROCS];	/* record -> watch index + 1 */
};

/* Out of the set before the close: a forked child's copy of the fd would
 * keep it there, and its events would then name a record since reused. */
static void watch_drop(struct plkv_watch *w, unsigned j)
{
	epoll_ctl(w->ep, EPOLL_CTL_DEL, w->who[j].fd, NULL);
	close(w->who[j].fd);
	w->at[w->who[j].rec] = 0;
	if (j != --w->n) {
		w->who[j] = w->who[w->n];
		w->at[w->who[j].rec] = (uint16_t)(j + 1);
	}
}

static void watch_free(struct plkv *kv)
{
	struct plkv_watch *w = kv->watch;

	if (!w)
		return;
	while (w->n)
		watch_drop(w, w->n - 1);
	if (w->ep >= 0)
		close(w->ep);
	pthread_mutex_destroy(&w->mu);
	free(w);
	kv->watch = NULL;
}

/* Start watching record i (attached, not watched).  False when pidfds
 * can't be had: the caller falls back to kill(). */
static bool watch_add(struct plkv *kv, struct plkv_watch *w, uint32_t i)
{
	struct plkv_proc_rec *r = &plkv_proc_table(kv)[i];
	uint32_t pid = r->pid;
	uint64_t start = r->start_time;
	int fd;

	if (w->n == WATCH_MAX)
		return false;
	if (w->ep < 0 && (w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return false;
	fd = pidfd_open((pid_t)pid, 0);
	if (fd < 0) {
		if (errno != ESRCH)
			return false;
		mark_dead(kv, r, PLKV_PROC_ATTACHED);
		return true;
	}
	if (!plkv_pid_alive(pid, start)) {
		close(fd);
		mark_dead(kv, r, PLKV_PROC_ATTACHED);
		return true;
	}
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){
			.events = EPOLLIN,
			.data.u64 = (uint64_t)fd << 32 | i })) {
		close(fd);
		return false;
	}
	w->who[w->n].fd = fd;
	w->who[w->n].rec = i;
	w->who[w->n].pid = pid;
	w->who[w->n].start = start;
	w->at[i] = (uint16_t)++w->n;
	return true;
}

/* Look at record i: start watching it, or check a recoverer. */
static bool watch_meet(struct plkv *kv, struct plkv_watch *w, uint32_t i,
		       unsigned *opens, uint32_t *used)
{
	struct plkv_proc_rec *r = &plkv_proc_table(kv)[i];
	uint32_t st = atomic_load((_Atomic uint32_t *)&r->state);

	if (st && i >= *used)
		*used = i + 1;
	if (st == PLKV_PROC_RECOVERING && !plkv_pid_alive(r->recoverer, 0))
		mark_dead(kv, r, PLKV_PROC_RECOVERING);
	if (st != PLKV_PROC_ATTACHED || w->at[i] || (int)i == kv->proc_index ||
	    *opens >= WATCH_OPENS)
		return true;
	++*opens;
	return watch_add(kv, w, i);
}

/* One scan; false if pidfds failed us (then the kill() scan runs). */
static bool watch_scan(struct plkv *kv)
{
	struct plkv_proc_rec *tab = plkv_proc_table(kv);
	struct epoll_event ev[WATCH_EVENTS];
	struct plkv_watch *w = kv->watch;
	unsigned j, opens = 0;
	int k, got;
	uint32_t i, end, used = 0;
	bool ok = true;

	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return false;
		w->ep = -1;		/* made with the first pidfd */
		pthread_mutex_init(&w->mu, NULL);
		w->used = PLKV_MAX_PROCS;	/* the first scan sees all */
		kv->watch = w;
	}
	if (pthread_mutex_trylock(&w->mu))
		return true;	/* another thread of ours is at it */
	/* records freed or reused since: no longer the process watched */
	for (j = w->n; j-- > 0;) {
		struct plkv_proc_rec *r = &tab[w->who[j].rec];

		if (atomic_load((_Atomic uint32_t *)&r->state) !=
		    PLKV_PROC_ATTACHED || r->pid != w->who[j].pid ||
		    r->start_time != w->who[j].start)
			watch_drop(w, j);
	}
	while (w->n && (got = epoll_wait(w->ep, ev, WATCH_EVENTS, 0)) > 0) {
		for (k = 0; k < got; k++) {
			j = w->at[(uint32_t)ev[k].data.u64];
			if (!j-- || w->who[j].fd != (int)(ev[k].data.u64 >> 32))
				continue;	/* dropped meanwhile */
			mark_dead(kv, &tab[w->who[j].rec], PLKV_PROC_ATTACHED);
			watch_drop(w, j);
		}
		if (got < WATCH_EVENTS)
			break;
	}
	end = w->used + WATCH_AHEAD < PLKV_MAX_PROCS ? w->used + WATCH_AHEAD :
						       PLKV_MAX_PROCS;
	for (i = 0; i < end && ok; i++)
		ok = watch_meet(kv, w, i, &opens, &used);
	for (j = 0; j < WATCH_STEP && ok && end < PLKV_MAX_PROCS; j++) {
		if (w->cursor < end)
			w->cursor = end;
		ok = watch_meet(kv, w, w->cursor, &opens, &used);
		if (++w->cursor == PLKV_MAX_PROCS)
			w->cursor = end;
	}
	if (ok)
		w->used = used;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

/*
 * The process table in the segment is authoritative here.  Reading it
 * also notices deaths: an ATTACHED record whose process is gone becomes
 * DEAD (and the death generation moves, as the module would move it); a
 * RECOVERING record whose recoverer is gone goes back to DEAD.
 */
/*
 * Only counting and marking deaths (v NULL: the gate's once-a-second
 * scan), the check is kill(pid, 0) alone, a microsecond, except one round
 * in QUICK_SCANS, which also reads /proc to catch a pid reused by another
 * process or a zombie (about ten more microseconds a process).  And it
 * looks at SCAN_BATCH attached processes a second, from a cursor in the
 * segment, not at all of them: the scan runs inside some caller's get,
 * and 32 processes' checks made that get take 100 us.  A waiter on a dead
 * process's lock checks its owner at once (lock.c), so the slower round
 * only delays noticing deaths that nobody waits on.
 */
#define QUICK_SCANS	8
#define SCAN_BATCH	4

static int user_procs(struct plkv *kv, struct plkv_proc_view *v, int cap)
{
	struct plkv_proc_rec *tab = plkv_proc_table(kv);
	_Atomic uint64_t *cursor = (_Atomic uint64_t *)&kv->hdr->scan_cursor;
	uint64_t at = v ? 0 : atomic_load(cursor), round;
	bool quick;
	int k, i, n = 0, checked = 0;
	uint32_t s;

	if (!v && watch_scan(kv))
		return 0;
	round = at / PLKV_MAX_PROCS;
	quick = !v && round % QUICK_SCANS != 0;
	for (k = 0; k < PLKV_MAX_PROCS && (v || checked < SCAN_BATCH); k++) {
		struct plkv_proc_rec *r;
		_Atomic uint32_t *state;
		uint32_t st;

		i = (int)((at + (uint64_t)k) % PLKV_MAX_PROCS);
		r = &tab[i];
		state = (_Atomic uint32_t *)&r->state;
		st = atomic_load(state);
		if (!st)
			continue;
		checked++;
		if (st == PLKV_PROC_ATTACHED &&
		    (quick ? kill((pid_t)r->pid, 0) < 0 && errno == ESRCH :
			     !plkv_pid_alive(r->pid, r->start_time))) {
			mark_dead(kv, r, PLKV_PROC_ATTACHED);
			st = atomic_load(state);
		}
		if (st == PLKV_PROC_RECOVERING &&
		    !plkv_pid_alive(r->recoverer, 0)) {
			/* a recoverer died: its claim is work again */
			mark_dead(kv, r, PLKV_PROC_RECOVERING);
			st = atomic_load(state);
		}
		if (!st)
			continue;
		if (n < cap) {
			struct plkv_proc_view *p = &v[n];

			memset(p, 0, sizeof(*p));
			p->pid = r->pid;
			p->state = st;
			p->start_time = r->start_time;
			p->pkey = r->pkey;
			p->recoverer = r->recoverer;
			for (s = 1; s < PLKV_MAX_THREADS; s++)
				if (plkv_slot_rec(kv, s)->pid == r->pid)
					p->slots[s / 64] |= 1ULL << (s % 64);
		}
		n++;
	}
	if (!v)
		atomic_store(cursor, at + (uint64_t)k);
	return n;
}

static struct plkv_proc_rec *user_find(struct plkv *kv,
				       const struct plkv_proc_view *p)
{
	struct plkv_proc_rec *tab = plkv_proc_table(kv);
	int i;

	for (i = 0; i < PLKV_MAX_PROCS; i++)
		if (tab[i].state && tab[i].pid == p->pid &&
		    tab[i].start_time == p->start_time)
			return &tab[i];
	return NULL;
}

static int user_claim(struct plkv *kv, const struct plkv_proc_view *p)
{
	struct plkv_proc_rec *r = user_find(kv, p);
	uint32_t exp = PLKV_PROC_DEAD;

	if (!r)
		return -ENOENT;
	r->recoverer = (uint32_t)getpid();
	if (!atomic_compare_exchange_strong((_Atomic uint32_t *)&r->state,
					    &exp, PLKV_PROC_RECOVERING))
		return -EALREADY;
	/* Written again: a racing loser may have overwritten it. */
	r->recoverer = (uint32_t)getpid();
	return 0;
}

static int user_unclaim(struct plkv *kv, const struct plkv_proc_view *p)
{
	struct plkv_proc_rec *r = user_find(kv, p);
	uint32_t exp = PLKV_PROC_RECOVERING;

	if (!r)
		return -ENOENT;
	atomic_compare_exchange_strong((_Atomic uint32_t *)&r->state, &exp,
				       PLKV_PROC_DEAD);
	return 0;
}

static int user_reap(struct plkv *kv, const struct plkv_proc_view *p)
{
	struct plkv_proc_rec *r = user_find(kv, p);
	uint32_t s;

	if (!r)
		return -ENOENT;
	if (r->state == PLKV_PROC_ATTACHED)
		return -EBUSY;
	for (s = 1; s < PLKV_MAX_THREADS; s++)
		if (p->slots[s / 64] & (1ULL << (s % 64)))
			user_thread_unregister(kv, s);
	atomic_store((_Atomic uint32_t *)&r->state, 0);
	return 0;
}

static void user_ack(struct plkv *kv, uint32_t death_gen)
{
	(void)kv;
	(void)death_gen;
}

/*
 * The file's pages exist (posix_fallocate at create) but each process
 * maps them on first touch, a fault per 4 KiB page: 11 us each on this
 * project's VMs, so carving a 1 MiB slab page cost 3 ms of faults.  One
 * populate call maps the range for a twentieth of that.  A kernel before
 * 5.14 says EINVAL: the touch faults as before.
 */
static void user_prefault(void *p, size_t len)
{
	madvise(p, len, MADV_POPULATE_WRITE);
}

const struct plkv_backend_ops plkv_backend_user = {
	.name = "user",
	.polls_liveness = true,
	.formats_khdr = true,
	.reap_frees_rec = true,
	.start_in_ticks = true,
	.wait_ns = 50 * 1000 * 1000LL,	/* then poll the owner's liveness */
	.open = user_open,
	.close = user_close,
	.destroy = user_destroy,
	.list = user_list,
	.thread_register = user_thread_register,
	.thread_unregister = user_thread_unregister,
	.wait = user_wait,
	.wake = user_wake,
	.procs = user_procs,
	.claim = user_claim,
	.unclaim = user_unclaim,
	.reap = user_reap,
	.ack = user_ack,
	.prefault = user_prefault,
};
