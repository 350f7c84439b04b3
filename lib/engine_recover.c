/* SPDX-License-Identifier: MIT */
/*
 * Recovery hooks: what the engine does when a thread died inside it.
 *
 * Two moments (core.h):
 *  - plkv_engine_repair_lock(): someone takes a lock whose owner died.  The
 *    structure that lock guards must be made consistent before the caller
 *    uses it: a stripe lock finishes or undoes the dead thread's
 *    transaction, eviction or bucket migration in that stripe (taking the
 *    LRU and slab locks it needs, in the usual order); an LRU lock rebuilds
 *    its lists; a slab lock its free list; the EXPAND lock finishes the
 *    bucket being migrated.
 *  - plkv_engine_recover_slot(): later, holding no lock, a survivor
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
	return ph >= PH_LOCKED && ph <= PH_INPLACE;
}

static bool migrate_phase(const struct plkv_oprec *r)
{
	return r->op == OP_MIGRATE &&
	       (r->phase == PH_M_ZERO || r->phase == PH_M_MOVE);
}

/* Holding stripe lock idx: resolve whatever slot left half done in it. */
static void resolve_stripe(struct plkv_ctx *ctx, unsigned idx, uint32_t slot)
{
	struct plkv_oprec *r = eng_slot_op(ctx->kv, slot);

	if (r->w[W_E] && r->w[W_E_PH] != E_NONE && in_stripe(idx, r->w[W_E_HV]))
		item_evict_resolve(ctx, slot);
	if (migrate_phase(r)) {
		if (in_stripe(idx, r->w[W_VAL]))
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
void plkv_engine_repair_lock(struct plkv_ctx *ctx, unsigned idx,
			     uint32_t dead_slot)
{
	struct plkv *kv = ctx->kv;
	unsigned nclasses = eng(kv)->nclasses, c;
	uint32_t s;
	bool any = false;

	(void)dead_slot;
	if (idx >= ENG_LOCK_STRIPE0 && idx < ENG_LOCK_LRU0) {
		for (s = 1; s < PLKV_MAX_THREADS; s++)
			if (s != ctx->slot)
				resolve_stripe(ctx, idx, s);
	} else if (idx > ENG_LOCK_LRU0 && idx < ENG_LOCK_SLAB0) {
		c = idx - ENG_LOCK_LRU0;
		if (c > nclasses)
			return;
		for (s = 1; s < PLKV_MAX_THREADS; s++) {
			struct plkv_oprec *r = eng_slot_op(kv, s);

			if (s != ctx->slot && r->w[W_L_OP] != L_NONE &&
			    r->w[W_L_CLS] == c) {
				lru_repair(ctx, c, r);
				any = true;
			}
		}
		if (!any)
			lru_repair(ctx, c, NULL);
	} else if (idx > ENG_LOCK_SLAB0 && idx < ENG_LOCK_EXPAND) {
		c = idx - ENG_LOCK_SLAB0;
		if (c > nclasses)
			return;
		for (s = 1; s < PLKV_MAX_THREADS; s++) {
			struct plkv_oprec *r = eng_slot_op(kv, s);

			if (s != ctx->slot && r->w[W_S_OP] != S_NONE &&
			    r->w[W_S_CLS] == c) {
				slab_repair(ctx, c, r);
				any = true;
			}
		}
		if (!any)
			slab_repair(ctx, c, NULL);
	} else if (idx == ENG_LOCK_EXPAND) {
		for (s = 1; s < PLKV_MAX_THREADS; s++)
			if (s != ctx->slot)
				assoc_repair_expand(ctx, s);
	}
	/* PAGES: pages_next and page_owner change by single stores in an
	 * order that leaves them consistent.  GLOBAL (flush): likewise.
	 * CRAWL: no state. */
}

void plkv_engine_recover_slot(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv *kv = ctx->kv;
	struct plkv_oprec *r = eng_slot_op(kv, slot);
	unsigned lk;

	/* Sub-operations first: their locks were swept by the core, which
	 * repaired them; repairing again is harmless and covers a lock
	 * that was released between the record and the death. */
	if (r->w[W_S_OP] != S_NONE) {
		unsigned c = (unsigned)r->w[W_S_CLS];

		if (c >= 1 && c <= eng(kv)->nclasses) {
			lk = ENG_LOCK_SLAB0 + c;
			plkv_lock(ctx, lk);
			slab_repair(ctx, c, r);
			plkv_unlock(ctx, lk);
		}
	}
	if (r->w[W_L_OP] != L_NONE) {
		unsigned c = (unsigned)r->w[W_L_CLS];

		if (c >= 1 && c <= eng(kv)->nclasses) {
			lk = ENG_LOCK_LRU0 + c;
			plkv_lock(ctx, lk);
			lru_repair(ctx, c, r);
			plkv_unlock(ctx, lk);
		}
	}
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

void plkv_engine_retire_slot(struct plkv_ctx *ctx, uint32_t slot)
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
