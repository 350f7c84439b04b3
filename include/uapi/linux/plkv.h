/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * plkv: shared memory segments for a memcached that runs as a protected
 * library.  The one header shared by the kernel module (/dev/plkv) and
 * libplkv.  Everything here is ABI: fixed-size structs, no pointer-sized
 * fields (user pointers travel as __u64), explicit padding, and reserved
 * fields that must be zero on input.
 *
 * See Documentation/kmod.rst for each command's arguments and errors.
 */
#ifndef _UAPI_LINUX_PLKV_H
#define _UAPI_LINUX_PLKV_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define PLKV_ABI_VERSION	1
#define PLKV_DEVICE		"/dev/plkv"

/* A segment name: 1-63 characters of [A-Za-z0-9._-], NUL-terminated. */
#define PLKV_NAME_MAX		64

/*
 * Segment layout fixed by the ABI.  The module writes the kernel header at
 * create time and afterwards only death_gen; it scans the lock table when a
 * process dies.  Everything from PLKV_SEG_LIB_OFF on belongs to the library.
 */
#define PLKV_SEG_KHDR_OFF	0
#define PLKV_SEG_KHDR_MAGIC	0x564b4c50U	/* "PLKV" */
#define PLKV_LOCK_TABLE_OFF	4096
#define PLKV_LOCK_STRIDE	64		/* one lock word per cache line */
#define PLKV_LOCK_COUNT		1024
#define PLKV_LOCK_TABLE_SIZE	(PLKV_LOCK_STRIDE * PLKV_LOCK_COUNT)
#define PLKV_SEG_LIB_OFF	(PLKV_LOCK_TABLE_OFF + PLKV_LOCK_TABLE_SIZE)
/* Smallest segment the module creates; the library needs more. */
#define PLKV_SEG_MIN_SIZE	(PLKV_SEG_LIB_OFF + 4096)

struct plkv_seg_khdr {
	__u32 magic;		/* PLKV_SEG_KHDR_MAGIC */
	__u32 abi_version;	/* PLKV_ABI_VERSION */
	__u64 size;		/* bytes, a multiple of the page size */
	__u32 death_gen;	/* +1 on every unclean process exit */
	__u32 flags;		/* PLKV_SEG_F_* */
	__u64 reserved[5];
};

/* The segment is served by the module (not a userspace file). */
#define PLKV_SEG_F_KMOD		(1U << 0)
/* Created with PLKV_CREATE_F_STRICT: see Documentation/protection.rst */
#define PLKV_SEG_F_STRICT	(1U << 1)

/*
 * Lock words: 32 bits at PLKV_LOCK_TABLE_OFF + i * PLKV_LOCK_STRIDE.
 * 0 is unlocked; otherwise the low bits name the owner's thread slot
 * (1..PLKV_MAX_THREADS-1).  A waiter sets WAITERS before sleeping so the
 * owner knows to wake.  When the owner's process dies the module (or the
 * library's liveness check on the user backend) sets OWNER_DIED and wakes
 * the waiters; the next acquirer recovers before trusting the data.
 * The rest of each lock's line is the library's (a release count for
 * readers that don't take the lock).
 */
#define PLKV_LOCK_OWNER_MASK	0x00ffffffU
#define PLKV_LOCK_OWNER_DIED	0x40000000U
#define PLKV_LOCK_WAITERS	0x80000000U
#define PLKV_MAX_THREADS	1024	/* thread slots per segment, slot 0 unused */
#define PLKV_SLOT_WORDS		(PLKV_MAX_THREADS / 64)
/* Process records per segment, in the module and the library alike */
#define PLKV_MAX_PROCS		4096
/* Thread slots one process may hold: no process can take them all */
#define PLKV_MAX_THREADS_PER_PROC	256
/*
 * The last slots are kept for recovery: THREAD_REG hands them out only
 * with PLKV_THREAD_F_RECOVERY, so that a process finding every other slot
 * held by dead processes can still recover them.
 */
