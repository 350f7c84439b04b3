/* SPDX-License-Identifier: MIT */
/*
 * The public data and stats calls: check every argument, enter the gate,
 * run the command, leave the gate on every path.
 *
 * Arguments are checked before the gate, so a bad call changes nothing
 * and costs no lock.  Mutating calls are bracketed by the op record
 * (eng_op_begin/end) and by the crash-injection markers; the amortized
 * upkeep (hash migration, crawler) runs inside the same bracket, after
 * the command's own locks are released.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine.h"
#include "calls.h"
#include "key.h"

/* A key's length, and that it is the caller's memory, not the store's. */
static inline __attribute__((always_inline)) int
key_check_len(const char *key, size_t klen)
{
	if (!key || klen == 0 || klen > ENG_KEY_MAX)
		return PLKV_EBADKEY;
	return plkv_outside_window(key, klen) ? 0 : -EFAULT;
}

/*
 * A key a call may store: copied into @copy in the pass that checks it,
 * and only the copy used.  Another thread of the client may rewrite its
 * buffer during the call; read in place, the check, the hash and the key
 * stored in the item could each see different bytes, linking an item
 * under a bucket its key does not hash to (plkv_check: corrupt).
 */
static int key_take(const char *key, size_t klen,
		    char copy[ENG_KEY_MAX])
{
	int rc = key_check_len(key, klen);

	if (rc)
		return rc;
	return plkv_key_copy_ok((unsigned char *)copy,
				(const unsigned char *)key, klen) ? 0 :
	       PLKV_EBADKEY;
}

/* A mutating call's bracket, once its arguments are checked. */
static __attribute__((always_inline)) inline void
mut_begin(struct plkv_ctx *ctx, uint32_t op)
{
	plkv_crash_op_begin(ctx);
	eng_op_begin(ctx, op);
}

static __attribute__((always_inline)) inline int
mut_enter(plkv_t *kv, struct plkv_ctx *ctx, uint32_t op)
{
	int rc = plkv_enter(kv, ctx);

	if (rc)
		return rc;
	mut_begin(ctx, op);
	return 0;
}

static void mut_leave(struct plkv_ctx *ctx)
{
	eng_after_op(ctx, true);
	eng_op_end(ctx);
	plkv_crash_op_end(ctx);
	plkv_leave(ctx);
}

/* The arguments of a single-key read (get, gat, peek); inline, so the
 * checks a call can't need (a NULL pointer it never passes) fold away. */
static inline __attribute__((always_inline)) int
read_check(plkv_t *kv, const char *key, size_t klen, const void *buf,
	   size_t cap, const struct plkv_meta *meta,
	   const int64_t *prev_exptime)
{
	int rc;

	if (!kv || (!buf && cap))
		return -EINVAL;
	rc = key_check_len(key, klen);
	if (rc)
		return rc;
	if (!plkv_outside_window(buf, cap) ||
	    !plkv_outside_window(meta, sizeof(*meta)) ||
	    !plkv_outside_window(prev_exptime, sizeof(*prev_exptime)))
		return -EFAULT;
	return 0;
}

#define READ_FLAGS	(PLKV_READ_TOUCH | PLKV_READ_WIN | \
			 PLKV_READ_VIVIFY | PLKV_READ_RECACHE | \
			 PLKV_READ_NOBUMP)

/* The single-key reads.  One that may create (VIVIFY) is a mutating
 * call: it has an op record and crash points, as a store. */
PLKV_API int plkv_read(plkv_t *kv, const char *key, size_t klen,
		       const struct plkv_read *op, void *buf, size_t cap,
		       struct plkv_meta *meta, int64_t *prev_exptime)
{
	struct plkv_read r = { 0 };
	char kcopy[ENG_KEY_MAX];
	struct plkv_ctx ctx;
	bool vivify = false;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(key, klen, op, buf, cap);
	PLKV_AFTER_GRANT2(meta, prev_exptime);
	rc = read_check(kv, key, klen, buf, cap, meta, prev_exptime);
	if (!rc && !plkv_outside_window(op, sizeof(*op)))
		rc = -EFAULT;
	if (!rc) {
		r = (struct plkv_read){ 0 };
		if (op)
			r = *op;	/* once: another thread may change it */
		if (r.flags & ~READ_FLAGS)
			rc = -EINVAL;
		vivify = r.flags & PLKV_READ_VIVIFY;
	}
	/* it may create an item: the key must be one a store takes */
	if (!rc && vivify) {
		rc = key_take(key, klen, kcopy);
		key = kcopy;
	}
	if (rc) {
		plkv_leave(&ctx);
		return rc;
	}
	if (vivify)
		mut_begin(&ctx, OP_STORE);
	rc = eng_get(&ctx, key, klen, &r, buf, cap, meta, prev_exptime);
	if (vivify) {
		mut_leave(&ctx);	/* helps a growing table too */
	} else {
		eng_after_read(&ctx);
		plkv_leave(&ctx);
	}
	return rc;
}

