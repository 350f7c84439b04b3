/* SPDX-License-Identifier: MIT */
/*
 * plkvd: a memcached-protocol server on libplkv.
 *
 * The server is four layers, each in its own files, calls going down only:
 *  - main.c: options, daemon, signals, opening the store, upkeep;
 *  - net.c: listeners, worker threads on epoll, reading and writing;
 *  - the protocol (proto.h lists its files), which knows nothing about
 *    sockets.  It reads bytes from a connection's read buffer and
 *    appends replies to its write buffer, so it is tested by feeding it
 *    strings (test/unit/test_proto.c);
 *  - server.c: the settings, the store handle and the counters that
 *    all of the above read.
 *
 * Everything a connection holds is bounded: a command line by
 * LINE_LIMIT, except get lines, which memcached takes at any length and
 * which are therefore answered as they stream in, key by key; a value by
 * the store's item size limit (a larger one is read and discarded, never
 * buffered); output by WBUF_HIGH: past it the protocol stops and the
 * connection reads nothing more until the client has taken its replies.
 */
#ifndef PLKVD_H
#define PLKVD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <plkv.h>

/* What "version" answers.  libmemcached parses MAJOR.MINOR.MICRO and
 * refuses a major version of 0, so we speak as the memcached we match. */
#define PLKVD_COMPAT_VERSION	PLKV_MEMCACHED_VERSION
#define PLKVD_VERSION		PLKVD_COMPAT_VERSION "-plkv-" PLKV_VERSION_STRING

#define KEY_MAX_LENGTH	250
#define LINE_LIMIT	2048		/* no newline after this: junk, close */
#define WBUF_HIGH	(256u << 10)	/* stop parsing above this much output */
#define MGET_BATCH	32		/* keys per plkv_mget() call */
#define MAX_VERBOSITY	2

struct plkvd_settings {
	int port;			/* TCP port, 0 = none */
	const char *listen;		/* comma-separated addresses */
	const char *unix_path;		/* UNIX socket, NULL = none */
	unsigned unix_mask;		/* permission mask for the socket */
	uint64_t mem_limit;		/* bytes, at create */
	unsigned threads;
	unsigned maxconns;
	uint32_t item_size_max;		/* requested, at create */
	uint32_t item_size_eff;		/* the store's limit, after open */
	bool no_evict;
	double factor;
	uint32_t chunk_size;
	int verbose;			/* 0, 1, 2; changed by "verbosity" */
	bool daemon;
	bool any_owner;		/* --any-owner: PLKV_O_ANY_OWNER */
	const char *pidfile;
	const char *segment;
	int backlog;
	uint64_t conn_buffer_limit;	/* bytes, all connections' buffers
					 * past their first size */
	char prefix_delimiter;		/* -D: stats detail's key prefixes */
	bool detail_enabled;		/* stats detail on (or -D given) */
	bool crawler_disabled;		/* "lru_crawler disable" */
	bool shutdown_enabled;		/* -A: the "shutdown" command */
	bool flush_disabled;		/* -F: no "flush_all" */
};

/* Server-wide counters; per-worker ones are summed when asked. */
struct plkvd_stats {
	uint64_t curr_conns;
	uint64_t total_conns;
	uint64_t rejected_conns;
	uint64_t conn_structs;
};

struct conn;

extern struct plkvd_settings settings;
extern struct plkvd_stats server_stats;
extern plkv_t *plkvd_kv;
extern time_t plkvd_started;

/* Per-worker byte and command counters (server.c), summed when asked. */
struct plkvd_thread_stats {	/* all uint64_t: summed as an array */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t cmd_meta;
	uint64_t store_too_large;	/* stores refused: over the item limit */
	uint64_t store_no_memory;	/* ... no memory for them */
};
#define PLKVD_THREAD_STATS \
	(sizeof(struct plkvd_thread_stats) / sizeof(uint64_t))
/* The calling worker's counters (NULL outside a worker). */
extern __thread struct plkvd_thread_stats *thread_stats;
/* server.c: counters for @nworkers workers; worker i's own. */
int counters_init(unsigned nworkers);
struct plkvd_thread_stats *counters_of(unsigned worker);
/* Their sum since the last reset. */
void counters_sum(struct plkvd_thread_stats *sum);
/* stats reset: the counters above, total and rejected connections. */
void counters_reset(void);

/* Start listening (before daemonizing: errors go to the terminal). */
int net_listen(void);
/* Start the workers; net_stop() asks them to finish and joins them. */
int net_start(void);
void net_stop(void);

#endif /* PLKVD_H */
