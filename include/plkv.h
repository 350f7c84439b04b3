/* SPDX-License-Identifier: MIT */
/**
 * @file plkv.h
 * @brief libplkv: a memcached that runs as a protected library.
 *
 * The store lives in one shared memory segment.  Every process that calls
 * plkv_open() maps it and runs the store's code itself, in the calling
 * thread: a get costs a function call, not a socket round trip.  Where the
 * CPU has memory protection keys (PKU), the segment is readable and writable
 * only while a thread is inside a libplkv call, so a stray pointer in the
 * application faults instead of corrupting the store.
 *
 * Two backends serve the segment:
 *  - "kmod": the plkv.ko module (/dev/plkv) owns the memory, seals the
 *    protection key, and reports process deaths; the default when
 *    /dev/plkv exists.
 *  - "user": a file under /dev/shm; no protection; deaths are found by
 *    checking owners' liveness.
 * PLKV_BACKEND=user|kmod in the environment forces one.
 *
 * Semantics are memcached 1.6's: keys up to 250 bytes, 32-bit client flags,
 * exptime 0 = never, up to 30 days relative, beyond that an absolute Unix
 * time, negative = already expired; CAS values unique per store.
 *
 * @section caveats Caveats
 *  - A handle belongs to the process that opened it.  After fork() the child
 *    must not use it (the mapping is not inherited); the child may
 *    plkv_close() its copy, which frees it without touching the store, and
 *    calls plkv_open() itself.
 *  - Values are copied into caller buffers; no pointer into the segment is
 *    ever returned.  A buffer too small gets PLKV_ETOOSMALL and the size
 *    needed.
 *  - A process that dies inside a call, holding locks, is recovered by the
 *    survivors: its half-done operation is rolled back or forward, and its
 *    locks are released.  An operation that had not returned may or may not
 *    have taken effect; one that had returned is durable for the life of the
 *    segment (nothing is persisted across reboots).
 *  - Calls are not reentrant per thread: a signal handler that interrupted
 *    a call and calls the library on the same store gets -EDEADLK (and
 *    changes nothing).  A handler may longjmp out of a call: the thread's
 *    next call, or its exit, recovers the abandoned one.
 *  - Under PKU, client code that executes WRPKRU itself can defeat the
 *    protection; plkv_open() scans for that and reports it (plkvctl procs).
 *
 * @section errors Errors
 * Functions return 0 on success, a negative errno value for system errors,
 * or one of the PLKV_E* codes below; plkv_strerror() describes both.
 */
#ifndef PLKV_H
#define PLKV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLKV_API __attribute__((visibility("default")))

#define PLKV_VERSION_MAJOR 0
#define PLKV_VERSION_MINOR 1
#define PLKV_VERSION_PATCH 0
#define PLKV_VERSION_STRING "0.1.0"
/** The memcached release whose semantics plkv follows (what plkvd and the
 * bindings report as their version, with "-plkv-" and plkv's appended). */
#define PLKV_MEMCACHED_VERSION "1.6.18"

/** @defgroup errors Error codes (negative, outside the errno range) */
#define PLKV_EFIRST	(-30900)
#define PLKV_ENOTFOUND	(-30900) /**< no such key (memcached NOT_FOUND) */
#define PLKV_ENOTSTORED	(-30901) /**< add/replace/append/prepend condition not met */
#define PLKV_EEXISTS	(-30902) /**< cas: the item changed since it was read */
#define PLKV_ETOOBIG	(-30903) /**< item larger than the item size limit */
#define PLKV_ENOMEM	(-30904) /**< out of memory storing object (no eviction) */
#define PLKV_EBADKEY	(-30905) /**< key empty, too long, or with space/control */
#define PLKV_ENONNUMERIC (-30906) /**< incr/decr on a non-numeric value */
#define PLKV_ETOOSMALL	(-30907) /**< caller's buffer too small; size reported */
#define PLKV_ECORRUPT	(-30908) /**< plkv_check() found a broken invariant */
#define PLKV_EVERSION	(-30909) /**< segment format or ABI version mismatch */
#define PLKV_EWRPKRU	(-30910) /**< stray WRPKRU/XRSTOR found, refused by policy */
#define PLKV_EBADSEG	(-30911) /**< not a plkv segment, or bad segment name */
#define PLKV_ENOMODULE	(-30912) /**< kmod backend asked for, /dev/plkv missing */
#define PLKV_EOWNER	(-30913) /**< store owned by another user (PLKV_O_ANY_OWNER) */
#define PLKV_ELAST	(-30913)

