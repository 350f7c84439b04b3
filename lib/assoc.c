/* SPDX-License-Identifier: MIT */
/*
 * The hash table: power-of-two buckets of singly linked chains (h_next),
 * grown incrementally.
 *
 * Why it is safe with striped locks: item lock stripe = hv mod 256, and a
 * bucket at any power >= 8 is hv mod 2^power, so every bucket belongs to
 * exactly one stripe, and old bucket i splits into new buckets i and
 * i + 2^(p-1), both in the same stripe as i.  Migrating bucket i therefore
 * needs only stripe (i mod 256): a reader holding the stripe of its key
 * sees either the whole bucket before migration or the whole bucket after.
 *
 * The state (power, expanding, next bucket to migrate) is one 64-bit word,
 * read after taking the stripe lock; while the stripe is held, nothing
 * about the caller's bucket can change: the start of an expansion leaves
 * every old bucket where it is, and migrations of our bucket need our lock.
 *
 * Tables live at fixed places (engine.h), so starting an expansion is one
 * store of the state word: no allocation, no whole-table clear.  The two
 * new buckets an old bucket splits into are cleared when it is migrated.
 *
 * Crash safety: a chain changes by one store (publish at the head, or
 * unhook by storing the predecessor's link).  A migration unhooks the head
 * of the old bucket (recording it in W_MIG_ITEM first), then pushes it on its
 * new bucket; assoc_migrate_resolve() redoes a bucket from any point.
 */
#include "engine.h"
#include "key.h"

struct plkv_item *assoc_find(struct plkv_ctx *ctx, const char *key,
			     size_t nkey, uint32_t hv)
{
	const struct plkv *kv = ctx->kv;
	plkv_off_t p = *assoc_bucket(kv, hv);

	while (p) {
		struct plkv_item *it = item_at(kv, p);

		if (it->hv == hv && it->nkey == nkey &&
		    plkv_key_eq(item_key(it), key, nkey))
			return it;
		p = it->h_next;
	}
	return NULL;
}

/*
 * Every item in the buckets of stripe s, in both tables while they
 * migrate (the old table's buckets not yet moved, the new table's
 * moved ones), the stripe's lock held.  A nonzero fn() stops the walk.
 */
