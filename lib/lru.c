/* SPDX-License-Identifier: MIT */
/*
 * The segmented LRU, one per slab class: HOT, WARM and COLD lists under
 * the class's LRU lock, as memcached 1.6 (without its background threads).
 *
 *  - a new item goes to the head of HOT;
 *  - when HOT holds more than 20% of the class's items, its tail moves to
 *    COLD (to WARM if it was hit twice: ACTIVE); when WARM holds more than
 *    40%, its tail moves to COLD unless ACTIVE (then back to WARM's head);
 *    both amortized into the link of a new item (juggle());
 *  - a hit sets FETCHED, a second hit ACTIVE; an ACTIVE item in COLD moves
 *    to WARM (at once if the LRU lock is free, else when eviction reaches
 *    it); an item's time is bumped at most once a minute;
 *  - eviction takes from the COLD tail (HOT, then WARM when COLD is empty),
 *    skipping items in use (refcount > 1) or whose item lock is busy
 *    (trylock: the LRU lock is taken before item locks here, the reverse
 *    of the usual order, so it must never wait); an item a set rewrote in
 *    place (ITEM_REFRESHED) goes back to COLD's head once instead;
 *  - the crawler walks each class from the tail a few items per store and
 *    in plkv_maintain(), reclaiming expired and flushed items.
 *
 * Crash safety: the forward chain (head, next) is authoritative and
 * changes by one store; prev, tail, counts and bytes are derived, and
 * lru_repair() rebuilds them by walking.  Each list change records itself
 * (W_L_*) so the repair can finish an insert, removal or move.
 */
#include <errno.h>

#include "engine.h"

static inline unsigned lru_lock(unsigned cls)
{
	return ENG_LOCK_LRU0 + cls;
}

unsigned item_lru_class(const struct plkv_item *it)
{
	return it->slab_class;
}

static void l_insert(struct plkv *kv, struct eng_lru *L, unsigned seg,
		     struct plkv_item *it)
{
	plkv_off_t off = item_off(kv, it), head = L->head[seg];

	it->next = head;
	it->prev = 0;
	it->lru = (uint8_t)seg;
	PUBLISH(L->head[seg], off);
	if (head)
		item_at(kv, head)->prev = off;
	else
		L->tail[seg] = off;
	L->count[seg]++;
	L->bytes += item_size(it);
}

static void l_remove(struct plkv *kv, struct eng_lru *L, struct plkv_item *it)
{
	unsigned seg = it->lru;
	plkv_off_t p = it->prev, n = it->next;

	if (seg >= LRU_NSEG)
		return;
	if (p)
		PUBLISH(item_at(kv, p)->next, n);
	else
		PUBLISH(L->head[seg], n);
	if (n)
		item_at(kv, n)->prev = p;
	else
		L->tail[seg] = p;
	it->lru = LRU_NONE;
	if (L->count[seg])
		L->count[seg]--;
	L->bytes -= item_size(it) < L->bytes ? item_size(it) : L->bytes;
}

static void l_record(struct plkv_ctx *ctx, unsigned cls, struct plkv_item *it,
		     unsigned seg, unsigned lop)
{
	struct plkv_oprec *op = plkv_ctx_op(ctx);

	rec_set(op, W_L_CLS, cls);
	rec_set(op, W_L_ITEM, item_off(ctx->kv, it));
	rec_set(op, W_L_SEG, seg);
	rec_set(op, W_L_OP, lop);
}

/* Move it to the head of seg (LRU lock held). */
static void lru_move(struct plkv_ctx *ctx, unsigned cls, struct plkv_item *it,
		     unsigned seg)
{
	struct eng_lru *L = &eng(ctx->kv)->lru[cls];

	l_record(ctx, cls, it, seg, L_MOVE);
	l_remove(ctx->kv, L, it);
	PLKV_CRASH_POINT(ctx);
	l_insert(ctx->kv, L, seg, it);
	rec_set(plkv_ctx_op(ctx), W_L_OP, L_NONE);
	if (seg == LRU_COLD)
		L->moves_to_cold++;
	else if (seg == LRU_WARM)
		L->moves_to_warm++;
}

