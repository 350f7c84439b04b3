// SPDX-License-Identifier: MIT
/*
 * plkv-bench: what a library call saves over a socket round trip.
 *
 *	plkv-bench [--quick] [--ops N] [--reps N] [--duration MS]
 *		   [--pin same|split] [--json] [--callgrind]
 *		   [--memcached PATH] [--plkvd PATH]
 *
 * Documentation/bench.rst explains the figures and records some.
 *
 * In one run it measures, and reports as ratios to libplkv:
 *  1. get and set latency, one request at a time, 32 B and 1 KiB values:
 *     libplkv in-process calls on a fresh private store; memcached over a
 *     UNIX socket and over TCP loopback; plkvd over both;
 *  2. throughput of a 90/10 get/set mix on 10k keys with 1 and 2 client
 *     processes: libplkv (each process opens the store itself after
 *     fork), memcached and plkvd over UNIX sockets, and a CPU loop as the
 *     control for what a second process can get from the machine;
 *  3. the cost of the gate: a plkv_get that finds nothing against a plain
 *     function call, and (--callgrind) instructions per call.
 *
 * Method.  Every latency row is R runs of N operations after a warm-up;
 * each run gives a median, a mean and a 99th percentile of the
 * per-operation times, and the row reports the median of those.  Runs of the different
 * targets are interleaved (run 1 of every target, then run 2, ...), so a
 * slow spell of this shared 2-vCPU machine spreads over all of them
 * instead of landing on one.  Each operation is timed with two
 * CLOCK_MONOTONIC reads; the cost of an empty pair is measured first and
 * subtracted.  The gate rows time whole loops instead, since they are
 * near the resolution of a single timer read.
 *
 * It prints figures and never judges them.  Exit status: 0 when it ran,
 * 1 when libplkv or plkvd gave a wrong answer or failed, 2 for bad usage.
 * memcached missing or failing only leaves its rows out, with a note.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MIB		(1024u * 1024u)
#define LAT_KEYS	1000u
#define TP_KEYS		10000u
#define TP_VSIZE	32u
#define VAL_CAP		4096u

enum { OP_GET, OP_SET, NOPS };
static const char *const op_names[NOPS] = { "get", "set" };
static const size_t vsizes[] = { 32, 1024 };
#define NSIZES (sizeof(vsizes) / sizeof(vsizes[0]))

enum { T_LIB, T_MC_UNIX, T_MC_TCP, T_PD_UNIX, T_PD_TCP, NTARGETS };

enum tstate { T_SKIPPED, T_READY, T_FAILED };

struct lat {
	bool done;
	double med_ns, mean_ns, p99_ns;	/* median over runs */
	double min_med_ns, max_med_ns;	/* the spread of the runs' medians */
	double *run_med, *run_mean, *run_p99;	/* per run */
	unsigned runs;
};

struct tp {
	bool done;
	double ops_s;			/* median over runs */
	double *run;
	unsigned runs;
};

struct target {
	const char *name;
	bool lib;			/* else a socket to srv */
	bool product;			/* ours: an error is a failure */
	bool tp;			/* in the throughput table */
	bool control;			/* the CPU loop, no store at all */
	enum tstate state;
	char note[300];
	struct server srv;
	plkv_t *kv;
	struct mc_conn conn;
	struct lat lat[NOPS][NSIZES];
	struct tp tput[2];		/* 1 and 2 clients */
};

static struct target targets[NTARGETS] = {
	[T_LIB]     = { .name = "libplkv",        .lib = true, .product = true,
			.tp = true },
	[T_MC_UNIX] = { .name = "memcached/unix", .tp = true },
	[T_MC_TCP]  = { .name = "memcached/tcp" },
	[T_PD_UNIX] = { .name = "plkvd/unix",     .product = true, .tp = true },
	[T_PD_TCP]  = { .name = "plkvd/tcp",      .product = true },
};

/*
 * The control for the throughput table: a loop that only computes, run
 * by 1 and 2 processes like the clients.  Its scaling is what the machine
 * gives two busy processes (a VM's two vCPUs may share one core), the
 * ceiling for every other row's.
 */
static struct target control = {
	.name = "cpu loop", .tp = true, .control = true, .state = T_READY,
};

static struct {
	unsigned ops, reps, duration_ms, gate_iters, lat_keys, tp_keys;
	unsigned cg_ops;
	bool quick, json, callgrind;
	int pin;			/* PIN_* */
	const char *memcached, *plkvd;
	char self[PATH_MAX];
} cfg = {
	.ops = 20000, .reps = 5, .duration_ms = 1000,
};

/*
 * --pin: where a socket round trip runs decides its cost on a VM.  When
 * client and server threads share a vCPU, a request is two context
 * switches; when they are on different vCPUs, each one wakes the other's
 * halted vCPU with an interprocessor interrupt, which a hypervisor makes
 * several times dearer.  Unpinned, the scheduler mixes both.
 */
enum { PIN_NONE, PIN_SAME, PIN_SPLIT };
static cpu_set_t server_cpus;

static char seg_name[64];
static double timer_ns, timer_mean_ns;	/* an empty pair of reads */
static bool failed;
static char notes[16][400];
static unsigned nnotes;

/* Gate rows, ns per call. */
enum { G_PLAIN, G_VERSION, G_MISS, G_HIT, NGATE };
static const char *const gate_names[NGATE] = {
	"plain function call (same signature)",
	"libplkv call, no gate (plkv_version)",
	"plkv_get, missing key (gate + lookup)",
	"plkv_get, 32 B value",
};
static double gate_ns[NGATE];
static bool gate_done;

/* Callgrind rows, instructions per call. */
enum { CG_HIT, CG_HIT10, CG_MISS, CG_SET, NCG };
static const char *const cg_modes[NCG] = { "hit", "hit10", "miss", "set" };
static const char *const cg_names[NCG] = {
	"plkv_get, 32 B value", "plkv_get, 10 B keys, 32 B value",
	"plkv_get, missing key", "plkv_set, 32 B value",
};
static double cg_instr[NCG];
static bool cg_done;

