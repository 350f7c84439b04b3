// SPDX-License-Identifier: MIT
/*
 * The classic memcached text protocol.
 *
 * The rules here are memcached 1.6's, down to its quirks, because
 * clients and tools were written against its behaviour rather than its
 * documentation:
 *  - tokens are split on single spaces only, numbers parse like
 *    memcached's safe_strto*() (proto_common.c);
 *  - "noreply" silences the next reply, errors included, for text
 *    commands; meta commands always report errors;
 *  - a storage command whose value will be refused (too large) still
 *    consumes its value: the bytes are read and discarded (CONN_SWALLOW),
 *    never buffered, and the connection goes on.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define VBUF_MAX	(4u << 20)	/* ... grown up to this for large values */
#define NON_NUMERIC	"CLIENT_ERROR cannot increment or decrement non-numeric value"
#define BAD_EXPTIME	"CLIENT_ERROR invalid exptime argument"
#define BAD_DELTA	"CLIENT_ERROR invalid numeric delta argument"

/* A text command's key (t[1]) over 250 bytes: answered, true. */
static bool key_too_long(struct conn *c, const struct token *t)
{
	if (t[1].length <= KEY_MAX_LENGTH)
		return false;
	out_string(c, BAD_FORMAT);
	return true;
}

void text_complete_store(struct conn *c, int rc)
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

static void emit_direct(struct conn *c, const char *key, size_t klen)
{
	struct pending_get *g = &c->get;
	struct plkv_read r = { .flags = PLKV_READ_TOUCH, .exptime = g->exptime };
	struct plkv_meta m;
	char hdr[HDR_ROOM], *val, *e;

	int rc = fetch_value(c, key, klen, g->touch ? &r : NULL, &m, NULL,
			     &val);

	prefix_record(key, klen, PREFIX_GET, rc == 0);
	log_fetch(c, key, klen, rc, &m);
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
	log_fetch(c, k->key, k->klen, k->rc, &k->meta);
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
			conn_set_closing(c, "error");
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
int get_continue(struct conn *c)
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
int start_get_stream(struct conn *c)
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
	if (settings.flush_disabled) {
		out_string(c, "CLIENT_ERROR flush_all not allowed");
		return;
	}
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
	"store_no_memory", "threads", "listen_disabled_num",
	"time_in_listen_disabled_us", "accepting_conns", NULL
};

static void server_stats_general(struct conn *c)
{
	struct plkvd_thread_stats ts;
	struct rusage ru;
	time_t now = time(NULL);

	memset(&ts, 0, sizeof(ts));
	counters_sum(&ts);
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
	/* plkvd never stops accepting: past -c it answers and closes */
	conn_printf(c, "STAT listen_disabled_num 0\r\n");
	conn_printf(c, "STAT time_in_listen_disabled_us 0\r\n");
	conn_printf(c, "STAT accepting_conns 1\r\n");
}

static const char *const settings_names[] = {
	"maxconns", "tcpport", "udpport", "inter", "verbosity",
	"domain_socket", "umask", "num_threads", "tcp_backlog",
	"binding_protocol", "auth_enabled_sasl", "shutdown_command",
	"flush_enabled", "segment", NULL
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
	conn_printf(c, "STAT auth_enabled_sasl no\r\n");
	conn_printf(c, "STAT shutdown_command %s\r\n",
		    settings.shutdown_enabled ? "yes" : "no");
	conn_printf(c, "STAT flush_enabled %s\r\n",
		    settings.flush_disabled ? "no" : "yes");
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
		counters_reset();
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
	} else if (strcmp(group, "conns") == 0) {
		process_stats_conns(c);
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

/* shutdown [graceful], with -A: close this connection and stop as at
 * SIGINT (memcached's graceful mode restarts a warm cache; a plkv store
 * outlives the server anyway). */
static void process_shutdown(struct conn *c, struct token *t, size_t nt,
			     int arg __maybe_unused)
{
	if (!settings.shutdown_enabled) {
		out_string(c, "ERROR: shutdown not enabled");
		return;
	}
	if (nt == 2 || (nt == 3 && strcmp(t[1].value, "graceful") == 0)) {
		conn_set_closing(c, "shutdown");
		kill(getpid(), SIGINT);	/* main.c's wait ends */
		return;
	}
	out_string(c, "CLIENT_ERROR invalid shutdown mode");
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
	{ "watch",		0, 0, process_watch, 0 },
};


/* A text command line (not meta), tokenized. */
void process_text(struct conn *c, struct token *t, size_t nt, char *line,
		  size_t len)
{
	const char *cmd = t[0].value;
	const struct text_cmd *tc;

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
		conn_set_closing(c, "error");
		return;
	}
	out_string(c, "ERROR");
}
