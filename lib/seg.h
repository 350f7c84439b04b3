/* SPDX-License-Identifier: MIT */
/*
 * The segment's library header, at PLKV_SEG_LIB_OFF, and what it places:
 * offsets, the process table, the core's lock indexes.  Shared by every
 * process that maps the segment, whatever its address: offsets only.
 */
#ifndef PLKV_SEG_H
#define PLKV_SEG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include <linux/plkv.h>

typedef uint64_t plkv_off_t;

#define PLKV_HDR_MAGIC		0x31474553564b4c50ULL	/* "PLKVSEG1" */
#define PLKV_FORMAT_VERSION	4	/* 2: PLKV_MAX_PROCS records; 3:
					 * 24 per-thread counters; 4: a
					 * slot's call clock and in_call in
					 * one word */

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

/* Where the thread slots start: fixed by the format (open.c checks the
 * header says so), so that finding a slot needs no load. */
#define PLKV_SLOTS_OFF		(PLKV_SEG_LIB_OFF + 4096)

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
	plkv_off_t slots_off;		/* struct plkv_slot[PLKV_MAX_THREADS],
					 * always PLKV_SLOTS_OFF */
	plkv_off_t procs_off;		/* struct plkv_proc_rec[PLKV_MAX_PROCS] */
	plkv_off_t engine_off;		/* engine-owned from here to size */
	uint64_t engine_size;

	/* death_gen lives in the khdr (written by the module, or by the
	 * user backend when its liveness check finds a death) */
	int64_t scan_time;		/* the second of the last liveness
					 * scan (user backend, gate.c) */
	uint64_t scan_cursor;		/* where that scan goes on next */
	uint64_t reserved[6];
};

#endif /* PLKV_SEG_H */
