/* SPDX-License-Identifier: MIT */
/*
 * plkv_check(): verify every invariant of the store, and plkv_dump().
 *
 * The check takes every engine lock in the documented order (EXPAND, the
 * stripes, the LRU locks, the slab locks, PAGES, GLOBAL), so it sees a
 * quiescent store while other processes keep calling (they wait), and
 * any lock a dead thread held is repaired on the way.  Then:
 *
 *  1. the hash state is coherent (power within [init, max], the migration
 *     cursor inside the old table);
 *  2. every hash chain is acyclic and holds valid item chunks, LINKED, not
 *     free, whose key hashes to their stored hv, which maps to the bucket
 *     they are in (respecting the migration cursor), each once, no key
 *     twice, with refcount 1, and whose continuation chunks are valid;
 *  3. every LRU list holds exactly the linked items of its class: forward
 *     chain acyclic, prev links, tail, count and bytes consistent;
 *  4. every free list holds free chunks of its class, free_count right,
 *     and per class free + linked + owned-by-a-live-op == total chunks;
 *     pages assigned add up to pages_next <= npages;
 *  5. no op record of a dead thread is left unrecovered.
 * The first violation is reported with what and where.
 */
#include <errno.h>
#include <stdarg.h>

#include "engine.h"
#include "key.h"

struct chk {
	struct plkv_ctx *ctx;
	struct plkv *kv;
	struct plkv_engine *e;
	uint8_t *mark;			/* per 8-byte granule of the arena */
	uint64_t linked;
	uint64_t used[ENG_MAX_CLASSES + 1];	/* chunks in use per class */
	char *msg;
	size_t cap;
};

enum { M_HASH = 1, M_LRU = 2, M_FREE = 4, M_CHUNK = 8, M_OWNED = 16 };

static int fail(struct chk *k, const char *fmt, ...)
{
	va_list ap;

	if (k->msg && k->cap) {
		va_start(ap, fmt);
		plkv_vfmt(k->msg, k->cap, fmt, ap);
		va_end(ap);
	}
	return PLKV_ECORRUPT;
}

static uint8_t *mark(struct chk *k, plkv_off_t off)
{
	return &k->mark[(off - k->e->arena_off) / 8];
}

static void lock_all(struct plkv_ctx *ctx, bool take)
{
	struct plkv_engine *e = eng(ctx->kv);
	unsigned i, c;

	if (take) {
		plkv_lock(ctx, ENG_LOCK_EXPAND);
		for (i = 0; i < ENG_STRIPES; i++)
			plkv_lock(ctx, ENG_LOCK_STRIPE0 + i);
		for (c = 1; c <= e->nclasses; c++)
			plkv_lock(ctx, ENG_LOCK_LRU0 + c);
		for (c = 1; c <= e->nclasses; c++)
			plkv_lock(ctx, ENG_LOCK_SLAB0 + c);
		plkv_lock(ctx, ENG_LOCK_PAGES);
		plkv_lock(ctx, ENG_LOCK_GLOBAL);
		return;
	}
	plkv_unlock(ctx, ENG_LOCK_GLOBAL);
	plkv_unlock(ctx, ENG_LOCK_PAGES);
	for (c = e->nclasses; c >= 1; c--)
		plkv_unlock(ctx, ENG_LOCK_SLAB0 + c);
	for (c = e->nclasses; c >= 1; c--)
		plkv_unlock(ctx, ENG_LOCK_LRU0 + c);
	for (i = ENG_STRIPES; i-- > 0;)
		plkv_unlock(ctx, ENG_LOCK_STRIPE0 + i);
	plkv_unlock(ctx, ENG_LOCK_EXPAND);
}

