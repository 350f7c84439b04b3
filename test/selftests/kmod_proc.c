/*
 * kmod_proc - plkv.ko's process records and death events: the record's
 * fields, every way a process can die (kill -9, exit, exec, munmap, closing
 * an fd that never mapped) versus a clean detach, the death generation and
 * poll() with EPOLLPRI (woken within 100 ms of a kill -9), ACK, and the
 * reap/claim protocol: a dead record is claimed exactly once, a dead
 * claimer's claim reverts, a live record cannot be reaped.
 *
 * SKIPs where /dev/plkv is absent.
 */
#include "kmod_util.h"

#define SEG_SIZE	(1u << 20)

KD_CLIENT_FIXTURE(pr, "pr", SEG_SIZE)

enum how { BY_KILL, BY_EXIT, BY_EXEC, BY_MUNMAP, BY_CLOSE_UNMAPPED,
	   BY_DETACH };

/*
 * A child that attaches (and maps and seals, except BY_CLOSE_UNMAPPED),
 * then goes away as told.  Returns its pid once it is gone; its key in
 * *pkey.
 */
static pid_t child_goes(const char *name, enum how how, int *pkey)
{
	int pfd[2], status, key = -1;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct kd_client c;
		uint64_t size;
		int fd;

		close(pfd[0]);
		if (how == BY_CLOSE_UNMAPPED) {
			fd = kd_open();
			if (fd < 0 || kd_attach(fd, name, &size))
				_exit(10);
			kd_tell(pfd[1], 'k');
			close(fd);
			_exit(0);
		}
		if (kd_client_open(&c, name))
			_exit(10);
		if (write(pfd[1], &c.pkey, sizeof(c.pkey)) != sizeof(c.pkey))
			_exit(11);
		switch (how) {
		case BY_KILL:
			for (;;)
				pause();
		case BY_EXIT:
			exit(0);
		case BY_EXEC:
			fd = open("/dev/null", O_WRONLY);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(14);
			execl("/proc/self/exe", "kmod_proc", "-l", (char *)NULL);
			_exit(12);
		case BY_MUNMAP:
			munmap(c.base, c.size);
			_exit(0);	/* the fd closes after: no second death */
		case BY_DETACH:
			kd_client_close(&c);
			_exit(0);
		default:
			_exit(13);
		}
	}
	close(pfd[1]);
	if (how == BY_CLOSE_UNMAPPED) {
		if (kd_hear(pfd[0]) != 'k')
			return -1;
	} else if (read(pfd[0], &key, sizeof(key)) != sizeof(key)) {
		return -1;
	}
	close(pfd[0]);
	if (how == BY_KILL)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (how != BY_KILL && (!WIFEXITED(status) || WEXITSTATUS(status)))
		return -1;
	if (pkey)
		*pkey = key;
	return pid;
}

static uint32_t death_gen(FIXTURE_DATA(pr) *self)
{
	struct plkv_seg_info si;

	if (kd_seg_info(self->c.fd, "", &si))
		return UINT32_MAX;
	return si.death_gen;
}

static short poll_now(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };

	if (poll(&p, 1, timeout_ms) < 0)
		return -1;
	return p.revents;
}

TEST_F(pr, record_fields)
{
	struct plkv_proc_info pi, pj;
	unsigned long long ticks = kd_proc_starttime(getpid());
	long hz = sysconf(_SC_CLK_TCK);
	unsigned int i;
	int fd;

	ASSERT_TRUE(kd_find_proc(self->c.fd, "", getpid(), &pi));
	EXPECT_EQ(PLKV_PROC_ATTACHED, pi.state);
	EXPECT_EQ(getpid(), pi.tgid);
	EXPECT_EQ(self->c.pkey, pi.pkey);
	EXPECT_EQ(0, pi.recoverer);
	for (i = 0; i < PLKV_SLOT_WORDS; i++)
		EXPECT_EQ(0, pi.slots[i]);
	/* start_time is the kernel's, in ns: /proc's clock ticks agree. */
	EXPECT_NE(0, ticks);
	EXPECT_EQ(ticks, pi.start_time / (1000000000ull / (unsigned long)hz));

	/* By name too, from an fd that is not attached. */
	fd = kd_open();
	ASSERT_LE(0, fd);
	ASSERT_TRUE(kd_find_proc(fd, self->name, getpid(), &pj));
	EXPECT_EQ(pi.start_time, pj.start_time);
	EXPECT_EQ(1, kd_procs(fd, self->name, NULL, 0));
	close(fd);
}

