// SPDX-License-Identifier: MIT
/*
 * Crash recovery of the engine: for each mutating operation and each of
 * its crash points N, a child process attaches to a prepared store and
 * runs the operation with PLKV_CRASH=1:N, so it _exit()s at point N
 * (possibly holding locks, mid-way through any structure).  The parent
 * then recovers (plkv_recover), runs plkv_check(), verifies that the
 * operation either took effect or did not (never half), that every other
 * key is intact, and that the store still serves.  The sweep for an op
 * ends when the child survives (N passed its last point).
 *
 * The child is this program re-executed with "--child", because the
 * crash trigger is read from the environment at process start.
 */
#include <sys/wait.h>

#include "backend.h"
#include "eng_test.h"

#define MAX_POINTS	400

enum op {
	O_SET_NEW, O_SET_REPLACE, O_ADD, O_REPLACE, O_APPEND, O_PREPEND, O_CAS,
	O_INCR, O_INCR_GROW, O_DECR_SHRINK, O_DELETE, O_TOUCH, O_FLUSH,
	O_SET_EVICT, O_SET_LARGE, O_SET_GROW, O_MAINTAIN, O_SET_NEWPAGE, O_DELETE_EXPIRED, O_SET_STEAL,
	O_VIVIFY, O_INCR_TOUCH, O_INVALIDATE, O_READ_VIVIFY, O_SET_INPLACE,
	O_SET_CARVE, O_NOPS
};

static const char *op_names[] = {
	"set-new", "set-replace", "add", "replace", "append", "prepend", "cas",
	"incr", "incr-grow", "decr-shrink", "delete", "touch", "flush",
	"set-evict", "set-large", "set-grow", "maintain", "set-newpage",
	"delete-expired", "set-steal", "vivify", "incr-touch", "invalidate",
	"read-vivify", "set-inplace", "set-carve",
};

#define NPOP 200
#define LARGE (700 * 1000)
#define CARVE_VLEN 300		/* a class of its own: "carve:NNNN" keys */

static const char *self_exe;

static void pop_key(unsigned i, char *k, size_t n)
{
	snprintf(k, n, "pop:%u", i);
}

static void pop_val(unsigned i, char *v, size_t n)
{
	snprintf(v, n, "value-%u", i);
}

/* Prepare the store an op runs on. */
static plkv_t *prepare(enum op op)
{
	struct plkv_options o = ut_opts(op == O_SET_EVICT ||
					op == O_SET_STEAL ? 4 : 8);
	plkv_t *h;
	char k[32], v[1000];
	unsigned i, n = NPOP;

	if (op == O_SET_GROW)
		o.hash_power = 8;
	h = ut_open(&o);
	if (op == O_SET_GROW)
		n = (3 << 8) / 2;	/* the next insert starts growth */
	for (i = 0; i < n; i++) {
		pop_key(i, k, sizeof(k));
		pop_val(i, v, sizeof(v));
		ck_assert_int_eq(ut_set(h, k, v), 0);
	}
	if (op == O_SET_EVICT || op == O_SET_STEAL) {
		unsigned nfill;

		memset(v, 'e', sizeof(v));
		for (i = 0; ut_stat(h, "evictions") == 0; i++) {
			snprintf(k, sizeof(k), "fill:%u", i);
			ck_assert_int_eq(plkv_set(h, k, strlen(k), v, sizeof(v),
						  0, 0), 0);
		}
		nfill = i;
		/* set-steal: no page left, every fill page nearly empty: a
		 * value of a new size must take a page from the fill class,
		 * evicting the one item left in it. */
		for (i = 0; op == O_SET_STEAL && i < nfill; i++) {
			snprintf(k, sizeof(k), "fill:%u", i);
			if (i % 400)
				plkv_delete(h, k, strlen(k));
		}
	}
	if (op == O_SET_CARVE) {	/* free list empty, page half carved */
		const struct eng_class *c = &eng(h)->cls[slab_clsid(eng(h),
					item_ntotal(10, CARVE_VLEN))];

		memset(v, 'c', CARVE_VLEN);
		for (i = 0; i < 10000 && (!eng_bump_left(c) ||
					  c->free_count > eng_bump_left(c));
		     i++) {
			snprintf(k, sizeof(k), "carve:%04u", i);
			ck_assert_int_eq(plkv_set(h, k, 10, v, CARVE_VLEN, 0,
						  0), 0);
		}
		ck_assert_uint_gt(c->bump_carved, 0);
		ck_assert_uint_eq(c->free_count, eng_bump_left(c));
	}
	ck_assert_int_eq(ut_set(h, "num", "99"), 0);
	ck_assert_int_eq(ut_set(h, "num3", "100"), 0);
	if (op == O_TOUCH) {	/* hit once: touch's bump makes it ACTIVE */
		char b[32];

		ut_get(h, "pop:1", b, sizeof(b), NULL);
	}
	if (op == O_DELETE_EXPIRED)
		plkv_set(h, "exp:0", 5, "x", 1, 0, 1);
	if (op == O_MAINTAIN) {
		for (i = 0; i < 10; i++) {
			snprintf(k, sizeof(k), "exp:%u", i);
			plkv_set(h, k, strlen(k), "x", 1, 0, 1);
		}
	}
	ck_store_ok(h);
	return h;
}