static int check_item(struct chk *k, plkv_off_t off, plkv_off_t *bucket,
		      uint64_t bidx)
{
	struct plkv *kv = k->kv;
	struct plkv_item *it = item_at(kv, off);
	unsigned cls;
	uint32_t rc;
	uint64_t n, i;
	plkv_off_t c;

	if (!slab_valid_chunk(kv, off, &cls))
		return fail(k, "bucket %llu: link to 0x%llx is not an item chunk",
			    (unsigned long long)bidx, (unsigned long long)off);
	if (*mark(k, off) & M_HASH)
		return fail(k, "item at off 0x%llx reached twice in the hash "
			    "(cycle, or in two chains; bucket %llu)",
			    (unsigned long long)off, (unsigned long long)bidx);
	*mark(k, off) |= M_HASH;
	if (it->it_flags & (ITEM_SLABBED | ITEM_CHUNK))
		return fail(k, "item at off 0x%llx in bucket %llu is %s",
			    (unsigned long long)off, (unsigned long long)bidx,
			    it->it_flags & ITEM_SLABBED ? "on a free list"
							: "a continuation chunk");
	if (!(it->it_flags & ITEM_LINKED))
		return fail(k, "item at off 0x%llx in bucket %llu lacks LINKED",
			    (unsigned long long)off, (unsigned long long)bidx);
	if (it->nkey == 0 || it->nkey > ENG_KEY_MAX ||
	    item_ntotal(it->nkey, 0) > k->e->cls[cls].size + 0ULL)
		return fail(k, "item at off 0x%llx: bad key length %u",
			    (unsigned long long)off, it->nkey);
	if (eng_hash(item_key(it), it->nkey) != it->hv)
		return fail(k, "item at off 0x%llx: stored hash 0x%x, key hashes "
			    "to 0x%x", (unsigned long long)off, it->hv,
			    eng_hash(item_key(it), it->nkey));
	if (assoc_bucket(kv, it->hv) != bucket)
		return fail(k, "item at off 0x%llx in bucket %llu but hash 0x%x "
			    "says bucket %llu", (unsigned long long)off,
			    (unsigned long long)bidx, it->hv,
			    (unsigned long long)(assoc_bucket(kv, it->hv) -
			    assoc_table(kv, HS_POWER(atomic_load(
				&k->e->hash_state)))));
	rc = atomic_load(&it->refcount);
	if (rc != 1)
		return fail(k, "item at off 0x%llx: refcount %u with no call in "
			    "progress (expected 1)", (unsigned long long)off, rc);
	n = item_nchunks(kv, it);
	if (!n && item_ntotal(it->nkey, it->nbytes) > k->e->cls[cls].size)
		return fail(k, "item at off 0x%llx: %u value bytes overflow its "
			    "%u-byte chunk", (unsigned long long)off, it->nbytes,
			    k->e->cls[cls].size);
	k->used[cls]++;
	for (c = item_chain(kv, it), i = 0; i < n; i++) {
		unsigned cc;

		if (!slab_valid_chunk(kv, c, &cc) || cc != k->e->nclasses ||
		    !(item_at(kv, c)->it_flags & ITEM_CHUNK) ||
		    (*mark(k, c) & (M_CHUNK | M_HASH)))
			return fail(k, "item at off 0x%llx: continuation chunk "
				    "%llu at 0x%llx is bad",
				    (unsigned long long)off,
				    (unsigned long long)i,
				    (unsigned long long)c);
		*mark(k, c) |= M_CHUNK;
		k->used[cc]++;
		c = item_at(kv, c)->next;
	}
	k->linked++;
	return 0;
}

static int check_chain(struct chk *k, plkv_off_t *bucket, uint64_t bidx)
{
	plkv_off_t p = *bucket;
	int rc;

	while (p) {
		struct plkv_item *it = item_at(k->kv, p);
		plkv_off_t q;

		rc = check_item(k, p, bucket, bidx);
		if (rc)
			return rc;
		for (q = it->h_next; q; q = item_at(k->kv, q)->h_next) {
			struct plkv_item *o = item_at(k->kv, q);

			if (!slab_valid_chunk(k->kv, q, NULL))
				break;	/* reported when we get there */
			if (o->nkey == it->nkey &&
			    plkv_key_eq(item_key(o), item_key(it), it->nkey))
				return fail(k, "key '%.*s' twice in bucket %llu",
					    it->nkey, item_key(it),
					    (unsigned long long)bidx);
			if (*mark(k, q) & M_HASH)
				break;
		}
		p = it->h_next;
	}
	return 0;
}

static int check_hash(struct chk *k)
{
	struct plkv_engine *e = k->e;
	uint64_t st = atomic_load(&e->hash_state), b;
	unsigned p = HS_POWER(st);
	int rc;

	if (p < e->hash_power_init || p > e->hash_power_max)
		return fail(k, "hash power %u outside [%u, %u]", p,
			    e->hash_power_init, e->hash_power_max);
	if (HS_EXPANDING(st)) {
		uint64_t half = 1ULL << (p - 1);
		plkv_off_t *old = assoc_table(k->kv, p - 1);
		plkv_off_t *new = assoc_table(k->kv, p);

		if (p == e->hash_power_init || HS_BUCKET(st) >= half)
			return fail(k, "hash expansion to power %u: cursor %llu "
				    "outside the old table (%llu buckets)", p,
				    (unsigned long long)HS_BUCKET(st),
				    (unsigned long long)half);
		for (b = HS_BUCKET(st); b < half; b++)
			if ((rc = check_chain(k, &old[b], b)))
				return rc;
		for (b = 0; b < HS_BUCKET(st); b++) {
			if ((rc = check_chain(k, &new[b], b)) ||
			    (rc = check_chain(k, &new[b + half], b + half)))
				return rc;
		}
		return 0;
	}
	if (HS_BUCKET(st))
		return fail(k, "hash not expanding but cursor is %llu",
			    (unsigned long long)HS_BUCKET(st));
	for (b = 0; b < (1ULL << p); b++)
		if ((rc = check_chain(k, &assoc_table(k->kv, p)[b], b)))
			return rc;
	return 0;
}

