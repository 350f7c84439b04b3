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
 * Pages are carved from the arena in order (pages_next only grows, under
 * the PAGES lock, after page_owner[] names the new page's class) and move
 * between classes through a pool: slab_steal() empties a page of the
 * class with the most pages and release_page() puts it on the pool, from
 * which grab_page() gives it to the class that needs one.
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
	const struct eng_class *k;
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
	k = &e->cls[cls];
	if (in % k->size || in / k->size >= k->perslab)
		return false;
	/* a chunk still to carve is no chunk yet (its header is garbage) */
	if (__atomic_load_n(&k->bump_page, __ATOMIC_ACQUIRE) == page + 1 &&
	    in / k->size >= __atomic_load_n(&k->bump_carved, __ATOMIC_RELAXED))
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

/* Whether page p of class c still has chunks to carve: such a page's
 * headers past bump_carved are meaningless (a fresh page's zeros, or the
 * bytes of another class's items), so no walker may read them. */
static bool bump_holds(const struct eng_class *c, uint64_t p)
{
	return __atomic_load_n(&c->bump_page, __ATOMIC_ACQUIRE) == p + 1 &&
	       __atomic_load_n(&c->bump_carved, __ATOMIC_RELAXED) < c->perslab;
}

/* The chunks of page p of class c a walker may read: all, or on the bump
 * page those carved.  Without the slab lock only a floor: carving goes
 * on, and what it adds is free until popped under that lock. */
static uint32_t page_carved(const struct eng_class *c, uint64_t p)
{
	return bump_holds(c, p) ?
	       (uint32_t)__atomic_load_n(&c->bump_carved, __ATOMIC_RELAXED) :
	       c->perslab;
}

/*
 * Carve the next k chunks of cls's bump page onto its free list (slab
 * lock held, k <= eng_bump_left()).  The free list's head is the commit
 * point and bump_carved follows it; recorded as S_BUMP so slab_repair()
 * can tell the two apart.  free_count does not change: it counts the
 * chunks still to carve.
 */
static void carve_some(struct plkv_ctx *ctx, unsigned cls, uint64_t k)
{
	struct plkv *kv = ctx->kv;
	struct eng_class *c = &eng(kv)->cls[cls];
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	uint64_t page = c->bump_page - 1, from = c->bump_carved, i;
	plkv_off_t first = page_base(kv, page) + from * c->size;

	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_PAGE, page);
	rec_set(op, W_S_ITEM, first);
	rec_set(op, W_S_N, from + k);
	rec_set(op, W_S_OP, S_BUMP);
	for (i = 0; i < k; i++) {
		struct plkv_item *it = item_at(kv, first + i * c->size);

		plkv_zero(it, sizeof(*it));
		it->it_flags = ITEM_SLABBED;
		it->slab_class = (uint8_t)cls;
		it->lru = LRU_NONE;
		it->next = i + 1 < k ? first + (i + 1) * c->size : c->free_head;
	}
	PUBLISH(c->free_head, first);
	PLKV_CRASH_POINT(ctx);
	__atomic_store_n(&c->bump_carved, from + k, __ATOMIC_RELEASE);
	rec_set(op, W_S_OP, S_NONE);
}

/* Chunks carved at a time: a small page's worth, at least one. */
static uint64_t carve_batch(const struct eng_class *c)
{
	return c->size < 4096 ? 4096 / c->size : 1;
}

/*
 * Enough of the bump page on the free list for a pop of n (slab lock
 * held, free_count >= n): at least a small page's worth, so that each
 * carve touches memory once, not a chunk at a time.
 */
static void carve_for(struct plkv_ctx *ctx, unsigned cls, uint64_t n)
{
	struct eng_class *c = &eng(ctx->kv)->cls[cls];
	uint64_t left = eng_bump_left(c), listed = c->free_count - left, k;

	if (listed >= n)
		return;
	k = n - listed;
	if (k < carve_batch(c))
		k = carve_batch(c);
	carve_some(ctx, cls, k < left ? k : left);
}

/* Make page the class's bump page (slab lock held, the old one wholly
 * carved): before page_owner[] names the class, so that whoever sees the
 * page owned also sees it is still to carve (bump_holds()). */
static void bump_set(struct eng_class *c, uint64_t page)
{
	__atomic_store_n(&c->bump_carved, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&c->bump_page, page + 1, __ATOMIC_RELEASE);
	barrier();
}

