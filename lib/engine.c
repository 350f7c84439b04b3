/* SPDX-License-Identifier: MIT */
/*
 * The engine's segment format: sizing, formatting and validating the
 * region [hdr->engine_off, hdr->size), plus the helpers every engine file
 * uses (op records, the key hash).
 *
 * Sizing is a pure function of the creation options, so plkv_open() can
 * size the segment before it exists and plkv_engine_format() lays out the
 * same regions from the stored options.
 */
#include <errno.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine.h"

int64_t plkv_test_time_offset;

struct eng_layout {
	uint64_t npages;
	unsigned hash_power_init, hash_power_max;
	uint64_t off_owner, off_stage, off_hash, region_a, region_b, off_arena;
	uint64_t size;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * The largest table we will grow to: enough buckets that the store full
 * of the smallest items stays at the 1.5 load that triggers growth.
 */
static unsigned hash_power_max(uint64_t mem_limit, uint32_t chunk_min,
			       unsigned init)
{
	uint64_t smallest = eng_class1_size(chunk_min);
	uint64_t max_items = mem_limit / smallest + 1;
	unsigned p = 8;

	while (p < ENG_HASH_POWER_CAP && (3ULL << p) / 2 < max_items)
		p++;
	return p < init ? init : p;
}

static int eng_layout(uint64_t mem_limit, uint32_t chunk_min,
		      uint32_t hash_power, struct eng_layout *l)
{
	uint64_t off;

	if (hash_power < 8)
		hash_power = 8;
	if (hash_power > ENG_HASH_POWER_CAP || mem_limit < ENG_PAGE_SIZE)
		return -EINVAL;
	l->npages = mem_limit / ENG_PAGE_SIZE;
	l->hash_power_init = hash_power;
	l->hash_power_max = hash_power_max(mem_limit, chunk_min, hash_power);
	off = align_up(sizeof(struct plkv_engine), 4096);
	l->off_owner = off;
	off = align_up(off + l->npages, 4096);
	l->off_stage = off;
	off += (uint64_t)PLKV_MAX_THREADS * ENG_STAGE_MAX;
	l->off_hash = off;
	l->region_a = (uint64_t)sizeof(plkv_off_t) << l->hash_power_max;
	l->region_b = l->region_a / 2;
	off = align_up(off + l->region_a + l->region_b, 4096);
	l->off_arena = off;
	l->size = off + l->npages * (uint64_t)ENG_PAGE_SIZE;
	return 0;
}

uint64_t plkv_engine_size(const struct plkv_options *o)
{
	struct eng_layout l;

	if (eng_layout(o->mem_limit, o->chunk_min, o->hash_power, &l))
		return 0;
	return l.size;
}

uint32_t plkv_engine_hash_power(struct plkv *kv)
{
	return HS_POWER(atomic_load(&eng(kv)->hash_state));
}

/* memcached's slabs_init: sizes grow by the factor up to half a page. */
static unsigned init_classes(struct plkv_engine *e)
{
	size_t size = eng_class1_size(e->chunk_min);
	unsigned i = 1;

	while (i < ENG_MAX_CLASSES &&
	       (double)size <= ENG_CHUNK_MAX / e->growth_factor) {
		e->cls[i].size = (uint32_t)size;
		e->cls[i].perslab = ENG_PAGE_SIZE / e->cls[i].size;
		size = eng_align8((size_t)((double)size * e->growth_factor));
		i++;
	}
	e->cls[i].size = ENG_CHUNK_MAX;
	e->cls[i].perslab = ENG_PAGE_SIZE / ENG_CHUNK_MAX;
	return i;
}

int plkv_engine_format(struct plkv *kv, const struct plkv_options *opts)
{
	struct plkv_hdr *h = kv->hdr;
	struct plkv_engine *e = eng(kv);
	struct eng_layout l;
	unsigned c;

	(void)opts;	/* the header holds the same, validated values */
	kv->hooks = &plkv_engine_hooks;	/* core's recovery calls these */
	if (eng_layout(h->mem_limit, h->chunk_min, h->hash_power_init, &l) ||
	    l.size > h->engine_size)
		return -EINVAL;
	plkv_zero(e, sizeof(*e));
	e->version = ENG_VERSION;
	e->mem_limit = h->mem_limit;
	e->item_size_max = h->item_size_max;
	e->chunk_min = h->chunk_min;
	e->growth_factor = h->growth_factor;
	e->hash_power_init = l.hash_power_init;
	e->hash_power_max = l.hash_power_max;
	e->no_evict = h->no_evict;
	e->npages = l.npages;
	e->page_owner_off = h->engine_off + l.off_owner;
	e->stage_off = h->engine_off + l.off_stage;
	e->hash_tab[0] = h->engine_off + l.off_hash;
	e->hash_tab[1] = e->hash_tab[0] + l.region_a;
	e->arena_off = h->engine_off + l.off_arena;
	e->created = (int64_t)h->created;
	e->nclasses = init_classes(e);
	for (c = 1; c <= e->nclasses; c++) {
		e->lru[c].crawl_seg = LRU_COLD;
	}
	plkv_zero(eng_page_owner(kv), l.npages);
	plkv_zero(assoc_table(kv, l.hash_power_init),
		  sizeof(plkv_off_t) << l.hash_power_init);
	atomic_store(&e->hash_state, HS_MAKE(l.hash_power_init, 0, 0));
	atomic_store(&e->cas_next, 1);
	barrier();
	e->magic = ENG_MAGIC;
	return 0;
}

int plkv_engine_attach(struct plkv *kv)
{
	struct plkv_engine *e = eng(kv);
	struct eng_layout l;

	kv->hooks = &plkv_engine_hooks;	/* core's recovery calls these */
	if (e->magic != ENG_MAGIC)
		return PLKV_EBADSEG;
	if (e->version != ENG_VERSION)
		return PLKV_EVERSION;
	if (eng_layout(e->mem_limit, e->chunk_min, e->hash_power_init, &l) ||
	    kv->hdr->engine_off + l.size > kv->size ||
	    e->arena_off != kv->hdr->engine_off + l.off_arena ||
	    e->stage_off != kv->hdr->engine_off + l.off_stage ||
	    e->hash_power_max != l.hash_power_max ||
	    e->hash_tab[0] != kv->hdr->engine_off + l.off_hash ||
	    e->hash_tab[1] != e->hash_tab[0] + l.region_a ||
	    e->nclasses == 0 || e->nclasses > ENG_MAX_CLASSES)
		return PLKV_EBADSEG;
	return 0;
}

/* ---- op records ---- */

void eng_op_begin(struct plkv_ctx *ctx, uint32_t op)
{
	struct plkv_oprec *r = plkv_ctx_op(ctx);
	unsigned i;

	for (i = W_X; i <= W_MIG_ITEM; i++)
		r->w[i] = 0;
	r->op = op;
	r->phase = PH_IDLE;
	r->seq++;
	barrier();
	__atomic_store_n(&r->state, 1, __ATOMIC_RELEASE);
	barrier();
}

void eng_op_end(struct plkv_ctx *ctx)
{
	struct plkv_oprec *r = plkv_ctx_op(ctx);

	barrier();
	__atomic_store_n(&r->state, 0, __ATOMIC_RELEASE);
	r->phase = PH_IDLE;
	r->op = OP_NONE;
	barrier();
}

/* Take idx unless this thread already holds it; true if taken here. */
bool eng_lock_if_needed(struct plkv_ctx *ctx, unsigned idx)
{
	if (plkv_lock_held(ctx, idx))
		return false;
	plkv_lock(ctx, idx);
	return true;
}

/* ---- key hash ---- */

/*
 * XXH3 (Debian's libxxhash, inlined from its header): on the 10-40 byte
 * keys caches see it costs about a third of the multiply-mix loop it
 * replaced, and it is as well tested as hashes get.  The hash decides
 * buckets and stripes and is kept in items: changing it is a format
 * change (ENG_VERSION).
 */
uint32_t eng_hash(const void *key, size_t n)
{
	XXH64_hash_t h = XXH3_64bits(key, n);

	return (uint32_t)(h ^ (h >> 32));
}
