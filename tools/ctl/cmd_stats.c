// SPDX-License-Identifier: MIT
/*
 * plkvctl commands on statistics: stats (memcached's names and values)
 * and top (rates, refreshed every interval).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* ---- stats ---- */

static int stat_one(void *arg, const char *name, const char *value)
{
	struct table *t = arg;

	if (ctl.json) {
		json_key(name);
		json_number_or_str(value);
	} else {
		const char *row[] = { name, value };

		table_row(t, row);
	}
	return 0;
}

static int stats_run(int argc, char **argv)
{
	static const char *const hdr[] = { "STAT", "VALUE" };
	static const char *const groups[] = { "general", "slabs", "items",
					      "settings" };
	const char *group = NULL;
	struct table *t = NULL;
	plkv_t *kv;
	size_t i;
	int err, status;

	if (!cmd_parse(&cmd_stats, argc, argv, NULL, &status))
		return status;
	if (optind < argc) {
		group = argv[optind];
		for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			if (!strcmp(group, groups[i]))
				break;
		if (i == sizeof(groups) / sizeof(groups[0]))
			return ctl_usage(&cmd_stats, "unknown group '%s' "
					 "(slabs, items or settings)", group);
		if (i == 0)
			group = NULL;
	}
	if (!cmd_open(&kv, false, &status))
		return status;
	if (ctl.json)
		json_obj_begin();
	else
		t = table_new(2, hdr, "lr");
	err = plkv_stats(kv, group, stat_one, t);
	if (ctl.json)
		json_obj_end();
	else
		table_print(t);
	return ctl_close_status(kv, err);
}

const struct cmd cmd_stats = {
	.name = "stats",
	.run = stats_run,
	.max_operands = 1,
	.args = "[general|slabs|items|settings]",
	.summary = "print a store's statistics (memcached's names)",
	.help =
	"With --json, one object; values that are numbers are JSON numbers.\n",
};

/* ---- top ---- */

/* The general statistics top follows; missing ones read as 0. */
static const char *const top_names[] = {
	"cmd_get", "cmd_set", "get_hits", "get_misses", "curr_items",
	"bytes", "evictions", "limit_maxbytes",
};

enum { T_GET, T_SET, T_HITS, T_MISSES, T_ITEMS, T_BYTES, T_EVICT, T_LIMIT,
       T_N };

struct sample {
	double t;
	uint64_t v[T_N];
};

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int take_sample(plkv_t *kv, struct sample *s)
{
	int i, err;

	s->t = now_s();
	for (i = 0; i < T_N; i++) {
		err = plkv_stat_u64(kv, top_names[i], &s->v[i]);
		if (err == -ENOENT)
			s->v[i] = 0;
		else if (err)
			return err;
	}
	return 0;
}

static double rate(const struct sample *a, const struct sample *b, int i)
{
	double dt = b->t - a->t;

	if (dt <= 0 || b->v[i] < a->v[i])
		return 0;
	return (double)(b->v[i] - a->v[i]) / dt;
}

static void top_json(const struct sample *a, const struct sample *b)
{
	json_obj_begin();
	json_kv_u64("time", (uint64_t)time(NULL));
	json_kv_double("interval", b->t - a->t);
	json_kv_double("get_per_s", rate(a, b, T_GET));
	json_kv_double("set_per_s", rate(a, b, T_SET));
	json_kv_double("hits_per_s", rate(a, b, T_HITS));
	json_kv_double("misses_per_s", rate(a, b, T_MISSES));
	json_kv_double("evictions_per_s", rate(a, b, T_EVICT));
	json_kv_u64("curr_items", b->v[T_ITEMS]);
	json_kv_u64("bytes", b->v[T_BYTES]);
	json_kv_u64("limit_maxbytes", b->v[T_LIMIT]);
	json_kv_u64("evictions", b->v[T_EVICT]);
	json_obj_end();
}

