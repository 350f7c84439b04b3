// SPDX-License-Identifier: MIT
/*
 * Crash at every instrumented point of every mutating operation.
 *
 * For each operation, the survivor (this process) prepares a store and
 * remembers every write it has had acknowledged.  A child process is
 * exec'd with PLKV_CRASH=1:N, runs that one operation and dies at its N-th
 * crash point, by _exit or SIGKILL alternately; N goes up until the child
 * finishes without dying.  After each death the survivor recovers the
 * dead process, then requires: plkv_check() passes, every acknowledged write reads back with its value
 * (the key the child was changing may hold its old or its new value, or be
 * gone for a delete/eviction), and the store still serves reads and writes.
 *
 * The same points are also abandoned: PLKV_CRASH's "signal" mode raises
 * SIGUSR1 there and the child's handler siglongjmps out of the call, as a
 * client's handler may.  The child then either calls again from the same
 * thread, or (the operation having run in a thread of its own) lets that
 * thread exit; either must recover the abandoned call, so the child's
 * next calls, which need the same locks, finish (a watchdog alarm kills
 * it otherwise), and the survivor checks the store as after a death.
 *
 * Prints "# crash points exercised: N, violations: V" (deaths; V counts
 * the abandoned calls' violations too) and the abandoned calls' count.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "plkv.h"

#define NKEYS		200
#define MAX_POINTS	400

/* How the child leaves the operation at the crash point. */
enum leave {
	DIE_EXIT,	/* _exit() */
	DIE_KILL,	/* SIGKILL */
	JUMP_CALL,	/* longjmp out, then call again from the same thread */
	JUMP_THREAD,	/* longjmp out in a thread, which then exits */
};
static const char *const leave_spec[] = { "exit", "kill", "signal", "signal" };
/* The child's exit status per way of leaving (128 + signal when killed). */
static const int leave_status[] = { 99, 128 + SIGKILL, 98, 98 };

struct crash_op {
	const char *name;
	uint64_t mem_limit;	/* 0: 8 MiB */
	uint32_t hash_power;	/* 0: 16 */
	int prefill;		/* keys written before the crash */
	size_t prefill_len;	/* their value size */
	/* The key the operation changes and the values it may hold after
	 * a crash: before or after, never a mix (NULL: may be absent). */
	const char *victim, *before, *after;
};

/* What the child runs; "victim" is the key it changes. */
static int run_op(plkv_t *kv, const char *op, int nkeys)
{
	char big[4096];
	uint64_t v, cas;
	struct plkv_meta m;
	char buf[64];

	memset(big, 'e', sizeof(big));
	if (!strcmp(op, "set"))
		return plkv_set(kv, "victim", 6, "new-value", 9, 7, 0);
	if (!strcmp(op, "set_new"))
		return plkv_set(kv, "fresh", 5, "fresh-value", 11, 7, 0);
	if (!strcmp(op, "add"))
		return plkv_add(kv, "fresh", 5, "fresh-value", 11, 0, 0);
	if (!strcmp(op, "replace"))
		return plkv_replace(kv, "victim", 6, "replaced", 8, 3, 0);
	if (!strcmp(op, "append"))
		return plkv_append(kv, "victim", 6, "-tail", 5);
	if (!strcmp(op, "prepend"))
		return plkv_prepend(kv, "victim", 6, "head-", 5);
	if (!strcmp(op, "cas")) {
		if (plkv_get(kv, "victim", 6, buf, sizeof(buf), &m))
			return -1;
		cas = m.cas;
		return plkv_cas(kv, "victim", 6, "cas-value", 9, 0, 0, cas);
	}
	if (!strcmp(op, "incr"))
		return plkv_incr(kv, "counter", 7, 5, &v);
	if (!strcmp(op, "incr_grow"))	/* 99 -> 100: the value grows */
		return plkv_incr(kv, "counter99", 9, 1, &v);
	if (!strcmp(op, "decr"))
		return plkv_decr(kv, "counter", 7, 3, &v);
	if (!strcmp(op, "vivify") || !strcmp(op, "incr_touch")) {
		/* creates "fresh"; or the counter's value with a new TTL */
		struct plkv_arith a = {
			.delta = 5, .initial = 5, .exptime = 1000,
			.flags = op[0] == 'v' ? PLKV_ARITH_VIVIFY
					      : PLKV_ARITH_TOUCH,
		};

		return plkv_arith(kv, op[0] == 'v' ? "fresh" : "counter",
				  op[0] == 'v' ? 5 : 7, &a, &v, NULL, NULL);
	}
	if (!strcmp(op, "delete"))
		return plkv_delete(kv, "victim", 6);
	if (!strcmp(op, "touch"))
		return plkv_touch(kv, "victim", 6, 1000);
	if (!strcmp(op, "flush"))
		return plkv_flush_all(kv, 0);
	if (!strcmp(op, "evict") || !strcmp(op, "grow")) {
		/* A store that must evict (small store, full) or grow its
		 * hash table (prefilled to the threshold). */
		snprintf(buf, sizeof(buf), "fresh");
		return plkv_set(kv, buf, strlen(buf), big,
				!strcmp(op, "evict") ? sizeof(big) : 16, 0, 0);
	}
	(void)nkeys;
	return -EINVAL;
}

