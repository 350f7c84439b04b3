/* SPDX-License-Identifier: MIT */
/*
 * The protocol's files, top to bottom (calls go down only):
 *  - proto.c: the connection's state machine, what net.c calls;
 *  - proto_text.c, proto_meta.c: the text and the meta commands;
 *    proto_admin.c, prefix_stats.c: the admin commands and stats detail,
 *    which the text commands' table reaches;
 *  - proto_common.c: what text and meta share (tokens, numbers, values,
 *    store outcomes);
 *  - conn.c: the connection's buffers and replies.
 */
#ifndef PLKVD_PROTO_H
#define PLKVD_PROTO_H

#include "conn.h"
#include "watch.h"

/* memcached's reply to a command line it cannot parse (text and meta). */
#define BAD_FORMAT	"CLIENT_ERROR bad command line format"
#define TOO_LARGE	"SERVER_ERROR object too large for cache"
#define OUT_OF_MEMORY	"SERVER_ERROR out of memory storing object"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* a parameter a handler of a common signature may not need */
#define __maybe_unused	__attribute__((unused))

/* ---- proto.c: the state machine ---- */

/*
 * Consume what the read buffer holds, appending replies: PROTO_WANT_READ
 * when it needs more input, PROTO_WANT_WRITE when the output passed
 * WBUF_HIGH (call again once it is sent), PROTO_CLOSE when the
 * connection should be closed after sending what is written.
 */
int proto_process(struct conn *c);
/* How many bytes the next read should have room for. */
size_t proto_read_hint(struct conn *c);
/* The read buffer could not grow for a value: refuse it (false: none). */
bool proto_nread_failed(struct conn *c);

/* ---- proto_text.c, proto_meta.c: the commands ---- */

/* Tokens of a command line, split on spaces in place (as memcached). */
struct token {
	char *value;
	size_t length;
};
#define MAX_TOKENS 24

void process_text(struct conn *c, struct token *t, size_t nt, char *line,
		  size_t len);
void text_complete_store(struct conn *c, int rc);
/* A multi-get in progress (CONN_GET): answer on; 0 to wait for input. */
int get_continue(struct conn *c);
/* A get line past LINE_LIMIT: answer it as it streams in. */
int start_get_stream(struct conn *c);

void process_meta(struct conn *c, struct token *tokens, size_t ntokens);
void meta_complete_store(struct conn *c, int rc, uint64_t cas);

/* proto_admin.c: text command handlers (the table's arg unused) */
void process_stats_cachedump(struct conn *c, struct token *t, size_t nt);
void process_stats_conns(struct conn *c);
void process_lru_crawler(struct conn *c, struct token *t, size_t nt, int arg);
void process_slabs(struct conn *c, struct token *t, size_t nt, int arg);
void process_cache_memlimit(struct conn *c, struct token *t, size_t nt,
			    int arg);
void process_watch(struct conn *c, struct token *t, size_t nt, int arg);

/* prefix_stats.c: stats detail (per key prefix, when enabled) */
enum prefix_event { PREFIX_GET, PREFIX_SET, PREFIX_DELETE };
void prefix_record(const char *key, size_t nkey, enum prefix_event ev,
		   bool hit);
void process_stats_detail(struct conn *c, struct token *t, size_t nt);
void prefix_clear(void);

/* ---- proto_common.c: shared by text and meta ---- */

size_t tokenize_command(char *command, size_t len, struct token *tokens,
			size_t max_tokens);
/* A last token "noreply": the command answers nothing; true then. */
bool set_noreply_maybe(struct conn *c, struct token *t, size_t nt);
/* memcached's safe_strto*(): trailing junk fails, a minus sign fails for
 * the unsigned ones, 32-bit fields take the low bits of a larger number. */
bool safe_strtoull(const char *s, uint64_t *out);
bool safe_strtoul(const char *s, uint32_t *out);
bool safe_strtol(const char *s, int32_t *out);
char *fmt_u64(char *p, uint64_t v);
/* Seconds left for an absolute exptime, -1 for none (meta "t"). */
int64_t remaining_ttl(int64_t exptime);

/* Values: a store reads one (CONN_NREAD) or discards it (CONN_SWALLOW). */
bool item_too_large(size_t nkey, uint32_t flags, size_t vlen);
void start_nread(struct conn *c);
void start_swallow(struct conn *c, size_t n);
#define HDR_ROOM	1024	/* room for a reply header before a value */
int fetch_value(struct conn *c, const char *key, size_t klen,
		const struct plkv_read *r, struct plkv_meta *m, int64_t *prev,
		char **val);
void commit_value(struct conn *c, const char *hdr, size_t hl,
		  const char *val, size_t len);

/* What a store's result is to the client, text and meta alike. */
enum store_outcome {
	STORE_OK, STORE_NOT_STORED, STORE_EXISTS, STORE_NOT_FOUND, STORE_ERROR
};
enum store_outcome store_outcome(int rc, int mode);
const char *store_error_string(int rc, char *buf, size_t size);
/* Count a failed store (store_too_large, store_no_memory) and answer it. */
void out_store_error(struct conn *c, int rc);
void stat_store_error(int rc);
void stat_cmd_meta(struct conn *c);
/* As an exptime, past 30 days a number is an absolute time. */
#define REALTIME_MAXDELTA (60 * 60 * 24 * 30)

/* memcached's URI encoding of a key (metadump, watch): @out has room
 * for 3 * @n + 1 bytes; the length written. */
size_t uri_encode(const char *s, size_t n, char *out);
/* The command's event for "watch" (fetchers, mutations), if wanted. */
void log_fetch(struct conn *c, const char *key, size_t klen, int rc,
	       const struct plkv_meta *m);
void log_store(struct conn *c, int rc);

#endif /* PLKVD_PROTO_H */