/* Set key to len bytes of fill. */
static int set_filled(plkv_t *h, const char *key, char fill, size_t len)
{
	char *v = malloc(len);
	int rc;

	if (!v)
		return -ENOMEM;
	memset(v, fill, len);
	rc = plkv_set(h, key, strlen(key), v, len, 0, 0);
	free(v);
	return rc;
}

/* The child: attach, run one op, report the cas used (stdout). */
static int child(const char *seg, int op)
{
	struct plkv_options o;
	plkv_t *h;
	uint64_t r, cas = 0;
	int rc;

	plkv_options_init(&o);
	o.flags = 0;
	o.backend = PLKV_BACKEND_USER;
	if (plkv_open(seg, &o, &h))
		return 2;
	if (getenv("UT_HANDSHAKE")) {	/* opened: tell, then wait for go */
		char c = 'r';

		if (write(3, &c, 1) != 1 || read(4, &c, 1) != 1)
			return 5;
		if (op == O_SET_REPLACE) {
			rc = ut_set(h, "pop:1", "B");
			plkv_close(h);
			return rc ? 4 : 0;
		}
	}
	if (op == O_CAS) {
		struct plkv_meta m;
		char b[32];

		plkv_get(h, "pop:1", 5, b, sizeof(b), &m);
		cas = m.cas;
	}
	if (op == O_MAINTAIN || op == O_DELETE_EXPIRED)
		plkv_test_time_offset = 5;
	switch (op) {
	case O_SET_NEW:
		rc = ut_set(h, "newkey", "newval");
		break;
	case O_SET_REPLACE:
		rc = ut_set(h, "pop:1", "NEW");
		break;
	case O_SET_INPLACE:	/* value-1's length: rewritten in place */
		rc = ut_set(h, "pop:1", "NEWVAL1");
		break;
	case O_ADD:
		rc = plkv_add(h, "added", 5, "A", 1, 0, 0);
		break;
	case O_REPLACE:
		rc = plkv_replace(h, "pop:1", 5, "R", 1, 0, 0);
		break;
	case O_APPEND:
		rc = plkv_append(h, "pop:1", 5, "+app", 4);
		break;
	case O_PREPEND:
		rc = plkv_prepend(h, "pop:1", 5, "pre+", 4);
		break;
	case O_CAS:
		rc = plkv_cas(h, "pop:1", 5, "C", 1, 0, 0, cas);
		break;
	case O_INCR:
		rc = plkv_incr(h, "num3", 4, 1, &r);
		break;
	case O_INCR_GROW:
		rc = plkv_incr(h, "num", 3, 1, &r);
		break;
	case O_DECR_SHRINK:
		rc = plkv_decr(h, "num3", 4, 1, &r);
		break;
	case O_DELETE:
		rc = plkv_delete(h, "pop:1", 5);
		break;
	case O_TOUCH:
		rc = plkv_touch(h, "pop:1", 5, 1000);
		break;
	case O_FLUSH:
		rc = plkv_flush_all(h, 0);
		break;
	case O_SET_EVICT:	/* the full class: must evict */
		rc = set_filled(h, "newkey", 'n', 1000);
		break;
	case O_SET_GROW:
		rc = ut_set(h, "newkey", "newval");
		break;
	case O_SET_STEAL:
	case O_SET_NEWPAGE:	/* a class with no page yet: take one */
		rc = set_filled(h, "newkey", 'P', 5000);
		break;
	case O_SET_CARVE:
		rc = set_filled(h, "carve:newk", 'C', CARVE_VLEN);
		break;
	case O_SET_LARGE:
		rc = set_filled(h, "newkey", 'L', LARGE);
		break;
	case O_MAINTAIN:
		rc = plkv_maintain(h, 1000) < 0;
		break;
	case O_DELETE_EXPIRED:	/* finds it expired: reclaims it */
		rc = plkv_delete(h, "exp:0", 5) != PLKV_ENOTFOUND;
		break;
	case O_VIVIFY:
	case O_INCR_TOUCH: {	/* creates "viv"; num3's value and TTL */
		struct plkv_arith a = {
			.delta = 1, .initial = 7, .exptime = 1000,
			.flags = op == O_VIVIFY ? PLKV_ARITH_VIVIFY
						: PLKV_ARITH_TOUCH,
		};

		rc = plkv_arith(h, op == O_VIVIFY ? "viv" : "num3",
				op == O_VIVIFY ? 3 : 4, &a, &r, NULL, NULL);
		break;
	}
	case O_INVALIDATE:	/* md I T: flags, CAS, exptime, no record */
		rc = plkv_delete_ex(h, "pop:1", 5, 0,
				    PLKV_DEL_INVALIDATE | PLKV_DEL_TOUCH, 1000);
		break;
	case O_READ_VIVIFY: {	/* mg N: creates "rviv" empty, wins */
		struct plkv_read rd = {
			.flags = PLKV_READ_VIVIFY | PLKV_READ_WIN,
			.vivify_exptime = 1000,
		};

		rc = plkv_read(h, "rviv", 4, &rd, NULL, 0, NULL, NULL);
		break;
	}
	default:
		rc = 3;
	}
	plkv_close(h);
	return rc ? 4 : 0;
}