static const struct crash_op ops[] = {
	{ "set", 0, 0, NKEYS, 16, "victim", "old-value", "new-value" },
	{ "set_new", 0, 0, NKEYS, 16, "fresh", NULL, "fresh-value" },
	{ "add", 0, 0, NKEYS, 16, "fresh", NULL, "fresh-value" },
	{ "replace", 0, 0, NKEYS, 16, "victim", "old-value", "replaced" },
	{ "append", 0, 0, NKEYS, 16, "victim", "old-value", "old-value-tail" },
	{ "prepend", 0, 0, NKEYS, 16, "victim", "old-value", "head-old-value" },
	{ "cas", 0, 0, NKEYS, 16, "victim", "old-value", "cas-value" },
	{ "incr", 0, 0, NKEYS, 16, "counter", "1000", "1005" },
	{ "incr_grow", 0, 0, NKEYS, 16, "counter99", "99", "100" },
	{ "decr", 0, 0, NKEYS, 16, "counter", "1000", "997" },
	{ "vivify", 0, 0, NKEYS, 16, "fresh", NULL, "5" },
	{ "incr_touch", 0, 0, NKEYS, 16, "counter", "1000", "1005" },
	{ "delete", 0, 0, NKEYS, 16, "victim", "old-value", NULL },
	{ "touch", 0, 0, NKEYS, 16, "victim", "old-value", "old-value" },
	{ "flush", 0, 0, NKEYS, 16, NULL, NULL, NULL },
	/* 2 MiB of slab pages full of 4 KiB items: the next set evicts. */
	{ "evict", 2 << 20, 0, 1200, 4096, NULL, NULL, NULL },
	/* 2^8 buckets grow past 1.5 items per bucket: 384 items. */
	{ "grow", 0, 8, 384, 16, NULL, NULL, NULL },
};

static char self_exe[4096];

static void key_of(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "key-%d", i);
}

static void value_of(char *buf, size_t len, int i)
{
	size_t k;

	for (k = 0; k < len; k++)
		buf[k] = (char)('a' + (i + k) % 26);
}

static sigjmp_buf jump_target;

static void jump_out(int sig)
{
	(void)sig;
	siglongjmp(jump_target, 1);
}

struct child_call {
	plkv_t *kv;
	const char *op;
	int rc;
	bool jumped;
};

static void *child_call_op(void *arg)
{
	struct child_call *cc = arg;

	if (sigsetjmp(jump_target, 1)) {
		cc->jumped = true;
		return NULL;
	}
	cc->rc = run_op(cc->kv, cc->op, NKEYS);
	return NULL;
}

/* After an abandoned call: calls that need the locks it may have held,
 * from the thread that abandoned it (which recovers it first) or from
 * another one (its thread's exit recovered it). */
