// SPDX-License-Identifier: MIT
/*
 * memcached's meta commands: mg, ms, md, ma, mn, me.
 *
 *   mg <key> <flags>*            HD / VA <len> + data / EN
 *   ms <key> <datalen> <flags>*  HD / NS / EX / NF
 *   md <key> <flags>*            HD / NF / EX
 *   ma <key> <flags>*            HD / VA <len> + number / NF / EX
 *   mn                           MN
 *   me <key> [b]                 ME <key> exp= la= cas= fetch= cls= size= / EN
 *
 * A flag is one character, maybe followed by an argument.  Return flags
 * come back in the order they were asked for.  Errors always answer
 * (q silences only the nominal code: EN for mg, HD for ms/md, success
 * for ma), as memcached 1.6.18 does.
 *
 * Each command is one library call, atomic under the item's lock: the
 * C (CAS) compare of ms, md and ma, ma's creation (N/J), new TTL (T) and
 * returned CAS and TTL, mg's touch (T) with the TTL before it (for a "t"
 * asked before "T", as memcached answers flags in request order).  mg N
 * creates the item in the same call.
 * mg h and l are the fetched mark and the last access time as the get
 * found them, before it updated them; me reads the same metadata through
 * plkv_peek(), which counts nothing and updates nothing.
 *
 * Stale items and win tokens (anti-dogpiling) are the library's, one
 * call each: md I marks the item stale with a new CAS (and T's TTL),
 * keeping its value (plkv_delete_ex); mg then answers X, and the first
 * mg after the item went stale, or after it was created by N, or whose
 * TTL left is below R's, also W; the item remembers that a win was sent,
 * so later mg answer Z (plkv_read's meta.token).  As memcached, Z X W
 * follow the requested flags in that order.  ms I with a CAS older than
 * the item's stores but stays stale (PLKV_STORE_INVALIDATE); any other
 * store makes a fresh item.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto.h"

#define BAD_TOKEN	"CLIENT_ERROR bad token in command line format"
#define BAD_FLAGS	"CLIENT_ERROR invalid or duplicate flag"
#define TOO_MANY_FLAGS	"CLIENT_ERROR options flags too long"
#define MFLAG_MAX_OPT_LENGTH	20
#define MFLAG_MAX_OPAQUE_LENGTH	32

struct meta_flags {
	bool has_error;
	bool vivify;
	bool value;
	bool no_reply;
	bool has_cas;
	bool new_ttl;
	bool key_b64;
	bool set_stale;
	bool recache;
	bool no_update;		/* u: no LRU bump, fetched or access time */
	char mode;
	int32_t exptime;
	int32_t autoviv_exptime;
	int32_t recache_time;
	uint32_t client_flags;
	uint64_t req_cas;
	uint64_t delta;
	uint64_t initial;
};

/* ---- base64, for keys given with the b flag ---- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(char ch)
{
	const char *p = ch ? strchr(b64chars, ch) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decode in place; 0 on malformed input. */
