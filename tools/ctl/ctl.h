/* SPDX-License-Identifier: MIT */
/*
 * plkvctl: administer plkv stores.
 *
 * The tool is a thin shell over the admin calls of include/plkv.h.  Each
 * command lives in a file by concern (cmd_seg.c: create/destroy/list/info;
 * cmd_admin.c: procs/check/recover; cmd_stats.c: stats/top; cmd_kv.c:
 * get/set/delete/dump), the shared plumbing here and in util.c, and all
 * output goes through out.c, which knows the two formats: aligned human
 * text and JSON (one object or array per command, for scripts).
 *
 * Exit status: 0 success, 1 a library or system error (reported as
 * "plkvctl: SEGMENT: MESSAGE" on stderr), 2 a usage error.
 */
#ifndef PLKVCTL_H
#define PLKVCTL_H

#include <getopt.h>	/* optind, optarg: the commands' operands */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "args.h"
#include "plkv.h"

#define EXIT_USAGE 2

/* What the global options chose; filled by main() before a command runs. */
struct ctl {
	const char *segment;	/* --segment, $PLKV_SEGMENT, else "plkv" */
	int backend;		/* enum plkv_backend, from --backend or AUTO */
	bool json;		/* --json */
	bool any_owner;		/* --any-owner: PLKV_O_ANY_OWNER */
};

extern struct ctl ctl;

/*
 * An option: its letter, which is also what the parser hands back, its
 * long name, and whether it takes an argument.  Tables end with { 0 };
 * -h/--help is added to every table.
 */
struct cmd_opt {
	int ch;
	const char *name;
	bool arg;
};

/*
 * A command: argv[0] is the command's name; run returns the exit status.
 * What it accepts is declared here, for cmd_parse().
 */
struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const struct cmd_opt *opts;	/* NULL: none but --help */
	/* Takes one option: 0, or the exit status of a usage error. */
	int (*option)(void *ctx, int ch, const char *arg);
	int min_operands, max_operands;
	/* The usage error for too few operands.  Commands that have one
	 * say "too many arguments" past the most; the others name the
	 * first operand too many. */
	const char *missing;
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line for the global help */
	const char *help;	/* options and details for "COMMAND --help" */
	/* Leave dead processes for the command to see or recover itself
	 * (procs, recover); the others recover them at their first call,
	 * as every client does. */
	bool keep_dead;
};

extern const struct cmd cmd_create, cmd_destroy, cmd_list, cmd_info;
extern const struct cmd cmd_procs, cmd_check, cmd_recover;
extern const struct cmd cmd_stats, cmd_top;
extern const struct cmd cmd_get, cmd_set, cmd_delete, cmd_dump;

/* util.c */
int ctl_usage(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int ctl_help(const struct cmd *c);
int ctl_fail(int err);
int ctl_fail_msg(int err, const char *what);
int ctl_fail_open(int err);
void ctl_options(struct plkv_options *opts, unsigned flags);
void ctl_close(plkv_t *kv);
/* ctl_close(), then err (if any) reported: the command's exit status. */
int ctl_close_status(plkv_t *kv, int err);
const char *backend_name(int backend);
int backend_parse(const char *s);
bool cpu_has_pku(void);

/*
 * getopt_long over @opts and -h/--help, for command @c (NULL: the global
 * options, which end at the command's name).  Returns the option's
 * letter, -1 at the end, or 0 after a usage error, which set *status.
 */
int ctl_getopt(const struct cmd *c, int argc, char **argv,
	       const struct cmd_opt *opts, int *status);
/*
 * A command's argv as @c declares it: options to c->option with @ctx,
 * --help answered, the operands counted.  False: return *status (0 after
 * --help); true: the operands are argv[optind] to argv[argc - 1].
 */
bool cmd_parse(const struct cmd *c, int argc, char **argv, void *ctx,
	       int *status);
/* Attach to the existing store, or report why not: false, return *status. */
bool cmd_open(plkv_t **kv, bool keep_dead, int *status);
/* cmd_parse(), then cmd_open(). */
bool cmd_parse_open(const struct cmd *c, int argc, char **argv, void *ctx,
		    plkv_t **kv, int *status);

/* out.c: formatting helpers */
char *fmt_size(char *buf, size_t cap, uint64_t bytes);
char *fmt_time(char *buf, size_t cap, uint64_t unix_time);
char *fmt_ago(char *buf, size_t cap, int64_t seconds);
char *fmt_exptime(char *buf, size_t cap, int64_t exptime, int64_t now);
char *fmt_printable(char *buf, size_t cap, const char *s, size_t len);

/*
 * JSON emitter.  Writes to stdout as it goes; nesting and commas are
 * tracked so callers just say what comes next, and closing the top-level
 * value ends its line:
 *	json_obj_begin(); json_key("a"); json_u64(1); json_obj_end();
 */
void json_obj_begin(void);
void json_obj_end(void);
void json_arr_begin(void);
void json_arr_end(void);
void json_key(const char *key);
void json_str(const char *s);
void json_strn(const char *s, size_t len);
void json_u64(uint64_t v);
void json_i64(int64_t v);
void json_double(double v);
void json_bool(bool v);
void json_null(void);
void json_number_or_str(const char *s);

/* Convenience pairs. */
void json_kv_str(const char *key, const char *v);
void json_kv_u64(const char *key, uint64_t v);
void json_kv_i64(const char *key, int64_t v);
void json_kv_double(const char *key, double v);
void json_kv_bool(const char *key, bool v);

/*
 * Human "label: value" lists, labels right-aligned so the colons line up
 * and "label: value" reads the same whatever the padding.
 */
struct kvlist;
struct kvlist *kv_new(void);
void kv_add(struct kvlist *l, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kv_print(struct kvlist *l);	/* prints and frees */

/*
 * Human tables: a header row, then rows of strings.  Rows are buffered so
 * columns can be sized; past TABLE_BUFFER_ROWS the table prints what it has
 * and streams the rest with the widths it settled on.
 */
#define TABLE_BUFFER_ROWS 4096
struct table;
struct table *table_new(int ncols, const char *const *headers,
			const char *align);	/* 'l' or 'r' per column */
void table_row(struct table *t, const char *const *cells);
void table_print(struct table *t);	/* prints what's left and frees */
void table_free(struct table *t);	/* frees, printing nothing */

/*
 * A command's list of entries, in the format --json chose: a JSON array
 * (list_begin returns NULL; each entry writes an object) or a table with
 * these columns (each entry adds a row).  list_end closes the array, or
 * prints the table.
 */
struct table *list_begin(int ncols, const char *const *headers,
			 const char *align);
void list_end(struct table *t);

#endif /* PLKVCTL_H */
