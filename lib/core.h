/* SPDX-License-Identifier: MIT */
/*
 * libplkv core: the process-private handle, the segment's library header,
 * offsets, robust lock words, thread slots with their operation records,
 * the call gate, and the engine's hooks.  The engine (engine.h) sits on
 * top of this and never calls a backend directly.
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
#include <sys/types.h>

#include "plkv.h"
#include <linux/plkv.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define PLKV_HIDDEN	__attribute__((visibility("hidden")))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

typedef uint64_t plkv_off_t;

/* ---- the library header, at PLKV_SEG_LIB_OFF ---- */

#define PLKV_HDR_MAGIC		0x31474553564b4c50ULL	/* "PLKVSEG1" */
#define PLKV_FORMAT_VERSION	2	/* 2: PLKV_MAX_PROCS records */

enum plkv_hdr_state {
	PLKV_HDR_EMPTY = 0,
	PLKV_HDR_INITIALIZING = 1,	/* by init_pid */
	PLKV_HDR_READY = 2,
};

/* Core-owned lock indexes; the engine owns PLKV_LOCK_ENGINE_FIRST.. */
enum {
	PLKV_LOCK_PROCS = 1,		/* user backend's process table */
	PLKV_LOCK_RECOVERY = 2,		/* serialises process recovery */
	PLKV_LOCK_ENGINE_FIRST = 16,
};

#define PLKV_OPREC_WORDS	30	/* engine-defined words per op record */

/* A process attached to the segment (user backend: authoritative). */
struct plkv_proc_rec {
	uint32_t pid;
	uint32_t state;			/* enum plkv_proc_state, 0 = free */
	uint64_t start_time;		/* /proc/pid/stat starttime, ticks */
	int32_t pkey;
	uint32_t wrpkru_found;
	uint32_t recoverer;
	uint32_t pad;
};

/*
 * A thread's record of the operation it is in.  The engine writes its
 * intent here before touching shared structures, so that a recoverer can
 * roll the operation forward or back after the thread died at any
 * instruction.  state != 0 at a gate entry by the same thread means the
 * previous call was abandoned (a signal handler longjmp'ed out).
 */
struct plkv_oprec {
	uint32_t state;			/* 0 idle, else in an operation */
	uint32_t op;			/* engine op code */
	uint32_t phase;			/* engine-defined progress marker */
	uint32_t seq;			/* bumped per operation */
	uint64_t w[PLKV_OPREC_WORDS];	/* engine-defined */
};

enum plkv_slot_state {
	PLKV_SLOT_FREE = 0,
	PLKV_SLOT_ACTIVE = 1,
	PLKV_SLOT_RECOVERING = 2,
};

/* One per thread slot (index = the owner id in lock words). */
struct plkv_slot {
	uint32_t state;			/* enum plkv_slot_state */
	uint32_t pid;
	uint32_t tid;
	uint32_t call_since;		/* Unix seconds (low 32 bits) the
					 * thread's current call began; 0
					 * between calls (plkvctl procs) */
	uint64_t start_time;		/* of pid, as in plkv_proc_rec */
	uint64_t stat[16];		/* engine-defined per-thread counters */
	struct plkv_oprec op;
} __attribute__((aligned(64)));

struct plkv_hdr {
	uint64_t magic;
	uint32_t format_version;
	uint32_t state;			/* enum plkv_hdr_state */
	uint32_t init_pid;
	uint32_t pad0;
	uint64_t size;			/* whole segment */
	uint64_t created;		/* Unix time */

	/* creation parameters */
	uint64_t mem_limit;
	uint32_t item_size_max;
	uint32_t chunk_min;
	double growth_factor;
	uint32_t hash_power_init;
	uint32_t no_evict;

	/* regions */
	plkv_off_t slots_off;		/* struct plkv_slot[PLKV_MAX_THREADS] */
	plkv_off_t procs_off;		/* struct plkv_proc_rec[PLKV_MAX_PROCS] */
	plkv_off_t engine_off;		/* engine-owned from here to size */
	uint64_t engine_size;

	/* death_gen lives in the khdr (written by the module, or by the
	 * user backend when its liveness check finds a death) */
	int64_t scan_time;		/* the second of the last liveness
					 * scan (user backend, gate.c) */
	uint64_t reserved[7];
};

/* ---- the process-private handle ---- */

struct plkv_backend_ops;