static size_t b64_decode(char *s, size_t n)
{
	size_t i, o = 0;
	int v[4];

	if (n == 0 || n % 4)
		return 0;
	for (i = 0; i < n; i += 4) {
		bool last = i + 4 == n;

		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && last && j >= 2) {
				v[j] = -2;
				continue;
			}
			v[j] = b64val(s[i + j]);
			if (v[j] < 0)
				return 0;
		}
		if (v[2] == -2 && v[3] != -2)
			return 0;
		s[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (v[2] != -2)
			s[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (v[3] != -2)
			s[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	return o;
}

static char *b64_encode(char *p, const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*p++ = b64chars[s[i] >> 2];
		*p++ = b64chars[(s[i] & 3) << 4 | s[i + 1] >> 4];
		*p++ = b64chars[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		*p++ = b64chars[s[i + 2] & 63];
	}
	if (i < n) {
		*p++ = b64chars[s[i] >> 2];
		if (i + 1 < n) {
			*p++ = b64chars[(s[i] & 3) << 4 | s[i + 1] >> 4];
			*p++ = b64chars[(s[i + 1] & 15) << 2];
		} else {
			*p++ = b64chars[(s[i] & 3) << 4];
			*p++ = '=';
		}
		*p++ = '=';
	}
	return p;
}

/* ---- flags ---- */

/* A flag with a bad argument: the line fails with @msg (the last such
 * message wins); the other flags are still read. */
static void flag_error(struct meta_flags *of, const char **errstr,
		       const char *msg)
{
	*errstr = msg;
	of->has_error = true;
}

static int meta_preparse(struct token *t, size_t start, struct meta_flags *of,
			 const char **errstr)
{
	unsigned char seen[127] = { 0 };
	size_t i, n;

	for (i = start; t[i].length != 0; i++) {
		unsigned char o = (unsigned char)t[i].value[0];
		const char *arg = t[i].value + 1;

		if (o >= 127 || seen[o]) {
			*errstr = "CLIENT_ERROR duplicate flag";
			return -1;
		}
		seen[o] = 1;
		switch (o) {
		case 'b':
			n = b64_decode(t[1].value, t[1].length);
			if (n == 0)
				flag_error(of, errstr,
					   "CLIENT_ERROR error decoding key");
			t[1].length = n;
			of->key_b64 = true;
			break;
		case 'N':
			of->vivify = true;
			if (!safe_strtol(arg, &of->autoviv_exptime))
				flag_error(of, errstr, BAD_TOKEN);
			break;
		case 'T':
			if (!safe_strtol(arg, &of->exptime))
				flag_error(of, errstr, BAD_TOKEN);
			else
				of->new_ttl = true;
			break;
		case 'R':
			if (!safe_strtol(arg, &of->recache_time))
				flag_error(of, errstr, BAD_TOKEN);
			else
				of->recache = true;
			break;
		case 'u':
			of->no_update = true;
			break;
		case 'l': case 'O': case 'P': case 'L': case 'k': case 's':
		case 't': case 'c': case 'f': case 'h':
			break;
		case 'v':
			of->value = true;
			break;
		case 'q':
			of->no_reply = true;
			break;
		case 'F':
			if (!safe_strtoul(arg, &of->client_flags))
				of->has_error = true;
			break;
		case 'C':
			if (!safe_strtoull(arg, &of->req_cas))
				flag_error(of, errstr, BAD_TOKEN);
			else
				of->has_cas = true;
			break;
		case 'M':
			if (t[i].length != 2)
				flag_error(of, errstr, "CLIENT_ERROR incorrect "
					   "length for M token");
			else
				of->mode = t[i].value[1];
			break;
		case 'J':
			if (!safe_strtoull(arg, &of->initial))
				flag_error(of, errstr, "CLIENT_ERROR invalid "
					   "numeric initial value");
			break;
		case 'D':
			if (!safe_strtoull(arg, &of->delta))
				flag_error(of, errstr, "CLIENT_ERROR invalid "
					   "numeric delta value");
			break;
		case 'I':
			of->set_stale = true;
			break;
		default:
			*errstr = "CLIENT_ERROR invalid flag";
			return -1;
		}
	}
	return of->has_error ? -1 : 0;
}

/*
 * The checks mg, md, ma and ms make before their flags, in memcached's
 * order: the line has a key, the key is not too long, there are not too
 * many flags (@too_many is the command's own message for that).  0, or
 * -1 once the error is answered.
 */
static int meta_check_line(struct conn *c, struct token *t, size_t nt,
			   const char *too_many)
{
	if (nt < 3) {
		out_errstring(c, "ERROR");
		return -1;
	}
	if (t[1].length > KEY_MAX_LENGTH) {
		out_errstring(c, BAD_FORMAT);
		return -1;
	}
	if (nt > MFLAG_MAX_OPT_LENGTH) {
		out_errstring(c, too_many);
		return -1;
	}
	return 0;
}

/* mg, md, ma: no O flag longer than memcached takes.  0, or -1 answered. */
static int meta_check_opaque(struct conn *c, struct token *t, size_t nt)
{
	for (size_t i = 2; i < nt - 1; i++) {
		if (t[i].value[0] == 'O' &&
		    t[i].length > MFLAG_MAX_OPAQUE_LENGTH) {
			out_errstring(c, "CLIENT_ERROR opaque token too long");
			return -1;
		}
	}
	return 0;
}

static char *put_key(char *p, const char *key, size_t klen, bool b64)
{
	*p++ = ' ';
	*p++ = 'k';
	if (!b64) {
		memcpy(p, key, klen);
		return p + klen;
	}
	p = b64_encode(p, (const unsigned char *)key, klen);
	memcpy(p, " b", 2);
	return p + 2;
}

static char *put_flag_u64(char *p, char f, uint64_t v)
{
	*p++ = ' ';
	*p++ = f;
	return fmt_u64(p, v);
}

static char *put_ttl(char *p, int64_t exptime)
{
	int64_t ttl = remaining_ttl(exptime);

	*p++ = ' ';
	*p++ = 't';
	if (ttl < 0) {
		memcpy(p, "-1", 2);
		return p + 2;
	}
	return fmt_u64(p, (uint64_t)ttl);
}

/* The O flag comes back as it was given: " O<opaque>". */
static char *put_opaque(char *p, const char *opaque, size_t len)
{
	*p++ = ' ';
	memcpy(p, opaque, len);
	return p + len;
}

/* Append " O..." and " k..." flags in request order (miss/failure lines). */
static char *put_opaque_key(char *p, struct token *t, size_t nt,
			    const char *key, size_t klen, bool b64)
{
	for (size_t i = 2; i < nt - 1; i++) {
		if (t[i].value[0] == 'O')
			p = put_opaque(p, t[i].value, t[i].length);
		else if (t[i].value[0] == 'k')
			p = put_key(p, key, klen, b64);
	}
	return p;
}

/* The status of a hit: "VA <len>" when the value follows, else "HD". */
static char *put_status(char *p, bool value, uint64_t len)
{
	if (!value) {
		memcpy(p, "HD", 2);
		return p + 2;
	}
	memcpy(p, "VA ", 3);
	return fmt_u64(p + 3, len);
}

/*
 * A return flag that mg and ma both take, in request order: t, c, O, k;
 * T (applied by the library call already) makes a later t show the new
 * TTL: *ttl_exptime starts as the exptime before the touch.  Others are
 * left to the caller.
 */
static char *put_common_flag(char *p, const struct token *tk, const char *key,
			     size_t klen, const struct meta_flags *of,
			     const struct plkv_meta *m, int64_t *ttl_exptime)
{
	switch (tk->value[0]) {
	case 'T':
		*ttl_exptime = m->exptime;
		break;
	case 't':
		p = put_ttl(p, *ttl_exptime);
		break;
	case 'c':
		p = put_flag_u64(p, 'c', m->cas);
		break;
	case 'O':
		p = put_opaque(p, tk->value, tk->length);
		break;
	case 'k':
		p = put_key(p, key, klen, of->key_b64);
		break;
	}
	return p;
}

static void out_line(struct conn *c, char *hdr, char *end)
{
	memcpy(end, "\r\n", 2);
	conn_out(c, hdr, (size_t)(end + 2 - hdr));
}

/* A miss or failure: a two-letter code, then the O and k flags. */
static void out_code(struct conn *c, const char *code, struct token *t,
		     size_t nt, const char *key, size_t klen, bool b64)
{
	char hdr[HDR_ROOM];

	memcpy(hdr, code, 2);
	out_line(c, hdr, put_opaque_key(hdr + 2, t, nt, key, klen, b64));
}

/* Seconds since t, as mg l and me la; 0 for a t this clock has not
 * reached (the library read its clock a moment ago). */
static uint64_t seconds_since(int64_t t)
{
	int64_t d = (int64_t)time(NULL) - t;

	return d > 0 ? (uint64_t)d : 0;
}

/* ---- mg ---- */

/* The item's metadata and win token, its value with v, created with N
 * and touched with T in the same call (*prev: the exptime before T). */
static int mg_fetch(struct conn *c, const char *key, size_t klen,
		    const struct meta_flags *of, struct plkv_meta *m,
		    int64_t *prev, char **val)
{
	struct plkv_read r = {
		.flags = PLKV_READ_WIN |
			 (of->new_ttl ? PLKV_READ_TOUCH : 0) |
			 (of->vivify ? PLKV_READ_VIVIFY : 0) |
			 (of->recache ? PLKV_READ_RECACHE : 0) |
			 (of->no_update ? PLKV_READ_NOBUMP : 0),
		.exptime = of->exptime,
		.vivify_exptime = of->autoviv_exptime,
		.recache = of->recache_time,
	};
	int rc;

	*val = NULL;
	if (of->value) {
		rc = fetch_value(c, key, klen, &r, m, prev, val);
		if (rc == -ENOMEM)
			conn_set_closing(c, "error");
	} else {
		/* no buffer: a size query, which reads (a hit) */
		rc = plkv_read(plkvd_kv, key, klen, &r, NULL, 0, m, prev);
		if (rc == PLKV_ETOOSMALL)
			rc = 0;
	}
	log_fetch(c, key, klen, rc, m);
	return rc;
}

/* memcached's order after the requested flags: Z, X, W. */
static char *put_token(char *p, uint32_t token)
{
	static const struct {
		uint32_t bit;
		char f;
	} order[] = {
		{ PLKV_TOKEN_SENT, 'Z' },
		{ PLKV_TOKEN_STALE, 'X' },
		{ PLKV_TOKEN_WIN, 'W' },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (token & order[i].bit) {
			*p++ = ' ';
			*p++ = order[i].f;
		}
	}
	return p;
}

static void process_mget(struct conn *c, struct token *t, size_t nt)
{
	struct meta_flags of = { 0 };
	const char *errstr = BAD_FORMAT;
	struct plkv_meta m;
	char hdr[HDR_ROOM], *p, *val;
	const char *key;
	size_t klen, i;
	int64_t ttl_exptime;
	int rc;

	if (meta_check_line(c, t, nt,
			    "CLIENT_ERROR options flags are too long") != 0)
		return;
	if (meta_preparse(t, 2, &of, &errstr) != 0) {
		out_errstring(c, errstr);
		return;
	}
	if (meta_check_opaque(c, t, nt) != 0)
		return;
	key = t[1].value;
	klen = t[1].length;

	rc = mg_fetch(c, key, klen, &of, &m, &ttl_exptime, &val);
	if (c->state == CONN_CLOSING)
		return;
	if (rc != 0) {
		if (of.no_reply)
			return;
		out_code(c, "EN", t, nt, key, klen, of.key_b64);
		return;
	}

	p = put_status(hdr, of.value, m.len);
	for (i = 2; i < nt - 1; i++) {
		switch (t[i].value[0]) {
		case 's':
			p = put_flag_u64(p, 's', m.len);
			break;
		case 'f':
			p = put_flag_u64(p, 'f', m.flags);
			break;
		case 'l':
			p = put_flag_u64(p, 'l', seconds_since(m.last_access));
			break;
		case 'h':
			p = put_flag_u64(p, 'h', m.fetched ? 1 : 0);
			break;
		default:
			p = put_common_flag(p, &t[i], key, klen, &of, &m,
					    &ttl_exptime);
			break;
		}
	}
	p = put_token(p, m.token);
	memcpy(p, "\r\n", 2);
	p += 2;
	if (of.value)
		commit_value(c, hdr, (size_t)(p - hdr), val, m.len);
	else
		conn_out(c, hdr, (size_t)(p - hdr));
}

/* ---- ms ---- */

static void process_mset(struct conn *c, struct token *t, size_t nt)
{
	struct pending_store *st = &c->st;
	struct meta_flags of = { 0 };
	const char *errstr = BAD_FORMAT;
	bool has_error = false;
	int32_t vlen;
	size_t i;

	if (meta_check_line(c, t, nt, TOO_MANY_FLAGS) != 0)
		return;
	if (nt == 3 ||		/* no length */
	    !safe_strtol(t[2].value, &vlen) || vlen < 0 || vlen > INT_MAX - 2) {
		out_errstring(c, BAD_FORMAT);
		return;
	}
	memset(st, 0, offsetof(struct pending_store, key));
	st->vlen = (size_t)vlen + 2;

	/* From here on an error still consumes the value. */
	if (meta_preparse(t, 3, &of, &errstr) != 0)
		goto error;
	for (i = 3; i < nt - 1; i++) {
		char f = t[i].value[0];

		if (f == 'O') {
			if (t[i].length > MFLAG_MAX_OPAQUE_LENGTH) {
				errstr = "CLIENT_ERROR opaque token too long";
				has_error = true;
				continue;
			}
			memcpy(st->opaque, t[i].value, t[i].length);
			st->olen = t[i].length;
		}
		if ((f == 'O' || f == 'k' || f == 'c') &&
		    st->nret < sizeof(st->ret))
			st->ret[st->nret++] = f;
	}
	switch (of.mode) {
	case 0:
	case 'S':
		st->mode = PLKV_SET;
		break;
	case 'E':
		st->mode = PLKV_ADD;
		break;
	case 'A':
		st->mode = PLKV_APPEND;
		break;
	case 'P':
		st->mode = PLKV_PREPEND;
		break;
	case 'R':
		st->mode = PLKV_REPLACE;
		break;
	default:
		errstr = "CLIENT_ERROR invalid mode for ms M token";
		goto error;
	}
	/* The library compares a CAS in every mode but add (as
	 * memcached); set and replace with one answer as cas does. */
	if (of.has_cas) {
		if (st->mode == PLKV_SET || st->mode == PLKV_REPLACE)
			st->mode = PLKV_CAS;
		st->cas = of.req_cas;
	}
	/* as memcached: I counts only for a compare-and-set */
	st->invalidate = of.set_stale && st->mode == PLKV_CAS;
	if (has_error)
		goto error;
	if (item_too_large(t[1].length, of.client_flags, (size_t)vlen)) {
		stat_store_error(PLKV_ETOOBIG);
		errstr = "SERVER_ERROR object too large for cache";
		/* As memcached: a failed store leaves no stale value. */
		plkv_delete(plkvd_kv, t[1].value, t[1].length);
		goto error;
	}
	st->meta = true;
	st->quiet = of.no_reply;
	st->key_b64 = of.key_b64;
	st->flags = of.client_flags;
	st->exptime = of.exptime;
	st->klen = t[1].length;
	memcpy(st->key, t[1].value, st->klen);
	st->key[st->klen] = '\0';
	start_nread(c);
	return;
error:
	out_errstring(c, errstr);
	start_swallow(c, st->vlen);
}

void meta_complete_store(struct conn *c, int rc, uint64_t cas)
{
	static const char code[][3] = {
		[STORE_OK] = "HD",
		[STORE_NOT_STORED] = "NS",
		[STORE_EXISTS] = "EX",
		[STORE_NOT_FOUND] = "NF",
	};
	struct pending_store *st = &c->st;
	enum store_outcome o = store_outcome(rc, st->mode);
	char hdr[HDR_ROOM], *p = hdr + 2;
	char buf[128];

	if (o == STORE_ERROR) {
		stat_store_error(rc);
		out_errstring(c, store_error_string(rc, buf, sizeof(buf)));
		return;
	}
	if (o == STORE_OK && st->quiet)
		return;
	memcpy(hdr, code[o], 2);
	for (unsigned i = 0; i < st->nret; i++) {
		switch (st->ret[i]) {
		case 'O':
			p = put_opaque(p, st->opaque, st->olen);
			break;
		case 'k':
			p = put_key(p, st->key, st->klen, st->key_b64);
			break;
		case 'c':
			p = put_flag_u64(p, 'c', rc == 0 ? cas : 0);
			break;
		}
	}
	out_line(c, hdr, p);
}

/* ---- md ---- */

static void process_mdelete(struct conn *c, struct token *t, size_t nt)
{
	struct meta_flags of = { 0 };
	const char *errstr = BAD_FORMAT;
	struct plkv_meta m;
	const char *code;
	int rc;

	if (meta_check_line(c, t, nt, TOO_MANY_FLAGS) != 0)
		return;
	if (meta_preparse(t, 2, &of, &errstr) != 0) {
		out_errstring(c, BAD_FLAGS);
		return;
	}
	if (meta_check_opaque(c, t, nt) != 0)
		return;
	/* C0 never matches in memcached (no item has CAS 0); to the
	 * library 0 means "no compare", so that case only looks, as
	 * memcached's md reads without a hit. */
	if (of.has_cas && of.req_cas == 0) {
		rc = plkv_peek(plkvd_kv, t[1].value, t[1].length, &m);
		if (rc == 0)
			rc = PLKV_EEXISTS;
	} else {
		/* I: mark stale (T: with a new TTL) instead of deleting */
		unsigned fl = !of.set_stale ? 0 :
			      of.new_ttl ? PLKV_DEL_INVALIDATE | PLKV_DEL_TOUCH
					 : PLKV_DEL_INVALIDATE;

		rc = plkv_delete_ex(plkvd_kv, t[1].value, t[1].length,
				    of.req_cas, fl, of.exptime);
	}
	if (rc == 0) {
		if (of.no_reply)
			return;
		code = "HD";
	} else if (rc == PLKV_EEXISTS) {
		code = "EX";
	} else {
		code = "NF";
	}
	out_code(c, code, t, nt, t[1].value, t[1].length, of.key_b64);
}

/* ---- ma ---- */

static void process_marith(struct conn *c, struct token *t, size_t nt)
{
	struct meta_flags of = { .delta = 1 };
	const char *errstr = BAD_FORMAT;
	struct plkv_meta m = { 0 };
	struct plkv_arith a = { 0 };
	char hdr[HDR_ROOM], num[24], *p;
	const char *key;
	size_t klen, nlen, i;
	uint64_t value = 0;
	int64_t ttl_exptime = 0;
	int rc;

	if (meta_check_line(c, t, nt, TOO_MANY_FLAGS) != 0)
		return;
	if (meta_preparse(t, 2, &of, &errstr) != 0) {
		out_errstring(c, BAD_FLAGS);
		return;
	}
	switch (of.mode) {
	case 0: case 'I': case 'i': case '+':
		break;
	case 'D': case 'd': case '-':
		a.flags |= PLKV_ARITH_DECR;
		break;
	default:
		out_errstring(c, "CLIENT_ERROR invalid mode for ma M token");
		return;
	}
	if (meta_check_opaque(c, t, nt) != 0)
		return;
	key = t[1].value;
	klen = t[1].length;

	a.delta = of.delta;
	a.cas_in = of.has_cas ? of.req_cas : 0;
	if (of.vivify) {
		a.flags |= PLKV_ARITH_VIVIFY;
		a.initial = of.initial;
		a.vivify_exptime = of.autoviv_exptime;
	}
	if (of.new_ttl) {
		a.flags |= PLKV_ARITH_TOUCH;
		a.exptime = of.exptime;
	}
	rc = plkv_arith(plkvd_kv, key, klen, &a, &value, &m, &ttl_exptime);
	switch (rc) {
	case 0:
		break;
	case PLKV_ENONNUMERIC:
		out_errstring(c, "CLIENT_ERROR cannot increment or decrement "
			      "non-numeric value");
		return;
	case PLKV_ENOMEM:
		out_errstring(c, "SERVER_ERROR out of memory");
		return;
	case PLKV_EEXISTS:
	case PLKV_ENOTFOUND:
	case PLKV_EBADKEY:
		out_code(c, rc == PLKV_EEXISTS ? "EX" : "NF", t, nt, key, klen,
			 of.key_b64);
		return;
	default:
		snprintf(hdr, sizeof(hdr), "SERVER_ERROR %s", plkv_strerror(rc));
		out_errstring(c, hdr);
		return;
	}
	if (of.no_reply)
		return;
	nlen = (size_t)(fmt_u64(num, value) - num);
	p = put_status(hdr, of.value, nlen);
	for (i = 2; i < nt - 1; i++)
		p = put_common_flag(p, &t[i], key, klen, &of, &m, &ttl_exptime);
	if (of.value) {
		memcpy(p, "\r\n", 2);
		p += 2;
		memcpy(p, num, nlen);
		p += nlen;
	}
	out_line(c, hdr, p);
}

/* ---- me (debug) ---- */

/* "ME <key> exp=<TTL left, -1 never> la=<seconds since last access>
 * cas=<cas> fetch=yes|no cls=<slab class> size=<item bytes>", or EN. */
static void process_mdebug(struct conn *c, struct token *t, size_t nt)
{
	char orig[KEY_MAX_LENGTH + 1];
	struct plkv_meta m;
	size_t klen = t[1].length;

	if (nt < 3 || klen > KEY_MAX_LENGTH) {
		out_errstring(c, BAD_FORMAT);
		return;
	}
	memcpy(orig, t[1].value, klen);
	if (nt >= 4 && t[2].length == 1 && t[2].value[0] == 'b') {
		klen = b64_decode(t[1].value, klen);
		if (klen == 0) {
			out_errstring(c, BAD_FORMAT);
			return;
		}
	}
	/* A look that counts nothing and leaves the LRU, the fetched mark
	 * and the access time alone, as memcached's DONT_UPDATE get. */
	if (plkv_peek(plkvd_kv, t[1].value, klen, &m) != 0) {
		out_errstring(c, "EN");
		return;
	}
	conn_printf(c, "ME %.*s exp=%lld la=%llu cas=%llu fetch=%s cls=%u "
		    "size=%zu\r\n", (int)t[1].length, orig,
		    (long long)remaining_ttl(m.exptime),
		    (unsigned long long)seconds_since(m.last_access),
		    (unsigned long long)m.cas, m.fetched ? "yes" : "no",
		    m.slab_class, m.item_size);
}

void process_meta(struct conn *c, struct token *t, size_t nt)
{
	stat_cmd_meta(c);
	switch (t[0].value[1]) {
	case 'g':
		process_mget(c, t, nt);
		break;
	case 's':
		process_mset(c, t, nt);
		break;
	case 'd':
		process_mdelete(c, t, nt);
		break;
	case 'a':
		process_marith(c, t, nt);
		break;
	case 'n':
		out_errstring(c, "MN");
		break;
	case 'e':
		process_mdebug(c, t, nt);
		break;
	default:
		out_errstring(c, "ERROR");
		break;
	}
}
