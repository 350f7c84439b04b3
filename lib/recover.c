/* SPDX-License-Identifier: MIT */
/*
 * Recovery of dead processes.
 *
 * A death is noticed by the gate (the death generation moved, or the user
 * backend's once-a-second liveness scan), by a lock waiter (OWNER_DIED),
 * or by plkvctl recover.  Whoever notices lists the process records and,
 * for each DEAD one, tries to claim it: the claim is a single transition
 * DEAD -> RECOVERING (in the module, or a compare-and-swap in the segment's
 * table), so exactly one survivor recovers each process even when several
 * notice at once.  A claimer that dies itself leaves the record to go back
 * to DEAD, and the next survivor starts over: every step below is
 * idempotent.
 *
 * Per dead thread slot: the engine finishes or undoes the operation in the
 * slot's op record (taking over the dead slot's locks through the
 * OWNER_DIED protocol, which repairs each structure first), then any lock
 * word still naming the slot is taken over and released, then the slot's
 * counters are folded into the global stats and the slot is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

/*
 * Mark every lock word naming the dead slot OWNER_DIED before taking any
 * over (the module does this at a death; the user backend and abandoned
 * calls have no one else to): repairing one structure may need another
 * lock the slot held, and a waiter takes over only a marked word, since
 * an abandoned call's process is alive.
 */
static void recover_mark_locks(struct plkv *kv, uint32_t dead)
{
	unsigned i;

	for (i = 1; i < PLKV_LOCK_COUNT; i++) {
		_Atomic uint32_t *w = plkv_lockword(kv, i);
		uint32_t v = atomic_load(w);

		while ((v & PLKV_LOCK_OWNER_MASK) == dead &&
		       !(v & PLKV_LOCK_OWNER_DIED) &&
		       !atomic_compare_exchange_weak(w, &v,
						     v | PLKV_LOCK_OWNER_DIED))
			;
	}
}

/* Take over (the lock path repairs) and release every lock word still
 * naming the dead slot. */
static void recover_sweep_locks(struct plkv_ctx *ctx, uint32_t dead)
{
	unsigned i;

	recover_mark_locks(ctx->kv, dead);
	for (i = 1; i < PLKV_LOCK_COUNT; i++) {
		uint32_t v = atomic_load(plkv_lockword(ctx->kv, i));

		if ((v & PLKV_LOCK_OWNER_MASK) != dead)
			continue;
		plkv_lock(ctx, i);
		plkv_unlock(ctx, i);
	}
}

void plkv_recover_slot(struct plkv_ctx *ctx, uint32_t dead)
{
	struct plkv_slot *s = plkv_slot_rec(ctx->kv, dead);

	atomic_store((_Atomic uint32_t *)&s->state, PLKV_SLOT_RECOVERING);
	/* Locks first: the engine's recovery may need any of them, and a
	 * marked lock is repaired by whoever takes it. */
	recover_sweep_locks(ctx, dead);
	ctx->kv->hooks->recover_slot(ctx, dead);
	recover_sweep_locks(ctx, dead);
	ctx->kv->hooks->retire_slot(ctx, dead);
	plkv_zero(&s->op, sizeof(s->op));
	plkv_zero(s->stat, sizeof(s->stat));
	atomic_store((_Atomic uint32_t *)&s->state, PLKV_SLOT_FREE);
}

static int recover_proc(struct plkv_ctx *ctx, const struct plkv_proc_view *p)
{
	struct plkv *kv = ctx->kv;
	uint32_t slot;
	int rc;

	rc = kv->ops->claim(kv, p);
	if (rc)
		return rc;
	for (slot = 1; slot < PLKV_MAX_THREADS; slot++)
		if (p->slots[slot / 64] & (1ULL << (slot % 64)))
			plkv_recover_slot(ctx, slot);
	plkv_proc_rec_del(kv, ctx, p->pid);
	return kv->ops->reap(kv, p);
}

int plkv_recover_dead(struct plkv_ctx *ctx)
{
	struct plkv *kv = ctx->kv;
	struct plkv_proc_view *v;
	int n, i, done = 0;
	uint32_t gen;

	v = plkv_gate_calloc(kv, PLKV_MAX_PROCS, sizeof(*v));
	if (!v)
		return -ENOMEM;
	gen = atomic_load((_Atomic uint32_t *)&kv->khdr->death_gen);
	n = kv->ops->procs(kv, v, PLKV_MAX_PROCS);
	for (i = 0; i < n && i < PLKV_MAX_PROCS; i++) {
		if (v[i].state != PLKV_PROC_DEAD ||
		    v[i].pid == kv->pid)
			continue;
		if (recover_proc(ctx, &v[i]) == 0)
			done++;
	}
	plkv_gate_free(kv, v);
	kv->death_gen_seen = atomic_load((_Atomic uint32_t *)
					 &kv->khdr->death_gen);
	if (kv->death_gen_seen == gen)
		kv->ops->ack(kv, gen);
	return n < 0 ? n : done;
}
