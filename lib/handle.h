/* SPDX-License-Identifier: MIT */
/*
 * The process-private handle (struct plkv), a thread's state for it, one
 * call's context, and the translation between offsets in the segment and
 * this process's pointers.
 */
#ifndef PLKV_HANDLE_H
#define PLKV_HANDLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>

#include "plkv.h"
#include "seg.h"
#include "slot.h"
#include "trust.h"

struct plkv_backend_ops;
struct plkv_engine_hooks;

struct plkv {
	char name[PLKV_NAME_MAX];
	int backend;			/* enum plkv_backend */
	const struct plkv_backend_ops *ops;
	int fd;
	int pkey;			/* -1: unprotected */
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
					 * inside the gate to ask again (a
					 * protected handle's is written by
					 * the module: PLKV_PID_UNSTAMPED
					 * until then) */
	uint64_t id;			/* unique to this open in the process */
	uint64_t start_time;
	_Atomic int64_t last_scan;	/* user backend liveness scan, s */
	struct plkv_watch *watch;	/* user backend: pidfds it polls */
	bool polls_liveness;		/* = ops->polls_liveness, for the
					 * inline gate */
	bool no_recover;		/* PLKV_O_NO_RECOVER */
	bool strict;			/* the store is PLKV_SEG_F_STRICT */
	bool sites_watched;		/* the module watches a strict seal's
					 * WRPKRU/XRSTOR (F_WATCH) */
	const struct plkv_engine_hooks *hooks;	/* the engine's, for recovery */
};

#define PLKV_PID_UNSTAMPED	UINT32_MAX	/* no process's id */

/* Per-thread, per-handle private state. */
struct plkv_tls {
	struct plkv *kv;
	uint64_t kv_id;			/* kv->id when this was made */
	uint32_t slot;			/* checked against the segment's
					 * record at every call: the client
					 * can write this struct */
	uint32_t tid;
	/* While a call runs: the frame address (CFA) of the function that
	 * entered the gate, and the return address stored just below it.
	 * A call that finds them set tells a call still running under a
	 * signal handler from one abandoned by a longjmp (gate.c). */
	uintptr_t call_cfa;		/* 0 between calls */
	uintptr_t call_ret;
};

/*
 * Whether t may be used as a thread state at all: it is found through
 * the client's memory (a thread-local, a pthread key's value), so it can
 * point into a segment, where the library would read the store's words
 * as its fields and write a call's frame over them.  Nothing of t is
 * read before this.
 */
static inline bool plkv_tls_usable(const struct plkv_tls *t)
{
	return t && plkv_outside_window(t, sizeof(*t));
}

/* One library call of one thread: what engine functions receive. */
struct plkv_ctx {
	struct plkv *kv;
	struct plkv_tls *t;
	struct plkv_slot *rec;		/* the slot's record */
	uint32_t slot;
	int64_t now;			/* Unix seconds at entry */
};

/* The op record of the call's slot: derived, not kept, as most calls
 * never write one. */
static inline struct plkv_oprec *plkv_ctx_op(const struct plkv_ctx *ctx)
{
	return &ctx->rec->op;
}

static inline void *plkv_ptr(const struct plkv *kv, plkv_off_t off)
{
	return off ? kv->base + off : NULL;
}

static inline plkv_off_t plkv_off(const struct plkv *kv, const void *p)
{
	return p ? (plkv_off_t)((const char *)p - kv->base) : 0;
}

static inline struct plkv_slot *plkv_slot_rec(const struct plkv *kv,
					      uint32_t slot)
{
	return (struct plkv_slot *)(kv->base + PLKV_SLOTS_OFF) + slot;
}

#endif /* PLKV_HANDLE_H */