static int child_after_jump(plkv_t *kv)
{
	char probe[4096], got[64];
	struct plkv_meta m;
	int rc;

	alarm(20);	/* a lock left held would hang us */
	rc = plkv_get(kv, "victim", 6, got, sizeof(got), &m);
	if (rc && rc != PLKV_ENOTFOUND && rc != PLKV_ETOOSMALL)
		return 3;
	memset(probe, 'p', sizeof(probe));
	rc = plkv_set(kv, "probe", 5, probe, sizeof(probe), 0, 0);
	if (rc && rc != PLKV_ENOMEM)
		return 3;
	alarm(0);
	return leave_status[JUMP_CALL];
}

static int child_main(const char *seg, const char *op, const char *how)
{
	struct plkv_options o;
	struct child_call cc = { .op = op };
	pthread_t th;
	int rc;

	plkv_options_init(&o);
	o.flags = 0;
	rc = plkv_open(seg, &o, &cc.kv);
	if (rc) {
		fprintf(stderr, "child open: %s\n", plkv_strerror(rc));
		return 2;
	}
	signal(SIGUSR1, jump_out);
	if (atoi(how) == JUMP_THREAD) {
		if (pthread_create(&th, NULL, child_call_op, &cc) ||
		    pthread_join(th, NULL))
			return 4;
	} else {
		child_call_op(&cc);
	}
	rc = cc.jumped ? child_after_jump(cc.kv) :
	     cc.rc == 0 || cc.rc == PLKV_ENOTSTORED ? 0 : 3;
	plkv_close(cc.kv);
	return rc;
}

static plkv_t *prepare(const char *seg, const struct crash_op *c)
{
	struct plkv_options o;
	char key[32], val[8192];
	plkv_t *kv;
	int i;

	plkv_destroy(seg, PLKV_BACKEND_AUTO);
	plkv_options_init(&o);
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	o.mem_limit = c->mem_limit ? c->mem_limit : 8 << 20;
	o.hash_power = c->hash_power ? c->hash_power : 16;
	if (plkv_open(seg, &o, &kv))
		return NULL;
	for (i = 0; i < c->prefill; i++) {
		key_of(key, sizeof(key), i);
		value_of(val, c->prefill_len, i);
		if (plkv_set(kv, key, strlen(key), val, c->prefill_len, i, 0))
			break;
	}
	plkv_set(kv, "victim", 6, "old-value", 9, 1, 0);
	plkv_set(kv, "counter", 7, "1000", 4, 0, 0);
	plkv_set(kv, "counter99", 9, "99", 2, 0, 0);
	return kv;
}

/* Returns the number of violations found after one crash. */
static int verify(plkv_t *kv, const struct crash_op *c, int point)
{
	char key[32], want[8192], got[8192], msg[512];
	struct plkv_meta m;
	unsigned rec = 0;
	int i, rc, bad = 0, evictable = !strcmp(c->name, "evict");
	int flushed = !strcmp(c->name, "flush");

	rc = plkv_recover(kv, &rec);
	if (rc) {
		printf("# %s@%d: recover: %s\n", c->name, point, plkv_strerror(rc));
		bad++;
	}
	rc = plkv_check(kv, msg, sizeof(msg));
	if (rc) {
		printf("# %s@%d: check: %s\n", c->name, point, msg);
		bad++;
	}
	for (i = 0; i < c->prefill; i++) {
		key_of(key, sizeof(key), i);
		value_of(want, c->prefill_len, i);
		rc = plkv_get(kv, key, strlen(key), got, sizeof(got), &m);
		if (rc == PLKV_ENOTFOUND && (evictable || flushed))
			continue;
		if (rc || m.len != c->prefill_len ||
		    memcmp(want, got, m.len) || m.flags != (uint32_t)i) {
			printf("# %s@%d: %s lost or wrong (%s)\n", c->name, point,
			       key, plkv_strerror(rc));
			bad++;
			break;
		}
	}
	if (c->victim) {
		rc = plkv_get(kv, c->victim, strlen(c->victim), got,
			      sizeof(got), &m);
		if (rc == 0)
			got[m.len] = '\0';
		if (rc == PLKV_ENOTFOUND ? c->before && c->after :
		    rc != 0 || ((!c->before || strcmp(got, c->before)) &&
				(!c->after || strcmp(got, c->after)))) {
			printf("# %s@%d: %s holds '%s' (%s), neither before nor after\n",
			       c->name, point, c->victim, rc ? "" : got,
			       plkv_strerror(rc));
			bad++;
		}
	}
	/* The store keeps serving, in the prefill's slab class (a full
	 * store has no page for another class: memcached says out of
	 * memory there too). */
	value_of(want, c->prefill_len, 7);
	rc = plkv_set(kv, "after", 5, want, c->prefill_len, 0, 0);
	if (!rc)
		rc = plkv_get(kv, "after", 5, got, sizeof(got), &m);
	if (rc || m.len != c->prefill_len || memcmp(got, want, m.len)) {
		printf("# %s@%d: store not serving: %s\n", c->name, point,
		       plkv_strerror(rc));
		bad++;
	}
	rc = plkv_check(kv, msg, sizeof(msg));
	if (rc) {
		printf("# %s@%d: check after use: %s\n", c->name, point, msg);
		bad++;
	}
	return bad;
}

