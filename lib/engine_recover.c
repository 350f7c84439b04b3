/* SPDX-License-Identifier: MIT */
/*
 * Recovery hooks: what the engine does when a thread died inside it.
 *
 * Two moments, registered with core as struct plkv_engine_hooks (core.h):
 *  - repair_lock(): someone takes a lock whose owner died.  The
 *    structure that lock guards must be made consistent before the caller
 *    uses it: a stripe lock finishes or undoes the dead thread's
 *    transaction, eviction or bucket migration in that stripe (taking the
 *    LRU and slab locks it needs, in the usual order); an LRU lock rebuilds
 *    its lists; a slab lock its free list; the EXPAND lock finishes the
 *    bucket being migrated.
 *  - recover_slot(): later, holding no lock, a survivor
 *    finishes the rest from the dead thread's op record: frees an item it
 *    had allocated but not linked (PH_ALLOC), and re-runs every resolver
 *    under its lock in case a lock was never contended (each is
 *    idempotent: it checks the structure, not just the record).
 *
 * Which of these applies is decided by the op record alone: every field a
 * resolver trusts is written before the mutation it describes, and every
 * phase that says "holding the stripe lock" is set only while holding it.
 */
#include "engine.h"

static bool in_stripe(unsigned idx, uint64_t hv)
{
	return eng_stripe_lock((uint32_t)hv) == idx;
}

static bool txn_phase(uint32_t ph)
{
	return ph >= PH_LOCKED && ph <= PH_OVERWRITE;
}

static bool migrate_phase(const struct plkv_oprec *r)
{
	return r->op == OP_MIGRATE &&
	       (r->phase == PH_M_ZERO || r->phase == PH_M_MOVE);
}

/*
 * The two sub-operations a record can hold besides its transaction: an
 * LRU list change and a slab free-list change.  Each names its class and
 * is repaired under that class's lock, by one resolver for each.
 */
struct sub_op {
	unsigned lock0;		/* the class's lock is lock0 + class */
	unsigned w_op, w_cls;	/* its op record words */
	uint64_t none;		/* w_op when there is none */
	void (*repair)(struct plkv_ctx *ctx, unsigned cls,
		       struct plkv_oprec *dead);
};

static const struct sub_op sub_lru = {
	ENG_LOCK_LRU0, W_L_OP, W_L_CLS, L_NONE, lru_repair
};
static const struct sub_op sub_slab = {
	ENG_LOCK_SLAB0, W_S_OP, W_S_CLS, S_NONE, slab_repair
};

/* Holding class c's lock of kind k: repair every other slot's sub-op on
 * it, or check the structure when none names it. */
static void repair_class(struct plkv_ctx *ctx, const struct sub_op *k,
			 unsigned c)
{
	struct plkv *kv = ctx->kv;
	bool any = false;
	uint32_t s;

	if (c > eng(kv)->nclasses)
		return;
	for (s = 1; s < PLKV_MAX_THREADS; s++) {
		struct plkv_oprec *r = eng_slot_op(kv, s);

		if (s != ctx->slot && r->w[k->w_op] != k->none &&
		    r->w[k->w_cls] == c) {
			k->repair(ctx, c, r);
			any = true;
		}
	}
	if (!any)
		k->repair(ctx, c, NULL);
}

/* Holding no lock: repair r's sub-op of kind k, if any, under its lock. */
static void recover_sub(struct plkv_ctx *ctx, const struct sub_op *k,
			struct plkv_oprec *r)
{
	unsigned c, lk;

	if (r->w[k->w_op] == k->none)
		return;
	c = (unsigned)r->w[k->w_cls];
	if (c < 1 || c > eng(ctx->kv)->nclasses)
		return;
	lk = k->lock0 + c;
	plkv_lock(ctx, lk);
	k->repair(ctx, c, r);
	plkv_unlock(ctx, lk);
}

