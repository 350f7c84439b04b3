// SPDX-License-Identifier: MIT
/*
 * plkv-bench section 5: the engine at scale, beside a mutex-locked shared
 * hash table (shmhash.c).  10 k, 100 k and 1 M keys of 16-40 bytes with
 * 100-byte values, larger than any cache level at the top end: per-op
 * latency percentiles of gets and sets, a 90/10 mix from 1 and 2
 * processes beside a CPU loop, and the bytes each item costs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "bench.h"

#define SC_VLEN		100u

struct sc_key {
	char s[SH_KEY_MAX + 1];
	uint8_t len;
};

enum { SC_PLKV, SC_HASH, SC_CPU, SC_N };
static const char *const sc_names[SC_N] = {
	"libplkv", "mutex hash", "cpu loop"
};

struct sc_ctx {
	const struct sc_key *keys;
	unsigned nkeys;
	plkv_t *kv;			/* the parent's */
	const char *seg;
	struct shmhash *h;
};

static struct sc_key *sc_make_keys(unsigned n)
{
	struct sc_key *k = calloc(n, sizeof(*k));
	unsigned i;

	for (i = 0; k && i < n; i++) {
		unsigned len = 16 + (i * 7u) % 25u;	/* 16..40 */
		int w = snprintf(k[i].s, sizeof(k[i].s), "scale:%u:", i);

		memset(k[i].s + w, 'k', len > (unsigned)w ? len - w : 0);
		k[i].len = (uint8_t)(len > (unsigned)w ? len : (unsigned)w);
		k[i].s[k[i].len] = '\0';
	}
	return k;
}

static int sc_op(int who, plkv_t *kv, struct shmhash *h,
		 const struct sc_key *k, bool set, char *buf)
{
	static char val[SC_VLEN];
	size_t vlen;

	if (who == SC_PLKV)
		return set ? plkv_set(kv, k->s, k->len, val, SC_VLEN, 0, 0) :
			     plkv_get(kv, k->s, k->len, buf, SC_VLEN, NULL);
	return set ? shmhash_set(h, k->s, k->len, val, SC_VLEN) :
		     shmhash_get(h, k->s, k->len, buf, SC_VLEN, &vlen);
}

/* p50, p99, p99.9 of n single ops on random keys, in ns less the timer. */
static void sc_latency(struct sc_ctx *c, int who, bool set, unsigned n,
		       double timer_ns, double q[3])
{
	static const double qs[3] = { 0.5, 0.99, 0.999 };
	uint64_t *s = malloc(n * sizeof(*s)), x = 0x9e3779b97f4a7c15ULL;
	char buf[SC_VLEN];
	unsigned i;

	if (!s) {
		q[0] = q[1] = q[2] = -1;
		return;
	}
	for (i = 0; i < n; i++) {
		const struct sc_key *k = &c->keys[xorshift(&x) % c->nkeys];
		uint64_t t0 = now_ns();

		sc_op(who, c->kv, c->h, k, set, buf);
		s[i] = now_ns() - t0;
	}
	qsort(s, n, sizeof(*s), cmp_u64);
	for (i = 0; i < 3; i++) {
		double v = quantile(s, n, qs[i]) - timer_ns;

		q[i] = v > 0 ? v : 0;
	}
	free(s);
}

/* What a process of a throughput run does: the 90/10 mix over every
 * key, or only gets of the first half, or only sets of the second. */
enum sc_role { SC_MIX, SC_READ, SC_WRITE };

/* One process of a throughput run: ops done in duration_ms. */
static uint64_t sc_mix(struct sc_ctx *c, int who, unsigned duration_ms,
		       uint64_t seed, enum sc_role role)
{
	unsigned half = c->nkeys / 2;
	uint64_t end = now_ns() + (uint64_t)duration_ms * 1000000u, ops = 0;
	uint64_t x = seed;
	char buf[SC_VLEN];
	plkv_t *kv = NULL;
	unsigned i;

	if (who == SC_PLKV) {
		struct plkv_options o;

		plkv_options_init(&o);
		if (plkv_open(c->seg, &o, &kv))
			return 0;
	}
	do {
		for (i = 0; i < 64; i++) {
			uint64_t r = xorshift(&x);

			if (who == SC_CPU)
				__asm__ volatile("" : : "r"(r));
			else if (role == SC_MIX)
				sc_op(who, kv, c->h,
				      &c->keys[(r >> 8) % c->nkeys],
				      (r & 0xff) % 10 == 0, buf);
			else
				sc_op(who, kv, c->h,
				      &c->keys[(r >> 8) % half +
					       (role == SC_WRITE ? half : 0)],
				      role == SC_WRITE, buf);
		}
		ops += 64;
	} while (now_ns() < end);
	if (kv)
		plkv_close(kv);
	return ops;
}

