// SPDX-License-Identifier: MIT
/*
 * Per-prefix statistics, memcached's "stats detail on|off|dump" and -D:
 * a key's prefix is what comes before the first delimiter (':' unless -D
 * says otherwise); keys without one are not counted.  For each prefix,
 * gets, hits, sets and deletes, as plkvd's clients issued them (this
 * server's, like memcached's: not the store's other clients).  A mutex
 * guards the table: collection is off unless asked for, and when on it
 * costs a hash and a lookup per key, as in memcached.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define PREFIX_BUCKETS	256
#define PREFIX_MAX	10000	/* beyond, new prefixes are not counted */

struct prefix {
	struct prefix *next;
	uint64_t get, hit, set, del;
	size_t len;
	char name[];
};

static pthread_mutex_t prefix_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prefix *prefix_table[PREFIX_BUCKETS];
static unsigned prefix_count;

static unsigned prefix_hash(const char *p, size_t n)
{
	unsigned h = 5381;

	while (n--)
		h = h * 33 + (unsigned char)*p++;
	return h % PREFIX_BUCKETS;
}

/* The key's prefix entry, made if new (lock held); NULL: not counted. */
static struct prefix *prefix_find(const char *key, size_t nkey)
{
	const char *d = memchr(key, settings.prefix_delimiter, nkey);
	size_t len = d ? (size_t)(d - key) : 0;
	unsigned b;
	struct prefix *p;

	if (!d)
		return NULL;
	b = prefix_hash(key, len);
	for (p = prefix_table[b]; p; p = p->next)
		if (p->len == len && !memcmp(p->name, key, len))
			return p;
	if (prefix_count >= PREFIX_MAX)
		return NULL;
	p = calloc(1, sizeof(*p) + len + 1);
	if (!p)
		return NULL;
	memcpy(p->name, key, len);
	p->len = len;
	p->next = prefix_table[b];
	prefix_table[b] = p;
	prefix_count++;
	return p;
}

void prefix_record(const char *key, size_t nkey, enum prefix_event ev,
		   bool hit)
{
	struct prefix *p;

	if (!__atomic_load_n(&settings.detail_enabled, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&prefix_lock);
	p = prefix_find(key, nkey);
	if (p) {
		switch (ev) {
		case PREFIX_GET:
			p->get++;
			p->hit += hit;
			break;
		case PREFIX_SET:
			p->set++;
			break;
		case PREFIX_DELETE:
			p->del++;
			break;
		}
	}
	pthread_mutex_unlock(&prefix_lock);
}

/* stats reset forgets every prefix, as memcached's. */
void prefix_clear(void)
{
	struct prefix *p, *next;
	unsigned b;

	pthread_mutex_lock(&prefix_lock);
	for (b = 0; b < PREFIX_BUCKETS; b++) {
		for (p = prefix_table[b]; p; p = next) {
			next = p->next;
			free(p);
		}
		prefix_table[b] = NULL;
	}
	prefix_count = 0;
	pthread_mutex_unlock(&prefix_lock);
}

/* stats detail dump: one PREFIX line per prefix, then END. */
void prefix_dump(struct conn *c)
{
	struct prefix *p;
	unsigned b;

	pthread_mutex_lock(&prefix_lock);
	for (b = 0; b < PREFIX_BUCKETS; b++)
		for (p = prefix_table[b]; p; p = p->next)
			conn_printf(c, "PREFIX %s get %llu hit %llu set %llu "
				    "del %llu\r\n", p->name,
				    (unsigned long long)p->get,
				    (unsigned long long)p->hit,
				    (unsigned long long)p->set,
				    (unsigned long long)p->del);
	pthread_mutex_unlock(&prefix_lock);
	conn_out(c, "END\r\n", 5);
}

/* stats detail on|off|dump. */
void process_stats_detail(struct conn *c, struct token *t, size_t nt)
{
	const char *arg = nt > 3 ? t[2].value : "";

	if (strcmp(arg, "on") == 0) {
		__atomic_store_n(&settings.detail_enabled, true,
				 __ATOMIC_RELAXED);
		out_string(c, "OK");
	} else if (strcmp(arg, "off") == 0) {
		__atomic_store_n(&settings.detail_enabled, false,
				 __ATOMIC_RELAXED);
		out_string(c, "OK");
	} else if (strcmp(arg, "dump") == 0) {
		prefix_dump(c);
	} else {
		out_string(c, "CLIENT_ERROR usage: stats detail on|off|dump");
	}
}
