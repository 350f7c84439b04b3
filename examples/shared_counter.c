// SPDX-License-Identifier: MIT
/*
 * shared_counter: several processes share one plkv store.
 *
 * The parent creates a store and forks N workers.  Each worker opens the
 * store itself (a handle never crosses fork()), waits for the others, and
 * runs R rounds of:
 *
 *	incr  "counter"			the key every worker updates
 *	set   "w<i>:<r>"		a key only worker i writes
 *	get   "w<i>:<r>"		read back and compare; timed
 *	get   "w<peer>:<r>"		a key another process writes; may miss
 *
 * The parent then checks that counter == N * R (no lost increment) and
 * that all N * R keys hold their exact values (read back with plkv_mget,
 * many keys per library call), prints the plkv_get latency the workers
 * measured (median and p99), runs plkv_check(), prints the store's
 * statistics and destroys the store (unless --keep).
 *
 *	shared_counter [--segment NAME] [--workers N] [--rounds R] [--keep]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <plkv.h>

#define MAX_WORKERS 64
#define BATCH 100		/* keys per plkv_mget() in the parent's check */

/*
 * Memory shared with the parent, mapped before fork() (not the store: just
 * the demo's own bookkeeping).  The workers wait for each other at a start
 * line so that they really run at the same time.
 */
struct start_line {
	unsigned ready;		/* workers attached and waiting */
};

/* What a worker reports. */
struct result {
	pid_t pid;
	int failed;		/* 0, or the first error code */
	char what[64];		/* which call failed */
	uint64_t ops;
	uint64_t peer_hits;
	double start, end;	/* CLOCK_MONOTONIC, comparable across processes */
	uint32_t lat_ns[];	/* one per own-key get */
};

static const char *segment;
static unsigned nworkers = 2, rounds = 10000;
static bool keep;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* The checkable value of worker w's round r. */
static int make_value(char *buf, size_t cap, unsigned w, unsigned r)
{
	uint32_t h = (uint32_t)((w * 1000003u + r) * 2654435761u);

	return snprintf(buf, cap, "worker %u round %u check %08" PRIx32, w, r,
			h);
}

static int make_key(char *buf, size_t cap, unsigned w, unsigned r)
{
	return snprintf(buf, cap, "w%u:%u", w, r);
}

static size_t result_size(void)
{
	size_t each = sizeof(struct result) + rounds * sizeof(uint32_t);

	return (each + 63) & ~(size_t)63;
}

static struct start_line *start_line_of(void *shared)
{
	return shared;
}

static struct result *result_of(void *shared, unsigned w)
{
	return (struct result *)((char *)shared + 64 + w * result_size());
}

/* Wait until every worker has opened the store. */
static void wait_at_start(struct start_line *sl)
{
	__atomic_add_fetch(&sl->ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sl->ready, __ATOMIC_SEQ_CST) < nworkers)
		sched_yield();
}

static int fail(struct result *res, const char *what, int err)
{
	res->failed = err ? err : -EIO;
	snprintf(res->what, sizeof(res->what), "%s", what);
	return 1;
}

