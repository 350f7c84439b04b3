/* SPDX-License-Identifier: MIT */
/*
 * The engine: memcached 1.6's store, laid out in the shared segment.
 *
 * Layout of [hdr->engine_off, hdr->size):
 *
 *   struct plkv_engine        global state, slab classes, LRU heads, stats
 *   page_owner[npages]        slab class of each 1 MiB page (0 = unused)
 *   hash region A             2^hash_power_max buckets
 *   hash region B             2^(hash_power_max-1) buckets
 *   arena                     npages slab pages of 1 MiB
 *
 * A hash table of power p lives in region A when p has the parity of
 * hash_power_max, else in region B: the table being grown from (p) and the
 * one grown into (p+1) never overlap, and neither needs allocating.
 *
 * Nothing here is a pointer: plkv_off_t offsets from the segment base.
 * See Documentation/engine.rst for the invariants, the lock order and the
 * crash-consistency rules every function below follows.
 */
#ifndef PLKV_ENGINE_H
#define PLKV_ENGINE_H

#include <string.h>

#include "core.h"
#include "fmt.h"

#define ENG_MAGIC		0x31454e49474e454bULL	/* "KENGINE1" */
#define ENG_VERSION		6	/* 2: XXH3 key hash; 3: hot words
					 * on lines of their own; 4:
					 * flush_ever, act in the CAS word,
					 * 32-bit times: a 64 B item header;
					 * 5: stage buffers, sets in place;
					 * 6: pages carved as used; 7: the
					 * two hash regions' offsets */

#define ENG_PAGE_SIZE		(1u << 20)	/* slab page */
#define ENG_CHUNK_MAX		(ENG_PAGE_SIZE / 2) /* largest class chunk */
#define ENG_MAX_CLASSES		63		/* class ids 1..63 */
#define ENG_KEY_MAX		250
#define ENG_REL_MAX		2592000		/* 30 days: relative exptime */
#define ENG_UPDATE_INTERVAL	60		/* bump item time at most every */
#define ENG_HOT_PCT		20
#define ENG_WARM_PCT		40
#define ENG_HASH_POWER_CAP	31
#define ENG_GROW_STEP		16		/* buckets migrated per op: their
					 * items' misses overlap (assoc.c) */
#define ENG_CRAWL_STEP		4		/* items examined per store */
#define ENG_CRAWL_EVERY		8		/* ... in a crawl this often */
#define ENG_EVICT_SEARCH	5		/* tail items tried per eviction */
#define ENG_STAGE_MAX		1024		/* a set in place: value bytes */

/* ---- locks (indexes into the segment lock table) ---- */

#define ENG_STRIPES		256		/* item lock stripes */
#define ENG_LOCK_STRIPE0	PLKV_LOCK_ENGINE_FIRST
#define ENG_LOCK_LRU0		(ENG_LOCK_STRIPE0 + ENG_STRIPES)
#define ENG_LOCK_SLAB0		(ENG_LOCK_LRU0 + ENG_MAX_CLASSES + 1)
#define ENG_LOCK_EXPAND		(ENG_LOCK_SLAB0 + ENG_MAX_CLASSES + 1)
#define ENG_LOCK_PAGES		(ENG_LOCK_EXPAND + 1)
#define ENG_LOCK_GLOBAL		(ENG_LOCK_EXPAND + 2)	/* flush state */
#define ENG_LOCK_CRAWL		(ENG_LOCK_EXPAND + 3)
#define ENG_LOCK_END		(ENG_LOCK_EXPAND + 4)

_Static_assert(ENG_LOCK_END <= PLKV_LOCK_COUNT, "engine locks fit");

static inline unsigned eng_stripe_lock(uint32_t hv)
{
	return ENG_LOCK_STRIPE0 + (hv & (ENG_STRIPES - 1));
}

/* ---- items ---- */

/* it_flags: written under the item's stripe lock (or the slab lock while
 * the chunk is free or being carved/popped) */