#define PLKV_RECOVERY_SLOTS	2
#define PLKV_FIRST_RECOVERY_SLOT	(PLKV_MAX_THREADS - PLKV_RECOVERY_SLOTS)

/* struct plkv_version flags */
#define PLKV_VERSION_F_PKU	(1U << 0)	/* the CPU and kernel support PKU */
/* Sealed keys guarded: see Documentation/protection.rst */
#define PLKV_VERSION_F_GUARD	(1U << 1)
/* Trust regions (PLKV_TRUST_PGOFF) can be mapped */
#define PLKV_VERSION_F_TRUST	(1U << 2)
/*
 * A strict seal puts hardware breakpoints on the process's WRPKRU/XRSTOR
 * sites outside libplkv's gates, or fails with ENOSPC if they need more
 * than the CPU's debug registers
 */
#define PLKV_VERSION_F_WATCH	(1U << 3)
/*
 * Signals are deferred for a thread whose stack pointer is on one of its
 * trust region's call stacks (PLKV_CALL_STACKS_OFF): blocked, the mask
 * they replaced saved in that stack's header, until the library restores
 * it at the call's end.  Trust regions may then be PLKV_TRUST_MAX_SIZE.
 */
#define PLKV_VERSION_F_DEFER	(1U << 4)

struct plkv_version {
	__u32 abi_version;	/* out */
	__u32 flags;		/* out: PLKV_VERSION_F_* */
	__u64 max_seg_size;	/* out: module parameter */
	__u32 max_segments;	/* out: module parameter */
	__u32 max_user_segments;	/* out: per-user segments, as applied */
	__u64 max_user_bytes;	/* out: per-user segment memory, as applied */
	__u64 reserved[3];
};

/*
 * struct plkv_create flags.  STRICT: every process that seals a mapping of
 * the segment runs under the strict guard for as long as it maps it: no
 * new executable memory, no writes into its memory through ptrace or
 * /proc/PID/mem.
 */
#define PLKV_CREATE_F_STRICT	(1U << 0)

struct plkv_create {
	char  name[PLKV_NAME_MAX];
	__u64 size;		/* bytes, rounded up to pages; 0 = default */
	__u32 mode;		/* permission bits, 0777 at most */
	__u32 flags;		/* PLKV_CREATE_F_* */
	__u64 reserved[4];
};

/*
 * Attach binds the fd to a named segment and creates this process's record.
 * One attach per fd; a process may attach a segment once.
 */
struct plkv_attach {
	char  name[PLKV_NAME_MAX];
	__u32 flags;		/* must be 0 */
	__u32 pad;
	__u64 size;		/* out: mmap exactly this many bytes at offset 0 */
	__u64 reserved[4];
};

/* Clean detach: the process's record goes away without a death event. */
struct plkv_detach {
	__u32 flags;		/* must be 0 */
	__u32 pad;
	__u64 reserved[2];
};

struct plkv_destroy {
	char  name[PLKV_NAME_MAX];
	__u32 flags;		/* must be 0 */
	__u32 pad;
	__u64 reserved[2];
};

struct plkv_seg_info {
	char  name[PLKV_NAME_MAX];	/* in for SEG_INFO (or "" = attached) */
	__u64 size;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 nattached;	/* records in state ATTACHED */
	__u32 nmapped;		/* live mappings */
	__u32 ndead;		/* records DEAD or RECOVERING */
	__u32 death_gen;
	__u32 flags;		/* in: 0; out: PLKV_SEG_F_STRICT */
	__u64 ctime_ns;		/* CLOCK_REALTIME at create */
	__u64 reserved[4];
};

/*
 * Listing: the module fills up to capacity entries, count is the total.
 * LIST_SEGS fills struct plkv_seg_info entries (name must be ""),
 * LIST_PROCS struct plkv_proc_info entries, oldest record first.
 */
struct plkv_list {
	char  name[PLKV_NAME_MAX];	/* LIST_PROCS: the segment ("" = attached) */
	__u64 buf;		/* user pointer to an array of entries */
	__u32 capacity;		/* in: entries that fit in buf */
	__u32 count;		/* out: entries that exist */
	__u64 reserved[2];
};

