/* SPDX-License-Identifier: MIT */
/*
 * The slab allocator: 1 MiB pages carved into the chunks of one size
 * class, a free list per class.
 *
 * Why it looks like this: memcached's allocator, with the free lists made
 * crash-safe.  A free list is singly linked through item->next and changes
 * by one store of the class's free_head (a pop of n chunks unhooks them all
 * with that one store, a push links the chunks first and publishes last),
 * so a walk from free_head is always a valid list.  Everything else in
 * the class (free_count, total_pages, mem_requested) is derived and is
 * recounted by slab_repair().
 *
 * Every sub-operation records itself in the thread's op record (W_S_*)
 * while it holds the class's slab lock, naming the op-record word (W_S_DEST,
 * "slot << 8 | word") that says who owns the chunks.  The repair after a
 * death completes or undoes it and fixes that word, so that "w[dest] != 0"
 * always means "these chunks are off the free list and owned by that op".
 *
 * Pages are never returned (no rebalancing): pages_next only grows, under
 * the PAGES lock, after page_owner[] names the new page's class.
 */
#include "engine.h"

static inline unsigned slab_lock(unsigned cls)
{
	return ENG_LOCK_SLAB0 + cls;
}

unsigned slab_clsid(const struct plkv_engine *e, size_t ntotal)
{
	unsigned lo = 1, hi = e->nclasses;

	if (ntotal > e->cls[hi].size)
		return 0;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (e->cls[mid].size >= ntotal)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static plkv_off_t page_base(const struct plkv *kv, uint64_t page)
{
	return eng(kv)->arena_off + page * (uint64_t)ENG_PAGE_SIZE;
}

bool slab_valid_chunk(const struct plkv *kv, plkv_off_t off, unsigned *clsp)
{
	const struct plkv_engine *e = eng(kv);
	uint64_t rel, page, in;
	unsigned cls;

	if (off < e->arena_off)
		return false;
	rel = off - e->arena_off;
	page = rel / ENG_PAGE_SIZE;
	if (page >= e->pages_next || page >= e->npages)
		return false;
	cls = eng_page_owner(kv)[page];
	if (cls == 0 || cls > e->nclasses)
		return false;
	in = rel % ENG_PAGE_SIZE;
	if (in % e->cls[cls].size || in / e->cls[cls].size >= e->cls[cls].perslab)
		return false;
	if (clsp)
		*clsp = cls;
	return true;
}

/* Bytes a chunk stands for in mem_requested. */
static uint64_t chunk_req(const struct plkv *kv, const struct plkv_item *it)
{
	const struct plkv_engine *e = eng(kv);

	if (it->it_flags & (ITEM_CHUNK | ITEM_CHUNKED))
		return e->cls[it->slab_class].size;
	return item_ntotal(it->nkey, it->nbytes);
}

static uint64_t *dest_word(const struct plkv *kv, uint64_t dest)
{
	return &eng_slot_op(kv, (uint32_t)(dest >> 8))->w[dest & 0xff];
}

static void dest_clear(const struct plkv *kv, uint64_t dest)
{
	__atomic_store_n(dest_word(kv, dest), 0, __ATOMIC_RELEASE);
	barrier();
}

/* Carve page into class cls's free list (slab lock held, page private). */
static void carve_page(struct plkv_ctx *ctx, unsigned cls, uint64_t page)
{
	struct plkv *kv = ctx->kv;
	struct eng_class *c = &eng(kv)->cls[cls];
	plkv_off_t base = page_base(kv, page);
	uint32_t i;

	for (i = 0; i < c->perslab; i++) {
		struct plkv_item *it = I(kv, base + (uint64_t)i * c->size);

		memset(it, 0, sizeof(*it));
		it->it_flags = ITEM_SLABBED;
		it->slab_class = (uint8_t)cls;
		it->lru = LRU_NONE;
		it->next = i + 1 < c->perslab ? base + (uint64_t)(i + 1) * c->size
					      : c->free_head;
	}
	PUBLISH(c->free_head, base);
	PLKV_CRASH_POINT(ctx);
	c->free_count += c->perslab;
	c->total_pages++;
}

/* Give class cls a new page from the pool (slab lock held). */
static bool grab_page(struct plkv_ctx *ctx, unsigned cls)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct plkv_oprec *op = ctx->op;
	uint64_t page;

	plkv_lock(ctx, ENG_LOCK_PAGES);
	page = e->pages_next;
	if (page >= e->npages) {
		plkv_unlock(ctx, ENG_LOCK_PAGES);
		return false;
	}
	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_PAGE, page);
	rec_set(op, W_S_OP, S_CARVE);
	eng_page_owner(kv)[page] = (uint8_t)cls;
	barrier();
	PUBLISH(e->pages_next, page + 1);
	plkv_unlock(ctx, ENG_LOCK_PAGES);
	PLKV_CRASH_POINT(ctx);
	carve_page(ctx, cls, page);
	rec_set(op, W_S_OP, S_NONE);
	return true;
}

