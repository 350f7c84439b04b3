/* SPDX-License-Identifier: MIT */
/*
 * The commands, with memcached 1.6's semantics.  Each runs inside one gate
 * entry (api.c validated the arguments and began the op record).
 *
 * The get path is deliberately short: hash, lock the key's stripe, find,
 * copy the value into the caller's buffer, note the hit, unlock.  Values
 * are copied while the stripe lock is held, so a reader needs no
 * reference and a dead reader leaves nothing to undo.
 *
 * A store allocates and fills its new item before taking the stripe lock
 * (the copy from the caller's memory and any eviction happen unlocked),
 * then decides under the lock and runs item_txn().  Append, prepend and
 * incr need the old value, so they allocate under the lock, as memcached.
 */

#include "engine.h"
#include "key.h"

/* A found item that is expired or flushed: unlink it, count it.  Holding
 * its stripe lock; the op record is begun here if it wasn't. */
static void reclaim_locked(struct plkv_ctx *ctx, struct plkv_item *it,
			   uint32_t hv)
{
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	bool own = !op->state;
	struct eng_lru *L = &eng(ctx->kv)->lru[item_lru_class(it)];

	if (own)
		eng_op_begin(ctx, OP_GET);
	rec_set(op, W_HV, hv);
	rec_set(op, W_X, 0);
	rec_set(op, W_Y, item_off(ctx->kv, it));
	rec_phase(op, PH_LOCKED);
	/* reclaimed/expired_unfetched belong to the LRU lock; item_txn's
	 * lru_unlink holds it, so count there via the flag we leave. */
	if (!(item_act(it) & ACT_FETCHED))
		__atomic_fetch_add(&L->expired_unfetched, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&L->reclaimed, 1, __ATOMIC_RELAXED);
	item_txn(ctx);
	if (own)
		eng_op_end(ctx);
}

/* Find a live item for key; expired/flushed ones are reclaimed. */
static struct plkv_item *find_live(struct plkv_ctx *ctx, const char *key,
				   size_t nkey, uint32_t hv, bool count)
{
	struct plkv_item *it = assoc_find(ctx, key, nkey, hv);

	if (!it)
		return NULL;
	if (item_flushed(ctx, it)) {
		if (count)
			stat_inc(ctx, ST_GET_FLUSHED);
	} else if (item_expired(ctx, it)) {
		if (count)
			stat_inc(ctx, ST_GET_EXPIRED);
	} else {
		return it;
	}
	reclaim_locked(ctx, it, hv);
	return NULL;
}

/*
 * The start and end of a command that changes a live item in place or
 * from the old one (append, prepend, incr, delete, touch): the record
 * names the hash, then the stripe is locked and the phase says so, and
 * the item is looked up under the lock.  lock_live() returns it (NULL:
 * none); unlock_done() closes the record, unlocks and passes rc through.
 */
static struct plkv_item *lock_live(struct plkv_ctx *ctx, const char *key,
				   size_t nkey, uint32_t hv)
{
	rec_set(plkv_ctx_op(ctx), W_HV, hv);
	plkv_lock(ctx, eng_stripe_lock(hv));
	rec_phase(plkv_ctx_op(ctx), PH_LOCKED);
	return find_live(ctx, key, nkey, hv, false);
}

static int unlock_done(struct plkv_ctx *ctx, uint32_t hv, int rc)
{
	rec_phase(plkv_ctx_op(ctx), PH_DONE);
	plkv_unlock(ctx, eng_stripe_lock(hv));
	return rc;
}

/* Before lru_bump(): last_access and fetched are the caller's "before". */
static void fill_meta(struct plkv_meta *meta, const struct plkv_item *it)
{
	if (!meta)
		return;
	meta->len = it->nbytes;
	meta->flags = it->flags;
	meta->cas = item_cas(it);
	meta->exptime = it->exptime;
	meta->last_access = it->time;
	meta->fetched = !!(item_act(it) & ACT_FETCHED);
	meta->slab_class = it->slab_class;
	meta->item_size = item_size(it);
	meta->token = (it->it_flags & ITEM_STALE ? PLKV_TOKEN_STALE : 0) |
		      (it->it_flags & ITEM_TOKEN_SENT ? PLKV_TOKEN_SENT : 0);
}

/* The reads' lookup: the live item of key with its stripe locked, or
 * NULL with it unlocked. */
static struct plkv_item *read_find(struct plkv_ctx *ctx, const char *key,
				   size_t nkey, uint32_t hv, bool count)
{
	struct plkv_item *it;

	plkv_lock(ctx, eng_stripe_lock(hv));
	it = find_live(ctx, key, nkey, hv, count);
	if (!it)
		plkv_unlock(ctx, eng_stripe_lock(hv));
	return it;
}

static struct plkv_item *link_new(struct plkv_ctx *ctx, const char *key,
				  size_t nkey, uint32_t hv, const void *val,
				  size_t len, uint32_t flags, int64_t exptime,
				  struct plkv_item *y, int *rc);

/* mg N: the read's lookup, creating an empty item under the lock the key
 * was found missing with (as arith's vivify), so racing creators make
 * one.  The stripe stays locked (phase PH_LOCKED) unless *rc is set. */
static struct plkv_item *read_vivify(struct plkv_ctx *ctx, const char *key,
				     size_t nkey, uint32_t hv,
				     const struct plkv_read *r, bool *created,
				     int *rc)
{
	struct plkv_item *it;

	rec_set(plkv_ctx_op(ctx), W_HV, hv);
	plkv_lock(ctx, eng_stripe_lock(hv));
	rec_phase(plkv_ctx_op(ctx), PH_LOCKED);
	it = find_live(ctx, key, nkey, hv, true);
	if (it)
		return it;
	it = link_new(ctx, key, nkey, hv, NULL, 0, 0,
		      item_realtime(ctx, r->vivify_exptime), NULL, rc);
	if (!it)
		unlock_done(ctx, hv, *rc);
	*created = true;
	return it;
}