/*
 * Move up to two items off the tail of seg while it holds more than pct
 * of the class's total items (LRU lock held): an active one goes to WARM
 * (losing its mark), an inactive one to COLD.
 */
static void juggle_seg(struct plkv_ctx *ctx, unsigned cls, unsigned seg,
		       uint64_t total, unsigned pct)
{
	struct plkv *kv = ctx->kv;
	struct eng_lru *L = &eng(kv)->lru[cls];
	unsigned i;

	for (i = 0; i < 2 && L->count[seg] > total * pct / 100; i++) {
		struct plkv_item *it = item_at(kv, L->tail[seg]);

		if (!it)
			break;
		if (item_act(it) & ACT_ACTIVE) {
			item_act_clear(it, ACT_ACTIVE);
			lru_move(ctx, cls, it, LRU_WARM);
			if (seg == LRU_WARM)
				L->moves_within_lru++;
		} else {
			lru_move(ctx, cls, it, LRU_COLD);
		}
	}
}

/* Keep HOT and WARM within their shares (LRU lock held). */
static void juggle(struct plkv_ctx *ctx, unsigned cls)
{
	struct eng_lru *L = &eng(ctx->kv)->lru[cls];
	uint64_t total = L->count[0] + L->count[1] + L->count[2];

	juggle_seg(ctx, cls, LRU_HOT, total, ENG_HOT_PCT);
	juggle_seg(ctx, cls, LRU_WARM, total, ENG_WARM_PCT);
}

/* A newly linked item enters HOT (holding its stripe lock). */
void lru_link(struct plkv_ctx *ctx, struct plkv_item *it)
{
	unsigned cls = item_lru_class(it);
	struct eng_lru *L = &eng(ctx->kv)->lru[cls];
	bool mine = eng_lock_if_needed(ctx, lru_lock(cls));

	l_record(ctx, cls, it, LRU_HOT, L_INSERT);
	PLKV_CRASH_POINT(ctx);
	l_insert(ctx->kv, L, LRU_HOT, it);
	L->total_items++;
	rec_set(plkv_ctx_op(ctx), W_L_OP, L_NONE);
	PLKV_CRASH_POINT(ctx);
	juggle(ctx, cls);
	if (mine)
		plkv_unlock(ctx, lru_lock(cls));
}

void lru_unlink_locked(struct plkv_ctx *ctx, unsigned cls,
		       struct plkv_item *it)
{
	l_record(ctx, cls, it, LRU_NONE, L_REMOVE);
	PLKV_CRASH_POINT(ctx);
	l_remove(ctx->kv, &eng(ctx->kv)->lru[cls], it);
	rec_set(plkv_ctx_op(ctx), W_L_OP, L_NONE);
}

void lru_unlink(struct plkv_ctx *ctx, struct plkv_item *it)
{
	unsigned cls = item_lru_class(it);
	bool mine = eng_lock_if_needed(ctx, lru_lock(cls));

	lru_unlink_locked(ctx, cls, it);
	if (mine)
		plkv_unlock(ctx, lru_lock(cls));
}

/* A hit (holding the item's stripe lock). */
void lru_bump(struct plkv_ctx *ctx, struct plkv_item *it)
{
	int64_t now = eng_now(ctx);
	uint8_t a = item_act(it);

	if (!(a & ACT_ACTIVE)) {
		if (!(a & ACT_FETCHED)) {
			item_act_set(it, ACT_FETCHED);
		} else {
			unsigned cls = item_lru_class(it);

			item_act_set(it, ACT_ACTIVE);
			if (it->lru == LRU_COLD &&
			    plkv_trylock(ctx, lru_lock(cls))) {
				if (it->lru == LRU_COLD) {
					item_act_clear(it, ACT_ACTIVE);
					lru_move(ctx, cls, it, LRU_WARM);
				}
				plkv_unlock(ctx, lru_lock(cls));
			}
		}
	}
	if (now - it->time >= ENG_UPDATE_INTERVAL)
		it->time = now;
}

