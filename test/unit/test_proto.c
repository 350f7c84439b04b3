// SPDX-License-Identifier: MIT
/*
 * plkvd's protocol layer, without a store and without sockets.
 *
 * The protocol files of tools/server are compiled into this program with
 * every libplkv call renamed to a mock (a small in-memory table below),
 * so the parser and the command semantics are tested on their own:
 * bytes go into a connection's read buffer, proto_process() runs, and the
 * replies are compared with what memcached 1.6.18 answers to the same
 * bytes (the expected strings were taken from a real memcached).
 *
 * Every exchange is also replayed one byte at a time: splitting the
 * input anywhere must not change the output.
 *
 * Prints TAP (Check's TAP output).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rename the library calls the protocol makes to the mocks. */
#define plkv_get	mock_get
#define plkv_gat	mock_gat
#define plkv_gat_prev	mock_gat_prev
#define plkv_read	mock_read
#define plkv_peek	mock_peek
#define plkv_mget	mock_mget
#define plkv_store	mock_store
#define plkv_add	mock_add
#define plkv_delete	mock_delete
#define plkv_delete_cas	mock_delete_cas
#define plkv_delete_ex	mock_delete_ex
#define plkv_arith	mock_arith
#define plkv_incr	mock_incr
#define plkv_decr	mock_decr
#define plkv_touch	mock_touch
#define plkv_flush_all	mock_flush_all
#define plkv_stats	mock_stats
#define plkv_stats_reset mock_stats_reset
#define plkv_dump	mock_dump
#define plkv_strerror	mock_strerror
#define plkv_version	mock_version

/*
 * One second for a whole test: replies carry times in seconds (a TTL of
 * T100 reads back as t100), and a second that turned between a store and
 * its read made one t99 now and then.  The server code and the mock store
 * read the clock through time(), renamed to this; setup() takes the real
 * second once.
 */
static time_t mock_now;

static time_t mock_time(time_t *t)
{
	if (t)
		*t = mock_now;
	return mock_now;
}
#define time(t)		mock_time(t)

#include "../../tools/server/conn.c"
#include "../../tools/server/proto.c"
#include "../../tools/server/proto_common.c"
#include "../../tools/server/proto_text.c"
#include "../../tools/server/proto_meta.c"
#include "../../tools/server/proto_admin.c"
#include "../../tools/server/prefix_stats.c"
#include "../../tools/server/watch.c"
#include "ut_run.h"

/* ---- what server.c defines ---- */

struct plkvd_settings settings = {
	.port = 11211,
	.listen = "127.0.0.1",
	.unix_mask = 0700,
	.threads = 4,
	.maxconns = 1024,
	.item_size_max = 1u << 20,
	.item_size_eff = 1u << 20,
	.segment = "test",
	.conn_buffer_limit = 64ull << 20,
	.backlog = 1024,
};
struct plkvd_stats server_stats;
plkv_t *plkvd_kv;
time_t plkvd_started;

__thread struct plkvd_thread_stats *thread_stats;

void counters_sum(struct plkvd_thread_stats *sum)
{
	sum->bytes_read += 1;
}

/* ---- the mock store ---- */

struct item {
	char key[251];
	size_t klen;
	char *val;
	size_t vlen;
	uint32_t flags;
	int64_t exptime;
	uint64_t cas;
	int64_t atime;		/* last access */
	bool fetched;
	bool stale;		/* invalidated (md I) */
	bool token_sent;	/* a win was handed out */
	bool used;
};

/* The mock's own item size and class: header, key, value; a class per
 * MOCK_CLASS_BYTES. */
#define MOCK_HDR		64
#define MOCK_CLASS_BYTES	100

#define NITEMS 512
static struct item items[NITEMS];
static uint64_t next_cas;
static int64_t flushed_at;	/* items older than this are gone */
static unsigned calls_mget, calls_get, calls_stats_reset, calls_counters_reset;

static void mock_reset(void)
{
	for (int i = 0; i < NITEMS; i++) {
		free(items[i].val);
		memset(&items[i], 0, sizeof(items[i]));
	}
	next_cas = 0;
	flushed_at = 0;
	calls_mget = calls_get = calls_stats_reset = calls_counters_reset = 0;
}

static int64_t abs_time(int64_t e)
{
	int64_t now = time(NULL);

	if (e == 0)
		return 0;
	if (e < 0)
		return now - 1;
	return e <= 60 * 60 * 24 * 30 ? now + e : e;
}

static bool bad_key(const char *k, size_t n)
{
	if (n == 0 || n > 250)
		return true;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] <= ' ' || k[i] == 127)
			return true;
	return false;
}

static struct item *find(const char *k, size_t n)
{
	for (int i = 0; i < NITEMS; i++) {
		struct item *it = &items[i];

		if (!it->used || it->klen != n || memcmp(it->key, k, n))
			continue;
		if ((it->exptime && it->exptime <= time(NULL)) ||
		    (flushed_at && (int64_t)it->cas <= flushed_at)) {
			free(it->val);
			memset(it, 0, sizeof(*it));
			return NULL;
		}
		return it;
	}
	return NULL;
}

/* The live item of a valid key; else NULL, *rc the library's error. */
static struct item *lookup(const char *k, size_t n, int *rc)
{
	struct item *it;

	if (bad_key(k, n)) {
		*rc = PLKV_EBADKEY;
		return NULL;
	}
	it = find(k, n);
	*rc = it ? 0 : PLKV_ENOTFOUND;
	return it;
}

static int put(const char *k, size_t n, const void *v, size_t vlen,
	       uint32_t flags, int64_t exptime, struct item *it)
{
	char *nv = malloc(vlen + 1);

	if (!nv)
		return PLKV_ENOMEM;
	memcpy(nv, v, vlen);
	if (!it) {
		for (int i = 0; i < NITEMS && !it; i++)
			if (!items[i].used)
				it = &items[i];
		if (!it) {
			free(nv);
			return PLKV_ENOMEM;
		}
		memcpy(it->key, k, n);
		it->klen = n;
		it->used = true;
	}
	free(it->val);
	it->val = nv;
	it->vlen = vlen;
	it->flags = flags;
	it->exptime = abs_time(exptime);
	it->cas = ++next_cas;
	it->atime = time(NULL);
	it->fetched = false;	/* a new item, as the library's */
	it->stale = it->token_sent = false;
	return 0;
}

static void item_meta(const struct item *it, struct plkv_meta *m)
{
	if (m) {
		m->len = it->vlen;
		m->flags = it->flags;
		m->cas = it->cas;
		m->exptime = it->exptime;
		m->last_access = it->atime;
		m->fetched = it->fetched;
		m->item_size = MOCK_HDR + it->klen + it->vlen;
		m->slab_class = 1 + (uint32_t)(m->item_size / MOCK_CLASS_BYTES);
		m->token = (it->stale ? PLKV_TOKEN_STALE : 0) |
			   (it->token_sent ? PLKV_TOKEN_SENT : 0);
	}
}

/* What a get does to the item after reporting it (lru_bump). */
static void item_fetch(struct item *it)
{
	int64_t now = time(NULL);

	it->fetched = true;
	if (now - it->atime >= 60)
		it->atime = now;
}

int mock_peek(plkv_t *kv, const char *key, size_t klen, struct plkv_meta *m)
{
	struct item *it;

	/* not lookup(): gcc then can't see m filled whenever 0 is returned */
	(void)kv;
	if (bad_key(key, klen))
		return PLKV_EBADKEY;
	it = find(key, klen);
	if (!it)
		return PLKV_ENOTFOUND;
	item_meta(it, m);
	return 0;
}

/* The library's read: create (VIVIFY), touch, win tokens, as ops.c. */
int mock_read(plkv_t *kv, const char *key, size_t klen,
	      const struct plkv_read *r, void *buf, size_t cap,
	      struct plkv_meta *m, int64_t *prev)
{
	static const struct plkv_read plain;
	struct item *it;
	bool created = false;
	int64_t before;
	int rc;

