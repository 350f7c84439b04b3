// SPDX-License-Identifier: MIT
/*
 * What every part of plkvd reads: its settings, the store, the start
 * time, and the counters "stats" reports.  The bottom of the server:
 * main.c fills the settings and opens the store, net.c gives each worker
 * its counters and counts connections, the protocol counts commands and
 * reads the sums; this file calls none of them.
 */
#include <stdlib.h>

#include <urcu/uatomic.h>

#include "plkvd.h"

struct plkvd_settings settings = {
	.port = 11211,
	.listen = "127.0.0.1",
	.unix_mask = 0700,
	.mem_limit = 64ull << 20,
	.threads = 4,
	.maxconns = 1024,
	.item_size_max = 1u << 20,
	.item_size_eff = 1u << 20,
	.factor = 1.25,
	.chunk_size = 48,
	.backlog = 1024,
	.conn_buffer_limit = 64ull << 20,
	.prefix_delimiter = ':',
};
struct plkvd_stats server_stats;
plkv_t *plkvd_kv;
time_t plkvd_started;

__thread struct plkvd_thread_stats *thread_stats;

/* One set of counters per worker, written only by it. */
static struct plkvd_thread_stats *worker_stats;
static unsigned nworker_stats;
/* What "stats reset" saw: reported counts start from here. */
static struct plkvd_thread_stats stats_base;

int counters_init(unsigned nworkers)
{
	worker_stats = calloc(nworkers, sizeof(*worker_stats));
	if (!worker_stats)
		return -1;
	nworker_stats = nworkers;
	return 0;
}

struct plkvd_thread_stats *counters_of(unsigned worker)
{
	return &worker_stats[worker];
}

static uint64_t *counter_array(struct plkvd_thread_stats *s)
{
	return (uint64_t *)s;
}

static void sum_workers(struct plkvd_thread_stats *sum)
{
	for (unsigned i = 0; i < nworker_stats; i++)
		for (size_t j = 0; j < PLKVD_THREAD_STATS; j++)
			counter_array(sum)[j] +=
				uatomic_read(&counter_array(&worker_stats[i])[j]);
}

void counters_sum(struct plkvd_thread_stats *sum)
{
	sum_workers(sum);
	for (size_t j = 0; j < PLKVD_THREAD_STATS; j++)
		counter_array(sum)[j] -=
			uatomic_read(&counter_array(&stats_base)[j]);
}

void counters_reset(void)
{
	struct plkvd_thread_stats now = { 0 };

	sum_workers(&now);
	for (size_t j = 0; j < PLKVD_THREAD_STATS; j++)
		uatomic_set(&counter_array(&stats_base)[j],
			    counter_array(&now)[j]);
	uatomic_set(&server_stats.total_conns, 0);
	uatomic_set(&server_stats.rejected_conns, 0);
}
