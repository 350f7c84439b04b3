// SPDX-License-Identifier: MIT
/*
 * plkvctl plumbing shared by the commands: errors and usage, parsing
 * options and operands, opening the store.
 */
#include <cpuid.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int ctl_usage(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fputs("plkvctl: ", stderr);
	if (c)
		fprintf(stderr, "%s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		fprintf(stderr, "usage: plkvctl [OPTIONS] %s %s\n"
			"Try 'plkvctl %s --help' for more information.\n",
			c->name, c->args, c->name);
	else
		fputs("Try 'plkvctl --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

int ctl_help(const struct cmd *c)
{
	printf("usage: plkvctl [OPTIONS] %s %s\n\n%s.\n", c->name, c->args,
	       c->summary);
	if (c->help && *c->help)
		printf("\n%s", c->help);
	return 0;
}

/* "plkvctl: SEGMENT: MESSAGE" and exit status 1. */
int ctl_fail(int err)
{
	fflush(stdout);
	fprintf(stderr, "plkvctl: %s: %s\n", ctl.segment, plkv_strerror(err));
	return 1;
}

/* The same with what failed or what was found appended. */
int ctl_fail_msg(int err, const char *what)
{
	fflush(stdout);
	fprintf(stderr, "plkvctl: %s: %s: %s\n", ctl.segment,
		plkv_strerror(err), what);
	return 1;
}

/* A failed plkv_open(), with a hint for the usual causes. */
int ctl_fail_open(int err)
{
	switch (err) {
	case -ENOENT:
		return ctl_fail_msg(err, "no such store "
				    "('plkvctl create' makes one)");
	case -EEXIST:
		return ctl_fail_msg(err, "store already exists "
				    "('plkvctl destroy' removes it)");
	case PLKV_EOWNER:
		return ctl_fail_msg(err, "--any-owner trusts it");
	case -EDQUOT:
		return ctl_fail_msg(err, "your stores, destroyed ones still "
				    "in use included, would pass plkv.ko's "
				    "max_user_bytes or max_user_segments");
	}
	if (plkv_open_error())
		return ctl_fail_msg(err, plkv_open_error());
	return ctl_fail(err);
}

void ctl_options(struct plkv_options *opts, unsigned flags)
{
	plkv_options_init(opts);
	opts->flags = flags | (ctl.any_owner ? PLKV_O_ANY_OWNER : 0);
	opts->backend = ctl.backend;
}

void ctl_close(plkv_t *kv)
{
	int err = plkv_close(kv);

	if (err)
		fprintf(stderr, "plkvctl: %s: close: %s\n", ctl.segment,
			plkv_strerror(err));
}

int ctl_close_status(plkv_t *kv, int err)
{
	ctl_close(kv);
	return err ? ctl_fail(err) : 0;
}

#define CTL_OPTS_MAX 15

int ctl_getopt(const struct cmd *c, int argc, char **argv,
	       const struct cmd_opt *opts, int *status)
{
	char sopts[2 + 2 * (CTL_OPTS_MAX + 1) + 1], *p = sopts;
	struct option lopts[CTL_OPTS_MAX + 2] = { { 0 } };
	int i, opt;

	if (!c)
		*p++ = '+';	/* the global options end at the command */
	*p++ = ':';	/* tells missing arguments from unknown options */
	for (i = 0; opts && opts[i].ch; i++) {
		if (i == CTL_OPTS_MAX)
			abort();	/* a table longer than the arrays */
		lopts[i] = (struct option){ opts[i].name,
			opts[i].arg ? required_argument : no_argument, NULL,
			opts[i].ch };
		*p++ = (char)opts[i].ch;
		if (opts[i].arg)
			*p++ = ':';
	}
	lopts[i] = (struct option){ "help", no_argument, NULL, 'h' };
	*p++ = 'h';
	*p = 0;

	opt = getopt_long(argc, argv, sopts, lopts, NULL);
	switch (opt) {
	case ':':
		*status = ctl_usage(c, "option '%s' needs an argument",
				    argv[optind - 1]);
		return 0;
	case '?':
		if (optopt)
			*status = ctl_usage(c, "unknown option '-%c'", optopt);
		else
			*status = ctl_usage(c, "unknown option '%s'",
					    argv[optind - 1]);
		return 0;
	}
	return opt;
}

bool cmd_parse(const struct cmd *c, int argc, char **argv, void *ctx,
	       int *status)
{
	int opt, n;

	*status = 0;
	while ((opt = ctl_getopt(c, argc, argv, c->opts, status)) != -1) {
		if (opt == 0)
			return false;
		if (opt == 'h') {
			*status = ctl_help(c);
			return false;
		}
		*status = c->option(ctx, opt, optarg);
		if (*status)
			return false;
	}
	n = argc - optind;
	if (n < c->min_operands)
		*status = ctl_usage(c, "%s", c->missing);
	else if (n > c->max_operands && c->missing)
		*status = ctl_usage(c, "too many arguments");
	else if (n > c->max_operands)
		*status = ctl_usage(c, "unexpected argument '%s'",
				    argv[optind + c->max_operands]);
	return !*status;
}

/* Attach to an existing store (never creates).  With keep_dead, dead
 * processes stay for the command to see (procs) or recover (recover). */
bool cmd_open(plkv_t **kv, bool keep_dead, int *status)
{
	struct plkv_options opts;
	int err;

	ctl_options(&opts, keep_dead ? PLKV_O_NO_RECOVER : 0);
	err = plkv_open(ctl.segment, &opts, kv);
	*status = err ? ctl_fail_open(err) : 0;
	return !err;
}

bool cmd_parse_open(const struct cmd *c, int argc, char **argv, void *ctx,
		    plkv_t **kv, int *status)
{
	return cmd_parse(c, argc, argv, ctx, status) &&
	       cmd_open(kv, c->keep_dead, status);
}

const char *backend_name(int backend)
{
	switch (backend) {
	case PLKV_BACKEND_USER: return "user";
	case PLKV_BACKEND_KMOD: return "kmod";
	case PLKV_BACKEND_AUTO: return "auto";
	}
	return "unknown";
}

int backend_parse(const char *s)
{
	if (!strcmp(s, "user"))
		return PLKV_BACKEND_USER;
	if (!strcmp(s, "kmod"))
		return PLKV_BACKEND_KMOD;
	if (!strcmp(s, "auto"))
		return PLKV_BACKEND_AUTO;
	return -1;
}

/*
 * Whether the CPU and the kernel both enable protection keys: CPUID leaf 7
 * ECX bit 3 (PKU) and bit 4 (OSPKE).  Tells "off (no PKU)" from a store
 * opened unprotected on purpose.
 */
bool cpu_has_pku(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (c & (1u << 3)) && (c & (1u << 4));
}