/* Is it usable for eviction right now?  LRU lock held. */
static bool evictable(const struct plkv_item *it)
{
	return (it->it_flags & ITEM_LINKED) &&
	       atomic_load_explicit(&it->refcount, memory_order_relaxed) == 1;
}

/*
 * Free at least one chunk of class cls: reclaim an expired item from an
 * LRU tail, or (may_evict) evict the least recently used.  False if
 * nothing could be freed.
 */
bool lru_evict(struct plkv_ctx *ctx, unsigned cls, bool may_evict)
{
	static const unsigned order[] = { LRU_COLD, LRU_HOT, LRU_WARM };
	struct plkv *kv = ctx->kv;
	struct eng_lru *L = &eng(kv)->lru[cls];
	bool mine = eng_lock_if_needed(ctx, lru_lock(cls));
	unsigned s, tries;
	bool done = false;

	for (s = 0; s < ARRAY_SIZE(order) && !done; s++) {
		struct plkv_item *it = item_at(kv, L->tail[order[s]]);

		for (tries = 0; it && tries < ENG_EVICT_SEARCH && !done;
		     tries++) {
			struct plkv_item *prev = item_at(kv, it->prev);
			unsigned lk = eng_stripe_lock(it->hv);
			bool dead;

			if (!evictable(it) || !plkv_trylock(ctx, lk)) {
				it = prev;
				continue;
			}
			dead = item_expired(ctx, it) || item_flushed(ctx, it);
			if (!evictable(it) || it->lru != order[s]) {
				/* changed while we took the lock */
			} else if (!dead && order[s] == LRU_COLD &&
				   (item_act(it) & ACT_ACTIVE)) {
				item_act_clear(it, ACT_ACTIVE);
				lru_move(ctx, cls, it, LRU_WARM);
			} else if (!dead && order[s] == LRU_COLD &&
				   (it->it_flags & ITEM_REFRESHED)) {
				/* set in place since it came here: the pass
				 * through COLD a new item would have */
				it->it_flags &= (uint16_t)~ITEM_REFRESHED;
				lru_move(ctx, cls, it, LRU_COLD);
			} else if (dead || may_evict) {
				if (dead) {
					L->reclaimed++;
					if (!(item_act(it) & ACT_FETCHED))
						L->expired_unfetched++;
				} else {
					L->evicted++;
					L->evicted_time = (uint64_t)
						(eng_now(ctx) - it->time);
					if (it->exptime)
						L->evicted_nonzero++;
					if (!(item_act(it) & ACT_FETCHED))
						L->evicted_unfetched++;
				}
				item_unlink_evict(ctx, cls, it);
				done = true;
			}
			plkv_unlock(ctx, lk);
			it = prev;
		}
	}
	if (mine)
		plkv_unlock(ctx, lru_lock(cls));
	return done;
}

/*
 * Evict one given chunk's item (the page mover empties a page this way).
 * 0 if the chunk is free now, -EBUSY if it is in use (an op holds it, or
 * its item lock is busy).
 */