/* plkv_read() without options, the most frequent call: no option
 * copying or dispatch. */
PLKV_API __attribute__((flatten)) int
plkv_get(plkv_t *kv, const char *key, size_t klen, void *buf,
		      size_t cap, struct plkv_meta *meta)
{
	struct plkv_ctx ctx;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(key, klen, buf, cap, meta);
	rc = read_check(kv, key, klen, buf, cap, meta, NULL);
	if (!rc)
		rc = eng_get_plain(&ctx, key, klen, buf, cap, meta);
	plkv_leave(&ctx);
	return rc;
}

PLKV_API int plkv_peek(plkv_t *kv, const char *key, size_t klen,
		       struct plkv_meta *meta)
{
	struct plkv_ctx ctx;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT2(key, klen);
	PLKV_AFTER_GRANT1(meta);
	rc = read_check(kv, key, klen, NULL, 0, meta, NULL);
	if (!rc)
		rc = eng_peek(&ctx, key, klen, meta);
	plkv_leave(&ctx);
	return rc;
}

PLKV_API int plkv_gat(plkv_t *kv, const char *key, size_t klen,
		      int64_t exptime, void *buf, size_t cap,
		      struct plkv_meta *meta)
{
	return plkv_gat_prev(kv, key, klen, exptime, buf, cap, meta, NULL);
}

PLKV_API int plkv_gat_prev(plkv_t *kv, const char *key, size_t klen,
			   int64_t exptime, void *buf, size_t cap,
			   struct plkv_meta *meta, int64_t *prev_exptime)
{
	struct plkv_read r = { .flags = PLKV_READ_TOUCH, .exptime = exptime };

	return plkv_read_call(kv, key, klen, &r, buf, cap, meta, prev_exptime);
}

PLKV_API int plkv_mget(plkv_t *kv, struct plkv_mget_key *keys, size_t n,
		       void *buf, size_t cap)
{
	struct plkv_ctx ctx;
	size_t i, used;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(keys, n, buf, cap, kv);
	if ((!keys && n) || (!buf && cap))
		rc = -EINVAL;
	else if (n > SIZE_MAX / sizeof(*keys) ||
		 !plkv_outside_window(keys, n * sizeof(*keys)) ||
		 !plkv_outside_window(buf, cap))
		rc = -EFAULT;
	for (i = 0, used = 0; !rc && i < n; i++) {
		struct plkv_mget_key *k = &keys[i];
		/* Read once, and written only: another client thread may
		 * change the array (a length read back from it would move
		 * the next value's place out of buf). */
		const char *key = k->key;
		size_t klen = k->klen;
		struct plkv_meta meta = { 0 };
		int krc = key_check_len(key, klen);

		k->off = used;
		if (!krc)
			krc = eng_get(&ctx, key, klen, NULL,
				      buf ? (char *)buf + used : NULL,
				      cap - used, &meta, NULL);
		k->meta = meta;
		k->rc = krc;
		if (krc == 0)
			used += meta.len;
	}
	plkv_leave(&ctx);
	return rc;
}

PLKV_API int plkv_store(plkv_t *kv, int mode, const char *key, size_t klen,
			const void *val, size_t vlen, uint32_t flags,
			int64_t exptime, uint64_t cas_in, uint64_t *cas_out)
{
	char kcopy[ENG_KEY_MAX];
	struct plkv_ctx ctx;
	int base, rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(mode, key, klen, val, vlen);
	PLKV_AFTER_GRANT1(cas_out);
	base = mode & ~PLKV_STORE_INVALIDATE;
	if (base < PLKV_SET || base > PLKV_CAS || (!val && vlen))
		rc = -EINVAL;
	else if (!(rc = key_take(key, klen, kcopy)) &&
		 (!plkv_outside_window(val, vlen) ||
		  !plkv_outside_window(cas_out, sizeof(*cas_out))))
		rc = -EFAULT;
	if (rc) {
		plkv_leave(&ctx);
		return rc;
	}
	key = kcopy;
	mut_begin(&ctx, OP_STORE);
	if (vlen > eng(kv)->item_size_max)
		rc = PLKV_ETOOBIG;
	else
		rc = eng_store(&ctx, mode, key, klen, val, vlen, flags, exptime,
			       cas_in, cas_out);
	mut_leave(&ctx);
	return rc;
}