static void top_line(const struct sample *a, const struct sample *b,
		     bool header)
{
	double hits = rate(a, b, T_HITS), misses = rate(a, b, T_MISSES);
	char hitp[16], bytes[32];

	if (header)
		printf("%9s %9s %9s %9s %5s %10s %10s %8s %10s\n", "get/s",
		       "set/s", "hits/s", "misses/s", "hit%", "items", "bytes",
		       "evict/s", "evictions");
	if (hits + misses > 0)
		snprintf(hitp, sizeof(hitp), "%.0f",
			 100 * hits / (hits + misses));
	else
		snprintf(hitp, sizeof(hitp), "-");
	printf("%9.0f %9.0f %9.0f %9.0f %5s %10llu %10s %8.0f %10llu\n",
	       rate(a, b, T_GET), rate(a, b, T_SET), hits, misses, hitp,
	       (unsigned long long)b->v[T_ITEMS],
	       fmt_size(bytes, sizeof(bytes), b->v[T_BYTES]),
	       rate(a, b, T_EVICT), (unsigned long long)b->v[T_EVICT]);
}

static void top_screen(const struct sample *a, const struct sample *b,
		       double interval)
{
	char tbuf[64], used[32], limit[32];

	/* Home and clear, then the same line a pipe would get. */
	fputs("\033[H\033[2J", stdout);
	printf("plkvctl top: %s    %s    every %gs, ^C to quit\n\n",
	       ctl.segment, fmt_time(tbuf, sizeof(tbuf), time(NULL)),
	       interval);
	top_line(a, b, true);
	printf("\nmemory: %s of %s\n",
	       fmt_size(used, sizeof(used), b->v[T_BYTES]),
	       fmt_size(limit, sizeof(limit), b->v[T_LIMIT]));
}

/* Sleep for s seconds unless a signal asks to stop. */
static void top_sleep(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s };

	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);

	while (!top_stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

struct top_args {
	uint64_t count;		/* samples, 0: until a signal */
	double interval;
};

static int top_option(void *ctx, int ch, const char *arg)
{
	struct top_args *ta = ctx;

	if (ch == 'n' && (plkv_arg_u64(arg, &ta->count) || ta->count == 0))
		return ctl_usage(&cmd_top, "bad count '%s'", arg);
	if (ch == 'i' && (plkv_arg_double(arg, &ta->interval) ||
			  !(ta->interval >= 0.01) || ta->interval > 86400))
		return ctl_usage(&cmd_top, "bad interval '%s' "
				 "(0.01 to 86400 seconds)", arg);
	return 0;
}

static int top_run(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = top_signal };
	struct top_args ta = { .interval = 1.0 };
	struct sample prev, cur;
	bool tty = isatty(STDOUT_FILENO) && !ctl.json;
	uint64_t n;
	plkv_t *kv;
	int err, status;

	if (!cmd_parse_open(&cmd_top, argc, argv, &ta, &kv, &status))
		return status;
	/* Leave through plkv_close(): a kill would count as a death. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	err = take_sample(kv, &prev);
	if (ctl.json) {
		json_arr_begin();
		fflush(stdout);
	}
	for (n = 0; !err && !top_stop && (!ta.count || n < ta.count); n++) {
		top_sleep(ta.interval);
		if (top_stop)
			break;
		err = take_sample(kv, &cur);
		if (err)
			break;
		if (ctl.json)
			top_json(&prev, &cur);
		else if (tty)
			top_screen(&prev, &cur, ta.interval);
		else
			top_line(&prev, &cur, n == 0);
		fflush(stdout);
		prev = cur;
	}
	if (ctl.json)
		json_arr_end();
	return ctl_close_status(kv, err);
}

static const struct cmd_opt top_opts[] = {
	{ 'n', "count", true },
	{ 'i', "interval", true },
	{ 0 },
};

const struct cmd cmd_top = {
	.name = "top",
	.run = top_run,
	.opts = top_opts,
	.option = top_option,
	.args = "[--count N] [--interval SECONDS]",
	.summary = "show operation rates, items, bytes, evictions, refreshed",
	.help =
	"Options:\n"
	"  -n, --count N          stop after N samples (default: until ^C)\n"
	"  -i, --interval S       seconds between samples (default 1)\n"
	"On a terminal the screen is redrawn; otherwise one line per sample\n"
	"(like vmstat).  With --json, an array of sample objects, written as\n"
	"the samples come.\n",
};