/*
 * memcached's mg win tokens on the item found (stripe held, meta filled
 * as found): its creator, the first reader after it went stale, or with
 * R the first reader of an item expiring before the threshold wins.  The
 * mark is one store of it_flags, so a crash leaves it set or not.
 */
static void read_token(struct plkv_ctx *ctx, struct plkv_item *it,
		       const struct plkv_read *r, bool created,
		       int64_t exptime, struct plkv_meta *meta)
{
	uint16_t f = it->it_flags;
	bool win = created;

	if (f & ITEM_TOKEN_SENT)
		return;
	if ((r->flags & PLKV_READ_RECACHE) && exptime != 0 &&
	    exptime < item_realtime(ctx, r->recache))
		win = true;
	if (f & ITEM_STALE)
		win = true;
	if (!win)
		return;
	it->it_flags = f | ITEM_TOKEN_SENT;
	if (meta)
		meta->token |= PLKV_TOKEN_WIN;
}

/* A read found no item: not found, or a key no store would have taken
 * (the entry checks only its length, key.h). */
static int read_missing(const char *key, size_t nkey)
{
	return plkv_key_bytes_ok((const unsigned char *)key, nkey) ?
	       PLKV_ENOTFOUND : PLKV_EBADKEY;
}

#define OPT_CHAIN_MAX	64	/* a longer chain: take the lock */
#define OPT_TRIES	2

enum { OPT_LOCK = -1, OPT_MISS = 0, OPT_HIT = 1 };

/* An offset an optimistic reader may follow: an item header and its key
 * inside the segment of size bytes. */
static inline bool opt_item_ok(uint64_t size, plkv_off_t p)
{
	return p && !(p & 7) && p <= size - ITEM_HDR - ENG_KEY_MAX;
}

/* The table state the optimistic reader started from still holds: no
 * expansion began or moved on meanwhile. */
static inline bool opt_same_table(const struct plkv_engine *e, uint64_t st)
{
	return atomic_load_explicit(&e->hash_state,
				    memory_order_relaxed) == st;
}

#define OPT_GAVE_UP	1	/* opt_walk(): no offset is odd */

/*
 * Walk hv's chain in the table of state st without its stripe lock, for
 * key (base, e and size: the handle's, as the caller read them): its
 * item's offset, 0 when the chain ended (a miss, if plkv_read_valid()
 * agrees) or OPT_GAVE_UP.  *w: the found item's CAS word, read before
 * its key was compared (opt_item_same()).
 */
static __attribute__((always_inline)) inline plkv_off_t
opt_walk(char *base, const struct plkv_engine *e, uint64_t size, uint64_t st,
	 uint32_t hv, const char *key, size_t nkey, uint64_t *w)
{
	struct plkv_item *it;
	unsigned steps = 0;
	plkv_off_t p;

	for (p = *(volatile plkv_off_t *)assoc_bucket_at(base, e, st, hv);
	     p; p = ((volatile struct plkv_item *)it)->h_next) {
		if (unlikely(!opt_item_ok(size, p) || ++steps > OPT_CHAIN_MAX))
			return OPT_GAVE_UP;
		it = (struct plkv_item *)(base + p);
		if (it->hv != hv)
			continue;
		*w = __atomic_load_n(&it->cas_act, __ATOMIC_ACQUIRE);
		if (it->nkey == nkey && plkv_key_eq(item_key(it), key, nkey))
			return p;
	}
	return 0;
}

/*
 * Optimistic readers of one item (engine.rst, "Optimistic gets"): a hit
 * is validated by the item's own CAS word, not the stripe's lock word,
 * which every store to any key of the stripe writes: a reader of other
 * keys would take a cache miss after each.  The word is read before the
 * key and value and again after; an item freed meanwhile lost
 * ITEM_LINKED first, one reused has a new CAS (never handed out twice),
 * and one rewritten in place had its CAS zeroed before its value changed
 * (item_rewrite_begin(), items.c).  x86 keeps loads in order with loads
 * and stores with stores; the fences are for the compiler.  The act
 * bits, which other readers set, don't count.
 */
static inline bool opt_item_same(struct plkv_item *it, uint64_t w)
{
	uint64_t now_w;

	atomic_thread_fence(memory_order_acquire);
	now_w = __atomic_load_n(&it->cas_act, __ATOMIC_RELAXED);
	return !((now_w ^ w) & ITEM_CAS_MASK) &&
	       (__atomic_load_n(&it->it_flags, __ATOMIC_RELAXED) & ITEM_LINKED);
}

/*
 * The optimistic reader found the item and it is due an LRU bump that
 * writes more than the act bits (the access time, once a minute): take
 * the stripe lock if it is free and the item is still the one read, and
 * finish under it without looking the key up again.
 */
static __attribute__((noinline)) int
get_bump(struct plkv_ctx *ctx, unsigned lk, struct plkv_item *it, uint64_t w,
	 void *buf, struct plkv_meta *meta)
{
	if (!plkv_trylock(ctx, lk))
		return OPT_LOCK;
	if (!opt_item_same(it, w)) {
		plkv_unlock(ctx, lk);
		return OPT_LOCK;
	}
	fill_meta(meta, it);
	plkv_copy(buf, item_key(it) + it->nkey, it->nbytes);
	lru_bump(ctx, it);
	plkv_unlock(ctx, lk);
	return OPT_HIT;
}