static struct host {
	char cpu[128];
	long ncpu;
	bool pku;			/* CPU flags pku and ospke */
	char mc_version[64];
	double load;			/* 1-minute load average at start */
	int backend;
	int protected;
} host;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (nnotes == sizeof(notes) / sizeof(notes[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(notes[nnotes++], sizeof(notes[0]), fmt, ap);
	va_end(ap);
}

static void target_fail(struct target *t, const char *what, int rc)
{
	if (t->state == T_FAILED)
		return;
	t->state = T_FAILED;
	snprintf(t->note, sizeof(t->note), "%s: %s", what, plkv_strerror(rc));
	note("%s failed: %s", t->name, t->note);
	if (t->product)
		failed = true;
}

/* ---- keys and values ---- */

struct key {
	char s[32];
	size_t len;
};

static struct key *lat_keys[NSIZES];
static struct key *tp_keys;
static char value[VAL_CAP];

static struct key *make_keys(const char *prefix, unsigned n)
{
	struct key *k = calloc(n, sizeof(*k));
	unsigned i;

	if (!k) {
		perror("plkv-bench");
		exit(1);
	}
	for (i = 0; i < n; i++)
		k[i].len = (size_t)snprintf(k[i].s, sizeof(k[i].s),
					    "plkv-bench:%s:%06u", prefix, i);
	return k;
}

/* ---- one operation on any target ---- */

static int do_get(struct target *t, plkv_t *kv, struct mc_conn *c,
		  const struct key *k, size_t expect)
{
	char buf[VAL_CAP];
	struct plkv_meta m;
	size_t vlen = 0;
	int rc;

	if (t->lib) {
		rc = plkv_get(kv, k->s, k->len, buf, sizeof(buf), &m);
		vlen = m.len;
	} else {
		rc = mc_get(c, k->s, k->len, buf, sizeof(buf), &vlen);
	}
	if (rc == 0 && expect && vlen != expect)
		rc = -EPROTO;
	return rc;
}

static int do_set(struct target *t, plkv_t *kv, struct mc_conn *c,
		  const struct key *k, size_t vlen)
{
	if (t->lib)
		return plkv_set(kv, k->s, k->len, value, vlen, 0, 0);
	return mc_set(c, k->s, k->len, value, vlen);
}

/* ---- statistics ---- */

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median_d(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sorted samples -> the value at quantile q (nearest rank). */
double quantile(const uint64_t *s, unsigned n, double q)
{
	unsigned i = (unsigned)(q * n);

	return (double)s[i < n ? i : n - 1];
}

static void measure_timer(void)
{
	unsigned i, n = cfg.quick ? 10000 : 200000;
	uint64_t *s = malloc(n * sizeof(*s)), sum = 0;

	if (!s)
		return;
	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		s[i] = now_ns() - t0;
	}
	qsort(s, n, sizeof(*s), cmp_u64);
	timer_ns = quantile(s, n, 0.5);
	/* Without the top 1%: a preempted pair of reads (a loaded machine)
	 * would make the cost subtracted from every mean larger than most
	 * samples, and the means negative. */
	for (i = 0; i < n - n / 100; i++)
		sum += s[i];
	timer_mean_ns = (double)sum / (n - n / 100);
	free(s);
}

/* ---- 1. latency ---- */

static void lat_alloc(void)
{
	unsigned t, o, z;

	for (t = 0; t < NTARGETS; t++)
		for (o = 0; o < NOPS; o++)
			for (z = 0; z < NSIZES; z++) {
				struct lat *l = &targets[t].lat[o][z];

				l->run_med = calloc(cfg.reps, sizeof(double));
				l->run_mean = calloc(cfg.reps, sizeof(double));
				l->run_p99 = calloc(cfg.reps, sizeof(double));
				if (!l->run_med || !l->run_mean || !l->run_p99) {
					perror("plkv-bench");
					exit(1);
				}
			}
}

static void warm_up(struct target *t)
{
	unsigned z, i, n = cfg.ops / 4 > cfg.lat_keys ? cfg.ops / 4 :
						       cfg.lat_keys;
	int rc;

	for (z = 0; z < NSIZES && t->state == T_READY; z++) {
		for (i = 0; i < cfg.lat_keys; i++) {
			rc = do_set(t, t->kv, &t->conn, &lat_keys[z][i],
				    vsizes[z]);
			if (rc) {
				target_fail(t, "set (warm-up)", rc);
				return;
			}
		}
		for (i = 0; i < n; i++) {
			rc = do_get(t, t->kv, &t->conn,
				    &lat_keys[z][i % cfg.lat_keys], vsizes[z]);
			if (rc) {
				target_fail(t, "get (warm-up)", rc);
				return;
			}
		}
	}
}

static void lat_run(struct target *t, int op, unsigned z, uint64_t *s)
{
	struct lat *l = &t->lat[op][z];
	unsigned i, n = cfg.ops;
	uint64_t sum = 0;
	int rc;

	for (i = 0; i < n; i++) {
		const struct key *k = &lat_keys[z][i % cfg.lat_keys];
		uint64_t t0 = now_ns();

		if (op == OP_GET)
			rc = do_get(t, t->kv, &t->conn, k, vsizes[z]);
		else
			rc = do_set(t, t->kv, &t->conn, k, vsizes[z]);
		s[i] = now_ns() - t0;
		if (rc) {
			target_fail(t, op_names[op], rc);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		sum += s[i];
		s[i] = s[i] > timer_ns ? s[i] - (uint64_t)timer_ns : 0;
	}
	qsort(s, n, sizeof(*s), cmp_u64);
	/* The clock ticks in ~10 ns steps on some VMs: the mean of many
	 * samples is finer than any one of them (or their median). */
	l->run_mean[l->runs] = (double)sum / n > timer_mean_ns ?
			       (double)sum / n - timer_mean_ns : 0;
	l->run_med[l->runs] = quantile(s, n, 0.5);
	l->run_p99[l->runs] = quantile(s, n, 0.99);
	l->runs++;
}

static void bench_latency(void)
{
	uint64_t *s = malloc(cfg.ops * sizeof(*s));
	unsigned r, t, z;
	int op;

	if (!s) {
		perror("plkv-bench");
		exit(1);
	}
	lat_alloc();
	for (t = 0; t < NTARGETS; t++)
		if (targets[t].state == T_READY)
			warm_up(&targets[t]);
	for (r = 0; r < cfg.reps; r++)
		for (t = 0; t < NTARGETS; t++)
			for (z = 0; z < NSIZES; z++)
				for (op = OP_SET; op >= OP_GET; op--)
					if (targets[t].state == T_READY)
						lat_run(&targets[t], op, z, s);
	for (t = 0; t < NTARGETS; t++)
		for (op = 0; op < NOPS; op++)
			for (z = 0; z < NSIZES; z++) {
				struct lat *l = &targets[t].lat[op][z];

				if (targets[t].state != T_READY || !l->runs)
					continue;
				l->med_ns = median_d(l->run_med, l->runs);
				l->min_med_ns = l->run_med[0];	/* sorted */
				l->max_med_ns = l->run_med[l->runs - 1];
				l->mean_ns = median_d(l->run_mean, l->runs);
				l->p99_ns = median_d(l->run_p99, l->runs);
				l->done = true;
			}
	free(s);
}

/* ---- 2. throughput ---- */

struct tp_msg {
	uint64_t ops, ns;
	int err;
};

static void write_full(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static size_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* A client process: open its own handle or connection, wait for the
 * start, then run the mix for the duration. */
static void __attribute__((noreturn))
tp_worker(struct target *t, int ready_fd, int go_fd, int res_fd,
	  uint64_t seed)
{
	struct tp_msg msg = { 0 };
	struct plkv_options o;
	struct mc_conn *c = NULL;
	plkv_t *kv = NULL;
	uint64_t t0, end, x = seed;
	char b;
	int rc;

	if (t->control) {
		rc = 0;
	} else if (t->lib) {
		plkv_options_init(&o);
		rc = plkv_open(seg_name, &o, &kv);
	} else {
		c = malloc(sizeof(*c));
		rc = c ? mc_connect(c, t->srv.sock, 0) : -ENOMEM;
	}
	write_full(ready_fd, "r", 1);
	if (read(go_fd, &b, 1) < 0)
		rc = rc ? rc : -errno;
	t0 = now_ns();
	end = t0 + (uint64_t)cfg.duration_ms * 1000000u;
	while (!rc && t->control) {
		for (unsigned i = 0; i < 1024; i++) {
			uint64_t r = xorshift(&x);

			__asm__ volatile("" : : "r"(r));
		}
		msg.ops += 1024;
		if (now_ns() >= end)
			break;
	}
	while (!rc && !t->control) {
		unsigned i;

		for (i = 0; i < 32 && !rc; i++) {
			uint64_t r = xorshift(&x);
			const struct key *k = &tp_keys[(r >> 8) % cfg.tp_keys];

			if ((r & 0xff) % 10 == 0)
				rc = do_set(t, kv, c, k, TP_VSIZE);
			else
				rc = do_get(t, kv, c, k, 0);
			if (rc == PLKV_ENOTFOUND)
				rc = 0;
			msg.ops += !rc;
		}
		if (now_ns() >= end)
			break;
	}
	msg.ns = now_ns() - t0;
	msg.err = rc;
	write_full(res_fd, &msg, sizeof(msg));
	if (kv)
		plkv_close(kv);
	if (c)
		mc_close(c);
	_exit(0);
}

/* One run with n client processes; the sum of their rates, or < 0. */
static double tp_run(struct target *t, unsigned n)
{
	int ready[2], go[2], res[2];
	pid_t pids[2] = { 0, 0 };
	double rate = 0;
	unsigned i;
	char b[2];
	int err = 0;

	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC) ||
	    pipe2(res, O_CLOEXEC)) {
		target_fail(t, "pipe", -errno);
		return -1;
	}
	fflush(NULL);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			cleanup_in_child();
			close(ready[0]);
			close(go[1]);
			close(res[0]);
			tp_worker(t, ready[1], go[0], res[1],
				  0x9e3779b97f4a7c15ull * (i + 1) + now_ns());
		}
		if (pids[i] < 0) {
			err = -errno;
			pids[i] = 0;
			break;
		}
		cleanup_child(pids[i]);
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	/* Wait until every client has opened, then start them at once. */
	read_full(ready[0], b, i);
	close(go[1]);
	for (unsigned j = 0; j < i; j++) {
		struct tp_msg m;

		if (read_full(res[0], &m, sizeof(m)) != sizeof(m)) {
			err = err ? err : -ECHILD;
			break;
		}
		if (m.err)
			err = m.err;
		else if (m.ns)
			rate += (double)m.ops * 1e9 / (double)m.ns;
	}
	close(ready[0]);
	close(res[0]);
	for (i = 0; i < n; i++)
		if (pids[i]) {
			waitpid(pids[i], NULL, 0);
			cleanup_forget_child(pids[i]);
		}
	if (err) {
		target_fail(t, "throughput client", err);
		return -1;
	}
	return rate;
}

static void bench_throughput(void)
{
	struct target *list[] = {
		&control, &targets[T_LIB], &targets[T_MC_UNIX],
		&targets[T_PD_UNIX],
	};
	const unsigned nlist = sizeof(list) / sizeof(list[0]);
	unsigned t, r, n, i;
	int rc;

	for (t = 0; t < nlist; t++) {
		struct target *tg = list[t];

		if (tg->state != T_READY)
			continue;
		for (n = 0; n < 2; n++) {
			tg->tput[n].run = calloc(cfg.reps, sizeof(double));
			if (!tg->tput[n].run) {
				perror("plkv-bench");
				exit(1);
			}
		}
		for (i = 0; !tg->control && i < cfg.tp_keys &&
			    tg->state == T_READY; i++) {
			rc = do_set(tg, tg->kv, &tg->conn, &tp_keys[i],
				    TP_VSIZE);
			if (rc)
				target_fail(tg, "set (throughput keys)", rc);
		}
	}
	for (r = 0; r < cfg.reps; r++)
		for (t = 0; t < nlist; t++)
			for (n = 0; n < 2; n++) {
				struct target *tg = list[t];
				double v;

				if (tg->state != T_READY)
					continue;
				v = tp_run(tg, n + 1);
				if (v >= 0)
					tg->tput[n].run[tg->tput[n].runs++] = v;
			}
	for (t = 0; t < nlist; t++)
		for (n = 0; n < 2; n++) {
			struct tp *p = &list[t]->tput[n];

			if (list[t]->state == T_READY && p->runs) {
				p->ops_s = median_d(p->run, p->runs);
				p->done = true;
			}
		}
}

/* ---- 3. the gate ---- */

typedef int (*get_fn)(plkv_t *kv, const char *key, size_t klen,
		      void *buf, size_t cap, struct plkv_meta *meta);

/* The baseline: a call with plkv_get's signature that does nothing. */
static __attribute__((noinline)) int
plain_get(plkv_t *kv, const char *key, size_t klen, void *buf, size_t cap,
	  struct plkv_meta *meta)
{
	__asm__ volatile("" : : "r"(kv), "r"(key), "r"(klen), "r"(buf),
			 "r"(cap), "r"(meta) : "memory");
	return PLKV_ENOTFOUND;
}

/* Called through volatile pointers so neither call can be inlined or
 * hoisted: both rows pay the same indirect call. */
static get_fn volatile gate_fns[] = { plain_get, plkv_get };

static double time_loop(int which, plkv_t *kv, const struct key *k)
{
	unsigned i, n = cfg.gate_iters;
	int expect = which == G_HIT ? 0 : PLKV_ENOTFOUND;
	char buf[64];
	uint64_t t0;
	int rc = 0;

	t0 = now_ns();
	switch (which) {
	case G_VERSION:
		for (i = 0; i < n; i++) {
			const char *v = plkv_version();

			__asm__ volatile("" : : "r"(v) : "memory");
		}
		break;
	default:
		for (i = 0; i < n; i++) {
			get_fn f = gate_fns[which == G_PLAIN ? 0 : 1];

			rc |= f(kv, k->s, k->len, buf, sizeof(buf), NULL) !=
			      expect;
		}
	}
	if (rc)
		return -1;
	return (double)(now_ns() - t0) / n;
}

/*
 * memcslap (Debian's libmemcached-tools), the load memcached's users
 * know: the same run on memcached's and plkvd's UNIX sockets, alternating,
 * the best of the repetitions each.  The ratio says whether plkvd keeps up
 * with memcached as a server; the seconds alone mean little on a VM.
 */
static struct {
	bool done;
	unsigned execute;		/* memcslap --execute-number */
	double secs[2];			/* memcached, plkvd */
} slap;

static double slap_run(const char *sock)
{
	char servers[160], execute[48];
	char *argv[] = { "memcslap", servers, "--concurrency=2", execute,
			 NULL };
	uint64_t t0 = now_ns();
	pid_t pid;
	int st, fd;

	snprintf(servers, sizeof(servers), "--servers=%s", sock);
	snprintf(execute, sizeof(execute), "--execute-number=%u",
		 slap.execute);
	pid = fork();
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	cleanup_child(pid);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	cleanup_forget_child(pid);
	return (double)(now_ns() - t0) / 1e9;
}

static void bench_memcslap(void)
{
	const struct target *t[2] = { &targets[T_MC_UNIX],
				      &targets[T_PD_UNIX] };
	double best[2] = { 0, 0 }, secs;
	unsigned r, i;

	if (t[0]->state != T_READY || t[1]->state != T_READY)
		return;
	slap.execute = cfg.quick ? 2000 : 50000;
	for (r = 0; r < cfg.reps; r++)
		for (i = 0; i < 2; i++) {
			secs = slap_run(t[i]->srv.sock);
			if (secs < 0) {
				note("memcslap on %s failed (is libmemcached-"
				     "tools installed?): memcslap row skipped",
				     t[i]->name);
				return;
			}
			if (best[i] == 0 || secs < best[i])
				best[i] = secs;
		}
	slap.secs[0] = best[0];
	slap.secs[1] = best[1];
	slap.done = true;
}

static void bench_gate(void)
{
	struct target *t = &targets[T_LIB];
	static const struct key miss = {
		"plkv-bench:absent", sizeof("plkv-bench:absent") - 1
	};
	double *runs[NGATE];
	unsigned r, g;
	bool bad = false;

	if (t->state != T_READY)
		return;
	for (g = 0; g < NGATE; g++) {
		runs[g] = calloc(cfg.reps, sizeof(double));
		if (!runs[g]) {
			perror("plkv-bench");
			exit(1);
		}
	}
	for (g = 0; g < NGATE; g++)	/* warm-up */
		time_loop((int)g, t->kv, g == G_HIT ? &lat_keys[0][0] : &miss);
	for (r = 0; r < cfg.reps; r++)
		for (g = 0; g < NGATE; g++) {
			runs[g][r] = time_loop((int)g, t->kv, g == G_HIT ?
					       &lat_keys[0][0] : &miss);
			bad |= runs[g][r] < 0;
		}
	if (bad) {
		target_fail(t, "gate loop: unexpected plkv_get result", -EPROTO);
	} else {
		for (g = 0; g < NGATE; g++)
			gate_ns[g] = median_d(runs[g], cfg.reps);
		gate_done = true;
	}
	for (g = 0; g < NGATE; g++)
		free(runs[g]);
}

/* ---- 3b. instructions per call, under callgrind ---- */

/* Runs inside valgrind: its own store, only the measured function's
 * instructions counted (--toggle-collect). */
static int callgrind_worker(const char *mode)
{
	struct plkv_options o;
	char buf[64], name[64];
	struct key *keys = lat_keys[0];
	plkv_t *kv;
	unsigned i, n = cfg.cg_ops;
	bool hit;
	int rc, m;

	for (m = 0; m < NCG && strcmp(mode, cg_modes[m]); m++)
		;
	if (m == NCG)
		return 2;
	hit = m == CG_HIT || m == CG_HIT10;
	if (m == CG_HIT10) {
		keys = calloc(cfg.lat_keys, sizeof(*keys));
		if (!keys)
			return 1;
		for (i = 0; i < cfg.lat_keys; i++)
			keys[i].len = (size_t)snprintf(keys[i].s,
						       sizeof(keys[i].s),
						       "k%09u", i);
	}
	snprintf(name, sizeof(name), "plkv-bench-%d-cg", (int)getpid());
	plkv_options_init(&o);
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	o.mem_limit = 64 * MIB;
	rc = plkv_open(name, &o, &kv);
	if (rc) {
		fprintf(stderr, "plkv_open %s: %s\n", name, plkv_strerror(rc));
		return 1;
	}
	cleanup_segment(name);
	for (i = 0; hit && i < cfg.lat_keys; i++)
		plkv_set(kv, keys[i].s, keys[i].len, value, 32, 0, 0);
	for (i = 0; i < n; i++) {
		const struct key *k = &keys[i % cfg.lat_keys];

		if (m == CG_SET)
			rc = plkv_set(kv, k->s, k->len, value, 32, 0, 0);
		else
			rc = plkv_get(kv, hit ? k->s : "absent",
				      hit ? k->len : 6, buf, sizeof(buf), NULL);
		if (rc != (m == CG_MISS ? PLKV_ENOTFOUND : 0))
			break;
	}
	plkv_close(kv);
	if (keys != lat_keys[0])
		free(keys);
	return i == n ? 0 : 1;
}

static bool in_path(const char *prog, char *out, size_t n)
{
	const char *path = getenv("PATH");

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		int w = len ? snprintf(out, n, "%.*s/%s", (int)len, path, prog) :
			      snprintf(out, n, "./%s", prog);

		if (w > 0 && (size_t)w < n && access(out, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/* Total instructions in a callgrind output file, or -1. */
static double cg_totals(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[256];
	double v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "totals:", 7) ||
		    (v < 0 && !strncmp(line, "summary:", 8)))
			v = strtod(strchr(line, ':') + 1, NULL);
	fclose(f);
	return v;
}

static void bench_callgrind(void)
{
	char vg[PATH_MAX], out[128], log[128], ops[16], tog[64];
	char oarg[160], larg[160], seg[64];
	unsigned m;

	if (!in_path("valgrind", vg, sizeof(vg))) {
		note("--callgrind: valgrind is not installed; skipped");
		return;
	}
	snprintf(ops, sizeof(ops), "%u", cfg.cg_ops);
	for (m = 0; m < NCG; m++) {
		char *argv[] = {
			vg, "--tool=callgrind", tog, oarg, larg, cfg.self,
			"--callgrind-worker", (char *)cg_modes[m],
			"--ops", ops, NULL,
		};
		int status;
		pid_t pid;

		snprintf(out, sizeof(out), "/tmp/plkv-bench-%d-cg-%s.out",
			 (int)getpid(), cg_modes[m]);
		snprintf(log, sizeof(log), "/tmp/plkv-bench-%d-cg-%s.log",
			 (int)getpid(), cg_modes[m]);
		snprintf(oarg, sizeof(oarg), "--callgrind-out-file=%s", out);
		snprintf(larg, sizeof(larg), "--log-file=%s", log);
		snprintf(tog, sizeof(tog), "--toggle-collect=%s",
			 m == CG_SET ? "plkv_set" : "plkv_get");
		cleanup_file(out);
		cleanup_file(log);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			cleanup_in_child();
			if (!freopen("/dev/null", "w", stdout))
				_exit(127);
			execv(vg, argv);
			_exit(127);
		}
		if (pid < 0) {
			note("--callgrind: fork: %s", strerror(errno));
			return;
		}
		cleanup_child(pid);
		snprintf(seg, sizeof(seg), "plkv-bench-%d-cg", (int)pid);
		cleanup_segment(seg);
		waitpid(pid, &status, 0);
		cleanup_forget_child(pid);
		cleanup_forget_segment(seg);
		cg_instr[m] = cg_totals(out) / cfg.cg_ops;
		unlink(out);
		unlink(log);
		if (!WIFEXITED(status) || WEXITSTATUS(status) ||
		    cg_instr[m] <= 0) {
			note("--callgrind: the %s run failed (status %#x)",
			     cg_modes[m], status);
			return;
		}
	}
	cg_done = true;
}

/* ---- setup ---- */

static void host_info(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool pku = false, ospke = false;

	snprintf(host.cpu, sizeof(host.cpu), "unknown CPU");
	host.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			char *p = strchr(line, ':') + 1;

			p += strspn(p, " \t");
			p[strcspn(p, "\n")] = '\0';
			snprintf(host.cpu, sizeof(host.cpu), "%s", p);
		}
		if (!strncmp(line, "flags", 5)) {
			pku = strstr(line, " pku") != NULL;
			ospke = strstr(line, " ospke") != NULL;
		}
	}
	if (f)
		fclose(f);
	host.pku = pku && ospke;
	f = fopen("/proc/loadavg", "r");
	if (!f || fscanf(f, "%lf", &host.load) != 1)
		host.load = -1;
	if (f)
		fclose(f);
}