	(void)kv;
	if (!r)
		r = &plain;
	calls_get++;
	it = lookup(key, klen, &rc);
	if (!it && rc == PLKV_ENOTFOUND && (r->flags & PLKV_READ_VIVIFY)) {
		if (put(key, klen, "", 0, 0, r->vivify_exptime, NULL))
			return PLKV_ENOMEM;
		it = find(key, klen);
		created = true;
	}
	if (!it)
		return rc;
	item_meta(it, m);
	if (buf && it->vlen > cap)	/* the library's rule: nothing done */
		return PLKV_ETOOSMALL;
	before = it->exptime;
	if (prev)
		*prev = before;
	if (r->flags & PLKV_READ_TOUCH)
		it->exptime = abs_time(r->exptime);
	item_meta(it, m);
	if ((r->flags & (PLKV_READ_WIN | PLKV_READ_VIVIFY |
			 PLKV_READ_RECACHE)) && !it->token_sent &&
	    (created || it->stale ||
	     ((r->flags & PLKV_READ_RECACHE) && before &&
	      before < abs_time(r->recache)))) {
		it->token_sent = true;
		if (m)
			m->token |= PLKV_TOKEN_WIN;
	}
	if (!(r && (r->flags & PLKV_READ_NOBUMP)))
		item_fetch(it);
	if (it->vlen > cap)
		return PLKV_ETOOSMALL;
	if (it->vlen)
		memcpy(buf, it->val, it->vlen);
	return 0;
}

int mock_get(plkv_t *kv, const char *key, size_t klen, void *buf, size_t cap,
	     struct plkv_meta *m)
{
	return mock_read(kv, key, klen, NULL, buf, cap, m, NULL);
}

int mock_touch(plkv_t *kv, const char *key, size_t klen, int64_t exptime)
{
	int rc;
	struct item *it = lookup(key, klen, &rc);

	(void)kv;
	if (it)
		it->exptime = abs_time(exptime);
	return rc;
}

int mock_gat_prev(plkv_t *kv, const char *key, size_t klen, int64_t exptime,
		  void *buf, size_t cap, struct plkv_meta *m, int64_t *prev)
{
	struct plkv_read r = { .flags = PLKV_READ_TOUCH, .exptime = exptime };

	return mock_read(kv, key, klen, &r, buf, cap, m, prev);
}

int mock_gat(plkv_t *kv, const char *key, size_t klen, int64_t exptime,
	     void *buf, size_t cap, struct plkv_meta *m)
{
	return mock_gat_prev(kv, key, klen, exptime, buf, cap, m, NULL);
}

int mock_mget(plkv_t *kv, struct plkv_mget_key *keys, size_t n, void *buf,
	      size_t cap)
{
	size_t off = 0;

	calls_mget++;
	for (size_t i = 0; i < n; i++) {
		keys[i].off = off;
		keys[i].rc = mock_get(kv, keys[i].key, keys[i].klen,
				      (char *)buf + off, cap - off,
				      &keys[i].meta);
		calls_get--;
		if (keys[i].rc == 0)
			off += keys[i].meta.len;
	}
	return 0;
}

int mock_store(plkv_t *kv, int mode, const char *key, size_t klen,
	       const void *val, size_t vlen, uint32_t flags, int64_t exptime,
	       uint64_t cas_in, uint64_t *cas_out)
{
	bool inval = mode & PLKV_STORE_INVALIDATE, stale = false, sent = false;
	int64_t stale_exptime = 0;
	struct item *it;
	char *nv;
	int rc;

	(void)kv;
	mode &= ~PLKV_STORE_INVALIDATE;
	if (bad_key(key, klen))
		return PLKV_EBADKEY;
	if (vlen > settings.item_size_eff - 64)
		return PLKV_ETOOBIG;
	it = find(key, klen);
	if (cas_in && (mode == PLKV_SET || mode == PLKV_REPLACE))
		mode = PLKV_CAS;	/* as the library: a CAS compares */
	if (cas_in && it && it->cas != cas_in &&
	    (mode == PLKV_APPEND || mode == PLKV_PREPEND))
		return PLKV_EEXISTS;
	switch (mode) {
	case PLKV_ADD:
		if (it)
			return PLKV_ENOTSTORED;
		break;
	case PLKV_REPLACE:
		if (!it)
			return PLKV_ENOTSTORED;
		break;
	case PLKV_CAS:
		if (!it)
			return PLKV_ENOTFOUND;
		if (it->cas == cas_in)
			break;
		/* ms I: an older CAS stores, the value stays stale */
		if (!inval || !cas_in || cas_in > it->cas)
			return PLKV_EEXISTS;
		stale = true;
		sent = it->token_sent;
		stale_exptime = it->exptime;
		break;
	case PLKV_APPEND:
	case PLKV_PREPEND:
		if (!it)
			return PLKV_ENOTSTORED;
		nv = malloc(it->vlen + vlen);
		if (mode == PLKV_APPEND) {
			memcpy(nv, it->val, it->vlen);
			memcpy(nv + it->vlen, val, vlen);
		} else {
			memcpy(nv, val, vlen);
			memcpy(nv + vlen, it->val, it->vlen);
		}
		free(it->val);
		it->val = nv;
		it->vlen += vlen;
		it->cas = ++next_cas;
		it->atime = time(NULL);
		it->fetched = false;
		it->stale = it->token_sent = false;
		if (cas_out)
			*cas_out = it->cas;
		return 0;
	}
	rc = put(key, klen, val, vlen, flags, exptime, it);
	if (rc == 0 && stale) {
		it->stale = true;
		it->token_sent = sent;
		it->exptime = stale_exptime;
	}
	if (rc == 0 && cas_out)
		*cas_out = next_cas;
	return rc;
}

int mock_add(plkv_t *kv, const char *key, size_t klen, const void *val,
	     size_t vlen, uint32_t flags, int64_t exptime)
{
	return mock_store(kv, PLKV_ADD, key, klen, val, vlen, flags, exptime,
			  0, NULL);
}

int mock_delete_ex(plkv_t *kv, const char *key, size_t klen, uint64_t cas,
		   unsigned flags, int64_t exptime)
{
	int rc;
	struct item *it = lookup(key, klen, &rc);

	(void)kv;
	if (!it)
		return rc;
	if (cas && it->cas != cas)
		return PLKV_EEXISTS;
	if (flags & PLKV_DEL_INVALIDATE) {
		if (flags & PLKV_DEL_TOUCH)
			it->exptime = abs_time(exptime);
		it->stale = true;
		it->token_sent = false;
		it->cas = ++next_cas;
		return 0;
	}
	free(it->val);
	memset(it, 0, sizeof(*it));
	return 0;
}

int mock_delete_cas(plkv_t *kv, const char *key, size_t klen, uint64_t cas)
{
	return mock_delete_ex(kv, key, klen, cas, 0, 0);
}

int mock_delete(plkv_t *kv, const char *key, size_t klen)
{
	return mock_delete_cas(kv, key, klen, 0);
}

/* The digits of v as the item's new value, its exptime kept. */
static int put_number(struct item *it, const char *key, size_t klen,
		      uint64_t v, uint32_t flags, int64_t exptime)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);

	if (put(key, klen, buf, (size_t)n, flags, 0, it))
		return PLKV_ENOMEM;
	find(key, klen)->exptime = exptime;
	return 0;
}