/* Each way of dying: a DEAD record with the right tgid and key, one
 * death event each; a clean detach: nothing. */
TEST_F(pr, deaths_and_detach)
{
	static const struct {
		enum how how;
		const char *what;
	} cases[] = {
		{ BY_KILL, "kill -9" },
		{ BY_EXIT, "exit without detach" },
		{ BY_EXEC, "exec without detach" },
		{ BY_MUNMAP, "munmap without detach" },
		{ BY_CLOSE_UNMAPPED, "close of an attached, unmapped fd" },
	};
	struct plkv_proc_info pi;
	struct plkv_seg_info si;
	unsigned int i;
	uint32_t gen = 0;
	int key;
	pid_t pid;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid = child_goes(self->name, cases[i].how, &key);
		ASSERT_LT(0, pid) TH_LOG("%s: child failed", cases[i].what);
		gen++;
		EXPECT_EQ(gen, death_gen(self)) TH_LOG("%s", cases[i].what);
		ASSERT_TRUE(kd_find_proc(self->c.fd, "", pid, &pi))
			TH_LOG("%s: no record", cases[i].what);
		EXPECT_EQ(PLKV_PROC_DEAD, pi.state) TH_LOG("%s", cases[i].what);
		EXPECT_EQ(pid, pi.tgid);
		EXPECT_EQ(key, pi.pkey) TH_LOG("%s", cases[i].what);
		EXPECT_EQ(0, kd_reap_recovered(self->c.fd, pid, pi.start_time));
	}
	/* The segment header carries the generation for the library. */
	EXPECT_EQ(gen, ((struct plkv_seg_khdr *)self->c.base)->death_gen);

	pid = child_goes(self->name, BY_DETACH, NULL);
	ASSERT_LT(0, pid);
	EXPECT_EQ(gen, death_gen(self));
	EXPECT_FALSE(kd_find_proc(self->c.fd, "", pid, &pi));
	ASSERT_EQ(0, kd_seg_info(self->c.fd, "", &si));
	EXPECT_EQ(1, si.nattached);
	EXPECT_EQ(0, si.ndead);
	EXPECT_EQ(1, si.nmapped);
}

TEST_F(pr, closed_fd_keeps_mapping_alive)
{
	struct plkv_proc_info pi;
	int up[2], down[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kd_client c;

		if (kd_client_open(&c, self->name))
			_exit(10);
		close(c.fd);	/* the mapping holds the file */
		c.base[PLKV_SEG_LIB_OFF] = 'm';
		kd_tell(up[1], 'c');
		if (kd_hear(down[0]) != 'u')
			_exit(11);
		munmap(c.base, c.size);
		kd_tell(up[1], 'u');
		kd_hear(down[0]);
		_exit(0);
	}
	ASSERT_EQ('c', kd_hear(up[0]));
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", pid, &pi));
	EXPECT_EQ(PLKV_PROC_ATTACHED, pi.state);
	EXPECT_EQ(0, death_gen(self));
	EXPECT_EQ('m', self->c.base[PLKV_SEG_LIB_OFF]);
	kd_tell(down[1], 'u');
	ASSERT_EQ('u', kd_hear(up[0]));
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", pid, &pi));
	EXPECT_EQ(PLKV_PROC_DEAD, pi.state);
	EXPECT_EQ(1, death_gen(self));
	kd_tell(down[1], 'x');
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* Still exactly one death after the process is gone. */
	EXPECT_EQ(1, death_gen(self));
}

/*
 * Kill -9 an attached child 300 ms from now and poll for the death event;
 * returns the delay from the kill to the poller's wakeup in ns, or -1.
 */
