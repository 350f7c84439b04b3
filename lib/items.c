/* SPDX-License-Identifier: MIT */
/*
 * Items: allocation, value layout, expiry, and the one transaction that
 * every store, delete and expiry goes through.
 *
 * Refcounts follow memcached: item_alloc() returns the item with one
 * reference (the allocating op's), linking adds one, unlinking drops one,
 * and the item is freed when none is left.  Readers copy values while
 * holding the item's stripe lock (see ops.c), so with no call in progress
 * every linked item has exactly one reference, and an unlinked allocated
 * item is always named by some thread's op record (W_X, W_Y or W_E): that
 * is what makes a dead thread's references recoverable.
 *
 * The transaction (item_txn) swaps new item X for old item Y in the hash
 * chain with one store, then fixes the LRU and frees Y.  The phase in the
 * op record tells a recoverer which side of the swap the thread died on:
 * item_txn_resolve() rolls back (X freed, Y untouched) or forward (X
 * linked everywhere, Y unlinked everywhere and freed) from any point.
 *
 * Large items: a value that doesn't fit the largest class's chunk is
 * chunked: the header chunk holds the header, the key, the chain word and
 * the first part of the value; continuation chunks of the largest class
 * hold the rest.  All chunks come from the largest class in one pop and
 * go back in one push, so a chunked item is allocated and freed as a unit.
 */

#include "engine.h"

size_t item_ntotal(size_t nkey, size_t nbytes)
{
	return ITEM_HDR + nkey + nbytes;
}

static size_t chunk_max(const struct plkv_engine *e)
{
	return e->cls[e->nclasses].size;
}

bool item_is_chunked_size(const struct plkv_engine *e, size_t nkey,
			  size_t nbytes)
{
	return item_ntotal(nkey, nbytes) > chunk_max(e);
}

/* Value bytes in a chunked item's header chunk, and per continuation. */
static size_t head_cap(const struct plkv_engine *e, size_t nkey)
{
	return chunk_max(e) - ITEM_HDR - eng_align8(nkey) - 8;
}

static size_t cont_cap(const struct plkv_engine *e)
{
	return chunk_max(e) - ITEM_HDR;
}

static uint64_t nchunks_for(const struct plkv_engine *e, size_t nkey,
			    size_t nbytes)
{
	size_t h = head_cap(e, nkey), c = cont_cap(e);

	if (!item_is_chunked_size(e, nkey, nbytes) || nbytes <= h)
		return 0;
	return (nbytes - h + c - 1) / c;
}

static plkv_off_t *chain_word(struct plkv_item *it)
{
	return (plkv_off_t *)(it->data + eng_align8(it->nkey));
}

plkv_off_t item_chain(const struct plkv *kv, struct plkv_item *it)
{
	(void)kv;
	return *chain_word(it);
}

uint64_t item_nchunks(const struct plkv *kv, const struct plkv_item *it)
{
	if (!(it->it_flags & ITEM_CHUNKED))
		return 0;
	return nchunks_for(eng(kv), it->nkey, it->nbytes);
}

uint64_t item_size(const struct plkv_item *it)
{
	return item_ntotal(it->nkey, it->nbytes);
}

/*
 * Allocate an item for key with room for nbytes of value, into op word
 * W_X (owned by this op until linked).  0 or PLKV_ENOMEM.
 */
