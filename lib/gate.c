/* SPDX-License-Identifier: MIT */
/*
 * The call gate.
 *
 * Outside a library call, PKRU denies the segment's protection key in
 * every thread: a stray pointer in the application faults (SEGV_PKUERR)
 * instead of corrupting the store.  plkv_enter() grants the key with one
 * WRPKRU and plkv_leave() takes it away again; no system call on either
 * side.  Threads created outside a call start with the key denied (a
 * new thread inherits its creator's PKRU).
 *
 * Enter also does the rare work out of line: registers the thread's slot
 * on first use, recovers a call of this thread that was abandoned (a
 * signal handler longjmp'ed out of it: the slot's op record is not idle)
 * or refuses a call from a handler that interrupted one still running,
 * and recovers processes that died since we last looked (the module's
 * death generation moved; on the user backend, a liveness scan at most
 * once a second).
 *
 * The key is granted and revoked by the checked WRPKRU sequences of
 * pkru.h, inlined at each gate; a protected store's handle lives in the
 * trust region (trust.c), and the thread state here, in the heap, is
 * checked against the segment's slot records, not believed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "backend.h"
#include "calls.h"

static void tls_destroy(void *p);

/*
 * The calling thread's record for the handle it used last (.last): most
 * threads use one store, and this spares pthread_getspecific() on every
 * call.  Never NULL (plkv_tls_none), so that the one test before the
 * grant, "a record of this handle", reads it unconditionally.  It is
 * trusted only for the same open (id), since a closed handle's address
 * can come back from the next plkv_open().  And the clock's cache.
 * initial-exec: one load through %fs instead of a __tls_get_addr() call;
 * 24 bytes fit the static TLS that glibc keeps for libraries opened
 * later (dlopen).
 */
struct plkv_tls plkv_tls_none;

__thread struct plkv_thread_state plkv_this_thread
	__attribute__((tls_model("initial-exec"))) = { .last = &plkv_tls_none };

int64_t plkv_clock_read(const struct plkv *kv, uint64_t tsc)
{
	bool granted = plkv_gate_suspend(kv);
	struct timespec ts = { 0 };

	/* (the vDSO's text can be patched through /proc/self/mem) */
	plkv_sys3(SYS_clock_gettime, CLOCK_REALTIME_COARSE, (long)&ts, 0);
	plkv_gate_resume(granted);
	plkv_this_thread.clock.tsc = tsc;
	plkv_this_thread.clock.sec = ts.tv_sec;
	return ts.tv_sec;
}

struct plkv_tls *plkv_tls_prepare(struct plkv *kv)
{
	struct plkv snap;
	struct plkv_tls *t;

	/* On a call stack the C library may not run: the call starts over
	 * from its stub, which prepares before it grants (calls.S).  (The
	 * stub did prepare; a handler's call since, or the client, changed
	 * the record it left.) */
	if (plkv_on_call_stack()) {
		plkv_call_stack()->again = 1;
		return NULL;
	}

	plkv_kv_snapshot(kv, &snap);	/* its pthread key */
	t = pthread_getspecific(snap.tkey);
	if (plkv_tls_usable(t) && t->kv == kv) {
		/* the record in this open's key is this open's: an id of
		 * another was the client's rewrite (kept at 0: never
		 * registered).  Its slot is checked after the grant, and
		 * kept if it is still ours. */
		if (t->kv_id)
			t->kv_id = snap.id;
	} else {
		/* the call registers it (its id and slot, inside) */
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->kv = kv;
		if (pthread_setspecific(snap.tkey, t)) {
			free(t);
			return NULL;
		}
	}
	plkv_this_thread.last = t;
	return t;
}

static void tls_forget(struct plkv_tls *t)
{
	if (plkv_this_thread.last == t)
		plkv_this_thread.last = &plkv_tls_none;
}

/* Take a fresh thread slot for t and make its record ours. */
static int slot_take(struct plkv *kv, struct plkv_tls *t, bool recovery)
{
	struct plkv_slot *rec;
	uint32_t slot;
	int rc;

	/* a handle the module never confirmed (jumped into, or its open
	 * interrupted) claims no slot: its id is nobody's */
	if (kv->pid == PLKV_PID_UNSTAMPED)
		return -EIO;
	rc = kv->ops->thread_register(kv, &slot, recovery);
	if (rc)
		return rc;
	if (!slot || slot >= PLKV_MAX_THREADS)
		return -EIO;
	t->slot = slot;
	rec = plkv_slot_rec(kv, slot);
	/* pid was set by the user backend's claim; the module only keeps
	 * its own record, so fill ours for liveness and plkvctl. */
	rec->pid = kv->pid;
	rec->tid = t->tid;
	rec->start_time = kv->start_time;
	plkv_zero(&rec->op, sizeof(rec->op));
	plkv_zero(rec->stat, sizeof(rec->stat));
	rec->in_call = 0;
	atomic_store((_Atomic uint32_t *)&rec->state, PLKV_SLOT_ACTIVE);
	return 0;
}