/* The released-page pool: a stack linked through chunk 0's h_next. */
static uint64_t *pool_link(const struct plkv *kv, uint64_t page)
{
	return &item_at(kv, page_base(kv, page))->h_next;
}

bool slab_page_in_pool(const struct plkv *kv, uint64_t page)
{
	const struct plkv_engine *e = eng(kv);
	uint64_t p = e->page_free_head, n = e->npages + 1;

	while (p && p <= e->npages && n--) {
		if (p - 1 == page)
			return true;
		p = *pool_link(kv, p - 1);
	}
	return false;
}

/* Pages a class may still get: never used, or released. */
uint64_t slab_free_pages(const struct plkv *kv)
{
	const struct plkv_engine *e = eng(kv);
	uint64_t p = e->page_free_head, n = 0;

	while (p && p <= e->npages && n <= e->npages) {
		n++;
		p = *pool_link(kv, p - 1);
	}
	return e->npages - e->pages_next + n;
}

/*
 * Give class cls a page (slab lock held): a released one, else a new one.
 * page_owner[] is set before the page leaves the pool, so a page below
 * pages_next is always either owned or in the pool.  The page is not
 * carved here but as it is used (carve_for()): carving touches all of
 * it, which was milliseconds of faults under the lock.
 */
static bool grab_page(struct plkv_ctx *ctx, unsigned cls)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct eng_class *c = &e->cls[cls];
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	uint64_t page;

	if (eng_bump_left(c))
		carve_some(ctx, cls, eng_bump_left(c));
	plkv_lock(ctx, ENG_LOCK_PAGES);
	if (e->page_free_head) {
		page = e->page_free_head - 1;
	} else if (e->pages_next < e->npages) {
		page = e->pages_next;
	} else {
		plkv_unlock(ctx, ENG_LOCK_PAGES);
		return false;
	}
	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_PAGE, page);
	rec_set(op, W_S_OP, S_CARVE);
	bump_set(c, page);
	eng_page_owner(kv)[page] = (uint8_t)cls;
	barrier();
	if (e->page_free_head)
		PUBLISH(e->page_free_head, *pool_link(kv, page));
	else
		PUBLISH(e->pages_next, page + 1);
	plkv_unlock(ctx, ENG_LOCK_PAGES);
	PLKV_CRASH_POINT(ctx);
	c->free_count += c->perslab;
	c->total_pages++;
	rec_set(op, W_S_OP, S_NONE);
	return true;
}

/* Pop n chunks (slab lock held, free_count >= n) into op word dest. */
static void pop_chunks(struct plkv_ctx *ctx, unsigned cls, uint64_t n,
		       unsigned dest, uint64_t req)
{
	struct plkv *kv = ctx->kv;
	struct eng_class *c = &eng(kv)->cls[cls];
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	plkv_off_t head = c->free_head;
	struct plkv_item *last = item_at(kv, head), *it;
	uint64_t i;

	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_ITEM, head);
	rec_set(op, W_S_N, n);
	rec_set(op, W_S_DEST, eng_dest(ctx->slot, dest));
	rec_set(op, W_S_OP, S_POP);
	rec_set(op, dest, head);
	for (i = 1; i < n; i++)
		last = item_at(kv, last->next);
	PUBLISH(c->free_head, last->next);
	PLKV_CRASH_POINT(ctx);
	c->free_count -= n;
	c->mem_requested += req;
	last->next = 0;
	for (it = item_at(kv, head), i = 0; i < n; i++, it = item_at(kv, it->next)) {
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

/* Unhook every chunk of page from cls's free list (one store each). */
static void unhook_page(const struct plkv *kv, unsigned cls, uint64_t page)
{
	struct eng_class *c = &eng(kv)->cls[cls];
	plkv_off_t lo = page_base(kv, page), hi = lo + ENG_PAGE_SIZE;
	plkv_off_t *link = &c->free_head;
	uint64_t limit = c->total_pages * c->perslab + 1;

	while (*link && limit--) {
		plkv_off_t p = *link;

		if (p >= lo && p < hi)
			PUBLISH(*link, item_at(kv, p)->next);
		else
			link = &item_at(kv, p)->next;
	}
}

/* Put an unhooked page on the pool (PAGES lock held). */
static void pool_push(struct plkv *kv, uint64_t page)
{
	struct plkv_engine *e = eng(kv);

	if (slab_page_in_pool(kv, page))
		return;
	*pool_link(kv, page) = e->page_free_head;
	PUBLISH(e->page_free_head, page + 1);
}

/*
 * Give a wholly free page of class cls back to the pool (LRU and slab
 * locks of the class held).
 * Recorded as S_RELEASE: slab_repair() finishes it from any point.
 */
static bool release_page(struct plkv_ctx *ctx, unsigned cls, uint64_t page)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	struct eng_class *c = &e->cls[cls];
	struct plkv_oprec *op = plkv_ctx_op(ctx);
	uint32_t carved = page_carved(c, page), i;

	if (eng_page_owner(kv)[page] != cls)
		return false;
	for (i = 0; i < carved; i++)
		if (!(item_at(kv, page_base(kv, page) + (uint64_t)i * c->size)->it_flags &
		      ITEM_SLABBED))
			return false;
	rec_set(op, W_S_CLS, cls);
	rec_set(op, W_S_PAGE, page);
	rec_set(op, W_S_OP, S_RELEASE);
	if (c->bump_page == page + 1)	/* the rest is never carved */
		__atomic_store_n(&c->bump_page, 0, __ATOMIC_RELEASE);
	unhook_page(kv, cls, page);
	PLKV_CRASH_POINT(ctx);
	plkv_lock(ctx, ENG_LOCK_PAGES);
	pool_push(kv, page);
	PLKV_CRASH_POINT(ctx);
	eng_page_owner(kv)[page] = 0;
	e->slabs_moved++;
	plkv_unlock(ctx, ENG_LOCK_PAGES);
	c->free_count -= c->perslab;
	c->total_pages--;
	rec_set(op, W_S_OP, S_NONE);
	return true;
}