int item_alloc(struct plkv_ctx *ctx, const char *key, size_t nkey,
	       size_t nbytes, uint32_t flags, int64_t exptime, uint32_t hv)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	bool may_evict = !e->no_evict;
	size_t ntotal = item_ntotal(nkey, nbytes);
	uint64_t n = nchunks_for(e, nkey, nbytes), i;
	struct plkv_item *it, *c;
	size_t left;
	int rc;

	rec_set(op, W_CHAIN_N, n);
	if (n == 0)
		rc = slab_alloc(ctx, slab_clsid(e, ntotal), 1, W_X, ntotal,
				may_evict);
	else
		rc = slab_alloc(ctx, e->nclasses, n + 1, W_X,
				(n + 1) * chunk_max(e), may_evict);
	if (rc)
		return rc;
	it = item_at(kv, op->w[W_X]);
	it->h_next = 0;
	it->prev = 0;
	it->cas_act = 0;	/* no CAS yet, no act bits */
	it->exptime = exptime;
	it->time = eng_now(ctx);
	atomic_store_explicit(&it->refcount, 1, memory_order_relaxed);
	it->nbytes = (uint32_t)nbytes;
	it->flags = flags;
	it->hv = hv;
	it->nkey = (uint8_t)nkey;
	it->lru = LRU_NONE;
	plkv_copy(item_key(it), key, nkey);
	if (n) {
		/* it->next still chains the continuation chunks. */
		*chain_word(it) = it->next;
		left = nbytes - head_cap(e, nkey);
		for (c = item_at(kv, it->next), i = 0; i < n; i++) {
			c->it_flags = ITEM_CHUNK;
			c->nbytes = (uint32_t)(left < cont_cap(e) ? left
								  : cont_cap(e));
			left -= c->nbytes;
			c = item_at(kv, c->next);
		}
		barrier();
		it->it_flags = ITEM_CHUNKED;
	} else {
		it->it_flags = 0;
	}
	return 0;
}

/* Walk the value's byte ranges [off, off + n): copy in or out. */
static __attribute__((noinline)) void item_copy(const struct plkv *kv,
						struct plkv_item *it,
						size_t off, void *buf,
						size_t n, bool out)
{
	const struct plkv_engine *e = eng(kv);
	char *b = buf;
	char *seg;
	size_t cap;
	struct plkv_item *c;

	if (!(it->it_flags & ITEM_CHUNKED)) {
		seg = it->data + it->nkey + off;
		if (out)
			plkv_copy(b, seg, n);
		else
			plkv_copy(seg, b, n);
		return;
	}
	seg = (char *)(chain_word(it) + 1);
	cap = head_cap(e, it->nkey);
	c = item_at(kv, *chain_word(it));
	for (;;) {
		if (off < cap) {
			size_t m = cap - off < n ? cap - off : n;

			if (out)
				plkv_copy(b, seg + off, m);
			else
				plkv_copy(seg + off, b, m);
			b += m;
			n -= m;
			off = 0;
		} else {
			off -= cap;
		}
		if (!n || !c)
			return;
		seg = c->data;
		cap = c->nbytes;
		c = item_at(kv, c->next);
	}
}

void item_write(const struct plkv *kv, struct plkv_item *it, size_t off,
		const void *src, size_t n)
{
	item_copy(kv, it, off, (void *)src, n, false);
}

void item_read(const struct plkv *kv, struct plkv_item *it, size_t off,
	       void *dst, size_t n)
{
	/* a get's copy: most values are in one chunk */
	if (likely(!(it->it_flags & ITEM_CHUNKED))) {
		plkv_copy(dst, it->data + it->nkey + off, n);
		return;
	}
	item_copy(kv, it, off, dst, n, true);
}

/* Copy n value bytes of src (from its start) into dst at dst_off. */
void item_copy_between(const struct plkv *kv, struct plkv_item *dst,
		       size_t dst_off, struct plkv_item *src, size_t n)
{
	char buf[4096];
	size_t off = 0;

	while (off < n) {
		size_t m = n - off < sizeof(buf) ? n - off : sizeof(buf);

		item_read(kv, src, off, buf, m);
		item_write(kv, dst, dst_off + off, buf, m);
		off += m;
	}
}

/*
 * A linked item's value is about to change in place: a reader without the
 * lock validates by the CAS word (opt_item_same(), ops.c), so its CAS goes
 * to 0 before the value changes (the act bits stay), and the writer gives
 * the new one once all of it is written.
 */