enum plkv_proc_state {
	PLKV_PROC_ATTACHED = 1,
	PLKV_PROC_DEAD = 2,	/* exited without detach: needs recovery */
	PLKV_PROC_RECOVERING = 3, /* claimed by a survivor */
};

struct plkv_proc_info {
	__u32 tgid;
	__u32 state;		/* enum plkv_proc_state */
	__u64 start_time;	/* task start, ns since boot */
	__s32 pkey;		/* sealed protection key, -1 before the seal */
	__u32 recoverer;	/* tgid holding the claim when RECOVERING */
	__u64 slots[PLKV_SLOT_WORDS];	/* bitmap of the thread slots it held */
	__u64 reserved[2];
};

/* struct plkv_reap flags */
#define PLKV_REAP_CLAIM		(1U << 0)	/* DEAD -> RECOVERING (mine) */
#define PLKV_REAP_UNCLAIM	(1U << 1)	/* RECOVERING -> DEAD */

/*
 * Reap with no flag drops a DEAD or (own) RECOVERING record and frees its
 * thread slots.  CLAIM makes recovery happen once: only one survivor wins
 * (EALREADY for the others); if the claimer dies the claim reverts to DEAD.
 */
struct plkv_reap {
	char  name[PLKV_NAME_MAX];	/* "" = the attached segment */
	__u32 tgid;
	__u32 flags;
	__u64 start_time;	/* 0 or the record's start_time */
	__u64 reserved[2];
};

/* struct plkv_thread flags (REGISTER) */
#define PLKV_THREAD_F_RECOVERY	(1U << 0)	/* one of the recovery slots */

struct plkv_thread {
	__u32 slot;		/* out for REGISTER, in for UNREGISTER */
	__u32 flags;		/* REGISTER: PLKV_THREAD_F_*; else 0 */
	__u64 reserved[2];
};

/* Sleep while the lock word at offset equals expected. */
struct plkv_wait {
	__u64 offset;		/* in the lock table, 4-byte aligned */
	__u32 expected;
	__u32 flags;		/* must be 0 */
	__s64 timeout_ns;	/* relative; < 0 waits forever */
	__u64 reserved[2];
};

struct plkv_wake {
	__u64 offset;
	__u32 count;		/* waiters to wake at most */
	__u32 woken;		/* out */
	__u64 reserved[2];
};

/* Acknowledge death events up to gen: POLLPRI clears until the next. */
struct plkv_ack {
	__u32 death_gen;
	__u32 pad;
	__u64 reserved[2];
};

/*
 * A trust region: process-private memory the module hands out, mapped
 * from /dev/plkv at offset PLKV_TRUST_PGOFF pages (any fd, attached or
 * not), PROT_NONE, then given read/write with a non-zero protection key
 * by one mprotect(), as a segment is; sealed from then on.  It is
 * VM_IO | VM_PFNMAP like a segment (no get_user_pages path reaches it)
 * and unmapping it is fatal: munmap(), a MAP_FIXED mapping over it or an
 * mremap() onto it kill the process, so what the library keeps there can
 * be changed only by code that holds the key.  Not inherited by fork().
 */
#define PLKV_TRUST_PGOFF	0x100000UL
/*
 * At most this much, and one region per address space: a region is
 * kernel memory that no per-user segment quota counts.
 */
#define PLKV_TRUST_MAX_SIZE	(512U << 10)
/* ... and at most this much from a module without PLKV_VERSION_F_DEFER */
#define PLKV_TRUST_MAX_SIZE_V1	(64U << 10)

/*
 * The library's call stacks in a trust region (placed at its start in the
 * caller's window): PLKV_CALL_STACKS of PLKV_CALL_STACK_SIZE bytes from
 * PLKV_CALL_STACKS_OFF, each starting with a header.  The module writes
 * two of its fields: when it defers a thread's signals it saves the mask
 * they replaced in saved_mask, then sets deferred.
 */
