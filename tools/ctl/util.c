// SPDX-License-Identifier: MIT
/*
 * plkvctl plumbing shared by the commands: errors and usage, opening the
 * store, parsing numbers and sizes.
 */
#include <cpuid.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	}
	return ctl_fail(err);
}

void ctl_options(struct plkv_options *opts, unsigned flags)
{
	plkv_options_init(opts);
	opts->flags = flags;
	opts->backend = ctl.backend;
}

/* Attach to an existing store (never creates).  Dead processes stay
 * visible to procs/info until 'plkvctl recover' or a client recovers. */
int ctl_open(plkv_t **kv)
{
	struct plkv_options opts;

	ctl_options(&opts, PLKV_O_NO_RECOVER);
	return plkv_open(ctl.segment, &opts, kv);
}

void ctl_close(plkv_t *kv)
{
	int err = plkv_close(kv);

	if (err)
		fprintf(stderr, "plkvctl: %s: close: %s\n", ctl.segment,
			plkv_strerror(err));
}

int cmd_getopt(const struct cmd *c, int argc, char **argv,
	       const char *shortopts, const struct option *longopts,
	       int *status)
{
	static const struct option help_only[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char sopts[64];
	int opt, idx;

	if (!longopts)
		longopts = help_only;
	/* A leading ':' tells missing arguments from unknown options. */
	snprintf(sopts, sizeof(sopts), ":%sh", shortopts);
	opt = getopt_long(argc, argv, sopts, longopts, &idx);
	switch (opt) {
	case 'h':
		*status = ctl_help(c);
		return 0;
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

bool cmd_no_operands(const struct cmd *c, int argc, char **argv, int *status)
{
	int opt;

	*status = 0;
	while ((opt = cmd_getopt(c, argc, argv, "", NULL, status)) != -1)
		if (opt == 0)
			return false;
	if (optind != argc) {
		*status = ctl_usage(c, "unexpected argument '%s'",
				    argv[optind]);
		return false;
	}
	return true;
}

bool cmd_no_operands_open(const struct cmd *c, int argc, char **argv,
			  plkv_t **kv, int *status)
{
	int err;

	if (!cmd_no_operands(c, argc, argv, status))
		return false;
	err = ctl_open(kv);
	if (err) {
		*status = ctl_fail_open(err);
		return false;
	}
	return true;
}

static int parse_ull(const char *s, unsigned long long *v, char **end)
{
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	if (errno || *end == s)
		return -EINVAL;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (parse_ull(s, &v, &end) || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_i64(const char *s, int64_t *out)
{
	long long v;
	char *end;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * "64m", "1.5G", "512KiB", "4096": binary units, case-insensitive, with an
 * optional "B" or "iB" after the letter.
 */
int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v, mult = 1;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mult = 1024.0; end++; break;
	case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (mult > 1 && (!strcasecmp(end, "ib") || !strcasecmp(end, "b")))
		end += strlen(end);
	else if (mult == 1 && !strcasecmp(end, "b"))
		end++;
	if (*end)
		return -EINVAL;
	v *= mult;
	if (v >= 18446744073709551616.0)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
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
