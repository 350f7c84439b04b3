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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "plkv.h"

#define EXIT_USAGE 2

/* What the global options chose; filled by main() before a command runs. */
struct ctl {
	const char *segment;	/* --segment, $PLKV_SEGMENT, else "plkv" */
	int backend;		/* enum plkv_backend, from --backend or AUTO */
	bool json;		/* --json */
};

extern struct ctl ctl;

/* A command: argv[0] is the command's name; returns the exit status. */
struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line for the global help */
	const char *help;	/* options and details for "COMMAND --help" */
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
int ctl_open(plkv_t **kv);
void ctl_close(plkv_t *kv);
int parse_size(const char *s, uint64_t *out);
int parse_u64(const char *s, uint64_t *out);
int parse_i64(const char *s, int64_t *out);
int parse_double(const char *s, double *out);
const char *backend_name(int backend);
int backend_parse(const char *s);
bool cpu_has_pku(void);

/*
 * Argument parsing shared by the commands: getopt_long over the command's
 * own argv, with -h/--help and errors handled here.  Returns the option
 * character, -1 at the end, or 0 when the command should return *status
 * (after help, or a usage error).  Long options must map to a character.
 */
struct option;
int cmd_getopt(const struct cmd *c, int argc, char **argv,
	       const char *shortopts, const struct option *longopts,
	       int *status);
/* For commands without options or operands: false means return *status. */
bool cmd_no_operands(const struct cmd *c, int argc, char **argv, int *status);
/* The same, then ctl_open() (its failure reported): false means return
 * *status; true, *kv is open. */
bool cmd_no_operands_open(const struct cmd *c, int argc, char **argv,
			  plkv_t **kv, int *status);

/* out.c: formatting helpers */
char *fmt_size(char *buf, size_t cap, uint64_t bytes);
char *fmt_time(char *buf, size_t cap, uint64_t unix_time);
char *fmt_ago(char *buf, size_t cap, int64_t seconds);
char *fmt_exptime(char *buf, size_t cap, int64_t exptime, int64_t now);
char *fmt_printable(char *buf, size_t cap, const char *s, size_t len);

/*
 * JSON emitter.  Writes to stdout as it goes; nesting and commas are
 * tracked so callers just say what comes next:
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
void json_end(void);	/* newline after the top-level value */

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