int mock_arith(plkv_t *kv, const char *key, size_t klen,
	       const struct plkv_arith *a, uint64_t *res, struct plkv_meta *m,
	       int64_t *prev)
{
	struct item *it;
	uint64_t v = 0;
	size_t i;
	int rc;

	(void)kv;
	it = lookup(key, klen, &rc);
	if (!it && (rc == PLKV_EBADKEY || !(a->flags & PLKV_ARITH_VIVIFY)))
		return rc;
	if (!it) {
		v = a->initial;
		rc = put_number(NULL, key, klen, v, 0,
				abs_time(a->vivify_exptime));
	} else {
		if (a->cas_in && it->cas != a->cas_in)
			return PLKV_EEXISTS;
		if (it->vlen == 0 || it->vlen > 20)
			return PLKV_ENONNUMERIC;
		for (i = 0; i < it->vlen; i++) {
			if (it->val[i] < '0' || it->val[i] > '9')
				return PLKV_ENONNUMERIC;
			v = v * 10 + (uint64_t)(it->val[i] - '0');
		}
		if (a->flags & PLKV_ARITH_DECR)
			v = a->delta > v ? 0 : v - a->delta;
		else
			v += a->delta;
		rc = put_number(it, key, klen, v, it->flags, it->exptime);
	}
	if (rc)
		return rc;
	it = find(key, klen);
	if (prev)
		*prev = it->exptime;
	if (a->flags & PLKV_ARITH_TOUCH)
		it->exptime = abs_time(a->exptime);
	if (res)
		*res = v;
	item_meta(it, m);
	return 0;
}

int mock_incr(plkv_t *kv, const char *key, size_t klen, uint64_t delta,
	      uint64_t *result)
{
	struct plkv_arith a = { .delta = delta };

	return mock_arith(kv, key, klen, &a, result, NULL, NULL);
}

int mock_decr(plkv_t *kv, const char *key, size_t klen, uint64_t delta,
	      uint64_t *result)
{
	struct plkv_arith a = { .delta = delta, .flags = PLKV_ARITH_DECR };

	return mock_arith(kv, key, klen, &a, result, NULL, NULL);
}

void counters_reset(void)
{
	calls_counters_reset++;
}

/* The admin commands' walk is tested end to end (plkvd_admin.sh). */
int mock_dump(plkv_t *kv, plkv_dump_fn fn, void *ctx)
{
	(void)kv;
	(void)fn;
	(void)ctx;
	return 0;
}

int mock_stats_reset(plkv_t *kv)
{
	(void)kv;
	calls_stats_reset++;
	return 0;
}

int mock_flush_all(plkv_t *kv, int64_t delay)
{
	(void)kv;
	if (delay == 0)
		flushed_at = (int64_t)next_cas;
	return 0;
}

int mock_stats(plkv_t *kv, const char *group, plkv_stat_fn fn, void *ctx)
{
	(void)kv;
	if (!group || !*group) {
		fn(ctx, "uptime", "999");	/* the server's wins */
		fn(ctx, "curr_items", "0");
		return fn(ctx, "cmd_get", "0");
	}
	if (strcmp(group, "settings") == 0) {
		fn(ctx, "maxconns", "7");	/* the server's wins */
		return fn(ctx, "item_size_max", "1048576");
	}
	if (strcmp(group, "slabs") == 0)
		return fn(ctx, "active_slabs", "0");
	if (strcmp(group, "items") == 0)
		return 0;
	return -EINVAL;
}

const char *mock_strerror(int err)
{
	(void)err;
	return "mock error";
}

const char *mock_version(void)
{
	return "0.0.0";
}

/* ---- driving a connection ---- */

static struct conn C;
static char *out;
static size_t outlen, outcap;
static int last_rc;

static void take_output(void)
{
	size_t n = C.wlen - C.wpos;

	if (outlen + n + 1 > outcap) {
		outcap = (outlen + n + 1) * 2;
		out = realloc(out, outcap);
	}
	memcpy(out + outlen, C.wbuf + C.wpos, n);
	outlen += n;
	out[outlen] = '\0';
	C.wpos = C.wlen = 0;
}

/* Feed @n bytes in pieces of @step and collect every reply. */
static void feed_n(const char *in, size_t n, size_t step)
{
	size_t done = 0;

	while (done < n && C.state != CONN_CLOSING) {
		size_t k = n - done < step ? n - done : step;

		ck_assert_int_eq(conn_rreserve(&C, k), 0);
		memcpy(C.rbuf + C.rlen, in + done, k);
		C.rlen += k;
		done += k;
		do {
			last_rc = proto_process(&C);
			take_output();
		} while (last_rc == PROTO_WANT_WRITE);
		if (last_rc == PROTO_CLOSE)
			break;
	}
}

/* Feed a whole string at once. */
static void feed_str(const char *in)
{
	feed_n(in, strlen(in), 1u << 30);
}

/*
 * A request carrying a large value: the line @fmt makes (it gives the
 * value's length), @vlen bytes of 'v', then @tail (the value's \r\n and
 * what follows).  *n is its length; free() it.
 */
static char *value_request(size_t vlen, const char *tail, size_t *n,
			   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static char *value_request(size_t vlen, const char *tail, size_t *n,
			   const char *fmt, ...)
{
	size_t head, tlen = strlen(tail);
	va_list ap;
	char *in;

	va_start(ap, fmt);
	head = (size_t)vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	in = malloc(head + vlen + tlen + 1);
	ck_assert_ptr_nonnull(in);
	va_start(ap, fmt);
	vsnprintf(in, head + 1, fmt, ap);
	va_end(ap);
	memset(in + head, 'v', vlen);
	memcpy(in + head + vlen, tail, tlen + 1);
	*n = head + vlen + tlen;
	return in;
}

static void conn_reset(void)
{
	conn_release(&C);
	ck_assert_int_eq(conn_init(&C, 99), 0);
	outlen = 0;
	if (out)
		out[0] = '\0';
}

static void setup(void)
{
	mock_now = (time)(NULL);
	settings.verbose = 0;
	mock_reset();
	conn_reset();
}

static void teardown(void)
{
	conn_release(&C);
	free(out);
	out = NULL;
	outlen = outcap = 0;
}

/*
 * Send @in on a fresh connection, whole and then byte by byte (on a
 * fresh store each time, so both runs see the same state), and check
 * both outputs equal @expect.
 */
static void exchange_with(const char *prologue, const char *in,
			  const char *expect)
{
	size_t steps[] = { 1u << 30, 1, 7 };

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		mock_reset();
		conn_reset();
		if (prologue) {
			feed_n(prologue, strlen(prologue), 1u << 30);
			conn_reset();
		}
		feed_n(in, strlen(in), steps[i]);
		ck_assert_msg(strcmp(out ? out : "", expect) == 0,
			      "step %zu: input\n%s\ngot\n%s\nexpected\n%s",
			      steps[i], in, out ? out : "", expect);
	}
}

#define exchange(in, expect) exchange_with(NULL, in, expect)

/* ---- tokenizer and numbers ---- */