/* Ops per second of n processes with roles role[] running together (or
 * of the first alone). */
static double sc_run(struct sc_ctx *c, int who, unsigned n,
		     const enum sc_role *role, unsigned duration_ms,
		     bool first_only)
{
	int res[2][2];
	pid_t pid[2];
	uint64_t total = 0, ops;
	unsigned i;

	if (pipe(res[0]) || pipe(res[1]))
		return -1;
	for (i = 0; i < n; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			cleanup_in_child();
			ops = sc_mix(c, who, duration_ms, 0x1234567ULL * (i + 1),
				     role[i]);
			if (write(res[i][1], &ops, sizeof(ops)) != sizeof(ops))
				_exit(1);
			_exit(0);
		}
		if (pid[i] > 0)
			cleanup_child(pid[i]);
	}
	for (i = 0; i < n; i++) {
		if (pid[i] > 0 &&
		    read(res[i][0], &ops, sizeof(ops)) == sizeof(ops) &&
		    (!first_only || i == 0))
			total += ops;
		if (pid[i] > 0) {
			waitpid(pid[i], NULL, 0);
			cleanup_forget_child(pid[i]);
		}
	}
	for (i = 0; i < 2; i++) {
		close(res[i][0]);
		close(res[i][1]);
	}
	return total * 1e3 / duration_ms;
}

/* Ops per second of n processes running the 90/10 mix together. */
static double sc_throughput(struct sc_ctx *c, int who, unsigned n,
			    unsigned duration_ms)
{
	static const enum sc_role mix[2] = { SC_MIX, SC_MIX };

	return sc_run(c, who, n, mix, duration_ms, false);
}

/* A reader's get rate while another process sets other keys, over its
 * rate alone. */
static double sc_reader_beside_writer(struct sc_ctx *c, int who,
				      unsigned duration_ms)
{
	static const enum sc_role rw[2] = { SC_READ, SC_WRITE };
	double alone = sc_run(c, who, 1, rw, duration_ms, true);
	double beside = sc_run(c, who, 2, rw, duration_ms, true);

	return alone > 0 ? beside / alone : 0;
}

struct sc_slabs {
	uint64_t chunk[64], used[64], items;
};

static int sc_slabs_cb(void *arg, const char *name, const char *value)
{
	struct sc_slabs *s = arg;
	unsigned cls;
	char f[48];

	if (sscanf(name, "%u:%47s", &cls, f) == 2 && cls < 64) {
		if (!strcmp(f, "chunk_size"))
			s->chunk[cls] = strtoull(value, NULL, 10);
		else if (!strcmp(f, "used_chunks"))
			s->used[cls] = strtoull(value, NULL, 10);
	}
	return 0;
}

/* Bytes of slab chunks each item takes (what memcached's stats slabs
 * gives as used_chunks * chunk_size over curr_items). */
static double sc_bytes_per_item(plkv_t *kv, unsigned nkeys)
{
	struct sc_slabs s;
	uint64_t bytes = 0;
	unsigned i;

	memset(&s, 0, sizeof(s));
	if (plkv_stats(kv, "slabs", sc_slabs_cb, &s))
		return -1;
	for (i = 0; i < 64; i++)
		bytes += s.chunk[i] * s.used[i];
	return (double)bytes / nkeys;
}

/*
 * The first get of each of secs seconds: its mean and worst.  The thread
 * sleeps to 1 ms past each second first: the library reads its clock only
 * every 2^20 TSC cycles (core.h), so after a busy loop the first get of a
 * second by the wall clock may not be the one that sees the new second
 * and does the once-a-second work; after a sleep it is.
 */
