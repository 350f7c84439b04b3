// SPDX-License-Identifier: MIT
/*
 * "watch": connections that asked to see the server's item events, in
 * memcached's log line format ("ts=... gid=... type=item_get key=...").
 *
 * Commands on any worker append lines to one bounded queue; a logger
 * thread, started by the first watcher, sends the queue to every watcher
 * that asked for that kind.  A watcher's socket belongs to this file once
 * the "OK" is sent (net.c hands it over), and is closed here when the
 * client goes away.  With no watcher, an event costs one relaxed load.
 * A watcher that doesn't keep up loses lines, never slows the commands:
 * the next line it gets says how many ("skipped=N"), as memcached's
 * logger does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "conn.h"
#include "watch.h"

#define WATCHERS_MAX	20		/* memcached's limit */
#define QUEUE_BYTES	(256u << 10)
#define LINE_MAX_BYTES	1024		/* a 250-byte key URI-encoded fits */

struct watcher {
	int fd;
	unsigned kinds;
	uint64_t skipped;		/* lines lost since the last sent */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct watcher watchers[WATCHERS_MAX];
static unsigned nwatchers;
static unsigned wanted;			/* kinds some watcher asked for */
static bool logger_started;
static uint64_t gid;			/* memcached's global event id */

/* Queued lines, each prefixed by its kind byte. */
static char queue[QUEUE_BYTES];
static size_t queued;
static uint64_t queue_dropped;		/* lines lost to a full queue */

bool watch_wanted(unsigned kind)
{
	return uatomic_read(&wanted) & kind;
}

static void recompute_wanted(void)
{
	unsigned k = 0;

	for (unsigned i = 0; i < nwatchers; i++)
		k |= watchers[i].kinds;
	uatomic_set(&wanted, k);
}

static void drop_watcher(unsigned i)
{
	close(watchers[i].fd);
	watchers[i] = watchers[--nwatchers];
	uatomic_dec(&server_stats.curr_conns);
	recompute_wanted();
}

/* Send @len bytes to watcher @i, or count them lost; false: it left. */
static bool send_to(unsigned i, const char *p, size_t len)
{
	struct watcher *w = &watchers[i];
	ssize_t n;

	if (w->skipped) {
		char note[64];
		int nl = snprintf(note, sizeof(note), "skipped=%llu\n",
				  (unsigned long long)w->skipped);

		n = send(w->fd, note, (size_t)nl, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == nl)
			w->skipped = 0;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return false;
		if (w->skipped) {
			w->skipped++;
			return true;
		}
	}
	n = send(w->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return false;
	if (n != (ssize_t)len)
		w->skipped++;	/* a partial line ends with the next one */
	return true;
}

static void *logger_main(void *arg)
{
	static char batch[QUEUE_BYTES];
	size_t len, pos;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!queued && nwatchers)
			pthread_cond_wait(&more, &lock);
		if (!nwatchers) {
			logger_started = false;
			break;
		}
		memcpy(batch, queue, queued);
		len = queued;
		queued = 0;
		for (unsigned i = 0; i < nwatchers; i++)
			watchers[i].skipped += queue_dropped;
		queue_dropped = 0;
		/* Sending under the lock is fine: sends never block, and the
		 * commands only queue while a watcher exists. */
		for (pos = 0; pos < len;) {
			unsigned kind = (unsigned char)batch[pos];
			char *line = batch + pos + 1;
			char *nl = memchr(line, '\n', len - pos - 1);
			size_t ll = (size_t)(nl - line) + 1;

			for (unsigned i = 0; i < nwatchers;) {
				if ((watchers[i].kinds & kind) &&
				    !send_to(i, line, ll)) {
					drop_watcher(i);
					continue;
				}
				i++;
			}
			pos += 1 + ll;
		}
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/*
 * The watcher is in the list, and wanted, before its "OK" (reply, len
 * bytes) is sent: a client that connects once it read the OK must find
 * its conn_new logged.  The reply goes out under the lock, so no event
 * line can pass it.
 */
int watch_adopt(int fd, unsigned kinds, const char *reply, size_t len)
{
	pthread_t t;
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (nwatchers == WATCHERS_MAX) {
		rc = -1;
		goto out;
	}
	if (!logger_started) {
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &a, logger_main, NULL) ? -1 : 0;
		pthread_attr_destroy(&a);
		if (rc)
			goto out;
		logger_started = true;
	}
	watchers[nwatchers++] = (struct watcher){ .fd = fd, .kinds = kinds };
	recompute_wanted();
	if (len && send(fd, reply, len, MSG_NOSIGNAL) != (ssize_t)len) {
		nwatchers--;	/* a full socket: a client not reading */
		recompute_wanted();
		rc = -1;
	}
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

bool watch_room(void)
{
	bool room;

	pthread_mutex_lock(&lock);
	room = nwatchers < WATCHERS_MAX;
	pthread_mutex_unlock(&lock);
	return room;
}

static void emit(unsigned kind, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	struct timespec ts;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&lock);
	if (!nwatchers) {	/* the last one left since watch_wanted() */
		pthread_mutex_unlock(&lock);
		return;
	}
	/* memcached prints the microseconds unpadded */
	n = snprintf(line, sizeof(line), "ts=%lld.%d gid=%llu ",
		     (long long)ts.tv_sec, (int)(ts.tv_nsec / 1000),
		     (unsigned long long)++gid);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= sizeof(line) - 1)
		m = (int)(sizeof(line) - (size_t)n - 2);
	for (int i = n; i < n + m; i++)	/* a binary key (meta b) */
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = '?';
	line[n + m] = '\n';
	n += m + 1;
	if (queued + 1 + (size_t)n > sizeof(queue)) {
		queue_dropped++;
	} else {
		queue[queued] = (char)kind;
		memcpy(queue + queued + 1, line, (size_t)n);
		queued += 1 + (size_t)n;
		pthread_cond_signal(&more);
	}
	pthread_mutex_unlock(&lock);
}

void watch_fetch(const char *key, bool found, uint32_t clsid, size_t size,
		 int cfd)
{
	emit(WATCH_FETCHERS, "type=item_get key=%s status=%s clsid=%u cfd=%d "
	     "size=%zu", key, found ? "found" : "not_found", clsid, cfd, size);
}

void watch_store(const char *key, const char *status, const char *cmd,
		 int64_t ttl, uint32_t clsid, size_t size, int cfd)
{
	emit(WATCH_MUTATIONS, "type=item_store key=%s status=%s cmd=%s "
	     "ttl=%lld clsid=%u cfd=%d size=%zu", key, status, cmd,
	     (long long)ttl, clsid, cfd, size);
}

void watch_conn(int fd, bool is_unix, const char *why)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char rip[INET6_ADDRSTRLEN] = "unix";
	unsigned short rport = 0;

	if (!watch_wanted(WATCH_CONNEVENTS))
		return;
	memset(&ss, 0, sizeof(ss));
	/* a UNIX client has no name: memcached's "unix", port 0 */
	if (!is_unix && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		sock_endpoint(&ss, rip, sizeof(rip), &rport);
	if (why)
		emit(WATCH_CONNEVENTS, "type=conn_close rip=%s rport=%hu "
		     "transport=%s reason=%s cfd=%d", rip, rport,
		     is_unix ? "local" : "tcp", why, fd);
	else
		emit(WATCH_CONNEVENTS, "type=conn_new rip=%s rport=%hu "
		     "transport=%s cfd=%d", rip, rport,
		     is_unix ? "local" : "tcp", fd);
}
