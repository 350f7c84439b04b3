// SPDX-License-Identifier: MIT
/*
 * The classic memcached text protocol.
 *
 * The rules here are memcached 1.6's, down to its quirks, because
 * clients and tools were written against its behaviour rather than its
 * documentation:
 *  - a line ends at \n, an optional \r before it is dropped, and tokens
 *    are split on single spaces only;
 *  - numbers parse like memcached's safe_strto*(): trailing junk fails,
 *    a minus sign fails for unsigned fields, and 32-bit fields take the
 *    low bits of a larger number;
 *  - "noreply" silences the next reply, errors included, for text
 *    commands; meta commands always report errors;
 *  - a storage command whose value will be refused (too large) still
 *    consumes its value: the bytes are read and discarded (CONN_SWALLOW),
 *    never buffered, and the connection goes on;
 *  - a value must end in \r\n, else "CLIENT_ERROR bad data chunk", and
 *    whatever follows the counted bytes is read as the next command.
 *
 * The store is reached only through libplkv.  Values are copied out of
 * the library straight into the write buffer where possible (one key),
 * or in batches through plkv_mget() for multi-gets; a value larger than
 * the space offered comes back PLKV_ETOOSMALL with its size, and is
 * fetched again with room for it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

#define VBUF_MAX	(4u << 20)	/* ... grown up to this for large values */
#define TOO_LARGE	"SERVER_ERROR object too large for cache"
#define OUT_OF_MEMORY	"SERVER_ERROR out of memory storing object"
#define NON_NUMERIC	"CLIENT_ERROR cannot increment or decrement non-numeric value"
#define BAD_EXPTIME	"CLIENT_ERROR invalid exptime argument"
#define BAD_DELTA	"CLIENT_ERROR invalid numeric delta argument"
#define REALTIME_MAXDELTA (60 * 60 * 24 * 30)

__thread struct plkvd_thread_stats *thread_stats;

/* ---- numbers and tokens, as memcached parses them ---- */

static bool end_ok(const char *s, const char *end)
{
	return end != s && (isspace((unsigned char)*end) || *end == '\0');
}

bool safe_strtoull(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	*out = 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || !end_ok(s, end))
		return false;
	if ((long long)v < 0 && memchr(s, '-', (size_t)(end - s)))
		return false;
	*out = v;
	return true;
}

/* 32 bits from a 64-bit parse, as memcached does on LP64. */
bool safe_strtoul(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	*out = 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno == ERANGE || !end_ok(s, end))
		return false;
	if ((long)v < 0 && memchr(s, '-', (size_t)(end - s)))
		return false;
	*out = (uint32_t)v;
	return true;
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

