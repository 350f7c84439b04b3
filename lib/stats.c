/* SPDX-License-Identifier: MIT */
/*
 * Statistics with memcached's names.
 *
 * Hot counters (hits, misses, sets...) live in each thread's slot record,
 * written only by their thread: the get path shares no cache line with
 * other threads.  A report sums the live slots and the global counters
 * that retired slots were folded into.  Per-class counters (evictions,
 * reclaims, LRU moves) are kept under the class's LRU lock.  Values are
 * collected inside the gate into a private buffer; the caller's callback
 * runs after the gate is left.  The buffer's arrays are allocated
 * outside the gate (a report that does not fit is collected again in a
 * larger one) and filled with the library's own formatting: nothing
 * outside libplkv runs with the key granted (mem.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine.h"

static __attribute__((format(printf, 3, 4))) int
sb_add(struct eng_statbuf *sb, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (sb->need++ >= sb->cap)
		return 0;	/* counted: the caller retries with more */
	plkv_fmt(sb->name[sb->n], sizeof(sb->name[0]), "%s", name);
	va_start(ap, fmt);
	plkv_vfmt(sb->value[sb->n], sizeof(sb->value[0]), fmt, ap);
	va_end(ap);
	sb->n++;
	return 0;
}

#define ADDU(sb, name, v) sb_add(sb, name, "%llu", (unsigned long long)(v))

void eng_statbuf_free(struct eng_statbuf *sb)
{
	free(sb->name);
	free(sb->value);
	memset(sb, 0, sizeof(*sb));
}

static void sum_threads(struct plkv_ctx *ctx, uint64_t st[ST_N])
{
	struct plkv *kv = ctx->kv;
	struct plkv_engine *e = eng(kv);
	unsigned i, s;

	for (i = 0; i < ST_N; i++)
		st[i] = atomic_load_explicit(&e->g_stat[i],
					     memory_order_relaxed);
	for (s = 1; s < PLKV_MAX_THREADS; s++) {
		struct plkv_slot *r = plkv_slot_rec(kv, s);

		if (__atomic_load_n(&r->state, __ATOMIC_RELAXED) ==
		    PLKV_SLOT_FREE)
			continue;
		for (i = 0; i < ST_N; i++)
			st[i] += __atomic_load_n(&r->stat[i], __ATOMIC_RELAXED);
	}
}

uint64_t eng_curr_items(struct plkv_ctx *ctx, uint64_t *bytes)
{
	struct plkv_engine *e = eng(ctx->kv);
	uint64_t n = 0, b = 0;
	unsigned c;

	for (c = 1; c <= e->nclasses; c++) {
		struct eng_lru *L = &e->lru[c];

		n += L->count[0] + L->count[1] + L->count[2];
		b += L->bytes;
	}
	if (bytes)
		*bytes = b;
	return n;
}

/* Bytes of slab pages in use by classes. */
static uint64_t malloced(const struct plkv_engine *e)
{
	uint64_t pages = 0;
	unsigned c;

	for (c = 1; c <= e->nclasses; c++)
		pages += e->cls[c].total_pages;
	return pages * ENG_PAGE_SIZE;
}

static uint64_t hash_bytes(uint64_t st)
{
	uint64_t b = (uint64_t)sizeof(plkv_off_t) << HS_POWER(st);

	if (HS_EXPANDING(st))
		b += b / 2;
	return b;
}