/** Opaque store handle, one per process and segment. */
typedef struct plkv plkv_t;

/** Backends, for plkv_options.backend and plkv_info.backend. */
enum plkv_backend {
	PLKV_BACKEND_AUTO = 0,	/**< PLKV_BACKEND env, else kmod if loaded, else user */
	PLKV_BACKEND_USER = 1,
	PLKV_BACKEND_KMOD = 2,
};

/** plkv_options.flags */
#define PLKV_O_CREATE		(1u << 0) /**< create the segment if missing */
#define PLKV_O_EXCL		(1u << 1) /**< with CREATE: fail if it exists */
#define PLKV_O_NO_EVICT		(1u << 2) /**< at create: out of memory instead of evicting (-M) */
#define PLKV_O_REFUSE_WRPKRU	(1u << 3) /**< refuse to open if stray WRPKRU found */
#define PLKV_O_NO_PROTECT	(1u << 4) /**< don't use PKU even if present (testing) */
/** Don't recover dead processes at gate entry (admin tools that want to
 * see them: plkvctl procs).  Locks a dead process held are still taken
 * over and repaired; plkv_recover() still recovers. */
#define PLKV_O_NO_RECOVER	(1u << 5)
/** Attach to a store owned by another user too.  By default plkv_open()
 * refuses (PLKV_EOWNER) a store whose owner is neither the caller's
 * effective uid nor root: another user could have created the name first
 * and would control what the caller reads and writes. */
#define PLKV_O_ANY_OWNER	(1u << 6)
/** At create (kmod backend only, else -EOPNOTSUPP): a strict store.  The
 * module then keeps every process that maps it from creating executable
 * memory or writing a client's memory through ptrace or /proc/PID/mem,
 * and kills a process that runs a WRPKRU or XRSTOR outside libplkv's gate
 * that would grant the store's key (glibc's pkey_set() included): such
 * instructions get hardware breakpoints, and plkv_open() of the store
 * refuses (PLKV_EWRPKRU) a process with more of them than the CPU has
 * debug registers.  See Documentation/protection.rst. */
#define PLKV_O_STRICT		(1u << 7)
/** Keep the process dumpable.  By default a protected open (kmod backend
 * with PKU) makes the process non-dumpable (PR_SET_DUMPABLE 0), as
 * ssh-agent does: the values it reads end up in its own memory, and
 * other processes of the same user could otherwise read them there
 * (ptrace, /proc/PID/mem, process_vm_readv); it also means no core dump
 * and no debugger but root's.  Pass this to keep both. */
#define PLKV_O_DUMPABLE		(1u << 8)

/**
 * Options for plkv_open().  Initialise with plkv_options_init(); fields
 * used only when the call creates the segment are marked "create".
 */
struct plkv_options {
	unsigned flags;		/**< PLKV_O_* */
	int backend;		/**< enum plkv_backend */
	uint64_t mem_limit;	/**< create: segment bytes (default 64 MiB) */
	uint32_t item_size_max;	/**< create: largest item (default 1 MiB) */
	uint32_t hash_power;	/**< create: initial log2 buckets (default 16) */
	double growth_factor;	/**< create: slab class factor (default 1.25) */
	uint32_t chunk_min;	/**< create: smallest chunk bytes (default 48) */
	uint32_t mode;		/**< create: permission bits (default 0600) */
};

/** Ranges of the create fields that plkv_open() accepts. */
#define PLKV_MEM_LIMIT_MIN	(2ULL << 20)
#define PLKV_MEM_LIMIT_MAX	(1ULL << 40)
#define PLKV_ITEM_SIZE_MIN	1024u		/**< and at most mem_limit / 2 */
#define PLKV_ITEM_SIZE_MAX	(1u << 30)
#define PLKV_GROWTH_MIN		1.01
#define PLKV_GROWTH_MAX		4.0
#define PLKV_HASH_POWER_MIN	8u
#define PLKV_HASH_POWER_MAX	31u
#define PLKV_CHUNK_MIN_MIN	48u
#define PLKV_CHUNK_MIN_MAX	4096u