/*
 * A lock-free hit's bump: FETCHED on the first, ACTIVE on the second.  An
 * active item in COLD moves to WARM when plkv_maintain() or an eviction
 * gets to it (lru.c), as memcached's maintainer moves it, not here: a move
 * writes the LRU lists every process's hits and stores share.  Called
 * once the read is validated, so a failed try never counts; the swap
 * fails, and the hint is lost (as memcached may lose one), if the item's
 * word changed since w was read.
 */
static __attribute__((noinline)) void get_mark(struct plkv_item *it,
					       uint64_t w)
{
	uint8_t bit = (w >> ACT_SHIFT) & ACT_FETCHED ? ACT_ACTIVE : ACT_FETCHED;

	__atomic_compare_exchange_n(&it->cas_act, &w,
				    w | (uint64_t)bit << ACT_SHIFT, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* A settled optimistic read helps a growing table along, as every read
 * does (eng_after_read()), from the table state it already holds. */
static __attribute__((always_inline)) inline int
opt_settled(struct plkv_ctx *ctx, uint64_t st, int rc)
{
	if (unlikely(HS_EXPANDING(st)))
		assoc_expand_step(ctx, ENG_GROW_STEP);
	return rc;
}

/*
 * hv's bucket is empty in a table that is not being grown, and the table
 * is the same after the look: the key was absent then, as only a store or
 * a delete (under the stripe lock) links or unlinks outside a growth, a
 * replacement swaps one item for the other in one store, and starting a
 * growth changes the table state.
 */
static inline bool opt_empty(const struct plkv_engine *e, char *base,
			     uint64_t st, uint32_t hv)
{
	if (HS_EXPANDING(st) ||
	    *(volatile plkv_off_t *)assoc_bucket_at(base, e, st, hv))
		return false;
	atomic_thread_fence(memory_order_acquire);
	return opt_same_table(e, st);
}

/*
 * An optimistic walk found no item: absent only if a second walk finds
 * none either with no holder of the stripe coming or going meanwhile
 * (plkv_read_begin(), lockword.h).  A miss needs the stripe's word, as
 * there is no item to validate by; a hit never reads it.
 */
static __attribute__((noinline)) int
get_absent(struct plkv_ctx *ctx, uint64_t st, uint32_t hv, const char *key,
	   size_t nkey)
{
	const struct plkv *kv = ctx->kv;
	const struct plkv_engine *e = eng(kv);
	_Atomic uint32_t *lw = plkv_lockword(kv, eng_stripe_lock(hv));
	uint32_t seq;
	uint64_t w;

	if (!plkv_read_begin(lw, &seq) ||
	    opt_walk(kv->base, e, kv->size, st, hv, key, nkey, &w) ||
	    !plkv_read_valid(lw, seq) || !opt_same_table(e, st))
		return OPT_LOCK;
	return opt_settled(ctx, st, OPT_MISS);
}

/*
 * One try of a plain get without the stripe lock (engine.rst,
 * "Optimistic gets"): walk the chain, compare, copy, then check that
 * the item is still the one read (opt_item_same()).  It writes nothing
 * shared, so gets from several processes don't bounce a cache
 * line.  Anything that needs a decision under the lock (an expired or
 * flushed item to reclaim, a value in several chunks or too big for
 * the buffer, a long chain, an item being written) is left to the
 * locked path: OPT_LOCK.  The first hits' act bits need no lock (see
 * ACT_SHIFT); other bumps take the lock in place (get_bump()).
 */
static __attribute__((always_inline)) inline int
get_optimistic(struct plkv_ctx *ctx, const char *key,
				 size_t nkey, uint32_t hv, void *buf,
				 size_t cap, struct plkv_meta *meta)
{
	/* what the handle says, read once: the compiler must otherwise
	 * read it again after every atomic load and the copy */
	const struct plkv *kv = ctx->kv;
	char *base = kv->base;
	const struct plkv_engine *e = eng(kv);
	const uint64_t size = kv->size;
	const int64_t now = eng_now(ctx);
	uint64_t st = atomic_load_explicit(&e->hash_state,
					   memory_order_acquire);
	struct plkv_item *it;
	plkv_off_t p;
	uint32_t n;
	uint64_t w = 0;
	uint8_t act;

	p = opt_walk(base, e, size, st, hv, key, nkey, &w);
	if (!p)
		return opt_empty(e, base, st, hv) ? opt_settled(ctx, st, OPT_MISS) :
		       get_absent(ctx, st, hv, key, nkey);
	if (p == OPT_GAVE_UP)
		return OPT_LOCK;
	it = (struct plkv_item *)(base + p);
	n = it->nbytes;
	act = (uint8_t)(w >> ACT_SHIFT);
	if (!(w & ITEM_CAS_MASK) ||	/* being overwritten, or not stored */
	    (it->it_flags & (ITEM_LINKED | ITEM_CHUNKED)) != ITEM_LINKED ||
	    n > cap || p + ITEM_HDR + nkey + n > size ||
	    item_flushed_at(e, now, it) || item_expired_at(now, it))
		return OPT_LOCK;
	/* the access time, once a minute, needs the lock */
	if (unlikely(now - it->time >= ENG_UPDATE_INTERVAL)) {
		int rc = get_bump(ctx, eng_stripe_lock(hv), it, w, buf, meta);

		return rc == OPT_HIT ? opt_settled(ctx, st, rc) : rc;
	}
	fill_meta(meta, it);
	plkv_copy(buf, item_key(it) + nkey, n);
	if (!opt_item_same(it, w))
		return OPT_LOCK;
	if (unlikely(!(act & ACT_ACTIVE)))
		get_mark(it, w);
	return opt_settled(ctx, st, OPT_HIT);
}

/* A get that found nothing: counted as a miss unless the key is one no
 * store would have taken. */
static int get_missed(struct plkv_ctx *ctx, const char *key, size_t nkey,
		      bool touch)
{
	int rc = read_missing(key, nkey);

	if (rc == PLKV_ENOTFOUND) {
		stat_inc(ctx, ST_GET_MISSES);
		if (touch)
			stat_inc(ctx, ST_TOUCH_MISSES);
	}
	return rc;
}

static const struct plkv_read plain_read;

/* The reads under the stripe lock: options, a size query, or what the
 * optimistic path left to the lock. */
static int get_locked(struct plkv_ctx *ctx, const char *key, size_t nkey,
		      uint32_t hv, const struct plkv_read *r, void *buf,
		      size_t cap, struct plkv_meta *meta,
		      int64_t *prev_exptime)
{
	unsigned lk = eng_stripe_lock(hv);
	struct plkv_item *it;
	bool created = false, vivify, touch;
	int64_t before;
	int rc = 0;

	vivify = r->flags & PLKV_READ_VIVIFY;
	if (vivify) {
		it = read_vivify(ctx, key, nkey, hv, r, &created, &rc);
		if (rc)
			return rc;
	} else {
		it = read_find(ctx, key, nkey, hv, true);
	}
	touch = r->flags & PLKV_READ_TOUCH;
	if (!it)
		return get_missed(ctx, key, nkey, touch);
	if (buf && it->nbytes > cap) {
		/* Nothing delivered: no hit, touch, win or bump, so the
		 * caller's retry with the size reported counts once. */
		fill_meta(meta, it);
		rc = PLKV_ETOOSMALL;
		goto out;
	}
	before = it->exptime;
	if (prev_exptime)
		*prev_exptime = before;
	if (touch) {
		it->exptime = item_realtime(ctx, r->exptime);
		stat_inc(ctx, ST_TOUCH_HITS);
	}
	fill_meta(meta, it);
	if (r->flags & (PLKV_READ_WIN | PLKV_READ_VIVIFY | PLKV_READ_RECACHE))
		read_token(ctx, it, r, created, before, meta);
	if (it->nbytes > cap)
		rc = PLKV_ETOOSMALL;	/* a size query (no buffer): a hit */
	else if (it->nbytes)
		item_read(ctx->kv, it, 0, buf, it->nbytes);
	if (!(r->flags & PLKV_READ_NOBUMP))
		lru_bump(ctx, it);
	stat_inc(ctx, ST_GET_HITS);
out:
	if (vivify)
		return unlock_done(ctx, hv, rc);
	plkv_unlock(ctx, lk);
	return rc;
}

/* plkv_get(): lock-free tries first, the locked path when they say so. */
/* One optimistic try of a plain get: 0 or a miss's code when settled,
 * OPT_LOCK when it needs another try or the lock. */
static __attribute__((always_inline)) inline int
get_plain_try(struct plkv_ctx *ctx, const char *key,
				size_t nkey, uint32_t hv, void *buf,
				size_t cap, struct plkv_meta *meta)
{
	int rc = get_optimistic(ctx, key, nkey, hv, buf, cap, meta);

	if (likely(rc == OPT_HIT)) {
		stat_inc(ctx, ST_GET_HITS);
		return 0;
	}
	return rc == OPT_MISS ? get_missed(ctx, key, nkey, false) : OPT_LOCK;
}

/* The tries after the first, then the lock: out of the hit's way, whose
 * registers would otherwise carry the loop. */
static __attribute__((noinline)) int
get_plain_retry(struct plkv_ctx *ctx, const char *key, size_t nkey,
		uint32_t hv, void *buf, size_t cap, struct plkv_meta *meta)
{
	int t, rc;

	for (t = 1; buf && t < OPT_TRIES; t++) {
		rc = get_plain_try(ctx, key, nkey, hv, buf, cap, meta);
		if (rc != OPT_LOCK)
			return rc;
	}
	rc = get_locked(ctx, key, nkey, hv, &plain_read, buf, cap, meta, NULL);
	eng_after_read(ctx);
	return rc;
}

int eng_get_plain(struct plkv_ctx *ctx, const char *key, size_t nkey,
		  void *buf, size_t cap, struct plkv_meta *meta)
{
	uint32_t hv = eng_hash(key, nkey);
	int rc = buf ? get_plain_try(ctx, key, nkey, hv, buf, cap, meta) :
		 OPT_LOCK;

	if (likely(rc != OPT_LOCK))
		return rc;
	return get_plain_retry(ctx, key, nkey, hv, buf, cap, meta);
}

int eng_get(struct plkv_ctx *ctx, const char *key, size_t nkey,
	    const struct plkv_read *r, void *buf, size_t cap,
	    struct plkv_meta *meta, int64_t *prev_exptime)
{
	if (!r && !prev_exptime)
		return eng_get_plain(ctx, key, nkey, buf, cap, meta);
	return get_locked(ctx, key, nkey, eng_hash(key, nkey),
			  r ? r : &plain_read, buf, cap, meta, prev_exptime);
}

/* memcached's "me": no counter, no bump; only a reclaim changes anything. */
int eng_peek(struct plkv_ctx *ctx, const char *key, size_t nkey,
	     struct plkv_meta *meta)
{
	uint32_t hv = eng_hash(key, nkey);
	struct plkv_item *it = read_find(ctx, key, nkey, hv, false);

	if (!it)
		return read_missing(key, nkey);
	fill_meta(meta, it);
	plkv_unlock(ctx, eng_stripe_lock(hv));
	return 0;
}

static uint64_t next_cas(struct plkv_ctx *ctx)
{
	return atomic_fetch_add(&eng(ctx->kv)->cas_next, 1);
}

/* store_check(): store, the new value stale (ms I with an older CAS) */
#define STORE_STALE	1

/* Mode's condition on the live old item y (or none): 0 or STORE_STALE to
 * store. */
static int store_check(struct plkv_ctx *ctx, int mode, struct plkv_item *y,
		       uint64_t cas_in)
{
	switch (mode & ~PLKV_STORE_INVALIDATE) {
	case PLKV_ADD:
		if (y) {
			lru_bump(ctx, y);	/* memcached touches it */
			return PLKV_ENOTSTORED;
		}
		return 0;
	case PLKV_REPLACE:
		return y ? 0 : PLKV_ENOTSTORED;
	case PLKV_CAS:
		if (!y) {
			stat_inc(ctx, ST_CAS_MISSES);
			return PLKV_ENOTFOUND;
		}
		if (item_cas(y) == cas_in) {
			stat_inc(ctx, ST_CAS_HITS);
			return 0;
		}
		/* memcached's CAS_STALE: a writer that read before the
		 * invalidate may still fill in, but stays stale */
		if ((mode & PLKV_STORE_INVALIDATE) && cas_in &&
		    cas_in < item_cas(y)) {
			stat_inc(ctx, ST_CAS_HITS);
			return STORE_STALE;
		}
		stat_inc(ctx, ST_CAS_BADVAL);
		return PLKV_EEXISTS;
	default:
		return 0;
	}
}

#define OW_NO	1	/* store_overwrite(): not in place */

/*
 * A set, replace or cas whose value has the live old item's length (and
 * fits the stage) rewrites that item in place: no allocation, no hash,
 * LRU or slab change, so no class-wide lock, and the old chunk is the new
 * one.  The item is found without the lock (as a get), the value staged
 * in the slot's stage in the segment, then the stripe lock taken only if
 * no holder came or went since the walk, so the item found is still the
 * key's.  Under the lock the record holds everything the new header needs
 * before anything changes (PH_OVERWRITE), so a recoverer redoes the
 * overwrite from the record and the stage: the key holds its old or its
 * new value, never a mix.  OW_NO: take the allocating path (nothing was
 * changed or counted).
 */
static int store_overwrite(struct plkv_ctx *ctx, int mode, const char *key,
			   size_t nkey, uint32_t hv, const void *val,
			   size_t vlen, uint32_t flags, int64_t exptime,
			   uint64_t cas_in, uint64_t *cas_out)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	unsigned lk = eng_stripe_lock(hv);
	uint64_t st = atomic_load_explicit(&eng(kv)->hash_state,
					   memory_order_acquire);
	struct plkv_item *y;
	uint16_t ifl = ITEM_LINKED | ITEM_REFRESHED;
	plkv_off_t p;
	uint64_t cas, w;
	uint32_t seq;
	int rc;

	if (!plkv_read_begin(plkv_lockword(kv, lk), &seq))
		return OW_NO;
	p = opt_walk(kv->base, eng(kv), kv->size, st, hv, key, nkey, &w);
	if (!p || p == OPT_GAVE_UP)
		return OW_NO;
	y = item_at(kv, p);
	if (y->nbytes != vlen ||
	    (y->it_flags & (ITEM_LINKED | ITEM_CHUNKED)) != ITEM_LINKED)
		return OW_NO;
	plkv_copy(eng_stage(kv, ctx->slot), val, vlen);
	if (!plkv_read_upgrade(ctx, lk, seq))
		return OW_NO;
	if (!opt_same_table(eng(kv), st) || item_expired(ctx, y) ||
	    item_flushed(ctx, y)) {
		/* the allocating path reclaims a dead one */
		plkv_unlock(ctx, lk);
		return OW_NO;
	}
	rc = store_check(ctx, mode, y, cas_in);
	if (rc < 0) {
		plkv_unlock(ctx, lk);
		return rc;
	}
	if (rc == STORE_STALE) {
		exptime = y->exptime;
		ifl |= ITEM_STALE | (y->it_flags & ITEM_TOKEN_SENT);
	}
	cas = next_cas(ctx);
	if (cas_out)
		*cas_out = cas;
	rec_set(op, W_HV, hv);
	rec_set(op, W_Y, p);
	rec_set(op, W_OW_META, flags | (uint64_t)exptime << 32);
	rec_set(op, W_OW_CAS, cas);
	rec_set(op, W_OW_TIME, (uint32_t)eng_now(ctx) | (uint64_t)ifl << 32);
	rec_phase(op, PH_OVERWRITE);
	PLKV_CRASH_POINT(ctx);
	item_overwrite(y, op, eng_stage(kv, ctx->slot));
	PLKV_CRASH_POINT(ctx);
	/* memcached counts every item stored (total_items): per thread
	 * here, as no class-wide line is written */
	stat_inc(ctx, ST_SET_INPLACE);
	rec_phase(op, PH_DONE);
	plkv_unlock(ctx, lk);
	return 0;
}

/* set, add, replace, cas: fill the new item first, then swap it in. */
static int store_new(struct plkv_ctx *ctx, int mode, const char *key,
		     size_t nkey, const void *val, size_t vlen, uint32_t flags,
		     int64_t exptime, uint64_t cas_in, uint64_t *cas_out)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	uint32_t hv = eng_hash(key, nkey);
	unsigned lk = eng_stripe_lock(hv);
	struct plkv_item *x, *y, *old;
	int rc;

	exptime = item_realtime(ctx, exptime);
	if ((mode & ~PLKV_STORE_INVALIDATE) != PLKV_ADD &&
	    vlen <= ENG_STAGE_MAX) {
		rc = store_overwrite(ctx, mode, key, nkey, hv, val, vlen,
				     flags, exptime, cas_in, cas_out);
		if (rc != OW_NO)
			return rc;
	}
	rec_set(op, W_HV, hv);
	rec_phase(op, PH_ALLOC);
	rc = item_alloc(ctx, key, nkey, vlen, flags, exptime, hv);
	if (rc)
		return rc;
	x = item_at(kv, op->w[W_X]);
	if (vlen)
		item_write(kv, x, 0, val, vlen);
	PLKV_CRASH_POINT(ctx);

	plkv_lock(ctx, lk);
	rec_phase(op, PH_LOCKED);
	old = assoc_find(ctx, key, nkey, hv);
	y = old && !item_expired(ctx, old) && !item_flushed(ctx, old) ? old
								       : NULL;
	rc = store_check(ctx, mode, y, cas_in);
	if (rc < 0) {
		item_free_owned(ctx, ctx->slot);
		rec_phase(op, PH_DONE);
		plkv_unlock(ctx, lk);
		return rc;
	}
	if (rc == STORE_STALE) {
		/* X is still ours alone: plain stores */
		x->exptime = y->exptime;
		x->it_flags |= ITEM_STALE | (y->it_flags & ITEM_TOKEN_SENT);
	}
	x->cas_act = next_cas(ctx);	/* not linked yet: no act bits */
	if (cas_out)
		*cas_out = x->cas_act;
	rec_set(op, W_Y, item_off(kv, old));	/* an expired one goes too */
	item_txn(ctx);
	plkv_unlock(ctx, lk);
	return 0;
}

