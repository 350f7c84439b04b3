/* SPDX-License-Identifier: MIT */
/*
 * plkv-bench: shared declarations.
 *
 *  - plkv_bench.c: options, the measurements, the report;
 *  - bench_net.c:  the servers it starts (memcached, plkvd), a tiny
 *    memcached text-protocol client, and the cleanup registry that
 *    removes servers, sockets and segments on any exit;
 *  - shmhash.c:    the baseline, a mutex-locked shared hash table;
 *  - scale.c:      section 5, libplkv beside it at 10 k to 1 M keys.
 */
#ifndef PLKV_BENCH_H
#define PLKV_BENCH_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <plkv.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Marsaglia's xorshift64: the clients' key choice, cheap and fixed. */
static inline uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* qsort() order of uint64_t samples, and the q-quantile of n sorted
 * ones (plkv_bench.c). */
int cmp_u64(const void *a, const void *b);
double quantile(const uint64_t *s, unsigned n, double q);
/* The median of v[0..n) (n > 0), which it sorts: v[0] is then the
 * lowest, v[n - 1] the highest. */
double median_d(double *v, unsigned n);

/* ---- memcached text-protocol client (bench_net.c) ---- */

#define MC_RBUF 8192

struct mc_conn {
	int fd;
	size_t len;			/* bytes in rbuf */
	char rbuf[MC_RBUF];
	char wbuf[MC_RBUF];
};

/* Connect to a UNIX socket (path) or to 127.0.0.1:port (path NULL).
 * Returns 0 or -errno.  Reads and writes time out after 10 s. */
int mc_connect(struct mc_conn *c, const char *path, int port);
void mc_close(struct mc_conn *c);
/* 0 hit (*vlen set, value copied up to cap), PLKV_ENOTFOUND, or < 0. */
int mc_get(struct mc_conn *c, const char *key, size_t klen,
	   void *val, size_t cap, size_t *vlen);
/* 0 or < 0 (-EPROTO: the server did not answer STORED). */
int mc_set(struct mc_conn *c, const char *key, size_t klen,
	   const void *val, size_t vlen);

/* ---- servers ---- */

struct server {
	const char *label;		/* "memcached/unix", for messages */
	pid_t pid;			/* 0 when not running */
	char sock[108];			/* UNIX socket, "" for TCP */
	int port;			/* TCP port, 0 for UNIX */
	char segment[64];		/* plkvd's store, destroyed at stop */
	char log[128];			/* its stdout and stderr */
	const cpu_set_t *cpus;		/* run it there; NULL: inherit */
};

/* A TCP port on 127.0.0.1 that was free a moment ago, or -errno. */
int free_port(void);
/*
 * Start argv[0] with argv, output to s->log, and wait (up to 5 s) until
 * s->sock or s->port accepts connections.  On failure fills err with
 * why (the server's first line of output when it exited) and returns < 0.
 */
int server_start(struct server *s, char *const argv[], char *err,
		 size_t errlen);
void server_stop(struct server *s);

/* ---- the baseline: a mutex-locked shared hash table (shmhash.c) ---- */

#define SH_KEY_MAX	40
#define SH_VAL_MAX	128

struct shmhash;
/* Room for nkeys entries, shared with children forked later. */
struct shmhash *shmhash_create(uint64_t nkeys);
void shmhash_destroy(struct shmhash *h);
/* As plkv_get/plkv_set: 0, PLKV_ENOTFOUND, PLKV_ETOOSMALL, PLKV_ENOMEM. */
int shmhash_get(struct shmhash *h, const char *key, size_t klen, void *buf,
		size_t cap, size_t *vlen);
int shmhash_set(struct shmhash *h, const char *key, size_t klen,
		const void *val, size_t vlen);

/* ---- section 5 (scale.c) ---- */

#define BENCH_MIB	(1024u * 1024u)

void bench_scale(bool quick, unsigned reps, unsigned duration_ms,
		 double timer_ns);

/* ---- cleanup registry: everything is undone at exit or on a signal ---- */

void cleanup_init(void);
void cleanup_server(struct server *s);
void cleanup_segment(const char *name);
void cleanup_forget_segment(const char *name);
void cleanup_child(pid_t pid);
void cleanup_forget_child(pid_t pid);
void cleanup_file(const char *path);
/* Run every registered cleanup now (idempotent). */
void cleanup_all(void);
/* In a forked worker: forget the parent's registrations, default signals. */
void cleanup_in_child(void);

#endif /* PLKV_BENCH_H */