static int check_lru(struct chk *k, unsigned cls, uint64_t *nitems)
{
	struct plkv *kv = k->kv;
	struct eng_lru *L = &k->e->lru[cls];
	uint64_t bytes = 0, limit = k->e->npages * k->e->cls[cls].perslab + 1;
	unsigned seg;

	for (seg = 0; seg < LRU_NSEG; seg++) {
		plkv_off_t p = L->head[seg], prev = 0;
		uint64_t n = 0;

		while (p) {
			struct plkv_item *it = item_at(kv, p);
			unsigned c;

			if (n++ > limit)
				return fail(k, "class %u LRU %u: cycle", cls, seg);
			if (!slab_valid_chunk(kv, p, &c) || c != cls)
				return fail(k, "class %u LRU %u: link to 0x%llx "
					    "is not an item of the class", cls,
					    seg, (unsigned long long)p);
			if (*mark(k, p) & M_LRU)
				return fail(k, "item at off 0x%llx in LRU twice "
					    "(class %u)", (unsigned long long)p,
					    cls);
			*mark(k, p) |= M_LRU;
			if (!(*mark(k, p) & M_HASH))
				return fail(k, "item at off 0x%llx in class %u LRU "
					    "%u but not in the hash table",
					    (unsigned long long)p, cls, seg);
			if (it->prev != prev || it->lru != seg)
				return fail(k, "item at off 0x%llx: LRU prev "
					    "0x%llx/seg %u, expected 0x%llx/%u",
					    (unsigned long long)p,
					    (unsigned long long)it->prev,
					    it->lru, (unsigned long long)prev,
					    seg);
			bytes += item_size(it);
			prev = p;
			p = it->next;
		}
		if (L->tail[seg] != prev)
			return fail(k, "class %u LRU %u: tail 0x%llx, last item "
				    "0x%llx", cls, seg,
				    (unsigned long long)L->tail[seg],
				    (unsigned long long)prev);
		if (L->count[seg] != n)
			return fail(k, "class %u LRU %u: count %llu, %llu listed",
				    cls, seg, (unsigned long long)L->count[seg],
				    (unsigned long long)n);
		*nitems += n;
	}
	if (L->bytes != bytes)
		return fail(k, "class %u: LRU bytes %llu, items add up to %llu",
			    cls, (unsigned long long)L->bytes,
			    (unsigned long long)bytes);
	return 0;
}

/* Chunks held by live threads' ops (allocated, not linked yet). */
static int check_slots(struct chk *k)
{
	struct plkv *kv = k->kv;
	uint32_t s;

	for (s = 1; s < PLKV_MAX_THREADS; s++) {
		struct plkv_slot *sl = plkv_slot_rec(kv, s);
		struct plkv_oprec *r = &sl->op;
		plkv_off_t x;
		unsigned cls;

		if (sl->state == PLKV_SLOT_FREE)
			continue;
		if (r->state && sl->state == PLKV_SLOT_ACTIVE &&
		    !plkv_slot_alive(kv, s))
			return fail(k, "slot %u (pid %u, dead) has an "
				    "unrecovered operation (op %u phase %u)",
				    s, sl->pid, r->op, r->phase);
		if (!r->state || (r->phase != PH_ALLOC &&
				  r->phase != PH_LOCKED))
			continue;
		x = r->w[W_X];
		if (!x || !slab_valid_chunk(kv, x, &cls) ||
		    (item_at(kv, x)->it_flags & ITEM_SLABBED))
			continue;
		k->used[cls] += 1 + r->w[W_CHAIN_N];
	}
	return 0;
}

/* The page a class carves as it uses it: the class's own, and no more
 * carved than it holds.  (A link to a chunk past bump_carved fails
 * slab_valid_chunk() wherever it is found.) */
static int check_bump(struct chk *k, unsigned cls)
{
	const struct eng_class *c = &k->e->cls[cls];

	if (!c->bump_page)
		return 0;
	if (c->bump_carved > c->perslab)
		return fail(k, "class %u: %llu chunks of its bump page carved, "
			    "of %u", cls, (unsigned long long)c->bump_carved,
			    c->perslab);
	if (eng_bump_left(c) && (c->bump_page > k->e->pages_next ||
				 eng_page_owner(k->kv)[c->bump_page - 1] != cls))
		return fail(k, "class %u: bump page %llu is not the class's",
			    cls, (unsigned long long)(c->bump_page - 1));
	return 0;
}