int lru_evict_item(struct plkv_ctx *ctx, unsigned cls, struct plkv_item *it)
{
	struct eng_lru *L = &eng(ctx->kv)->lru[cls];
	bool mine = eng_lock_if_needed(ctx, lru_lock(cls));
	int rc = -EBUSY;
	unsigned lk, k;

	/* Pages leave a class only under its LRU lock (release_page), so
	 * holding it, a chunk of the class stays one. */
	if (!slab_valid_chunk(ctx->kv, item_off(ctx->kv, it), &k) || k != cls)
		goto out;
	if (it->it_flags & ITEM_SLABBED) {
		rc = 0;
		goto out;
	}
	if (!evictable(it) || it->lru >= LRU_NSEG)
		goto out;
	lk = eng_stripe_lock(it->hv);
	if (!plkv_trylock(ctx, lk))
		goto out;
	if (evictable(it) && it->lru < LRU_NSEG) {
		if (item_expired(ctx, it) || item_flushed(ctx, it)) {
			L->reclaimed++;
		} else {
			L->evicted++;
			L->evicted_time = (uint64_t)(eng_now(ctx) - it->time);
			if (it->exptime)
				L->evicted_nonzero++;
			if (!(item_act(it) & ACT_FETCHED))
				L->evicted_unfetched++;
		}
		item_unlink_evict(ctx, cls, it);
		rc = 0;
	}
	plkv_unlock(ctx, lk);
out:
	if (mine)
		plkv_unlock(ctx, lru_lock(cls));
	return rc;
}

/*
 * Look at up to budget items of class cls from the crawler's cursor
 * towards the heads, reclaiming expired and flushed ones.  As memcached's
 * maintainer (plkv_maintain()), also move the COLD items that hits made
 * active to WARM; the crawl steps after stores leave them for the COLD
 * tail, which moves them when it comes to evict (lru_evict()): each move
 * writes the LRU lists that every process's stores share, and with hits
 * from every process moving items, stores from two processes ran at a
 * third of one's rate.  Never waits for the LRU lock.  Returns the items
 * examined.
 */
unsigned lru_crawl(struct plkv_ctx *ctx, unsigned cls, unsigned budget,
		   bool maintainer)
{
	struct plkv *kv = ctx->kv;
	struct eng_lru *L = &eng(kv)->lru[cls];
	unsigned n = 0, empty = 0, seg, k;
	struct plkv_item *it;

	if (!(L->count[0] | L->count[1] | L->count[2]))
		return 0;
	if (!plkv_trylock(ctx, lru_lock(cls)))
		return 0;
	seg = L->crawl_seg < LRU_NSEG ? L->crawl_seg : LRU_COLD;
	it = item_at(kv, L->crawl_pos);
	if (it && (!slab_valid_chunk(kv, L->crawl_pos, &k) || k != cls ||
		   it->lru != seg || (it->it_flags & ITEM_SLABBED)))
		it = NULL;
	if (!it)
		it = item_at(kv, L->tail[seg]);
	while (n < budget && empty < LRU_NSEG) {
		struct plkv_item *prev;
		unsigned lk;

		if (!it) {
			seg = (seg + 1) % LRU_NSEG;
			it = item_at(kv, L->tail[seg]);
			empty++;
			continue;
		}
		empty = 0;
		n++;
		prev = item_at(kv, it->prev);
		lk = eng_stripe_lock(it->hv);
		if (maintainer && seg == LRU_COLD &&
		    (item_act(it) & ACT_ACTIVE) &&
		    (it->it_flags & ITEM_LINKED)) {
			/* a hit made it active (ops.c, get_mark()) */
			item_act_clear(it, ACT_ACTIVE);
			lru_move(ctx, cls, it, LRU_WARM);
		} else if (evictable(it) &&
		    (item_expired(ctx, it) || item_flushed(ctx, it)) &&
		    plkv_trylock(ctx, lk)) {
			if (evictable(it) && it->lru == seg) {
				L->reclaimed++;
				if (!(item_act(it) & ACT_FETCHED))
					L->expired_unfetched++;
				item_unlink_evict(ctx, cls, it);
			}
			plkv_unlock(ctx, lk);
		}
		it = prev;
	}
	L->crawl_seg = seg;
	L->crawl_pos = item_off(kv, it);
	plkv_unlock(ctx, lru_lock(cls));
	return n;
}

/* ---- repair ---- */