static void mc_version(const char *path)
{
	char cmd[PATH_MAX + 16];
	FILE *p;

	if (strchr(path, '\''))
		return;
	snprintf(cmd, sizeof(cmd), "'%s' -V 2>&1", path);
	p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(host.mc_version, sizeof(host.mc_version), p))
		host.mc_version[strcspn(host.mc_version, "\n")] = '\0';
	pclose(p);
}

static void open_lib(void)
{
	struct target *t = &targets[T_LIB];
	struct plkv_options o;
	struct plkv_info info;
	int rc;

	snprintf(seg_name, sizeof(seg_name), "plkv-bench-%d", (int)getpid());
	plkv_options_init(&o);
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	o.mem_limit = 64 * MIB;			/* as memcached -m 64 */
	rc = plkv_open(seg_name, &o, &t->kv);
	if (rc == -EEXIST) {			/* a stale one, same pid */
		plkv_destroy(seg_name, PLKV_BACKEND_AUTO);
		rc = plkv_open(seg_name, &o, &t->kv);
	}
	if (rc) {
		fprintf(stderr, "plkv-bench: plkv_open %s: %s\n", seg_name,
			plkv_strerror(rc));
		exit(1);
	}
	cleanup_segment(seg_name);
	t->state = T_READY;
	host.backend = -1;
	if (plkv_info(t->kv, &info) == 0) {
		host.backend = info.backend;
		host.protected = info.protected;
	}
}