PLKV_API int plkv_set(plkv_t *kv, const char *key, size_t klen,
		      const void *val, size_t vlen, uint32_t flags,
		      int64_t exptime)
{
	return plkv_store(kv, PLKV_SET, key, klen, val, vlen, flags, exptime,
			  0, NULL);
}

PLKV_API int plkv_add(plkv_t *kv, const char *key, size_t klen,
		      const void *val, size_t vlen, uint32_t flags,
		      int64_t exptime)
{
	return plkv_store(kv, PLKV_ADD, key, klen, val, vlen, flags, exptime,
			  0, NULL);
}

PLKV_API int plkv_replace(plkv_t *kv, const char *key, size_t klen,
			  const void *val, size_t vlen, uint32_t flags,
			  int64_t exptime)
{
	return plkv_store(kv, PLKV_REPLACE, key, klen, val, vlen, flags,
			  exptime, 0, NULL);
}

PLKV_API int plkv_append(plkv_t *kv, const char *key, size_t klen,
			 const void *val, size_t vlen)
{
	return plkv_store(kv, PLKV_APPEND, key, klen, val, vlen, 0, 0, 0,
			  NULL);
}

PLKV_API int plkv_prepend(plkv_t *kv, const char *key, size_t klen,
			  const void *val, size_t vlen)
{
	return plkv_store(kv, PLKV_PREPEND, key, klen, val, vlen, 0, 0, 0,
			  NULL);
}

PLKV_API int plkv_cas(plkv_t *kv, const char *key, size_t klen,
		      const void *val, size_t vlen, uint32_t flags,
		      int64_t exptime, uint64_t cas)
{
	return plkv_store(kv, PLKV_CAS, key, klen, val, vlen, flags, exptime,
			  cas, NULL);
}

#define PLKV_ARITH_ALL	(PLKV_ARITH_DECR | PLKV_ARITH_VIVIFY | PLKV_ARITH_TOUCH)

PLKV_API int plkv_arith(plkv_t *kv, const char *key, size_t klen,
			const struct plkv_arith *op, uint64_t *result,
			struct plkv_meta *meta, int64_t *prev_exptime)
{
	struct plkv_arith a = { 0 };
	char kcopy[ENG_KEY_MAX];
	struct plkv_ctx ctx;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(key, klen, op, result, meta);
	PLKV_AFTER_GRANT1(prev_exptime);
	if (!op)
		rc = -EINVAL;
	else if (!(rc = key_take(key, klen, kcopy)) &&
		 (!plkv_outside_window(op, sizeof(*op)) ||
		  !plkv_outside_window(result, sizeof(*result)) ||
		  !plkv_outside_window(meta, sizeof(*meta)) ||
		  !plkv_outside_window(prev_exptime, sizeof(*prev_exptime))))
		rc = -EFAULT;
	/* Read *op once (not the segment: refused above), before another
	 * client thread can change it. */
	if (!rc) {
		a = *op;
		if (a.flags & ~PLKV_ARITH_ALL)
			rc = -EINVAL;
	}
	if (rc) {
		plkv_leave(&ctx);
		return rc;
	}
	key = kcopy;
	mut_begin(&ctx, OP_INCR);
	rc = eng_arith(&ctx, key, klen, &a, result, meta, prev_exptime);
	mut_leave(&ctx);
	return rc;
}

PLKV_API int plkv_incr(plkv_t *kv, const char *key, size_t klen,
		       uint64_t delta, uint64_t *result)
{
	struct plkv_arith a = { .delta = delta };

	return plkv_arith_call(kv, key, klen, &a, result, NULL, NULL);
}

PLKV_API int plkv_decr(plkv_t *kv, const char *key, size_t klen,
		       uint64_t delta, uint64_t *result)
{
	struct plkv_arith a = { .delta = delta, .flags = PLKV_ARITH_DECR };

	return plkv_arith_call(kv, key, klen, &a, result, NULL, NULL);
}

#define DEL_FLAGS	(PLKV_DEL_INVALIDATE | PLKV_DEL_TOUCH)

/* delete (compared to cas unless 0; flags PLKV_DEL_*) and touch: a
 * mutation of one key. */