bool lru_contains(const struct plkv *kv, unsigned cls, plkv_off_t off,
		  unsigned *segp)
{
	const struct eng_lru *L = &eng(kv)->lru[cls];
	uint64_t limit = eng(kv)->npages * eng(kv)->cls[cls].perslab + 1;
	unsigned seg;

	for (seg = 0; seg < LRU_NSEG; seg++) {
		plkv_off_t p = L->head[seg];
		uint64_t n = limit;

		while (p && n--) {
			if (p == off) {
				if (segp)
					*segp = seg;
				return true;
			}
			p = item_at(kv, p)->next;
		}
	}
	return false;
}

/* Rebuild prev, tail, counts and bytes from the forward chains. */
static void rebuild(struct plkv *kv, unsigned cls)
{
	struct eng_lru *L = &eng(kv)->lru[cls];
	uint64_t limit = eng(kv)->npages * eng(kv)->cls[cls].perslab + 1;
	unsigned seg;

	L->bytes = 0;
	for (seg = 0; seg < LRU_NSEG; seg++) {
		plkv_off_t *link = &L->head[seg], prev = 0;
		uint64_t n = 0;
		unsigned k;

		while (*link) {
			struct plkv_item *it;

			if (n >= limit || !slab_valid_chunk(kv, *link, &k) ||
			    k != cls) {
				*link = 0;	/* a broken link ends the list */
				break;
			}
			it = item_at(kv, *link);
			it->prev = prev;
			it->lru = (uint8_t)seg;
			prev = *link;
			n++;
			L->bytes += item_size(it);
			link = &it->next;
		}
		L->tail[seg] = prev;
		L->count[seg] = n;
	}
}

/*
 * The LRU lock of cls was taken over from a dead owner (op record dead,
 * or NULL): rebuild the derived fields, then finish its list change.
 */
void lru_repair(struct plkv_ctx *ctx, unsigned cls, struct plkv_oprec *dead)
{
	struct plkv *kv = ctx->kv;
	struct eng_lru *L = &eng(kv)->lru[cls];

	rebuild(kv, cls);
	if (dead && dead->w[W_L_OP] != L_NONE && dead->w[W_L_CLS] == cls) {
		plkv_off_t off = dead->w[W_L_ITEM];
		struct plkv_item *it = item_at(kv, off);
		unsigned seg;
		bool in = lru_contains(kv, cls, off, &seg);

		if (dead->w[W_L_OP] == L_REMOVE) {
			if (in) {
				it->lru = (uint8_t)seg;
				l_remove(kv, L, it);
			}
		} else if (!in) {
			unsigned to = (unsigned)dead->w[W_L_SEG];

			l_insert(kv, L, to < LRU_NSEG ? to : LRU_COLD, it);
		}
		rec_set(dead, W_L_OP, L_NONE);
	}
	L->crawl_pos = 0;
}

/*
 * Recovery: make sure off is (in) or is not in its class's LRU.  Walks
 * the lists: recovery only.  Takes the LRU lock unless held.
 */
void lru_ensure(struct plkv_ctx *ctx, plkv_off_t off, bool in)
{
	struct plkv *kv = ctx->kv;
	struct plkv_item *it = item_at(kv, off);
	unsigned cls = item_lru_class(it), seg;
	bool mine = eng_lock_if_needed(ctx, lru_lock(cls));
	bool present = lru_contains(kv, cls, off, &seg);

	if (in && !present) {
		l_record(ctx, cls, it, LRU_HOT, L_INSERT);
		l_insert(kv, &eng(kv)->lru[cls], LRU_HOT, it);
		rec_set(plkv_ctx_op(ctx), W_L_OP, L_NONE);
	} else if (!in && present) {
		it->lru = (uint8_t)seg;
		lru_unlink_locked(ctx, cls, it);
	}
	if (mine)
		plkv_unlock(ctx, lru_lock(cls));
}