static int64_t kill_and_poll(struct th_test __th_unused *_metadata,
			     FIXTURE_DATA(pr) *self)
{
	int64_t *killed_at, dt = -1;
	struct pollfd p;
	int pfd[2], status;
	pid_t victim, killer;

	killed_at = kd_shared_page();
	ASSERT_NE(MAP_FAILED, killed_at);
	ASSERT_EQ(0, pipe(pfd));
	victim = fork();
	ASSERT_LE(0, victim);
	if (victim == 0) {
		struct kd_client c;

		if (kd_client_open(&c, self->name))
			_exit(10);
		kd_tell(pfd[1], 'r');
		for (;;)
			pause();
	}
	ASSERT_EQ('r', kd_hear(pfd[0]));
	killer = kd_kill_later(victim, 300, killed_at);
	ASSERT_LT(0, killer);
	p.fd = self->c.fd;
	p.events = POLLPRI;
	p.revents = 0;
	EXPECT_EQ(1, poll(&p, 1, 10000));
	if (p.revents == POLLPRI && *killed_at)
		dt = kd_now_ns() - *killed_at;
	EXPECT_EQ(POLLPRI, p.revents);
	waitpid(victim, &status, 0);
	waitpid(killer, &status, 0);
	EXPECT_EQ(0, kd_reap_recovered(self->c.fd, victim, 0));
	munmap(killed_at, 4096);
	close(pfd[0]);
	close(pfd[1]);
	return dt;
}

/* A new client sees an old, unacknowledged death at once. */
static int new_client_sees_death(const char *name)
{
	struct kd_client c;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (kd_client_open(&c, name))
			_exit(10);
		if (poll_now(c.fd, 0) != POLLPRI)
			_exit(11);
		kd_client_close(&c);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * The bar is 100 ms from the kill to the poller's wakeup.  TCG timings
 * depend on the host's load, so the best of three tries counts; a missed
 * wakeup fails every try (poll's 10 s timeout).
 */
TEST_F(pr, poll_reports_deaths)
{
	struct plkv_ack a;
	int64_t dt, best = INT64_MAX;
	uint32_t gen;
	int fd, i;

	/* Not attached: EPOLLERR.  Attached, no death yet: nothing. */
	fd = kd_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLERR, poll_now(fd, 0));
	close(fd);
	EXPECT_EQ(0, poll_now(self->c.fd, 0));

	for (i = 0; i < 3 && best >= 100 * 1000000; i++) {
		ASSERT_EQ(0, kd_ack(self->c.fd, death_gen(self)));
		dt = kill_and_poll(_metadata, self);
		ASSERT_LE(0, dt);
		TH_LOG("poller woken %.2f ms after the kill", dt / 1e6);
		if (dt < best)
			best = dt;
	}
	EXPECT_GT(100 * 1000000, best);

	/* It stays readable until acknowledged; then quiet. */
	gen = death_gen(self);
	EXPECT_EQ((uint32_t)i, gen);
	EXPECT_EQ(POLLPRI, poll_now(self->c.fd, 0));
	EXPECT_EQ(0, kd_ack(self->c.fd, gen - 1));
	EXPECT_EQ(POLLPRI, poll_now(self->c.fd, 0));
	EXPECT_EQ(0, kd_ack(self->c.fd, gen));
	EXPECT_EQ(0, poll_now(self->c.fd, 0));
	memset(&a, 0, sizeof(a));
	a.pad = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->c.fd, PLKV_IOC_ACK, &a));

	EXPECT_EQ(0, new_client_sees_death(self->name));
}

