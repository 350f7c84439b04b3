/* SPDX-License-Identifier: MIT */
/*
 * libplkv core, one header per concern: the segment's library header and
 * offsets (seg.h), thread slots and op records (slot.h), the process's
 * handle (handle.h), robust lock words (lockword.h), crash points
 * (crash.h); here the call gate, the engine's hooks and the recovery
 * driver.  The engine (engine.h) sits on top of this and never calls a
 * backend directly.
 *
 * Why offsets: every process maps the segment at its own address, so the
 * segment holds no pointers, only plkv_off_t offsets from its base (0 is
 * null: offset 0 is the kernel header, never an object).
 */
#ifndef PLKV_CORE_H
#define PLKV_CORE_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include <time.h>
#include <sys/types.h>

#include "plkv.h"
#include <linux/plkv.h>

#include "compiler.h"
#include "seg.h"
#include "slot.h"
#include "handle.h"
#include "lockword.h"
#include "crash.h"
#include "mem.h"
#include "pkru.h"
#include "sys.h"

/* ---- call gate (gate.c) ---- */

/*
 * Every public call that touches the segment runs between plkv_enter() and
 * plkv_leave().  Enter grants the segment's key (WRPKRU, no syscall),
 * finds the thread's slot (registering it on first use), recovers an
 * abandoned call of this thread and any process death noticed since the
 * last call, and reads the clock.  Leave revokes the key.
 */
PLKV_HIDDEN int plkv_enter_slow(struct plkv *kv, struct plkv_ctx *ctx,
				uintptr_t cfa, uintptr_t ret)
	__attribute__((cold, noinline));
/*
 * Before the grant, the calling thread's record for kv: found through its
 * pthread key, or allocated and set there (NULL: no memory).  The C
 * library's functions may be the client's own (mem.h), so they run here,
 * where the call has nothing yet that the library trusts, and never
 * inside the call.
 */
PLKV_HIDDEN struct plkv_tls *plkv_tls_prepare(struct plkv *kv)
	__attribute__((cold, noinline));
/* What .last holds when the thread has no record to offer: its kv is no
 * handle, so every call goes by plkv_tls_prepare(). */
extern PLKV_HIDDEN struct plkv_tls plkv_tls_none;
/* plkv_enter_slow()'s answer for a record left by a closed open whose
 * handle address this one reuses: the gate is closed again, and the
 * record for this open is found (or made) before a new grant. */
#define PLKV_ENTER_AGAIN	1
/*
 * A strict store's slot serves one call at a time: the thread state that
 * names it is in the client's heap, so two threads of a hostile process
 * can name one slot, and then one of them recovers the other's running
 * call as abandoned, or both write one op record.  The second to enter
 * kills the process (the survivors recover it as after any death).
 */
PLKV_HIDDEN void plkv_slot_shared(const struct plkv *kv)
	__attribute__((cold, noreturn));
/*
 * Unix seconds, as memcached's clock: whole seconds are all its times
 * need.  The vDSO's coarse clock costs no system call but is still a
 * twentieth of a get's instructions, so each thread reads it at most once
 * per PLKV_CLOCK_CYCLES of the TSC (a millisecond at 1 GHz, less on any
 * faster TSC) and keeps the second in between.  A TSC that went back (a
 * thread moved to another CPU) reads the clock again.
 */
#define PLKV_CLOCK_CYCLES	(1u << 20)

struct plkv_clock_cache {
	uint64_t tsc;		/* when sec was read */
	int64_t sec;
};

/* What the calling thread keeps for every call (gate.c), in one block:
 * each thread-local variable costs the call a load of its offset. */
struct plkv_thread_state {
	struct plkv_tls *last;	/* record for the handle used last */
	struct plkv_clock_cache clock;
};
extern PLKV_HIDDEN __thread struct plkv_thread_state plkv_this_thread
	__attribute__((tls_model("initial-exec")));
/* (read with kv's key dropped, by a system call of our own: sys.h) */
PLKV_HIDDEN int64_t plkv_clock_read(const struct plkv *kv, uint64_t tsc)
	__attribute__((cold, noinline));

/* The second into *now; true when the clock was read afresh (only then
 * can the second have turned). */