static __attribute__((always_inline)) inline int
key_mutate(plkv_t *kv, const char *key, size_t klen, uint32_t op,
	   uint64_t cas, unsigned flags, int64_t exptime)
{
	char kcopy[ENG_KEY_MAX];
	struct plkv_ctx ctx;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(key, klen, flags, cas, exptime);
	if ((flags & ~DEL_FLAGS) ||
	    (flags & (PLKV_DEL_INVALIDATE | PLKV_DEL_TOUCH)) == PLKV_DEL_TOUCH)
		rc = -EINVAL;
	else
		rc = key_take(key, klen, kcopy);
	if (rc) {
		plkv_leave(&ctx);
		return rc;
	}
	key = kcopy;
	mut_begin(&ctx, op);
	if (op == OP_DELETE)
		rc = eng_delete(&ctx, key, klen, cas, flags, exptime);
	else
		rc = eng_touch(&ctx, key, klen, exptime);
	mut_leave(&ctx);
	return rc;
}

PLKV_API int plkv_delete_cas(plkv_t *kv, const char *key, size_t klen,
			     uint64_t cas)
{
	return key_mutate(kv, key, klen, OP_DELETE, cas, 0, 0);
}

PLKV_API int plkv_delete_ex(plkv_t *kv, const char *key, size_t klen,
			    uint64_t cas, unsigned flags, int64_t exptime)
{
	return key_mutate(kv, key, klen, OP_DELETE, cas, flags, exptime);
}

PLKV_API int plkv_delete(plkv_t *kv, const char *key, size_t klen)
{
	return key_mutate(kv, key, klen, OP_DELETE, 0, 0, 0);
}

PLKV_API int plkv_touch(plkv_t *kv, const char *key, size_t klen,
			int64_t exptime)
{
	return key_mutate(kv, key, klen, OP_TOUCH, 0, 0, exptime);
}

PLKV_API int plkv_flush_all(plkv_t *kv, int64_t delay)
{
	struct plkv_ctx ctx;
	int rc = kv ? mut_enter(kv, &ctx, OP_FLUSH) : -EINVAL;

	if (rc)
		return rc;
	rc = eng_flush(&ctx, delay);
	mut_leave(&ctx);
	return rc;
}

/*
 * One try at a group's report into the arrays names and values (cap
 * entries each, in the client's heap: written with the key granted, so
 * refused in a window), taken as the registers hold them after the grant.
 * The entries written and those of the whole report are returned outside
 * the gate.
 */
int plkv_stats_collect__impl(plkv_t *kv, int group, char (*names)[48],
			     char (*values)[48], size_t cap, size_t *n,
			     size_t *need)
{
	struct eng_statbuf sb = { 0 };
	struct plkv_ctx ctx;
	int rc;

	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT5(group, names, values, cap, n);
	PLKV_AFTER_GRANT1(need);
	/* (n and need are written after the leave, which on a call stack
	 * keeps the key: checked as the arrays are) */
	if (cap > SIZE_MAX / sizeof(*names) ||
	    !plkv_outside_window(names, cap * sizeof(*names)) ||
	    !plkv_outside_window(values, cap * sizeof(*values)) ||
	    !plkv_outside_window(n, sizeof(*n)) ||
	    !plkv_outside_window(need, sizeof(*need))) {
		plkv_leave(&ctx);
		return -EFAULT;
	}
	sb.cap = cap;
	sb.name = names;
	sb.value = values;
	rc = eng_stats_collect(&ctx, group, &sb);
	plkv_leave(&ctx);
	*n = sb.n;
	*need = sb.need;
	return rc;
}

/* The stats of a group into sb, which starts empty: its arrays grow
 * outside the gate until the report fits. */
static int collect(plkv_t *kv, int group, struct eng_statbuf *sb)
{
	size_t cap = 64;
	int rc, tries;

	for (tries = 0; tries < 8; tries++) {
		void *nn = realloc(sb->name, cap * sizeof(*sb->name));
		void *nv;

		if (!nn)
			return -ENOMEM;
		sb->name = nn;
		nv = realloc(sb->value, cap * sizeof(*sb->value));
		if (!nv)
			return -ENOMEM;
		sb->value = nv;
		sb->cap = cap;
		rc = plkv_stats_collect(kv, group, sb->name, sb->value, cap,
					&sb->n, &sb->need);
		if (rc || sb->need <= cap)
			return rc;
		cap = sb->need + 16;	/* it may grow meanwhile */
	}
	return -EAGAIN;
}