/** Fill opts with the defaults. */
PLKV_API void plkv_options_init(struct plkv_options *opts);

/**
 * @brief Check @p opts as plkv_open() will.
 * @param[out] msg on -EINVAL, which value is out of which range; may be
 *	NULL.
 * @return 0 or -EINVAL.
 */
PLKV_API int plkv_options_check(const struct plkv_options *opts, char *msg,
				size_t cap);

/**
 * @brief Open (and with PLKV_O_CREATE, create) the store named @p name.
 * @param[in] name 1-63 characters of [A-Za-z0-9._-]; NULL means the
 *	PLKV_SEGMENT environment variable, else "plkv".
 * @param[in] opts options, or NULL for defaults with PLKV_O_CREATE.
 * @param[out] kv the handle.
 * @return 0, -ENOENT (no such store, no CREATE), -EEXIST (EXCL),
 *	-EACCES, PLKV_EBADSEG, PLKV_EVERSION, PLKV_EWRPKRU, -ENOMEM, -EINVAL,
 *	PLKV_ENOMODULE (the kmod backend without /dev/plkv), PLKV_EOWNER
 *	(owned by another user, see PLKV_O_ANY_OWNER).  After PLKV_EBADSEG,
 *	plkv_open_error() names what was wrong.
 */
PLKV_API int plkv_open(const char *name, const struct plkv_options *opts,
		       plkv_t **kv);

/** Detach cleanly and free the handle.  The store stays.  In a child
 * forked after the open, only frees the child's copy of the handle: the
 * opener stays attached. */
PLKV_API int plkv_close(plkv_t *kv);

/**
 * @brief The store a call given @p name opens: @p name itself, or for
 * NULL the PLKV_SEGMENT environment variable, else "plkv".
 */
PLKV_API const char *plkv_segment_name(const char *name);

/**
 * @brief Remove the store named @p name.
 * @return 0, -ENOENT, -EBUSY (still in use, kmod backend), -EACCES.
 */
PLKV_API int plkv_destroy(const char *name, int backend);

/**
 * What a read returns besides the value.  last_access and fetched are as
 * the item was before the call that reports them (memcached's mg "l" and
 * "h", me "la" and "fetch").
 */
struct plkv_meta {
	size_t len;		/**< value length (the size needed on ETOOSMALL) */
	uint32_t flags;		/**< client flags */
	uint64_t cas;		/**< CAS unique */
	int64_t exptime;	/**< absolute Unix time, 0 = never */
	int64_t last_access;	/**< absolute Unix time of the last store or
				 * read; a read moves it at most once a
				 * minute, as memcached */
	uint32_t fetched;	/**< nonzero: read since it was stored */
	uint32_t slab_class;	/**< its class in "stats slabs"/"items" */
	size_t item_size;	/**< bytes it takes: header, key and value,
				 * as the "bytes" statistic counts it
				 * (memcached's me "size") */
	uint32_t token;		/**< PLKV_TOKEN_*: mg W, Z, X */
};

/** plkv_meta.token: the item's stale-while-revalidate state. */
#define PLKV_TOKEN_STALE	(1u << 0) /**< invalidated (md I): mg X */
#define PLKV_TOKEN_SENT		(1u << 1) /**< a win went out before this
					   * read: mg Z */
#define PLKV_TOKEN_WIN		(1u << 2) /**< this read won: the caller
					   * should recache (mg W) */

/**
 * @brief Copy the value of @p key into @p buf.
 * @param[out] meta may be NULL.
 * @return 0, PLKV_ENOTFOUND, PLKV_ETOOSMALL (meta->len = size needed),
 *	PLKV_EBADKEY.  PLKV_ETOOSMALL into a @p buf did nothing else (no hit
 *	counted, no LRU bump); @p buf NULL asks for the size as a get.
 */
PLKV_API int plkv_get(plkv_t *kv, const char *key, size_t klen,
		      void *buf, size_t cap, struct plkv_meta *meta);