static int stats_general(struct plkv_ctx *ctx, struct eng_statbuf *sb)
{
	struct plkv_engine *e = eng(ctx->kv);
	uint64_t st[ST_N], bytes, items, total = 0, ev = 0, rec = 0, eu = 0,
		 xu = 0, hs = atomic_load(&e->hash_state);
	int64_t now = eng_now(ctx);
	unsigned c;

	sum_threads(ctx, st);
	total = st[ST_SET_INPLACE];
	items = eng_curr_items(ctx, &bytes);
	for (c = 1; c <= e->nclasses; c++) {
		total += e->lru[c].total_items;
		ev += e->lru[c].evicted;
		rec += e->lru[c].reclaimed;
		eu += e->lru[c].evicted_unfetched;
		xu += e->lru[c].expired_unfetched;
	}
	ADDU(sb, "pid", ctx->kv->pid);
	ADDU(sb, "uptime", now > e->created ? now - e->created : 0);
	ADDU(sb, "time", now);
	sb_add(sb, "version", "%s", PLKV_VERSION_STRING);
	ADDU(sb, "pointer_size", 8 * sizeof(void *));
	ADDU(sb, "cmd_get", st[ST_GET_HITS] + st[ST_GET_MISSES]);
	ADDU(sb, "cmd_set", st[ST_CMD_SET]);
	ADDU(sb, "cmd_flush", e->cmd_flush);
	ADDU(sb, "cmd_touch", st[ST_TOUCH_HITS] + st[ST_TOUCH_MISSES]);
	ADDU(sb, "get_hits", st[ST_GET_HITS]);
	ADDU(sb, "get_misses", st[ST_GET_MISSES]);
	ADDU(sb, "get_expired", st[ST_GET_EXPIRED]);
	ADDU(sb, "get_flushed", st[ST_GET_FLUSHED]);
	ADDU(sb, "delete_misses", st[ST_DELETE_MISSES]);
	ADDU(sb, "delete_hits", st[ST_DELETE_HITS]);
	ADDU(sb, "incr_misses", st[ST_INCR_MISSES]);
	ADDU(sb, "incr_hits", st[ST_INCR_HITS]);
	ADDU(sb, "decr_misses", st[ST_DECR_MISSES]);
	ADDU(sb, "decr_hits", st[ST_DECR_HITS]);
	ADDU(sb, "cas_misses", st[ST_CAS_MISSES]);
	ADDU(sb, "cas_hits", st[ST_CAS_HITS]);
	ADDU(sb, "cas_badval", st[ST_CAS_BADVAL]);
	ADDU(sb, "touch_hits", st[ST_TOUCH_HITS]);
	ADDU(sb, "touch_misses", st[ST_TOUCH_MISSES]);
	ADDU(sb, "limit_maxbytes", e->mem_limit);
	ADDU(sb, "hash_power_level", HS_POWER(hs));
	ADDU(sb, "hash_bytes", hash_bytes(hs));
	ADDU(sb, "hash_is_expanding", HS_EXPANDING(hs));
	ADDU(sb, "slab_global_page_pool", slab_free_pages(ctx->kv));
	ADDU(sb, "slabs_moved", e->slabs_moved);
	ADDU(sb, "total_malloced", malloced(e));
	ADDU(sb, "curr_items", items);
	ADDU(sb, "total_items", total);
	ADDU(sb, "expired_unfetched", xu);
	ADDU(sb, "evicted_unfetched", eu);
	ADDU(sb, "evictions", ev);
	ADDU(sb, "reclaimed", rec);
	ADDU(sb, "bytes", bytes);
	return 0;
}

/* A per-class statistic, named "<prefix><class>:<field>" as memcached's. */
static void add_class_stat(struct eng_statbuf *sb, const char *prefix,
			   unsigned c, const char *field, uint64_t v)
{
	char name[48];

	plkv_fmt(name, sizeof(name), "%s%u:%s", prefix, c, field);
	ADDU(sb, name, v);
}

static int stats_slabs(struct plkv_ctx *ctx, struct eng_statbuf *sb)
{
	struct plkv_engine *e = eng(ctx->kv);
	unsigned c, active = 0;

#define SLAB(field, v) add_class_stat(sb, "", c, field, v)
	for (c = 1; c <= e->nclasses; c++) {
		struct eng_class *k = &e->cls[c];
		uint64_t total = k->total_pages * k->perslab;
		/* read without the slab lock: one snapshot, kept in order */
		uint64_t free = k->free_count, end = eng_bump_left(k);

		if (!k->total_pages)
			continue;
		active++;
		free = free < total ? free : total;
		end = end < free ? end : free;
		SLAB("chunk_size", k->size);
		SLAB("chunks_per_page", k->perslab);
		SLAB("total_pages", k->total_pages);
		SLAB("total_chunks", total);
		SLAB("used_chunks", total - free);
		SLAB("free_chunks", free - end);
		SLAB("free_chunks_end", end);
		SLAB("mem_requested", k->mem_requested);
	}
#undef SLAB
	ADDU(sb, "active_slabs", active);
	ADDU(sb, "total_malloced", malloced(e));
	return 0;
}

static uint64_t tail_age(struct plkv_ctx *ctx, const struct eng_lru *L,
			 unsigned seg)
{
	struct plkv_item *t = item_at(ctx->kv, L->tail[seg]);
	int64_t now = eng_now(ctx);

	return t && now > t->time ? (uint64_t)(now - t->time) : 0;
}

static int stats_items(struct plkv_ctx *ctx, struct eng_statbuf *sb)
{
	struct plkv_engine *e = eng(ctx->kv);
	unsigned c;

#define ITEMS(field, v) add_class_stat(sb, "items:", c, field, v)
	for (c = 1; c <= e->nclasses; c++) {
		struct eng_lru *L = &e->lru[c];
		uint64_t n = L->count[0] + L->count[1] + L->count[2];

		if (!n && !L->total_items)
			continue;
		ITEMS("number", n);
		ITEMS("number_hot", L->count[LRU_HOT]);
		ITEMS("number_warm", L->count[LRU_WARM]);
		ITEMS("number_cold", L->count[LRU_COLD]);
		ITEMS("age_hot", tail_age(ctx, L, LRU_HOT));
		ITEMS("age_warm", tail_age(ctx, L, LRU_WARM));
		ITEMS("age", tail_age(ctx, L, LRU_COLD));
		ITEMS("mem_requested", e->cls[c].mem_requested);
		ITEMS("evicted", L->evicted);
		ITEMS("evicted_nonzero", L->evicted_nonzero);
		ITEMS("evicted_time", L->evicted_time);
		ITEMS("outofmemory", L->outofmemory);
		ITEMS("tailrepairs", 0);
		ITEMS("reclaimed", L->reclaimed);
		ITEMS("expired_unfetched", L->expired_unfetched);
		ITEMS("evicted_unfetched", L->evicted_unfetched);
		ITEMS("evicted_active", 0);
		ITEMS("moves_to_cold", L->moves_to_cold);
		ITEMS("moves_to_warm", L->moves_to_warm);
		ITEMS("moves_within_lru", L->moves_within_lru);
		ITEMS("total_items", L->total_items);
	}
#undef ITEMS
	return 0;
}