/* Pop n chunks (slab lock held, free_count >= n) into op word dest. */
static void pop_chunks(struct plkv_ctx *ctx, unsigned cls, uint64_t n,
		       unsigned dest, uint64_t req)
{
	struct plkv *kv = ctx->kv;
	struct eng_class *c = &eng(kv)->cls[cls];
	struct plkv_oprec *op = ctx->op;
	plkv_off_t head = c->free_head;
	struct plkv_item *last = I(kv, head), *it;
	uint64_t i;

	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_ITEM, head);
	rec_set(op, W_S_N, n);
	rec_set(op, W_S_DEST, eng_dest(ctx->slot, dest));
	rec_set(op, W_S_OP, S_POP);
	rec_set(op, dest, head);
	for (i = 1; i < n; i++)
		last = I(kv, last->next);
	PUBLISH(c->free_head, last->next);
	PLKV_CRASH_POINT(ctx);
	c->free_count -= n;
	c->mem_requested += req;
	last->next = 0;
	for (it = I(kv, head), i = 0; i < n; i++, it = I(kv, it->next)) {
		it->it_flags = 0;
		it->lru = LRU_NONE;
		it->nkey = 0;
		it->nbytes = 0;
		atomic_store_explicit(&it->refcount, 0, memory_order_relaxed);
		if (i + 1 == n)
			break;
	}
	rec_set(op, W_S_OP, S_NONE);
}

/*
 * Allocate n chunks of class cls, chained through ->next, into op word
 * dest.  May carve a new page or evict from the class's LRU (which takes
 * the LRU lock and tries item locks): never called holding a slab lock.
 */
int slab_alloc(struct plkv_ctx *ctx, unsigned cls, uint64_t n, unsigned dest,
	       uint64_t req, bool may_evict)
{
	struct plkv *kv = ctx->kv;
	struct eng_class *c = &eng(kv)->cls[cls];
	unsigned fails = 0;

	for (;;) {
		plkv_lock(ctx, slab_lock(cls));
		while (c->free_count < n && grab_page(ctx, cls))
			;
		if (c->free_count >= n) {
			pop_chunks(ctx, cls, n, dest, req);
			plkv_unlock(ctx, slab_lock(cls));
			return 0;
		}
		plkv_unlock(ctx, slab_lock(cls));
		if (!lru_evict(ctx, cls, may_evict) || ++fails > n + 64) {
			bool mine = eng_lock_if_needed(ctx,
						       ENG_LOCK_LRU0 + cls);

			eng(kv)->lru[cls].outofmemory++;
			if (mine)
				plkv_unlock(ctx, ENG_LOCK_LRU0 + cls);
			return PLKV_ENOMEM;
		}
	}
}

/* Link a list of n chunks for pushing; returns its last chunk. */
static struct plkv_item *push_link(const struct plkv *kv, plkv_off_t first,
				   uint64_t n)
{
	struct plkv_item *it = I(kv, first);
	uint64_t i;

	if (n > 1 && (it->it_flags & ITEM_CHUNKED))
		it->next = item_chain(kv, it);
	for (i = 0;; i++) {
		it->it_flags = ITEM_SLABBED;
		it->lru = LRU_NONE;
		atomic_store_explicit(&it->refcount, 0, memory_order_relaxed);
		if (i + 1 >= n)
			return it;
		it = I(kv, it->next);
	}
}

/*
 * Free a list of n chunks of one class starting at first (an item: its
 * continuation chunks follow it).  dest names the owner's op-record word
 * that holds first: it is cleared when the chunks are on the free list,
 * and a free whose dest is already clear (done by a repair) does nothing,
 * so recovery can call this again safely.  Takes the class's slab lock.
 */