static void item_rewrite_begin(struct plkv_item *it)
{
	__atomic_fetch_and(&it->cas_act, ~ITEM_CAS_MASK, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
}

/* Write v's decimal digits over the value (same length, checked); the
 * caller then gives the item its new CAS (item_set_cas()). */
void item_digits(struct plkv_item *it, uint64_t v)
{
	char buf[24];
	int len = plkv_fmt_u64(buf, v);

	if ((uint32_t)len == it->nbytes && !(it->it_flags & ITEM_CHUNKED)) {
		item_rewrite_begin(it);
		plkv_copy(it->data + it->nkey, buf, (size_t)len);
	}
}

/*
 * A set in place (ops.c, store_overwrite()): the staged value and the
 * record's header fields over y, which keeps its key, length, hash and
 * list positions.  Redone from the record by a recoverer (idempotent: it
 * holds y's stripe lock, so no reader saw the first try's CAS word).
 */
void item_overwrite(struct plkv_item *y, const struct plkv_oprec *r,
		    const char *stage)
{
	item_rewrite_begin(y);
	plkv_copy(y->data + y->nkey, stage, y->nbytes);
	/* the value is new, the CAS word not yet */
	PLKV_CRASH_POINT(NULL);
	y->flags = (uint32_t)r->w[W_OW_META];
	y->exptime = (uint32_t)(r->w[W_OW_META] >> 32);
	y->time = (uint32_t)r->w[W_OW_TIME];
	y->it_flags = (uint16_t)(r->w[W_OW_TIME] >> 32);
	/* no act bits, as a new item: a reader's pending hint on the old
	 * CAS word fails its compare-and-swap */
	__atomic_store_n(&y->cas_act, r->w[W_OW_CAS], __ATOMIC_RELEASE);
}

/* ---- time ---- */

/* memcached's realtime(): exptime as given -> absolute seconds. */
int64_t item_realtime(struct plkv_ctx *ctx, int64_t exptime)
{
	if (exptime == 0)
		return 0;
	if (exptime < 0)
		return 1;	/* long past: already expired */
	if (exptime <= ENG_REL_MAX)
		exptime += eng_now(ctx);
	/* items keep 32-bit times, as memcached: 2106 is never */
	return exptime > UINT32_MAX ? UINT32_MAX : exptime;
}

/* ---- freeing ---- */

/* Free an unlinked item (and its chunks) named by op word dest. */
void item_free_unlinked(struct plkv_ctx *ctx, plkv_off_t off, uint64_t dest)
{
	/* The refcount goes to 0 in the push, under the slab lock. */
	slab_free(ctx, off, 1 + item_nchunks(ctx->kv, item_at(ctx->kv, off)), dest);
}

/* Free the item a slot allocated and never linked (W_X), if any. */
void item_free_owned(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv_oprec *r = eng_slot_op(ctx->kv, slot);
	plkv_off_t x = __atomic_load_n(&r->w[W_X], __ATOMIC_ACQUIRE);

	if (x)
		slab_free(ctx, x, 1 + r->w[W_CHAIN_N], eng_dest(slot, W_X));
}

/* ---- the transaction ---- */

/*
 * Replace Y by X (either may be 0: insert, unlink) in the hash chain, the
 * LRU and the slabs.  Holding the stripe lock of W_HV, phase PH_LOCKED,
 * W_X and W_Y recorded; leaves phase PH_DONE.
 */
void item_txn(struct plkv_ctx *ctx)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	plkv_off_t X = op->w[W_X], Y = op->w[W_Y];
	struct plkv_item *x = item_at(kv, X), *y = item_at(kv, Y);
	uint32_t hv = (uint32_t)op->w[W_HV];
	unsigned lru_lk = 0;

	rec_phase(op, PH_LINK);
	PLKV_CRASH_POINT(ctx);
	if (x) {
		x->it_flags |= ITEM_LINKED;
		atomic_store_explicit(&x->refcount, 2, memory_order_relaxed);
	}
	assoc_swap(ctx, hv, Y, X);
	PLKV_CRASH_POINT(ctx);
	if (y)
		y->it_flags &= ~ITEM_LINKED;
	rec_phase(op, PH_LRU);
	PLKV_CRASH_POINT(ctx);
	if (x && y && item_lru_class(x) == item_lru_class(y))
		lru_lk = ENG_LOCK_LRU0 + item_lru_class(x);	/* once for both */
	if (lru_lk)
		plkv_lock(ctx, lru_lk);
	if (x)
		lru_link(ctx, x);
	if (y) {
		PLKV_CRASH_POINT(ctx);
		lru_unlink(ctx, y);
	}
	if (lru_lk)
		plkv_unlock(ctx, lru_lk);
	rec_phase(op, PH_FREE);
	PLKV_CRASH_POINT(ctx);
	if (y)
		item_free_unlinked(ctx, Y, eng_dest(ctx->slot, W_Y));
	if (x)
		atomic_store_explicit(&x->refcount, 1, memory_order_relaxed);
	rec_phase(op, PH_DONE);
	if (!x != !y)	/* a replace leaves the count: no shared write */
		atomic_fetch_add_explicit(&e->items_hint, x ? 1 : -1,
					  memory_order_relaxed);
}