/* A text command's key (t[1]) over 250 bytes: answered, true. */
static bool key_too_long(struct conn *c, const struct token *t)
{
	if (t[1].length <= KEY_MAX_LENGTH)
		return false;
	out_string(c, BAD_FORMAT);
	return true;
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

static void out_store_error(struct conn *c, int rc)
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

/*
 * The read buffer could not grow for the value being read: the connection
 * buffer budget (conn.c) is spent.  Refuse the value as memcached refuses
 * one it can't allocate (a set also drops the old value, as memcached's
 * does) and discard the rest of it, what arrived included.  False when
 * no value was being read.
 */
bool proto_nread_failed(struct conn *c)
{
	if (c->state != CONN_NREAD)
		return false;
	stat_store_error(PLKV_ENOMEM);
	if (c->st.meta)
		out_errstring(c, OUT_OF_MEMORY);
	else
		out_string(c, OUT_OF_MEMORY);
	if (c->st.mode == PLKV_SET)
		plkv_delete(plkvd_kv, c->st.key, c->st.klen);
	start_swallow(c, c->st.vlen);
	return true;
}

void start_swallow(struct conn *c, size_t n)
{
	c->swallow = n;
	c->state = CONN_SWALLOW;
}

static int try_swallow(struct conn *c)
{
	size_t avail = c->rlen - c->rpos;
	size_t n = avail < c->swallow ? avail : c->swallow;

	c->rpos += n;
	c->swallow -= n;
	if (c->swallow == 0) {
		c->state = CONN_CMD;
		return 1;
	}
	return 0;
}

static void text_complete_store(struct conn *c, int rc)
{
	static const char *const answer[] = {
		[STORE_OK] = "STORED",
		[STORE_NOT_STORED] = "NOT_STORED",
		[STORE_EXISTS] = "EXISTS",
		[STORE_NOT_FOUND] = "NOT_FOUND",
	};
	enum store_outcome o = store_outcome(rc, c->st.mode);

	if (o == STORE_ERROR)
		out_store_error(c, rc);
	else
		out_string(c, answer[o]);
}

static int try_nread(struct conn *c)
{
	struct pending_store *st = &c->st;
	uint64_t cas_out = 0;
	char *v;
	int rc;

	if (c->rlen - c->rpos < st->vlen)
		return 0;
	v = c->rbuf + c->rpos;
	c->rpos += st->vlen;
	c->state = CONN_CMD;

	if (v[st->vlen - 2] != '\r' || v[st->vlen - 1] != '\n') {
		if (st->meta)
			out_errstring(c, "CLIENT_ERROR bad data chunk");
		else
			out_string(c, "CLIENT_ERROR bad data chunk");
		return 1;
	}
	rc = plkv_store(plkvd_kv, st->mode |
			(st->invalidate ? PLKV_STORE_INVALIDATE : 0), st->key,
			st->klen, v, st->vlen - 2, st->flags, st->exptime,
			st->cas, &cas_out);
	/* As memcached: a set that failed for space leaves no stale value. */
	if ((rc == PLKV_ETOOBIG || rc == PLKV_ENOMEM) && st->mode == PLKV_SET)
		plkv_delete(plkvd_kv, st->key, st->klen);
	if (st->meta)
		meta_complete_store(c, rc, cas_out);
	else
		text_complete_store(c, rc);
	return 1;
}

/* set/add/replace/append/prepend/cas <key> <flags> <exptime> <bytes> [cas] [noreply] */
static void process_update(struct conn *c, struct token *t, size_t nt,
			   int mode)
{
	struct pending_store *st = &c->st;
	uint32_t flags;
	int32_t exptime, vlen;
	uint64_t cas = 0;

	set_noreply_maybe(c, t, nt);
	if (key_too_long(c, t))
		return;
	if (!safe_strtoul(t[2].value, &flags) ||
	    !safe_strtol(t[3].value, &exptime) ||
	    !safe_strtol(t[4].value, &vlen)) {
		out_string(c, BAD_FORMAT);
		return;
	}
	if (mode == PLKV_CAS && !safe_strtoull(t[5].value, &cas)) {
		out_string(c, BAD_FORMAT);
		return;
	}
	if (vlen < 0 || vlen > INT_MAX - 2) {
		out_string(c, BAD_FORMAT);
		return;
	}
	prefix_record(t[1].value, t[1].length, PREFIX_SET, false);
	if (item_too_large(t[1].length, flags, (size_t)vlen)) {
		stat_store_error(PLKV_ETOOBIG);
		out_string(c, TOO_LARGE);
		if (mode == PLKV_SET)
			plkv_delete(plkvd_kv, t[1].value, t[1].length);
		start_swallow(c, (size_t)vlen + 2);
		return;
	}
	memset(st, 0, offsetof(struct pending_store, key));
	st->mode = mode;
	st->flags = flags;
	st->exptime = exptime;
	st->cas = cas;
	st->vlen = (size_t)vlen + 2;
	st->klen = t[1].length;
	memcpy(st->key, t[1].value, st->klen);
	st->key[st->klen] = '\0';
	start_nread(c);
}

/* ---- get, gets, gat, gats ---- */

/* The next key on a get line from *pos, or 0 at its end.  The tokenizer
 * may have replaced spaces by NULs: both separate keys. */
static size_t next_key(struct conn *c, size_t *pos, size_t end, char **key)
{
	const char *b = c->rbuf;
	size_t p = *pos, s;

	while (p < end && (b[p] == ' ' || b[p] == '\0'))
		p++;
	s = p;
	while (p < end && b[p] != ' ' && b[p] != '\0')
		p++;
	*key = c->rbuf + s;
	*pos = p;
	return p - s;
}

static char *value_header(char *p, const char *key, size_t klen,
			  const struct plkv_meta *m, bool cas)
{
	memcpy(p, "VALUE ", 6);
	p += 6;
	memcpy(p, key, klen);
	p += klen;
	*p++ = ' ';
	p = fmt_u64(p, m->flags);
	*p++ = ' ';
	p = fmt_u64(p, m->len);
	if (cas) {
		*p++ = ' ';
		p = fmt_u64(p, m->cas);
	}
	*p++ = '\r';
	*p++ = '\n';
	return p;
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

static void emit_direct(struct conn *c, const char *key, size_t klen)
{
	struct pending_get *g = &c->get;
	struct plkv_read r = { .flags = PLKV_READ_TOUCH, .exptime = g->exptime };
	struct plkv_meta m;
	char hdr[HDR_ROOM], *val, *e;

	int rc = fetch_value(c, key, klen, g->touch ? &r : NULL, &m, NULL,
			     &val);

	prefix_record(key, klen, PREFIX_GET, rc == 0);
	if (rc == -ENOMEM)
		g->oom = true;
	if (rc)
		return;
	e = value_header(hdr, key, klen, &m, g->cas);
	commit_value(c, hdr, (size_t)(e - hdr), val, m.len);
}

static void emit_batched(struct conn *c, struct plkv_mget_key *k)
{
	char *p, *e;

	if (k->rc == PLKV_ETOOSMALL) {
		emit_direct(c, k->key, k->klen);
		return;
	}
	prefix_record(k->key, k->klen, PREFIX_GET, k->rc == 0);
	if (k->rc != 0)
		return;
	p = conn_wreserve(c, HDR_ROOM + k->meta.len + 2);
	if (!p) {
		c->get.oom = true;
		return;
	}
	e = value_header(p, k->key, k->klen, &k->meta, c->get.cas);
	memcpy(e, c->vbuf + k->off, k->meta.len);
	e += k->meta.len;
	memcpy(e, "\r\n", 2);
	c->wlen = (size_t)(e + 2 - c->wbuf);
}

/*
 * Fetch the next batch of keys at hand with one plkv_mget().  Returns
 * how many (0: none left), or -1 at a key over 250 bytes (only in a
 * streamed line: a whole line is checked before anything is answered).
 */
static int next_batch(struct conn *c)
{
	struct pending_get *g = &c->get;
	size_t n = 0, need = 0, i, save;
	char *key;
	size_t klen;

	while (n < MGET_BATCH) {
		save = g->pos;
		klen = next_key(c, &g->pos, g->end, &key);
		if (!klen)
			break;
		if (klen > KEY_MAX_LENGTH) {
			if (n == 0)
				return -1;
			g->pos = save;	/* answer the keys before it first */
			break;
		}
		g->keys[n].key = key;
		g->keys[n].klen = klen;
		n++;
	}
	g->n = n;
	g->i = 0;
	if (n == 0 || g->touch || (n == 1 && g->pos >= g->end))
		return (int)n;	/* answered one by one, by emit_direct() */
	/*
	 * The buffer is replaced only here, when every value of the batch
	 * before has been emitted from it: emit_batched() copies out of it
	 * until then, one write buffer at a time.
	 */
	if (!c->vbuf || c->vwant > c->vsize) {
		size_t sz = c->vwant > VBUF_INIT ? c->vwant : VBUF_INIT;

		if (!conn_vbuf_renew(c, sz) && !c->vbuf) {
			c->state = CONN_CLOSING;
			return 0;
		}
	}
	plkv_mget(plkvd_kv, g->keys, n, c->vbuf, c->vsize);
	/* Values that did not fit are fetched alone; make room for next time. */
	for (i = 0; i < n; i++)
		if (g->keys[i].rc == PLKV_ETOOSMALL)
			need += g->keys[i].meta.len;
	if (need && c->vsize < VBUF_MAX) {
		size_t sz = c->vsize;

		while (sz < need + c->vsize / 2 && sz < VBUF_MAX)
			sz *= 2;
		c->vwant = sz;
	}
	return (int)n;
}

/*
 * A streamed get line, everything before rpos answered: take the next
 * part of it, up to the line's end if that has arrived, else up to the
 * last space (the keys that arrived whole).  Returns 1 with keys at hand
 * (or the line's end), 0 to wait for more input, -1 for a key over 250
 * bytes.
 */
static int stream_more(struct conn *c)
{
	struct pending_get *g = &c->get;
	char *s, *el, *sp, *end;
	size_t avail;

	while (c->rpos < c->rlen &&
	       (c->rbuf[c->rpos] == ' ' || c->rbuf[c->rpos] == '\0'))
		c->rpos++;
	s = c->rbuf + c->rpos;
	avail = c->rlen - c->rpos;
	g->pos = c->rpos;
	el = memchr(s, '\n', avail);
	if (el) {
		end = el;
		if (end > s && end[-1] == '\r')
			end--;
		g->end = (size_t)(end - c->rbuf);
		g->next = (size_t)(el + 1 - c->rbuf);
		g->stream = false;
		return 1;
	}
	sp = memrchr(s, ' ', avail);
	if (!sp)	/* a key still arriving */
		return avail > KEY_MAX_LENGTH ? -1 : 0;
	g->end = (size_t)(sp - c->rbuf);
	return 1;
}

/*
 * End a get line early: a key over 250 bytes (CLIENT_ERROR), or a value
 * the connection buffer budget can't take (memcached's reply when it
 * can't build a get response); the rest of the line is not answered.
 */
static int get_abort(struct conn *c, const char *reply)
{
	struct pending_get *g = &c->get;

	out_errstring(c, reply);
	if (g->stream) {
		c->state = CONN_SWALLOW_LINE;
	} else {
		c->rpos = g->next;
		c->state = CONN_CMD;
	}
	return 1;
}

/* Answer keys until the line is done (END) or output passes WBUF_HIGH;
 * 0 when a streamed line needs more input. */
static int get_continue(struct conn *c)
{
	struct pending_get *g = &c->get;
	bool direct;
	int n;

	for (;;) {
		if (g->i == g->n) {
			n = g->refill ? 0 : next_batch(c);
			if (n == 0 && g->stream && c->state == CONN_GET) {
				if (!g->refill)
					c->rpos = g->pos;
				g->refill = false;
				n = stream_more(c);
				if (n == 0) {
					g->refill = true;
					return 0;
				}
				if (n > 0)
					continue;
			}
			if (n < 0)
				return get_abort(c, BAD_FORMAT);
			if (n == 0) {
				if (c->state == CONN_CLOSING)
					return -1;
				conn_out(c, "END\r\n", 5);
				c->rpos = g->next;
				if (c->state == CONN_GET)
					c->state = CONN_CMD;
				return 1;
			}
		}
		direct = g->touch || (g->n == 1 && g->pos >= g->end);
		while (g->i < g->n) {
			struct plkv_mget_key *k = &g->keys[g->i++];

			if (direct)
				emit_direct(c, k->key, k->klen);
			else
				emit_batched(c, k);
			if (c->state == CONN_CLOSING)
				return -1;
			if (g->oom)
				return get_abort(c, "SERVER_ERROR out of memory "
						 "writing get response");
			if (c->wlen - c->wpos > WBUF_HIGH)
				return 1;
		}
	}
}

static void process_get(struct conn *c, struct token *t, size_t nt,
			char *line, size_t len, bool cas, bool touch)
{
	struct pending_get *g = &c->get;
	size_t pos, end, klen;
	int32_t exptime = 0;
	char *key;

	(void)nt;
	if (touch && !safe_strtol(t[1].value, &exptime)) {
		out_string(c, BAD_EXPTIME);
		return;
	}
	/* Keys start after the command (and the exptime of gat). */
	pos = (size_t)((touch ? t[1].value + t[1].length : t[0].value +
			t[0].length) - c->rbuf);
	end = (size_t)(line + len - c->rbuf);
	/* Check every key first: memcached answers a bad one with an error
	 * instead of any value. */
	for (size_t p = pos; (klen = next_key(c, &p, end, &key)) != 0;) {
		if (klen > KEY_MAX_LENGTH) {
			out_string(c, BAD_FORMAT);
			return;
		}
	}
	g->pos = pos;
	g->end = end;
	g->next = c->rpos;
	g->stream = false;
	g->refill = false;
	g->cas = cas;
	g->touch = touch;
	g->oom = false;
	g->exptime = exptime;
	g->n = g->i = 0;
	c->state = CONN_GET;
	get_continue(c);
}

/*
 * A get line past LINE_LIMIT without its end: answer it as it arrives
 * (memcached takes get lines of any length; holding one whole would not
 * be bounded).  Unlike a whole line, a key over 250 bytes found here
 * comes after the values already sent: the error follows them and the
 * rest of the line is discarded.
 */
static int start_get_stream(struct conn *c)
{
	struct pending_get *g = &c->get;
	char *p = c->rbuf + c->rpos;

	while (*p == ' ')
		p++;
	g->cas = p[3] == 's';
	if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 1)
		fprintf(stderr, "<%d %s (a long line, answered as it comes)\n",
			c->fd, g->cas ? "gets" : "get");
	c->rpos = (size_t)(p + (g->cas ? 4 : 3) - c->rbuf);
	g->touch = false;
	g->oom = false;
	g->exptime = 0;
	g->stream = true;
	g->refill = true;
	g->pos = g->end = g->next = 0;
	g->n = g->i = 0;
	c->state = CONN_GET;
	return 1;
}

static int try_swallow_line(struct conn *c)
{
	char *el = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);

	if (!el) {
		c->rpos = c->rlen;
		return 0;
	}
	c->rpos = (size_t)(el + 1 - c->rbuf);
	c->state = CONN_CMD;
	return 1;
}