static void start_socket_target(struct target *t, const char *prog,
				bool unix_sock, const char *segment)
{
	char *argv[24], port[16], err[280];
	unsigned n = 0;
	int p, rc;

	t->srv.label = t->name;
	t->srv.cpus = cfg.pin ? &server_cpus : NULL;
	if (unix_sock) {
		snprintf(t->srv.sock, sizeof(t->srv.sock),
			 "/tmp/plkv-bench-%d-%s.sock", (int)getpid(),
			 segment ? "plkvd" : "memcached");
	} else {
		p = free_port();
		if (p < 0) {
			snprintf(t->note, sizeof(t->note), "no free port: %s",
				 strerror(-p));
			return;
		}
		t->srv.port = p;
	}
	snprintf(port, sizeof(port), "%d", t->srv.port);
	argv[n++] = (char *)prog;
	if (unix_sock) {
		argv[n++] = "-s";
		argv[n++] = t->srv.sock;
	} else {
		argv[n++] = "-p";
		argv[n++] = port;
		argv[n++] = "-l";
		argv[n++] = "127.0.0.1";
	}
	argv[n++] = "-m";
	argv[n++] = "64";
	argv[n++] = "-t";
	argv[n++] = "4";
	if (segment) {
		snprintf(t->srv.segment, sizeof(t->srv.segment), "%s",
			 segment);
		plkv_destroy(segment, PLKV_BACKEND_AUTO);	/* stale */
		argv[n++] = "--segment";
		argv[n++] = t->srv.segment;
	} else {
		argv[n++] = "-U";
		argv[n++] = "0";
		if (geteuid() == 0) {	/* memcached refuses root without -u */
			argv[n++] = "-u";
			argv[n++] = "root";
		}
	}
	argv[n] = NULL;
	if (server_start(&t->srv, argv, err, sizeof(err)) < 0) {
		snprintf(t->note, sizeof(t->note), "%s", err);
		note("%s: not measured: %s", t->name, err);
		if (t->product)
			failed = true;
		t->state = T_FAILED;
		return;
	}
	rc = mc_connect(&t->conn, unix_sock ? t->srv.sock : NULL, t->srv.port);
	if (rc) {
		target_fail(t, "connect", rc);
		return;
	}
	t->state = T_READY;
}

