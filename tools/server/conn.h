/* SPDX-License-Identifier: MIT */
/*
 * A client connection as the protocol sees it: a read buffer, a write
 * buffer, and the state of the command in progress.
 *
 * Read buffer: bytes [rpos, rlen) of rbuf are received and not yet
 * consumed.  The network layer appends at rlen after conn_rreserve(),
 * which first slides the unconsumed bytes to the front.  It does that
 * only when the protocol asked for input (PROTO_WANT_READ); a multi-get
 * paused for output (CONN_GET) keeps offsets into the line it is
 * answering, which therefore must not move.  (A streamed get line asks
 * for input only between batches, with everything before rpos done.)
 *
 * Write buffer: bytes [wpos, wlen) of wbuf are replies not yet sent.
 */
#ifndef PLKVD_CONN_H
#define PLKVD_CONN_H

#include <time.h>

#include "plkvd.h"

enum conn_state {
	CONN_CMD,	/* waiting for a command line */
	CONN_NREAD,	/* reading the value of a storage command */
	CONN_SWALLOW,	/* discarding the value of a refused command */
	CONN_GET,	/* answering a multi-get, batch by batch */
	CONN_SWALLOW_LINE, /* discarding the rest of a bad get line */
	CONN_CLOSING,	/* flush what is written, then close */
	CONN_WATCH,	/* "watch": handed to watch.c once OK is sent */
};

/* A storage command (set ... / ms) waiting for its value. */
struct pending_store {
	int mode;		/* PLKV_SET ... PLKV_CAS */
	bool invalidate;	/* ms I with a CAS: PLKV_STORE_INVALIDATE */
	bool meta;		/* ms: answer HD/NS/EX/NF */
	bool key_b64;		/* ms b: echo the key base64-encoded */
	bool quiet;		/* ms q: no HD */
	uint32_t flags;
	int64_t exptime;
	uint64_t cas;
	size_t vlen;		/* value bytes including the final \r\n */
	char ret[24];		/* ms return flags in request order: O k c */
	unsigned nret;
	char opaque[34];
	size_t olen;
	size_t klen;
	char key[KEY_MAX_LENGTH + 1];	/* last: reset clears what is before */
};

/*
 * A multi-get in progress.  Offsets are into rbuf.  A get line longer
 * than LINE_LIMIT is streamed: the keys that have arrived whole are
 * answered, rpos moves past them, and more of the line is read; [pos,
 * end) is then the part of the line at hand.
 */
struct pending_get {
	size_t pos;		/* next unread key on the line */
	size_t end;		/* end of the keys at hand */
	size_t next;		/* where the next command starts */
	bool stream;		/* the line's end has not arrived yet */
	bool refill;		/* streamed: take more of the line first */
	bool cas;		/* gets/gats: print the CAS */
	bool touch;		/* gat/gats */
	bool oom;		/* a value did not fit the buffer budget */
	int64_t exptime;
	size_t n, i;		/* keys in this batch, next one to answer */
	struct plkv_mget_key keys[MGET_BATCH];
};

struct conn {
	int fd;
	enum conn_state state;
	bool noreply;		/* suppress the next reply (text protocol) */
	bool is_unix;
	time_t last_cmd;	/* when its last command line arrived */
	bool commanded;		/* one has (memcached then says conn_read) */
	const char *close_why;	/* CONN_CLOSING: "error", "shutdown"; NULL:
				 * a normal close (watch connevents) */
	unsigned watch;		/* CONN_WATCH: the WATCH_* kinds asked for */
	struct conn *all_prev, *all_next;	/* every connection (conn.c) */

	char *rbuf;
	size_t rsize, rpos, rlen;

	char *wbuf;
	size_t wsize, wpos, wlen;

	char *vbuf;		/* values copied out by plkv_mget() */
	size_t vsize;
	size_t vwant;		/* vbuf's size for the next batch */

	size_t swallow;		/* bytes still to discard */
	struct pending_store st;
	struct pending_get get;
};

enum proto_rc {
	PROTO_WANT_READ,	/* all input consumed: read more */
	PROTO_WANT_WRITE,	/* output past WBUF_HIGH: send, then call again */
	PROTO_CLOSE,		/* send what is written, then close */
	PROTO_WATCH,		/* send what is written, then hand the
				 * socket to watch.c (c->watch) */
};

/* conn.c: buffers.  Failing allocations return -1 (close the client). */
int conn_init(struct conn *c, int fd);
void conn_release(struct conn *c);
int conn_rreserve(struct conn *c, size_t need);
char *conn_wreserve(struct conn *c, size_t n);
int conn_out(struct conn *c, const void *p, size_t n);
int conn_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void conn_shrink(struct conn *c);
#define VBUF_INIT	16384		/* a multi-get's first value buffer */
bool conn_vbuf_renew(struct conn *c, size_t size);
/* Bytes of the --conn-buffer-limit budget in use ("stats" reports it). */
uint64_t conn_buffered(void);

/* What "stats conns" shows of a connection or a listening socket. */
struct conn_view {
	int fd;
	bool is_unix;
	bool listening;
	enum conn_state state;
	bool commanded;
	time_t last_cmd;
};
/* Listening sockets, for "stats conns" (net.c adds them at start). */
void conn_add_listener(int fd, bool is_unix);
/* Every listener and connection, by fd; *n set.  NULL: no memory. */
struct conn_view *conn_list(size_t *n);
/* A socket address as text (@host: an IP, or a UNIX socket's path) and
 * port; returns its family, AF_UNSPEC for a nameless one. */
struct sockaddr_storage;
int sock_endpoint(const struct sockaddr_storage *ss, char *host,
		  size_t size, unsigned short *port);

/* Close once what is written is sent, for @why (NULL: a normal close). */
void conn_set_closing(struct conn *c, const char *why);

/* Reply @s plus \r\n unless noreply is set; clears noreply either way. */
void out_string(struct conn *c, const char *s);
/* Reply @s plus \r\n regardless of noreply (meta errors). */
void out_errstring(struct conn *c, const char *s);

#endif /* PLKVD_CONN_H */