/* append, prepend: the new item is built from the old under the lock;
 * a nonzero cas_in must equal the old item's CAS. */
static int store_concat(struct plkv_ctx *ctx, int mode, const char *key,
			size_t nkey, const void *val, size_t vlen,
			uint64_t cas_in, uint64_t *cas_out)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	uint32_t hv = eng_hash(key, nkey);
	struct plkv_item *x, *y;
	unsigned tries = 0;
	size_t ylen;
	int rc;

	for (;;) {
		y = lock_live(ctx, key, nkey, hv);
		if (!y)
			return unlock_done(ctx, hv, PLKV_ENOTSTORED);
		if (cas_in && item_cas(y) != cas_in)
			return unlock_done(ctx, hv, PLKV_EEXISTS);
		ylen = y->nbytes;
		if (ylen + vlen > e->item_size_max)
			return unlock_done(ctx, hv, PLKV_ETOOBIG);
		rc = item_alloc(ctx, key, nkey, ylen + vlen, y->flags,
				y->exptime, hv);
		if (rc != PLKV_ENOMEM || e->no_evict || ++tries > 4)
			break;
		/*
		 * Room may take emptying a page of another class, and such a
		 * page nearly always holds an item of the stripe held here,
		 * which eviction must skip.  Make the room unlocked, as a set
		 * does (an item allocated and freed again leaves its chunks
		 * on the class's free list), and try again.
		 */
		unlock_done(ctx, hv, 0);
		rec_phase(op, PH_ALLOC);
		rc = item_alloc(ctx, key, nkey, ylen + vlen, 0, 0, hv);
		if (rc)
			return rc;
		item_free_owned(ctx, ctx->slot);
		rec_phase(op, PH_DONE);
	}
	if (rc)
		return unlock_done(ctx, hv, rc);
	x = item_at(kv, op->w[W_X]);
	if (mode == PLKV_APPEND) {
		item_copy_between(kv, x, 0, y, ylen);
		item_write(kv, x, ylen, val, vlen);
	} else {
		item_write(kv, x, 0, val, vlen);
		item_copy_between(kv, x, vlen, y, ylen);
	}
	PLKV_CRASH_POINT(ctx);
	x->cas_act = next_cas(ctx);	/* not linked yet: no act bits */
	if (cas_out)
		*cas_out = x->cas_act;
	rec_set(op, W_Y, item_off(kv, y));
	item_txn(ctx);
	return unlock_done(ctx, hv, 0);
}