static void find_servers(void)
{
	static char mc[PATH_MAX], pd[PATH_MAX];
	char seg[64];
	int i;

	if (!cfg.memcached)
		cfg.memcached = getenv("MEMCACHED");
	if (!cfg.memcached && in_path("memcached", mc, sizeof(mc)))
		cfg.memcached = mc;
	if (!cfg.plkvd)
		cfg.plkvd = getenv("PLKVD");
	if (!cfg.plkvd) {
		char *slash;

		snprintf(pd, sizeof(pd), "%s", cfg.self);
		slash = strrchr(pd, '/');
		if (slash)
			*slash = '\0';
		if (strlen(pd) + 20 < sizeof(pd))
			strcat(pd, "/../../tools/plkvd");
		cfg.plkvd = pd;
	}

	if (!cfg.memcached || access(cfg.memcached, X_OK)) {
		for (i = T_MC_UNIX; i <= T_MC_TCP; i++)
			snprintf(targets[i].note, sizeof(targets[i].note),
				 "memcached not installed");
		note("memcached not found (set MEMCACHED=PATH): its rows are skipped");
	} else {
		mc_version(cfg.memcached);
		start_socket_target(&targets[T_MC_UNIX], cfg.memcached, true,
				    NULL);
		start_socket_target(&targets[T_MC_TCP], cfg.memcached, false,
				    NULL);
	}
	if (access(cfg.plkvd, X_OK)) {
		for (i = T_PD_UNIX; i <= T_PD_TCP; i++)
			snprintf(targets[i].note, sizeof(targets[i].note),
				 "plkvd not built");
		note("%s not built: plkvd rows skipped", cfg.plkvd);
	} else {
		snprintf(seg, sizeof(seg), "plkv-bench-%d-du", (int)getpid());
		start_socket_target(&targets[T_PD_UNIX], cfg.plkvd, true, seg);
		snprintf(seg, sizeof(seg), "plkv-bench-%d-dt", (int)getpid());
		start_socket_target(&targets[T_PD_TCP], cfg.plkvd, false, seg);
	}
}

