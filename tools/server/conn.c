// SPDX-License-Identifier: MIT
/*
 * Connection buffers.
 *
 * Buffers start small and grow by doubling to what a command needs: a
 * read buffer to hold one value (at most the item size limit plus its
 * command line) or one long get line, a write buffer to hold replies up
 * to about WBUF_HIGH plus one value.  When a connection goes idle with a
 * buffer grown past SHRINK_ABOVE, conn_shrink() gives it back, so a
 * thousand idle clients cost little whatever they once sent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define RBUF_INIT	8192
#define WBUF_INIT	8192
#define SHRINK_ABOVE	(64u << 10)

int conn_init(struct conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->state = CONN_CMD;
	c->rbuf = malloc(RBUF_INIT);
	c->wbuf = malloc(WBUF_INIT);
	if (!c->rbuf || !c->wbuf) {
		free(c->rbuf);
		free(c->wbuf);
		c->rbuf = c->wbuf = NULL;
		return -1;
	}
	c->rsize = RBUF_INIT;
	c->wsize = WBUF_INIT;
	return 0;
}

void conn_release(struct conn *c)
{
	free(c->rbuf);
	free(c->wbuf);
	free(c->vbuf);
	c->rbuf = c->wbuf = c->vbuf = NULL;
	c->rsize = c->wsize = c->vsize = c->vwant = 0;
}

static size_t grow_size(size_t have, size_t need)
{
	size_t n = have ? have : 4096;

	while (n < need)
		n *= 2;
	return n;
}

/*
 * Make room to read at least @need more bytes at rlen.  Slides the
 * unconsumed bytes to the front first; grows only when that is not
 * enough.
 */
int conn_rreserve(struct conn *c, size_t need)
{
	char *p;
	size_t n;

	if (c->rpos > 0) {
		if (c->rlen > c->rpos)
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rsize - c->rlen >= need)
		return 0;
	n = grow_size(c->rsize, c->rlen + need);
	p = realloc(c->rbuf, n);
	if (!p)
		return -1;
	c->rbuf = p;
	c->rsize = n;
	return 0;
}

/* Room for @n more bytes of output at wlen; NULL if out of memory. */
char *conn_wreserve(struct conn *c, size_t n)
{
	char *p;
	size_t sz;

	if (c->wpos == c->wlen)
		c->wpos = c->wlen = 0;
	if (c->wsize - c->wlen >= n)
		return c->wbuf + c->wlen;
	if (c->wpos > 0) {
		memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
		c->wlen -= c->wpos;
		c->wpos = 0;
		if (c->wsize - c->wlen >= n)
			return c->wbuf + c->wlen;
	}
	sz = grow_size(c->wsize, c->wlen + n);
	p = realloc(c->wbuf, sz);
	if (!p)
		return NULL;
	c->wbuf = p;
	c->wsize = sz;
	return c->wbuf + c->wlen;
}

int conn_out(struct conn *c, const void *data, size_t n)
{
	char *p = conn_wreserve(c, n);

	if (!p) {
		c->state = CONN_CLOSING;
		return -1;
	}
	memcpy(p, data, n);
	c->wlen += n;
	return 0;
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	p = conn_wreserve(c, 512);
	if (!p)
		goto oom;
	va_start(ap, fmt);
	n = vsnprintf(p, 512, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n >= 512) {
		p = conn_wreserve(c, (size_t)n + 1);
		if (!p)
			goto oom;
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	c->wlen += (size_t)n;
	return 0;
oom:
	c->state = CONN_CLOSING;
	return -1;
}

void out_string(struct conn *c, const char *s)
{
	if (c->noreply) {
		c->noreply = false;
		return;
	}
	out_errstring(c, s);
}

void out_errstring(struct conn *c, const char *s)
{
	size_t n = strlen(s);
	char *p = conn_wreserve(c, n + 2);

	c->noreply = false;
	if (!p) {
		c->state = CONN_CLOSING;
		return;
	}
	memcpy(p, s, n);
	p[n] = '\r';
	p[n + 1] = '\n';
	c->wlen += n + 2;
}

/* Replace an emptied buffer by a new one of @size; false (the old one
 * kept) when there is no memory for it. */
static bool buf_renew(char **buf, size_t *cur, size_t size)
{
	char *p = malloc(size);

	if (!p)
		return false;
	free(*buf);
	*buf = p;
	*cur = size;
	return true;
}

/* Called by the network layer when the connection is idle. */
void conn_shrink(struct conn *c)
{
	if (c->state != CONN_CMD)
		return;
	if (c->rsize > SHRINK_ABOVE && c->rpos == c->rlen &&
	    buf_renew(&c->rbuf, &c->rsize, RBUF_INIT))
		c->rpos = c->rlen = 0;
	if (c->wsize > SHRINK_ABOVE && c->wpos == c->wlen &&
	    buf_renew(&c->wbuf, &c->wsize, WBUF_INIT))
		c->wpos = c->wlen = 0;
	if (c->vsize > SHRINK_ABOVE) {
		free(c->vbuf);
		c->vbuf = NULL;
		c->vsize = c->vwant = 0;
	}
}