int eng_store(struct plkv_ctx *ctx, int mode, const char *key, size_t nkey,
	      const void *val, size_t vlen, uint32_t flags, int64_t exptime,
	      uint64_t cas_in, uint64_t *cas_out)
{
	int base = mode & ~PLKV_STORE_INVALIDATE;

	stat_inc(ctx, ST_CMD_SET);
	if (base == PLKV_APPEND || base == PLKV_PREPEND)
		return store_concat(ctx, base, key, nkey, val, vlen, cas_in,
				    cas_out);
	/* As memcached's ms: set or replace with a CAS is a cas; add
	 * ignores it. */
	if (cas_in && (base == PLKV_SET || base == PLKV_REPLACE))
		mode = PLKV_CAS | (mode & PLKV_STORE_INVALIDATE);
	return store_new(ctx, mode, key, nkey, val, vlen, flags, exptime,
			 cas_in, cas_out);
}

static uint32_t ndigits(uint64_t v)
{
	uint32_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/*
 * Link a new item holding val in place of y (NULL: insert).  Holding the
 * stripe lock, phase PH_LOCKED: the item is allocated under it, as
 * append's.  NULL with *rc set if it could not be allocated.
 */
static struct plkv_item *link_new(struct plkv_ctx *ctx, const char *key,
				  size_t nkey, uint32_t hv, const void *val,
				  size_t len, uint32_t flags, int64_t exptime,
				  struct plkv_item *y, int *rc)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	struct plkv_item *x;

	*rc = item_alloc(ctx, key, nkey, len, flags, exptime, hv);
	if (*rc)
		return NULL;
	x = item_at(kv, op->w[W_X]);
	if (len)
		item_write(kv, x, 0, val, len);
	x->cas_act = next_cas(ctx);	/* not linked yet: no act bits */
	rec_set(op, W_Y, item_off(kv, y));
	item_txn(ctx);
	return x;
}