static inline bool plkv_clock_at(const struct plkv *kv, int64_t *now)
{
	uint64_t tsc = __builtin_ia32_rdtsc();

	if (likely(tsc - plkv_this_thread.clock.tsc < PLKV_CLOCK_CYCLES)) {
		*now = plkv_this_thread.clock.sec;
		return false;
	}
	*now = plkv_clock_read(kv, tsc);
	return true;
}

static inline int64_t plkv_clock(const struct plkv *kv)
{
	int64_t now;

	plkv_clock_at(kv, &now);
	return now;
}

/*
 * Inline, as every call's first step: the common case in a few loads (the
 * thread's record for this open, no call of it in progress or abandoned,
 * no death to look for).  Everything else is plkv_enter_slow()'s, which
 * leaves the thread's record (maybe a new slot) in ctx->t.
 */
/* The slot record t names, if it is one of ours: t lives in the client's
 * heap, so its slot number is only a claim. */
static inline struct plkv_slot *plkv_tls_rec(struct plkv *kv,
					     const struct plkv_tls *t)
{
	struct plkv_slot *rec = plkv_slot_rec(kv, t->slot &
						  (PLKV_MAX_THREADS - 1));

	return rec->pid == kv->pid ? rec : NULL;
}

static __attribute__((always_inline)) inline int
plkv_enter(struct plkv *kv, struct plkv_ctx *ctx)
{
	struct plkv_tls *t;
	struct plkv_slot *rec;
	bool scan_due;
	int64_t now;
	uintptr_t cfa, ret;

again:
	/* The caller's frame: always inlined, these are the API function's */
	cfa = (uintptr_t)__builtin_dwarf_cfa();
	ret = (uintptr_t)__builtin_return_address(0);
	t = plkv_this_thread.last;
	rec = NULL;
	scan_due = false;
	if (unlikely(t->kv != kv) && !(t = plkv_tls_prepare(kv)))
		return -ENOMEM;
	kv = plkv_gate_open(kv);
	/* The liveness scan's test (user backend: once a second) only when
	 * the clock is read afresh: the second can only have turned then,
	 * and a thread in calls reads it every PLKV_CLOCK_CYCLES. */
	if (unlikely(plkv_clock_at(kv, &now)))
		scan_due = kv->polls_liveness &&
			   atomic_load_explicit(&kv->last_scan,
						memory_order_relaxed) != now;
	ctx->kv = kv;
	ctx->now = now;
	/* The id alone names the open: ids are never reused, and a handle
	 * with a copied id is either this one or unprotected (no grant). */
	if (unlikely(scan_due || !plkv_tls_usable(t) || t->kv_id != kv->id ||
		     t->call_cfa ||
		     !(rec = plkv_tls_rec(kv, t)) || rec->op.state ||
		     kv->death_gen_seen !=
		     atomic_load_explicit((_Atomic uint32_t *)
					  &kv->khdr->death_gen,
					  memory_order_relaxed))) {
		int rc;

		ctx->t = t;
		rc = plkv_enter_slow(kv, ctx, cfa, ret);
		if (unlikely(rc == PLKV_ENTER_AGAIN))
			goto again;
		if (rc)
			return rc;
		t = ctx->t;
		rec = ctx->rec;
	}
	ctx->t = t;
	ctx->slot = t->slot;
	ctx->rec = rec;
	t->call_cfa = cfa;
	t->call_ret = ret;
	rec->call_since = (uint32_t)now;
	if (unlikely(kv->strict) &&
	    atomic_exchange_explicit((_Atomic uint32_t *)&rec->in_call, 1,
				     memory_order_acquire))
		plkv_slot_shared(kv);
	return 0;
}

static __attribute__((always_inline)) inline void
plkv_leave(struct plkv_ctx *ctx)
{
	/* read before the atomic store, which the compiler won't read
	 * ctx across */
	struct plkv_slot *rec = ctx->rec;
	struct plkv_tls *t = ctx->t;
	struct plkv *kv = ctx->kv;

	t->call_cfa = 0;
	atomic_store_explicit((_Atomic uint64_t *)&rec->call_word, 0,
			      memory_order_release);
	plkv_gate_close(kv);
}

