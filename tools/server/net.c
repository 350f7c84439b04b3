// SPDX-License-Identifier: MIT
/*
 * Listeners and worker threads.
 *
 * One dispatcher thread accepts every new client and hands each to the
 * next worker in turn (memcached's way): clients that connect together
 * spread over the workers instead of landing on whichever woke first.
 * A worker has its own epoll set with the connections it was handed,
 * which stay with it for their life; the hand-off queue is the only
 * thing workers share.
 *
 * A connection is driven by drive(): parse what is buffered, send what
 * that produced, read more, until the socket has nothing (EAGAIN) or a
 * budget of reads is used up (level-triggered epoll brings us back, so
 * one busy client cannot starve the others).  While replies are waiting
 * to be sent the connection listens for EPOLLOUT only: a client that
 * does not read its replies stops being read, which bounds its memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "proto.h"

#define MAX_LISTENERS	16
#define MAX_EVENTS	64
#define READ_BUDGET	16

enum src_kind { SRC_LISTENER, SRC_CONN, SRC_WAKE };

struct ev_src {
	enum src_kind kind;
	int fd;
};

struct listener {
	struct ev_src src;
	bool is_unix;
};

struct worker;

struct nconn {
	struct ev_src src;
	struct conn c;
	struct worker *w;
	uint32_t events;
	struct nconn *prev, *next;
};

/* An accepted client on its way from the dispatcher to a worker. */
struct handoff {
	int fd;
	bool is_unix;
	struct handoff *next;
};

struct worker {
	pthread_t thread;
	int epfd;
	struct ev_src wake;	/* new clients queued, or stopping */
	struct nconn *conns;
	struct plkvd_thread_stats *stats;	/* server.c's, for this worker */
	pthread_mutex_t qlock;
	struct handoff *qhead, **qtail;
	bool started;
};

/* The dispatcher: its own epoll set over the listeners. */
static struct {
	pthread_t thread;
	int epfd;
	struct ev_src wake;
	unsigned next;		/* the worker the next client goes to */
	bool started;
} disp = { .epfd = -1, .wake = { SRC_WAKE, -1 } };

static struct listener listeners[MAX_LISTENERS];
static unsigned nlisteners;
static struct worker *workers;
static unsigned nworkers;
static int stopping;
static int spare_fd = -1;	/* given up to accept-and-close at EMFILE */

static int verbose(void)
{
	return uatomic_read(&settings.verbose);
}

/* ---- listeners ---- */

static int add_listener(int fd, bool is_unix)
{
	if (nlisteners == MAX_LISTENERS) {
		fprintf(stderr, "plkvd: too many listening sockets\n");
		close(fd);
		return -1;
	}
	listeners[nlisteners].src.kind = SRC_LISTENER;
	listeners[nlisteners].src.fd = fd;
	listeners[nlisteners].is_unix = is_unix;
	nlisteners++;
	conn_add_listener(fd, is_unix);
	return 0;
}

static int listen_tcp_one(const char *host)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	char port[16];
	int rc, fd, one = 1, n = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", settings.port);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "plkvd: cannot resolve %s: %s\n",
			host ? host : "*", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) ||
		    listen(fd, settings.backlog)) {
			fprintf(stderr, "plkvd: cannot listen on %s port %d: %s\n",
				host ? host : "*", settings.port, strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		if (add_listener(fd, false)) {
			freeaddrinfo(res);
			return -1;
		}
		n++;
	}
	freeaddrinfo(res);
	if (!n) {
		fprintf(stderr, "plkvd: no usable address for %s\n",
			host ? host : "*");
		return -1;
	}
	return 0;
}

static int listen_tcp(void)
{
	char *list, *save = NULL, *h;
	int rc = 0;

	if (!settings.listen)
		return listen_tcp_one(NULL);
	list = strdup(settings.listen);
	if (!list)
		return -1;
	for (h = strtok_r(list, ",", &save); h && !rc;
	     h = strtok_r(NULL, ",", &save)) {
		/* [v6addr] as memcached takes it */
		size_t n = strlen(h);

		if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
			h[n - 1] = '\0';
			h++;
		}
		rc = listen_tcp_one(h);
	}
	free(list);
	return rc;
}