static void sc_first_gets(struct sc_ctx *c, unsigned secs, const char *when)
{
	uint64_t worst = 0, sum = 0, t0, d;
	const struct sc_key *k = &c->keys[0];
	char buf[SC_VLEN];
	struct timespec at;
	unsigned i;

	for (i = 0; i < secs; i++) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec++;
		at.tv_nsec = 1000000;
		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL))
			;
		t0 = now_ns();
		plkv_get(c->kv, k->s, k->len, buf, sizeof(buf), NULL);
		d = now_ns() - t0;
		sum += d;
		worst = d > worst ? d : worst;
	}
	printf("    first get of each second, %s: mean %.0f ns, worst %.0f ns "
	       "(%u seconds)\n", when, (double)sum / secs, (double)worst,
	       secs);
}

/*
 * With 31 more processes attached (idle), the first get of each second
 * beside the median get: the user backend looks for dead processes once a
 * second, inside whichever call comes first.  Over secs seconds from the
 * moment they attached (the scanner meets them then: it opens a pidfd of
 * each, a few a second), and, unless quick, over secs more after
 * SC_SETTLE_S seconds, when it polls them all.
 */
#define SC_SETTLE_S	20

static void sc_first_of_second(struct sc_ctx *c, unsigned secs, bool quick)
{
	enum { IDLE = 31 };
	pid_t idle[IDLE];
	int ready[2];
	unsigned i;
	time_t start;
	char buf[SC_VLEN], b;

	if (pipe(ready))
		return;
	/* The control: a first get after a sleep, with no one to look at. */
	sc_first_gets(c, secs, "no other process");
	for (i = 0; i < IDLE; i++) {
		idle[i] = fork();
		if (idle[i] == 0) {
			struct plkv_options o;
			plkv_t *kv;

			cleanup_in_child();
			plkv_options_init(&o);
			if (plkv_open(c->seg, &o, &kv) == 0)
				plkv_get(kv, "x", 1, buf, sizeof(buf), NULL);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		if (idle[i] > 0)
			cleanup_child(idle[i]);
	}
	for (i = 0; i < IDLE; i++)
		if (idle[i] > 0 && read(ready[0], &b, 1) != 1)
			break;
	start = time(NULL);
	sc_first_gets(c, secs, "32 processes, just attached");
	if (!quick) {
		while (time(NULL) - start < SC_SETTLE_S)
			plkv_get(c->kv, "x", 1, buf, sizeof(buf), NULL);
		sc_first_gets(c, secs, "32 processes, after 20 s");
	}
	for (i = 0; i < IDLE; i++)
		if (idle[i] > 0) {
			kill(idle[i], SIGKILL);
			waitpid(idle[i], NULL, 0);
			cleanup_forget_child(idle[i]);
		}
	close(ready[0]);
	close(ready[1]);
}

/*
 * The ratios of section 5 move by a factor of two between runs on a
 * shared machine, more than any change they are meant to show: each is
 * taken within a round (both sides measured back to back), over several
 * rounds, and given as the median with the lowest and highest.
 */
#define SC_ROUNDS_MAX	9

struct sc_spread {
	double med, lo, hi;
};

/* v[0..n) (reordered) as a median and a range. */
static struct sc_spread sc_spread_of(double *v, unsigned n)
{
	struct sc_spread r = { .med = median_d(v, n) };

	r.lo = v[0];
	r.hi = v[n - 1];
	return r;
}

static void sc_print_spread(const char *fmt, struct sc_spread r,
			    unsigned rounds)
{
	printf(fmt, r.med);
	if (rounds > 1)
		printf(" (%.2f-%.2f)", r.lo, r.hi);
}

/* The 90/10 mix from 1 and 2 processes, for each target, rounds times:
 * the median rates, and the 2-over-1 ratio of each round. */
static void sc_mix_rounds(struct sc_ctx *c, unsigned rounds,
			  unsigned duration_ms)
{
	double tp[SC_N][2][SC_ROUNDS_MAX], ratio[SC_N][SC_ROUNDS_MAX];
	unsigned r, i;
	int who;

	for (r = 0; r < rounds; r++)
		for (who = 0; who < SC_N; who++) {
			for (i = 0; i < 2; i++)
				tp[who][i][r] = sc_throughput(c, who, i + 1,
							      duration_ms);
			ratio[who][r] = tp[who][0][r] > 0 ?
					tp[who][1][r] / tp[who][0][r] : 0;
		}
	printf("    90%% get / 10%% set, ops/s (median of %u round%s; "
	       "2 over 1 per round):\n", rounds, rounds == 1 ? "" : "s");
	for (who = 0; who < SC_N; who++) {
		printf("    %-11s 1 proc %10.0f   2 procs %10.0f   ",
		       sc_names[who], median_d(tp[who][0], rounds),
		       median_d(tp[who][1], rounds));
		sc_print_spread("%.2fx", sc_spread_of(ratio[who], rounds),
				rounds);
		printf("\n");
	}
}

/* A reader beside a writer, libplkv and the mutex table in turn. */
static void sc_reader_rounds(struct sc_ctx *c, unsigned rounds,
			     unsigned duration_ms)
{
	double v[2][SC_ROUNDS_MAX];
	unsigned r;

	for (r = 0; r < rounds; r++) {
		v[SC_PLKV][r] = sc_reader_beside_writer(c, SC_PLKV,
							duration_ms);
		v[SC_HASH][r] = sc_reader_beside_writer(c, SC_HASH,
							duration_ms);
	}
	printf("    a reader's get rate while another process sets other "
	       "keys, over alone: libplkv ");
	sc_print_spread("%.2fx", sc_spread_of(v[SC_PLKV], rounds), rounds);
	printf(", mutex hash ");
	sc_print_spread("%.2fx", sc_spread_of(v[SC_HASH], rounds), rounds);
	printf("\n");
}

static void sc_one(unsigned nkeys, bool quick, unsigned rounds,
		   unsigned duration_ms, double timer_ns)
{
	struct sc_ctx c = { .nkeys = nkeys };
	struct plkv_options o;
	double q[2][2][3];
	char seg[64];
	unsigned i, n = quick ? 5000 : 100000;
	int who, set, rc;

	c.keys = sc_make_keys(nkeys);
	c.h = shmhash_create(nkeys);
	snprintf(seg, sizeof(seg), "plkv-bench-%d-scale", (int)getpid());
	c.seg = seg;
	plkv_options_init(&o);
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	o.mem_limit = (uint64_t)nkeys * 512 + 64 * BENCH_MIB;
	rc = c.keys && c.h ? plkv_open(seg, &o, &c.kv) : -ENOMEM;
	if (rc) {
		printf("  %u keys: skipped (%s)\n", nkeys, plkv_strerror(rc));
		goto out;
	}
	cleanup_segment(seg);
	for (i = 0; i < nkeys; i++) {
		sc_op(SC_PLKV, c.kv, c.h, &c.keys[i], true, NULL);
		sc_op(SC_HASH, c.kv, c.h, &c.keys[i], true, NULL);
	}
	for (who = SC_PLKV; who <= SC_HASH; who++)
		for (set = 0; set < 2; set++)
			sc_latency(&c, who, set, n, timer_ns, q[who][set]);

	printf("  %u keys of 16-40 B, %u B values\n", nkeys, SC_VLEN);
	printf("    %-11s %-4s %9s %9s %9s   %s\n", "", "op", "p50 ns",
	       "p99 ns", "p99.9 ns", "p50 vs mutex hash");
	for (set = 0; set < 2; set++)
		for (who = SC_PLKV; who <= SC_HASH; who++)
			printf("    %-11s %-4s %9.0f %9.0f %9.0f   %.2fx\n",
			       sc_names[who], set ? "set" : "get",
			       q[who][set][0], q[who][set][1], q[who][set][2],
			       q[SC_HASH][set][0] > 0 ?
			       q[who][set][0] / q[SC_HASH][set][0] : 0);
	fflush(stdout);
	sc_mix_rounds(&c, rounds, duration_ms);
	sc_reader_rounds(&c, rounds, duration_ms);
	printf("    bytes of slab chunks per item: %.1f\n",
	       sc_bytes_per_item(c.kv, nkeys));
	if (nkeys == 10000)
		sc_first_of_second(&c, quick ? 2 : 5, quick);
	printf("\n");
	plkv_close(c.kv);
	plkv_destroy(seg, PLKV_BACKEND_AUTO);
	cleanup_forget_segment(seg);
out:
	shmhash_destroy(c.h);
	free((void *)c.keys);
}

/* One store's fill for sc_growth(): its time, and each set's in s. */
static int sc_fill(const char *seg, const struct sc_key *keys, unsigned n,
		   uint32_t hash_power, uint64_t *s, uint64_t *total)
{
	static const char val[SC_VLEN];
	struct plkv_options o;
	uint64_t t0, t;
	plkv_t *kv;
	unsigned i;
	int rc;

	plkv_options_init(&o);
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	o.mem_limit = (uint64_t)n * 512 + 64 * BENCH_MIB;
	if (hash_power)
		o.hash_power = hash_power;
	rc = plkv_open(seg, &o, &kv);
	if (rc)
		return rc;
	cleanup_segment(seg);
	t0 = now_ns();
	for (i = 0; i < n && !rc; i++) {
		t = now_ns();
		rc = plkv_set(kv, keys[i].s, keys[i].len, val, SC_VLEN, 0, 0);
		s[i] = now_ns() - t;
	}
	*total = now_ns() - t0;
	plkv_close(kv);
	plkv_destroy(seg, PLKV_BACKEND_AUTO);
	cleanup_forget_segment(seg);
	return rc;
}

/*
 * Sets of n new keys into a store whose table starts at 2^16 buckets and
 * grows as it fills (a step of the move with every call), and into one
 * created with room for them all: the ratio of the fills' times, and the
 * tails of single sets.  One set in a few thousand opens a new slab page
 * (carving it under the class's lock): that is the p99.99 and the worst.
 */
static void sc_growth(unsigned n, unsigned rounds, double timer_ns)
{
	static const double qs[3] = { 0.999, 0.9999, 1.0 };
	struct sc_key *keys = sc_make_keys(n);
	uint64_t *s = malloc((size_t)n * sizeof(*s)), total = 0;
	double fill[2][SC_ROUNDS_MAX], q[2][3][SC_ROUNDS_MAX];
	double ratio[SC_ROUNDS_MAX];
	uint32_t power = 16;
	char seg[64];
	unsigned r;
	int pre, i, rc = keys && s ? 0 : -ENOMEM;

	while ((1ull << power) * 3 / 2 < n)	/* the table's growth point */
		power++;
	snprintf(seg, sizeof(seg), "plkv-bench-%d-grow", (int)getpid());
	for (r = 0; r < rounds && !rc; r++) {
		for (pre = 0; pre < 2 && !rc; pre++) {
			rc = sc_fill(seg, keys, n, pre ? power : 0, s, &total);
			fill[pre][r] = total / 1e9;
			qsort(s, n, sizeof(*s), cmp_u64);
			for (i = 0; i < 3; i++)
				q[pre][i][r] = quantile(s, n, qs[i]) - timer_ns;
		}
		if (!rc)
			ratio[r] = fill[0][r] / fill[1][r];
	}
	if (rc) {
		printf("  sets while the table grows: skipped (%s)\n\n",
		       plkv_strerror(rc));
	} else {
		printf("  sets of %u new keys, table growing from 2^16 / "
		       "created at 2^%u (median of %u round%s):\n"
		       "    fill %.2f s / %.2f s, ", n, power, rounds,
		       rounds == 1 ? "" : "s", median_d(fill[0], rounds),
		       median_d(fill[1], rounds));
		sc_print_spread("%.2fx", sc_spread_of(ratio, rounds), rounds);
		printf(" per round; p99.9 %.0f / %.0f ns, p99.99 %.0f / %.0f "
		       "ns, worst %.0f / %.0f ns\n\n",
		       median_d(q[0][0], rounds), median_d(q[1][0], rounds),
		       median_d(q[0][1], rounds), median_d(q[1][1], rounds),
		       median_d(q[0][2], rounds), median_d(q[1][2], rounds));
	}
	free(s);
	free(keys);
}

/* Growth rounds cost about 40 s each at 10 M keys. */
#define SC_GROWTH_ROUNDS_MAX	3

void bench_scale(bool quick, unsigned reps, unsigned duration_ms,
		 double timer_ns)
{
	static const unsigned sizes[] = { 10000, 100000, 1000000 };
	unsigned i, rounds = quick || !reps ? 1 : reps;

	if (rounds > SC_ROUNDS_MAX)
		rounds = SC_ROUNDS_MAX;
	printf("5. At scale: libplkv beside a mutex-locked shared hash table "
	       "(256 stripes, XXH3)\n\n");
	for (i = 0; i < (quick ? 1 : 3); i++)
		sc_one(sizes[i], quick, rounds, duration_ms, timer_ns);
	sc_growth(quick ? 100000 : 10000000,
		  rounds < SC_GROWTH_ROUNDS_MAX ? rounds :
		  SC_GROWTH_ROUNDS_MAX, timer_ns);
}