PLKV_API int plkv_stats(plkv_t *kv, const char *group, plkv_stat_fn fn,
			void *arg)
{
	struct eng_statbuf sb = { 0 };
	int g = eng_stats_group(group);
	size_t i;
	int rc;

	if (!kv || !fn || g < 0)
		return -EINVAL;
	rc = collect(kv, g, &sb);
	for (i = 0; !rc && i < sb.n; i++)
		rc = fn(arg, sb.name[i], sb.value[i]);
	eng_statbuf_free(&sb);
	return rc;
}

PLKV_API int plkv_stats_reset(plkv_t *kv)
{
	struct plkv_ctx ctx;
	int rc = plkv_enter_kv(kv, &ctx);

	if (rc)
		return rc;
	eng_stats_reset(&ctx);
	plkv_leave(&ctx);
	return 0;
}

PLKV_API int plkv_stat_u64(plkv_t *kv, const char *name, uint64_t *value)
{
	struct eng_statbuf sb = { 0 };
	size_t i;
	int rc;

	if (!kv || !name || !value)
		return -EINVAL;
	rc = collect(kv, ENG_STATS_GENERAL, &sb);
	if (!rc) {
		rc = -ENOENT;
		for (i = 0; i < sb.n; i++) {
			if (!strcmp(sb.name[i], name)) {
				*value = strtoull(sb.value[i], NULL, 10);
				rc = 0;
				break;
			}
		}
	}
	eng_statbuf_free(&sb);
	return rc;
}

PLKV_API int plkv_maintain(plkv_t *kv, unsigned budget)
{
	struct plkv_ctx ctx;
	int rc = plkv_enter_kv(kv, &ctx);

	if (rc)
		return rc;
	plkv_crash_op_begin(&ctx);
	rc = eng_maintain(&ctx, budget);
	plkv_crash_op_end(&ctx);
	plkv_leave(&ctx);
	return rc;
}

PLKV_API int plkv_check(plkv_t *kv, char *msg, size_t cap)
{
	struct plkv_ctx ctx;
	int rc;

	if (!kv)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT2(msg, cap);
	if (!msg && cap)
		rc = -EINVAL;
	else if (!plkv_outside_window(msg, cap))
		rc = -EFAULT;
	if (rc) {
		plkv_leave(&ctx);
		return rc;
	}
	/* A process that died since the last liveness scan left work for
	 * recovery, not corruption: recover it first, as the next call to
	 * meet it would. */
	if (!kv->no_recover)
		plkv_recover_dead(&ctx);
	rc = eng_check(&ctx, msg, cap);
	plkv_leave(&ctx);
	return rc;
}

/* One stripe's items into *items (grown as needed, *cap entries). */
int plkv_dump_stripe__impl(plkv_t *kv, unsigned stripe,
			   struct plkv_dump_item **itemsp, size_t *np,
			   size_t *capp)
{
	struct plkv_dump_item *items;
	struct plkv_ctx ctx;
	size_t n = 0, cap;
	int rc;

	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	/* (the array and the words that name it are the caller's: what a
	 * jump to the grant brings for them is checked after) */
	PLKV_AFTER_GRANT5(stripe, itemsp, np, capp, kv);
	if (!plkv_outside_window(itemsp, sizeof(*itemsp)) ||
	    !plkv_outside_window(np, sizeof(*np)) ||
	    !plkv_outside_window(capp, sizeof(*capp))) {
		plkv_leave(&ctx);
		return -EFAULT;
	}
	items = *(struct plkv_dump_item *volatile *)itemsp;
	cap = *(volatile size_t *)capp;
	if (cap > SIZE_MAX / sizeof(*items) ||
	    !plkv_outside_window(items, cap * sizeof(*items)))
		rc = -EFAULT;
	else
		rc = eng_dump_stripe(&ctx, stripe % ENG_STRIPES, &items, &n,
				     &cap);
	plkv_leave(&ctx);
	*itemsp = items;
	*capp = cap;
	*np = n;
	return rc;
}

PLKV_API int plkv_dump(plkv_t *kv, plkv_dump_fn fn, void *arg)
{
	struct plkv_dump_item *items = NULL;
	size_t n, cap = 0, i;
	unsigned s;
	int rc = 0;

	if (!kv || !fn)
		return -EINVAL;
	for (s = 0; s < ENG_STRIPES && !rc; s++) {
		n = 0;
		rc = plkv_dump_stripe(kv, s, &items, &n, &cap);
		for (i = 0; !rc && i < n; i++)
			rc = fn(arg, &items[i]);
	}
	plkv_gate_free(kv, items);	/* (mapped inside the calls) */
	return rc;
}