#define ITEM_LINKED	0x01	/* in the hash table */
#define ITEM_SLABBED	0x02	/* on a free list */
#define ITEM_CHUNKED	0x04	/* value continues in a chunk chain */
#define ITEM_CHUNK	0x08	/* a continuation chunk, not an item */
/* memcached's stale-while-revalidate marks: each change is one store of
 * it_flags under the stripe lock, so no transaction records them */
#define ITEM_STALE	0x10	/* invalidated (md I), value kept */
#define ITEM_TOKEN_SENT	0x20	/* a win token was handed out */
/* Overwritten in place by a set (store_overwrite(), ops.c), so still at
 * its old LRU position: the COLD tail gives it one more pass instead of
 * evicting it, as memcached's new item would have one from HOT's head. */
#define ITEM_REFRESHED	0x40

/*
 * act: memcached's fetched/active hints, set by readers and cleared by
 * the LRU, in the top two bits of the CAS word (item_act()).  There a
 * reader that found the item without the stripe lock sets them with one
 * compare-and-swap of the whole word, which succeeds only on the item it
 * read: a CAS value is never handed out twice, so a chunk freed and reused
 * meanwhile holds another word.  Gets then write no lock word, and gets
 * from several processes don't take turns on the stripes' cache lines.
 */
#define ACT_FETCHED	0x01
#define ACT_ACTIVE	0x02
#define ACT_SHIFT	62
#define ITEM_CAS_MASK	((1ULL << ACT_SHIFT) - 1)

enum { LRU_HOT = 0, LRU_WARM = 1, LRU_COLD = 2, LRU_NSEG = 3 };
#define LRU_NONE	0xff

struct plkv_item {
	plkv_off_t h_next;	/* hash chain; continuation chunks: unused */
	plkv_off_t next;	/* LRU forward (authoritative) / free list /
				 * continuation chain */
	plkv_off_t prev;	/* LRU backward (derived) */
	uint64_t cas_act;	/* CAS value | act << ACT_SHIFT: item_cas(),
				 * item_act() */
	uint32_t exptime;	/* absolute Unix seconds, 0 = never (32
				 * bits, as memcached's rel_time_t: to
				 * 2106) */
	uint32_t time;		/* last access or update, Unix seconds */
	_Atomic uint32_t refcount;
	uint32_t nbytes;	/* value length (chunks: bytes in this one) */
	uint32_t flags;		/* client flags */
	uint32_t hv;		/* hash of the key */
	uint16_t it_flags;	/* ITEM_* */
	uint8_t slab_class;	/* set when the page is carved, never changes */
	uint8_t nkey;
	uint8_t lru;		/* LRU segment (LRU lock) */
	uint8_t pad[3];
	char data[];		/* key, then value (chunked: see item_val) */
};

/* 64: with memcached's default classes a 100 B value and a 16-40 B key
 * take a 220 B chunk, as in memcached (72 put most in 240 B ones) */
_Static_assert(sizeof(struct plkv_item) == 64, "item header size");

#define ITEM_HDR	((uint32_t)sizeof(struct plkv_item))