/* ---- report ---- */

static const char *backend_name(int b)
{
	return b == PLKV_BACKEND_KMOD ? "kmod" :
	       b == PLKV_BACKEND_USER ? "user" : "unknown";
}

static const char *protection(void)
{
	if (host.protected)
		return "on (PKU)";
	return host.pku ? "off (PKU present, not used)" :
			  "off (no PKU on this CPU)";
}

/* "312x" or "1.8x": a ratio readable at a glance. */
static const char *ratio(char *buf, size_t n, double r)
{
	snprintf(buf, n, r >= 9.95 ? "%.0fx" : "%.1fx", r);
	return buf;
}

static void fmt_size(char *buf, size_t n, size_t v)
{
	if (v >= 1024 && v % 1024 == 0)
		snprintf(buf, n, "%zu KiB", v / 1024);
	else
		snprintf(buf, n, "%zu B", v);
}

static void fmt_rate(char *buf, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(buf, n, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, n, "%.1fk", v / 1e3);
	else
		snprintf(buf, n, "%.0f", v);
}

static void print_skipped(const struct target *tg)
{
	printf("  %-15s %s%s\n", tg->name,
	       tg->state == T_FAILED ? "FAILED: " : "skipped: ",
	       tg->note[0] ? tg->note : "not available");
}

/* "8.1-39.2": the lowest and highest of the runs' medians, in µs. */
static void fmt_spread(char *buf, size_t n, const struct lat *l)
{
	int prec = l->max_med_ns < 10e3 ? 3 : 1;

	if (l->runs < 2)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.*f-%.*f", prec, l->min_med_ns / 1e3, prec,
			 l->max_med_ns / 1e3);
}

static void report_latency(void)
{
	const struct target *lib = &targets[T_LIB];
	char a[32], b[32], c[40];
	unsigned t, z;
	int op;

	printf("1. Latency, one request at a time (microseconds)\n\n");
	printf("  %-15s %-4s %-6s %8s %8s %8s  %-15s %14s\n", "target", "op",
	       "value", "median", "mean", "p99", "runs' medians",
	       "median/libplkv");
	for (t = 0; t < NTARGETS; t++) {
		const struct target *tg = &targets[t];

		if (tg->state != T_READY) {
			print_skipped(tg);
			continue;
		}
		for (z = 0; z < NSIZES; z++)
			for (op = 0; op < NOPS; op++) {
				const struct lat *l = &tg->lat[op][z];
				const struct lat *r = &lib->lat[op][z];

				fmt_size(a, sizeof(a), vsizes[z]);
				fmt_spread(c, sizeof(c), l);
				printf("  %-15s %-4s %-6s %8.3f %8.3f %8.3f  %-15s ",
				       tg->name, op_names[op], a,
				       l->med_ns / 1e3, l->mean_ns / 1e3,
				       l->p99_ns / 1e3, c);
				if (t == T_LIB)
					printf("%14s\n", "1x");
				else if (r->done && r->med_ns > 0)
					printf("%14s\n",
					       ratio(b, sizeof(b),
						     l->med_ns / r->med_ns));
				else
					printf("%14s\n", "-");
			}
	}
	if (!lib->lat[OP_GET][0].done || lib->lat[OP_GET][0].med_ns <= 0)
		return;
	printf("\n");
	for (t = 1; t < NTARGETS; t++) {
		const struct lat *l = &targets[t].lat[OP_GET][0];

		if (targets[t].state == T_READY && l->done)
			printf("  a 32 B get through %s is %s slower than "
			       "through libplkv\n", targets[t].name,
			       ratio(a, sizeof(a),
				     l->med_ns / lib->lat[OP_GET][0].med_ns));
	}
}

static void report_throughput(void)
{
	const struct target *list[] = {
		&control, &targets[T_LIB], &targets[T_MC_UNIX],
		&targets[T_PD_UNIX],
	};
	const struct target *lib = &targets[T_LIB];
	char a[32], b[32];
	unsigned t, n;

	printf("\n2. Throughput, 90%% get / 10%% set, %u keys, %u B values, "
	       "%u ms per run (ops/s)\n\n", cfg.tp_keys, TP_VSIZE,
	       cfg.duration_ms);
	printf("  %-15s %7s %10s %12s   %s\n", "target", "clients", "ops/s",
	       "vs 1 client", "libplkv is");
	for (t = 0; t < sizeof(list) / sizeof(list[0]); t++) {
		const struct target *tg = list[t];

		if (tg->state != T_READY) {
			print_skipped(tg);
			continue;
		}
		for (n = 0; n < 2; n++) {
			const struct tp *p = &tg->tput[n];

			if (!p->done)
				continue;
			if (tg->control)
				snprintf(a, sizeof(a), "(control)");
			else
				fmt_rate(a, sizeof(a), p->ops_s);
			printf("  %-15s %7u %10s %11.2fx   ", tg->name, n + 1,
			       a, tg->tput[0].done ?
			       p->ops_s / tg->tput[0].ops_s : 0);
			if (!tg->lib && !tg->control && lib->tput[n].done)
				printf("%s faster\n",
				       ratio(b, sizeof(b),
					     lib->tput[n].ops_s / p->ops_s));
			else
				printf("-\n");
		}
	}
	printf("  (cpu loop: two processes that only compute; its \"vs 1 "
	       "client\" is what\n   this machine gives a second busy "
	       "process, the ceiling for the others)\n");
}

static void report_gate(void)
{
	unsigned g;

	printf("\n3. The gate: loops of %u calls (nanoseconds per call)\n\n",
	       cfg.gate_iters);
	if (!gate_done) {
		printf("  not measured\n");
	} else {
		for (g = 0; g < NGATE; g++)
			printf("  %-40s %8.1f\n", gate_names[g], gate_ns[g]);
		printf("  %-40s %8.1f\n", "plkv_get miss - plain call",
		       gate_ns[G_MISS] - gate_ns[G_PLAIN]);
		printf("  (protection %s: %s)\n", protection(),
		       host.protected ? "both WRPKRU of the gate are included" :
		       "the gate skips WRPKRU, so this is the library's own "
		       "cost");
	}
	if (cg_done) {
		printf("\n  instructions per call (callgrind, %u calls, "
		       "everything the call runs):\n", cfg.cg_ops);
		for (g = 0; g < NCG; g++)
			printf("  %-40s %8.0f\n", cg_names[g], cg_instr[g]);
	}
}

