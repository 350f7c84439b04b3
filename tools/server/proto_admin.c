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
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"

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

/* stats cachedump <class> <limit>; t[0] is "stats", t[1] "cachedump". */
void process_stats_cachedump(struct conn *c, struct token *t, size_t nt)
{
	struct cachedump d = { .c = c, .start = c->wlen };
	uint32_t cls;
	int rc;

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
	rc = plkv_dump(plkvd_kv, cachedump_item, &d);
	if (rc < 0) {
		char buf[128];

		c->wlen = d.start;
		out_string(c, store_error_string(rc, buf, sizeof(buf)));
		return;
	}
	conn_out(c, "END\r\n", 5);
}