static inline size_t eng_align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * The smallest chunk: memcached's item header (48 bytes) plus -n, so the
 * classes are memcached's own (96, 120, 152, 192, 240, ... with -n 48 and
 * -f 1.25) and an item lands in a class of the same id and size as in
 * memcached.  plkv's 64-byte header leaves class 1 room for 32 bytes of
 * key and value (memcached's: 40); the option's minimum (48) keeps that.
 */
#define ENG_MC_ITEM_HDR		48u

static inline size_t eng_class1_size(uint32_t chunk_min)
{
	return eng_align8(ENG_MC_ITEM_HDR + chunk_min);
}

/* ---- engine global state ---- */

struct eng_class {		/* SLAB lock of the class */
	uint32_t size;		/* chunk bytes */
	uint32_t perslab;	/* chunks per page */
	plkv_off_t free_head;
	uint64_t free_count;
	uint64_t total_pages;
	uint64_t mem_requested;
	/* The page being carved as it is used: page + 1 (0: none), and
	 * how many of its chunks are carved; the rest are free but on no
	 * list, their headers meaningless. */
	uint64_t bump_page;
	uint64_t bump_carved;
	uint64_t pad;
};

/* Chunks of c's bump page still to carve (counted in free_count). */
static inline uint64_t eng_bump_left(const struct eng_class *c)
{
	return c->bump_page ? c->perslab - c->bump_carved : 0;
}

struct eng_lru {		/* LRU lock of the class */
	plkv_off_t head[LRU_NSEG];
	plkv_off_t tail[LRU_NSEG];
	uint64_t count[LRU_NSEG];
	uint64_t bytes;
	uint64_t total_items;
	uint64_t evicted;
	uint64_t evicted_nonzero;
	uint64_t evicted_unfetched;
	uint64_t evicted_time;
	uint64_t expired_unfetched;
	uint64_t reclaimed;
	uint64_t outofmemory;
	uint64_t moves_to_cold;
	uint64_t moves_to_warm;
	uint64_t moves_within_lru;
	plkv_off_t crawl_pos;	/* crawler cursor (next to look at) */
	uint32_t crawl_seg;
	uint32_t pad;
};

/* Per-thread counters: struct plkv_slot.stat[] indexes. */
enum {
	ST_GET_HITS, ST_GET_MISSES, ST_GET_EXPIRED, ST_GET_FLUSHED,
	ST_CMD_SET, ST_TOUCH_HITS, ST_TOUCH_MISSES, ST_DELETE_HITS,
	ST_DELETE_MISSES, ST_INCR_HITS, ST_INCR_MISSES, ST_DECR_HITS,
	ST_DECR_MISSES, ST_CAS_HITS, ST_CAS_MISSES, ST_CAS_BADVAL,
	ST_SET_INPLACE,	/* items stored in place: part of total_items */
	ST_N
};
_Static_assert(ST_N <= 23, "per-thread counters fit the slot");

/*
 * Hash state, one word so a reader sees a consistent snapshot:
 * bits 0-5 power, bit 6 expanding, bits 32-63 next old bucket to migrate.
 */
#define HS_POWER(s)	((unsigned)((s) & 63))
#define HS_EXPANDING(s)	(((s) >> 6) & 1)
#define HS_BUCKET(s)	((uint64_t)((s) >> 32))
#define HS_MAKE(p, e, b) ((uint64_t)(p) | ((uint64_t)(e) << 6) | \
			  ((uint64_t)(b) << 32))

struct plkv_engine {
	uint64_t magic;
	uint32_t version;
	uint32_t nclasses;
	uint64_t mem_limit;
	uint32_t item_size_max;
	uint32_t chunk_min;
	double growth_factor;
	uint32_t hash_power_init;
	uint32_t hash_power_max;
	uint32_t no_evict;
	uint32_t pad0;
	uint64_t npages;
	plkv_off_t page_owner_off;	/* uint8_t[npages] */
	/* [0] region A, [1] region B (it follows A): a table of power p
	 * is in hash_tab[(p ^ hash_power_max) & 1] */
	plkv_off_t hash_tab[2];
	plkv_off_t arena_off;
	int64_t created;

	/*
	 * What every get reads, on a line no store writes: a word written
	 * by every set next to one read by every get makes each get after
	 * another process's set a cache miss.
	 */
	_Alignas(64) _Atomic uint64_t hash_state; /* HS_*: EXPAND lock +
						   * stripes */
	/* flush_all (GLOBAL lock): see item_flushed() */
	uint64_t flush_cas;
	int64_t flush_time;
	int64_t flush_pending;
	uint64_t cmd_flush;
	uint32_t flush_ever;		/* a flush_all was ever issued: until
					 * then a get tests this word only */
	uint32_t pad1;

	/* written by stores, each on a line of its own */
	_Alignas(64) _Atomic uint64_t cas_next;
	_Alignas(64) _Atomic int64_t items_hint; /* approximate, for
						  * growth */
	_Alignas(64) uint64_t pages_next;	/* PAGES lock */

	_Atomic uint64_t g_stat[ST_N];	/* from retired slots */
	uint64_t page_free_head;	/* PAGES: released page + 1, 0 none */
	uint64_t slabs_moved;		/* PAGES: pages reassigned */
	uint64_t steal_cursor;		/* where the page mover looks next */
	plkv_off_t stage_off;		/* ENG_STAGE_MAX bytes per slot */
	uint64_t reserved[12];

