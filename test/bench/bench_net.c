// SPDX-License-Identifier: MIT
/*
 * plkv-bench: the servers it compares against, a memcached text-protocol
 * client, and the cleanup registry.
 *
 * The client is deliberately tiny and synchronous: one request, then read
 * until the reply is complete, so what it measures is one round trip per
 * operation, the way an application without pipelining sees a server.  It
 * parses the reply exactly (VALUE line, the byte count it announces, the
 * trailing END) rather than scanning for "END\r\n", so it never finishes
 * early on a value that happens to contain those bytes.
 *
 * Cleanup: every server, worker process, store and file the benchmark
 * makes is registered here the moment it exists, and cleanup_all() undoes
 * them in a safe order (workers, then servers, then stores, then files).
 * It runs from atexit() and from the handler of SIGINT/SIGTERM/SIGHUP,
 * which then re-raises the signal.  Servers are also started with
 * PR_SET_PDEATHSIG, so even a SIGKILL of the benchmark takes them along.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- client ---- */

int mc_connect(struct mc_conn *c, const char *path, int port)
{
	struct timeval tv = { .tv_sec = 10 };
	int one = 1;
	int fd;

	c->fd = -1;
	c->len = 0;
	if (path) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(path) >= sizeof(sun.sun_path))
			return -ENAMETOOLONG;
		strcpy(sun.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			goto fail;
	} else {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			goto fail;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->fd = fd;
	return 0;
fail:
	one = -errno;
	close(fd);
	return one;
}

