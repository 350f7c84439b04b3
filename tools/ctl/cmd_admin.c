// SPDX-License-Identifier: MIT
/*
 * plkvctl commands on the store's health: procs, check, recover.
 */
#include <errno.h>
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
		json_kv_bool("self", self);
		json_obj_end();
	} else {
		char pid[32], start[64], pkey[16], thr[16], wr[16];
		const char *row[] = { pid, start, state_name(p->state), pkey,
				      thr, wr };

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
		table_row(pc->t, row);
	}
	return 0;
}

static int procs_run(int argc, char **argv)
{
	static const char *const hdr[] = { "PID", "STARTED", "STATE", "PKEY",
					   "THREADS", "WRPKRU" };
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
	pc.t = list_begin(6, hdr, "rllrrr");
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
	"unprotected), thread slots held, and stray WRPKRU/XRSTOR sites found\n"
	"in the process's code when it opened the store.\n",
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

static int recover_run(int argc, char **argv)
{
	unsigned n = 0;
	plkv_t *kv;
	int err;

	if (!cmd_parse_open(&cmd_recover, argc, argv, NULL, &kv, &err))
		return err;
	err = ctl_close_status(kv, plkv_recover(kv, &n));
	if (err)
		return err;
	if (ctl.json) {
		json_obj_begin();
		json_kv_u64("recovered", n);
		json_obj_end();
	} else {
		printf("recovered %u dead process%s\n", n, n == 1 ? "" : "es");
	}
	return 0;
}

const struct cmd cmd_recover = {
	.name = "recover",
	.run = recover_run,
	.keep_dead = true,
	.args = "",
	.summary = "recover the dead processes of a store now",
	.help =
	"Rolls back or forward what each dead process left half done and\n"
	"releases its locks and references.  Survivors also do this on their\n"
	"own when they notice a death; this forces it.\n",
};