/*
 * After plkv_enter(): the arguments a call is about to check, as the
 * registers hold them now.  The compiler must then check them after the
 * grant rather than reuse a check made before it, which a jump straight
 * to the granting WRPKRU (with registers and a stack of the client's
 * choosing) would skip.
 */
#define PLKV_AFTER_GRANT5(a, b, c, d, e)				\
	__asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e))
#define PLKV_AFTER_GRANT2(a, b)					\
	__asm__ volatile("" : "+r"(a), "+r"(b))
#define PLKV_AFTER_GRANT1(a)	__asm__ volatile("" : "+r"(a))

/*
 * plkv_enter() for a public call with no other argument to check before
 * the gate.  The NULL test stays out of plkv_enter(): the data calls test
 * the handle with their key, before the gate, and their path should not
 * pay for a second test.
 */
static inline int plkv_enter_kv(struct plkv *kv, struct plkv_ctx *ctx)
{
	return kv ? plkv_enter(kv, ctx) : -EINVAL;
}
PLKV_HIDDEN int plkv_tls_init(struct plkv *kv);
PLKV_HIDDEN void plkv_tls_fini(struct plkv *kv);
/* In a forked child: drop the inherited thread state unreleased. */
PLKV_HIDDEN void plkv_tls_abandon(struct plkv *kv);

/* ---- engine hooks (implemented in the engine) ---- */

/* Bytes the engine needs for these options (sizes the segment). */
PLKV_HIDDEN uint64_t plkv_engine_size(const struct plkv_options *o);
/* The hash table's current log2 size, for plkv_info(). */
PLKV_HIDDEN uint32_t plkv_engine_hash_power(struct plkv *kv);
/* Lay out a fresh engine in [hdr->engine_off, hdr->size). */
PLKV_HIDDEN int plkv_engine_format(struct plkv *kv,
				   const struct plkv_options *opts);
/* Validate an existing engine when attaching. */
PLKV_HIDDEN int plkv_engine_attach(struct plkv *kv);
/*
 * What the engine does for core's recovery: core sits below the engine
 * and calls these only through kv->hooks, which plkv_engine_format() and
 * plkv_engine_attach() set.  Call sites that can reach them say so.
 */
struct plkv_engine_hooks {
	/*
	 * The owner of lock idx died (its slot dead_slot, whose op record
	 * is still intact).  Called with the lock held by ctx; make the
	 * structure the lock protects consistent again.
	 */
	void (*repair_lock)(struct plkv_ctx *ctx, unsigned idx,
			    uint32_t dead_slot);
	/*
	 * Roll the dead thread's operation (op record of dead_slot)
	 * forward or back, drop the item references it held, free what it
	 * had allocated but not linked.  Called holding no locks; may take
	 * any.  Must be idempotent: a recoverer can itself die half way
	 * and be recovered.
	 */
	void (*recover_slot)(struct plkv_ctx *ctx, uint32_t dead_slot);
	/* Fold a retiring slot's per-thread counters into the global
	 * stats. */
	void (*retire_slot)(struct plkv_ctx *ctx, uint32_t slot);
};
extern PLKV_HIDDEN const struct plkv_engine_hooks plkv_engine_hooks;

/* ---- recovery driver (recover.c) ---- */

/* Recover every dead process found; returns how many. */
PLKV_HIDDEN int plkv_recover_dead(struct plkv_ctx *ctx);
/* Recover one dead thread slot: its operation, its locks, its counters;
 * then free its record.  The caller owns the right to (a claim). */
PLKV_HIDDEN void plkv_recover_slot(struct plkv_ctx *ctx, uint32_t dead_slot);
/* Is the slot's owner process alive? (user backend liveness) */
PLKV_HIDDEN bool plkv_slot_alive(struct plkv *kv, uint32_t slot);
/* Map [off, off + len) of the segment into this process ahead of its
 * first touch (inside a call, the grant dropped), where the backend
 * gains by it. */
PLKV_HIDDEN void plkv_prefault(struct plkv_ctx *ctx, plkv_off_t off,
			       uint64_t len);

/* ---- misc ---- */

PLKV_HIDDEN uint64_t plkv_proc_start_time(pid_t pid);

#endif /* PLKV_CORE_H */