/* Link a new item holding the digits of v in place of y (NULL: insert),
 * then unlock. */
static int arith_link(struct plkv_ctx *ctx, const char *key, size_t nkey,
		      uint32_t hv, uint64_t v, uint32_t flags, int64_t exptime,
		      struct plkv_item *y, struct plkv_meta *meta)
{
	struct plkv_item *x;
	char buf[24];
	int len, rc;

	len = plkv_fmt_u64(buf, v);
	x = link_new(ctx, key, nkey, hv, buf, (size_t)len, flags, exptime, y,
		     &rc);
	if (x)
		fill_meta(meta, x);
	return unlock_done(ctx, hv, rc);
}

/* A missing item with PLKV_ARITH_VIVIFY: create it holding a->initial. */
static int arith_vivify(struct plkv_ctx *ctx, const char *key, size_t nkey,
			uint32_t hv, const struct plkv_arith *a,
			uint64_t *result, struct plkv_meta *meta,
			int64_t *prev_exptime)
{
	int64_t exptime = item_realtime(ctx, a->vivify_exptime);

	if (prev_exptime)
		*prev_exptime = exptime;
	if (a->flags & PLKV_ARITH_TOUCH)
		exptime = item_realtime(ctx, a->exptime);
	if (result)
		*result = a->initial;
	return arith_link(ctx, key, nkey, hv, a->initial, 0, exptime, NULL,
			  meta);
}

