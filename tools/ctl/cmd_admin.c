// SPDX-License-Identifier: MIT
/*
 * plkvctl commands on the store's health: procs, check, recover.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* ---- procs ---- */

static const char *state_name(int state)
{
	switch (state) {
	case 1: return "attached";
	case 2: return "dead";
	case 3: return "recovering";
	}
	return "unknown";
}

/* The boot time, to turn a start time in clock ticks into a date. */
static uint64_t boot_time(void)
{
	static uint64_t btime;
	unsigned long long v;
	char line[256];
	FILE *f;

	if (btime)
		return btime;
	f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &v) == 1)
			btime = v;
	fclose(f);
	return btime;
}

/* A process's start time (ns since boot) as Unix time, 0 when unknown. */
static uint64_t start_unix(uint64_t start)
{
	uint64_t bt = boot_time();

	if (!bt || !start)
		return 0;
	return bt + start / 1000000000u;
}

struct procs_ctx {
	struct table *t;
	int backend;
	unsigned n;
};

static int procs_one(void *arg, const struct plkv_proc *p)
{
	struct procs_ctx *pc = arg;
	uint64_t st = start_unix(p->start_time);
	bool self = p->pid == (uint32_t)getpid();

	pc->n++;
	if (ctl.json) {
		json_obj_begin();
		json_kv_u64("pid", p->pid);
		json_kv_u64("start_time", p->start_time);
		json_key("started");
		if (st)
			json_u64(st);
		else
			json_null();
		json_kv_str("state", state_name(p->state));
		json_key("pkey");
		if (p->pkey >= 0)
			json_i64(p->pkey);
		else
			json_null();
		json_kv_u64("threads", p->threads);
		json_kv_u64("wrpkru_found", p->wrpkru_found);
		json_kv_u64("call_seconds", p->call_seconds);
		json_kv_bool("self", self);
		json_obj_end();
	} else {
		char pid[32], start[64], pkey[16], thr[16], wr[16], call[24];
		const char *row[] = { pid, start, state_name(p->state), pkey,
				      thr, wr, call };

		snprintf(pid, sizeof(pid), "%u%s", p->pid, self ? "*" : "");
		if (st)
			fmt_time(start, sizeof(start), st);
		else
			snprintf(start, sizeof(start), "%llu",
				 (unsigned long long)p->start_time);
		if (p->pkey >= 0)
			snprintf(pkey, sizeof(pkey), "%d", p->pkey);
		else
			snprintf(pkey, sizeof(pkey), "-");
		snprintf(thr, sizeof(thr), "%u", p->threads);
		snprintf(wr, sizeof(wr), "%u", p->wrpkru_found);
		if (p->call_seconds)
			snprintf(call, sizeof(call), "%us", p->call_seconds);
		else
			snprintf(call, sizeof(call), "-");
		table_row(pc->t, row);
	}
	return 0;
}

static int procs_run(int argc, char **argv)
{
	static const char *const hdr[] = { "PID", "STARTED", "STATE", "PKEY",
					   "THREADS", "WRPKRU", "IN CALL" };
	struct procs_ctx pc = { 0 };
	struct plkv_info in;
	plkv_t *kv;
	int err;

	if (!cmd_parse_open(&cmd_procs, argc, argv, NULL, &kv, &err))
		return err;
	err = plkv_info(kv, &in);
	if (err)
		return ctl_close_status(kv, err);
	pc.backend = in.backend;
	pc.t = list_begin(7, hdr, "rllrrrr");
	err = plkv_procs(kv, procs_one, &pc);
	list_end(pc.t);
	if (!ctl.json)
		printf("(* = this plkvctl)\n");
	return ctl_close_status(kv, err);
}

const struct cmd cmd_procs = {
	.name = "procs",
	.run = procs_run,
	.keep_dead = true,
	.args = "",
	.summary = "list the processes attached to a store",
	.help =
	"Columns: pid (* marks plkvctl itself, which attaches to ask), start\n"
	"time, state (attached, dead, recovering), protection key (- when\n"
	"unprotected), thread slots held, stray WRPKRU/XRSTOR sites found\n"
	"in the process's code when it opened the store, and how long the\n"
	"longest library call one of its threads is in has lasted (- for\n"
	"none, or under a second).  A process stopped or spinning inside a\n"
	"call shows there; 'plkvctl recover --kill-stuck SECONDS' ends it.\n",
};

/* ---- check ---- */

