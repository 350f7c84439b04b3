// SPDX-License-Identifier: MIT
/*
 * memcached's admin commands that its own tools use, answered as
 * memcached 1.6 answers them.
 *
 * "stats cachedump <class> <limit>" lists the keys of one slab class:
 * memcdump (libmemcached-tools) asks it for classes 0 to 63 in turn.
 * plkvd walks the store through plkv_dump() and keeps the items of that
 * class, in memcached's format, at most <limit> of them (0: all) and at
 * most 2 MB of reply, as memcached caps it.
 *
 * "lru_crawler metadump all|<classes>" lists every live item's metadata,
 * one line each, as memcached's crawler does (newer memcdump uses it);
 * "lru_crawler crawl" reclaims expired items now (plkv_maintain()); the
 * crawler's tunables (tocrawl, sleep) are checked and accepted: plkv's
 * crawling is amortized over the calls, not a thread.  "slabs automove"
 * and "cache_memlimit" answer as memcached does; a plkv store's size is
 * fixed when it is created, so cache_memlimit can't shrink it.
 *
 * "stats conns" lists the listening sockets and the connections, as
 * memcached's does; "watch fetchers|mutations" turns the connection into
 * a listener of item events (watch.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "proto.h"

#define CACHEDUMP_CLASSES	64	/* memcached's MAX_NUMBER_OF_SLAB_CLASSES */
#define CACHEDUMP_MAX_BYTES	(2u << 20)

struct cachedump {
	struct conn *c;
	unsigned cls;
	uint32_t limit, shown;
	size_t start;
};

static int cachedump_item(void *arg, const struct plkv_dump_item *it)
{
	struct cachedump *d = arg;
	char line[320];
	int n;

	if (it->slab_class != d->cls)
		return 0;
	if ((d->limit && d->shown >= d->limit) ||
	    d->c->wlen - d->start >= CACHEDUMP_MAX_BYTES)
		return 1;	/* enough: stop the walk */
	n = snprintf(line, sizeof(line), "ITEM %.*s [%zu b; %" PRId64 " s]\r\n",
		     (int)it->klen, it->key, it->vlen, it->exptime);
	d->shown++;
	return conn_out(d->c, line, (size_t)n) ? -ENOMEM : 0;
}

/* Walk the store with fn; its lines then END, or only the error. */
static void dump_reply(struct conn *c, plkv_dump_fn fn, void *arg)
{
	size_t start = c->wlen;
	int rc = plkv_dump(plkvd_kv, fn, arg);

	if (rc < 0) {
		char buf[128];

		c->wlen = start;
		out_string(c, store_error_string(rc, buf, sizeof(buf)));
		return;
	}
	conn_out(c, "END\r\n", 5);
}

/* stats cachedump <class> <limit>; t[0] is "stats", t[1] "cachedump". */
void process_stats_cachedump(struct conn *c, struct token *t, size_t nt)
{
	struct cachedump d = { .c = c, .start = c->wlen };
	uint32_t cls;

	if (nt < 5) {
		out_string(c, "CLIENT_ERROR bad command line");
		return;
	}
	if (!safe_strtoul(t[2].value, &cls) ||
	    !safe_strtoul(t[3].value, &d.limit)) {
		out_string(c, BAD_FORMAT);
		return;
	}
	if (cls >= CACHEDUMP_CLASSES) {
		out_string(c, "CLIENT_ERROR Illegal slab id");
		return;
	}
	d.cls = cls;
	dump_reply(c, cachedump_item, &d);
}

/* ---- lru_crawler ---- */

/* memcached's class list: "all", or ids below 64 separated by commas. */
static bool parse_classes(const char *s, bool cls[CACHEDUMP_CLASSES])
{
	char *end;

	memset(cls, 0, CACHEDUMP_CLASSES * sizeof(cls[0]));
	if (strcmp(s, "all") == 0) {
		memset(cls, 1, CACHEDUMP_CLASSES * sizeof(cls[0]));
		return true;
	}
	for (;;) {
		unsigned long id = strtoul(s, &end, 10);

		if (end == s || id >= CACHEDUMP_CLASSES)
			return false;
		cls[id] = true;
		if (*end == '\0')
			return true;
		if (*end != ',')
			return false;
		s = end + 1;
	}
}