/*
 * A thread (slot) died holding the stripe lock of its W_HV, which the
 * caller now holds: finish or undo its transaction.  Idempotent.
 */
void item_txn_resolve(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *r = eng_slot_op(kv, slot);
	plkv_off_t X = r->w[W_X], Y = r->w[W_Y];
	struct plkv_item *x = item_at(kv, X), *y = item_at(kv, Y);
	uint32_t hv = (uint32_t)r->w[W_HV];
	bool committed;

	switch (r->phase) {
	case PH_INPLACE:
		if (y) {
			item_digits(y, r->w[W_ARITH_VAL]);
			item_set_cas(y, r->w[W_ARITH_CAS]);
		}
		break;
	case PH_OVERWRITE:
		if (y)
			item_overwrite(y, r, eng_stage(kv, slot));
		break;
	case PH_LOCKED:
		item_free_owned(ctx, slot);
		break;
	case PH_LINK:
		committed = x ? assoc_contains(kv, hv, X) :
			    y ? !assoc_contains(kv, hv, Y) : true;
		if (!committed) {
			if (y)
				y->it_flags |= ITEM_LINKED;
			if (x)
				x->it_flags &= ~ITEM_LINKED;
			item_free_owned(ctx, slot);
			break;
		}
		if (x)
			x->it_flags |= ITEM_LINKED;
		if (y)
			y->it_flags &= ~ITEM_LINKED;
		rec_phase(r, PH_LRU);
		/* fallthrough */
	case PH_LRU:
		if (x)
			lru_ensure(ctx, X, true);
		if (y)
			lru_ensure(ctx, Y, false);
		rec_phase(r, PH_FREE);
		/* fallthrough */
	case PH_FREE:
		if (y && r->w[W_Y])
			item_free_unlinked(ctx, Y, eng_dest(slot, W_Y));
		if (x)
			atomic_store_explicit(&x->refcount, 1,
					      memory_order_relaxed);
		break;
	default:
		return;
	}
	rec_phase(r, PH_DONE);
}

/*
 * Unlink a linked item found at an LRU tail (eviction, expiry reclaim).
 * Holding the class's LRU lock and the item's stripe lock.
 */
void item_unlink_evict(struct plkv_ctx *ctx, unsigned cls,
		       struct plkv_item *it)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	plkv_off_t off = item_off(kv, it);

	rec_set(op, W_E_HV, it->hv);
	rec_set(op, W_E, off);
	rec_set(op, W_E_PH, E_HASH);
	PLKV_CRASH_POINT(ctx);
	assoc_swap(ctx, it->hv, off, 0);
	PLKV_CRASH_POINT(ctx);
	it->it_flags &= ~ITEM_LINKED;
	rec_set(op, W_E_PH, E_LRU);
	lru_unlink_locked(ctx, cls, it);
	rec_set(op, W_E_PH, E_FREE);
	PLKV_CRASH_POINT(ctx);
	item_free_unlinked(ctx, off, eng_dest(ctx->slot, W_E));
	rec_set(op, W_E_PH, E_NONE);
	atomic_fetch_sub_explicit(&eng(kv)->items_hint, 1,
				  memory_order_relaxed);
}

/* The eviction counterpart of item_txn_resolve (holding E's stripe). */
void item_evict_resolve(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *r = eng_slot_op(kv, slot);
	plkv_off_t E = r->w[W_E];
	struct plkv_item *it = item_at(kv, E);

	switch (r->w[W_E_PH]) {
	case E_HASH:
		if (!E || assoc_contains(kv, (uint32_t)r->w[W_E_HV], E)) {
			rec_set(r, W_E, 0);
			break;
		}
		it->it_flags &= ~ITEM_LINKED;
		rec_set(r, W_E_PH, E_LRU);
		/* fallthrough */
	case E_LRU:
		lru_ensure(ctx, E, false);
		rec_set(r, W_E_PH, E_FREE);
		/* fallthrough */
	case E_FREE:
		if (r->w[W_E])
			item_free_unlinked(ctx, E, eng_dest(slot, W_E));
		break;
	default:
		return;
	}
	rec_set(r, W_E_PH, E_NONE);
}
