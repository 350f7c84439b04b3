/* SPDX-License-Identifier: MIT */
/*
 * Backends serve the segment: "kmod" through /dev/plkv, "user" through a
 * file in /dev/shm.  The core calls them only to map the segment, to
 * assign thread slots, to sleep and wake on lock words, and to read and
 * update process records; the engine never sees them.
 */
#ifndef PLKV_BACKEND_H
#define PLKV_BACKEND_H

#include "core.h"

/* A process record as the core sees it, whatever the backend. */
struct plkv_proc_view {
	uint32_t pid;
	uint32_t state;			/* enum plkv_proc_state */
	uint64_t start_time;
	int32_t pkey;
	uint32_t recoverer;
	uint64_t slots[PLKV_SLOT_WORDS];
};

struct plkv_backend_ops {
	const char *name;
	/* What differs between backends, declared here so that no code
	 * above them asks which backend it is on. */
	bool polls_liveness;	/* deaths are found by checking owners
				 * (kill, /proc), not told by a module */
	bool formats_khdr;	/* the library writes the kernel header */
	bool reap_frees_rec;	/* reap also frees the library's process
				 * record (plkv_proc_rec_del) */
	bool start_in_ticks;	/* proc start times in clock ticks (else
				 * ns since boot) */
	bool enforces_strict;	/* can refuse what PLKV_O_STRICT forbids */
	int64_t wait_ns;	/* a lock waiter's sleep between checks */
	/* Create (if asked) or attach, map, protect.  Sets kv->fd, base,
	 * size, pkey; *created tells whether this call made the segment. */
	int (*open)(struct plkv *kv, const struct plkv_options *o,
		    uint64_t size, bool *created);
	/* Clean detach and unmap. */
	void (*close)(struct plkv *kv);
	int (*destroy)(const char *name);
	int (*list)(plkv_seg_fn fn, void *ctx);
	/* recovery: one of the slots kept for recovering the dead when
	 * every other slot is taken (PLKV_THREAD_F_RECOVERY) */
	int (*thread_register)(struct plkv *kv, uint32_t *slot, bool recovery);
	void (*thread_unregister)(struct plkv *kv, uint32_t slot);
	/* Sleep while lock word idx == expected: 0, -ETIMEDOUT, -EAGAIN,
	 * -EINTR.  Wake up to nr sleepers on it. */
	int (*wait)(struct plkv *kv, unsigned idx, uint32_t expected,
		    int64_t timeout_ns);
	void (*wake)(struct plkv *kv, unsigned idx, int nr);
	/* Process records; marks newly found deaths.  Returns the count
	 * (possibly more than cap) or an error. */
	int (*procs)(struct plkv *kv, struct plkv_proc_view *v, int cap);
	int (*claim)(struct plkv *kv, const struct plkv_proc_view *p);
	int (*unclaim)(struct plkv *kv, const struct plkv_proc_view *p);
	int (*reap)(struct plkv *kv, const struct plkv_proc_view *p);
	void (*ack)(struct plkv *kv, uint32_t death_gen);
	/* Map [p, p + len) of the segment into this process now, in one go:
	 * where a first touch costs a fault per page (NULL: it doesn't). */
	void (*prefault)(void *p, size_t len);
};

extern PLKV_HIDDEN const struct plkv_backend_ops plkv_backend_user;
extern PLKV_HIDDEN const struct plkv_backend_ops plkv_backend_kmod;

/* Shared helpers of both backends (open.c, util.c). */
PLKV_HIDDEN int plkv_name_valid(const char *name);
PLKV_HIDDEN bool plkv_pid_alive(uint32_t pid, uint64_t start_time);
PLKV_HIDDEN int plkv_pku_supported(void);
/* What plkv_open_error() will say about this thread's failing open. */
PLKV_HIDDEN void plkv_set_open_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
PLKV_HIDDEN void plkv_clear_open_error(void);
/* Own-process record in the segment's table (both backends keep one for
 * what the module doesn't know, e.g. the WRPKRU scan result). */
static inline struct plkv_proc_rec *plkv_proc_table(struct plkv *kv)
{
	return plkv_ptr(kv, kv->hdr->procs_off);
}
PLKV_HIDDEN int plkv_proc_rec_add(struct plkv *kv, struct plkv_ctx *ctx);
PLKV_HIDDEN void plkv_proc_rec_del(struct plkv *kv, struct plkv_ctx *ctx,
				   uint32_t pid);
/* Count WRPKRU/XRSTOR sites in executable mappings outside libplkv's
 * gate and the C library; see scan.c. */
PLKV_HIDDEN unsigned plkv_scan_wrpkru(void);

#endif /* PLKV_BACKEND_H */