TEST_F(pr, reattach_after_death)
{
	int up[2], down[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kd_client c, c2;

		if (kd_client_open(&c, self->name))
			_exit(10);
		munmap(c.base, c.size);		/* dead, as far as plkv knows */
		if (kd_client_open(&c2, self->name) != -EBUSY)
			_exit(11);
		kd_tell(up[1], 'd');
		if (kd_hear(down[0]) != 'r')	/* reaped by the parent */
			_exit(12);
		if (kd_client_open(&c2, self->name))
			_exit(13);
		kd_client_close(&c2);
		_exit(0);
	}
	ASSERT_EQ('d', kd_hear(up[0]));
	EXPECT_EQ(0, kd_reap_recovered(self->c.fd, pid, 0));
	kd_tell(down[1], 'r');
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

static int hold_until_told(struct kd_client *c, void *arg)
{
	int *fds = arg;

	kd_tell(fds[1], 'a');
	if (kd_hear(fds[2]) != 'q')
		return 12;
	kd_client_close(c);
	return 0;
}

/* 0 when a live child's record cannot be reaped or claimed (EBUSY). */
static int live_child_not_reapable(const char *name, int myfd)
{
	int up[2], down[2], fds[3], tool, bad = 0;
	struct plkv_proc_info pi;
	pid_t pid;

	if (pipe(up) || pipe(down))
		return -1;
	fds[1] = up[1];
	fds[2] = down[0];
	pid = kd_fork_client(name, hold_until_told, fds);
	if (pid < 0 || kd_hear(up[0]) != 'a')
		return -1;
	tool = kd_open();
	if (!kd_find_proc(myfd, "", pid, &pi) ||
	    pi.state != PLKV_PROC_ATTACHED)
		bad |= 1;
	if (kd_reap(myfd, "", pid, 0, 0) != -EBUSY)
		bad |= 2;
	if (kd_reap(myfd, "", pid, pi.start_time, PLKV_REAP_CLAIM) != -EBUSY)
		bad |= 4;
	if (kd_reap(tool, name, pid, 0, 0) != -EBUSY)
		bad |= 8;
	close(tool);
	kd_tell(down[1], 'q');
	if (!kd_reaped_ok(pid))
		bad |= 16;
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	return bad;
}

TEST_F(pr, reap_rules)
{
	struct plkv_proc_info pi;
	struct plkv_reap r;
	int fd;
	pid_t pid;

	/* Live: EBUSY, ourselves included. */
	EXPECT_EQ(-EBUSY, kd_reap(self->c.fd, "", getpid(), 0, 0));
	EXPECT_EQ(-EBUSY, kd_reap(self->c.fd, "", getpid(), 0,
				  PLKV_REAP_CLAIM));
	EXPECT_EQ(-ENOENT, kd_reap(self->c.fd, "", 999999, 0, 0));
	EXPECT_EQ(-EINVAL, kd_reap(self->c.fd, "", 0, 0, 0));
	EXPECT_EQ(-EINVAL, kd_reap(self->c.fd, "", 1, 0,
				   PLKV_REAP_CLAIM | PLKV_REAP_UNCLAIM));
	EXPECT_EQ(-EINVAL, kd_reap(self->c.fd, "", 1, 0, 4));
	memset(&r, 0, sizeof(r));
	r.tgid = 1;
	r.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->c.fd, PLKV_IOC_REAP, &r));
	EXPECT_EQ(-EINVAL, kd_reap(self->c.fd, "bad/name", 1, 0, 0));

	/* Another live process: EBUSY, from its peers and from a tool. */
	EXPECT_EQ(0, live_child_not_reapable(self->name, self->c.fd));

	pid = child_goes(self->name, BY_KILL, NULL);
	ASSERT_LT(0, pid);
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", pid, &pi));

	/* From a tool's fd (not attached): plain reap by name only. */
	fd = kd_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTCONN, kd_reap(fd, "", pid, 0, 0));
	EXPECT_EQ(-ENOTCONN, kd_reap(fd, self->name, pid, 0,
				     PLKV_REAP_CLAIM));
	EXPECT_EQ(-ENOENT, kd_reap(fd, self->name, pid, pi.start_time + 1, 0));
	/* Nobody recovered it yet: not even its name's owner may drop it. */
	EXPECT_EQ(-EBUSY, kd_reap(fd, self->name, pid, pi.start_time, 0));
	/* Unclaimed, a peer's plain reap is refused too. */
	EXPECT_EQ(-EBUSY, kd_reap(self->c.fd, "", pid, 0, 0));
	EXPECT_EQ(0, kd_reap_recovered(self->c.fd, pid, pi.start_time));
	EXPECT_EQ(-ENOENT, kd_reap(fd, self->name, pid, 0, 0));
	EXPECT_EQ(-ENOENT, kd_reap(self->c.fd, "", pid, 0, 0));
	close(fd);
	EXPECT_FALSE(kd_find_proc(self->c.fd, "", pid, &pi));
}