/* ctx's slot fields for t's (just taken or checked) slot. */
static void ctx_set_slot(struct plkv_ctx *ctx, struct plkv_tls *t)
{
	ctx->slot = t->slot;
	ctx->rec = plkv_slot_rec(ctx->kv, t->slot);
}

/* Give ctx's slot back (gate open): its counters go to the global stats
 * first. */
static void slot_put(struct plkv_ctx *ctx)
{
	ctx->kv->hooks->retire_slot(ctx, ctx->slot);
	atomic_store((_Atomic uint32_t *)&ctx->rec->state, PLKV_SLOT_FREE);
	ctx->kv->ops->thread_unregister(ctx->kv, ctx->slot);
}

/*
 * Every ordinary slot is taken.  Recovery runs on a slot, so if dead
 * processes hold them all, nobody could ever recover them: recover on one
 * of the slots kept for that (PLKV_RECOVERY_SLOTS), give it back, and
 * let the caller try again.  0 when a death was recovered.
 */
static int recover_on_spare_slot(struct plkv *kv, struct plkv_tls *t)
{
	struct plkv_ctx ctx = { .kv = kv, .t = t, .now = plkv_clock(kv) };
	int rc = slot_take(kv, t, true), n;

	if (rc)
		return rc;
	ctx_set_slot(&ctx, t);
	n = plkv_recover_dead(&ctx);
	slot_put(&ctx);
	return n > 0 ? 0 : -ENOSPC;
}

/* The thread's record t (plkv_tls_prepare()'s) made this open's, on a
 * slot of its own, in place. */
static int tls_register(struct plkv *kv, struct plkv_tls *t)
{
	bool granted;
	int rc;

	t->kv_id = kv->id;
	t->call_cfa = 0;
	granted = plkv_gate_suspend(kv);	/* no system call granted */
	t->tid = (uint32_t)plkv_sys3(SYS_gettid, 0, 0, 0);
	plkv_gate_resume(granted);
	rc = slot_take(kv, t, false);
	if (rc == -ENOSPC && recover_on_spare_slot(kv, t) == 0)
		rc = slot_take(kv, t, false);
	if (rc)
		t->kv_id = 0;	/* the next call tries again */
	return rc;
}

/* Give the thread's slot back, outside any call. */
void plkv_tls_release__impl(struct plkv_tls *t)
{
	struct plkv *kv = t->kv;
	struct plkv_ctx ctx = { .t = t, .now = plkv_clock(kv) };

	kv = plkv_gate_open(kv);
	ctx.kv = kv;
	/* (t is written through: what a jump to the grant brings for it is
	 * checked after) */
	PLKV_AFTER_GRANT1(t);
	if (plkv_tls_usable(t) && plkv_tls_rec(kv, t)) {
		ctx_set_slot(&ctx, t);
		slot_put(&ctx);
	}
	plkv_gate_close(kv);
}

static int gate_recover_abandoned(struct plkv_ctx *ctx);

void plkv_slot_shared(const struct plkv *kv)
{
	plkv_gate_close(kv);
	plkv_kill_self("a strict store's thread slot in two calls at once "
		       "(or a call abandoned by a longjmp)");
}

/* A thread's exit: its call abandoned by a longjmp recovered, its slot
 * given back (the gates of tls_destroy()). */