struct plkv {
	char name[PLKV_NAME_MAX];
	int backend;			/* enum plkv_backend */
	const struct plkv_backend_ops *ops;
	int fd;
	int pkey;			/* -1: unprotected */
	uint32_t pkru_allow;		/* PKRU inside a call */
	uint32_t pkru_deny;		/* PKRU outside */
	char *base;
	uint64_t size;
	uint32_t owner_uid;		/* the segment's, as the backend says */
	struct plkv_hdr *hdr;
	struct plkv_seg_khdr *khdr;
	void *engine;			/* = base + hdr->engine_off */
	pthread_key_t tkey;		/* -> struct plkv_tls */
	uint32_t death_gen_seen;
	uint32_t wrpkru_found;
	int proc_index;			/* our plkv_proc_rec */
	uint32_t pid;			/* getpid() at open: no system call
					 * inside the gate to ask again */
	uint64_t id;			/* unique to this open in the process */
	uint64_t start_time;
	_Atomic int64_t last_scan;	/* user backend liveness scan, s */
	bool no_recover;		/* PLKV_O_NO_RECOVER */
	bool strict;			/* the store is PLKV_SEG_F_STRICT */
};

/* Per-thread, per-handle private state. */
struct plkv_tls {
	struct plkv *kv;
	uint64_t kv_id;			/* kv->id when this was made */
	uint32_t slot;
	uint32_t tid;
	struct plkv_slot *rec;
	uint32_t depth;			/* gate nesting */
};

/* One library call of one thread: what engine functions receive. */
struct plkv_ctx {
	struct plkv *kv;
	struct plkv_tls *t;
	struct plkv_oprec *op;		/* = &t->rec->op */
	uint32_t slot;
	int64_t now;			/* Unix seconds at entry */
};

static inline void *plkv_ptr(const struct plkv *kv, plkv_off_t off)
{
	return off ? kv->base + off : NULL;
}

static inline plkv_off_t plkv_off(const struct plkv *kv, const void *p)
{
	return p ? (plkv_off_t)((const char *)p - kv->base) : 0;
}

/*
 * Caller memory must not lie in the segment: the library reads keys and
 * values and writes results while the key is granted, so a stray pointer
 * passed in would let a buggy client write (or read out) the store through
 * the library.  One range test per pointer.
 */
static inline bool plkv_outside(const struct plkv *kv, const void *p,
				size_t len)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)kv->base;

	return !p || a + len <= lo || a >= lo + kv->size;
}

static inline struct plkv_slot *plkv_slot_rec(const struct plkv *kv,
					      uint32_t slot)
{
	return (struct plkv_slot *)plkv_ptr(kv, kv->hdr->slots_off) + slot;
}

static inline _Atomic uint32_t *plkv_lockword(const struct plkv *kv,
					      unsigned idx)
{
	return (_Atomic uint32_t *)(kv->base + PLKV_LOCK_TABLE_OFF +
				    (size_t)idx * PLKV_LOCK_STRIDE);
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
static inline _Atomic uint32_t *plkv_lockseq(const struct plkv *kv,
					     unsigned idx)
{
	return plkv_lockword(kv, idx) + 1;
}

/* False while the lock is held: take it instead. */
static inline bool plkv_read_begin(const struct plkv *kv, unsigned idx,
				   uint32_t *seq)
{
	*seq = atomic_load_explicit(plkv_lockseq(kv, idx),
				    memory_order_acquire);
	return atomic_load_explicit(plkv_lockword(kv, idx),
				    memory_order_acquire) == 0;
}

/* True if no holder took the lock since plkv_read_begin(). */
static inline bool plkv_read_valid(const struct plkv *kv, unsigned idx,
				   uint32_t seq)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(plkv_lockword(kv, idx),
				    memory_order_relaxed) == 0 &&
	       atomic_load_explicit(plkv_lockseq(kv, idx),
				    memory_order_relaxed) == seq;
}

/* ---- call gate (gate.c) ---- */

/*
 * Every public call that touches the segment runs between plkv_enter() and
 * plkv_leave().  Enter grants the segment's key (WRPKRU, no syscall),
 * finds the thread's slot (registering it on first use), recovers an
 * abandoned call of this thread and any process death noticed since the
 * last call, and reads the clock.  Leave revokes the key.
 */