static int spawn(const char *seg, const char *op, int point, enum leave how)
{
	char spec[32], how_arg[8];
	pid_t pid;
	int st;

	snprintf(spec, sizeof(spec), "1:%d:%s", point, leave_spec[how]);
	snprintf(how_arg, sizeof(how_arg), "%d", how);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		setenv("PLKV_CRASH", spec, 1);
		execl(self_exe, self_exe, "--crash-child", seg, op, how_arg,
		      NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static int total_points, total_abandoned, total_violations;

/* Leave @c at crash point @point in way @how and check the store.
 * Returns 1 when the operation ran to completion (no such point). */
static int crash_at(struct th_test __th_unused *_metadata, const char *seg,
		    const struct crash_op *c, int point, enum leave how,
		    int *violations)
{
	plkv_t *kv = prepare(seg, c);
	int rc;

	ASSERT_NE_NULL(kv);
	rc = spawn(seg, c->name, point, how);
	if (rc != 0 && rc != leave_status[how]) {
		printf("# %s@%d: child (%s) failed with status %d\n", c->name,
		       point, how == JUMP_THREAD ? "thread" : leave_spec[how],
		       rc);
		(*violations)++;
	}
	*violations += verify(kv, c, point);
	plkv_close(kv);
	return rc == 0;
}

static void sweep(struct th_test __th_unused *_metadata,
		  const struct crash_op *c)
{
	/* Half the deaths are SIGKILL (kill -9 mid-call), half _exit. */
	enum leave hows[] = { DIE_EXIT, JUMP_CALL, JUMP_THREAD };
	char seg[64];
	int point, violations = 0, done = 0;
	size_t h;

	snprintf(seg, sizeof(seg), "st-crash-%s-%d", c->name, (int)getpid());
	for (point = 1; point <= MAX_POINTS && !done; point++) {
		hows[0] = point % 2 ? DIE_EXIT : DIE_KILL;
		for (h = 0; h < sizeof(hows) / sizeof(hows[0]) && !done; h++)
			done = crash_at(_metadata, seg, c, point, hows[h],
					&violations);
	}
	point--;	/* the one that ran to completion */
	plkv_destroy(seg, PLKV_BACKEND_AUTO);
	total_points += point - 1;
	total_abandoned += 2 * (point - 1);
	total_violations += violations;
	printf("# %s: %d crash points, each a death and 2 abandoned calls, %d violations\n",
	       c->name, point - 1, violations);
	EXPECT_TRUE(done) TH_LOG("%s never completed", c->name);
	EXPECT_LT(0, point - 1) TH_LOG("%s has no crash point", c->name);
	EXPECT_EQ(0, violations);
}

TEST_TIMEOUT(crash_every_point_of_every_op, 1200)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		sweep(_metadata, &ops[i]);
	printf("# abandoned calls exercised: %d\n", total_abandoned);
	printf("# crash points exercised: %d, violations: %d\n", total_points,
	       total_violations);
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	if (n > 0)
		self_exe[n] = '\0';
	if (argc == 5 && !strcmp(argv[1], "--crash-child"))
		return child_main(argv[2], argv[3], argv[4]);
	return __th_main(argc, argv);
}