/* Of up to 8 pages of class v from the mover's cursor, the one with the
 * most free chunks (*nfree of them); false if v has none.  @whole: only
 * a page without continuation chunks, which eviction can empty (a chunk
 * goes with its item, whose head is elsewhere). */
static bool pick_page(struct plkv_ctx *ctx, unsigned v, uint64_t *page,
		      uint64_t *nfree, bool whole)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	const uint8_t *owner = eng_page_owner(kv);
	struct eng_class *c = &e->cls[v];
	uint64_t start, i, p;
	uint32_t carved;
	unsigned looked = 0;
	bool found = false;

	start = __atomic_fetch_add(&e->steal_cursor, 1, __ATOMIC_RELAXED);
	for (i = 0; i < e->pages_next && looked < 8; i++) {
		uint64_t n = 0;
		uint32_t j;

		p = (start + i) % e->pages_next;
		if (owner[p] != v)
			continue;
		looked++;
		carved = page_carved(c, p);
		for (j = 0; j < carved; j++) {
			uint8_t f = item_at(kv, page_base(kv, p) +
					    (uint64_t)j * c->size)->it_flags;

			if (whole && (f & (ITEM_CHUNK | ITEM_SLABBED)) ==
				     ITEM_CHUNK)
				break;
			n += !!(f & ITEM_SLABBED);
		}
		if (j < carved)
			continue;	/* holds a continuation chunk */
		n += c->perslab - carved;
		if (!found || n > *nfree) {
			found = true;
			*page = p;
			*nfree = n;
		}
	}
	return found;
}

/* A page of class v whose chunks are all free, if any (a full scan:
 * used for the largest class, whose pages hold a chunk or two each). */
static bool find_free_page(struct plkv_ctx *ctx, unsigned v, uint64_t *page)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	const uint8_t *owner = eng_page_owner(kv);
	const struct eng_class *c = &e->cls[v];
	uint64_t p;
	uint32_t j, carved;

	for (p = 0; p < e->pages_next; p++) {
		if (owner[p] != v)
			continue;
		carved = page_carved(c, p);
		for (j = 0; j < carved; j++)
			if (!(item_at(kv, page_base(kv, p) + (uint64_t)j *
				      c->size)->it_flags & ITEM_SLABBED))
				break;
		if (j == carved) {
			*page = p;
			return true;
		}
	}
	return false;
}

/*
 * A page of the largest class for the mover: one without continuation
 * chunks (its items can be evicted in place), else evict from the
 * class's LRU tail, oldest first, until a page is wholly free (a chunk's
 * item has its head elsewhere, so a page holding one is emptied through
 * the LRU, not in place).
 */
