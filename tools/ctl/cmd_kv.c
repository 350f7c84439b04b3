// SPDX-License-Identifier: MIT
/*
 * plkvctl commands on items: get, set, delete (for scripts and demos) and
 * dump (every live item's metadata, no values).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fputs("plkvctl: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* ---- get ---- */

/*
 * The value is copied into our buffer; when it doesn't fit the library
 * says how big it is, and it may have grown again by the retry.
 */
static int get_value(plkv_t *kv, const char *key, char **val,
		     struct plkv_meta *meta)
{
	size_t cap = 4096;
	char *buf = NULL;
	int err;

	for (;;) {
		free(buf);
		buf = xmalloc(cap);
		err = plkv_get(kv, key, strlen(key), buf, cap, meta);
		if (err != PLKV_ETOOSMALL)
			break;
		cap = meta->len > cap ? meta->len : 2 * cap;
	}
	if (err) {
		free(buf);
		return err;
	}
	*val = buf;
	return 0;
}

static int get_run(int argc, char **argv)
{
	struct plkv_meta meta;
	const char *key;
	char *val = NULL;
	plkv_t *kv;
	int status;

	if (!cmd_parse_open(&cmd_get, argc, argv, NULL, &kv, &status))
		return status;
	key = argv[optind];
	status = ctl_close_status(kv, get_value(kv, key, &val, &meta));
	if (status)
		return status;
	if (ctl.json) {
		json_obj_begin();
		json_kv_str("key", key);
		json_key("value");
		json_strn(val, meta.len);
		json_kv_u64("len", meta.len);
		json_kv_u64("flags", meta.flags);
		json_kv_i64("exptime", meta.exptime);
		json_kv_u64("cas", meta.cas);
		json_obj_end();
	} else {
		fwrite(val, 1, meta.len, stdout);
	}
	free(val);
	return fflush(stdout) ? 1 : 0;
}

const struct cmd cmd_get = {
	.name = "get",
	.run = get_run,
	.min_operands = 1,
	.max_operands = 1,
	.missing = "missing KEY",
	.args = "KEY",
	.summary = "print a value (raw bytes, no newline added)",
	.help =
	"With --json, an object with the value, its length, flags, exptime\n"
	"(absolute Unix time, 0 = never) and CAS.  A missing key is an error\n"
	"(exit 1).\n",
};

/* ---- set ---- */

/* "-" as the value: read standard input to its end. */
static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	ssize_t r;

	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf) {
				fputs("plkvctl: out of memory\n", stderr);
				exit(1);
			}
		}
		r = read(STDIN_FILENO, buf + n, cap - n);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

struct set_args {
	uint64_t flags;
	int64_t exptime;
};

static int set_option(void *ctx, int ch, const char *arg)
{
	struct set_args *sa = ctx;

	if (ch == 'f' && (plkv_arg_u64(arg, &sa->flags) ||
			  sa->flags > UINT32_MAX))
		return ctl_usage(&cmd_set, "bad flags '%s' (32-bit unsigned)",
				 arg);
	if (ch == 'e' && plkv_arg_i64(arg, &sa->exptime))
		return ctl_usage(&cmd_set, "bad exptime '%s'", arg);
	return 0;
}

static int set_run(int argc, char **argv)
{
	struct set_args sa = { 0 };
	const char *key, *val;
	char *buf = NULL;
	size_t vlen;
	plkv_t *kv;
	int err, status;

	if (!cmd_parse(&cmd_set, argc, argv, &sa, &status))
		return status;
	key = argv[optind];
	val = argv[optind + 1];
	vlen = strlen(val);
	if (!strcmp(val, "-")) {
		buf = read_stdin(&vlen);
		if (!buf)
			return ctl_fail_msg(-errno, "reading standard input");
		val = buf;
	}

	if (cmd_open(&kv, false, &status)) {
		err = plkv_set(kv, key, strlen(key), val, vlen,
			       (uint32_t)sa.flags, sa.exptime);
		status = ctl_close_status(kv, err);
	}
	free(buf);
	if (!status && ctl.json) {
		json_obj_begin();
		json_kv_str("stored", key);
		json_kv_u64("len", vlen);
		json_obj_end();
	}
	return status;
}