	struct eng_class cls[ENG_MAX_CLASSES + 1];
	struct eng_lru lru[ENG_MAX_CLASSES + 1];
};

/* ---- the op record: what a recoverer needs (struct plkv_oprec.w) ---- */

enum eng_op {
	OP_NONE = 0, OP_STORE, OP_DELETE, OP_INCR, OP_TOUCH, OP_GET,
	OP_FLUSH, OP_MIGRATE, OP_MAINT,
};

/* Main transaction phases (oprec.phase). */
enum {
	PH_IDLE = 0,
	PH_ALLOC,	/* allocating/filling X; no stripe lock: X owned */
	PH_LOCKED,	/* stripe lock held; nothing shared changed */
	PH_LINK,	/* swapping X for Y in the hash chain */
	PH_LRU,		/* X in the hash, Y out of it; LRU steps pending */
	PH_FREE,	/* freeing Y */
	PH_INPLACE,	/* incr/decr rewriting Y's digits (W_ARITH_VAL) */
	PH_OVERWRITE,	/* a set rewriting Y from the slot's stage (W_OW_*) */
	PH_DONE,	/* shared changes done */
	/* OP_MIGRATE */
	PH_M_ZERO,	/* clearing the two new buckets */
	PH_M_MOVE,	/* moving items (W_MIG_ITEM: the one in flight) */
};

enum {
	W_X = 0,	/* new item: owned while phase < PH_LINK */
	W_CHAIN,	/* X's continuation chunks (owned with X) */
	W_CHAIN_N,
	W_Y,		/* old item: replaced / deleted / expired */
	W_HV,		/* key hash (which stripe, which bucket) */
	/* words 5-7 mean one thing per op: */
	W_ARITH_VAL = 5,	/* incr/decr: the result (PH_INPLACE) */
	W_ARITH_CAS,		/* incr/decr: its new CAS */
	W_OW_META = 5,		/* set in place: flags | exptime << 32 */
	W_OW_CAS,		/* set in place: the whole new CAS word */
	W_OW_TIME,		/* set in place: time | it_flags << 32 */
	W_MIG_BUCKET = 5,	/* migrate: the old bucket being split */
	W_MIG_POWER,		/* migrate: the new table's power */
	W_MIG_ITEM,		/* migrate: the item in flight */
	/* eviction / reclaim from an LRU tail (holds LRU + E's stripe) */
	W_E = 8,
	W_E_HV,
	W_E_PH,		/* 1 hash unlink, 2 LRU unlink, 3 free */
	/* LRU sub-op (only while holding that LRU lock) */
	W_L_OP = 11,	/* L_INSERT, L_REMOVE, L_MOVE */
	W_L_ITEM,
	W_L_CLS,
	W_L_SEG,
	/* slab sub-op (only while holding that slab lock) */
	W_S_OP = 15,	/* S_POP, S_PUSH, S_CARVE, S_RELEASE, S_BUMP */
	W_S_CLS,
	W_S_ITEM,
	W_S_N,
	W_S_DEST,	/* op record word naming the chunk(s) */
	W_S_PAGE,
	W_NWORDS
};
_Static_assert(W_NWORDS <= PLKV_OPREC_WORDS, "op record fits");

enum { L_NONE = 0, L_INSERT, L_REMOVE, L_MOVE };
enum { S_NONE = 0, S_POP, S_PUSH, S_CARVE, S_RELEASE, S_BUMP };
enum { E_NONE = 0, E_HASH, E_LRU, E_FREE };

#define barrier()	__asm__ __volatile__("" ::: "memory")

/* Record a word of intent; ordered before the mutations that follow. */
static inline void rec_set(struct plkv_oprec *op, unsigned i, uint64_t v)
{
	__atomic_store_n(&op->w[i], v, __ATOMIC_RELEASE);
	barrier();
}

static inline void rec_phase(struct plkv_oprec *op, uint32_t ph)
{
	__atomic_store_n(&op->phase, ph, __ATOMIC_RELEASE);
	barrier();
}