#define PLKV_CALL_STACKS_OFF	(64U << 10)
#define PLKV_CALL_STACK_SIZE	(32U << 10)
#define PLKV_CALL_STACKS	8

struct plkv_call_stack_hdr {
	__u32 claim;		/* library: nonzero while a call runs on it */
	__u32 deferred;		/* module: signals blocked for this call */
	__u64 token;		/* library: the claim's secret */
	__u64 saved_sp;		/* library: the caller's stack pointer */
	__u64 saved_r15;	/* library: the caller's r15 */
	__u64 saved_mask;	/* module: the blocked mask to restore */
	__u32 again;		/* library: redo the call from the start */
	__u32 pad;
	__u64 reserved[2];
};

/*
 * PLKV_IOC_TRUST_CHECK: is [addr, addr + size) the caller's trust region
 * (or, with PLKV_TRUST_CHECK_F_SEGMENT, its mapping of the segment this
 * fd is attached to), whole and sealed with pkey?  0, or -ENOENT.  With
 * PLKV_TRUST_CHECK_F_STAMP_PID, and only if so, the module also writes
 * the caller's process id (getpid()'s) as a __u32 at stamp, which must lie
 * in the caller's trust region: the one fact of a handle that code
 * holding the key could otherwise forge.
 */
#define PLKV_TRUST_CHECK_F_SEGMENT	(1U << 0)
#define PLKV_TRUST_CHECK_F_STAMP_PID	(1U << 1)

struct plkv_trust_check {
	__u64 addr;		/* in */
	__u64 size;		/* in */
	__s32 pkey;		/* in */
	__u32 flags;		/* in: PLKV_TRUST_CHECK_F_* */
	__u64 stamp;		/* in: F_STAMP_PID's address, else 0 */
	__u64 reserved;
};

#define PLKV_IOC_MAGIC		0xb7

#define PLKV_IOC_VERSION	_IOWR(PLKV_IOC_MAGIC, 0x00, struct plkv_version)
#define PLKV_IOC_CREATE		_IOWR(PLKV_IOC_MAGIC, 0x01, struct plkv_create)
#define PLKV_IOC_ATTACH		_IOWR(PLKV_IOC_MAGIC, 0x02, struct plkv_attach)
#define PLKV_IOC_DETACH		_IOWR(PLKV_IOC_MAGIC, 0x03, struct plkv_detach)
#define PLKV_IOC_DESTROY	_IOWR(PLKV_IOC_MAGIC, 0x04, struct plkv_destroy)
#define PLKV_IOC_SEG_INFO	_IOWR(PLKV_IOC_MAGIC, 0x05, struct plkv_seg_info)
#define PLKV_IOC_LIST_SEGS	_IOWR(PLKV_IOC_MAGIC, 0x06, struct plkv_list)
#define PLKV_IOC_LIST_PROCS	_IOWR(PLKV_IOC_MAGIC, 0x07, struct plkv_list)
#define PLKV_IOC_REAP		_IOWR(PLKV_IOC_MAGIC, 0x08, struct plkv_reap)
#define PLKV_IOC_THREAD_REG	_IOWR(PLKV_IOC_MAGIC, 0x09, struct plkv_thread)
#define PLKV_IOC_THREAD_UNREG	_IOWR(PLKV_IOC_MAGIC, 0x0a, struct plkv_thread)
#define PLKV_IOC_WAIT		_IOWR(PLKV_IOC_MAGIC, 0x0b, struct plkv_wait)
#define PLKV_IOC_WAKE		_IOWR(PLKV_IOC_MAGIC, 0x0c, struct plkv_wake)
#define PLKV_IOC_ACK		_IOWR(PLKV_IOC_MAGIC, 0x0d, struct plkv_ack)
#define PLKV_IOC_TRUST_CHECK	_IOWR(PLKV_IOC_MAGIC, 0x0e, \
				      struct plkv_trust_check)

#endif /* _UAPI_LINUX_PLKV_H */
