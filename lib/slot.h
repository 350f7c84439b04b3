/* SPDX-License-Identifier: MIT */
/*
 * Thread slots and their operation records, in the segment: one slot per
 * thread of any attached process (its index is the owner id in lock
 * words), each with the record of the operation the thread is in.
 */
#ifndef PLKV_SLOT_H
#define PLKV_SLOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

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
	union {
		struct {
			uint32_t call_since;	/* Unix seconds (low 32
						 * bits) the thread's
						 * current call began; 0
						 * between calls (plkvctl
						 * procs) */
			uint32_t in_call;	/* strict stores: 1 from a
						 * call's entry to its
						 * leave, taken by exchange
						 * (plkv_enter()) */
		};
		uint64_t call_word;	/* both: a leave clears them in
					 * one store */
	};
	uint32_t tid;
	uint32_t pad;
	uint64_t start_time;		/* of pid, as in plkv_proc_rec */
	uint64_t stat[23];		/* engine-defined per-thread counters */
	struct plkv_oprec op;
} __attribute__((aligned(64)));

#endif /* PLKV_SLOT_H */
