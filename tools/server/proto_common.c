// SPDX-License-Identifier: MIT
/*
 * What the text and meta commands share: the tokenizer and memcached's
 * number parsers, the value a store reads and a get writes, and how a
 * store's result and errors are answered and counted.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"

/* ---- numbers and tokens, as memcached parses them ---- */

static bool end_ok(const char *s, const char *end)
{
	return end != s && (isspace((unsigned char)*end) || *end == '\0');
}

/* libplkv's parser: the rule incr/decr apply to a stored value. */
bool safe_strtoull(const char *s, uint64_t *out)
{
	*out = 0;
	return plkv_parse_u64(s, strlen(s), out) == 0;
}

/* 32 bits from a 64-bit parse, as memcached does on LP64. */
bool safe_strtoul(const char *s, uint32_t *out)
{
	uint64_t v;
	bool ok = safe_strtoull(s, &v);

	*out = (uint32_t)v;
	return ok;
}

bool safe_strtol(const char *s, int32_t *out)
{
	long v;
	char *end;

	*out = 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno == ERANGE || !end_ok(s, end))
		return false;
	*out = (int32_t)v;
	return true;
}

char *fmt_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/*
 * Split @command (NUL-terminated, @len bytes) on spaces, in place.  At
 * most max_tokens - 1 tokens; the last entry is a terminal token of
 * length 0 whose value is NULL when the whole line was split, else the
 * first unsplit character.  Returns the count including the terminal.
 */
size_t tokenize_command(char *command, size_t len, struct token *tokens,
			size_t max_tokens)
{
	char *s = command, *e = command;
	size_t n = 0, i;

	for (i = 0; i < len; i++, e++) {
		if (*e != ' ')
			continue;
		if (s != e) {
			tokens[n].value = s;
			tokens[n].length = (size_t)(e - s);
			n++;
			*e = '\0';
			if (n == max_tokens - 1) {
				e++;
				s = e;
				break;
			}
		}
		s = e + 1;
	}
	if (s != e) {
		tokens[n].value = s;
		tokens[n].length = (size_t)(e - s);
		n++;
	}
	tokens[n].value = *e == '\0' ? NULL : e;
	tokens[n].length = 0;
	return n + 1;
}

bool set_noreply_maybe(struct conn *c, struct token *t, size_t nt)
{
	struct token *last = &t[nt - 2];

	if (last->value && strcmp(last->value, "noreply") == 0)
		c->noreply = true;
	return c->noreply;
}

/* Seconds left for an absolute exptime, -1 for none (meta "t"). */
int64_t remaining_ttl(int64_t exptime)
{
	int64_t left;

	if (exptime == 0)
		return -1;
	left = exptime - (int64_t)time(NULL);
	return left < 0 ? 0 : left;
}

void stat_cmd_meta(struct conn *c)
{
	(void)c;
	if (thread_stats)
		thread_stats->cmd_meta++;
}

/* memcached's store_too_large and store_no_memory counters. */
void stat_store_error(int rc)
{
	if (!thread_stats)
		return;
	if (rc == PLKV_ETOOBIG)
		thread_stats->store_too_large++;
	else if (rc == PLKV_ENOMEM)
		thread_stats->store_no_memory++;
}

/* The error line for a failed command (@buf: room for the default). */
const char *store_error_string(int rc, char *buf, size_t size)
{
	switch (rc) {
	case PLKV_ETOOBIG:
		return TOO_LARGE;
	case PLKV_ENOMEM:
		return OUT_OF_MEMORY;
	case PLKV_EBADKEY:
		return BAD_FORMAT;
	}
	snprintf(buf, size, "SERVER_ERROR %s", plkv_strerror(rc));
	return buf;
}

void out_store_error(struct conn *c, int rc)
{
	char buf[128];

	stat_store_error(rc);
	out_string(c, store_error_string(rc, buf, sizeof(buf)));
}

/* What a store's result is to the client, text and meta alike.  A CAS
 * store on a missing key is NOT_FOUND; the other modes say NOT_STORED. */
enum store_outcome store_outcome(int rc, int mode)
{
	switch (rc) {
	case 0:
		return STORE_OK;
	case PLKV_ENOTSTORED:
		return STORE_NOT_STORED;
	case PLKV_EEXISTS:
		return STORE_EXISTS;
	case PLKV_ENOTFOUND:
		return mode == PLKV_CAS ? STORE_NOT_FOUND : STORE_NOT_STORED;
	case PLKV_ETOOBIG:
		/* memcached: the grown item could not be made */
		if (mode == PLKV_APPEND || mode == PLKV_PREPEND)
			return STORE_NOT_STORED;
		break;
	}
	return STORE_ERROR;
}