PLKV_HIDDEN int plkv_enter(struct plkv *kv, struct plkv_ctx *ctx);
PLKV_HIDDEN void plkv_leave(struct plkv_ctx *ctx);

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
/* Grant/revoke the key without the rest of the gate (open, close). */
PLKV_HIDDEN void plkv_gate_open(struct plkv *kv);
PLKV_HIDDEN void plkv_gate_close(struct plkv *kv);
/* Around a system call inside a call: see gate.c. */
PLKV_HIDDEN bool plkv_gate_suspend(struct plkv *kv);
PLKV_HIDDEN void plkv_gate_resume(struct plkv *kv, bool granted);
PLKV_HIDDEN void *plkv_gate_calloc(struct plkv *kv, size_t n, size_t size);
PLKV_HIDDEN void *plkv_gate_realloc(struct plkv *kv, void *p, size_t size);
PLKV_HIDDEN void plkv_gate_free(struct plkv *kv, void *p);
PLKV_HIDDEN int plkv_tls_init(struct plkv *kv);
PLKV_HIDDEN void plkv_tls_fini(struct plkv *kv);
/* In a forked child: drop the inherited thread state unreleased. */
PLKV_HIDDEN void plkv_tls_abandon(struct plkv *kv);

/* ---- robust locks (lock.c) ---- */

/*
 * plkv_lock() returns 0 with the lock held.  If the previous owner died
 * holding it, the lock is taken over and the engine's repair hook runs
 * (plkv_engine_repair_lock) before plkv_lock() returns, so callers always
 * see a consistent structure.
 */
PLKV_HIDDEN void plkv_lock(struct plkv_ctx *ctx, unsigned idx);
PLKV_HIDDEN bool plkv_trylock(struct plkv_ctx *ctx, unsigned idx);
PLKV_HIDDEN void plkv_unlock(struct plkv_ctx *ctx, unsigned idx);
PLKV_HIDDEN bool plkv_lock_held(struct plkv_ctx *ctx, unsigned idx);

/* ---- crash injection (crash.c) ---- */

/*
 * PLKV_CRASH=OP:POINT[:MODE] in the environment makes the library stop at
 * instrumented point POINT (1-based) of the OP-th mutating operation of
 * this process; the modes (abort, kill, signal, default _exit(99)) are
 * described in crash.c.  PLKV_CRASH_COUNT=FILE appends "points=N" for
 * each operation to FILE, so a test can learn how many points an
 * operation passes.
 */
extern PLKV_HIDDEN int plkv_crash_armed;
PLKV_HIDDEN void plkv_crash_point_slow(struct plkv_ctx *ctx);
PLKV_HIDDEN void plkv_crash_op_begin(struct plkv_ctx *ctx);
PLKV_HIDDEN void plkv_crash_op_end(struct plkv_ctx *ctx);
#define PLKV_CRASH_POINT(ctx) \
	do { \
		if (unlikely(plkv_crash_armed)) \
			plkv_crash_point_slow(ctx); \
	} while (0)

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
 * The owner of lock idx died (its slot dead_slot, whose op record is
 * still intact).  Called with the lock held by ctx; make the structure the
 * lock protects consistent again.
 */
PLKV_HIDDEN void plkv_engine_repair_lock(struct plkv_ctx *ctx, unsigned idx,
					 uint32_t dead_slot);
/*
 * Roll the dead thread's operation (op record of dead_slot) forward or
 * back, drop the item references it held, free what it had allocated but
 * not linked.  Called holding no locks; may take any.  Must be idempotent:
 * a recoverer can itself die half way and be recovered.
 */
PLKV_HIDDEN void plkv_engine_recover_slot(struct plkv_ctx *ctx,
					  uint32_t dead_slot);
/* Fold a retiring slot's per-thread counters into the global stats. */
PLKV_HIDDEN void plkv_engine_retire_slot(struct plkv_ctx *ctx,
					 uint32_t slot);

/* ---- recovery driver (recover.c) ---- */

/* Recover every dead process found; returns how many. */
PLKV_HIDDEN int plkv_recover_dead(struct plkv_ctx *ctx);
/* Recover one dead thread slot: its operation, its locks, its counters;
 * then free its record.  The caller owns the right to (a claim). */
PLKV_HIDDEN void plkv_recover_slot(struct plkv_ctx *ctx, uint32_t dead_slot);
/* Is the slot's owner process alive? (user backend liveness) */
PLKV_HIDDEN bool plkv_slot_alive(struct plkv *kv, uint32_t slot);

/* ---- misc ---- */

PLKV_HIDDEN int64_t plkv_clock(void);
PLKV_HIDDEN uint64_t plkv_proc_start_time(pid_t pid);

#endif /* PLKV_CORE_H */