/* A single authoritative store (the one that publishes a change). */
#define PUBLISH(lv, v)	__atomic_store_n(&(lv), (v), __ATOMIC_RELEASE)

/* ---- accessors ---- */

static inline struct plkv_engine *eng(const struct plkv *kv)
{
	return (struct plkv_engine *)kv->engine;
}

static inline struct plkv_item *item_at(const struct plkv *kv, plkv_off_t off)
{
	return (struct plkv_item *)plkv_ptr(kv, off);
}

static inline plkv_off_t item_off(const struct plkv *kv, const struct plkv_item *it)
{
	return plkv_off(kv, it);
}

static inline uint8_t *eng_page_owner(const struct plkv *kv)
{
	return (uint8_t *)plkv_ptr(kv, eng(kv)->page_owner_off);
}

/* An op-record word of a slot, as slab_free's owner ("dest"). */
static inline uint64_t eng_dest(uint32_t slot, unsigned word)
{
	return ((uint64_t)slot << 8) | word;
}

static inline struct plkv_oprec *eng_slot_op(const struct plkv *kv,
					     uint32_t slot)
{
	return &plkv_slot_rec(kv, slot)->op;
}

/* A slot's stage: a set in place copies its value here first, so that a
 * recoverer can redo the overwrite (PH_OVERWRITE). */
static inline char *eng_stage(const struct plkv *kv, uint32_t slot)
{
	return (char *)plkv_ptr(kv, eng(kv)->stage_off) +
	       (size_t)(slot & (PLKV_MAX_THREADS - 1)) * ENG_STAGE_MAX;
}

/* Test hook: seconds added to the clock (unit tests shift time). */
extern PLKV_HIDDEN int64_t plkv_test_time_offset;

static inline int64_t eng_now(const struct plkv_ctx *ctx)
{
	return ctx->now + plkv_test_time_offset;
}

static inline void stat_inc(struct plkv_ctx *ctx, unsigned i)
{
	ctx->rec->stat[i]++;
}

static inline char *item_key(struct plkv_item *it)
{
	return it->data;
}

static inline uint64_t item_cas(const struct plkv_item *it)
{
	return __atomic_load_n(&it->cas_act, __ATOMIC_RELAXED) & ITEM_CAS_MASK;
}

static inline uint8_t item_act(const struct plkv_item *it)
{
	return (uint8_t)(__atomic_load_n(&it->cas_act, __ATOMIC_RELAXED) >>
			 ACT_SHIFT);
}

/* Atomic, as readers without the lock may set bits at the same time. */
static inline void item_act_set(struct plkv_item *it, uint8_t bits)
{
	__atomic_fetch_or(&it->cas_act, (uint64_t)bits << ACT_SHIFT,
			  __ATOMIC_RELAXED);
}

static inline void item_act_clear(struct plkv_item *it, uint8_t bits)
{
	__atomic_fetch_and(&it->cas_act, ~((uint64_t)bits << ACT_SHIFT),
			   __ATOMIC_RELAXED);
}