/* ---- the other commands ---- */

static void process_arithmetic(struct conn *c, struct token *t, size_t nt,
			       int incr)
{
	uint64_t delta, result;
	char buf[24];
	int rc;

	set_noreply_maybe(c, t, nt);
	if (key_too_long(c, t))
		return;
	if (!safe_strtoull(t[2].value, &delta)) {
		out_string(c, BAD_DELTA);
		return;
	}
	if (incr)
		rc = plkv_incr(plkvd_kv, t[1].value, t[1].length, delta, &result);
	else
		rc = plkv_decr(plkvd_kv, t[1].value, t[1].length, delta, &result);
	switch (rc) {
	case 0:
		*fmt_u64(buf, result) = '\0';
		out_string(c, buf);
		break;
	case PLKV_ENONNUMERIC:
		out_string(c, NON_NUMERIC);
		break;
	case PLKV_ENOTFOUND:
		out_string(c, "NOT_FOUND");
		break;
	case PLKV_ENOMEM:
		out_string(c, "SERVER_ERROR out of memory");
		break;
	default:
		out_store_error(c, rc);
		break;
	}
}

static void process_delete(struct conn *c, struct token *t, size_t nt,
			   int arg __maybe_unused)
{
	int rc;

	if (nt > 3) {
		bool zero = strcmp(t[2].value, "0") == 0;
		bool noreply = set_noreply_maybe(c, t, nt);
		bool valid = (nt == 4 && (zero || noreply)) ||
			     (nt == 5 && zero && noreply);

		if (!valid) {
			out_string(c, "CLIENT_ERROR bad command line format.  "
				   "Usage: delete <key> [noreply]");
			return;
		}
	}
	if (key_too_long(c, t))
		return;
	prefix_record(t[1].value, t[1].length, PREFIX_DELETE, false);
	rc = plkv_delete(plkvd_kv, t[1].value, t[1].length);
	if (rc == 0)
		out_string(c, "DELETED");
	else if (rc == PLKV_ENOTFOUND)
		out_string(c, "NOT_FOUND");
	else
		out_store_error(c, rc);
}