/**
 * @brief An item's metadata, without its value (memcached's "me"): no hit
 * or miss is counted and the item's LRU position, fetched mark and last
 * access stay as they are.  An expired or flushed item found is reclaimed,
 * as a get does, but not counted as a get_expired or get_flushed.
 * @param[out] meta may be NULL (then only whether the key is live).
 * @return 0, PLKV_ENOTFOUND, PLKV_EBADKEY, -EFAULT, -EINVAL.
 */
PLKV_API int plkv_peek(plkv_t *kv, const char *key, size_t klen,
		       struct plkv_meta *meta);

/** Like plkv_get() but also sets the exptime (memcached gat); meta
 * reports the new one. */
PLKV_API int plkv_gat(plkv_t *kv, const char *key, size_t klen,
		      int64_t exptime, void *buf, size_t cap,
		      struct plkv_meta *meta);

/**
 * @brief plkv_gat() that also reports the exptime the item had before the
 * touch, read under the same lock (memcached mg "t" asked before "T").
 * @param[out] prev_exptime absolute, 0 = never; may be NULL.
 */
PLKV_API int plkv_gat_prev(plkv_t *kv, const char *key, size_t klen,
			   int64_t exptime, void *buf, size_t cap,
			   struct plkv_meta *meta, int64_t *prev_exptime);

/** plkv_read.flags */
#define PLKV_READ_TOUCH		(1u << 0) /**< set the exptime (gat,
					   * mg T) */
#define PLKV_READ_WIN		(1u << 1) /**< hand out win tokens, as mg:
					   * the first read of a stale item
					   * wins (PLKV_TOKEN_WIN) */
#define PLKV_READ_VIVIFY	(1u << 2) /**< create an empty item if missing;
					   * the creator wins (mg N) */
#define PLKV_READ_RECACHE	(1u << 3) /**< win if the TTL left is below
					   * recache (mg R) */
#define PLKV_READ_NOBUMP	(1u << 4) /**< leave its LRU place, fetched
					   * mark and last access as they
					   * are (mg u) */

/** What plkv_read() does besides reading (memcached's mg flags). */
struct plkv_read {
	uint32_t flags;		/**< PLKV_READ_* */
	int64_t exptime;	/**< TOUCH: the new exptime (mg T) */
	int64_t vivify_exptime;	/**< VIVIFY: the created item's (mg N) */
	int64_t recache;	/**< RECACHE: an exptime, as for a store
				 * (mg R) */
};

/**
 * @brief plkv_get() with options, all under the item's lock: a touch,
 * creation of a missing item, and memcached's win tokens.  With
 * PLKV_READ_WIN (implied by VIVIFY and RECACHE) the read that creates
 * the item, the first read of a stale one (plkv_delete_ex() with
 * PLKV_DEL_INVALIDATE), or, with RECACHE, the first whose item expires
 * before @p op->recache gets PLKV_TOKEN_WIN in meta->token; the item
 * then remembers it, and later reads get PLKV_TOKEN_SENT instead until
 * a store replaces it or it is invalidated again.  A RECACHE test looks
 * at the exptime before TOUCH; TOUCH wins over vivify_exptime.
 * @param[in] op NULL: a plain plkv_get().
 * @param[out] prev_exptime the exptime before TOUCH (without TOUCH: the
 *	exptime); may be NULL.
 * @return as plkv_get() (PLKV_ETOOSMALL into a @p buf touched and won
 *	nothing; a created item is empty, so it always fits);
 *	PLKV_ENOMEM when VIVIFY could not create; -EINVAL.
 */
PLKV_API int plkv_read(plkv_t *kv, const char *key, size_t klen,
		       const struct plkv_read *op, void *buf, size_t cap,
		       struct plkv_meta *meta, int64_t *prev_exptime);

/** One key of a plkv_mget() batch. */
struct plkv_mget_key {
	const char *key;	/**< in */
	size_t klen;		/**< in */
	int rc;			/**< out: 0, PLKV_ENOTFOUND, PLKV_ETOOSMALL, PLKV_EBADKEY */
	size_t off;		/**< out: where the value starts in buf */
	struct plkv_meta meta;	/**< out */
};

/**
 * @brief Look up @p n keys in one library call (memcached multi-get).
 * Values are packed one after the other into @p buf; a key whose value no
 * longer fits gets PLKV_ETOOSMALL with meta.len set, so the caller can
 * retry it with a larger buffer.
 * @return 0 (per-key results in keys[i].rc), or -EINVAL.
 */