static int worker(unsigned w, struct start_line *sl, struct result *res)
{
	struct plkv_options opts;
	char key[32], val[64], got[64];
	unsigned peer = (w + 1) % nworkers, r;
	struct plkv_meta meta;
	uint64_t t0, n;
	plkv_t *kv;
	int err, len;

	res->pid = getpid();
	plkv_options_init(&opts);
	opts.flags = 0;				/* attach; never create */
	err = plkv_open(segment, &opts, &kv);	/* our own handle */
	if (err) {
		wait_at_start(sl);	/* don't leave the others waiting */
		return fail(res, "plkv_open", err);
	}

	wait_at_start(sl);
	res->start = now_s();
	for (r = 0; r < rounds; r++) {
		err = plkv_incr(kv, "counter", 7, 1, &n);
		if (err) {
			fail(res, "plkv_incr", err);
			break;
		}
		make_key(key, sizeof(key), w, r);
		len = make_value(val, sizeof(val), w, r);
		err = plkv_set(kv, key, strlen(key), val, len, w, 0);
		if (err) {
			fail(res, "plkv_set", err);
			break;
		}
		t0 = now_ns();
		err = plkv_get(kv, key, strlen(key), got, sizeof(got), &meta);
		res->lat_ns[r] = (uint32_t)(now_ns() - t0);
		if (err || meta.len != (size_t)len || memcmp(got, val, len)) {
			fail(res, "plkv_get of own key", err);
			break;
		}
		make_key(key, sizeof(key), peer, r);
		err = plkv_get(kv, key, strlen(key), got, sizeof(got), &meta);
		if (err == 0)
			res->peer_hits++;
		else if (err != PLKV_ENOTFOUND) {
			fail(res, "plkv_get of peer key", err);
			break;
		}
		res->ops += 4;
	}
	res->end = now_s();
	err = plkv_close(kv);
	if (err && !res->failed)
		fail(res, "plkv_close", err);
	return res->failed ? 1 : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted samples, in microseconds. */
static double quantile_us(const uint32_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return n ? v[i] / 1000.0 : 0;
}

/* What one clock_gettime() pair costs here, so the reader can judge. */
static double timer_overhead_us(void)
{
	uint32_t v[1001];
	uint64_t t0;
	int i;

	for (i = 0; i < 1001; i++) {
		t0 = now_ns();
		v[i] = (uint32_t)(now_ns() - t0);
	}
	qsort(v, 1001, sizeof(v[0]), cmp_u32);
	return v[500] / 1000.0;
}

static void print_latency(void *results, double timer_us)
{
	size_t n = 0, total = (size_t)nworkers * rounds;
	uint32_t *all = malloc(total * sizeof(*all));
	char sample[64];
	unsigned w;

	if (!all)
		return;
	for (w = 0; w < nworkers; w++) {
		memcpy(all + n, result_of(results, w)->lat_ns,
		       rounds * sizeof(*all));
		n += rounds;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	printf("\nplkv_get latency: %zu gets of %d-byte values, %u processes "
	       "running\n(each figure includes a clock_gettime pair, "
	       "%.3f µs):\n", n,
	       make_value(sample, sizeof(sample), 0, rounds / 2), nworkers,
	       timer_us);
	printf("  median %8.3f µs\n", quantile_us(all, n, 0.50));
	printf("  p90    %8.3f µs\n", quantile_us(all, n, 0.90));
	printf("  p99    %8.3f µs\n", quantile_us(all, n, 0.99));
	printf("  p99.9  %8.3f µs\n", quantile_us(all, n, 0.999));
	printf("  max    %8.3f µs\n", all[n - 1] / 1000.0);
	free(all);
}

/* Read every key back, BATCH keys per library call. */
static int verify_keys(plkv_t *kv, uint64_t *bad)
{
	struct plkv_mget_key keys[BATCH];
	char names[BATCH][32], want[64], buf[BATCH * 64];
	unsigned w, r, i, n;
	int err, len;

	*bad = 0;
	for (w = 0; w < nworkers; w++) {
		for (r = 0; r < rounds; r += n) {
			n = rounds - r < BATCH ? rounds - r : BATCH;
			for (i = 0; i < n; i++) {
				make_key(names[i], sizeof(names[i]), w, r + i);
				keys[i].key = names[i];
				keys[i].klen = strlen(names[i]);
			}
			err = plkv_mget(kv, keys, n, buf, sizeof(buf));
			if (err)
				return err;
			for (i = 0; i < n; i++) {
				len = make_value(want, sizeof(want), w, r + i);
				if (keys[i].rc ||
				    keys[i].meta.len != (size_t)len ||
				    keys[i].meta.flags != w ||
				    memcmp(buf + keys[i].off, want, len))
					(*bad)++;
			}
		}
	}
	return 0;
}

static void print_stats(plkv_t *kv)
{
	static const char *const names[] = {
		"curr_items", "total_items", "bytes", "cmd_get", "get_hits",
		"get_misses", "cmd_set", "incr_hits", "evictions",
		"hash_power_level",
	};
	uint64_t v;
	size_t i;

	printf("\nstore statistics:\n");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (plkv_stat_u64(kv, names[i], &v) == 0)
			printf("  %-17s %12" PRIu64 "\n", names[i], v);
		else
			printf("  %-17s %12s\n", names[i], "-");
	}
}

static const char *backend_name(int b)
{
	return b == PLKV_BACKEND_KMOD ? "kmod" :
	       b == PLKV_BACKEND_USER ? "user" : "?";
}

static int usage(void)
{
	fprintf(stderr, "usage: shared_counter [--segment NAME] "
		"[--workers N] [--rounds R] [--keep]\n");
	return 2;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "segment", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "rounds",  required_argument, NULL, 'r' },
		{ "keep",    no_argument,       NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	static char name[64];
	int opt;

	while ((opt = getopt_long(argc, argv, "s:w:r:k", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			segment = optarg;
			break;
		case 'w':
			nworkers = (unsigned)atoi(optarg);
			if (nworkers < 1 || nworkers > MAX_WORKERS)
				return usage();
			break;
		case 'r':
			rounds = (unsigned)atoi(optarg);
			if (rounds < 1 || rounds > 10000000)
				return usage();
			break;
		case 'k':
			keep = true;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	if (!segment) {
		snprintf(name, sizeof(name), "plkv-demo-%d", (int)getpid());
		segment = name;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t size;
	struct plkv_options opts;
	struct plkv_info info;
	pid_t pids[MAX_WORKERS];
	void *results;
	plkv_t *kv;
	uint64_t counter, bad, ops = 0;
	double first = 1e300, last = 0;
	struct plkv_meta meta;
	char val[32];
	unsigned w;
	int err, status, failed = 0;
	double timer_us;

	err = parse_args(argc, argv);
	if (err)
		return err;

	plkv_options_init(&opts);
	opts.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	err = plkv_open(segment, &opts, &kv);
	if (err) {
		fprintf(stderr, "shared_counter: %s: %s\n", segment,
			plkv_strerror(err));
		return 1;
	}
	err = plkv_info(kv, &info);
	if (err) {
		fprintf(stderr, "shared_counter: info: %s\n",
			plkv_strerror(err));
		goto out;
	}
	printf("store %s: %s backend, %.1f MiB, protection %s",
	       info.name, backend_name(info.backend),
	       info.size / 1048576.0, info.protected ? "on" : "off");
	if (info.protected)
		printf(" (pkey %d)", info.pkey);
	printf("\n%u worker processes x %u rounds of incr + set + get + "
	       "peer get\n\n", nworkers, rounds);

	err = plkv_set(kv, "counter", 7, "0", 1, 0, 0);
	if (err) {
		fprintf(stderr, "shared_counter: set counter: %s\n",
			plkv_strerror(err));
		goto out;
	}

	size = 64 + result_size() * nworkers;
	results = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED) {
		perror("shared_counter: mmap");
		err = 1;
		goto out;
	}

	timer_us = timer_overhead_us();
	fflush(stdout);
	for (w = 0; w < nworkers; w++) {
		pids[w] = fork();
		if (pids[w] < 0) {
			perror("shared_counter: fork");
			/* Release the started ones from the start line. */
			__atomic_add_fetch(&start_line_of(results)->ready,
					   nworkers - w, __ATOMIC_SEQ_CST);
			nworkers = w;
			failed = 1;
			break;
		}
		if (pids[w] == 0)	/* the child: kv is not ours to use */
			_exit(worker(w, start_line_of(results),
				     result_of(results, w)));
	}
	for (w = 0; w < nworkers; w++) {
		struct result *res = result_of(results, w);

		if (waitpid(pids[w], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			failed = 1;
			fprintf(stderr, "worker %u (pid %d) failed: %s%s%s\n",
				w + 1, (int)pids[w], res->what,
				res->failed ? ": " : "",
				res->failed ? plkv_strerror(res->failed) : "");
			continue;
		}
		ops += res->ops;
		if (res->start < first)
			first = res->start;
		if (res->end > last)
			last = res->end;
		printf("worker %u (pid %d): %" PRIu64 " ops in %.3f s, "
		       "%.0f ops/s; peer keys already there: %" PRIu64
		       " of %u\n", w + 1, (int)res->pid, res->ops,
		       res->end - res->start,
		       res->ops / (res->end - res->start), res->peer_hits,
		       rounds);
	}
	if (failed) {
		err = 1;
		goto out_unmap;
	}
	printf("together: %" PRIu64 " ops in %.3f s (first start to last "
	       "end), %.0f ops/s\n", ops, last - first, ops / (last - first));

	err = plkv_get(kv, "counter", 7, val, sizeof(val) - 1, &meta);
	if (err) {
		fprintf(stderr, "shared_counter: get counter: %s\n",
			plkv_strerror(err));
		goto out_unmap;
	}
	val[meta.len] = '\0';
	counter = strtoull(val, NULL, 10);
	printf("\ncounter: %" PRIu64 " (expected %u): %s\n", counter,
	       nworkers * rounds,
	       counter == (uint64_t)nworkers * rounds ? "ok" : "LOST UPDATES");
	if (counter != (uint64_t)nworkers * rounds)
		failed = 1;

	err = verify_keys(kv, &bad);
	if (err) {
		fprintf(stderr, "shared_counter: mget: %s\n",
			plkv_strerror(err));
		goto out_unmap;
	}
	printf("keys:    %u written, %" PRIu64 " missing or wrong: %s\n",
	       nworkers * rounds, bad, bad ? "FAILED" : "ok");
	if (bad)
		failed = 1;

	print_latency(results, timer_us);

	{
		char msg[512] = "";

		err = plkv_check(kv, msg, sizeof(msg));
		printf("\nplkv_check: %s%s%s\n", err ? plkv_strerror(err) :
		       "ok", *msg ? ": " : "", msg);
		if (err)
			failed = 1;
	}
	print_stats(kv);
	err = failed;

out_unmap:
	munmap(results, size);
out:
	plkv_close(kv);
	if (!keep) {
		int derr = plkv_destroy(segment, PLKV_BACKEND_AUTO);

		if (derr)
			fprintf(stderr, "shared_counter: destroy %s: %s\n",
				segment, plkv_strerror(derr));
		else
			printf("\ndestroyed %s\n", segment);
	}
	return err ? 1 : 0;
}
