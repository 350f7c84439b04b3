// SPDX-License-Identifier: MIT
/*
 * plkvctl commands on whole stores: create, destroy, list, info.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static const char *protection_str(char *buf, size_t cap,
				  const struct plkv_info *in)
{
	if (in->protected)
		snprintf(buf, cap, "on (pkey %d%s)", in->pkey,
			 in->strict ? ", strict" : "");
	else if (cpu_has_pku())
		snprintf(buf, cap, "off (disabled)");
	else
		snprintf(buf, cap, "off (no PKU)");
	return buf;
}

static void info_json(const struct plkv_info *in)
{
	char prot[32];

	json_obj_begin();
	json_kv_str("name", in->name);
	json_kv_str("backend", backend_name(in->backend));
	json_kv_u64("size", in->size);
	json_kv_u64("mem_limit", in->mem_limit);
	json_kv_bool("protected", in->protected);
	json_key("pkey");
	if (in->protected)
		json_i64(in->pkey);
	else
		json_null();
	json_kv_str("protection", protection_str(prot, sizeof(prot), in));
	json_kv_bool("strict", in->strict);
	json_kv_u64("format_version", in->format_version);
	json_kv_u64("item_size_max", in->item_size_max);
	json_kv_double("growth_factor", in->growth_factor);
	json_kv_u64("hash_power", in->hash_power);
	json_kv_bool("evictions", !in->no_evict);
	json_kv_u64("created", in->created);
	json_kv_u64("death_gen", in->death_gen);
	json_obj_end();
}

static void info_human(const struct plkv_info *in)
{
	struct kvlist *l = kv_new();
	char a[64], b[64];
	time_t now = time(NULL);

	kv_add(l, "name", "%s", in->name);
	kv_add(l, "backend", "%s", backend_name(in->backend));
	kv_add(l, "size", "%s", fmt_size(a, sizeof(a), in->size));
	kv_add(l, "memory limit", "%s", fmt_size(a, sizeof(a), in->mem_limit));
	kv_add(l, "protection", "%s", protection_str(a, sizeof(a), in));
	kv_add(l, "format version", "%u", in->format_version);
	kv_add(l, "item size max", "%s",
	       fmt_size(a, sizeof(a), in->item_size_max));
	kv_add(l, "growth factor", "%.2f", in->growth_factor);
	kv_add(l, "hash power", "%u (%llu buckets)", in->hash_power,
	       in->hash_power < 64 ? 1ULL << in->hash_power : 0ULL);
	kv_add(l, "evictions", "%s", in->no_evict ? "off (-M)" : "on");
	kv_add(l, "created", "%s (%s ago)", fmt_time(a, sizeof(a), in->created),
	       fmt_ago(b, sizeof(b), (int64_t)now - (int64_t)in->created));
	kv_add(l, "death generation", "%u", in->death_gen);
	kv_print(l);
}

/* ---- create ---- */

static int create_option(void *ctx, int ch, const char *arg)
{
	struct plkv_options *opts = ctx;
	uint64_t v;
	double f;

	switch (ch) {
	case 's':
		if (plkv_arg_size(arg, 1, &v) || v == 0)
			return ctl_usage(&cmd_create, "bad size '%s'", arg);
		opts->mem_limit = v;
		break;
	case 'm':
		if (plkv_arg_mode(arg, &opts->mode))
			return ctl_usage(&cmd_create, "bad mode '%s' "
					 "(octal, at most 0777)", arg);
		break;
	case 'I':
		if (plkv_arg_size(arg, 1, &v) || v == 0 || v > UINT32_MAX)
			return ctl_usage(&cmd_create, "bad item size '%s'",
					 arg);
		opts->item_size_max = (uint32_t)v;
		break;
	case 'f':
		if (plkv_arg_double(arg, &f))
			return ctl_usage(&cmd_create, "bad growth factor '%s'",
					 arg);
		opts->growth_factor = f;
		break;
	case 'H':
		if (plkv_arg_u64(arg, &v) || v > UINT32_MAX)
			return ctl_usage(&cmd_create, "bad hash power '%s'",
					 arg);
		opts->hash_power = (uint32_t)v;
		break;
	case 'M':
		opts->flags |= PLKV_O_NO_EVICT;
		break;
	case 'S':
		opts->flags |= PLKV_O_STRICT;
		break;
	}
	return 0;
}

static int create_run(int argc, char **argv)
{
	struct plkv_options opts;
	struct plkv_info in;
	char msg[160];
	plkv_t *kv;
	int err, status;

	ctl_options(&opts, PLKV_O_CREATE | PLKV_O_EXCL);
	if (!cmd_parse(&cmd_create, argc, argv, &opts, &status))
		return status;

	if (plkv_options_check(&opts, msg, sizeof(msg)))
		return ctl_usage(&cmd_create, "%s", msg);
	err = plkv_open(ctl.segment, &opts, &kv);
	if (err == -EOPNOTSUPP && (opts.flags & PLKV_O_STRICT))
		return ctl_fail_msg(err, "--strict needs the kmod backend "
				    "(plkv.ko loaded)");
	if (err)
		return ctl_fail_open(err);
	err = plkv_info(kv, &in);
	if (err)
		return ctl_close_status(kv, err);
	if (ctl.json) {
		info_json(&in);
	} else {
		char a[32], b[32];

		printf("created %s (%s backend): %s for items, %s segment\n",
		       in.name, backend_name(in.backend),
		       fmt_size(a, sizeof(a), in.mem_limit),
		       fmt_size(b, sizeof(b), in.size));
	}
	ctl_close(kv);
	return 0;
}