PLKV_API int plkv_mget(plkv_t *kv, struct plkv_mget_key *keys, size_t n,
		       void *buf, size_t cap);

/** Store modes for plkv_store(). */
enum plkv_store_mode {
	PLKV_SET = 1,
	PLKV_ADD,	/**< only if absent */
	PLKV_REPLACE,	/**< only if present */
	PLKV_APPEND,	/**< only if present; flags and exptime kept */
	PLKV_PREPEND,	/**< only if present; flags and exptime kept */
	PLKV_CAS,	/**< only if present and its CAS equals cas_in */
};

/**
 * OR'd into a plkv_store() mode (memcached's ms I): a SET, REPLACE or CAS
 * whose nonzero cas_in is lower than the item's CAS still stores, and the
 * new value stays stale (keeps the item's exptime and win-token state).
 */
#define PLKV_STORE_INVALIDATE	0x100

/**
 * @brief Store a value (memcached set/add/replace/append/prepend/cas).
 * @param[in] cas_in the CAS to compare, 0 for none; checked under the
 *	item's lock, as memcached's meta "ms ... C<cas>": SET and REPLACE
 *	with a CAS act as PLKV_CAS; APPEND and PREPEND store only if the
 *	item's CAS equals it (PLKV_EEXISTS otherwise, PLKV_ENOTSTORED when
 *	missing); ADD ignores it.
 * @param[out] cas_out the new item's CAS; may be NULL.
 * @return 0, PLKV_ENOTSTORED, PLKV_ENOTFOUND (cas on a missing key),
 *	PLKV_EEXISTS (cas mismatch), PLKV_ETOOBIG, PLKV_ENOMEM, PLKV_EBADKEY.
 */
PLKV_API int plkv_store(plkv_t *kv, int mode, const char *key, size_t klen,
			const void *val, size_t vlen, uint32_t flags,
			int64_t exptime, uint64_t cas_in, uint64_t *cas_out);

PLKV_API int plkv_set(plkv_t *kv, const char *key, size_t klen,
		      const void *val, size_t vlen, uint32_t flags,
		      int64_t exptime);
PLKV_API int plkv_add(plkv_t *kv, const char *key, size_t klen,
		      const void *val, size_t vlen, uint32_t flags,
		      int64_t exptime);
PLKV_API int plkv_replace(plkv_t *kv, const char *key, size_t klen,
			  const void *val, size_t vlen, uint32_t flags,
			  int64_t exptime);
PLKV_API int plkv_append(plkv_t *kv, const char *key, size_t klen,
			 const void *val, size_t vlen);
PLKV_API int plkv_prepend(plkv_t *kv, const char *key, size_t klen,
			  const void *val, size_t vlen);
PLKV_API int plkv_cas(plkv_t *kv, const char *key, size_t klen,
		      const void *val, size_t vlen, uint32_t flags,
		      int64_t exptime, uint64_t cas);

/** plkv_arith.flags */
#define PLKV_ARITH_DECR		(1u << 0) /**< subtract, flooring at 0 */
#define PLKV_ARITH_VIVIFY	(1u << 1) /**< create the item if missing */
#define PLKV_ARITH_TOUCH	(1u << 2) /**< also set the exptime */

/** What plkv_arith() does (memcached's meta "ma" flags). */
struct plkv_arith {
	uint64_t delta;		/**< added or subtracted (ma D) */
	uint64_t cas_in;	/**< compare first, 0 = don't (ma C) */
	uint64_t initial;	/**< VIVIFY: the value created (ma J) */
	int64_t vivify_exptime;	/**< VIVIFY: the created item's exptime (ma N) */
	int64_t exptime;	/**< TOUCH: the new exptime (ma T) */
	uint32_t flags;		/**< PLKV_ARITH_* */
};