/* A new CAS value for a linked item, its act bits kept. */
static inline void item_set_cas(struct plkv_item *it, uint64_t cas)
{
	uint64_t w = __atomic_load_n(&it->cas_act, __ATOMIC_RELAXED);

	/* release: a value rewritten in place before it is whole when a
	 * reader sees the new CAS (item_digits()) */
	while (!__atomic_compare_exchange_n(&it->cas_act, &w,
					    (w & ~ITEM_CAS_MASK) | cas, false,
					    __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
}

static inline uint64_t assoc_mask(unsigned power)
{
	return (1ULL << power) - 1;
}

/* The table of a power: region A for powers of hash_power_max's parity
 * (the table is never at offset 0: no NULL test). */
static inline plkv_off_t *assoc_table_at(char *base,
					 const struct plkv_engine *e,
					 unsigned power)
{
	return (plkv_off_t *)(base +
			      e->hash_tab[(power ^ e->hash_power_max) & 1]);
}

static inline plkv_off_t *assoc_table(const struct plkv *kv, unsigned power)
{
	return assoc_table_at(kv->base, eng(kv), power);
}

/* The bucket hv lives in under hash state st (inline: every get; base
 * and e as the caller already holds them). */
static inline plkv_off_t *assoc_bucket_at(char *base,
					  const struct plkv_engine *e,
					  uint64_t st, uint32_t hv)
{
	unsigned p = HS_POWER(st);

	if (HS_EXPANDING(st)) {
		uint64_t ob = hv & assoc_mask(p - 1);

		if (ob >= HS_BUCKET(st))
			return &assoc_table_at(base, e, p - 1)[ob];
	}
	return &assoc_table_at(base, e, p)[hv & assoc_mask(p)];
}

/* The bucket hv lives in now.  Hold hv's stripe lock. */
static inline plkv_off_t *assoc_bucket(const struct plkv *kv, uint32_t hv)
{
	return assoc_bucket_at(kv->base, eng(kv),
			       atomic_load_explicit(&eng(kv)->hash_state,
						    memory_order_acquire),
			       hv);
}

static inline bool item_expired_at(int64_t now, const struct plkv_item *it)
{
	return it->exptime != 0 && it->exptime <= now;
}

static inline bool item_expired(const struct plkv_ctx *ctx,
				const struct plkv_item *it)
{
	return item_expired_at(eng_now(ctx), it);
}

/*
 * flush_all: an immediate flush hides every item with a smaller CAS (so
 * items stored later in the same second survive); a delayed one hides the
 * items last updated before its deadline once the deadline has come.
 */
static inline bool item_flushed_at(const struct plkv_engine *e, int64_t now,
				   const struct plkv_item *it)
{
	int64_t pend;

	if (likely(!__atomic_load_n(&e->flush_ever, __ATOMIC_RELAXED)))
		return false;
	pend = __atomic_load_n(&e->flush_pending, __ATOMIC_RELAXED);
	return item_cas(it) < __atomic_load_n(&e->flush_cas,
					      __ATOMIC_RELAXED) ||
	       it->time < __atomic_load_n(&e->flush_time, __ATOMIC_RELAXED) ||
	       (pend && now >= pend && it->time < pend);
}

static inline bool item_flushed(const struct plkv_ctx *ctx,
				const struct plkv_item *it)
{
	return item_flushed_at(eng(ctx->kv), eng_now(ctx), it);
}

/* ---- engine.c ---- */
PLKV_HIDDEN void eng_op_begin(struct plkv_ctx *ctx, uint32_t op);
PLKV_HIDDEN void eng_op_end(struct plkv_ctx *ctx);
PLKV_HIDDEN bool eng_lock_if_needed(struct plkv_ctx *ctx, unsigned idx);
PLKV_HIDDEN uint32_t eng_hash(const void *key, size_t n);

/* ---- slabs.c ---- */
PLKV_HIDDEN unsigned slab_clsid(const struct plkv_engine *e, size_t ntotal);
PLKV_HIDDEN int slab_alloc(struct plkv_ctx *ctx, unsigned cls, uint64_t n,
			   unsigned dest, uint64_t req, bool may_evict);
PLKV_HIDDEN void slab_free(struct plkv_ctx *ctx, plkv_off_t first,
			   uint64_t n, uint64_t dest);
PLKV_HIDDEN bool slab_valid_chunk(const struct plkv *kv, plkv_off_t off,
				  unsigned *cls);
PLKV_HIDDEN void slab_repair(struct plkv_ctx *ctx, unsigned cls,
			     struct plkv_oprec *dead);
PLKV_HIDDEN uint64_t slab_free_pages(const struct plkv *kv);
PLKV_HIDDEN bool slab_page_in_pool(const struct plkv *kv, uint64_t page);

/* ---- items.c ---- */
PLKV_HIDDEN size_t item_ntotal(size_t nkey, size_t nbytes);
PLKV_HIDDEN bool item_is_chunked_size(const struct plkv_engine *e,
				      size_t nkey, size_t nbytes);
PLKV_HIDDEN int item_alloc(struct plkv_ctx *ctx, const char *key,
			   size_t nkey, size_t nbytes, uint32_t flags,
			   int64_t exptime, uint32_t hv);
PLKV_HIDDEN void item_write(const struct plkv *kv, struct plkv_item *it,
			    size_t off, const void *src, size_t n);
PLKV_HIDDEN void item_read(const struct plkv *kv, struct plkv_item *it,
			   size_t off, void *dst, size_t n);
PLKV_HIDDEN void item_copy_between(const struct plkv *kv,
				   struct plkv_item *dst, size_t dst_off,
				   struct plkv_item *src, size_t n);
PLKV_HIDDEN uint64_t item_nchunks(const struct plkv *kv,
				  const struct plkv_item *it);
PLKV_HIDDEN plkv_off_t item_chain(const struct plkv *kv,
				  struct plkv_item *it);
PLKV_HIDDEN void item_free_unlinked(struct plkv_ctx *ctx, plkv_off_t it,
				  uint64_t dest);
PLKV_HIDDEN void item_free_owned(struct plkv_ctx *ctx, uint32_t slot);
PLKV_HIDDEN void item_txn(struct plkv_ctx *ctx);
PLKV_HIDDEN void item_txn_resolve(struct plkv_ctx *ctx, uint32_t slot);
PLKV_HIDDEN void item_evict_resolve(struct plkv_ctx *ctx, uint32_t slot);
PLKV_HIDDEN void item_unlink_evict(struct plkv_ctx *ctx, unsigned cls,
				   struct plkv_item *it);
PLKV_HIDDEN void item_digits(struct plkv_item *it, uint64_t v);
PLKV_HIDDEN void item_overwrite(struct plkv_item *y,
				const struct plkv_oprec *r, const char *stage);
PLKV_HIDDEN int64_t item_realtime(struct plkv_ctx *ctx, int64_t exptime);
PLKV_HIDDEN uint64_t item_size(const struct plkv_item *it);

/* ---- assoc.c ---- */
PLKV_HIDDEN int assoc_walk_stripe(struct plkv_ctx *ctx, unsigned s,
				  int (*fn)(void *arg, struct plkv_item *it),
				  void *arg);
/* plkv_dump(): the live items of stripe s appended to *out (grown as
 * needed, *n of *cap used), under the stripe's lock. */
PLKV_HIDDEN int eng_dump_stripe(struct plkv_ctx *ctx, unsigned s,
				struct plkv_dump_item **out, size_t *n,
				size_t *cap);
PLKV_HIDDEN struct plkv_item *assoc_find(struct plkv_ctx *ctx,
					 const char *key, size_t nkey,
					 uint32_t hv);
PLKV_HIDDEN bool assoc_contains(const struct plkv *kv, uint32_t hv,
				plkv_off_t it);
PLKV_HIDDEN void assoc_swap(struct plkv_ctx *ctx, uint32_t hv,
			    plkv_off_t old, plkv_off_t new);
PLKV_HIDDEN void assoc_maybe_grow(struct plkv_ctx *ctx);
PLKV_HIDDEN int assoc_expand_step(struct plkv_ctx *ctx, unsigned budget)
	__attribute__((noinline));
PLKV_HIDDEN void assoc_migrate_resolve(struct plkv_ctx *ctx, uint32_t slot);
PLKV_HIDDEN void assoc_repair_expand(struct plkv_ctx *ctx, uint32_t slot);

/* After a read, outside its locks: help a growing table along (inline:
 * every get pays this one load). */
static inline void eng_after_read(struct plkv_ctx *ctx)
{
	if (unlikely(HS_EXPANDING(atomic_load_explicit(
			&eng(ctx->kv)->hash_state, memory_order_relaxed))))
		assoc_expand_step(ctx, ENG_GROW_STEP);
}

/* ---- lru.c ---- */
PLKV_HIDDEN unsigned item_lru_class(const struct plkv_item *it);
PLKV_HIDDEN void lru_link(struct plkv_ctx *ctx, struct plkv_item *it);
PLKV_HIDDEN void lru_unlink_locked(struct plkv_ctx *ctx, unsigned cls,
				   struct plkv_item *it);
PLKV_HIDDEN void lru_unlink(struct plkv_ctx *ctx, struct plkv_item *it);
PLKV_HIDDEN void lru_bump(struct plkv_ctx *ctx, struct plkv_item *it);
PLKV_HIDDEN bool lru_evict(struct plkv_ctx *ctx, unsigned cls,
			   bool may_evict);
PLKV_HIDDEN int lru_evict_item(struct plkv_ctx *ctx, unsigned cls,
			       struct plkv_item *it);
PLKV_HIDDEN unsigned lru_crawl(struct plkv_ctx *ctx, unsigned cls,
			       unsigned budget, bool maintainer);
PLKV_HIDDEN void lru_repair(struct plkv_ctx *ctx, unsigned cls,
			    struct plkv_oprec *dead);
PLKV_HIDDEN bool lru_contains(const struct plkv *kv, unsigned cls,
			      plkv_off_t it, unsigned *seg);
PLKV_HIDDEN void lru_ensure(struct plkv_ctx *ctx, plkv_off_t it, bool in);

/* ---- ops.c ---- */
/* A plain get (eng_get_plain(), and eng_get() without options) helps a
 * growing table along itself, as eng_after_read() would; after a read
 * with options the caller does. */
PLKV_HIDDEN int eng_get(struct plkv_ctx *ctx, const char *key, size_t nkey,
			const struct plkv_read *r, void *buf, size_t cap,
			struct plkv_meta *meta, int64_t *prev_exptime);
PLKV_HIDDEN int eng_peek(struct plkv_ctx *ctx, const char *key, size_t nkey,
			 struct plkv_meta *meta);
PLKV_HIDDEN int eng_store(struct plkv_ctx *ctx, int mode, const char *key,
			  size_t nkey, const void *val, size_t vlen,
			  uint32_t flags, int64_t exptime, uint64_t cas_in,
			  uint64_t *cas_out);
PLKV_HIDDEN int eng_arith(struct plkv_ctx *ctx, const char *key,
			  size_t nkey, const struct plkv_arith *a,
			  uint64_t *result, struct plkv_meta *meta,
			  int64_t *prev_exptime);
PLKV_HIDDEN int eng_delete(struct plkv_ctx *ctx, const char *key,
			   size_t nkey, uint64_t cas, unsigned flags,
			   int64_t exptime);
PLKV_HIDDEN int eng_touch(struct plkv_ctx *ctx, const char *key,
			  size_t nkey, int64_t exptime);
PLKV_HIDDEN int eng_flush(struct plkv_ctx *ctx, int64_t delay);
PLKV_HIDDEN int eng_maintain(struct plkv_ctx *ctx, unsigned budget);
PLKV_HIDDEN int eng_get_plain(struct plkv_ctx *ctx, const char *key,
			      size_t nkey, void *buf, size_t cap,
			      struct plkv_meta *meta);
/* After a command, outside its locks: growth and crawler steps. */
PLKV_HIDDEN void eng_after_op(struct plkv_ctx *ctx, bool mutated);

/* ---- stats.c ---- */
struct eng_statbuf {
	size_t n, cap;
	size_t need;			/* entries of the report: > cap when
					 * it did not fit */
	char (*name)[48];
	char (*value)[48];
};
enum { ENG_STATS_GENERAL, ENG_STATS_SLABS, ENG_STATS_ITEMS,
       ENG_STATS_SETTINGS };
/* The group a stats name asks for (NULL or "": general), or -EINVAL;
 * outside the gate. */
PLKV_HIDDEN int eng_stats_group(const char *group);
/* The report of group into sb's arrays, counting in sb->need what did not
 * fit. */
PLKV_HIDDEN int eng_stats_collect(struct plkv_ctx *ctx, int group,
				  struct eng_statbuf *sb);
PLKV_HIDDEN void eng_statbuf_free(struct eng_statbuf *sb);
PLKV_HIDDEN void eng_stats_reset(struct plkv_ctx *ctx);
PLKV_HIDDEN uint64_t eng_curr_items(struct plkv_ctx *ctx, uint64_t *bytes);

/* ---- check.c ---- */
PLKV_HIDDEN int eng_check(struct plkv_ctx *ctx, char *msg, size_t cap);

#endif /* PLKV_ENGINE_H */