int eng_arith(struct plkv_ctx *ctx, const char *key, size_t nkey,
	      const struct plkv_arith *a, uint64_t *result,
	      struct plkv_meta *meta, int64_t *prev_exptime)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	uint32_t hv = eng_hash(key, nkey);
	bool incr = !(a->flags & PLKV_ARITH_DECR);
	struct plkv_item *y;
	int64_t exptime;
	uint64_t v;

	y = lock_live(ctx, key, nkey, hv);
	if (!y) {
		if (a->flags & PLKV_ARITH_VIVIFY)
			return arith_vivify(ctx, key, nkey, hv, a, result,
					    meta, prev_exptime);
		stat_inc(ctx, incr ? ST_INCR_MISSES : ST_DECR_MISSES);
		return unlock_done(ctx, hv, PLKV_ENOTFOUND);
	}
	if (a->cas_in && item_cas(y) != a->cas_in)
		return unlock_done(ctx, hv, PLKV_EEXISTS);
	if (y->nbytes == 0 || (y->it_flags & ITEM_CHUNKED) ||
	    plkv_parse_u64(y->data + y->nkey, y->nbytes, &v))
		return unlock_done(ctx, hv, PLKV_ENONNUMERIC);
	stat_inc(ctx, incr ? ST_INCR_HITS : ST_DECR_HITS);
	if (incr)
		v += a->delta;
	else
		v = a->delta > v ? 0 : v - a->delta;
	if (result)
		*result = v;
	if (prev_exptime)
		*prev_exptime = y->exptime;
	exptime = a->flags & PLKV_ARITH_TOUCH ? item_realtime(ctx, a->exptime)
					      : y->exptime;
	/* A new exptime goes with the new value in one swap (all or
	 * nothing after a crash), so only the digits are done in place. */
	if (ndigits(v) != y->nbytes || exptime != y->exptime)
		return arith_link(ctx, key, nkey, hv, v, y->flags, exptime, y,
				  meta);
	/* Same length: rewrite in place, redoable from the record. */
	rec_set(op, W_Y, item_off(kv, y));
	rec_set(op, W_ARITH_VAL, v);
	rec_set(op, W_ARITH_CAS, next_cas(ctx));
	rec_phase(op, PH_INPLACE);
	PLKV_CRASH_POINT(ctx);
	item_digits(y, v);
	PLKV_CRASH_POINT(ctx);
	item_set_cas(y, op->w[W_ARITH_CAS]);
	fill_meta(meta, y);
	return unlock_done(ctx, hv, 0);
}

/*
 * md I: keep the item and its value, mark it stale with a new CAS (and,
 * with TOUCH, exptime), as memcached.  Up to three stores under the
 * stripe lock and no record: each field alone makes a valid item, so a
 * crash between them leaves a valid item carrying part of an invalidate
 * that never returned, and nothing for recovery to finish.
 */
static void invalidate(struct plkv_ctx *ctx, struct plkv_item *y,
		       unsigned flags, int64_t exptime)
{
	if (flags & PLKV_DEL_TOUCH) {
		y->exptime = item_realtime(ctx, exptime);
		PLKV_CRASH_POINT(ctx);
	}
	/* TOKEN_SENT cleared: the next reader of the stale item wins */
	y->it_flags = (uint16_t)((y->it_flags | ITEM_STALE) & ~ITEM_TOKEN_SENT);
	PLKV_CRASH_POINT(ctx);
	item_set_cas(y, next_cas(ctx));
}

int eng_delete(struct plkv_ctx *ctx, const char *key, size_t nkey,
	       uint64_t cas, unsigned flags, int64_t exptime)
{
	uint32_t hv = eng_hash(key, nkey);
	struct plkv_item *y = lock_live(ctx, key, nkey, hv);

	if (!y || (cas && item_cas(y) != cas)) {
		/* memcached counts a CAS mismatch as a delete miss */
		stat_inc(ctx, ST_DELETE_MISSES);
		return unlock_done(ctx, hv, y ? PLKV_EEXISTS : PLKV_ENOTFOUND);
	}
	if (flags & PLKV_DEL_INVALIDATE) {
		/* not counted as a delete hit, as memcached */
		invalidate(ctx, y, flags, exptime);
		return unlock_done(ctx, hv, 0);
	}
	stat_inc(ctx, ST_DELETE_HITS);
	rec_set(plkv_ctx_op(ctx), W_Y, item_off(ctx->kv, y));
	item_txn(ctx);
	return unlock_done(ctx, hv, 0);
}