static int check_slabs(struct chk *k)
{
	struct plkv *kv = k->kv;
	struct plkv_engine *e = k->e;
	const uint8_t *owner = eng_page_owner(kv);
	uint64_t pages = 0, pool, p;
	unsigned cls;

	if (e->pages_next > e->npages)
		return fail(k, "pages_next %llu > %llu pages",
			    (unsigned long long)e->pages_next,
			    (unsigned long long)e->npages);
	for (cls = 1; cls <= e->nclasses; cls++) {
		struct eng_class *c = &e->cls[cls];
		uint64_t owned = 0, nfree = 0, total, end;
		plkv_off_t f = c->free_head;
		int rc;

		for (p = 0; p < e->pages_next; p++)
			owned += owner[p] == cls;
		if (owned != c->total_pages)
			return fail(k, "class %u: total_pages %llu, %llu pages "
				    "owned", cls,
				    (unsigned long long)c->total_pages,
				    (unsigned long long)owned);
		pages += owned;
		total = owned * c->perslab;
		while (f) {
			unsigned fc;

			if (nfree++ > total)
				return fail(k, "class %u: free list cycle", cls);
			if (!slab_valid_chunk(kv, f, &fc) || fc != cls)
				return fail(k, "class %u: free list link 0x%llx "
					    "is not a chunk of the class", cls,
					    (unsigned long long)f);
			if (*mark(k, f))
				return fail(k, "chunk 0x%llx of class %u is free "
					    "and in use (or free twice)",
					    (unsigned long long)f, cls);
			if (!(item_at(kv, f)->it_flags & ITEM_SLABBED))
				return fail(k, "chunk 0x%llx on class %u's free "
					    "list lacks SLABBED",
					    (unsigned long long)f, cls);
			*mark(k, f) |= M_FREE;
			f = item_at(kv, f)->next;
		}
		if ((rc = check_bump(k, cls)))
			return rc;
		end = eng_bump_left(c);
		if (nfree + end != c->free_count)
			return fail(k, "class %u: free_count %llu, %llu listed "
				    "+ %llu to carve", cls,
				    (unsigned long long)c->free_count,
				    (unsigned long long)nfree,
				    (unsigned long long)end);
		if (nfree + end + k->used[cls] != total)
			return fail(k, "class %u: %llu chunks but %llu free + "
				    "%llu in use: %lld leaked", cls,
				    (unsigned long long)total,
				    (unsigned long long)(nfree + end),
				    (unsigned long long)k->used[cls],
				    (long long)(total - nfree - end -
						k->used[cls]));
	}
	pool = slab_free_pages(kv) - (e->npages - e->pages_next);
	for (p = 0; p < e->pages_next; p++)
		if (slab_page_in_pool(kv, p) && owner[p])
			return fail(k, "page %llu is in the free page pool but "
				    "owned by class %u", (unsigned long long)p,
				    owner[p]);
	if (pages + pool != e->pages_next)
		return fail(k, "%llu pages assigned to classes + %llu in the "
			    "pool, pages_next %llu", (unsigned long long)pages,
			    (unsigned long long)pool,
			    (unsigned long long)e->pages_next);
	return 0;
}

int eng_check(struct plkv_ctx *ctx, char *msg, size_t cap)
{
	struct plkv *kv = ctx->kv;
	struct chk k = { .ctx = ctx, .kv = kv, .e = eng(kv), .msg = msg,
			 .cap = cap };
	uint64_t nlru = 0, items;
	unsigned c;
	int rc;

	if (msg && cap)
		msg[0] = 0;
	if (k.e->magic != ENG_MAGIC)
		return fail(&k, "engine magic 0x%llx",
			    (unsigned long long)k.e->magic);
	k.mark = plkv_gate_calloc(ctx->kv, k.e->npages, ENG_PAGE_SIZE / 8);
	if (!k.mark)
		return -ENOMEM;
	lock_all(ctx, true);
	rc = check_hash(&k);
	for (c = 1; !rc && c <= k.e->nclasses; c++)
		rc = check_lru(&k, c, &nlru);
	if (!rc && nlru != k.linked)
		rc = fail(&k, "%llu items in the hash table, %llu in LRUs",
			  (unsigned long long)k.linked,
			  (unsigned long long)nlru);
	if (!rc)
		rc = check_slots(&k);
	if (!rc)
		rc = check_slabs(&k);
	if (!rc && (items = eng_curr_items(ctx, NULL)) != k.linked)
		rc = fail(&k, "curr_items %llu, %llu linked",
			  (unsigned long long)items,
			  (unsigned long long)k.linked);
	lock_all(ctx, false);
	plkv_gate_free(ctx->kv, k.mark);
	return rc;
}