static const struct cmd_opt set_opts[] = {
	{ 'f', "flags", true },
	{ 'e', "exptime", true },
	{ 0 },
};

const struct cmd cmd_set = {
	.name = "set",
	.run = set_run,
	.opts = set_opts,
	.option = set_option,
	.min_operands = 2,
	.max_operands = 2,
	.missing = "missing KEY or VALUE",
	.args = "KEY VALUE [--flags N] [--exptime N]",
	.summary = "store a value (VALUE \"-\" reads standard input)",
	.help =
	"Options:\n"
	"  -f, --flags N      32-bit client flags (default 0)\n"
	"  -e, --exptime N    0 never (default), up to 30 days relative\n"
	"                     seconds, beyond an absolute Unix time,\n"
	"                     negative: already expired\n"
	"Use '--' before a VALUE that starts with '-'.\n",
};

/* ---- delete ---- */

static int delete_run(int argc, char **argv)
{
	const char *key;
	plkv_t *kv;
	int status;

	if (!cmd_parse_open(&cmd_delete, argc, argv, NULL, &kv, &status))
		return status;
	key = argv[optind];
	status = ctl_close_status(kv, plkv_delete(kv, key, strlen(key)));
	if (!status && ctl.json) {
		json_obj_begin();
		json_kv_str("deleted", key);
		json_obj_end();
	}
	return status;
}

const struct cmd cmd_delete = {
	.name = "delete",
	.run = delete_run,
	.min_operands = 1,
	.max_operands = 1,
	.missing = "missing KEY",
	.args = "KEY",
	.summary = "remove an item (a missing key is an error)",
	.help = "",
};

/* ---- dump ---- */

struct dump_ctx {
	struct table *t;
	int64_t now;
	uint64_t n, bytes;
};

static int dump_one(void *arg, const struct plkv_dump_item *it)
{
	struct dump_ctx *dc = arg;
	size_t klen = it->klen < sizeof(it->key) ? it->klen : sizeof(it->key);

	dc->n++;
	dc->bytes += it->vlen;
	if (ctl.json) {
		json_obj_begin();
		json_key("key");
		json_strn(it->key, klen);
		json_kv_u64("size", it->vlen);
		json_kv_u64("flags", it->flags);
		json_kv_i64("exptime", it->exptime);
		json_kv_u64("cas", it->cas);
		json_kv_u64("class", it->slab_class);
		json_obj_end();
	} else {
		char key[4 * 251 + 8], size[32], flags[16], exp[48], cas[24],
		     cls[16];
		const char *row[] = { key, size, flags, exp, cas, cls };

		fmt_printable(key, sizeof(key), it->key, klen);
		snprintf(size, sizeof(size), "%zu", it->vlen);
		snprintf(flags, sizeof(flags), "%u", it->flags);
		fmt_exptime(exp, sizeof(exp), it->exptime, dc->now);
		snprintf(cas, sizeof(cas), "%llu", (unsigned long long)it->cas);
		snprintf(cls, sizeof(cls), "%u", it->slab_class);
		table_row(dc->t, row);
	}
	return 0;
}

static int dump_run(int argc, char **argv)
{
	static const char *const hdr[] = { "KEY", "SIZE", "FLAGS", "EXPIRES",
					   "CAS", "CLASS" };
	struct dump_ctx dc = { .now = time(NULL) };
	plkv_t *kv;
	int err, status;

	if (!cmd_parse_open(&cmd_dump, argc, argv, NULL, &kv, &status))
		return status;
	dc.t = list_begin(6, hdr, "lrrlrr");
	err = plkv_dump(kv, dump_one, &dc);
	list_end(dc.t);
	if (!ctl.json) {
		char sz[32];

		printf("%llu item%s, %s of values\n", (unsigned long long)dc.n,
		       dc.n == 1 ? "" : "s", fmt_size(sz, sizeof(sz), dc.bytes));
	}
	return ctl_close_status(kv, err);
}

const struct cmd cmd_dump = {
	.name = "dump",
	.run = dump_run,
	.args = "",
	.summary = "list every live item: key, size, flags, expiry, CAS, class",
	.help =
	"Values are not shown.  Keys are printed with bytes outside printable\n"
	"ASCII as \\xNN; --json gives the exact key and the absolute exptime.\n",
};