int eng_touch(struct plkv_ctx *ctx, const char *key, size_t nkey,
	      int64_t exptime)
{
	uint32_t hv = eng_hash(key, nkey);
	struct plkv_item *y = lock_live(ctx, key, nkey, hv);

	if (!y) {
		stat_inc(ctx, ST_TOUCH_MISSES);
		return unlock_done(ctx, hv, PLKV_ENOTFOUND);
	}
	stat_inc(ctx, ST_TOUCH_HITS);
	PLKV_CRASH_POINT(ctx);
	y->exptime = item_realtime(ctx, exptime);	/* one store */
	PLKV_CRASH_POINT(ctx);
	lru_bump(ctx, y);
	return unlock_done(ctx, hv, 0);
}

/*
 * flush_all: delay 0 (or negative) hides everything stored so far at once
 * (by CAS); a delay hides what was last updated before the deadline, from
 * the deadline on (<= 30 days relative, else an absolute time, as
 * memcached).  A new flush replaces a pending one; one already in force
 * stays in force (folded into flush_time).
 */
int eng_flush(struct plkv_ctx *ctx, int64_t delay)
{
	struct plkv_engine *e = eng(ctx->kv);
	int64_t now = eng_now(ctx), pend;

	plkv_lock(ctx, ENG_LOCK_GLOBAL);
	/* before the words it guards: a get that sees them sees it */
	__atomic_store_n(&e->flush_ever, 1, __ATOMIC_RELEASE);
	pend = e->flush_pending;
	if (pend && now >= pend && pend > e->flush_time) {
		__atomic_store_n(&e->flush_time, pend, __ATOMIC_RELEASE);
		PLKV_CRASH_POINT(ctx);
	}
	if (delay > 0) {
		__atomic_store_n(&e->flush_pending, item_realtime(ctx, delay),
				 __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&e->flush_pending, 0, __ATOMIC_RELEASE);
		PLKV_CRASH_POINT(ctx);
		__atomic_store_n(&e->flush_cas, atomic_load(&e->cas_next),
				 __ATOMIC_RELEASE);
	}
	e->cmd_flush++;
	plkv_unlock(ctx, ENG_LOCK_GLOBAL);
	return 0;
}

/* This thread's mutations, for the upkeep after them: a count of our
 * own, not a shared one (each shared write is a cache line that stores in
 * other processes then miss on). */
static __thread unsigned upkeep_tick
	__attribute__((tls_model("initial-exec")));

void eng_after_op(struct plkv_ctx *ctx, bool mutated)
{
	struct plkv_engine *e = eng(ctx->kv);

	/* Every ENG_CRAWL_EVERY-th mutation crawls that many times the
	 * step, in the next class: the same work as a step each time, with
	 * an eighth of the LRU lock acquisitions. */
	if (mutated) {
		assoc_maybe_grow(ctx);
		if (++upkeep_tick % ENG_CRAWL_EVERY == 0)
			lru_crawl(ctx, upkeep_tick / ENG_CRAWL_EVERY %
				  e->nclasses + 1,
				  ENG_CRAWL_STEP * ENG_CRAWL_EVERY, false);
	}
	eng_after_read(ctx);
}

int eng_maintain(struct plkv_ctx *ctx, unsigned budget)
{
	struct plkv_engine *e = eng(ctx->kv);
	unsigned done = 0, c;

	assoc_maybe_grow(ctx);
	done += (unsigned)assoc_expand_step(ctx, budget);
	for (c = 1; c <= e->nclasses && done < budget; c++)
		done += lru_crawl(ctx, c, budget - done, true);
	return (int)done;
}

struct dump_ctx {
	struct plkv_ctx *ctx;
	struct plkv_dump_item **out;
	size_t *n, *cap;
};

static int dump_one(void *arg, struct plkv_item *it)
{
	struct dump_ctx *dc = arg;
	struct plkv_dump_item *d;

	if (item_expired(dc->ctx, it) || item_flushed(dc->ctx, it))
		return 0;
	if (*dc->n == *dc->cap) {
		size_t nc = *dc->cap ? *dc->cap * 2 : 64;
		void *nw = plkv_gate_realloc(dc->ctx->kv, *dc->out,
					     nc * sizeof(**dc->out));

		if (!nw)
			return -ENOMEM;
		*dc->out = nw;
		*dc->cap = nc;
	}
	d = &(*dc->out)[(*dc->n)++];
	plkv_zero(d, sizeof(*d));
	plkv_copy(d->key, item_key(it), it->nkey);
	d->klen = it->nkey;
	d->vlen = it->nbytes;
	d->flags = it->flags;
	d->exptime = it->exptime;
	d->cas = item_cas(it);
	d->slab_class = it->slab_class;
	d->last_access = it->time;
	d->size = item_size(it);
	d->fetched = !!(item_act(it) & ACT_FETCHED);
	return 0;
}

int eng_dump_stripe(struct plkv_ctx *ctx, unsigned s,
		    struct plkv_dump_item **out, size_t *n, size_t *cap)
{
	struct dump_ctx dc = { .ctx = ctx, .out = out, .n = n, .cap = cap };
	int rc;

	plkv_lock(ctx, ENG_LOCK_STRIPE0 + s);
	rc = assoc_walk_stripe(ctx, s, dump_one, &dc);
	plkv_unlock(ctx, ENG_LOCK_STRIPE0 + s);
	return rc;
}