static void process_touch(struct conn *c, struct token *t, size_t nt,
			   int arg __maybe_unused)
{
	int32_t exptime;
	int rc;

	set_noreply_maybe(c, t, nt);
	if (key_too_long(c, t))
		return;
	if (!safe_strtol(t[2].value, &exptime)) {
		out_string(c, BAD_EXPTIME);
		return;
	}
	rc = plkv_touch(plkvd_kv, t[1].value, t[1].length, exptime);
	if (rc == 0)
		out_string(c, "TOUCHED");
	else if (rc == PLKV_ENOTFOUND)
		out_string(c, "NOT_FOUND");
	else
		out_store_error(c, rc);
}

static void process_flush_all(struct conn *c, struct token *t, size_t nt,
			   int arg __maybe_unused)
{
	int32_t exptime = 0;
	int64_t delay = 0;

	set_noreply_maybe(c, t, nt);
	if (nt != (c->noreply ? 3u : 2u) && !safe_strtol(t[1].value, &exptime)) {
		out_string(c, BAD_EXPTIME);
		return;
	}
	/* As an exptime: past 30 days it is an absolute time. */
	if (exptime > REALTIME_MAXDELTA)
		delay = (int64_t)exptime - (int64_t)time(NULL);
	else if (exptime > 0)
		delay = exptime;
	if (delay < 0)
		delay = 0;
	plkv_flush_all(plkvd_kv, delay);
	out_string(c, "OK");
}

