// SPDX-License-Identifier: MIT
/*
 * The connection's state machine: frames command lines and values out of
 * the read buffer and hands each to its protocol (meta commands to
 * proto_meta.c, the others to proto_text.c), then carries on where a
 * command left the connection: reading its value (CONN_NREAD),
 * discarding one (CONN_SWALLOW, CONN_SWALLOW_LINE), answering a multi-get
 * batch by batch (CONN_GET).  It knows nothing of sockets: net.c calls
 * proto_process() with what arrived.
 *
 * As memcached: a line ends at \n, an optional \r before it dropped; a
 * value must end in \r\n, else "CLIENT_ERROR bad data chunk", and what
 * follows the counted bytes is read as the next command.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"


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
	log_store(c, rc);
	if (st->meta)
		meta_complete_store(c, rc, cas_out);
	else
		text_complete_store(c, rc);
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

static void process_command(struct conn *c, char *line, size_t len)
{
	struct token t[MAX_TOKENS];
	size_t nt;

	if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 1)
		fprintf(stderr, "<%d %s\n", c->fd, line);
	c->noreply = false;
	c->last_cmd = time(NULL);
	c->commanded = true;
	nt = tokenize_command(line, len, t, MAX_TOKENS);
	if (nt < 2 || t[0].length < 2) {
		out_string(c, "ERROR");
		return;
	}
	if (t[0].value[0] == 'm' && t[0].length == 2)
		process_meta(c, t, nt);
	else
		process_text(c, t, nt, line, len);
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
		conn_set_closing(c, "error");	/* junk, as memcached sees it */
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
		if (c->state == CONN_WATCH)
			return PROTO_WATCH;	/* what follows "watch" is not read */
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
		if (c->state == CONN_WATCH)
			return PROTO_WATCH;
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