struct metadump {
	struct conn *c;
	bool cls[CACHEDUMP_CLASSES];
};


static int metadump_item(void *arg, const struct plkv_dump_item *it)
{
	struct metadump *d = arg;
	char key[3 * sizeof(it->key) + 1], line[1024];
	int n;

	if (it->slab_class >= CACHEDUMP_CLASSES || !d->cls[it->slab_class])
		return 0;
	uri_encode(it->key, it->klen, key);
	n = snprintf(line, sizeof(line),
		     "key=%s exp=%" PRId64 " la=%" PRId64 " cas=%" PRIu64
		     " fetch=%s cls=%u size=%" PRIu64 "\n", key,
		     it->exptime ? it->exptime : -1, it->last_access, it->cas,
		     it->fetched ? "yes" : "no", it->slab_class, it->size);
	return conn_out(d->c, line, (size_t)n) ? -ENOMEM : 0;
}

static void lru_crawler_metadump(struct conn *c, const char *classes)
{
	struct metadump d = { .c = c };

	if (!parse_classes(classes, d.cls)) {
		out_string(c, "BADCLASS invalid class id");
		return;
	}
	dump_reply(c, metadump_item, &d);
}

/* As memcached's: ntokens counts a last, empty token. */
void process_lru_crawler(struct conn *c, struct token *t, size_t nt,
			 int arg __maybe_unused)
{
	bool cls[CACHEDUMP_CLASSES];
	const char *sub = nt >= 3 ? t[1].value : "";
	uint32_t v;

	if (nt == 4 && (strcmp(sub, "crawl") == 0 ||
			strcmp(sub, "metadump") == 0)) {
		if (__atomic_load_n(&settings.crawler_disabled,
				    __ATOMIC_RELAXED)) {
			out_string(c, "CLIENT_ERROR lru crawler disabled");
		} else if (sub[0] == 'm') {
			lru_crawler_metadump(c, t[2].value);
		} else if (!parse_classes(t[2].value, cls)) {
			out_string(c, "BADCLASS invalid class id");
		} else {
			plkv_maintain(plkvd_kv, 1u << 20);
			out_string(c, "OK");
		}
	} else if (nt == 4 && strcmp(sub, "tocrawl") == 0) {
		out_string(c, safe_strtoul(t[2].value, &v) ? "OK" : BAD_FORMAT);
	} else if (nt == 4 && strcmp(sub, "sleep") == 0) {
		if (!safe_strtoul(t[2].value, &v))
			out_string(c, BAD_FORMAT);
		else if (v > 1000000)
			out_string(c, "CLIENT_ERROR sleep must be one second or "
				      "less");
		else
			out_string(c, "OK");
	} else if (nt == 3 && (strcmp(sub, "enable") == 0 ||
			       strcmp(sub, "disable") == 0)) {
		__atomic_store_n(&settings.crawler_disabled, sub[0] == 'd',
				 __ATOMIC_RELAXED);
		out_string(c, "OK");
	} else {
		out_string(c, "ERROR");
	}
}

/* slabs automove 0|1|2: plkv moves pages when a class starves (the
 * mover in slabs.c), whatever the setting. */
void process_slabs(struct conn *c, struct token *t, size_t nt,
		   int arg __maybe_unused)
{
	uint32_t level;

	if (nt == 4 && strcmp(t[1].value, "automove") == 0) {
		if (!safe_strtoul(t[2].value, &level))
			out_string(c, BAD_FORMAT);
		else
			out_string(c, level <= 2 ? "OK" : "ERROR");
	} else {
		out_string(c, "ERROR");
	}
}

/* cache_memlimit <megabytes>: a store's size is fixed at creation, so
 * only a limit the store already fits answers OK. */
void process_cache_memlimit(struct conn *c, struct token *t, size_t nt,
			    int arg __maybe_unused)
{
	uint64_t limit = 0;
	uint32_t mb;

	if (nt != 3 && nt != 4) {
		out_string(c, "ERROR");
		return;
	}
	set_noreply_maybe(c, t, nt);
	if (!safe_strtoul(t[1].value, &mb)) {
		out_string(c, "ERROR");
		return;
	}
	if (mb < 8) {
		out_string(c, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less "
			      "than 8m");
		return;
	}
	plkv_stat_u64(plkvd_kv, "limit_maxbytes", &limit);
	if ((uint64_t)mb << 20 < limit)
		out_string(c, "CLIENT_ERROR a plkv store's size is fixed when "
			      "it is created: it can't shrink");
	else
		out_string(c, "OK");
}