/* After recovery: the op happened entirely or not at all. */
static void verify(plkv_t *h, enum op op, int n)
{
	char b[1024], k[32], v[64];
	struct plkv_meta m;
	unsigned i;
	int rc;

	switch (op) {
	case O_SET_EVICT:
		rc = plkv_get(h, "newkey", 6, b, sizeof(b), &m);
		ck_assert_msg(rc == PLKV_ENOTFOUND ||
			      (rc == 0 && m.len == 1000 && b[0] == 'n' &&
			       b[999] == 'n'), "%s@%d: rc %d", op_names[op], n,
			      rc);
		break;
	case O_SET_CARVE:
		rc = plkv_get(h, "carve:newk", 10, b, sizeof(b), &m);
		ck_assert_msg(rc == PLKV_ENOTFOUND ||
			      (rc == 0 && m.len == CARVE_VLEN && b[0] == 'C' &&
			       b[CARVE_VLEN - 1] == 'C'), "%s@%d: rc %d",
			      op_names[op], n, rc);
		break;
	case O_SET_STEAL:
	case O_SET_NEWPAGE:
		rc = plkv_get(h, "newkey", 6, b, sizeof(b), &m);
		ck_assert_msg(rc == PLKV_ENOTFOUND || rc == PLKV_ETOOSMALL,
			      "%s@%d: rc %d", op_names[op], n, rc);
		break;
	case O_SET_NEW:
	case O_ADD:
	case O_SET_GROW:
		rc = ut_get(h, op == O_ADD ? "added" : "newkey", b, sizeof(b),
			    NULL);
		ck_assert_msg(rc == PLKV_ENOTFOUND ||
			      (rc == 0 && (!strcmp(b, "newval") ||
					   !strcmp(b, "A"))),
			      "%s@%d: rc %d '%s'", op_names[op], n, rc, b);
		break;
	case O_SET_LARGE: {
		char *big = malloc(LARGE);

		rc = plkv_get(h, "newkey", 6, big, LARGE, &m);
		ck_assert_msg(rc == PLKV_ENOTFOUND ||
			      (rc == 0 && m.len == LARGE && big[0] == 'L' &&
			       big[LARGE - 1] == 'L'), "%s@%d: rc %d",
			      op_names[op], n, rc);
		free(big);
		break;
	}
	case O_SET_REPLACE:
	case O_SET_INPLACE:
	case O_REPLACE:
	case O_APPEND:
	case O_PREPEND:
	case O_CAS:
	case O_TOUCH:
		rc = ut_get(h, "pop:1", b, sizeof(b), NULL);
		ck_assert_msg(rc == 0, "%s@%d: pop:1 lost (%d)", op_names[op],
			      n, rc);
		ck_assert_msg(!strcmp(b, "value-1") || !strcmp(b, "NEW") ||
			      !strcmp(b, "R") || !strcmp(b, "value-1+app") ||
			      !strcmp(b, "pre+value-1") || !strcmp(b, "C") ||
			      !strcmp(b, "NEWVAL1") ||
			      !strcmp(b, "B"),
			      "%s@%d: pop:1 = '%s'", op_names[op], n, b);
		break;
	case O_DELETE_EXPIRED:
		plkv_test_time_offset = 5;
		ck_get_missing(h, "exp:0");
		plkv_test_time_offset = 0;
		break;
	case O_DELETE:
		rc = ut_get(h, "pop:1", b, sizeof(b), NULL);
		ck_assert_msg(rc == PLKV_ENOTFOUND ||
			      (rc == 0 && !strcmp(b, "value-1")),
			      "%s@%d: rc %d", op_names[op], n, rc);
		break;
	case O_INCR:
	case O_DECR_SHRINK:
		rc = ut_get(h, "num3", b, sizeof(b), NULL);
		ck_assert_msg(rc == 0 && (!strcmp(b, "100") ||
					  !strcmp(b, "101") || !strcmp(b, "99")),
			      "%s@%d: num3 = '%s' (%d)", op_names[op], n, b, rc);
		break;
	case O_VIVIFY:
		rc = ut_get(h, "viv", b, sizeof(b), NULL);
		ck_assert_msg(rc == PLKV_ENOTFOUND || (rc == 0 && !strcmp(b, "7")),
			      "%s@%d: viv = '%s' (%d)", op_names[op], n,
			      rc ? "" : b, rc);
		break;
	case O_INVALIDATE:	/* any part of it: the value stays */
		rc = ut_get(h, "pop:1", b, sizeof(b), NULL);
		ck_assert_msg(rc == 0 && !strcmp(b, "value-1"),
			      "%s@%d: pop:1 = '%s' (%d)", op_names[op], n,
			      rc ? "" : b, rc);
		break;
	case O_READ_VIVIFY:
		rc = plkv_peek(h, "rviv", 4, &m);
		ck_assert_msg(rc == PLKV_ENOTFOUND || (rc == 0 && m.len == 0),
			      "%s@%d: rviv (%d)", op_names[op], n, rc);
		break;
	case O_INCR_TOUCH:	/* the new value comes with the new TTL */
		rc = ut_get(h, "num3", b, sizeof(b), &m);
		ck_assert_msg(rc == 0 && ((!strcmp(b, "100") && !m.exptime) ||
					  (!strcmp(b, "101") && m.exptime)),
			      "%s@%d: num3 = '%s' exptime %lld (%d)",
			      op_names[op], n, b, (long long)m.exptime, rc);
		break;
	case O_INCR_GROW:
		rc = ut_get(h, "num", b, sizeof(b), NULL);
		ck_assert_msg(rc == 0 && (!strcmp(b, "99") || !strcmp(b, "100")),
			      "%s@%d: num = '%s' (%d)", op_names[op], n, b, rc);
		break;
	default:
		break;
	}
	if (op == O_FLUSH || op == O_SET_EVICT)
		return;
	if (op == O_SET_STEAL)
		ck_assert_uint_le(ut_stat(h, "slabs_moved"), 1);
	/* every other key is intact */
	for (i = 2; i < (op == O_SET_GROW ? 384u : NPOP); i++) {
		pop_key(i, k, sizeof(k));
		pop_val(i, v, sizeof(v));
		rc = ut_get(h, k, b, sizeof(b), NULL);
		ck_assert_msg(rc == 0 && !strcmp(b, v), "%s@%d: %s = '%s' (%d)",
			      op_names[op], n, k, rc ? "" : b, rc);
	}
}