static int stats_settings(struct plkv_ctx *ctx, struct eng_statbuf *sb)
{
	struct plkv_engine *e = eng(ctx->kv);
	unsigned gf;

	ADDU(sb, "maxbytes", e->mem_limit);
	ADDU(sb, "item_size_max", e->item_size_max);
	gf = (unsigned)(e->growth_factor * 100 + 0.5);	/* "%.2f" */
	sb_add(sb, "growth_factor", "%u.%u%u", gf / 100, gf / 10 % 10,
	       gf % 10);
	ADDU(sb, "chunk_size", e->chunk_min);
	sb_add(sb, "evictions", "%s", e->no_evict ? "off" : "on");
	ADDU(sb, "hashpower_init", e->hash_power_init);
	ADDU(sb, "hashpower_max", e->hash_power_max);
	ADDU(sb, "slab_page_size", ENG_PAGE_SIZE);
	ADDU(sb, "slab_chunk_max", e->cls[e->nclasses].size);
	sb_add(sb, "cas_enabled", "yes");
	sb_add(sb, "flush_enabled", "yes");
	sb_add(sb, "lru_segmented", "yes");
	ADDU(sb, "hot_lru_pct", ENG_HOT_PCT);
	ADDU(sb, "warm_lru_pct", ENG_WARM_PCT);
	sb_add(sb, "lru_crawler", "amortized");
	sb_add(sb, "lru_maintainer_thread", "no");
	sb_add(sb, "slab_reassign", "yes");
	ADDU(sb, "slab_automove", 0);
	ADDU(sb, "item_lock_stripes", ENG_STRIPES);
	return 0;
}

int eng_stats_collect(struct plkv_ctx *ctx, int group,
		      struct eng_statbuf *sb)
{
	switch (group) {
	case ENG_STATS_GENERAL:
		return stats_general(ctx, sb);
	case ENG_STATS_SLABS:
		return stats_slabs(ctx, sb);
	case ENG_STATS_ITEMS:
		return stats_items(ctx, sb);
	case ENG_STATS_SETTINGS:
		return stats_settings(ctx, sb);
	}
	return -EINVAL;
}

int eng_stats_group(const char *group)
{
	if (!group || !*group || !strcmp(group, "general"))
		return ENG_STATS_GENERAL;
	if (!strcmp(group, "slabs"))
		return ENG_STATS_SLABS;
	if (!strcmp(group, "items"))
		return ENG_STATS_ITEMS;
	if (!strcmp(group, "settings"))
		return ENG_STATS_SETTINGS;
	return -EINVAL;
}

/*
 * stats reset.  Threads bump their own slot counters without atomics, so
 * those are never written from here: the global counters take minus the
 * current total instead (sums wrap, so the reported total becomes 0).
 * The globals are read before the slots: a slot retired in between (its
 * count folded into the globals) is then merely not reset, never counted
 * twice.  GLOBAL serialises resets.  The LRU and page counters are zeroed
 * under their own locks (GLOBAL stands alone in the lock order).
 */
void eng_stats_reset(struct plkv_ctx *ctx)
{
	struct plkv_engine *e = eng(ctx->kv);
	uint64_t st[ST_N];
	unsigned i, c;

	plkv_lock(ctx, ENG_LOCK_GLOBAL);
	sum_threads(ctx, st);
	for (i = 0; i < ST_N; i++)
		atomic_fetch_sub_explicit(&e->g_stat[i], st[i],
					  memory_order_relaxed);
	e->cmd_flush = 0;
	plkv_unlock(ctx, ENG_LOCK_GLOBAL);
	for (c = 1; c <= e->nclasses; c++) {
		struct eng_lru *L = &e->lru[c];
		uint64_t *zero[] = {
			&L->total_items, &L->evicted, &L->evicted_nonzero,
			&L->evicted_unfetched, &L->evicted_time,
			&L->expired_unfetched, &L->reclaimed,
			&L->outofmemory, &L->moves_to_cold, &L->moves_to_warm,
			&L->moves_within_lru,
		};

		plkv_lock(ctx, ENG_LOCK_LRU0 + c);
		for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
			__atomic_store_n(zero[i], 0, __ATOMIC_RELAXED);
		plkv_unlock(ctx, ENG_LOCK_LRU0 + c);
	}
	plkv_lock(ctx, ENG_LOCK_PAGES);
	e->slabs_moved = 0;
	plkv_unlock(ctx, ENG_LOCK_PAGES);
}