void slab_free(struct plkv_ctx *ctx, plkv_off_t first, uint64_t n,
	       uint64_t dest)
{
	struct plkv *kv = ctx->kv;
	struct plkv_item *it = I(kv, first), *last, *p;
	unsigned cls = it->slab_class;
	struct eng_class *c = &eng(kv)->cls[cls];
	struct plkv_oprec *op = ctx->op;
	uint64_t req = 0, i;

	plkv_lock(ctx, slab_lock(cls));
	if (__atomic_load_n(dest_word(kv, dest), __ATOMIC_ACQUIRE) != first) {
		plkv_unlock(ctx, slab_lock(cls));
		return;
	}
	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_ITEM, first);
	rec_set(op, W_S_N, n);
	rec_set(op, W_S_DEST, dest);
	rec_set(op, W_S_OP, S_PUSH);
	for (p = it, i = 0; i < n; i++) {
		req += chunk_req(kv, p);
		if (i + 1 < n)
			p = I(kv, i == 0 && n > 1 && (p->it_flags & ITEM_CHUNKED)
				  ? item_chain(kv, p) : p->next);
	}
	PLKV_CRASH_POINT(ctx);
	last = push_link(kv, first, n);
	last->next = c->free_head;
	PUBLISH(c->free_head, first);
	PLKV_CRASH_POINT(ctx);
	c->free_count += n;
	c->mem_requested -= req < c->mem_requested ? req : c->mem_requested;
	dest_clear(kv, dest);
	rec_set(op, W_S_OP, S_NONE);
	plkv_unlock(ctx, slab_lock(cls));
}

/* ---- repair ---- */

static bool on_free_list(const struct plkv *kv, unsigned cls, plkv_off_t off)
{
	const struct eng_class *c = &eng(kv)->cls[cls];
	uint64_t limit = c->total_pages * c->perslab + c->perslab + 1;
	plkv_off_t p = c->free_head;

	while (p && limit--) {
		if (p == off)
			return true;
		p = I(kv, p)->next;
	}
	return false;
}

static void recount(struct plkv_ctx *ctx, unsigned cls)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct eng_class *c = &e->cls[cls];
	const uint8_t *owner = eng_page_owner(kv);
	uint64_t pages = 0, nfree = 0, req = 0, limit, p;
	plkv_off_t *link = &c->free_head;

	for (p = 0; p < e->pages_next && p < e->npages; p++) {
		uint32_t i;

		if (owner[p] != cls)
			continue;
		pages++;
		for (i = 0; i < c->perslab; i++) {
			struct plkv_item *it = I(kv, page_base(kv, p) +
						 (uint64_t)i * c->size);

			if (!(it->it_flags & ITEM_SLABBED))
				req += chunk_req(kv, it);
		}
	}
	c->total_pages = pages;
	/* Walk the free list; a link that leaves the class ends it. */
	limit = pages * c->perslab;
	while (*link) {
		unsigned k;

		if (nfree >= limit || !slab_valid_chunk(kv, *link, &k) ||
		    k != cls) {
			*link = 0;
			break;
		}
		nfree++;
		link = &I(kv, *link)->next;
	}
	c->free_count = nfree;
	c->mem_requested = req;
}

/*
 * The slab lock of cls was taken over from a dead owner whose op record is
 * dead (it may be NULL: just recount).  Finish or undo its sub-operation.
 */
void slab_repair(struct plkv_ctx *ctx, unsigned cls, struct plkv_oprec *dead)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct eng_class *c = &e->cls[cls];
	uint64_t sop = dead ? dead->w[W_S_OP] : S_NONE;

	if (sop != S_NONE && dead->w[W_S_CLS] == cls) {
		plkv_off_t first = dead->w[W_S_ITEM];
		uint64_t n = dead->w[W_S_N], i;
		uint64_t page = dead->w[W_S_PAGE];
		struct plkv_item *it;

		switch (sop) {
		case S_POP:
			if (on_free_list(kv, cls, first)) {
				dest_clear(kv, dead->w[W_S_DEST]);
				break;
			}
			/* Popped: the chunks belong to the dead op. */
			for (it = I(kv, first), i = 0; i < n; i++) {
				it->it_flags = 0;
				it->lru = LRU_NONE;
				if (i + 1 == n) {
					it->next = 0;
					break;
				}
				it = I(kv, it->next);
			}
			break;
		case S_PUSH:
			if (!on_free_list(kv, cls, first)) {
				struct plkv_item *last = push_link(kv, first, n);

				last->next = c->free_head;
				PUBLISH(c->free_head, first);
			}
			dest_clear(kv, dead->w[W_S_DEST]);
			break;
		case S_CARVE:
			if (page < e->pages_next &&
			    eng_page_owner(kv)[page] == cls &&
			    !on_free_list(kv, cls, page_base(kv, page)))
				carve_page(ctx, cls, page);
			break;
		}
		rec_set(dead, W_S_OP, S_NONE);
	}
	recount(ctx, cls);
}