/* A child that runs op with PLKV_CRASH=1:point[:mode] (mode NULL: exit). */
static pid_t start_child(enum op op, int point, const char *mode)
{
	char opbuf[8], crash[32];
	pid_t pid;

	snprintf(opbuf, sizeof(opbuf), "%d", op);
	snprintf(crash, sizeof(crash), "1:%d%s%s", point, mode ? ":" : "",
		 mode ? mode : "");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("PLKV_CRASH", crash, 1);
		execl(self_exe, self_exe, "--child", seg_name, opbuf,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int spawn(enum op op, int point)
{
	pid_t pid = start_child(op, point, NULL);
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child killed by signal %d",
		      WTERMSIG(st));
	return WEXITSTATUS(st);
}

static void sweep(enum op op)
{
	int n, status = 99;

	for (n = 1; n <= MAX_POINTS && status == 99; n++) {
		plkv_t *h = prepare(op);
		unsigned rec = 0;
		char msg[256];
		int rc;

		status = spawn(op, n);
		ck_assert_msg(status == 99 || status == 0,
			      "%s@%d: child exited %d", op_names[op], n, status);
		/* (the gate may already have recovered it: rec 0 or 1) */
		ck_assert_int_eq(plkv_recover(h, &rec), 0);
		ck_assert_uint_le(rec, 1);
		rc = plkv_check(h, msg, sizeof(msg));
		ck_assert_msg(rc == 0, "%s@%d: check: %s", op_names[op], n, msg);
		verify(h, op, n);
		if (status == 0 && op == O_SET_STEAL)
			ck_assert_uint_eq(ut_stat(h, "slabs_moved"), 1);
		/* it still serves */
		ck_assert_int_eq(ut_set(h, "after", "crash"), 0);
		ck_get_eq(h, "after", "crash");
		rc = plkv_delete(h, "pop:3", 5);
		ck_assert_msg(rc == 0 || (op == O_FLUSH && rc == PLKV_ENOTFOUND),
			      "%s@%d: delete after: %d", op_names[op], n, rc);
		rc = plkv_check(h, msg, sizeof(msg));
		ck_assert_msg(rc == 0, "%s@%d: check after: %s", op_names[op],
			      n, msg);
		plkv_close(h);
		plkv_destroy(seg_name, PLKV_BACKEND_USER);
	}
	ck_assert_msg(status == 0, "%s: still crashing after %d points",
		      op_names[op], MAX_POINTS);
	fprintf(stderr, "# %s: %d crash points\n", op_names[op], n - 2);
}

/*
 * A second process B, attached before A died, runs a set on the key A was
 * replacing when A died at point a: B's lock on that stripe finds A's
 * death and repairs, and B itself dies at its point b, possibly in the
 * middle of that repair.  The survivor must still recover both.
 */
static int spawn_b(int point, int *go)
{
	char crash[32], opbuf[8];
	int ready[2], gop[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(gop), 0);
	snprintf(crash, sizeof(crash), "1:%d", point);
	snprintf(opbuf, sizeof(opbuf), "%d", O_SET_REPLACE);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(ready[1], 3);
		dup2(gop[0], 4);
		setenv("PLKV_CRASH", crash, 1);
		setenv("UT_HANDSHAKE", "1", 1);
		execl(self_exe, self_exe, "--child", seg_name, opbuf,
		      (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	close(gop[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*go = gop[1];
	return pid;
}

START_TEST(nested_death)
{
	static const int a_points[] = { 3, 5, 8, 10 };
	int a = a_points[_i], b, st, go, done = 0;

	for (b = 1; b <= MAX_POINTS && !done; b++) {
		plkv_t *h = prepare(O_SET_REPLACE);
		pid_t pb = spawn_b(b, &go);
		char msg[256];
		int sa, rc;

		sa = spawn(O_SET_REPLACE, a);
		ck_assert_int_eq(sa, 99);
		ck_assert_int_eq(write(go, "g", 1), 1);
		close(go);
		ck_assert_int_eq(waitpid(pb, &st, 0), pb);
		ck_assert(WIFEXITED(st));
		ck_assert_msg(WEXITSTATUS(st) == 99 || WEXITSTATUS(st) == 0,
			      "B exited %d", WEXITSTATUS(st));
		done = WEXITSTATUS(st) == 0;
		ck_assert_int_eq(plkv_recover(h, NULL), 0);
		rc = plkv_check(h, msg, sizeof(msg));
		ck_assert_msg(rc == 0, "A@%d B@%d: check: %s", a, b, msg);
		verify(h, O_SET_REPLACE, b);
		ck_assert_int_eq(ut_set(h, "pop:1", "after"), 0);
		ck_get_eq(h, "pop:1", "after");
		ck_store_ok(h);
		plkv_close(h);
		plkv_destroy(seg_name, PLKV_BACKEND_USER);
	}
	ck_assert(done);
	fprintf(stderr, "# nested: A died at %d, B at each of %d points\n", a,
		b - 2);
}
END_TEST

START_TEST(crash_sweep)
{
	sweep((enum op)_i);
}
END_TEST

/*
 * A value rewritten in place (a set of the same length; an incr to as
 * many digits) by a writer stopped at each of its points (PLKV_CRASH's
 * "stop": alive, holding its locks) while another process gets the key:
 * the get answers the old value with its CAS, or waits for the writer and
 * then answers the new one with its new CAS, never the new bytes under
 * the old CAS (a reader without the lock validates by the item's CAS
 * word, which goes to 0 before the value changes).
 */
static const struct {
	enum op op;
	const char *key, *old, *new;
} rewrites[] = {
	{ O_SET_INPLACE, "pop:1", "value-1", "NEWVAL1" },
	{ O_INCR, "num3", "100", "101" },
};

struct stopped_get {
	plkv_t *h;
	const char *key;
	char val[32];
	struct plkv_meta m;
	int rc;
	atomic_bool done;
};

static void *get_meanwhile(void *arg)
{
	struct stopped_get *g = arg;

	g->rc = ut_get(g->h, g->key, g->val, sizeof(g->val), &g->m);
	atomic_store(&g->done, true);
	return NULL;
}

START_TEST(get_while_rewrite_stopped)
{
	const char *key = rewrites[_i].key;
	enum op op = rewrites[_i].op;
	int n, st = 0, waited = 0;

	for (n = 1; n <= MAX_POINTS; n++) {
		plkv_t *h = prepare(op);
		struct stopped_get g = { .h = h, .key = key };
		struct plkv_meta before;
		char b[32];
		pthread_t th;
		pid_t pid;
		int i;

		ck_assert_int_eq(ut_get(h, key, b, sizeof(b), &before), 0);
		pid = start_child(op, n, "stop");
		ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
		if (!WIFSTOPPED(st)) {	/* past its last point */
			ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			plkv_close(h);
			plkv_destroy(seg_name, PLKV_BACKEND_USER);
			break;
		}
		ck_assert_int_eq(pthread_create(&th, NULL, get_meanwhile, &g),
				 0);
		for (i = 0; i < 20 && !atomic_load(&g.done); i++)
			usleep(10000);
		waited += !atomic_load(&g.done);
		kill(pid, SIGCONT);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		pthread_join(th, NULL);
		ck_assert_int_eq(g.rc, 0);
		if (!strcmp(g.val, rewrites[_i].old))
			ck_assert_msg(g.m.cas == before.cas,
				      "%s@%d: the old value, another CAS",
				      op_names[op], n);
		else
			ck_assert_msg(!strcmp(g.val, rewrites[_i].new) &&
				      g.m.cas != before.cas,
				      "%s@%d: '%s' under CAS %llu (old %llu)",
				      op_names[op], n, g.val,
				      (unsigned long long)g.m.cas,
				      (unsigned long long)before.cas);
		ck_store_ok(h);
		plkv_close(h);
		plkv_destroy(seg_name, PLKV_BACKEND_USER);
	}
	ck_assert_int_lt(n, MAX_POINTS);
	/* at the point between the value and the CAS word, at least */
	ck_assert_int_ge(waited, 1);
	fprintf(stderr, "# %s stopped at %d points, the get waited at %d\n",
		op_names[op], n - 1, waited);
}
END_TEST

/* A dead process whose parent has not reaped it yet (a zombie) is dead to
 * the user backend's liveness check: its memory went when it exited. */
START_TEST(zombie_is_dead)
{
	char path[64], buf[256], *p = NULL;
	uint64_t start;
	pid_t pid = fork();
	int tries, st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (tries = 0; tries < 500; tries++) {
		FILE *f = fopen(path, "r");

		ck_assert_ptr_nonnull(f);
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && p[2] == 'Z')
			break;
		usleep(10000);
	}
	ck_assert_msg(p && p[2] == 'Z', "child never became a zombie");
	start = plkv_proc_start_time(pid);
	ck_assert_uint_ne(start, 0);
	ck_assert(!plkv_pid_alive((uint32_t)pid, start));
	ck_assert(plkv_pid_alive((uint32_t)getpid(),
				 plkv_proc_start_time(getpid())));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}
END_TEST

static uint32_t death_gen(plkv_t *h)
{
	return atomic_load((_Atomic uint32_t *)&h->khdr->death_gen);
}

/* Calls for ms milliseconds, or until the death generation moves from
 * gen; true if it moved. */
static bool calls_until_death(plkv_t *h, unsigned ms, uint32_t gen)
{
	char b[32];
	unsigned t;

	for (t = 0; t < ms && death_gen(h) == gen; t += 10) {
		ut_get(h, "pop:1", b, sizeof(b), NULL);
		usleep(10000);
	}
	return death_gen(h) != gen;
}

/*
 * The gate's once-a-second scan (user backend) notices a process that
 * died without holding anything, a zombie too, at the next scan: each
 * process polls a pidfd of every other one.  (kill() alone took a zombie
 * for alive: only one scan in eight, reading /proc, could tell.)
 */
START_TEST(scan_notices_zombie)
{
	plkv_t *h = prepare(O_SET_NEW);
	int ready[2], st;
	uint32_t gen;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct plkv_options o;
		plkv_t *ch;

		plkv_options_init(&o);
		o.flags = 0;
		o.backend = PLKV_BACKEND_USER;
		if (plkv_open(seg_name, &o, &ch) ||
		    write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* over two second boundaries: a scan meets the child's record */
	gen = death_gen(h);
	ck_assert(!calls_until_death(h, 2200, gen));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_msg(calls_until_death(h, 2500, gen),
		      "a zombie's death not noticed in 2.5 s of calls");
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(ready[0]);
	close(ready[1]);
	plkv_close(h);
	plkv_destroy(seg_name, PLKV_BACKEND_USER);
}
END_TEST

/* A death not yet noticed (no liveness scan since) is work for recovery,
 * not corruption: plkv_check() recovers it before it checks. */
START_TEST(check_recovers_first)
{
	plkv_t *h = prepare(O_SET_REPLACE);
	char msg[256];
	int status = spawn(O_SET_REPLACE, 3);

	ck_assert_int_eq(status, 99);
	ck_assert_msg(plkv_check(h, msg, sizeof(msg)) == 0, "%s", msg);
	verify(h, O_SET_REPLACE, 3);
	plkv_close(h);
	plkv_destroy(seg_name, PLKV_BACKEND_USER);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("recover");
	TCase *tc = tcase_create("recover");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, crash_sweep, 0, O_NOPS);
	tcase_add_loop_test(tc, nested_death, 0, 4);
	tcase_add_test(tc, check_recovers_first);
	tcase_add_loop_test(tc, get_while_rewrite_stopped, 0,
			    sizeof(rewrites) / sizeof(rewrites[0]));
	tcase_add_test(tc, zombie_is_dead);
	tcase_add_test(tc, scan_notices_zombie);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	static char exe[4096];
	ssize_t n;

	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child(argv[2], atoi(argv[3]));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = 0;
	self_exe = exe;
	return ut_run(suite());
}