/**
 * @brief incr/decr with options, in one call under the item's lock: a CAS
 * compare, creation of a missing item, a new exptime, and the resulting
 * item's metadata.  A created item holds @p op->initial (delta not
 * applied), client flags 0, whatever op->cas_in says; TOUCH's exptime
 * then wins over vivify_exptime.
 * @param[out] result the new value; may be NULL.
 * @param[out] meta the item after the operation (its new CAS, exptime,
 *	length, flags); may be NULL.
 * @param[out] prev_exptime the exptime before TOUCH applied it (after
 *	creation); may be NULL.
 * @return 0, PLKV_ENOTFOUND, PLKV_EEXISTS (CAS mismatch),
 *	PLKV_ENONNUMERIC, PLKV_ENOMEM, PLKV_EBADKEY, -EINVAL.
 */
PLKV_API int plkv_arith(plkv_t *kv, const char *key, size_t klen,
			const struct plkv_arith *op, uint64_t *result,
			struct plkv_meta *meta, int64_t *prev_exptime);

/**
 * @brief Add @p delta to a decimal value (64-bit unsigned, wraps).
 * @return 0 with *result set, PLKV_ENOTFOUND, PLKV_ENONNUMERIC.
 */
PLKV_API int plkv_incr(plkv_t *kv, const char *key, size_t klen,
		       uint64_t delta, uint64_t *result);
/** Subtract, flooring at 0. */
PLKV_API int plkv_decr(plkv_t *kv, const char *key, size_t klen,
		       uint64_t delta, uint64_t *result);

/**
 * @brief Parse @p len bytes as the decimal number incr/decr read in a
 * value: memcached's safe_strtoull() (leading space and a sign allowed,
 * then digits, then a space or the end; a value past 2^64 - 1 fails, and
 * so does a minus sign when the result, wrapped to 64 bits, has its top
 * bit set).  plkvd reads
 * its numeric tokens with it too.  No handle, no gate: plain code.
 * @return 0 with *value set, else PLKV_ENONNUMERIC.
 */
PLKV_API int plkv_parse_u64(const char *s, size_t len, uint64_t *value);

/** @return 0 or PLKV_ENOTFOUND. */
PLKV_API int plkv_delete(plkv_t *kv, const char *key, size_t klen);

/**
 * @brief Delete only if the item's CAS is @p cas (0: unconditionally),
 * compared under the item's lock (memcached's meta "md ... C<cas>").
 * @return 0, PLKV_ENOTFOUND, PLKV_EEXISTS (the CAS differs).
 */
PLKV_API int plkv_delete_cas(plkv_t *kv, const char *key, size_t klen,
			     uint64_t cas);

/** plkv_delete_ex() flags */
#define PLKV_DEL_INVALIDATE	(1u << 0) /**< mark stale instead (md I) */
#define PLKV_DEL_TOUCH		(1u << 1) /**< INVALIDATE: also set the
					   * exptime (md I T) */

/**
 * @brief plkv_delete_cas() with flags.  PLKV_DEL_INVALIDATE keeps the
 * item and its value but marks it stale, clears its win-token mark and
 * gives it a new CAS (memcached's md I): the next plkv_read() with
 * PLKV_READ_WIN wins.
 * @return 0, PLKV_ENOTFOUND, PLKV_EEXISTS, -EINVAL (TOUCH without
 *	INVALIDATE, unknown flags).
 */
PLKV_API int plkv_delete_ex(plkv_t *kv, const char *key, size_t klen,
			    uint64_t cas, unsigned flags, int64_t exptime);

/** Set a new exptime.  @return 0 or PLKV_ENOTFOUND. */
PLKV_API int plkv_touch(plkv_t *kv, const char *key, size_t klen,
			int64_t exptime);

/**
 * @brief Invalidate every item, now (delay 0) or after @p delay seconds:
 * items last stored before the deadline become invisible at the deadline.
 */
PLKV_API int plkv_flush_all(plkv_t *kv, int64_t delay);

/**
 * @brief Report statistics, memcached's names and values.
 * @param[in] group NULL or "" (general), "slabs", "items", "settings".
 * @param[in] fn called once per statistic, outside the library's critical
 *	sections; a non-zero return stops the walk and is returned.
 * @return 0, -EINVAL (unknown group), or fn's value.
 */
typedef int (*plkv_stat_fn)(void *ctx, const char *name, const char *value);
PLKV_API int plkv_stats(plkv_t *kv, const char *group, plkv_stat_fn fn,
			void *ctx);