static bool big_page(struct plkv_ctx *ctx, unsigned big, bool may_evict,
		     uint64_t *page, uint64_t *nfree)
{
	const struct eng_class *c = &eng(ctx->kv)->cls[big];
	unsigned tries;

	if (pick_page(ctx, big, page, nfree, true))
		return true;
	if (!may_evict)
		return false;
	for (tries = 0; tries < 4 * c->perslab + 4; tries++) {
		if (find_free_page(ctx, big, page)) {
			*nfree = c->perslab;
			return true;
		}
		if (!lru_evict(ctx, big, may_evict))
			break;
	}
	return false;
}

/*
 * The page mover (memcached's slab_reassign, on demand): class cls is
 * starved (no free chunk, no free page, nothing of its own to evict).
 * A wholly free page of another class first: moving it evicts nothing.
 * Else take the class with the most pages, pick the page of it with the
 * fewest items among a few, evict them, and release the page to the
 * pool.  The largest class is emptied through its LRU (big_page()):
 * on a store of large values it is the one with the pages, and passing
 * it over took the one page of a small class, evicting its live items
 * however recently used.  False if no page could be freed now.
 */
static bool slab_steal(struct plkv_ctx *ctx, unsigned cls, bool may_evict)
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	const uint8_t *owner = eng_page_owner(kv);
	unsigned v = 0, k;
	uint64_t best = 0, best_free = 0, i;
	struct eng_class *c;
	uint32_t carved;
	bool ok;

	/* the class with the most of its chunks free, if a page's worth;
	 * one class looked at, as below: a starved store must not read
	 * every page's headers */
	for (k = 1; k <= e->nclasses; k++) {
		const struct eng_class *x = &e->cls[k], *y = &e->cls[v];

		if (k != cls && x->total_pages && x->free_count >= x->perslab &&
		    (!v || x->free_count * y->total_pages * y->perslab >
			   y->free_count * x->total_pages * x->perslab))
			v = k;
	}
	if (v && !(pick_page(ctx, v, &best, &best_free, false) &&
		   best_free == e->cls[v].perslab))
		v = 0;
	if (!v) {
		unsigned big = e->nclasses;

		for (k = 1; k < big; k++)
			if (k != cls && e->cls[k].total_pages &&
			    (!v || e->cls[k].total_pages >
				   e->cls[v].total_pages))
				v = k;
		if (cls != big && e->cls[big].total_pages &&
		    (!v || e->cls[big].total_pages > e->cls[v].total_pages) &&
		    big_page(ctx, big, may_evict, &best, &best_free))
			v = big;
		else if (!v || !pick_page(ctx, v, &best, &best_free, false))
			return false;
	}
	c = &e->cls[v];
	if (!may_evict && best_free < c->perslab)
		return false;
	carved = page_carved(c, best);
	for (i = 0; i < carved; i++) {
		struct plkv_item *it = item_at(kv, page_base(kv, best) + i * c->size);

		if (owner[best] != v || lru_evict_item(ctx, v, it))
			return false;
	}
	/* LRU lock too: a page leaves its class only under both, so an
	 * LRU walker holding its class's lock can trust page_owner[]. */
	plkv_lock(ctx, ENG_LOCK_LRU0 + v);
	plkv_lock(ctx, slab_lock(v));
	ok = release_page(ctx, v, best);
	plkv_unlock(ctx, slab_lock(v));
	plkv_unlock(ctx, ENG_LOCK_LRU0 + v);
	return ok;
}

/*
 * The page grab_page() will give class c, mapped in and touched before
 * the slab lock is taken, when the class is about to need one.  Where a
 * first touch costs a fault (the user backend, 11 us a small page on this
 * project's VMs) or the hypervisor's backing of the memory (3-40 us a
 * small page there even once mapped), those costs leave the lock and the
 * sets that take the page's chunks: one populate call maps the page, and
 * a read of each small page pays the rest (a read maps a shared page
 * writable).  Read racily: another thread may take that page first, and
 * then this one pays its first touches as it carves.
 */