/* Claimers: each attaches, races for the claim, reports, waits. */
struct race {
	_Atomic int go;
	_Atomic int ready;
	int result[8];
};

TEST_F_TIMEOUT(pr, claim_exactly_once, 60)
{
	const int n = 4;
	struct plkv_proc_info pi;
	struct plkv_seg_info si;
	struct race *race;
	pid_t pids[8];
	int i, winners = 0, winner = -1, status;
	pid_t dead;

	dead = child_goes(self->name, BY_KILL, NULL);
	ASSERT_LT(0, dead);
	race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, race);
	memset(race, 0, sizeof(*race));

	for (i = 0; i < n; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			struct kd_client c;

			if (kd_client_open(&c, self->name))
				_exit(10);
			atomic_fetch_add(&race->ready, 1);
			while (!atomic_load(&race->go))
				;
			race->result[i] = kd_reap(c.fd, "", dead, 0,
						  PLKV_REAP_CLAIM);
			atomic_fetch_add(&race->ready, 1);
			/* hold the claim (or not) until told */
			while (atomic_load(&race->go) != 2)
				kd_sleep_ms(5);
			if (race->result[i] == 0 &&
			    kd_reap(c.fd, "", dead, 0, 0))
				_exit(11);
			kd_client_close(&c);
			_exit(0);
		}
	}
	while (atomic_load(&race->ready) < n)
		kd_sleep_ms(1);
	atomic_store(&race->go, 1);
	while (atomic_load(&race->ready) < 2 * n)
		kd_sleep_ms(1);

	for (i = 0; i < n; i++) {
		if (race->result[i] == 0) {
			winners++;
			winner = i;
		} else {
			EXPECT_EQ(-EALREADY, race->result[i]);
		}
	}
	ASSERT_EQ(1, winners);

	ASSERT_TRUE(kd_find_proc(self->c.fd, "", dead, &pi));
	EXPECT_EQ(PLKV_PROC_RECOVERING, pi.state);
	EXPECT_EQ(pids[winner], pi.recoverer);
	/* Not ours: no reap, no unclaim, no second claim. */
	EXPECT_EQ(-EBUSY, kd_reap(self->c.fd, "", dead, 0, 0));
	EXPECT_EQ(-EPERM, kd_reap(self->c.fd, "", dead, 0, PLKV_REAP_UNCLAIM));
	EXPECT_EQ(-EALREADY, kd_reap(self->c.fd, "", dead, 0,
				     PLKV_REAP_CLAIM));
	ASSERT_EQ(0, kd_seg_info(self->c.fd, "", &si));
	EXPECT_EQ(1, si.ndead);		/* RECOVERING counts */

	atomic_store(&race->go, 2);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	EXPECT_FALSE(kd_find_proc(self->c.fd, "", dead, &pi));
	munmap(race, sizeof(*race));
}