static const struct cmd_opt create_opts[] = {
	{ 's', "size", true },
	{ 'm', "mode", true },
	{ 'I', "item-max", true },
	{ 'f', "factor", true },
	{ 'H', "hash-power", true },
	{ 'M', "no-evict", false },
	{ 'S', "strict", false },
	{ 0 },
};

const struct cmd cmd_create = {
	.name = "create",
	.run = create_run,
	.opts = create_opts,
	.option = create_option,
	.args = "[--size SIZE] [--mode OCTAL] [--item-max SIZE] [--factor F] "
		"[--hash-power N] [--no-evict] [--strict]",
	.summary = "create a store (fails if it exists)",
	.help =
	"Options:\n"
	"  -s, --size SIZE        segment size, e.g. 64m, 1g (default 64 MiB)\n"
	"  -m, --mode OCTAL       permission bits (default 0600)\n"
	"  -I, --item-max SIZE    largest item (default 1 MiB)\n"
	"  -f, --factor F         slab class growth factor (default 1.25)\n"
	"  -H, --hash-power N     initial log2 of hash buckets (default 16)\n"
	"  -M, --no-evict         out of memory errors instead of eviction\n"
	"  -S, --strict           a strict store (kmod backend): clients may\n"
	"                         not create code after open nor write each\n"
	"                         other's memory; see protection.rst\n"
	"SIZE takes k, m, g, t suffixes (binary units).\n",
};

/* ---- destroy ---- */

static int destroy_option(void *ctx, int ch, const char *arg)
{
	bool *force = ctx;

	(void)ch;	/* only --force */
	(void)arg;
	*force = true;
	return 0;
}

static int destroy_run(int argc, char **argv)
{
	bool force = false;
	int err, status;

	if (!cmd_parse(&cmd_destroy, argc, argv, &force, &status))
		return status;
	err = plkv_destroy(ctl.segment, ctl.backend);
	if (err == -ENOENT && force)
		err = 0;
	if (err == -ENOENT)
		return ctl_fail_msg(err, "no such store");
	if (err == -EBUSY)
		return ctl_fail_msg(err, "still mapped by a process "
				    "(see 'plkvctl procs')");
	if (err)
		return ctl_fail(err);
	if (ctl.json) {
		json_obj_begin();
		json_kv_str("destroyed", ctl.segment);
		json_obj_end();
	} else {
		printf("destroyed %s\n", ctl.segment);
	}
	return 0;
}

static const struct cmd_opt destroy_opts[] = {
	{ 'f', "force", false },
	{ 0 },
};

const struct cmd cmd_destroy = {
	.name = "destroy",
	.run = destroy_run,
	.opts = destroy_opts,
	.option = destroy_option,
	.args = "[--force]",
	.summary = "remove a store",
	.help =
	"Options:\n"
	"  -f, --force   succeed when the store does not exist\n"
	"With the kmod backend a store still mapped by a process is not\n"
	"removed (busy).  Under the user backend, processes that have it\n"
	"mapped keep their mapping; new opens no longer find it.\n",
};

/* ---- list ---- */

struct list_ctx {
	struct table *t;
	unsigned n;
};

static int list_one(void *arg, const char *name, int backend, uint64_t size)
{
	struct list_ctx *lc = arg;
	char sz[32];

	lc->n++;
	if (ctl.json) {
		json_obj_begin();
		json_kv_str("name", name);
		json_kv_str("backend", backend_name(backend));
		json_kv_u64("size", size);
		json_obj_end();
	} else {
		const char *row[] = { name, backend_name(backend),
				      fmt_size(sz, sizeof(sz), size) };

		table_row(lc->t, row);
	}
	return 0;
}

static int list_run(int argc, char **argv)
{
	static const char *const hdr[] = { "NAME", "BACKEND", "SIZE" };
	struct list_ctx lc = { 0 };
	int err, status;

	if (!cmd_parse(&cmd_list, argc, argv, NULL, &status))
		return status;
	lc.t = list_begin(3, hdr, "llr");
	err = plkv_list(ctl.backend, list_one, &lc);
	if (err && !lc.n && !ctl.json)
		table_free(lc.t);	/* no header above the error */
	else
		list_end(lc.t);
	if (err) {
		fprintf(stderr, "plkvctl: list: %s\n", plkv_strerror(err));
		return 1;
	}
	return 0;
}

const struct cmd cmd_list = {
	.name = "list",
	.run = list_run,
	.args = "",
	.summary = "list the stores of the backend (auto: all backends)",
	.help = "",
};

/* ---- info ---- */

static int info_run(int argc, char **argv)
{
	struct plkv_info in;
	plkv_t *kv;
	int status;

	if (!cmd_parse_open(&cmd_info, argc, argv, NULL, &kv, &status))
		return status;
	status = ctl_close_status(kv, plkv_info(kv, &in));
	if (status)
		return status;
	if (ctl.json)
		info_json(&in);
	else
		info_human(&in);
	return 0;
}

const struct cmd cmd_info = {
	.name = "info",
	.run = info_run,
	.args = "",
	.summary = "show a store's backend, size, protection and parameters",
	.help =
	"Protection reads \"on (pkey N)\" when PKU guards the segment,\n"
	"\"off (no PKU)\" when the CPU or kernel lacks protection keys, and\n"
	"\"off (disabled)\" when PKU exists but this process opened the store\n"
	"unprotected.\n",
};