static void report_memcslap(void)
{
	printf("\n4. memcslap --concurrency=2 --execute-number=%u on UNIX "
	       "sockets (best of %u)\n\n", slap.execute, cfg.reps);
	if (!slap.done) {
		printf("  not measured\n");
		return;
	}
	printf("  %-15s %8.2f s\n  %-15s %8.2f s\n", "memcached/unix",
	       slap.secs[0], "plkvd/unix", slap.secs[1]);
	printf("  plkvd's throughput is %.2fx memcached's\n",
	       slap.secs[0] / slap.secs[1]);
}

static const char *pin_text(void)
{
	switch (cfg.pin) {
	case PIN_SAME:
		return "same (benchmark, its clients and the servers on CPU 0)";
	case PIN_SPLIT:
		return "split (benchmark and its clients on CPU 0, servers on "
		       "the other CPUs)";
	default:
		return "none (the scheduler places clients and servers)";
	}
}

static void report_text(void)
{
	unsigned i;

	printf("plkv-bench %s: backend %s, protection %s\n", plkv_version(),
	       backend_name(host.backend), protection());
	printf("host: %s, %ld CPUs, load average %.2f at start; %s\n",
	       host.cpu, host.ncpu, host.load,
	       host.mc_version[0] ? host.mc_version : "no memcached");
	printf("method: %u run%s x %u ops per latency row after warm-up, "
	       "median of the runs;\n        timer cost %.0f ns (mean %.1f) "
	       "subtracted from each sample\n", cfg.reps,
	       cfg.reps == 1 ? "" : "s", cfg.ops, timer_ns, timer_mean_ns);
	printf("pinning: %s\n\n", pin_text());
	report_latency();
	report_throughput();
	report_gate();
	report_memcslap();
	printf("\n");
	fflush(stdout);
	/* measured after the rest, alone: it forks its own clients */
	bench_scale(cfg.quick, cfg.reps, cfg.duration_ms, timer_ns);
	if (nnotes) {
		printf("notes:\n");
		for (i = 0; i < nnotes; i++)
			printf("  - %s\n", notes[i]);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void report_json(void)
{
	const struct target *lib = &targets[T_LIB];
	unsigned t, z, n, g;
	bool first = true;
	int op;

	printf("{\n  \"version\": ");
	json_str(plkv_version());
	printf(",\n  \"host\": {\"cpu\": ");
	json_str(host.cpu);
	printf(", \"cpus\": %ld, \"pku\": %s, \"load\": %.2f, "
	       "\"memcached\": ", host.ncpu, host.pku ? "true" : "false",
	       host.load);
	json_str(host.mc_version);
	printf("},\n  \"backend\": ");
	json_str(backend_name(host.backend));
	printf(", \"protected\": %s,\n", host.protected ? "true" : "false");
	printf("  \"pin\": \"%s\",\n", cfg.pin == PIN_SAME ? "same" :
	       cfg.pin == PIN_SPLIT ? "split" : "none");
	printf("  \"config\": {\"ops\": %u, \"reps\": %u, \"duration_ms\": %u, "
	       "\"gate_iters\": %u, \"quick\": %s, \"timer_ns\": %.1f, "
	       "\"timer_mean_ns\": %.1f},\n",
	       cfg.ops, cfg.reps, cfg.duration_ms, cfg.gate_iters,
	       cfg.quick ? "true" : "false", timer_ns, timer_mean_ns);

	printf("  \"targets\": [");
	for (t = 0; t < NTARGETS; t++) {
		printf("%s\n    {\"name\": ", t ? "," : "");
		json_str(targets[t].name);
		printf(", \"status\": \"%s\", \"note\": ",
		       targets[t].state == T_READY ? "ok" :
		       targets[t].state == T_FAILED ? "failed" : "skipped");
		json_str(targets[t].note);
		putchar('}');
	}
	printf("\n  ],\n  \"latency\": [");
	for (t = 0; t < NTARGETS; t++)
		for (z = 0; z < NSIZES; z++)
			for (op = 0; op < NOPS; op++) {
				const struct lat *l = &targets[t].lat[op][z];
				const struct lat *r = &lib->lat[op][z];

				if (targets[t].state != T_READY || !l->done)
					continue;
				printf("%s\n    {\"target\": \"%s\", \"op\": "
				       "\"%s\", \"value_bytes\": %zu, "
				       "\"median_ns\": %.1f, \"mean_ns\": %.1f, "
				       "\"p99_ns\": %.1f, \"min_run_median_ns\": "
				       "%.1f, \"max_run_median_ns\": %.1f, "
				       "\"vs_libplkv\": %.2f}",
				       first ? "" : ",", targets[t].name,
				       op_names[op], vsizes[z], l->med_ns,
				       l->mean_ns, l->p99_ns, l->min_med_ns,
				       l->max_med_ns, r->done && r->med_ns > 0 ?
				       l->med_ns / r->med_ns : 0.0);
				first = false;
			}
	printf("\n  ],\n  \"throughput\": [");
	first = true;
	for (t = 0; t <= NTARGETS; t++)
		for (n = 0; n < 2; n++) {
			const struct target *tg = t == NTARGETS ? &control :
							      &targets[t];
			const struct tp *p = &tg->tput[n];

			if (tg->state != T_READY || !p->done)
				continue;
			printf("%s\n    {\"target\": \"%s\", \"clients\": %u, "
			       "\"ops_per_s\": %.0f, \"vs_1_client\": %.2f, "
			       "\"libplkv_over_this\": %.2f}", first ? "" : ",",
			       tg->name, n + 1, p->ops_s, tg->tput[0].done ?
			       p->ops_s / tg->tput[0].ops_s : 0.0,
			       lib->tput[n].done && !tg->control ?
			       lib->tput[n].ops_s / p->ops_s : 0.0);
			first = false;
		}
	printf("\n  ],\n  \"gate_ns\": ");
	if (gate_done)
		printf("{\"plain_call\": %.2f, \"plkv_version\": %.2f, "
		       "\"get_miss\": %.2f, \"get_hit_32\": %.2f}",
		       gate_ns[G_PLAIN], gate_ns[G_VERSION], gate_ns[G_MISS],
		       gate_ns[G_HIT]);
	else
		printf("null");
	printf(",\n  \"instructions\": ");
	if (cg_done)
		printf("{\"get_hit_32\": %.0f, \"get_hit_32_key_10\": %.0f, "
		       "\"get_miss\": %.0f, \"set_32\": %.0f}",
		       cg_instr[CG_HIT], cg_instr[CG_HIT10],
		       cg_instr[CG_MISS], cg_instr[CG_SET]);
	else
		printf("null");
	printf(",\n  \"memcslap\": ");
	if (slap.done)
		printf("{\"execute_number\": %u, \"memcached_s\": %.3f, "
		       "\"plkvd_s\": %.3f, \"plkvd_over_memcached\": %.2f}",
		       slap.execute, slap.secs[0], slap.secs[1],
		       slap.secs[0] / slap.secs[1]);
	else
		printf("null");
	printf(",\n  \"notes\": [");
	for (g = 0; g < nnotes; g++) {
		printf("%s\n    ", g ? "," : "");
		json_str(notes[g]);
	}
	printf("%s]\n}\n", nnotes ? "\n  " : "");
}

/* ---- options ---- */

/* --pin: this process (and so its clients) on the first CPU it may use,
 * the servers on that CPU too (same) or on all the others (split). */
static int pin_cpus(void)
{
	cpu_set_t mine, me;
	int cpu, first = -1, others = 0;

	if (sched_getaffinity(0, sizeof(mine), &mine)) {
		perror("plkv-bench: sched_getaffinity");
		return -1;
	}
	CPU_ZERO(&me);
	CPU_ZERO(&server_cpus);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &mine))
			continue;
		if (first < 0) {
			first = cpu;
			CPU_SET(cpu, &me);
			if (cfg.pin == PIN_SAME)
				CPU_SET(cpu, &server_cpus);
		} else if (cfg.pin == PIN_SPLIT) {
			CPU_SET(cpu, &server_cpus);
			others++;
		}
	}
	if (first < 0 || (cfg.pin == PIN_SPLIT && !others)) {
		fprintf(stderr, "plkv-bench: --pin split needs two CPUs\n");
		return -1;
	}
	if (sched_setaffinity(0, sizeof(me), &me)) {
		perror("plkv-bench: sched_setaffinity");
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: plkv-bench [OPTIONS]\n"
"\n"
"Latency of get/set through libplkv versus memcached and plkvd over\n"
"UNIX and TCP sockets, throughput with 1 and 2 client processes, and the\n"
"cost of the call gate.  Prints figures and ratios; judges nothing.\n"
"\n"
"  --quick          a smoke run: tiny counts, a few seconds\n"
"  --ops N          operations per latency run (default 20000)\n"
"  --reps N         runs per figure; the median is reported (default 5)\n"
"  --duration MS    length of one throughput run (default 1000)\n"
"  --json           print a JSON document instead of tables\n"
"  --pin same|split run the benchmark and its clients on one CPU, and the\n"
"                   servers on that CPU too (same) or on the others (split);\n"
"                   default: no pinning\n"
"  --callgrind      also count instructions per call with valgrind\n"
"  --memcached PATH memcached to compare with (default: $MEMCACHED, else\n"
"                   memcached in PATH)\n"
"  --plkvd PATH     plkvd to measure (default: $PLKVD, else tools/plkvd\n"
"                   of the tree this binary was built in)\n"
"  --help           this text\n"
"\n"
"PLKV_BACKEND=user|kmod selects libplkv's backend, as for every program.\n"
"Stores, servers and sockets the run makes are removed at exit, on\n"
"error, and on SIGINT/SIGTERM/SIGHUP.\n");
}