/*
 * memcached's size rule: the whole item must fit in the item size limit,
 * its header (48 bytes), the key and its NUL, the client flags when not
 * 0, the value with its \r\n and the CAS (8) included.  So with -I 1m a
 * value of 1,048,514 bytes under a 3-byte key is the largest stored.
 */
bool item_too_large(size_t nkey, uint32_t flags, size_t vlen)
{
	size_t ntotal = 48 + nkey + 1 + (flags ? sizeof(flags) : 0) +
			vlen + 2 + sizeof(uint64_t);

	return ntotal > settings.item_size_eff;
}

/* ---- reading values ---- */

void start_nread(struct conn *c)
{
	c->state = CONN_NREAD;
}

void start_swallow(struct conn *c, size_t n)
{
	c->swallow = n;
	c->state = CONN_SWALLOW;
}

/*
 * Fetch @key's value into the write buffer, HDR_ROOM bytes past its end,
 * growing the room to the value's size when the library reports it too
 * small.  @r is plkv_read()'s options (NULL: a get; gat touches, mg
 * more); @prev, if not NULL, gets the exptime before a touch.  On 0, *val is where the value lies;
 * commit_value() then puts a header before it.  A try whose buffer was
 * too small changed and counted nothing (the library's rule), so the
 * retry's metadata is the item's as this fetch found it.
 */
int fetch_value(struct conn *c, const char *key, size_t klen,
		const struct plkv_read *r, struct plkv_meta *m, int64_t *prev,
		char **val)
{
	size_t cap = c->vsize > 4096 ? c->vsize : 4096;
	bool guess = true;	/* cap is not yet a size the store reported */
	char *p;
	int rc = PLKV_ETOOSMALL, tries;

	for (tries = 0; tries < 16; tries++) {
		p = conn_wreserve(c, HDR_ROOM + cap + 2);
		if (!p && guess && cap > 4096) {
			cap = 4096;	/* a guess the budget can't cover */
			continue;
		}
		if (!p)
			return -ENOMEM;
		*val = p + HDR_ROOM;
		rc = plkv_read(plkvd_kv, key, klen, r, *val, cap, m, prev);
		if (rc != PLKV_ETOOSMALL)
			break;
		cap = m->len;
		guess = false;
	}
	return rc;
}

/* Append @hdr, the value fetch_value() left at @val, and \r\n. */
void commit_value(struct conn *c, const char *hdr, size_t hl,
		  const char *val, size_t len)
{
	char *dst = c->wbuf + c->wlen;

	memmove(dst + hl, val, len);
	memcpy(dst, hdr, hl);
	memcpy(dst + hl + len, "\r\n", 2);
	c->wlen += hl + len + 2;
}

/* memcached's uriencode(): what is not alphanumeric or -._~ as %XX;
 * @out has room for 3 * @n + 1. */
size_t uri_encode(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* ---- watch: the events of a command ---- */

void log_fetch(struct conn *c, const char *key, size_t klen, int rc,
	       const struct plkv_meta *m)
{
	if (!watch_wanted(WATCH_FETCHERS) || (rc && rc != PLKV_ENOTFOUND))
		return;
	char ekey[3 * KEY_MAX_LENGTH + 1];

	if (klen > KEY_MAX_LENGTH)
		return;
	uri_encode(key, klen, ekey);
	watch_fetch(ekey, rc == 0, rc == 0 ? m->slab_class : 0,
		    rc == 0 ? m->len : 0, c->fd);
}

void log_store(struct conn *c, int rc)
{
	static const char *const cmd[] = {
		[PLKV_SET] = "set", [PLKV_ADD] = "add",
		[PLKV_REPLACE] = "replace", [PLKV_APPEND] = "append",
		[PLKV_PREPEND] = "prepend", [PLKV_CAS] = "cas",
	};
	static const char *const status[] = {
		[STORE_OK] = "stored", [STORE_NOT_STORED] = "not_stored",
		[STORE_EXISTS] = "exists", [STORE_NOT_FOUND] = "not_found",
		[STORE_ERROR] = "error",
	};
	const struct pending_store *st = &c->st;
	char ekey[3 * KEY_MAX_LENGTH + 1];
	struct plkv_meta m = { 0 };
	int64_t ttl = st->exptime;

	if (!watch_wanted(WATCH_MUTATIONS))
		return;
	uri_encode(st->key, st->klen, ekey);
	if (rc == 0)	/* the new item's class, as memcached reports it */
		plkv_peek(plkvd_kv, st->key, st->klen, &m);
	if (ttl > REALTIME_MAXDELTA)
		ttl -= (int64_t)time(NULL);
	watch_store(ekey, status[store_outcome(rc, st->mode)],
		    (unsigned)st->mode < ARRAY_SIZE(cmd) && cmd[st->mode] ?
		    cmd[st->mode] : "set", ttl < 0 ? 0 : ttl, m.slab_class,
		    st->vlen - 2, c->fd);
}