int assoc_walk_stripe(struct plkv_ctx *ctx, unsigned s,
		      int (*fn)(void *arg, struct plkv_item *it), void *arg)
{
	const struct plkv *kv = ctx->kv;
	uint64_t st = atomic_load(&eng(kv)->hash_state), b, nb;
	unsigned p = HS_POWER(st);
	int pass, rc;

	for (pass = 0; pass < 2; pass++) {
		plkv_off_t *tab;
		uint64_t lo = 0, half = 1ULL << (p - 1);

		if (pass == 0 && !HS_EXPANDING(st))
			continue;
		tab = assoc_table(kv, pass == 0 ? p - 1 : p);
		nb = pass == 0 ? half : 1ULL << p;
		if (pass == 0)
			lo = HS_BUCKET(st);
		for (b = s; b < nb; b += ENG_STRIPES) {
			plkv_off_t q;

			if (pass == 0 && b < lo)
				continue;
			if (pass == 1 && HS_EXPANDING(st) &&
			    (b & (half - 1)) >= HS_BUCKET(st))
				continue;
			for (q = tab[b]; q; q = item_at(kv, q)->h_next) {
				rc = fn(arg, item_at(kv, q));
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

static bool chain_has(const struct plkv *kv, plkv_off_t p, plkv_off_t off)
{
	uint64_t limit = 1ULL << 32;

	while (p && limit--) {
		if (p == off)
			return true;
		p = item_at(kv, p)->h_next;
	}
	return false;
}

bool assoc_contains(const struct plkv *kv, uint32_t hv, plkv_off_t off)
{
	return chain_has(kv, *assoc_bucket(kv, hv), off);
}

/*
 * In hv's chain: replace old by new (both set), unhook old (new == 0), or
 * push new at the head (old == 0).  One store publishes the change.
 */
void assoc_swap(struct plkv_ctx *ctx, uint32_t hv, plkv_off_t old,
		plkv_off_t new)
{
	const struct plkv *kv = ctx->kv;
	plkv_off_t *link = assoc_bucket(kv, hv);

	if (!old) {
		item_at(kv, new)->h_next = *link;
		PUBLISH(*link, new);
		return;
	}
	while (*link && *link != old)
		link = &item_at(kv, *link)->h_next;
	if (!*link)
		return;
	if (new) {
		item_at(kv, new)->h_next = item_at(kv, old)->h_next;
		PUBLISH(*link, new);
	} else {
		PUBLISH(*link, item_at(kv, old)->h_next);
	}
}

/* ---- growth ---- */

/* Start an expansion when the load passes 1.5 items per bucket. */
void assoc_maybe_grow(struct plkv_ctx *ctx)
{
	struct plkv_engine *e = eng(ctx->kv);
	uint64_t st = atomic_load_explicit(&e->hash_state,
					   memory_order_relaxed);
	int64_t items = atomic_load_explicit(&e->items_hint,
					     memory_order_relaxed);
	unsigned p = HS_POWER(st);

	if (HS_EXPANDING(st) || p >= e->hash_power_max ||
	    items <= (int64_t)((3ULL << p) / 2))
		return;
	if (!plkv_trylock(ctx, ENG_LOCK_EXPAND))
		return;
	st = atomic_load(&e->hash_state);
	if (!HS_EXPANDING(st) && HS_POWER(st) == p)
		atomic_store(&e->hash_state, HS_MAKE(p + 1, 1, 0));
	plkv_unlock(ctx, ENG_LOCK_EXPAND);
}

/*
 * Migrate old bucket W_MIG_BUCKET into the table of power W_MIG_POWER, as recorded in
 * slot's op record, from wherever the migration stopped.  Holding the
 * bucket's stripe lock.
 */
void assoc_migrate_resolve(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct plkv_oprec *r = eng_slot_op(kv, slot);
	uint64_t i = r->w[W_MIG_BUCKET], p = r->w[W_MIG_POWER];
	uint64_t st = atomic_load(&e->hash_state), half, next;
	plkv_off_t *old, *new, aux;

	if (!HS_EXPANDING(st) || HS_POWER(st) != p || HS_BUCKET(st) != i)
		return;		/* done already */
	half = 1ULL << (p - 1);
	old = assoc_table(kv, (unsigned)p - 1);
	new = assoc_table(kv, (unsigned)p);
	if (r->phase == PH_M_ZERO) {
		new[i] = 0;
		new[i + half] = 0;
		rec_phase(r, PH_M_MOVE);
		PLKV_CRASH_POINT(ctx);
	}
	aux = r->w[W_MIG_ITEM];
	if (aux && !chain_has(kv, old[i], aux)) {
		struct plkv_item *it = item_at(kv, aux);
		plkv_off_t *b = &new[it->hv & assoc_mask((unsigned)p)];

		if (!chain_has(kv, *b, aux)) {	/* in neither: finish */
			it->h_next = *b;
			PUBLISH(*b, aux);
		}
	}
	while (old[i]) {
		plkv_off_t x = old[i];
		struct plkv_item *it = item_at(kv, x);
		plkv_off_t *b = &new[it->hv & assoc_mask((unsigned)p)];

		rec_set(r, W_MIG_ITEM, x);
		PLKV_CRASH_POINT(ctx);
		PUBLISH(old[i], it->h_next);
		PLKV_CRASH_POINT(ctx);
		it->h_next = *b;
		PUBLISH(*b, x);
	}
	rec_set(r, W_MIG_ITEM, 0);
	next = i + 1;
	atomic_compare_exchange_strong(&e->hash_state, &st,
		next == half ? HS_MAKE(p, 0, 0) : HS_MAKE(p, 1, next));
}

/*
 * Every item a migration moves is read (its hash) and written (its link)
 * at a random place: one cache miss each, and in a chain one after the
 * other.  Ask for the first items of the next buckets' chains together,
 * so that their misses overlap.  (Read without the stripe locks: a stale
 * offset only wastes a prefetch, which never faults.)
 */
static void expand_prefetch(const struct plkv *kv, unsigned budget)
{
	uint64_t st = atomic_load_explicit(&eng(kv)->hash_state,
					   memory_order_relaxed);
	uint64_t i = HS_BUCKET(st), end = 1ULL << (HS_POWER(st) - 1);
	const plkv_off_t *old = assoc_table(kv, HS_POWER(st) - 1);

	if (end - i > budget)
		end = i + budget;
	for (; i < end; i++) {
		plkv_off_t x = __atomic_load_n(&old[i], __ATOMIC_RELAXED);

		if (x)
			__builtin_prefetch(kv->base + x, 1);
	}
}

/* Migrate up to budget buckets; returns how many. */
int assoc_expand_step(struct plkv_ctx *ctx, unsigned budget)
{
	struct plkv_engine *e = eng(ctx->kv);
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	bool own_op = !op->state;
	uint32_t saved_op = op->op, saved_phase = op->phase;
	unsigned done = 0;

	if (!HS_EXPANDING(atomic_load_explicit(&e->hash_state,
					       memory_order_relaxed)))
		return 0;
	if (!plkv_trylock(ctx, ENG_LOCK_EXPAND))
		return 0;
	if (own_op)
		eng_op_begin(ctx, OP_MIGRATE);
	expand_prefetch(ctx->kv, budget);
	while (done < budget) {
		uint64_t st = atomic_load(&e->hash_state);
		unsigned lk;

		if (!HS_EXPANDING(st))
			break;
		lk = eng_stripe_lock((uint32_t)HS_BUCKET(st));
		op->op = OP_MIGRATE;
		rec_set(op, W_MIG_BUCKET, HS_BUCKET(st));
		rec_set(op, W_MIG_POWER, HS_POWER(st));
		rec_set(op, W_MIG_ITEM, 0);
		plkv_lock(ctx, lk);
		rec_phase(op, PH_M_ZERO);	/* only while holding it */
		assoc_migrate_resolve(ctx, ctx->slot);
		rec_phase(op, PH_DONE);
		plkv_unlock(ctx, lk);
		done++;
	}
	if (own_op) {
		eng_op_end(ctx);
	} else {
		op->op = saved_op;
		rec_phase(op, saved_phase);
	}
	plkv_unlock(ctx, ENG_LOCK_EXPAND);
	return (int)done;
}

/* The EXPAND lock's dead owner may have been mid-bucket: finish it. */
void assoc_repair_expand(struct plkv_ctx *ctx, uint32_t slot)
{
	struct plkv_oprec *dead = eng_slot_op(ctx->kv, slot);
	unsigned lk;
	bool mine;

	if (dead->op != OP_MIGRATE ||
	    (dead->phase != PH_M_ZERO && dead->phase != PH_M_MOVE))
		return;
	lk = eng_stripe_lock((uint32_t)dead->w[W_MIG_BUCKET]);
	mine = eng_lock_if_needed(ctx, lk);
	assoc_migrate_resolve(ctx, slot);
	if (mine)
		plkv_unlock(ctx, lk);
}