static unsigned parse_uint(const char *opt, const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 100000000ul) {
		fprintf(stderr, "plkv-bench: %s: expected a number from 1 to "
			"100000000, got '%s'\n", opt, s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	enum { O_OPS = 256, O_REPS, O_DUR, O_MC, O_PD, O_CGW, O_PIN };
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "ops", required_argument, NULL, O_OPS },
		{ "reps", required_argument, NULL, O_REPS },
		{ "duration", required_argument, NULL, O_DUR },
		{ "json", no_argument, NULL, 'j' },
		{ "callgrind", no_argument, NULL, 'c' },
		{ "memcached", required_argument, NULL, O_MC },
		{ "plkvd", required_argument, NULL, O_PD },
		{ "callgrind-worker", required_argument, NULL, O_CGW },
		{ "pin", required_argument, NULL, O_PIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool ops_set = false, reps_set = false, dur_set = false;
	const char *cg_worker = NULL;
	ssize_t len;
	int ch, i;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q': cfg.quick = true; break;
		case 'j': cfg.json = true; break;
		case 'c': cfg.callgrind = true; break;
		case O_OPS:
			cfg.ops = parse_uint("--ops", optarg);
			ops_set = true;
			break;
		case O_REPS:
			cfg.reps = parse_uint("--reps", optarg);
			reps_set = true;
			break;
		case O_DUR:
			cfg.duration_ms = parse_uint("--duration", optarg);
			dur_set = true;
			break;
		case O_MC: cfg.memcached = optarg; break;
		case O_PD: cfg.plkvd = optarg; break;
		case O_CGW: cg_worker = optarg; break;
		case O_PIN:
			if (!strcmp(optarg, "same")) {
				cfg.pin = PIN_SAME;
			} else if (!strcmp(optarg, "split")) {
				cfg.pin = PIN_SPLIT;
			} else {
				fprintf(stderr, "plkv-bench: --pin: same or "
					"split, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plkv-bench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (cfg.quick) {
		if (!ops_set)
			cfg.ops = 200;
		if (!reps_set)
			cfg.reps = 1;
		if (!dur_set)
			cfg.duration_ms = 20;
	}
	cfg.lat_keys = cfg.ops < LAT_KEYS ? cfg.ops : LAT_KEYS;
	cfg.tp_keys = cfg.quick ? 1000 : TP_KEYS;
	cfg.gate_iters = cfg.ops * 20;
	cfg.cg_ops = cfg.quick ? 200 : 20000;
	if (ops_set && cg_worker)
		cfg.cg_ops = cfg.ops;
	len = readlink("/proc/self/exe", cfg.self, sizeof(cfg.self) - 1);
	if (len < 0) {
		snprintf(cfg.self, sizeof(cfg.self), "%s", argv[0]);
		len = (ssize_t)strlen(cfg.self);
	}
	cfg.self[len] = '\0';

	for (i = 0; i < (int)sizeof(value); i++)
		value[i] = (char)('a' + i % 26);
	lat_keys[0] = make_keys("32", LAT_KEYS);
	lat_keys[1] = make_keys("1k", LAT_KEYS);
	tp_keys = make_keys("tp", TP_KEYS);

	for (i = 0; i < NTARGETS; i++)
		targets[i].conn.fd = -1;
	cleanup_init();
	if (cg_worker)
		return callgrind_worker(cg_worker);
	if (cfg.pin && pin_cpus())
		return 2;

	host_info();
	open_lib();
	find_servers();
	if (!cfg.json) {
		fprintf(stderr, "plkv-bench: measuring (about %s)...\n",
			cfg.quick ? "a second" : "a minute or two");
	}
	measure_timer();
	bench_latency();
	bench_throughput();
	bench_gate();
	bench_memcslap();
	if (cfg.callgrind)
		bench_callgrind();

	if (cfg.json)
		report_json();
	else
		report_text();
	fflush(stdout);
	for (i = 0; i < NTARGETS; i++)
		if (!targets[i].lib)
			mc_close(&targets[i].conn);
	if (targets[T_LIB].kv)
		plkv_close(targets[T_LIB].kv);
	cleanup_all();
	return failed ? 1 : 0;
}