void mc_close(struct mc_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read more of the reply; 0 or -errno (-ECONNRESET at EOF). */
static int recv_more(struct mc_conn *c)
{
	ssize_t r;

	if (c->len == sizeof(c->rbuf))
		return -EPROTO;
	do
		r = recv(c->fd, c->rbuf + c->len, sizeof(c->rbuf) - c->len, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (r == 0)
		return -ECONNRESET;
	c->len += (size_t)r;
	return 0;
}

static const char *find_crlf(const char *p, size_t n)
{
	const char *q = memchr(p, '\r', n);

	while (q && (size_t)(q - p) + 1 < n) {
		if (q[1] == '\n')
			return q;
		q = memchr(q + 1, '\r', n - (size_t)(q + 1 - p));
	}
	return NULL;
}

/* 1: need more bytes; 0: hit; PLKV_ENOTFOUND: miss; < 0: bad reply. */
static int parse_get(struct mc_conn *c, void *val, size_t cap, size_t *vlen)
{
	const char *eol = find_crlf(c->rbuf, c->len);
	char line[320], key[251];
	unsigned flags;
	size_t hl, bytes, need;

	if (!eol)
		return 1;
	hl = (size_t)(eol - c->rbuf);
	if (hl == 3 && !memcmp(c->rbuf, "END", 3))
		return c->len == 5 ? PLKV_ENOTFOUND : -EPROTO;
	if (hl >= sizeof(line) || memcmp(c->rbuf, "VALUE ", 6))
		return -EPROTO;
	memcpy(line, c->rbuf, hl);
	line[hl] = '\0';
	if (sscanf(line, "VALUE %250s %u %zu", key, &flags, &bytes) != 3)
		return -EPROTO;
	need = hl + 2 + bytes + 7;
	if (need > sizeof(c->rbuf))
		return -EPROTO;
	if (c->len < need)
		return 1;
	if (c->len > need || memcmp(c->rbuf + hl + 2 + bytes, "\r\nEND\r\n", 7))
		return -EPROTO;
	memcpy(val, c->rbuf + hl + 2, bytes < cap ? bytes : cap);
	*vlen = bytes;
	return 0;
}

int mc_get(struct mc_conn *c, const char *key, size_t klen,
	   void *val, size_t cap, size_t *vlen)
{
	int n, rc;

	n = snprintf(c->wbuf, sizeof(c->wbuf), "get %.*s\r\n", (int)klen, key);
	rc = send_all(c->fd, c->wbuf, (size_t)n);
	if (rc)
		return rc;
	c->len = 0;
	for (;;) {
		rc = recv_more(c);
		if (rc)
			return rc;
		rc = parse_get(c, val, cap, vlen);
		if (rc != 1)
			return rc;
	}
}

int mc_set(struct mc_conn *c, const char *key, size_t klen,
	   const void *val, size_t vlen)
{
	const char *eol;
	int n, rc;

	n = snprintf(c->wbuf, sizeof(c->wbuf), "set %.*s 0 0 %zu\r\n",
		     (int)klen, key, vlen);
	if ((size_t)n + vlen + 2 > sizeof(c->wbuf))
		return -EMSGSIZE;
	memcpy(c->wbuf + n, val, vlen);
	memcpy(c->wbuf + n + vlen, "\r\n", 2);
	rc = send_all(c->fd, c->wbuf, (size_t)n + vlen + 2);
	if (rc)
		return rc;
	c->len = 0;
	do {
		rc = recv_more(c);
		if (rc)
			return rc;
		eol = find_crlf(c->rbuf, c->len);
	} while (!eol);
	if (c->len != 8 || memcmp(c->rbuf, "STORED\r\n", 8))
		return -EPROTO;
	return 0;
}

/* ---- servers ---- */

int free_port(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sl = sizeof(sin);
	int fd, port = -EADDRNOTAVAIL;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The first line of the server's output, for an error message. */
static void log_first_line(const struct server *s, char *buf, size_t n)
{
	FILE *f = fopen(s->log, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)n, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

int server_start(struct server *s, char *const argv[], char *err,
		 size_t errlen)
{
	pid_t parent = getpid();
	uint64_t deadline;
	struct mc_conn c;
	char line[200];
	int status;

	snprintf(s->log, sizeof(s->log), "/tmp/plkv-bench-%d-%s.log",
		 (int)parent, s->label);
	for (char *p = s->log + 5; *p; p++)	/* "memcached/unix" */
		if (*p == '/')
			*p = '-';
	cleanup_file(s->log);
	if (s->sock[0]) {
		unlink(s->sock);
		cleanup_file(s->sock);
	}
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (s->pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);	/* a terminal's ^C reaches us, not it */
		if (s->cpus && sched_setaffinity(0, sizeof(*s->cpus), s->cpus))
			dprintf(fd, "sched_setaffinity: %s\n", strerror(errno));
		if (nul >= 0)
			dup2(nul, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	cleanup_server(s);
	deadline = now_ns() + 5000000000ull;
	while (now_ns() < deadline) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			log_first_line(s, line, sizeof(line));
			snprintf(err, errlen, "%s exited (%s %d)%s%s", argv[0],
				 WIFEXITED(status) ? "status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) :
				 WTERMSIG(status), line[0] ? ": " : "", line);
			return -1;
		}
		if (mc_connect(&c, s->sock[0] ? s->sock : NULL, s->port) == 0) {
			mc_close(&c);
			return 0;
		}
		sleep_ms(5);
	}
	snprintf(err, errlen, "%s did not accept connections within 5 s",
		 argv[0]);
	server_stop(s);
	return -1;
}

void server_stop(struct server *s)
{
	int i;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		for (i = 0; i < 200; i++) {
			if (waitpid(s->pid, NULL, WNOHANG) != 0)
				break;
			sleep_ms(10);
		}
		if (i == 200) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	if (s->sock[0])
		unlink(s->sock);
	if (s->log[0])
		unlink(s->log);
	if (s->segment[0]) {
		plkv_destroy(s->segment, PLKV_BACKEND_AUTO);
		s->segment[0] = '\0';
	}
}

/* ---- cleanup registry ---- */

#define MAX_REG 16

static struct server *reg_servers[MAX_REG];
static char reg_segments[MAX_REG][64];
static pid_t reg_children[MAX_REG];
static char reg_files[2 * MAX_REG][128];
static pid_t owner_pid;

static void add_str(char (*tab)[128], size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!tab[i][0]) {
			snprintf(tab[i], sizeof(tab[i]), "%s", s);
			return;
		}
}

void cleanup_server(struct server *s)
{
	size_t i;

	for (i = 0; i < MAX_REG; i++)
		if (reg_servers[i] == s)
			return;
	for (i = 0; i < MAX_REG; i++)
		if (!reg_servers[i]) {
			reg_servers[i] = s;
			return;
		}
}

void cleanup_segment(const char *name)
{
	size_t i;

	for (i = 0; i < MAX_REG; i++)
		if (!reg_segments[i][0]) {
			snprintf(reg_segments[i], 64, "%s", name);
			return;
		}
}

void cleanup_forget_segment(const char *name)
{
	size_t i;

	for (i = 0; i < MAX_REG; i++)
		if (!strcmp(reg_segments[i], name))
			reg_segments[i][0] = '\0';
}

void cleanup_child(pid_t pid)
{
	size_t i;

	for (i = 0; i < MAX_REG; i++)
		if (!reg_children[i]) {
			reg_children[i] = pid;
			return;
		}
}

void cleanup_forget_child(pid_t pid)
{
	size_t i;

	for (i = 0; i < MAX_REG; i++)
		if (reg_children[i] == pid)
			reg_children[i] = 0;
}

void cleanup_file(const char *path)
{
	add_str(reg_files, 2 * MAX_REG, path);
}

void cleanup_all(void)
{
	size_t i;

	if (getpid() != owner_pid)
		return;
	for (i = 0; i < MAX_REG; i++)
		if (reg_children[i] > 0) {
			kill(reg_children[i], SIGKILL);
			waitpid(reg_children[i], NULL, 0);
			reg_children[i] = 0;
		}
	for (i = 0; i < MAX_REG; i++)	/* all at once: each may take 1 s */
		if (reg_servers[i] && reg_servers[i]->pid > 0)
			kill(reg_servers[i]->pid, SIGTERM);
	for (i = 0; i < MAX_REG; i++)
		if (reg_servers[i]) {
			server_stop(reg_servers[i]);
			reg_servers[i] = NULL;
		}
	for (i = 0; i < MAX_REG; i++)
		if (reg_segments[i][0]) {
			plkv_destroy(reg_segments[i], PLKV_BACKEND_AUTO);
			reg_segments[i][0] = '\0';
		}
	for (i = 0; i < 2 * MAX_REG; i++)
		if (reg_files[i][0]) {
			unlink(reg_files[i]);
			reg_files[i][0] = '\0';
		}
}

static void on_signal(int sig)
{
	cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cleanup_init(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	owner_pid = getpid();
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup_all);
}

void cleanup_in_child(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* cleanup_all() checks owner_pid, so the parent's registrations
	 * are left alone by this process's exit. */
}