static int check_run(int argc, char **argv)
{
	char msg[1024] = "";
	plkv_t *kv;
	int err;

	if (!cmd_parse_open(&cmd_check, argc, argv, NULL, &kv, &err))
		return err;
	err = plkv_check(kv, msg, sizeof(msg));
	ctl_close(kv);
	if (ctl.json) {
		json_obj_begin();
		json_kv_bool("ok", err == 0);
		if (err) {
			json_kv_str("error", plkv_strerror(err));
			json_kv_str("message", msg);
		}
		json_obj_end();
	} else if (!err) {
		printf("ok\n");
	}
	if (err)
		return *msg ? ctl_fail_msg(err, msg) : ctl_fail(err);
	return 0;
}

const struct cmd cmd_check = {
	.name = "check",
	.run = check_run,
	.args = "",
	.summary = "verify every invariant of a store",
	.help =
	"Prints \"ok\" and exits 0 when the store is consistent; otherwise\n"
	"prints the first broken invariant and exits 1.\n",
};

/* ---- recover ---- */

#define KILL_MAX	64

/* recover --kill-stuck: who has been inside one call too long. */
struct stuck {
	uint64_t seconds;	/* 0: no killing */
	unsigned n;
	pid_t pid[KILL_MAX];
};

static int recover_option(void *ctx, int ch, const char *arg)
{
	struct stuck *k = ctx;

	(void)ch;	/* only --kill-stuck */
	if (plkv_arg_u64(arg, &k->seconds) || k->seconds == 0)
		return ctl_usage(&cmd_recover,
				 "--kill-stuck takes whole seconds, 1 or more: %s",
				 arg);
	return 0;
}

static int kill_stuck(void *arg, const struct plkv_proc *p)
{
	struct stuck *k = arg;

	if (p->state != 1 || p->pid == (uint32_t)getpid() ||
	    p->call_seconds < k->seconds || k->n == KILL_MAX)
		return 0;
	if (kill((pid_t)p->pid, SIGKILL) < 0) {
		fprintf(stderr, "plkvctl: can't kill %u (inside one call for "
			"%u s): %s\n", p->pid, p->call_seconds,
			strerror(errno));
		return 0;
	}
	if (!ctl.json)
		printf("killed %u: inside one call for %u s\n", p->pid,
		       p->call_seconds);
	k->pid[k->n++] = (pid_t)p->pid;
	return 0;
}

/* Until the killed are gone (or zombies: their memory went), up to 5 s. */
static void wait_gone(const struct stuck *k)
{
	unsigned i, tries;
	char path[64], buf[512], *p;

	for (tries = 0; tries < 500; tries++) {
		bool alive = false;

		for (i = 0; i < k->n && !alive; i++) {
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/stat",
				 (int)k->pid[i]);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (fgets(buf, sizeof(buf), f) &&
			    (p = strrchr(buf, ')')) && p[1] && p[2] != 'Z' &&
			    p[2] != 'X')
				alive = true;
			fclose(f);
		}
		if (!alive)
			return;
		usleep(10000);
	}
}

static int recover_run(int argc, char **argv)
{
	struct stuck k = { 0 };
	unsigned n = 0;
	plkv_t *kv;
	int err;

	if (!cmd_parse_open(&cmd_recover, argc, argv, &k, &kv, &err))
		return err;
	if (k.seconds) {
		err = plkv_procs(kv, kill_stuck, &k);
		if (err)
			return ctl_close_status(kv, err);
		wait_gone(&k);
	}
	err = ctl_close_status(kv, plkv_recover(kv, &n));
	if (err)
		return err;
	if (ctl.json) {
		json_obj_begin();
		if (k.seconds)
			json_kv_u64("killed", k.n);
		json_kv_u64("recovered", n);
		json_obj_end();
	} else {
		printf("recovered %u dead process%s\n", n, n == 1 ? "" : "es");
	}
	return 0;
}

static const struct cmd_opt recover_opts[] = {
	{ 'k', "kill-stuck", true },
	{ 0 },
};

const struct cmd cmd_recover = {
	.name = "recover",
	.run = recover_run,
	.opts = recover_opts,
	.option = recover_option,
	.keep_dead = true,
	.args = "[--kill-stuck SECONDS]",
	.summary = "recover the dead processes of a store now",
	.help =
	"Rolls back or forward what each dead process left half done and\n"
	"releases its locks and references.  Survivors also do this on their\n"
	"own when they notice a death; this forces it.\n"
	"Options:\n"
	"  -k, --kill-stuck SECONDS  first kill (SIGKILL) every process that\n"
	"                            has been inside one library call for\n"
	"                            that long (stopped, or spinning: see\n"
	"                            'plkvctl procs'), then recover it like\n"
	"                            any dead one.  Others waiting on its\n"
	"                            locks go on.  Needs the right to kill it.\n",
};