static void process_verbosity(struct conn *c, struct token *t, size_t nt,
			   int arg __maybe_unused)
{
	uint32_t level;

	set_noreply_maybe(c, t, nt);
	if (!safe_strtoul(t[1].value, &level)) {
		out_string(c, BAD_FORMAT);
		return;
	}
	__atomic_store_n(&settings.verbose,
			 level > MAX_VERBOSITY ? MAX_VERBOSITY : (int)level,
			 __ATOMIC_RELAXED);
	out_string(c, "OK");
}

/* ---- stats ---- */

struct stat_ctx {
	struct conn *c;
	const char *const *skip;	/* names the server already gave */
};

static int stat_line(void *ctx, const char *name, const char *value)
{
	struct stat_ctx *sc = ctx;

	for (const char *const *s = sc->skip; s && *s; s++)
		if (strcmp(*s, name) == 0)
			return 0;
	return conn_printf(sc->c, "STAT %s %s\r\n", name, value) ? -ENOMEM : 0;
}

static const char *const general_names[] = {
	"pid", "uptime", "time", "version", "libplkv", "pointer_size",
	"rusage_user", "rusage_system", "max_connections", "curr_connections",
	"total_connections", "rejected_connections", "connection_structures",
	"cmd_meta", "bytes_read", "bytes_written", "store_too_large",
	"store_no_memory", "threads",
	"accepting_conns", NULL
};

