/* SPDX-License-Identifier: MIT */
/*
 * Robust lock words.
 *
 * A lock is one 32-bit word in the segment's lock table: 0 when free, else
 * the owner's thread slot, plus WAITERS (someone sleeps on it) and
 * OWNER_DIED (its owner's process died holding it).  The fast path is one
 * compare-and-swap in userspace.  The slow path spins briefly, then sets
 * WAITERS and sleeps through the backend: futex(2) on the user backend,
 * the module's wait ioctl on the kmod backend.
 *
 * Why not pthread robust mutexes: their futex slow path fails on the kmod
 * backend's VM_PFNMAP mapping (EFAULT, glibc aborts), their robust list
 * lives in the dying thread's memory, and they say nothing about which
 * operation was half done.  Here the owner is a slot whose operation record
 * sits in the segment, so the next acquirer can repair exactly what the
 * dead owner was changing.
 *
 * Who marks OWNER_DIED: the module, for every word owned by a dead
 * process's slots; on the user backend, a waiter whose sleep times out and
 * finds the owner's process gone.  Taking over a died lock runs the
 * repair hook before plkv_lock() returns.
 */
#include <errno.h>
#include "backend.h"
#include "fmt.h"

#define SPIN_TRIES		100

static inline void cpu_relax(void)
{
	__builtin_ia32_pause();
}

static void lock_repair(struct plkv_ctx *ctx, unsigned idx, uint32_t dead)
{
	/* Core locks guard records that are written field by field with
	 * the state last; nothing to rebuild. */
	if (idx >= PLKV_LOCK_ENGINE_FIRST)
		ctx->kv->hooks->repair_lock(ctx, idx, dead);
}

/* Mark the word died if its owner's process is gone (user backend). */
static void lock_check_owner(struct plkv_ctx *ctx, _Atomic uint32_t *w,
			     uint32_t v)
{
	uint32_t owner = v & PLKV_LOCK_OWNER_MASK;

	if (!ctx->kv->polls_liveness || !owner ||
	    owner >= PLKV_MAX_THREADS || (v & PLKV_LOCK_OWNER_DIED))
		return;
	if (plkv_slot_alive(ctx->kv, owner))
		return;
	if (atomic_compare_exchange_strong(w, &v, v | PLKV_LOCK_OWNER_DIED))
		atomic_fetch_add((_Atomic uint32_t *)&ctx->kv->khdr->death_gen,
				 1);
}

/*
 * A thread asleep on another's lock is not the one holding things up:
 * while it sleeps its call clock (the slot's call_since, plkvctl procs'
 * "IN CALL", recover --kill-stuck) stops, so that only the holder looks
 * stuck.
 */
static uint32_t park(struct plkv_ctx *ctx)
{
	struct plkv_slot *rec = ctx->rec;
	uint32_t since = rec ? rec->call_since : 0;

	if (rec)
		rec->call_since = 0;
	return since;
}

static void unpark(struct plkv_ctx *ctx, uint32_t since)
{
	if (since && ctx->rec)
		ctx->rec->call_since = since;
}

static void lock_slow(struct plkv_ctx *ctx, unsigned idx,
		      _Atomic uint32_t *w)
{
	struct plkv *kv = ctx->kv;
	uint32_t me = ctx->slot, waiters = 0, since = 0;
	int64_t tmo = kv->ops->wait_ns;
	int spins = 0;

	for (;;) {
		uint32_t v = atomic_load_explicit(w, memory_order_relaxed);

		if (v == 0) {
			/* Having slept, we can't know whether others
			 * still sleep: keep WAITERS so unlock wakes. */
			if (atomic_compare_exchange_weak_explicit(w, &v,
					me | waiters, memory_order_acquire,
					memory_order_relaxed)) {
				unpark(ctx, since);
				return;
			}
			continue;
		}
		if (v & PLKV_LOCK_OWNER_DIED) {
			uint32_t dead = v & PLKV_LOCK_OWNER_MASK;

			if (atomic_compare_exchange_strong_explicit(w, &v,
					me | (v & PLKV_LOCK_WAITERS),
					memory_order_acquire,
					memory_order_relaxed)) {
				unpark(ctx, since);
				lock_repair(ctx, idx, dead);
				return;
			}
			continue;
		}
		if ((v & PLKV_LOCK_OWNER_MASK) == me) {
			char why[64];

			plkv_fmt(why, sizeof(why),
				 "lock %u taken twice by slot %u", idx, me);
			plkv_kill_self(why);
		}
		if (spins++ < SPIN_TRIES) {
			cpu_relax();
			continue;
		}
		if (!(v & PLKV_LOCK_WAITERS)) {
			if (!atomic_compare_exchange_weak(w, &v,
						v | PLKV_LOCK_WAITERS))
				continue;
			v |= PLKV_LOCK_WAITERS;
		}
		if (!waiters)
			since = park(ctx);
		waiters = PLKV_LOCK_WAITERS;
		if (kv->ops->wait(kv, idx, v, tmo) == -ETIMEDOUT)
			lock_check_owner(ctx, w, v);
	}
}

void plkv_lock(struct plkv_ctx *ctx, unsigned idx)
{
	_Atomic uint32_t *w = plkv_lockword(ctx->kv, idx);
	uint32_t free_word = 0;

	if (likely(atomic_compare_exchange_strong_explicit(w, &free_word,
			ctx->slot, memory_order_acquire,
			memory_order_relaxed)))
		return;
	lock_slow(ctx, idx, w);
}

bool plkv_trylock(struct plkv_ctx *ctx, unsigned idx)
{
	_Atomic uint32_t *w = plkv_lockword(ctx->kv, idx);
	uint32_t v = 0;

	if (atomic_compare_exchange_strong_explicit(w, &v, ctx->slot,
			memory_order_acquire, memory_order_relaxed))
		return true;
	/* A died lock is worth taking over now: nobody else will wait. */
	if ((v & PLKV_LOCK_OWNER_DIED) &&
	    atomic_compare_exchange_strong_explicit(w, &v,
			ctx->slot | (v & PLKV_LOCK_WAITERS),
			memory_order_acquire, memory_order_relaxed)) {
		lock_repair(ctx, idx, v & PLKV_LOCK_OWNER_MASK);
		return true;
	}
	return false;
}

void plkv_unlock(struct plkv_ctx *ctx, unsigned idx)
{
	_Atomic uint32_t *w = plkv_lockword(ctx->kv, idx);
	_Atomic uint32_t *seq = plkv_lockseq(ctx->kv, idx);
	uint32_t old;

	/* for optimistic readers (core.h): only the holder writes it */
	atomic_store_explicit(seq, atomic_load_explicit(seq,
			      memory_order_relaxed) + 1, memory_order_release);
	old = atomic_exchange_explicit(w, 0, memory_order_release);

	if (unlikely(old & PLKV_LOCK_WAITERS))
		ctx->kv->ops->wake(ctx->kv, idx, 1);
}

bool plkv_lock_held(struct plkv_ctx *ctx, unsigned idx)
{
	uint32_t v = atomic_load(plkv_lockword(ctx->kv, idx));

	return (v & PLKV_LOCK_OWNER_MASK) == ctx->slot &&
	       !(v & PLKV_LOCK_OWNER_DIED);
}