static int listen_unix(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat stbuf;
	mode_t old;
	int fd, probe;

	if (strlen(settings.unix_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "plkvd: socket path too long: %s\n",
			settings.unix_path);
		return -1;
	}
	strcpy(sa.sun_path, settings.unix_path);
	/* A socket left by a dead server is removed; a live one is not. */
	if (lstat(sa.sun_path, &stbuf) == 0) {
		if (!S_ISSOCK(stbuf.st_mode)) {
			fprintf(stderr, "plkvd: %s exists and is not a socket\n",
				sa.sun_path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			fprintf(stderr, "plkvd: %s is in use by another server\n",
				sa.sun_path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("plkvd: socket");
		return -1;
	}
	old = umask(~settings.unix_mask & 0777);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, settings.backlog)) {
		fprintf(stderr, "plkvd: cannot listen on %s: %s\n", sa.sun_path,
			strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return add_listener(fd, true);
}

int net_listen(void)
{
	if (settings.unix_path && listen_unix())
		return -1;
	if (settings.port > 0 && listen_tcp())
		return -1;
	if (nlisteners == 0) {
		fprintf(stderr, "plkvd: nothing to listen on (-p 0 and no -s)\n");
		return -1;
	}
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

/* ---- connections ---- */

static void set_events(struct nconn *nc, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &nc->src };

	if (nc->events == events)
		return;
	if (epoll_ctl(nc->w->epfd, EPOLL_CTL_MOD, nc->src.fd, &ev) == 0)
		nc->events = events;
}

/* Unlink a connection from its worker and free it; the socket stays. */
static void conn_forget(struct nconn *nc)
{
	struct worker *w = nc->w;

	if (nc->prev)
		nc->prev->next = nc->next;
	else
		w->conns = nc->next;
	if (nc->next)
		nc->next->prev = nc->prev;
	conn_release(&nc->c);
	free(nc);
	uatomic_dec(&server_stats.conn_structs);
}

/* Close for @why: "normal" (the client left or quit), "error", or the
 * protocol's own reason (conn_set_closing()). */
static void conn_close(struct nconn *nc, const char *why)
{
	int fd = nc->src.fd;

	if (verbose() > 1)
		fprintf(stderr, "<%d connection closed.\n", fd);
	watch_conn(fd, nc->c.is_unix, nc->c.close_why ? nc->c.close_why : why);
	epoll_ctl(nc->w->epfd, EPOLL_CTL_DEL, fd, NULL);
	conn_forget(nc);
	close(fd);	/* after "stats conns" can no longer see it */
	uatomic_dec(&server_stats.curr_conns);
}

/* "watch": the socket goes to watch.c, with the replies not sent yet
 * (its "OK"), which counts it as connected until it closes; the
 * connection's buffers are freed. */
static void conn_to_watch(struct nconn *nc)
{
	int fd = nc->src.fd;
	unsigned kinds = nc->c.watch;
	int rc;

	epoll_ctl(nc->w->epfd, EPOLL_CTL_DEL, fd, NULL);
	rc = watch_adopt(fd, kinds, nc->c.wbuf + nc->c.wpos,
			 nc->c.wlen - nc->c.wpos);
	conn_forget(nc);
	if (rc) {
		close(fd);
		uatomic_dec(&server_stats.curr_conns);
	}
}

/* Send what is written: 1 all sent, 0 the socket is full, -1 error. */
static int flush_out(struct worker *w, struct conn *c)
{
	ssize_t n;

	while (c->wpos < c->wlen) {
		n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos,
			 MSG_NOSIGNAL);
		if (n > 0) {
			c->wpos += (size_t)n;
			uatomic_add(&w->stats->bytes_written, (uint64_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	c->wpos = c->wlen = 0;
	return 1;
}

static void drive(struct nconn *nc)
{
	struct worker *w = nc->w;
	struct conn *c = &nc->c;
	const char *why = "error";	/* unless the client left */
	int budget = READ_BUDGET;
	ssize_t n;
	int rc;

	for (;;) {
		rc = proto_process(c);
		if (rc == PROTO_WATCH) {	/* its "OK" goes with the fd */
			conn_to_watch(nc);
			return;
		}
		if (c->wpos < c->wlen) {
			int f = flush_out(w, c);

			if (f < 0)
				goto close;
			if (f == 0) {
				set_events(nc, EPOLLOUT);
				return;
			}
		}
		if (rc == PROTO_CLOSE) {
			why = "normal";	/* quit, unless the protocol said */
			goto close;
		}
		if (rc == PROTO_WANT_WRITE)
			continue;
		if (budget-- == 0) {
			set_events(nc, EPOLLIN);
			return;
		}
		if (conn_rreserve(c, proto_read_hint(c))) {
			if (proto_nread_failed(c))
				continue;	/* its reply, then swallow */
			goto close;
		}
		n = read(c->fd, c->rbuf + c->rlen, c->rsize - c->rlen);
		if (n > 0) {
			c->rlen += (size_t)n;
			uatomic_add(&w->stats->bytes_read, (uint64_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(nc, EPOLLIN);
			conn_shrink(c);
			return;
		}
		if (n == 0)
			why = "normal";
		goto close;
	}
close:
	conn_close(nc, why);
}

static void reject(int fd)
{
	static const char msg[] = "ERROR Too many open connections\r\n";
	ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)n;
	close(fd);
	uatomic_inc(&server_stats.rejected_conns);
}

static void new_conn(struct worker *w, int fd, bool is_unix)
{
	struct epoll_event ev;
	struct nconn *nc;
	int one = 1;

	if (uatomic_read(&server_stats.curr_conns) >= settings.maxconns) {
		reject(fd);
		return;
	}
	if (!is_unix)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	nc = malloc(sizeof(*nc));
	if (!nc || conn_init(&nc->c, fd)) {
		free(nc);
		close(fd);
		return;
	}
	nc->c.is_unix = is_unix;
	nc->src.kind = SRC_CONN;
	nc->src.fd = fd;
	nc->w = w;
	nc->events = EPOLLIN;
	ev.events = EPOLLIN;
	ev.data.ptr = &nc->src;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		conn_release(&nc->c);
		free(nc);
		close(fd);
		return;
	}
	nc->prev = NULL;
	nc->next = w->conns;
	if (w->conns)
		w->conns->prev = nc;
	w->conns = nc;
	uatomic_inc(&server_stats.curr_conns);
	uatomic_inc(&server_stats.total_conns);
	uatomic_inc(&server_stats.conn_structs);
	watch_conn(fd, is_unix, NULL);
	if (verbose() > 1)
		fprintf(stderr, "<%d new client connection\n", fd);
}

/* Queue @fd for @w and wake it: 0, or -1 (then @fd is still ours). */
static int hand_off(struct worker *w, int fd, bool is_unix)
{
	struct handoff *h = malloc(sizeof(*h));
	uint64_t one = 1;

	if (!h)
		return -1;
	h->fd = fd;
	h->is_unix = is_unix;
	h->next = NULL;
	pthread_mutex_lock(&w->qlock);
	*w->qtail = h;
	w->qtail = &h->next;
	pthread_mutex_unlock(&w->qlock);
	if (write(w->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("plkvd: wake worker");
	return 0;
}

/* The worker side: adopt every client queued for it. */
static void adopt_queued(struct worker *w)
{
	struct handoff *h, *next;
	uint64_t n;

	if (read(w->wake.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		perror("plkvd: worker wake-up");
	pthread_mutex_lock(&w->qlock);
	h = w->qhead;
	w->qhead = NULL;
	w->qtail = &w->qhead;
	pthread_mutex_unlock(&w->qlock);
	for (; h; h = next) {
		next = h->next;
		if (uatomic_read(&stopping))
			close(h->fd);
		else
			new_conn(w, h->fd, h->is_unix);
		free(h);
	}
}

static void do_accept(struct listener *l)
{
	int fd;

	for (int i = 0; i < 32; i++) {
		fd = accept4(l->src.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			struct worker *w = &workers[disp.next++ % nworkers];

			if (hand_off(w, fd, l->is_unix))
				reject(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
			/* Out of descriptors: refuse this one rather than
			 * spin on a listener that stays readable. */
			close(spare_fd);
			fd = accept(l->src.fd, NULL, NULL);
			if (fd >= 0)
				reject(fd);
			spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (verbose())
				fprintf(stderr, "plkvd: out of file descriptors\n");
		}
		return;
	}
}

/* Wait for events on @epfd and hand each to @handle, until stopping. */
static void event_loop(int epfd, void (*handle)(void *ctx, struct ev_src *src),
		       void *ctx)
{
	struct epoll_event ev[MAX_EVENTS];
	int n, i;

	while (!uatomic_read(&stopping)) {
		n = epoll_wait(epfd, ev, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("plkvd: epoll_wait");
			break;
		}
		for (i = 0; i < n; i++)
			handle(ctx, ev[i].data.ptr);
	}
}

static void dispatcher_event(void *ctx, struct ev_src *src)
{
	(void)ctx;
	if (src->kind == SRC_LISTENER)
		do_accept((struct listener *)src);
}

static void *dispatcher_main(void *arg)
{
	event_loop(disp.epfd, dispatcher_event, arg);
	return NULL;
}

static void worker_event(void *ctx, struct ev_src *src)
{
	if (src->kind == SRC_WAKE)
		adopt_queued(ctx);
	else if (src->kind == SRC_CONN)
		drive((struct nconn *)src);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	thread_stats = w->stats;
	event_loop(w->epfd, worker_event, w);
	adopt_queued(w);	/* closes what is still queued */
	while (w->conns)
		conn_close(w->conns, "shutdown");
	return NULL;
}

/* An epoll set with @wake in it: 0, or -1 with a message. */
static int epoll_with_wake(int *epfd, struct ev_src *wake)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = wake };

	*epfd = epoll_create1(EPOLL_CLOEXEC);
	wake->kind = SRC_WAKE;
	wake->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (*epfd < 0 || wake->fd < 0 ||
	    epoll_ctl(*epfd, EPOLL_CTL_ADD, wake->fd, &ev)) {
		perror("plkvd: epoll");
		return -1;
	}
	return 0;
}

int net_start(void)
{
	struct epoll_event ev;
	unsigned i;

	nworkers = settings.threads;
	workers = calloc(nworkers, sizeof(*workers));
	if (!workers || counters_init(nworkers))
		return -1;
	for (i = 0; i < nworkers; i++) {
		struct worker *w = &workers[i];

		w->stats = counters_of(i);
		pthread_mutex_init(&w->qlock, NULL);
		w->qtail = &w->qhead;
		if (epoll_with_wake(&w->epfd, &w->wake))
			return -1;
		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			fprintf(stderr, "plkvd: cannot start worker threads\n");
			return -1;
		}
		w->started = true;
	}
	if (epoll_with_wake(&disp.epfd, &disp.wake))
		return -1;
	for (i = 0; i < nlisteners; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &listeners[i].src;
		if (epoll_ctl(disp.epfd, EPOLL_CTL_ADD, listeners[i].src.fd,
			      &ev)) {
			perror("plkvd: epoll_ctl");
			return -1;
		}
	}
	if (pthread_create(&disp.thread, NULL, dispatcher_main, NULL)) {
		fprintf(stderr, "plkvd: cannot start the dispatcher thread\n");
		return -1;
	}
	disp.started = true;
	return 0;
}

static void wake(struct ev_src *wake)
{
	uint64_t one = 1;

	if (wake->fd >= 0 && write(wake->fd, &one, sizeof(one)) < 0)
		perror("plkvd: wake thread");
}

void net_stop(void)
{
	unsigned i;

	uatomic_set(&stopping, 1);
	/* The dispatcher first: then nothing more is handed to workers. */
	if (disp.started) {
		wake(&disp.wake);
		pthread_join(disp.thread, NULL);
		disp.started = false;
	}
	for (i = 0; i < nworkers; i++)
		if (workers[i].started)
			wake(&workers[i].wake);
	for (i = 0; i < nworkers; i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
	for (i = 0; i < nlisteners; i++) {
		close(listeners[i].src.fd);
		if (listeners[i].is_unix && settings.unix_path)
			unlink(settings.unix_path);
	}
	nlisteners = 0;
	for (i = 0; i < nworkers; i++) {
		if (workers[i].epfd >= 0)
			close(workers[i].epfd);
		if (workers[i].wake.fd >= 0)
			close(workers[i].wake.fd);
		pthread_mutex_destroy(&workers[i].qlock);
	}
	if (disp.epfd >= 0)
		close(disp.epfd);
	if (disp.wake.fd >= 0)
		close(disp.wake.fd);
	disp.epfd = disp.wake.fd = -1;
	free(workers);
	workers = NULL;
	nworkers = 0;
}