/* Holding stripe lock idx: resolve whatever slot left half done in it. */
static void resolve_stripe(struct plkv_ctx *ctx, unsigned idx, uint32_t slot)
{
	struct plkv_oprec *r = eng_slot_op(ctx->kv, slot);

	if (r->w[W_E] && r->w[W_E_PH] != E_NONE && in_stripe(idx, r->w[W_E_HV]))
		item_evict_resolve(ctx, slot);
	if (migrate_phase(r)) {
		if (in_stripe(idx, r->w[W_MIG_BUCKET]))
			assoc_migrate_resolve(ctx, slot);
	} else if (txn_phase(r->phase) && in_stripe(idx, r->w[W_HV])) {
		item_txn_resolve(ctx, slot);
	}
}

/*
 * Which records to look at: every sub-record and phase that names a
 * structure is written only while holding that structure's lock, so while
 * we hold it, any record still naming it belongs to a thread that is not
 * running: the lock's dead owner, or an earlier dead thread whose repair
 * was itself cut short by a death.  So each repair finishes them all, not
 * only dead_slot's.
 */
static void eng_repair_lock(struct plkv_ctx *ctx, unsigned idx,
			    uint32_t dead_slot)
{
	uint32_t s;

	(void)dead_slot;
	if (idx >= ENG_LOCK_STRIPE0 && idx < ENG_LOCK_LRU0) {
		for (s = 1; s < PLKV_MAX_THREADS; s++)
			if (s != ctx->slot)
				resolve_stripe(ctx, idx, s);
	} else if (idx > ENG_LOCK_LRU0 && idx < ENG_LOCK_SLAB0) {
		repair_class(ctx, &sub_lru, idx - ENG_LOCK_LRU0);
	} else if (idx > ENG_LOCK_SLAB0 && idx < ENG_LOCK_EXPAND) {
		repair_class(ctx, &sub_slab, idx - ENG_LOCK_SLAB0);
	} else if (idx == ENG_LOCK_EXPAND) {
		for (s = 1; s < PLKV_MAX_THREADS; s++)
			if (s != ctx->slot)
				assoc_repair_expand(ctx, s);
	}
	/* PAGES: pages_next and page_owner change by single stores in an
	 * order that leaves them consistent.  GLOBAL (flush): likewise.
	 * CRAWL: no state. */
}

static void eng_recover_slot(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *r = eng_slot_op(kv, slot);
	unsigned lk;

	/* Sub-operations first: their locks were swept by the core, which
	 * repaired them; repairing again is harmless and covers a lock
	 * that was released between the record and the death. */
	recover_sub(ctx, &sub_slab, r);
	recover_sub(ctx, &sub_lru, r);
	if (r->w[W_E] && r->w[W_E_PH] != E_NONE) {
		lk = eng_stripe_lock((uint32_t)r->w[W_E_HV]);
		plkv_lock(ctx, lk);
		item_evict_resolve(ctx, slot);
		plkv_unlock(ctx, lk);
	}
	if (migrate_phase(r)) {
		plkv_lock(ctx, ENG_LOCK_EXPAND);
		assoc_repair_expand(ctx, slot);
		plkv_unlock(ctx, ENG_LOCK_EXPAND);
	} else if (txn_phase(r->phase)) {
		lk = eng_stripe_lock((uint32_t)r->w[W_HV]);
		plkv_lock(ctx, lk);
		item_txn_resolve(ctx, slot);
		plkv_unlock(ctx, lk);
	}
	if (r->phase == PH_ALLOC)
		item_free_owned(ctx, slot);
	rec_phase(r, PH_DONE);
	__atomic_store_n(&r->state, 0, __ATOMIC_RELEASE);
}

static void eng_retire_slot(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv_slot *s = plkv_slot_rec(ctx->kv, slot);
	struct plkv_engine *e = eng(ctx->kv);
	unsigned i;

	for (i = 0; i < ST_N; i++) {
		uint64_t v = s->stat[i];

		if (v)
			atomic_fetch_add_explicit(&e->g_stat[i], v,
						  memory_order_relaxed);
		s->stat[i] = 0;
	}
}

const struct plkv_engine_hooks plkv_engine_hooks = {
	.repair_lock = eng_repair_lock,
	.recover_slot = eng_recover_slot,
	.retire_slot = eng_retire_slot,
};