/**
 * @brief Zero the counters memcached's "stats reset" zeroes: command,
 * hit and miss counts, evictions, reclaims, total_items, cmd_flush,
 * slabs_moved.  Gauges (curr_items, bytes, pages...) are kept.
 */
PLKV_API int plkv_stats_reset(plkv_t *kv);

/** One general statistic as a number (e.g. "curr_items"); -ENOENT if none. */
PLKV_API int plkv_stat_u64(plkv_t *kv, const char *name, uint64_t *value);

/**
 * @brief Do up to @p budget units of upkeep: expired-item reclaim, hash
 * table migration, LRU maintenance.  Never required for correctness.
 * @return the units of work done (>= 0) or an error.
 */
PLKV_API int plkv_maintain(plkv_t *kv, unsigned budget);

/** @defgroup admin Administration (plkvctl) */

struct plkv_info {
	char name[64];
	int backend;		/**< enum plkv_backend */
	int protected;		/**< 1 if PKU guards the segment */
	int pkey;		/**< the key, -1 when unprotected */
	uint32_t format_version;
	uint64_t size;		/**< segment bytes */
	uint64_t mem_limit;	/**< bytes for items (slab pages) */
	uint32_t item_size_max;
	double growth_factor;
	uint32_t hash_power;	/**< current */
	int no_evict;
	uint64_t created;	/**< Unix time */
	uint32_t death_gen;
	int strict;		/**< created with PLKV_O_STRICT */
};
PLKV_API int plkv_info(plkv_t *kv, struct plkv_info *info);

/** One process attached to a store. */
struct plkv_proc {
	uint32_t pid;
	uint64_t start_time;	/**< ns since boot (CLOCK_BOOTTIME) */
	int state;		/**< 1 attached, 2 dead, 3 recovering */
	int pkey;		/**< -1 unprotected */
	uint32_t threads;	/**< thread slots held */
	uint32_t wrpkru_found;	/**< stray WRPKRU/XRSTOR sites found at open */
	uint32_t call_seconds;	/**< how long the longest call one of its
				 * threads is in has lasted, seconds; 0 when
				 * none is in a call (or for under 1 s) */
};
typedef int (*plkv_proc_fn)(void *ctx, const struct plkv_proc *proc);
PLKV_API int plkv_procs(plkv_t *kv, plkv_proc_fn fn, void *ctx);

/**
 * @brief Verify every invariant of the store.
 * @param[out] msg on PLKV_ECORRUPT, what is broken, where.
 * @return 0 or PLKV_ECORRUPT.
 */
PLKV_API int plkv_check(plkv_t *kv, char *msg, size_t cap);

/**
 * @brief Recover every dead process now (survivors also do it lazily).
 * @param[out] recovered how many processes were recovered; may be NULL.
 */
PLKV_API int plkv_recover(plkv_t *kv, unsigned *recovered);

/** One item, for plkv_dump(). */
struct plkv_dump_item {
	char key[251];
	size_t klen;
	size_t vlen;
	uint32_t flags;
	int64_t exptime;
	uint64_t cas;
	unsigned slab_class;
	int64_t last_access;	/**< Unix seconds */
	uint64_t size;		/**< bytes the item takes (header, key, value) */
	uint32_t fetched;	/**< nonzero: read since it was stored */
};
typedef int (*plkv_dump_fn)(void *ctx, const struct plkv_dump_item *item);
/** Walk the live items (no values); fn runs outside critical sections. */
PLKV_API int plkv_dump(plkv_t *kv, plkv_dump_fn fn, void *ctx);

/** List the stores of a backend (AUTO: both). fn gets name and size. */
typedef int (*plkv_seg_fn)(void *ctx, const char *name, int backend,
			   uint64_t size);
PLKV_API int plkv_list(int backend, plkv_seg_fn fn, void *ctx);

/** Describe an error code: PLKV_E* or negative errno. */
PLKV_API const char *plkv_strerror(int err);

/**
 * @brief What the calling thread's last failed plkv_open() found wrong
 *	with the segment, e.g. "header field slots_off is 0x1000, expected
 *	0x12000", or NULL when it said nothing more than its error code.
 */
PLKV_API const char *plkv_open_error(void);

/** The library version, "MAJOR.MINOR.PATCH". */
PLKV_API const char *plkv_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PLKV_H */
