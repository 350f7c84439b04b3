// SPDX-License-Identifier: MIT
/*
 * plkvctl: global options and command dispatch.
 *
 *	plkvctl [--segment NAME] [--backend user|kmod] [--json] COMMAND [ARGS]
 *
 * Global options come before the command; each command parses its own
 * options (in any order with its operands) with cmd_parse(), after
 * optind is reset.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct ctl ctl;

static const struct cmd *const commands[] = {
	&cmd_create, &cmd_destroy, &cmd_list, &cmd_info,
	&cmd_procs, &cmd_stats, &cmd_top,
	&cmd_get, &cmd_set, &cmd_delete, &cmd_dump,
	&cmd_check, &cmd_recover,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: plkvctl [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Administer plkv stores: memcached as a protected library.\n"
	      "\n"
	      "Options:\n"
	      "  -s, --segment NAME   the store (default: $PLKV_SEGMENT, "
	      "else \"plkv\")\n"
	      "  -b, --backend NAME   user, kmod or auto (default: "
	      "$PLKV_BACKEND, else auto:\n"
	      "                       kmod when /dev/plkv exists, else user)\n"
	      "  -j, --json           print JSON (one value per command)\n"
	      "  -A, --any-owner      open a store another user owns (by "
	      "default only\n"
	      "                       yours or root's)\n"
	      "  -h, --help           this help; 'COMMAND --help' for a "
	      "command's\n"
	      "  -V, --version        print the versions and exit\n"
	      "\n"
	      "Commands:\n", f);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name,
			commands[i]->summary);
	fputs("\nExit status: 0 success, 1 error, 2 usage error.\n", f);
}

static const struct cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int set_backend(const char *name)
{
	int b = backend_parse(name);

	if (b < 0)
		return -1;
	ctl.backend = b;
	/* The library reads it too (plkv_list, plkv_destroy with AUTO). */
	if (b == PLKV_BACKEND_AUTO)
		unsetenv("PLKV_BACKEND");
	else
		setenv("PLKV_BACKEND", name, 1);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cmd_opt opts[] = {
		{ 's', "segment", true },
		{ 'b', "backend", true },
		{ 'j', "json", false },
		{ 'A', "any-owner", false },
		{ 'V', "version", false },
		{ 0 },
	};
	const struct cmd *c;
	const char *env;
	int opt, status;

	ctl.segment = plkv_arg_segment(NULL);
	ctl.backend = PLKV_BACKEND_AUTO;

	while ((opt = ctl_getopt(NULL, argc, argv, opts, &status)) != -1) {
		switch (opt) {
		case 0:
			return status;
		case 's':
			ctl.segment = optarg;
			break;
		case 'b':
			if (set_backend(optarg))
				return ctl_usage(NULL, "unknown backend '%s' "
						 "(user, kmod or auto)", optarg);
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'A':
			ctl.any_owner = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("plkvctl %s (libplkv %s)\n", PLKV_VERSION_STRING,
			       plkv_version());
			return 0;
		}
	}
	if (ctl.backend == PLKV_BACKEND_AUTO) {
		env = getenv("PLKV_BACKEND");
		if (env && *env && backend_parse(env) < 0)
			return ctl_usage(NULL, "PLKV_BACKEND: unknown backend "
					 "'%s' (user, kmod or auto)", env);
		if (env && *env)
			ctl.backend = backend_parse(env);
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	c = find_command(argv[optind]);
	if (!c)
		return ctl_usage(NULL, "unknown command '%s'", argv[optind]);

	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: 0 re-initialises getopt for the command */
	return c->run(argc, argv);
}