TEST_F(pr, claim_reverts)
{
	struct plkv_proc_info pi;
	int up[2], down[2], status;
	pid_t dead, claimer;
	uint32_t gen;

	dead = child_goes(self->name, BY_KILL, NULL);
	ASSERT_LT(0, dead);
	EXPECT_EQ(1, death_gen(self));

	/* UNCLAIM gives it back and tells the others. */
	ASSERT_EQ(0, kd_reap(self->c.fd, "", dead, 0, PLKV_REAP_CLAIM));
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", dead, &pi));
	EXPECT_EQ(getpid(), pi.recoverer);
	ASSERT_EQ(0, kd_reap(self->c.fd, "", dead, 0, PLKV_REAP_UNCLAIM));
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", dead, &pi));
	EXPECT_EQ(PLKV_PROC_DEAD, pi.state);
	EXPECT_EQ(0, pi.recoverer);
	EXPECT_EQ(2, death_gen(self));
	EXPECT_EQ(-EPERM, kd_reap(self->c.fd, "", dead, 0, PLKV_REAP_UNCLAIM));

	/* A claimer that dies loses its claim. */
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	claimer = fork();
	ASSERT_LE(0, claimer);
	if (claimer == 0) {
		struct kd_client c;

		if (kd_client_open(&c, self->name))
			_exit(10);
		if (kd_reap(c.fd, "", dead, 0, PLKV_REAP_CLAIM))
			_exit(11);
		kd_tell(up[1], 'c');
		for (;;)
			pause();
	}
	ASSERT_EQ('c', kd_hear(up[0]));
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", dead, &pi));
	EXPECT_EQ(PLKV_PROC_RECOVERING, pi.state);
	gen = death_gen(self);
	kill(claimer, SIGKILL);
	ASSERT_EQ(claimer, waitpid(claimer, &status, 0));
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", dead, &pi));
	EXPECT_EQ(PLKV_PROC_DEAD, pi.state);
	EXPECT_EQ(0, pi.recoverer);
	EXPECT_EQ(gen + 1, death_gen(self));

	/* A claimer that detaches cleanly gives it back too. */
	claimer = fork();
	ASSERT_LE(0, claimer);
	if (claimer == 0) {
		struct kd_client c;

		if (kd_client_open(&c, self->name))
			_exit(10);
		if (kd_reap(c.fd, "", dead, 0, PLKV_REAP_CLAIM))
			_exit(11);
		kd_client_close(&c);
		_exit(0);
	}
	ASSERT_EQ(claimer, waitpid(claimer, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_TRUE(kd_find_proc(self->c.fd, "", dead, &pi));
	EXPECT_EQ(PLKV_PROC_DEAD, pi.state);

	/* Now ours, then reaped by us. */
	ASSERT_EQ(0, kd_reap(self->c.fd, "", dead, 0, PLKV_REAP_CLAIM));
	ASSERT_EQ(0, kd_reap(self->c.fd, "", dead, 0, 0));
	EXPECT_FALSE(kd_find_proc(self->c.fd, "", dead, &pi));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

TEST_F(pr, list_procs_capacity)
{
	struct plkv_proc_info pi[4];
	struct plkv_list l;
	pid_t a, b;

	a = child_goes(self->name, BY_KILL, NULL);
	b = child_goes(self->name, BY_EXIT, NULL);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	EXPECT_EQ(3, kd_procs(self->c.fd, "", NULL, 0));
	memset(pi, 0xaa, sizeof(pi));
	EXPECT_EQ(3, kd_procs(self->c.fd, "", pi, 2));
	/* oldest first */
	EXPECT_EQ(getpid(), pi[0].tgid);
	EXPECT_EQ(a, pi[1].tgid);
	EXPECT_EQ(0xaaaaaaaau, pi[2].tgid);
	memset(&l, 0, sizeof(l));
	l.capacity = 2;
	l.buf = 8;
	EXPECT_EQ(-EFAULT, kd_ioctl(self->c.fd, PLKV_IOC_LIST_PROCS, &l));
	memset(&l, 0, sizeof(l));
	l.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, kd_ioctl(self->c.fd, PLKV_IOC_LIST_PROCS, &l));
	memset(&l, 0, sizeof(l));
	strcpy(l.name, "no/such");
	EXPECT_EQ(-EINVAL, kd_ioctl(self->c.fd, PLKV_IOC_LIST_PROCS, &l));
	memset(&l, 0, sizeof(l));
	th_unique_name(l.name, sizeof(l.name), "nosuch");
	EXPECT_EQ(-ENOENT, kd_ioctl(self->c.fd, PLKV_IOC_LIST_PROCS, &l));
}

TEST_HARNESS_MAIN