void plkv_tls_destroy_granted__impl(struct plkv_tls *t)
{
	struct plkv_ctx ctx = { .t = t };
	struct plkv_slot *rec;
	struct plkv *kv;

	if (!plkv_tls_usable(t))
		return;
	ctx.now = plkv_clock(t->kv);
	/* A thread that exits after a longjmp out of a call must not leave
	 * its locks held for as long as its process lives.  (Its record is
	 * in the segment, the handle maybe in the trust region: read both
	 * inside the gate.) */
	kv = plkv_gate_open(t->kv);
	ctx.kv = kv;
	PLKV_AFTER_GRANT1(t);
	if (!plkv_tls_usable(t)) {
		plkv_gate_close(kv);
		return;
	}
	if (kv->base) {
		rec = plkv_tls_rec(kv, t);
		if (rec && (t->call_cfa || rec->op.state)) {
			ctx_set_slot(&ctx, t);
			gate_recover_abandoned(&ctx);
		}
		plkv_gate_close(kv);
		plkv_tls_release(t);
	} else {
		plkv_gate_close(kv);
	}
}

static void tls_destroy(void *p)
{
	struct plkv_tls *t = p;

	if (!plkv_tls_usable(t))
		return;		/* not ours: the client set the key's value */
	plkv_tls_destroy_granted(t);
	tls_forget(t);
	free(t);
}

int plkv_tls_init(struct plkv *kv)
{
	return -pthread_key_create(&kv->tkey, tls_destroy);
}

/* At close: release the calling thread's slot now (others' at their exit
 * would touch an unmapped segment, so close forgets them: see open.c). */
void plkv_tls_fini(struct plkv *kv)
{
	struct plkv snap;
	struct plkv_tls *t;

	plkv_kv_snapshot(kv, &snap);	/* kv may be out of reach here */
	t = pthread_getspecific(snap.tkey);
	if (plkv_tls_usable(t)) {
		plkv_tls_release(t);
		pthread_setspecific(snap.tkey, NULL);
		tls_forget(t);
		free(t);
	}
	pthread_key_delete(snap.tkey);
}

/* The slot belongs to the parent, which releases it; the child only
 * frees its copy of the thread state. */
void plkv_tls_abandon(struct plkv *kv)
{
	struct plkv_tls *t = pthread_getspecific(kv->tkey);

	if (plkv_tls_usable(t)) {
		pthread_setspecific(kv->tkey, NULL);
		tls_forget(t);
		free(t);
	}
	pthread_key_delete(kv->tkey);
}

/*
 * A call of this thread was abandoned mid-way.  Treat the old slot as a
 * dead thread's: take a fresh slot and recover the old one exactly as a
 * survivor would (which marks its locks died and takes them over).
 */
static int gate_recover_abandoned(struct plkv_ctx *ctx)
{
	struct plkv *kv = ctx->kv;
	struct plkv_tls *t = ctx->t;
	uint32_t old = t->slot;
	int rc;

	/* On a strict store a call abandoned by this thread and a call still
	 * running in another that names the same slot look alike: recovering
	 * the second would undo it under its feet. */
	if (kv->strict)
		plkv_slot_shared(kv);
	atomic_store((_Atomic uint32_t *)&ctx->rec->state,
		     PLKV_SLOT_RECOVERING);
	rc = slot_take(kv, t, false);
	if (rc) {
		t->slot = old;
		return rc;
	}
	ctx_set_slot(ctx, t);
	t->call_cfa = 0;
	plkv_recover_slot(ctx, old);
	kv->ops->thread_unregister(kv, old);
	return 0;
}

/*
 * No signal frame fits in less: the kernel skips the 128-byte red zone
 * and writes siginfo (128), the ucontext (over 300) and the FPU state (512
 * at the least) below the stack pointer it interrupted.
 */
#define PLKV_SIGFRAME_MIN	1024

/*
 * This thread's record says a call of it is in progress.  Is it still
 * running, interrupted by a signal whose handler now calls the library?
 * Then recovering it would roll it back or forward under its feet, and
 * the new call is refused (-EDEADLK, as any non-reentrant lock would).
 * Or did a handler longjmp out of it?  Then it is abandoned, and
 * recovered.  Nothing records a handler's entry or a longjmp, so the
 * stack tells, from cfa, the frame of the function calling now:
 * - on the alternate signal stack while the call was made off it: a
 *   handler runs, and the call is under it;
 * - less than a signal frame below the call's frame (the usual retry
 *   after a longjmp calls from that frame or one above it): the call's
 *   frames are gone;
 * - further down: the call is live if its return address is still in
 *   place.  A longjmp and then a call from deeper down that happens to
 *   leave those 8 bytes alone reads as live as well: that call is refused
 *   until one from higher up, or the thread's exit, recovers the old one.
 * With the key dropped (system calls), and the read through
 * process_vm_readv(): the frame address is the client's to forge, and
 * must neither fault the library nor probe the segment.
 */