static void server_stats_general(struct conn *c)
{
	struct plkvd_thread_stats ts;
	struct rusage ru;
	time_t now = time(NULL);

	memset(&ts, 0, sizeof(ts));
	net_thread_stats(&ts);
	getrusage(RUSAGE_SELF, &ru);
	conn_printf(c, "STAT pid %ld\r\n", (long)getpid());
	conn_printf(c, "STAT uptime %ld\r\n", (long)(now - plkvd_started));
	conn_printf(c, "STAT time %ld\r\n", (long)now);
	conn_printf(c, "STAT version %s\r\n", PLKVD_VERSION);
	conn_printf(c, "STAT libplkv %s\r\n", plkv_version());
	conn_printf(c, "STAT pointer_size %d\r\n", (int)(8 * sizeof(void *)));
	conn_printf(c, "STAT rusage_user %ld.%06ld\r\n",
		    (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
	conn_printf(c, "STAT rusage_system %ld.%06ld\r\n",
		    (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
	conn_printf(c, "STAT max_connections %u\r\n", settings.maxconns);
	conn_printf(c, "STAT curr_connections %llu\r\n", (unsigned long long)
		    __atomic_load_n(&server_stats.curr_conns, __ATOMIC_RELAXED));
	conn_printf(c, "STAT total_connections %llu\r\n", (unsigned long long)
		    __atomic_load_n(&server_stats.total_conns, __ATOMIC_RELAXED));
	conn_printf(c, "STAT rejected_connections %llu\r\n", (unsigned long long)
		    __atomic_load_n(&server_stats.rejected_conns, __ATOMIC_RELAXED));
	conn_printf(c, "STAT connection_structures %llu\r\n", (unsigned long long)
		    __atomic_load_n(&server_stats.conn_structs, __ATOMIC_RELAXED));
	conn_printf(c, "STAT cmd_meta %llu\r\n", (unsigned long long)ts.cmd_meta);
	conn_printf(c, "STAT bytes_read %llu\r\n",
		    (unsigned long long)ts.bytes_read);
	conn_printf(c, "STAT bytes_written %llu\r\n",
		    (unsigned long long)ts.bytes_written);
	conn_printf(c, "STAT store_too_large %llu\r\n",
		    (unsigned long long)ts.store_too_large);
	conn_printf(c, "STAT store_no_memory %llu\r\n",
		    (unsigned long long)ts.store_no_memory);
	conn_printf(c, "STAT threads %u\r\n", settings.threads);
	conn_printf(c, "STAT conn_buffer_bytes %llu\r\n",
		    (unsigned long long)conn_buffered());
	conn_printf(c, "STAT accepting_conns 1\r\n");
}

static const char *const settings_names[] = {
	"maxconns", "tcpport", "udpport", "inter", "verbosity",
	"domain_socket", "umask", "num_threads", "tcp_backlog",
	"binding_protocol", "segment", NULL
};

static void server_stats_settings(struct conn *c)
{
	conn_printf(c, "STAT maxconns %u\r\n", settings.maxconns);
	conn_printf(c, "STAT tcpport %d\r\n", settings.port);
	conn_printf(c, "STAT udpport 0\r\n");
	conn_printf(c, "STAT inter %s\r\n",
		    settings.listen ? settings.listen : "NULL");
	conn_printf(c, "STAT verbosity %d\r\n",
		    __atomic_load_n(&settings.verbose, __ATOMIC_RELAXED));
	conn_printf(c, "STAT domain_socket %s\r\n",
		    settings.unix_path ? settings.unix_path : "NULL");
	conn_printf(c, "STAT umask %o\r\n", settings.unix_mask);
	conn_printf(c, "STAT num_threads %u\r\n", settings.threads);
	conn_printf(c, "STAT tcp_backlog %d\r\n", settings.backlog);
	conn_printf(c, "STAT binding_protocol ascii\r\n");
	conn_printf(c, "STAT segment %s\r\n", settings.segment);
}

static void process_stats(struct conn *c, struct token *t, size_t nt,
			   int arg __maybe_unused)
{
	struct stat_ctx sc = { .c = c };
	const char *group = NULL;
	size_t mark = c->wlen;
	int rc;

	if (nt > 2)
		group = t[1].value;
	if (!group) {
		server_stats_general(c);
		sc.skip = general_names;
	} else if (strcmp(group, "settings") == 0) {
		server_stats_settings(c);
		sc.skip = settings_names;
	} else if (strcmp(group, "reset") == 0) {
		rc = plkv_stats_reset(plkvd_kv);
		net_stats_reset();
		prefix_clear();
		if (rc)
			out_store_error(c, rc);
		else
			out_string(c, "RESET");
		return;
	} else if (strcmp(group, "detail") == 0) {
		process_stats_detail(c, t, nt);
		return;
	} else if (strcmp(group, "sizes") == 0) {
		/* memcached's answer without -o track_sizes: the store keeps
		 * no item size histogram */
		conn_printf(c, "STAT sizes_status disabled\r\nEND\r\n");
		return;
	} else if (strcmp(group, "cachedump") == 0) {
		process_stats_cachedump(c, t, nt);
		return;
	}
	rc = plkv_stats(plkvd_kv, group, stat_line, &sc);
	if (c->state == CONN_CLOSING)
		return;
	if (rc == -EINVAL && group && !sc.skip) {
		c->wlen = mark;
		out_string(c, "ERROR");
		return;
	}
	conn_out(c, "END\r\n", 5);
}

/* ---- dispatch ---- */

#define WANT(cond)				\
	do {					\
		if (!(cond)) {			\
			out_string(c, "ERROR");	\
			return;			\
		}				\
	} while (0)

static void process_version(struct conn *c, struct token *t __maybe_unused,
			    size_t nt __maybe_unused, int arg __maybe_unused)
{
	out_string(c, "VERSION " PLKVD_VERSION);
}

static void process_quit(struct conn *c, struct token *t __maybe_unused,
			 size_t nt __maybe_unused, int arg __maybe_unused)
{
	c->state = CONN_CLOSING;
}

static void process_shutdown(struct conn *c, struct token *t __maybe_unused,
			     size_t nt __maybe_unused,
			     int arg __maybe_unused)
{
	out_string(c, "ERROR: shutdown not enabled");
}

/*
 * The text commands but the gets and meta, with their token counts as
 * memcached checks them (the last, empty token included; 0: unchecked):
 * a count out of range is answered ERROR.
 */
static const struct text_cmd {
	const char *name;
	uint8_t min_nt, max_nt;
	void (*fn)(struct conn *c, struct token *t, size_t nt, int arg);
	int arg;
} text_cmds[] = {
	{ "set",		6, 7, process_update, PLKV_SET },
	{ "add",		6, 7, process_update, PLKV_ADD },
	{ "replace",		6, 7, process_update, PLKV_REPLACE },
	{ "append",		6, 7, process_update, PLKV_APPEND },
	{ "prepend",		6, 7, process_update, PLKV_PREPEND },
	{ "cas",		7, 8, process_update, PLKV_CAS },
	{ "incr",		4, 5, process_arithmetic, true },
	{ "decr",		4, 5, process_arithmetic, false },
	{ "delete",		3, 5, process_delete, 0 },
	{ "touch",		4, 5, process_touch, 0 },
	{ "stats",		0, 0, process_stats, 0 },
	{ "flush_all",		2, 4, process_flush_all, 0 },
	{ "version",		0, 0, process_version, 0 },
	{ "quit",		0, 0, process_quit, 0 },
	{ "verbosity",		3, 4, process_verbosity, 0 },
	{ "lru_crawler",	0, 0, process_lru_crawler, 0 },
	{ "slabs",		0, 0, process_slabs, 0 },
	{ "cache_memlimit",	0, 0, process_cache_memlimit, 0 },
	{ "shutdown",		0, 0, process_shutdown, 0 },
};

static void process_command(struct conn *c, char *line, size_t len)
{
	struct token t[MAX_TOKENS];
	const struct text_cmd *tc;
	const char *cmd;
	size_t nt;

	if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 1)
		fprintf(stderr, "<%d %s\n", c->fd, line);
	c->noreply = false;
	nt = tokenize_command(line, len, t, MAX_TOKENS);
	if (nt < 2 || t[0].length < 2) {
		out_string(c, "ERROR");
		return;
	}
	cmd = t[0].value;
	if (cmd[0] == 'm' && t[0].length == 2) {
		process_meta(c, t, nt);
		return;
	}
	/* the gets first, the commands that come most */
	if (cmd[0] == 'g' || cmd[0] == 'b') {
		bool get = strcmp(cmd, "get") == 0 || strcmp(cmd, "bget") == 0;
		bool gets = strcmp(cmd, "gets") == 0;
		bool gat = strcmp(cmd, "gat") == 0, gats = strcmp(cmd, "gats") == 0;

		if (get || gets || gat || gats) {
			WANT(nt >= 3);
			process_get(c, t, nt, line, len, gets || gats,
				    gat || gats);
			return;
		}
	}
	for (tc = text_cmds; tc < text_cmds + ARRAY_SIZE(text_cmds); tc++) {
		if (strcmp(cmd, tc->name) != 0)
			continue;
		WANT((!tc->min_nt || nt >= tc->min_nt) &&
		     (!tc->max_nt || nt <= tc->max_nt));
		tc->fn(c, t, nt, tc->arg);
		return;
	}
	if (strncmp(t[nt - 2].value, "HTTP/", 5) == 0) {
		/*
		 * A browser's request line (a web page can make one to a
		 * cache on localhost): hang up unanswered, as memcached does,
		 * before its body can be read as commands.
		 */
		c->wpos = c->wlen = 0;
		c->state = CONN_CLOSING;
		return;
	}
	out_string(c, "ERROR");
}

/* A line past LINE_LIMIT without a newline may only be a long get. */
static bool is_get_line(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && i <= 100 && p[i] == ' ')
		i++;
	if (i > 100)
		return false;
	p += i;
	n -= i;
	return (n >= 4 && memcmp(p, "get ", 4) == 0) ||
	       (n >= 5 && memcmp(p, "gets ", 5) == 0);
}

static int try_read_command(struct conn *c)
{
	char *start = c->rbuf + c->rpos, *el, *end;
	size_t avail = c->rlen - c->rpos;

	if (avail == 0)
		return 0;
	el = memchr(start, '\n', avail);
	if (!el) {
		if (avail <= LINE_LIMIT)
			return 0;
		if (is_get_line(start, avail))
			return start_get_stream(c);
		c->state = CONN_CLOSING;	/* junk, as memcached sees it */
		return -1;
	}
	end = el;
	if (el - start > 1 && el[-1] == '\r')
		end--;
	*end = '\0';
	c->rpos = (size_t)(el + 1 - c->rbuf);
	/* A NUL inside the line ends it, as it does for memcached. */
	process_command(c, start, strnlen(start, (size_t)(end - start)));
	return 1;
}

/*
 * Consume what the read buffer holds, appending replies.  Returns
 * PROTO_WANT_READ when it needs more input, PROTO_WANT_WRITE when the
 * output passed WBUF_HIGH (call again once it is sent), PROTO_CLOSE when
 * the connection should be closed after sending what is written.
 */
int proto_process(struct conn *c)
{
	int rc;

	for (;;) {
		if (c->state == CONN_CLOSING)
			return PROTO_CLOSE;
		if (c->wlen - c->wpos > WBUF_HIGH)
			return PROTO_WANT_WRITE;
		switch (c->state) {
		case CONN_CMD:
			rc = try_read_command(c);
			break;
		case CONN_NREAD:
			rc = try_nread(c);
			break;
		case CONN_SWALLOW:
			rc = try_swallow(c);
			break;
		case CONN_GET:
			rc = get_continue(c);
			break;
		case CONN_SWALLOW_LINE:
			rc = try_swallow_line(c);
			break;
		default:
			rc = -1;
			break;
		}
		if (rc < 0 || c->state == CONN_CLOSING)
			return PROTO_CLOSE;
		if (rc == 0)
			return PROTO_WANT_READ;
	}
}

/*
 * How many bytes the next read should have room for.  A value being read
 * grows the buffer by at most READ_STEP at a time, so a client that
 * announces a large value and sends nothing costs nothing.
 */
#define READ_STEP	(128u << 10)

size_t proto_read_hint(struct conn *c)
{
	size_t have = c->rlen - c->rpos, want;

	if (c->state != CONN_NREAD || c->st.vlen <= have)
		return 4096;
	want = c->st.vlen - have;
	if (want > READ_STEP)
		return READ_STEP;
	return want > 4096 ? want : 4096;
}