/* ---- stats conns, watch ---- */

static const char *const state_names[] = {
	[CONN_CMD] = "conn_new_cmd", [CONN_NREAD] = "conn_nread",
	[CONN_SWALLOW] = "conn_swallow", [CONN_GET] = "conn_mwrite",
	[CONN_SWALLOW_LINE] = "conn_swallow", [CONN_CLOSING] = "conn_closing",
	[CONN_WATCH] = "conn_watch",
};

/* memcached's "tcp:127.0.0.1:11211", "tcp6:[::1]:11211", "unix:/path";
 * a UNIX client has no name: memcached's words for it. */
static void sock_text(const struct sockaddr_storage *ss, char *buf,
		      size_t size)
{
	char ip[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	unsigned short port;

	switch (sock_endpoint(ss, ip, sizeof(ip), &port)) {
	case AF_INET:
		snprintf(buf, size, "tcp:%s:%u", ip, port);
		return;
	case AF_INET6:
		snprintf(buf, size, "tcp6:[%s]:%u", ip, port);
		return;
	case AF_UNIX:
		snprintf(buf, size, "unix:%s", ip);
		return;
	}
	snprintf(buf, size, "?:<AF 0>");
}

void process_stats_conns(struct conn *c)
{
	time_t now = time(NULL);
	struct conn_view *v;
	size_t n, i;

	v = conn_list(&n);
	if (!v) {
		out_string(c, "SERVER_ERROR out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char addr[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
		bool self = v[i].fd == c->fd;
		const char *state;

		memset(&ss, 0, sizeof(ss));
		if (v[i].listening || v[i].is_unix)
			getsockname(v[i].fd, (struct sockaddr *)&ss, &len);
		else
			getpeername(v[i].fd, (struct sockaddr *)&ss, &len);
		if (!v[i].listening && v[i].is_unix)
			ss.ss_family = AF_UNSPEC;	/* the client's side */
		sock_text(&ss, addr, sizeof(addr));
		conn_printf(c, "STAT %d:addr %s\r\n", v[i].fd, addr);
		if (!v[i].listening) {
			len = sizeof(ss);
			memset(&ss, 0, sizeof(ss));
			getsockname(v[i].fd, (struct sockaddr *)&ss, &len);
			sock_text(&ss, addr, sizeof(addr));
			conn_printf(c, "STAT %d:listen_addr %s\r\n", v[i].fd,
				    addr);
		}
		if (v[i].listening)
			state = "conn_listening";
		else if (self)
			state = "conn_parse_cmd";
		else if (v[i].state == CONN_CMD && v[i].commanded)
			state = "conn_read";	/* waiting for the next one */
		else
			state = state_names[v[i].state];
		conn_printf(c, "STAT %d:state %s\r\n", v[i].fd, state);
		conn_printf(c, "STAT %d:secs_since_last_cmd %lld\r\n", v[i].fd,
			    (long long)(now - v[i].last_cmd));
	}
	free(v);
	conn_out(c, "END\r\n", 5);
}

/* watch [fetchers] [mutations] [connevents]: the connection only listens
 * from now on. */
void process_watch(struct conn *c, struct token *t, size_t nt,
		   int arg __maybe_unused)
{
	unsigned kinds = 0;

	for (size_t i = 1; i + 1 < nt; i++) {
		if (strcmp(t[i].value, "fetchers") == 0) {
			kinds |= WATCH_FETCHERS;
		} else if (strcmp(t[i].value, "mutations") == 0) {
			kinds |= WATCH_MUTATIONS;
		} else if (strcmp(t[i].value, "connevents") == 0) {
			kinds |= WATCH_CONNEVENTS;
		} else {
			out_string(c, "ERROR");
			return;
		}
	}
	if (!kinds)
		kinds = WATCH_FETCHERS;
	if (!watch_room()) {
		out_string(c, "WATCHER_TOO_MANY log watcher limit reached");
		return;
	}
	out_string(c, "OK");
	c->watch = kinds;
	c->state = CONN_WATCH;
}