static bool gate_call_running(struct plkv *kv, const struct plkv_tls *t,
			      uintptr_t cfa)
{
	uintptr_t old = t->call_cfa, word = 0;
	struct iovec here = { &word, sizeof(word) };
	struct iovec there = { (void *)(old - sizeof(word)), sizeof(word) };
	bool granted = plkv_gate_suspend(kv), running;
	stack_t alt;

	if (!plkv_sys3(SYS_sigaltstack, 0, (long)&alt, 0) &&
	    (alt.ss_flags & SS_ONSTACK) &&
	    (old < (uintptr_t)alt.ss_sp ||
	     old > (uintptr_t)alt.ss_sp + alt.ss_size))
		running = true;
	else
		running = cfa + PLKV_SIGFRAME_MIN <= old &&
			  plkv_sys6(SYS_process_vm_readv,
				    plkv_sys3(SYS_getpid, 0, 0, 0),
				    (long)&here, 1, (long)&there, 1, 0) ==
				  sizeof(word) &&
			  word == t->call_ret;
	plkv_gate_resume(granted);
	return running;
}

/*
 * Backends that find deaths by polling owners (the user backend) scan
 * once a second for the whole segment, not once per process: the first
 * call in a new second to win this compare-and-swap scans, and a death it
 * finds moves death_gen, which every process's next call sees.  n
 * attached processes then cost one scan a second, not n.
 */
static bool scan_claim(struct plkv *kv, int64_t now)
{
	_Atomic int64_t *t = (_Atomic int64_t *)&kv->hdr->scan_time;
	int64_t seen = atomic_load_explicit(t, memory_order_relaxed);

	return seen != now && atomic_compare_exchange_strong(t, &seen, now);
}

static int gate_slow(struct plkv *kv, struct plkv_ctx *ctx, uintptr_t cfa,
		     uintptr_t ret)
{
	uint32_t gen;
	int rc;

	/* The record must be one the client could have made for this open
	 * (it was read before the grant, which a jump skips). */
	if (!plkv_tls_usable(ctx->t) || ctx->t->kv != kv)
		return -EFAULT;
	/* Left by a closed open whose handle address this one reuses (the
	 * other thread closed it): not in this open's pthread key, so the
	 * thread's exit would not give its slot back.  Forgotten; the call
	 * starts again and finds (or makes) the right one before the grant.
	 * The old record stays allocated: a closed open's records are
	 * nobody's to free (the close deleted their key). */
	if (ctx->t->kv_id && ctx->t->kv_id != kv->id) {
		tls_forget(ctx->t);
		return PLKV_ENTER_AGAIN;
	}
	/* New (made by plkv_tls_prepare()), or not naming a slot of ours
	 * (rewritten by the client, or taken back by survivors): a slot of
	 * its own. */
	if (!ctx->t->kv_id || !plkv_tls_rec(kv, ctx->t)) {
		rc = tls_register(kv, ctx->t);
		if (rc)
			return rc;
	}
	ctx_set_slot(ctx, ctx->t);
	if (ctx->t->call_cfa && gate_call_running(kv, ctx->t, cfa))
		return -EDEADLK;
	if (ctx->t->call_cfa || plkv_ctx_op(ctx)->state) {
		rc = gate_recover_abandoned(ctx);
		if (rc)
			return rc;
	}
	/* In progress from here: a handler's call during the recoveries
	 * below must find it running */
	ctx->t->call_cfa = cfa;
	ctx->t->call_ret = ret;
	if (kv->polls_liveness &&
	    atomic_exchange(&kv->last_scan, ctx->now) != ctx->now &&
	    scan_claim(kv, ctx->now))
		kv->ops->procs(kv, NULL, 0);	/* marks deaths: death_gen */
	gen = atomic_load((_Atomic uint32_t *)&kv->khdr->death_gen);
	if (gen != kv->death_gen_seen) {
		kv->death_gen_seen = gen;
		if (!kv->no_recover)
			plkv_recover_dead(ctx);
	}
	return 0;
}

/* Everything but the common case: first call of a thread, an abandoned
 * call to recover, deaths to look for or to recover. */
int plkv_enter_slow(struct plkv *kv, struct plkv_ctx *ctx, uintptr_t cfa,
		    uintptr_t ret)
{
	int rc;

	rc = gate_slow(kv, ctx, cfa, ret);
	if (rc)
		plkv_gate_close(kv);
	return rc;
}