static void map_ahead(struct plkv_ctx *ctx, const struct eng_class *c,
		      uint64_t n)
{
	const struct plkv_engine *e = eng(ctx->kv);
	uint64_t pool, page, off;
	plkv_off_t base;

	if (__atomic_load_n(&c->free_count, __ATOMIC_RELAXED) >= n)
		return;
	pool = __atomic_load_n(&e->page_free_head, __ATOMIC_RELAXED);
	page = pool ? pool - 1 :
	       __atomic_load_n(&e->pages_next, __ATOMIC_RELAXED);
	if (page >= e->npages)
		return;
	base = page_base(ctx->kv, page);
	plkv_prefault(ctx, base, ENG_PAGE_SIZE);
	for (off = 0; off < ENG_PAGE_SIZE; off += 4096)
		(void)*(volatile const uint8_t *)item_at(ctx->kv, base + off);
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
	unsigned fails = 0, misses = 0;

	map_ahead(ctx, c, n);
	for (;;) {
		plkv_lock(ctx, slab_lock(cls));
		while (c->free_count < n && grab_page(ctx, cls))
			;
		if (c->free_count >= n) {
			carve_for(ctx, cls, n);
			pop_chunks(ctx, cls, n, dest, req);
			plkv_unlock(ctx, slab_lock(cls));
			return 0;
		}
		plkv_unlock(ctx, slab_lock(cls));
		/* Nothing freed: the tail items or the victim page were busy
		 * (other threads), or there is nothing at all; try again a
		 * few times before saying so. */
		if (!lru_evict(ctx, cls, may_evict) &&
		    !slab_steal(ctx, cls, may_evict) && ++misses <= 4) {
			plkv_sys3(SYS_sched_yield, 0, 0, 0);	/* granted: sys.h */
			continue;
		}
		if (misses > 4 || ++fails > n + 64) {
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
	struct plkv_item *it = item_at(kv, first);
	uint64_t i;

	if (n > 1 && (it->it_flags & ITEM_CHUNKED))
		it->next = item_chain(kv, it);
	for (i = 0;; i++) {
		it->it_flags = ITEM_SLABBED;
		it->lru = LRU_NONE;
		atomic_store_explicit(&it->refcount, 0, memory_order_relaxed);
		if (i + 1 >= n)
			return it;
		it = item_at(kv, it->next);
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
	struct plkv_item *it = item_at(kv, first), *last, *p;
	unsigned cls = it->slab_class;
	struct eng_class *c = &eng(kv)->cls[cls];
	struct plkv_oprec *op = plkv_ctx_op(ctx);
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
			p = item_at(kv, i == 0 && n > 1 && (p->it_flags & ITEM_CHUNKED)
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
		p = item_at(kv, p)->next;
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
	uint32_t carved;
	plkv_off_t *link = &c->free_head;

	for (p = 0; p < e->pages_next && p < e->npages; p++) {
		uint32_t i;

		if (owner[p] != cls)
			continue;
		pages++;
		for (i = 0, carved = page_carved(c, p); i < carved; i++) {
			struct plkv_item *it = item_at(kv, page_base(kv, p) +
						 (uint64_t)i * c->size);

			if (!(it->it_flags & ITEM_SLABBED))
				req += chunk_req(kv, it);
		}
	}
	c->total_pages = pages;
	/* A bump page the class no longer owns has nothing to carve. */
	if (c->bump_page && (c->bump_page > e->pages_next ||
			     owner[c->bump_page - 1] != cls))
		c->bump_page = 0;
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
		link = &item_at(kv, *link)->next;
	}
	c->free_count = nfree + eng_bump_left(c);
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
			for (it = item_at(kv, first), i = 0; i < n; i++) {
				it->it_flags = 0;
				it->lru = LRU_NONE;
				if (i + 1 == n) {
					it->next = 0;
					break;
				}
				it = item_at(kv, it->next);
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
			/* taken from the pool or pages_next, or not */
			plkv_lock(ctx, ENG_LOCK_PAGES);
			if (slab_page_in_pool(kv, page))
				eng_page_owner(kv)[page] = 0;
			plkv_unlock(ctx, ENG_LOCK_PAGES);
			if (page < e->pages_next &&
			    eng_page_owner(kv)[page] == cls) {
				if (c->bump_page != page + 1)
					bump_set(c, page);
			} else if (c->bump_page == page + 1) {
				c->bump_page = 0;
			}
			break;
		case S_BUMP:
			/* the list's head is the commit point */
			if (c->bump_page == page + 1 && c->bump_carved < n &&
			    c->free_head == first)
				c->bump_carved = n;
			break;
		case S_RELEASE:
			if (page >= e->pages_next ||
			    eng_page_owner(kv)[page] != cls)
				break;
			if (c->bump_page == page + 1)
				c->bump_page = 0;
			unhook_page(kv, cls, page);
			plkv_lock(ctx, ENG_LOCK_PAGES);
			pool_push(kv, page);
			eng_page_owner(kv)[page] = 0;
			plkv_unlock(ctx, ENG_LOCK_PAGES);
			break;
		}
		rec_set(dead, W_S_OP, S_NONE);
	}
	recount(ctx, cls);
}
