/* SPDX-License-Identifier: MIT */
/*
 * Robust lock words: the lock table's words, their release counts for
 * optimistic readers, and the locks built on them (lock.c).
 */
#ifndef PLKV_LOCKWORD_H
#define PLKV_LOCKWORD_H

#include "compiler.h"
#include "handle.h"

/* Lock idx's word, as an offset in the segment (the module's key for
 * its waiters) and in this process. */
static inline uint64_t plkv_lock_off(unsigned idx)
{
	return PLKV_LOCK_TABLE_OFF + (uint64_t)idx * PLKV_LOCK_STRIDE;
}

static inline _Atomic uint32_t *plkv_lockword(const struct plkv *kv,
					      unsigned idx)
{
	return (_Atomic uint32_t *)(kv->base + plkv_lock_off(idx));
}

/*
 * Optimistic readers, seqlock style: the word after each lock word, in
 * its cache line, counts the lock's releases (plkv_unlock() bumps it), so
 * a reader that copies what a lock guards without taking it can tell
 * afterwards whether a holder came or went: plkv_read_begin() before,
 * plkv_read_valid() after.  Such a reader writes nothing shared, so
 * readers in different processes don't bounce the lock's cache line.
 * What it reads may be mid-change: it must bounds-check every offset
 * before following it and trust nothing until plkv_read_valid().  The
 * fences are for the compiler; x86 keeps loads in order with loads and
 * stores with stores, and a lock's compare-and-swap is a full barrier.
 */
static inline _Atomic uint32_t *plkv_lockword_seq(_Atomic uint32_t *w)
{
	return w + 1;
}

static inline _Atomic uint32_t *plkv_lockseq(const struct plkv *kv,
					     unsigned idx)
{
	return plkv_lockword_seq(plkv_lockword(kv, idx));
}

/* False while the lock is held: take it instead.  w is the lock's word
 * (plkv_lockword()), computed once for the pair. */
static inline bool plkv_read_begin(_Atomic uint32_t *w, uint32_t *seq)
{
	*seq = atomic_load_explicit(plkv_lockword_seq(w), memory_order_acquire);
	return atomic_load_explicit(w, memory_order_acquire) == 0;
}

/* True if no holder took the lock since plkv_read_begin(). */
static inline bool plkv_read_valid(_Atomic uint32_t *w, uint32_t seq)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(w, memory_order_relaxed) == 0 &&
	       atomic_load_explicit(plkv_lockword_seq(w),
				    memory_order_relaxed) == seq;
}

/*
 * plkv_lock() returns 0 with the lock held.  If the previous owner died
 * holding it, the lock is taken over and the engine's repair hook runs
 * (kv->hooks->repair_lock, which may take other locks) before plkv_lock()
 * returns, so callers always see a consistent structure.
 */
PLKV_HIDDEN void plkv_lock(struct plkv_ctx *ctx, unsigned idx);
PLKV_HIDDEN bool plkv_trylock(struct plkv_ctx *ctx, unsigned idx);
PLKV_HIDDEN void plkv_unlock(struct plkv_ctx *ctx, unsigned idx);

/*
 * An optimistic reader that must write (an LRU bump) takes the lock only
 * if it is free and no holder came or went since plkv_read_begin(): then
 * what it read is valid and stays so until plkv_unlock(), and it needn't
 * look it up again.  A lock whose owner died is left to plkv_lock(): the
 * dead owner may have changed things without a release.
 */
static inline bool plkv_read_upgrade(struct plkv_ctx *ctx, unsigned idx,
				     uint32_t seq)
{
	uint32_t free_word = 0;

	if (!atomic_compare_exchange_strong_explicit(
			plkv_lockword(ctx->kv, idx), &free_word, ctx->slot,
			memory_order_acquire, memory_order_relaxed))
		return false;
	if (atomic_load_explicit(plkv_lockseq(ctx->kv, idx),
				 memory_order_relaxed) == seq)
		return true;
	plkv_unlock(ctx, idx);
	return false;
}
PLKV_HIDDEN bool plkv_lock_held(struct plkv_ctx *ctx, unsigned idx);

#endif /* PLKV_LOCKWORD_H */