START_TEST(tokenizer)
{
	char line[] = "set  foo 0 0 5 ";
	struct token t[MAX_TOKENS];
	size_t n = tokenize_command(line, strlen(line), t, MAX_TOKENS);

	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(t[0].value, "set");
	ck_assert_str_eq(t[1].value, "foo");
	ck_assert_str_eq(t[4].value, "5");
	ck_assert_uint_eq(t[5].length, 0);
	ck_assert_ptr_null(t[5].value);

	char many[] = "get a b c d e";
	n = tokenize_command(many, strlen(many), t, 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(t[2].value, "b");
	ck_assert_str_eq(t[3].value, "c d e");	/* the unsplit rest */
}
END_TEST

START_TEST(numbers)
{
	uint32_t u;
	int32_t l;
	uint64_t ull;

	ck_assert(safe_strtoul("4294967295", &u) && u == 4294967295u);
	ck_assert(safe_strtoul("4294967296", &u) && u == 0);	/* low bits */
	ck_assert(!safe_strtoul("-1", &u));
	ck_assert(!safe_strtoul("12a", &u));
	ck_assert(!safe_strtoul("", &u));
	ck_assert(safe_strtol("-5", &l) && l == -5);
	ck_assert(safe_strtol("4294967297", &l) && l == 1);
	ck_assert(!safe_strtol("99999999999999999999", &l));
	ck_assert(safe_strtoull("18446744073709551615", &ull) &&
		  ull == UINT64_MAX);
	ck_assert(!safe_strtoull("18446744073709551616", &ull));
	ck_assert(!safe_strtoull("-1", &ull));
	ck_assert(safe_strtoull("+7", &ull) && ull == 7);
	ck_assert(safe_strtoull("7\t", &ull) && ull == 7);
}
END_TEST

/* ---- storage and retrieval ---- */

START_TEST(set_get)
{
	exchange("set a 5 0 3\r\nabc\r\nget a\r\n",
		 "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n");
	exchange("set a 0 0 0\r\n\r\nget a b\r\n",
		 "STORED\r\nVALUE a 0 0\r\n\r\nEND\r\n");
	exchange("set a 0 0 1\nx\r\nget a\n",
		 "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
	exchange("set a 4294967296 0 1\r\nx\r\nget a\r\n",
		 "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
	exchange("set a 0 -1 1\r\nx\r\nget a\r\n", "STORED\r\nEND\r\n");
	exchange("gets nope\r\n", "END\r\n");
}
END_TEST

START_TEST(gets_cas)
{
	exchange("set a 0 0 1\r\nx\r\ngets a\r\ncas a 0 0 1 1\r\ny\r\n"
		 "cas a 0 0 1 1\r\nz\r\ncas b 0 0 1 1\r\nz\r\ngets a\r\n",
		 "STORED\r\nVALUE a 0 1 1\r\nx\r\nEND\r\nSTORED\r\n"
		 "EXISTS\r\nNOT_FOUND\r\nVALUE a 0 1 2\r\ny\r\nEND\r\n");
	exchange("cas t 0 0 1\r\ny\r\n", "ERROR\r\nERROR\r\n");
	exchange("cas t 0 0 1 abc\r\ny\r\n",
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n");
}
END_TEST

START_TEST(add_replace_append_prepend)
{
	exchange("add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\n"
		 "replace b 0 0 1\r\nx\r\nreplace a 3 0 1\r\nz\r\n"
		 "append a 0 0 2\r\n12\r\nprepend a 0 0 2\r\n00\r\n"
		 "append b 0 0 1\r\nx\r\nprepend b 0 0 1\r\nx\r\nget a\r\n",
		 "STORED\r\nNOT_STORED\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\n"
		 "STORED\r\nNOT_STORED\r\nNOT_STORED\r\n"
		 "VALUE a 3 5\r\n00z12\r\nEND\r\n");
}
END_TEST

START_TEST(multiget)
{
	char in[8192], expect[8192];
	int n, m;

	exchange("set a 0 0 1\r\n1\r\nset c 0 0 1\r\n3\r\nget a b c a\r\n",
		 "STORED\r\nSTORED\r\nVALUE a 0 1\r\n1\r\nVALUE c 0 1\r\n3\r\n"
		 "VALUE a 0 1\r\n1\r\nEND\r\n");
	/* more keys than tokens and than a batch */
	n = snprintf(in, sizeof(in), "set k 0 0 2\r\nhi\r\nget");
	m = snprintf(expect, sizeof(expect), "STORED\r\n");
	for (int i = 0; i < 70; i++) {
		n += snprintf(in + n, sizeof(in) - (size_t)n, " %s",
			      i % 3 ? "k" : "nope");
		if (i % 3)
			m += snprintf(expect + m, sizeof(expect) - (size_t)m,
				      "VALUE k 0 2\r\nhi\r\n");
	}
	snprintf(in + n, sizeof(in) - (size_t)n, "\r\n");
	snprintf(expect + m, sizeof(expect) - (size_t)m, "END\r\n");
	exchange(in, expect);
	/* one library call per batch of keys */
	mock_reset();
	conn_reset();
	feed_n(in, strlen(in), 1u << 30);
	ck_assert_uint_eq(calls_mget, (70 + MGET_BATCH - 1) / MGET_BATCH);
}
END_TEST

START_TEST(multiget_large_values)
{
	/* values larger than the batch buffer: retried one by one */
	static char in[300000];
	size_t n = 0;
	int vlen = 20000;

	for (int i = 0; i < 5; i++) {
		n += (size_t)sprintf(in + n, "set k%d 0 0 %d\r\n", i, vlen);
		memset(in + n, 'a' + i, (size_t)vlen);
		n += (size_t)vlen;
		n += (size_t)sprintf(in + n, "\r\n");
	}
	n += (size_t)sprintf(in + n, "get k0 k1 x k2 k3 k4\r\n");
	feed_n(in, n, 1u << 30);
	ck_assert_uint_eq(outlen, 5 * strlen("STORED\r\n") +
			  5 * (strlen("VALUE k0 0 20000\r\n") + 20000 + 2) + 5);
	ck_assert(strstr(out, "VALUE k4 0 20000\r\neeee") != NULL);
	ck_assert_str_eq(out + outlen - 5, "END\r\n");
}
END_TEST

START_TEST(get_pauses_for_output)
{
	/* A get whose answer passes WBUF_HIGH stops and resumes. */
	static char in[200000];
	size_t n = 0, want;
	int paused = 0;

	n += (size_t)sprintf(in + n, "set big 0 0 100000\r\n");
	memset(in + n, 'x', 100000);
	n += 100000;
	n += (size_t)sprintf(in + n, "\r\nget big big big big big big\r\n"
			     "version\r\n");
	ck_assert_int_eq(conn_rreserve(&C, n), 0);
	memcpy(C.rbuf, in, n);
	C.rlen = n;
	while ((last_rc = proto_process(&C)) == PROTO_WANT_WRITE) {
		ck_assert_uint_le(C.wlen - C.wpos, WBUF_HIGH + 200000);
		take_output();
		paused++;
	}
	take_output();
	ck_assert_int_eq(last_rc, PROTO_WANT_READ);
	ck_assert_int_ge(paused, 1);
	want = strlen("STORED\r\n") + 6 * (strlen("VALUE big 0 100000\r\n") +
		100002) + 5 + strlen("VERSION " PLKVD_VERSION "\r\n");
	ck_assert_uint_eq(outlen, want);
}
END_TEST

START_TEST(noreply)
{
	exchange("set a 0 0 1 noreply\r\nx\r\nget a\r\n",
		 "VALUE a 0 1\r\nx\r\nEND\r\n");
	/* errors are silenced too, as memcached does */
	exchange("set a 0 0 abc noreply\r\nget a\r\n", "END\r\n");
	exchange("set a 0 0 3 noreply\r\nxyzw\r\nget a\r\n",
		 "ERROR\r\nEND\r\n");
	exchange("add a 0 0 1 noreply\r\nx\r\nadd a 0 0 1 noreply\r\ny\r\n"
		 "incr a 1 noreply\r\ndelete a noreply\r\ndelete a noreply\r\n"
		 "touch a 1 noreply\r\nflush_all noreply\r\n"
		 "verbosity 1 noreply\r\nget a\r\n", "END\r\n");
}
END_TEST

START_TEST(bad_lines)
{
	exchange("bogus\r\n", "ERROR\r\n");
	exchange("\r\n", "ERROR\r\n");
	exchange("x\r\n", "ERROR\r\n");
	exchange("get\r\n", "ERROR\r\n");
	exchange("set a 0 0\r\n", "ERROR\r\n");
	exchange("set a 0 0 1 2 3\r\n", "ERROR\r\n");
	exchange("set a 0 0 abc\r\nxyz\r\n",
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n");
	exchange("set a 0 0 -1\r\nxyz\r\n",
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n");
	exchange("set a 12a 0 1\r\nx\r\n",
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n");
	exchange("set a 0 0 2147483646\r\nx\r\n",
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n");
	exchange("set a 0 0 3\r\nxyzw\r\nget a\r\n",
		 "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n");
	exchange("incr\r\ndecr a\r\ntouch a\r\ndelete\r\nverbosity\r\n"
		 "flush_all 1 2 3\r\n",
		 "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n");
	exchange("shutdown\r\n", "ERROR: shutdown not enabled\r\n");
}
END_TEST

START_TEST(long_keys)
{
	char key[260], in[2048], expect[2048];

	memset(key, 'k', sizeof(key));
	key[251] = '\0';
	snprintf(in, sizeof(in), "set %s 0 0 1\r\nx\r\nget a %s b\r\n"
		 "delete %s\r\nincr %s 1\r\ntouch %s 1\r\n",
		 key, key, key, key, key);
	exchange(in, "CLIENT_ERROR bad command line format\r\nERROR\r\n"
		 "CLIENT_ERROR bad command line format\r\n"
		 "CLIENT_ERROR bad command line format\r\n"
		 "CLIENT_ERROR bad command line format\r\n"
		 "CLIENT_ERROR bad command line format\r\n");
	key[250] = '\0';
	snprintf(in, sizeof(in), "set %s 0 0 1\r\nx\r\nget %s\r\n", key, key);
	snprintf(expect, sizeof(expect), "STORED\r\nVALUE %s 0 1\r\nx\r\nEND\r\n",
		 key);
	exchange(in, expect);
}
END_TEST

START_TEST(too_large_is_swallowed)
{
	size_t vlen = settings.item_size_eff + 100, n, step = 3000;
	char *in = value_request(vlen, "\r\nget a\r\nversion\r\n", &n,
				 "set a 0 0 1\r\nx\r\nset a 0 0 %zu\r\n",
				 vlen);
	size_t max_rsize = 0;

	/* fed in pieces: the value is never held whole */
	for (size_t done = 0; done < n; done += step) {
		size_t k = n - done < step ? n - done : step;

		ck_assert_int_eq(conn_rreserve(&C, k), 0);
		memcpy(C.rbuf + C.rlen, in + done, k);
		C.rlen += k;
		last_rc = proto_process(&C);
		take_output();
		if (C.rsize > max_rsize)
			max_rsize = C.rsize;
	}
	ck_assert_uint_lt(max_rsize, 64 * 1024);
	/* the failed set also removed the old value, as memcached does */
	ck_assert_str_eq(out, "STORED\r\n"
			 "SERVER_ERROR object too large for cache\r\n"
			 "END\r\nVERSION " PLKVD_VERSION "\r\n");
	free(in);
}
END_TEST

START_TEST(announced_value_grows_with_data)
{
	/* A client that announces a large value and sends little of it
	 * costs little: the buffer grows with the data, not the announce. */
	const char *in = "set a 0 0 900000\r\n0123456789";

	feed_n(in, strlen(in), 1u << 30);
	ck_assert_int_eq(C.state, CONN_NREAD);
	ck_assert_uint_le(proto_read_hint(&C), 128u << 10);
	ck_assert_int_eq(conn_rreserve(&C, proto_read_hint(&C)), 0);
	ck_assert_uint_le(C.rsize, 256u << 10);
}
END_TEST

START_TEST(too_large_noreply)
{
	size_t vlen = settings.item_size_eff + 1, n;
	char *in = value_request(vlen, "\r\nversion\r\n", &n,
				 "set a 0 0 %zu noreply\r\n", vlen);

	feed_n(in, n, 4096);
	ck_assert_str_eq(out, "VERSION " PLKVD_VERSION "\r\n");
	free(in);
}
END_TEST

START_TEST(arithmetic)
{
	exchange("set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\n"
		 "incr n 18446744073709551615\r\nincr n abc\r\nincr n -1\r\n"
		 "incr nx 1\r\nset s 0 0 1\r\nx\r\nincr s 1\r\n",
		 "STORED\r\n15\r\n0\r\n18446744073709551615\r\n"
		 "CLIENT_ERROR invalid numeric delta argument\r\n"
		 "CLIENT_ERROR invalid numeric delta argument\r\n"
		 "NOT_FOUND\r\nSTORED\r\n"
		 "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
}
END_TEST

START_TEST(delete_forms)
{
	exchange("set a 0 0 1\r\nx\r\ndelete a 0\r\ndelete a 1\r\n"
		 "delete a noreply\r\ndelete a 0 noreply\r\ndelete a\r\n"
		 "delete a 0 1\r\n",
		 "STORED\r\nDELETED\r\n"
		 "CLIENT_ERROR bad command line format.  Usage: delete <key> "
		 "[noreply]\r\nNOT_FOUND\r\n"
		 "CLIENT_ERROR bad command line format.  Usage: delete <key> "
		 "[noreply]\r\n");
}
END_TEST

START_TEST(touch_gat)
{
	exchange("set t 5 0 1\r\nx\r\ntouch t 10\r\ntouch nope 10\r\n"
		 "touch t abc\r\ngat 100 t nope\r\ngats 100 t\r\ngat abc t\r\n"
		 "gat 100\r\ndelete t\r\ngat 100 t\r\n",
		 "STORED\r\nTOUCHED\r\nNOT_FOUND\r\n"
		 "CLIENT_ERROR invalid exptime argument\r\n"
		 "VALUE t 5 1\r\nx\r\nEND\r\nVALUE t 5 1 1\r\nx\r\nEND\r\n"
		 "CLIENT_ERROR invalid exptime argument\r\nEND\r\nDELETED\r\n"
		 "END\r\n");
}
END_TEST

START_TEST(flush_verbosity_version_quit)
{
	exchange("set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\nflush_all 0\r\n"
		 "flush_all abc\r\nflush_all -1\r\nflush_all 0 x\r\n"
		 "flush_all 10 noreply\r\n",
		 "STORED\r\nOK\r\nEND\r\nOK\r\n"
		 "CLIENT_ERROR invalid exptime argument\r\nOK\r\nOK\r\n");
	exchange("verbosity 1\r\nverbosity abc\r\nverbosity 1 2 3\r\n"
		 "version x\r\n",
		 "OK\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n"
		 "VERSION " PLKVD_VERSION "\r\n");
	settings.verbose = 0;
	exchange("version\r\nquit\r\nversion\r\n",
		 "VERSION " PLKVD_VERSION "\r\n");
	ck_assert_int_eq(last_rc, PROTO_CLOSE);
}
END_TEST

START_TEST(stats_groups)
{
	feed_n("stats\r\n", 7, 1u << 30);
	ck_assert(strncmp(out, "STAT pid ", 9) == 0);
	ck_assert(strstr(out, "\r\nSTAT uptime ") != NULL);
	ck_assert(strstr(out, "STAT uptime 999") == NULL);
	ck_assert(strstr(out, "\r\nSTAT time ") != NULL);
	ck_assert(strstr(out, "\r\nSTAT version " PLKVD_VERSION "\r\n"));
	ck_assert(strstr(out, "\r\nSTAT curr_connections "));
	ck_assert(strstr(out, "\r\nSTAT total_connections "));
	ck_assert(strstr(out, "\r\nSTAT threads 4\r\n"));
	ck_assert(strstr(out, "\r\nSTAT curr_items 0\r\n"));
	ck_assert_str_eq(out + outlen - 5, "END\r\n");
}
END_TEST

START_TEST(stats_other_groups)
{
	conn_reset();
	feed_n("stats settings\r\n", 16, 1u << 30);
	ck_assert(strstr(out, "STAT maxconns 1024\r\n"));
	ck_assert(strstr(out, "STAT shutdown_command no\r\n"));
	ck_assert(strstr(out, "STAT flush_enabled yes\r\n"));
	ck_assert(!strstr(out, "STAT maxconns 7\r\n"));
	ck_assert(strstr(out, "STAT item_size_max 1048576\r\nEND\r\n"));
	exchange("stats slabs\r\nstats items\r\nstats nothing\r\n"
		 "stats reset\r\nstats detail\r\n",
		 "STAT active_slabs 0\r\nEND\r\nEND\r\nERROR\r\nRESET\r\n"
		 "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
}
END_TEST

START_TEST(line_limits)
{
	char junk[LINE_LIMIT + 100];

	/* no newline after LINE_LIMIT bytes: junk, the connection closes */
	memset(junk, 'a', sizeof(junk));
	feed_n(junk, sizeof(junk), 512);
	ck_assert_int_eq(last_rc, PROTO_CLOSE);
	ck_assert_uint_eq(outlen, 0);

	/* a long get line is fine */
	conn_reset();
	{
		size_t n = 20000, i;
		char *in = malloc(n + 10);

		memcpy(in, "get ", 4);
		for (i = 4; i + 1 < n; i += 2)
			memcpy(in + i, "k ", 2);
		memcpy(in + i, "\r\n", 2);
		feed_n(in, i + 2, 1000);
		ck_assert_int_eq(last_rc, PROTO_WANT_READ);
		ck_assert_str_eq(out, "END\r\n");
		free(in);
	}
	/* an endless one is answered as it comes, in bounded memory */
	conn_reset();
	{
		size_t n = 4u << 20, i;
		char *in = malloc(n + 16);

		memcpy(in, "get ", 4);
		for (i = 4; i + 6 < n; i += 6)
			memcpy(in + i, "nokey ", 6);
		memcpy(in + i, "\r\nversion\r\n", 11);
		feed_n(in, i + 11, 65536);
		ck_assert_int_eq(last_rc, PROTO_WANT_READ);
		ck_assert_str_eq(out, "END\r\nVERSION " PLKVD_VERSION "\r\n");
		ck_assert_uint_le(C.rsize, 256u << 10);
		free(in);
	}
	/* a long line that arrived whole is served, as memcached does */
	exchange("set aaaaaaaaaa 0 0 1      "
		 "                                                           "
		 "                                                           "
		 "\r\nx\r\n", "STORED\r\n");
}
END_TEST

/* Long get lines arriving in pieces answer what whole ones do. */
START_TEST(get_line_streamed)
{
	static char in[80000], expect[400000];
	size_t n = 0, m = 0;

	n += (size_t)sprintf(in, "set k 3 0 2\r\nhi\r\nset kk 0 0 0\r\n\r\n");
	m += (size_t)sprintf(expect, "STORED\r\nSTORED\r\n");
	n += (size_t)sprintf(in + n, "gets");
	for (int i = 0; i < 5000; i++) {
		const char *k = i % 3 == 0 ? "k" : i % 3 == 1 ? "nope" : "kk";

		n += (size_t)sprintf(in + n, "%s%s", i % 7 ? " " : "   ", k);
		if (i % 3 == 0)
			m += (size_t)sprintf(expect + m, "VALUE k 3 2 1\r\nhi\r\n");
		else if (i % 3 == 2)
			m += (size_t)sprintf(expect + m, "VALUE kk 0 0 2\r\n\r\n");
	}
	n += (size_t)sprintf(in + n, "\r\nversion\r\n");
	m += (size_t)sprintf(expect + m, "END\r\nVERSION %s\r\n", PLKVD_VERSION);
	for (size_t step = 1; step < 5000; step = step * 3 + 1) {
		mock_reset();
		conn_reset();
		feed_n(in, n, step);
		ck_assert_msg(outlen == m && memcmp(out, expect, m) == 0,
			      "step %zu: %zu bytes, expected %zu", step, outlen, m);
		ck_assert_uint_le(C.rsize, 64u << 10);
	}
}
END_TEST

/* A key over 250 bytes in a streamed line: error after the values. */
START_TEST(get_line_streamed_bad_key)
{
	static char in[20000];
	size_t n = 0;

	n += (size_t)sprintf(in, "set k 0 0 1\r\nx\r\nget");
	for (int i = 0; i < 3000; i++)
		n += (size_t)sprintf(in + n, " k");
	in[n++] = ' ';
	memset(in + n, 'z', 300);
	n += 300;
	n += (size_t)sprintf(in + n, " k k\r\nversion\r\n");
	feed_n(in, n, 1000);
	ck_assert_uint_eq(outlen, strlen("STORED\r\n") +
			  3000 * strlen("VALUE k 0 1\r\nx\r\n") +
			  strlen("CLIENT_ERROR bad command line format\r\n") +
			  strlen("VERSION " PLKVD_VERSION "\r\n"));
	ck_assert(strstr(out, "x\r\nCLIENT_ERROR bad command line format\r\n"
			 "VERSION ") != NULL);
}
END_TEST

START_TEST(binary_junk)
{
	unsigned seed = 12345;
	char buf[4096];

	for (int round = 0; round < 200; round++) {
		conn_reset();
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = (char)(seed >> 16);
			/* now and then something that looks like a command */
			if ((seed >> 8) % 97 == 0 && i + 20 < sizeof(buf)) {
				static const char *cmds[] = {
					"set k 0 0 5\r\n", "get k k\r\n",
					"ms k 3 T0 c\r\n", "mg k v k O1\r\n",
					"incr k 9\r\n", "set k 0 0 999999999\r\n",
					"ma k N0 J1 v\r\n", "md k q\r\n",
				};
				const char *s = cmds[(seed >> 4) % 8];

				memcpy(buf + i, s, strlen(s));
				i += strlen(s) - 1;
			}
		}
		feed_n(buf, sizeof(buf), 1 + round % 300);
		ck_assert_uint_le(C.rsize, 2u << 20);
	}
}
END_TEST

/* ---- meta commands ---- */

START_TEST(meta_basic)
{
	exchange("ms m1 2 F5 T100 c k O123\r\nhi\r\n"
		 "mg m1 v f t c s k O9 q\r\nmg missing v\r\n"
		 "mg missing v q k Oab\r\nmg missing v k Oab\r\nmn\r\n",
		 "HD c1 km1 O123\r\nVA 2 f5 t100 c1 s2 km1 O9\r\nhi\r\n"
		 "EN\r\nEN kmissing Oab\r\nMN\r\n");
	exchange("ms q1 2 q\r\nhi\r\nmg q1 q\r\nmg q1 q v\r\nmg q1 E5\r\n"
		 "mg q1 s v q O1 k\r\nmn\r\n",
		 "HD\r\nVA 2\r\nhi\r\nCLIENT_ERROR invalid flag\r\n"
		 "VA 2 s2 O1 kq1\r\nhi\r\nMN\r\n");
}
END_TEST

START_TEST(meta_set_modes)
{
	exchange("ms m2 2 ME\r\nhi\r\nms m2 2 ME\r\nhi\r\nms m3 2 MR\r\nhi\r\n"
		 "ms m2 2 MA\r\nyo\r\nms m2 2 MP\r\nzz\r\nmg m2 v\r\n"
		 "ms m2 2 C1\r\nhi\r\nmg m2 c\r\n",
		 "HD\r\nNS\r\nNS\r\nHD\r\nHD\r\nVA 6\r\nzzhiyo\r\nEX\r\n"
		 "HD c3\r\n");
	exchange("ms m1 2 MX\r\nhi\r\nms m1 S2\r\nhi\r\nms m1\r\n"
		 "ms m1 2 MZZ\r\nhi\r\nms m1 abc\r\nhi\r\n",
		 "CLIENT_ERROR invalid mode for ms M token\r\n"
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n"
		 "CLIENT_ERROR bad command line format\r\n"
		 "CLIENT_ERROR incorrect length for M token\r\n"
		 "CLIENT_ERROR bad command line format\r\nERROR\r\n");
	exchange("ms x 1 O123456789012345678901234567890123\r\nz\r\nmg x v\r\n"
		 "ms x 1 Fabc\r\nz\r\nms x 1 T\r\nz\r\nmg x t v\r\n"
		 "ms x 1 I\r\nz\r\n",
		 "CLIENT_ERROR opaque token too long\r\nEN\r\n"
		 "CLIENT_ERROR bad command line format\r\n"
		 "CLIENT_ERROR bad token in command line format\r\nEN\r\nHD\r\n");
	exchange("ms a 1 k O1 c\r\nx\r\nms b 1\r\ny\r\nms c 1 O2\r\nz\r\n",
		 "HD ka O1 c1\r\nHD\r\nHD O2\r\n");
	exchange("ms x 2 q\r\nabc\r\nmn\r\n",
		 "CLIENT_ERROR bad data chunk\r\nERROR\r\nMN\r\n");
	/* CAS check with append mode, and NF for CAS on a missing key */
	exchange("ms a 1\r\nx\r\nms a 1 MA C99\r\ny\r\nms a 1 MA C1\r\ny\r\n"
		 "ms b 1 C1\r\nx\r\nmg a v\r\n",
		 "HD\r\nEX\r\nHD\r\nNF\r\nVA 2\r\nxy\r\n");
}
END_TEST

START_TEST(meta_too_large)
{
	size_t vlen = settings.item_size_eff + 5, n;
	char *in = value_request(vlen, "\r\nmn\r\n", &n,
				 "ms big %zu T0 q\r\n", vlen);

	feed_n(in, n, 5000);
	ck_assert_str_eq(out, "SERVER_ERROR object too large for cache\r\n"
			 "MN\r\n");
	free(in);
}
END_TEST

START_TEST(meta_delete_arith)
{
	exchange("ms m2 2\r\nhi\r\nmd m2 q\r\nmd m2\r\nmd m2 q O1 k\r\n"
		 "md m2 O1 k\r\nma mx\r\nma mx N0 J10 v\r\nma mx v\r\n"
		 "ma mx MD D5 v t c\r\nma mx M- D50 v\r\nma mx MX\r\n"
		 "ma mx Dabc\r\n",
		 "HD\r\nNF\r\nNF O1 km2\r\nNF O1 km2\r\nNF\r\nVA 2\r\n10\r\n"
		 "VA 2\r\n11\r\nVA 1 t-1 c4\r\n6\r\nVA 1\r\n0\r\n"
		 "CLIENT_ERROR invalid mode for ma M token\r\n"
		 "CLIENT_ERROR invalid or duplicate flag\r\n");
	exchange("ms q1 2\r\nhi\r\nma q1 q\r\nms n1 1\r\n5\r\nma n1 q\r\n"
		 "ma n1 q v\r\nmg n1 v\r\nma n1 D18446744073709551615\r\n"
		 "mg n1 v\r\nma n1 MD D99\r\nmg n1 v t\r\n",
		 "HD\r\n"
		 "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
		 "HD\r\nVA 1\r\n7\r\nHD\r\nVA 1\r\n6\r\nHD\r\nVA 1 t-1\r\n0\r\n");
	exchange("ms n1 1\r\n0\r\nmd n1 C99\r\nmd n1 C99 q\r\nmd n1 C1 q\r\n"
		 "mg n1\r\n", "HD\r\nEX\r\nEX\r\nEN\r\n");
	exchange("ma ctr N0 J5 v t\r\nma ctr k O5\r\nma ctr T10 t\r\n",
		 "VA 1 t-1\r\n5\r\nHD kctr O5\r\nHD t10\r\n");
}
END_TEST

START_TEST(meta_errors)
{
	exchange("mg\r\nmg m1 z\r\nmg m1 v v\r\nmz\r\nmg m1 Tabc\r\n"
		 "me\r\nme nope\r\n",
		 "ERROR\r\nCLIENT_ERROR invalid flag\r\n"
		 "CLIENT_ERROR duplicate flag\r\nERROR\r\n"
		 "CLIENT_ERROR bad token in command line format\r\n"
		 "CLIENT_ERROR bad command line format\r\nEN\r\n");
	exchange("mg n1 O123456789012345678901234567890123\r\n"
		 "mg nope O123456789012345678901234567890123\r\n",
		 "CLIENT_ERROR opaque token too long\r\n"
		 "CLIENT_ERROR opaque token too long\r\n");
	exchange("mg k 1 2 3 4 5 6 7 8 9 a b c d e f g h i\r\n",
		 "CLIENT_ERROR options flags are too long\r\n");
}
END_TEST

START_TEST(meta_ttl_order_and_b64)
{
	exchange("ms tt 1 T100\r\nz\r\nmg tt t T50 t\r\nmg tt t T50\r\n"
		 "mg tt t\r\n",
		 "HD\r\nCLIENT_ERROR duplicate flag\r\nHD t100\r\nHD t50\r\n");
	exchange("ms tt 1\r\nz\r\nmg tt k b\r\nmg dHQ= b k v\r\n"
		 "md dHQ= b k\r\nmg tt\r\n",
		 "HD\r\nCLIENT_ERROR error decoding key\r\nVA 1 kdHQ= b\r\nz\r\n"
		 "HD kdHQ= b\r\nEN\r\n");
}
END_TEST

START_TEST(meta_vivify)
{
	exchange("mg viv N30 v t c\r\nmg viv v t\r\n",
		 "VA 0 t30 c1 W\r\n\r\nVA 0 t30 Z\r\n\r\n");
}
END_TEST

/* The C, N/J and T flags are one library call each: what it compares,
 * creates and touches, and the CAS and TTL it reports. */
/* Stale items and win tokens; the replies are memcached 1.6.18's. */
START_TEST(meta_stale_and_win)
{
	/* md I: X W to the first mg, Z X after; T; a set clears it */
	exchange("ms k 2 T100\r\nhi\r\nmg k c\r\nmd k I\r\n"
		 "mg k v c t\r\nmg k v\r\nmg k s\r\nmd k I T30 q\r\n"
		 "mg k t\r\nmg k k O1\r\nms k 2\r\nnw\r\nmg k v\r\n"
		 "md k I C99\r\nmd nope I O2\r\nmn\r\n",
		 "HD\r\nHD c1\r\nHD\r\nVA 2 c2 t100 X W\r\nhi\r\n"
		 "VA 2 Z X\r\nhi\r\nHD s2 Z X\r\nHD t30 X W\r\n"
		 "HD kk O1 Z X\r\nHD\r\nVA 2\r\nnw\r\nEX\r\nNF O2\r\n"
		 "MN\r\n");
	/* ms I: an older CAS stores and stays stale; a newer one is EX;
	 * the matching one (or none) makes a fresh item */
	exchange("ms s 1 c\r\na\r\nmd s I\r\nmg s c\r\n"
		 "ms s 1 C1 I c\r\nb\r\nmg s v c\r\nms s 1 C9 I\r\nc\r\n"
		 "ms s 1 C1\r\nd\r\nms s 1 C3 I c\r\ne\r\nmg s v\r\n"
		 "ms s 1 I\r\nf\r\nmg s\r\n",
		 "HD c1\r\nHD\r\nHD c2 X W\r\nHD c3\r\nVA 1 c3 Z X\r\n"
		 "b\r\nEX\r\nEX\r\nHD c4\r\nVA 1\r\ne\r\nHD\r\nHD\r\n");
	/* R: a TTL left below the token wins once; N: the creator wins,
	 * later readers get Z */
	exchange("ms r 1 T10\r\nx\r\nmg r R5\r\nmg r R30 t\r\n"
		 "mg r R30\r\nmg r\r\nms r 1 T10\r\ny\r\nmg r\r\n"
		 "mg n N30 s t\r\nmg n N30 t\r\nmg n v\r\nmg r Rx\r\n",
		 "HD\r\nHD\r\nHD t10 W\r\nHD Z\r\nHD Z\r\nHD\r\nHD\r\n"
		 "HD s0 t30 W\r\nHD t30 Z\r\nVA 0 Z\r\n\r\n"
		 "CLIENT_ERROR bad token in command line format\r\n");
}
END_TEST

START_TEST(meta_cas_compare)
{
	/* md: match, mismatch, missing; C0 never matches */
	exchange("ms d 1\r\nx\r\nmd d C5\r\nmd d C0\r\nmd d C1 k\r\n"
		 "md d C1\r\nmg d\r\n",
		 "HD\r\nEX\r\nEX\r\nHD kd\r\nNF\r\nEN\r\n");
	ck_assert_uint_eq(calls_get, 1);	/* the mg: md C0 only looked */
	/* ms MA/MP with C: mismatch EX, match HD, missing NS */
	exchange("ms a 1\r\nx\r\nms a 1 MP C7\r\ny\r\nms a 1 MP C1 c\r\n"
		 "y\r\nms z 1 MA C2\r\ny\r\nmg a v c\r\n",
		 "HD\r\nEX\r\nHD c2\r\nNS\r\nVA 2 c2\r\nyx\r\n");
	/* ma C: mismatch, match (new CAS returned), missing */
	exchange("ms n 1\r\n5\r\nma n C9 v\r\nma n C1 v c\r\nma n C1\r\n"
		 "ma n C2 MD v\r\nma none C4\r\n",
		 "HD\r\nEX\r\nVA 1 c2\r\n6\r\nEX\r\nVA 1\r\n5\r\n"
		 "NF\r\n");
}
END_TEST

START_TEST(meta_arith_vivify_ttl)
{
	/* N/J create (C ignored on a miss, as memcached), then count */
	exchange("ma v N0 J7 C99 v c t\r\nma v N0 J7 v\r\nma v MD D8 v\r\n",
		 "VA 1 c1 t-1\r\n7\r\nVA 1\r\n8\r\nVA 1\r\n0\r\n");
	exchange("ma w N100 J1 t\r\n", "HD t100\r\n");
	/* T with t before it shows the old TTL, after it the new one */
	/* (q: the update and the touch still happen) */
	exchange("ms n 1 T100\r\n5\r\nma n t T50 v\r\nma n T20 t\r\n"
		 "mg n t v\r\nma n q T0\r\nmg n t v\r\n",
		 "HD\r\nVA 1 t100\r\n6\r\nHD t20\r\nVA 1 t20\r\n7\r\n"
		 "VA 1 t-1\r\n8\r\n");
}
END_TEST

START_TEST(meta_get_touch)
{
	exchange("ms tt 1 T100\r\nz\r\nmg tt T50 t v\r\nmg tt t T20 c\r\n"
		 "mg tt t s\r\nmg none t T5\r\n",
		 "HD\r\nVA 1 t50\r\nz\r\nHD t50 c1\r\nHD t20 s1\r\nEN\r\n");
}
END_TEST

/* mg h and l: the fetched mark and the access time as the get found
 * them, in request order; an mg N creation is not yet fetched. */
START_TEST(meta_hit_and_last_access)
{
	exchange("ms k 1\r\nx\r\nmg k h l\r\nmg k l h\r\nmg k v h\r\n"
		 "mg viv N30 h\r\nmg viv h\r\n",
		 "HD\r\nHD h0 l0\r\nHD l0 h1\r\nVA 1 h1\r\nx\r\n"
		 "HD h0 W\r\nHD h1 Z\r\n");
}
END_TEST

/* mg u: the read leaves the item as it was (memcached's metaget.t). */
START_TEST(meta_no_update)
{
	exchange("ms nu 3 T100\r\nhit\r\nmg nu s t u h\r\nmg nu s t h\r\n"
		 "mg nu s t u h\r\n",
		 "HD\r\nHD s3 t100 h0\r\nHD s3 t100 h0\r\nHD s3 t100 h1\r\n");
}
END_TEST

START_TEST(meta_last_access_from_the_store)
{
	unsigned l = 0;
	int64_t before;

	feed_str("ms k 1\r\nx\r\n");
	before = time(NULL) - 100;
	ck_assert_ptr_nonnull(find("k", 1));
	find("k", 1)->atime = before;
	outlen = 0;
	feed_str("mg k l h\r\nmg k h\r\n");
	ck_assert_msg(sscanf(out, "HD l%u h0\r\nHD h1\r\n", &l) == 1,
		      "got %s", out);
	ck_assert_uint_ge(l, 100);
	ck_assert_uint_le(l, (uint64_t)(time(NULL) - before));
}
END_TEST

/* A value larger than the first read's room: the first try changed
 * nothing, so h, l and t are the item's as the mg found it. */
START_TEST(meta_hit_of_a_large_value)
{
	size_t vlen = 10000, n;
	char *in = value_request(vlen, "\r\nmg big h t T50 v\r\n", &n,
				 "ms big %zu T100\r\n", vlen);
	char want[64];

	feed_n(in, n, 1u << 30);
	snprintf(want, sizeof(want), "HD\r\nVA %zu h0 t100\r\n", vlen);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "got %.40s",
		      out);
	free(in);
}
END_TEST

/* me: the metadata the store reports, read without a get. */
START_TEST(meta_debug)
{
	char want[256];
	int n;

	n = snprintf(want, sizeof(want),
		     "HD\r\nME n exp=-1 la=0 cas=1 fetch=no cls=%u size=%u\r\n"
		     "ME n exp=-1 la=0 cas=1 fetch=no cls=%u size=%u\r\n"
		     "VA 1\r\nx\r\n"
		     "ME n exp=-1 la=0 cas=1 fetch=yes cls=%u size=%u\r\n"
		     "ME bg== exp=-1 la=0 cas=1 fetch=yes cls=%u size=%u\r\n"
		     "EN\r\n",
		     1u, MOCK_HDR + 2, 1u, MOCK_HDR + 2, 1u, MOCK_HDR + 2,
		     1u, MOCK_HDR + 2);
	ck_assert_int_lt(n, (int)sizeof(want));
	exchange("ms n 1\r\nx\r\nme n\r\nme n\r\nmg n v\r\nme n\r\n"
		 "me bg== b\r\nme nope\r\n", want);
	/* only the mg was a get */
	ck_assert_uint_eq(calls_get, 1);
}
END_TEST

/* me exp is the TTL left (memcached's exptime - now), not its negation. */
START_TEST(meta_debug_ttl)
{
	int exp = 0, la = -1;
	char fetch[4];

	feed_str("ms e 1 T100\r\nx\r\nme e\r\n");
	ck_assert_msg(sscanf(out, "HD\r\nME e exp=%d la=%d cas=1 fetch=%3s",
			     &exp, &la, fetch) == 3, "got %s", out);
	ck_assert_int_ge(exp, 98);
	ck_assert_int_le(exp, 100);
	ck_assert_int_ge(la, 0);
	ck_assert_int_le(la, 2);
	ck_assert_str_eq(fetch, "no");
	ck_assert_uint_eq(calls_get, 0);
}
END_TEST

START_TEST(stats_reset)
{
	exchange("stats reset\r\nstats reset\r\n", "RESET\r\nRESET\r\n");
	ck_assert_uint_eq(calls_stats_reset, 2);
	ck_assert_uint_eq(calls_counters_reset, 2);
}
END_TEST

/* A test case of @tests on a fresh connection and store each. */
static TCase *proto_tcase(const char *name, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	ut_tcase_add(tc, tests);
	return tc;
}

int main(void)
{
	const TTest *const text[] = {
		tokenizer, numbers, set_get, gets_cas,
		add_replace_append_prepend, multiget, multiget_large_values,
		get_pauses_for_output, noreply, bad_lines, long_keys,
		too_large_is_swallowed, too_large_noreply,
		announced_value_grows_with_data, arithmetic, delete_forms,
		touch_gat, flush_verbosity_version_quit, stats_groups,
		stats_other_groups, line_limits, get_line_streamed,
		get_line_streamed_bad_key, binary_junk, stats_reset, NULL
	};
	const TTest *const meta[] = {
		meta_basic, meta_set_modes, meta_too_large, meta_delete_arith,
		meta_errors, meta_ttl_order_and_b64, meta_vivify,
		meta_stale_and_win, meta_cas_compare, meta_arith_vivify_ttl,
		meta_get_touch, meta_hit_and_last_access, meta_no_update,
		meta_last_access_from_the_store, meta_hit_of_a_large_value,
		meta_debug, meta_debug_ttl, NULL
	};
	Suite *s = suite_create("plkvd protocol");
	TCase *tc = proto_tcase("text", text);

	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, proto_tcase("meta", meta));
	return ut_run(s);
}
