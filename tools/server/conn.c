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
 *
 * Growth past the first size draws on one budget for the whole server
 * (--conn-buffer-limit): a thousand clients stalled halfway through a
 * 1 MB value, or never reading their replies, hold at most that much
 * between them.  A value that stops fitting the budget as it arrives is
 * refused and the rest of it discarded (SERVER_ERROR out of memory
 * storing object, as memcached when it can't allocate the item); a get
 * reply that doesn't fit ends its line with memcached's out-of-memory
 * reply; other output that doesn't fit closes the connection, as a failed
 * allocation always did.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conn.h"

#define RBUF_INIT	8192
#define WBUF_INIT	8192
#define SHRINK_ABOVE	(64u << 10)

static _Atomic uint64_t buffered;	/* the budget's use, all threads */

/* Every connection, for "stats conns"; listeners are fixed at start. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *all_conns;
#define MAX_LISTEN_VIEWS	16
static struct conn_view listen_views[MAX_LISTEN_VIEWS];
static size_t nlisten_views;
static size_t nall_conns;

uint64_t conn_buffered(void)
{
	return atomic_load_explicit(&buffered, memory_order_relaxed);
}

/* Account for a buffer going from @from to @to bytes past its first
 * @init; false (nothing taken) when the budget can't cover the growth. */
static bool budget_resize(size_t init, size_t from, size_t to)
{
	uint64_t old_x = from > init ? from - init : 0;
	uint64_t new_x = to > init ? to - init : 0;
	uint64_t cur;

	if (new_x <= old_x) {
		atomic_fetch_sub_explicit(&buffered, old_x - new_x,
					  memory_order_relaxed);
		return true;
	}
	cur = atomic_fetch_add_explicit(&buffered, new_x - old_x,
					memory_order_relaxed);
	if (cur + (new_x - old_x) <= settings.conn_buffer_limit)
		return true;
	atomic_fetch_sub_explicit(&buffered, new_x - old_x,
				  memory_order_relaxed);
	return false;
}

/* realloc() a buffer within the budget. */
static char *buf_resize(char *buf, size_t init, size_t *size, size_t to)
{
	char *p;

	if (!budget_resize(init, *size, to))
		return NULL;
	p = realloc(buf, to);
	if (!p) {
		budget_resize(init, to, *size);
		return NULL;
	}
	*size = to;
	return p;
}

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
	c->last_cmd = time(NULL);
	pthread_mutex_lock(&all_lock);
	c->all_next = all_conns;
	if (all_conns)
		all_conns->all_prev = c;
	all_conns = c;
	nall_conns++;
	pthread_mutex_unlock(&all_lock);
	return 0;
}

void conn_release(struct conn *c)
{
	pthread_mutex_lock(&all_lock);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else if (all_conns == c)
		all_conns = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	if (c->rbuf)
		nall_conns--;
	c->all_prev = c->all_next = NULL;
	pthread_mutex_unlock(&all_lock);
	budget_resize(RBUF_INIT, c->rsize, 0);
	budget_resize(WBUF_INIT, c->wsize, 0);
	budget_resize(VBUF_INIT, c->vsize, 0);
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
	p = buf_resize(c->rbuf, RBUF_INIT, &c->rsize, n);
	if (!p)
		return -1;
	c->rbuf = p;
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
	p = buf_resize(c->wbuf, WBUF_INIT, &c->wsize, sz);
	if (!p)
		return NULL;
	c->wbuf = p;
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

void conn_set_closing(struct conn *c, const char *why)
{
	c->state = CONN_CLOSING;
	c->close_why = why;
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

/* Replace an emptied buffer by a new one of its first @size; false (the
 * old one kept) when there is no memory for it. */
static bool buf_renew(char **buf, size_t *cur, size_t size)
{
	char *p = malloc(size);

	if (!p)
		return false;
	free(*buf);
	budget_resize(size, *cur, size);
	*buf = p;
	*cur = size;
	return true;
}

/* A multi-get's value buffer of @size (replacing the old one, whose
 * values have all been sent); false when the budget or memory is out.
 * Its first VBUF_INIT bytes are outside the budget, as the other
 * buffers' first sizes are. */
bool conn_vbuf_renew(struct conn *c, size_t size)
{
	char *p;

	if (!budget_resize(VBUF_INIT, c->vsize, size))
		return false;
	p = malloc(size);
	if (!p) {
		budget_resize(VBUF_INIT, size, c->vsize);
		return false;
	}
	free(c->vbuf);
	c->vbuf = p;
	c->vsize = size;
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
		budget_resize(VBUF_INIT, c->vsize, 0);
		free(c->vbuf);
		c->vbuf = NULL;
		c->vsize = c->vwant = 0;
	}
}

void conn_add_listener(int fd, bool is_unix)
{
	pthread_mutex_lock(&all_lock);
	if (nlisten_views < MAX_LISTEN_VIEWS)
		listen_views[nlisten_views++] = (struct conn_view){
			.fd = fd, .is_unix = is_unix, .listening = true,
			.last_cmd = time(NULL),
		};
	pthread_mutex_unlock(&all_lock);
}

static int view_cmp(const void *a, const void *b)
{
	const struct conn_view *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

struct conn_view *conn_list(size_t *n)
{
	struct conn_view *v;
	struct conn *c;
	size_t i;

	pthread_mutex_lock(&all_lock);
	v = malloc((nlisten_views + nall_conns + 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&all_lock);
		return NULL;
	}
	memcpy(v, listen_views, nlisten_views * sizeof(*v));
	i = nlisten_views;
	/* Other workers' connections change as we read: the snapshot is
	 * as loose as memcached's (a state may be a moment old). */
	for (c = all_conns; c; c = c->all_next)
		v[i++] = (struct conn_view){
			.fd = c->fd, .is_unix = c->is_unix,
			.state = __atomic_load_n(&c->state, __ATOMIC_RELAXED),
			.commanded = __atomic_load_n(&c->commanded,
						     __ATOMIC_RELAXED),
			.last_cmd = __atomic_load_n(&c->last_cmd,
						    __ATOMIC_RELAXED),
		};
	pthread_mutex_unlock(&all_lock);
	qsort(v, i, sizeof(*v), view_cmp);
	*n = i;
	return v;
}

int sock_endpoint(const struct sockaddr_storage *ss, char *host,
		  size_t size, unsigned short *port)
{
	const struct sockaddr_un *un = (const void *)ss;
	size_t n;

	*port = 0;
	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)size);
		*port = ntohs(in->sin_port);
		return AF_INET;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)size);
		*port = ntohs(in6->sin6_port);
		return AF_INET6;
	}
	case AF_UNIX:
		n = strnlen(un->sun_path, sizeof(un->sun_path));
		if (n < 2 || n >= size)
			break;
		memcpy(host, un->sun_path, n);
		host[n] = '\0';
		return AF_UNIX;
	}
	return AF_UNSPEC;
}
